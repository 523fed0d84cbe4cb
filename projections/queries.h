// Reading the read models: what the HTTP API and the tools answer with. Each query reads
// one read model's store (safe while its projector runs) and returns JSON. Errors:
// NotFound for an unknown merchant's customer, store or capture; InvalidArgument for a
// malformed day or an empty search; IOError / Corruption from the store.
// Tenancy is the caller's to enforce: every per-merchant query takes the merchant id and
// reads only that merchant's keys.
#pragma once

#include <string>

#include "projections/read_model_store.h"

namespace projections {

inline constexpr size_t kQueryRowsMax = 1000;

// customers: the profile, every order (with payments, captures, refunds, disputes),
// messages, open disputes, lifetime value per currency, and the outage notices whose open
// interval overlapped one of the customer's orders' open intervals (by recorded-at).
ledger::Result<Json> QueryCustomer(const ProjectionStore& customers, const std::string& merchant,
                                   const std::string& customer);

// customers: one dispute as the order holding it shows it (amount, capture_id, payment_id,
// reason, source, status open, evidence_submitted or resolved, evidence_due_at_us,
// opened_at_us; outcome and resolved_at_us once resolved; anomaly when noted), with
// dispute_id, order_id and merchant_id: what GET /v1/disputes lists and the dispute writes
// answer. One a provider reported on a payment the ledger never authorized has order_id ""
// and is read from that payment's unmatched record. NotFound for an unknown dispute.
ledger::Result<Json> QueryDispute(const ProjectionStore& customers, const std::string& merchant,
                                  const std::string& dispute);

// fees: every balance of the merchant's accounts, {"balances": {account: {currency: minor}},
// "overflowed": [{"account", "currency"}]}. A balance whose sum passed int64 is kept at the
// bound (DECISIONS 49); "overflowed" lists each such one, in key order (empty when none),
// so a saturated figure is never taken for exact.
ledger::Result<Json> QueryBalances(const ProjectionStore& fees, const std::string& merchant);
// fees: one capture's gross, fees and reversals per contributor, tax, merchant net. Capture
// ids are unique per payment only, so the capture is named with its order and payment.
ledger::Result<Json> QueryCaptureFees(const ProjectionStore& fees, const std::string& merchant,
                                      const std::string& order, const std::string& payment,
                                      const std::string& capture);
// fees: an order's fee breakdown, {"order_id", "captures": [capture records, by payment and
// capture id], "totals": {currency: {"captures", "gross_minor", "contributors": {name:
// {"kind", "charged_minor", "reversed_minor"}}, "tax_minor", "sales_tax_minor",
// "refunded_minor", "merchant_net_at_capture_minor", "merchant_net_minor"[, "overflowed":
// true]}}}. Totals are summed within int64: a currency whose sum passed the bound, or one of
// whose records says it did, is marked "overflowed". No captures: empty lists; whether the
// order exists is the customers read model's to say (the caller's). NotFound for an id that
// cannot be an order's (ledger/ids.h), which would otherwise widen the prefix.
ledger::Result<Json> QueryOrderFees(const ProjectionStore& fees, const std::string& merchant,
                                    const std::string& order);
// fees: per account of the merchant in `currency`, for UTC days [from_day, to_day]
// ("YYYY-MM-DD"): opening, credits, debits, postings, closing (opening + credits - debits).
// Sums stay within int64 (at the bound, never wrapped); an account whose sums reached the
// bound, or one of whose day records (up to to_day) says it did, has "overflowed": true.
ledger::Result<Json> QueryStatement(const ProjectionStore& fees, const std::string& merchant,
                                    const std::string& currency, const std::string& from_day,
                                    const std::string& to_day);
// What GET /v1/fees groups by (DESIGN §7: per merchant, UTC day and contributor,
// combinable): a dimension left out is summed over. Currencies are never summed together.
struct FeeGrouping {
  bool merchant = true;
  bool day = true;
  bool contributor = true;
};
// fees: rows {merchant_id?, day?, contributor?, kind?, currency, charged_minor,
// reversed_minor, net_minor, overflowed} for days [from_day, to_day], one per group in key
// order; one merchant, or every merchant when `merchant` is empty (analysts). `kind` (fee or
// tax) comes with the contributor. Sums stay within int64: a group whose sum reached the
// bound, or one of whose day records says it did, has overflowed true.
ledger::Result<Json> QueryFeesByDay(const ProjectionStore& fees, const std::string& merchant,
                                    const std::string& from_day, const std::string& to_day,
                                    FeeGrouping by = FeeGrouping{});
// fees: platform revenue by contributor and currency (kind fee only).
ledger::Result<Json> QueryPlatformRevenue(const ProjectionStore& fees);

// storefront: the store, its listings and its top 10 skus by quantity.
ledger::Result<Json> QueryStore(const ProjectionStore& storefront, const std::string& merchant,
                                const std::string& store);
// storefront: mall listings whose sku starts with `sku_prefix` or whose title starts with
// `title_prefix` (case-insensitive); exactly one of them non-empty.
ledger::Result<Json> QueryMall(const ProjectionStore& storefront, const std::string& sku_prefix,
                               const std::string& title_prefix, size_t limit);

// status: components with their status and incidents with their updates, newest first.
// Never shows subscribers.
ledger::Result<Json> QueryStatusPage(const ProjectionStore& status);

}  // namespace projections
