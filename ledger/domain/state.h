// Domain state: what the decider needs to know, rebuilt by folding events (Apply). The
// same Apply serves the live sequencer (applying what it just decided) and a rebuild from
// the log, so that replaying the events reproduces the same decisions.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "ledger/domain/fee_calculator.h"
#include "ledger/domain/fee_recipe.h"
#include "ledger/status.h"
#include "ledger/types.h"
#include "schemas/ledger_generated.h"

namespace ledger::domain {

struct Listing {
  std::string title;
  int64_t price_minor = 0;
  std::string currency;
  int64_t stock = 0;
};

struct Store {
  std::string name;
  Channel channel = Channel::kWeb;
  std::map<std::string, Listing> listings;  // by sku
};

enum class OrderStatus { kPlaced, kCancelled, kFulfilled };

struct Order {
  std::string store_id;
  std::string customer_id;
  Channel channel = Channel::kWeb;
  std::string currency;
  std::vector<std::pair<std::string, int64_t>> sku_quantities;
  int64_t shipping_minor = 0;
  int64_t tax_minor = 0;
  int64_t total_minor = 0;
  int64_t captured_minor = 0;
  OrderStatus status = OrderStatus::kPlaced;
  std::vector<std::string> payment_ids;
};

struct Capture {
  int64_t amount_minor = 0;
  CaptureOutcome charged;           // fees, sales tax share, as recorded
  int64_t refunded_minor = 0;
  int64_t open_disputes_minor = 0;
  int64_t lost_disputes_minor = 0;
  int64_t fee_reversal_basis_minor = 0;  // refunds (+ fee-reversing lost disputes)
  int open_disputes = 0;  // more than one only through provider-reported facts
  int64_t Refundable() const { return amount_minor - refunded_minor - open_disputes_minor - lost_disputes_minor; }
};

enum class PaymentStatus { kAuthorized, kVoided, kFailed };

struct Payment {
  std::string order_id;
  std::string currency;
  int64_t authorized_minor = 0;
  int64_t captured_minor = 0;
  std::string provider;  // as the merchant named it at authorization ("paypal", ...)
  PaymentStatus status = PaymentStatus::kAuthorized;
  std::map<std::string, Capture> captures;  // by capture id
  std::map<std::string, int64_t> refunds;   // by refund id
  // Live: authorized, not voided or failed; counts against the order total.
  bool Live() const { return status == PaymentStatus::kAuthorized; }
};

enum class DisputeStatus { kOpen, kEvidenceSubmitted, kWon, kLost, kAccepted };

struct Dispute {
  std::string payment_id;
  std::string capture_id;
  int64_t amount_minor = 0;
  std::string currency;
  DisputeStatus status = DisputeStatus::kOpen;
  FeeBreakdown open_fees;
  bool Resolved() const {
    return status == DisputeStatus::kWon || status == DisputeStatus::kLost || status == DisputeStatus::kAccepted;
  }
};

struct Payout {
  int64_t amount_minor = 0;
  std::string currency;
  bool returned = false;
};

struct MerchantState {
  bool configured = false;
  std::string settlement_currency;
  bool takes_paypal_webhooks = false;  // a PayPal webhook id is configured
  std::map<std::string, Store> stores;
  std::map<std::string, bool> customers;  // id -> erased
  std::map<std::string, Order> orders;
  std::map<std::string, Payment> payments;
  std::map<std::string, Dispute> disputes;
  std::map<std::string, Payout> payouts;
  std::map<std::string, bool> messages;
  std::map<std::string, std::string> provider_references;  // reference -> capture id
  // capture id -> the payment holding it (the smallest payment id, if several do): a
  // provider's refund names only the capture.
  std::map<std::string, std::string> capture_payments;
  // Balances of the merchant's own accounts (merchant:<id>:available, :reserve, any other
  // a recipe names), credits - debits, by account and currency, from postings. The decider
  // keeps each within int64 (DECISIONS 104); a log written before that rule may pass the
  // bounds, and then a balance stays at the bound it passed (never wraps), which errs on
  // the safe side for the payout check.
  std::map<std::pair<std::string, std::string>, int64_t> account_minor;
};

// The merchant's own accounts: "merchant:<id>:".
std::string MerchantAccountPrefix(const std::string& merchant_id);
// The balance of merchant:<id>:available in `currency` (0 when none).
int64_t AvailableMinor(const MerchantState& m, const std::string& merchant_id, const std::string& currency);

struct OutageNotice {
  std::string component;
  int status = 0;  // schema::OutageStatus
  bool Resolved() const { return status == static_cast<int>(schema::OutageStatus::Resolved); }
};

struct ApiKey {
  int role = 0;  // schema::KeyRole
  std::string merchant_id;
  Sha256Digest hash{};
  bool revoked = false;
};

struct Subscriber {
  std::string owner_merchant_id;  // empty: the platform's
  bool removed = false;
};

struct DomainState {
  std::map<std::string, MerchantState> merchants;
  std::map<std::string, ApiKey> keys;              // by key id
  std::map<std::string, Subscriber> subscribers;   // by subscriber id
  std::map<std::string, OutageNotice> outages;  // by notice id
  std::map<uint32_t, FeeRecipe> recipes;  // by version
  uint32_t current_recipe_version = 0;

  const FeeRecipe* CurrentRecipe() const {
    auto it = recipes.find(current_recipe_version);
    return it == recipes.end() ? nullptr : &it->second;
  }
};

// Folds one event into the state. Corruption when the event contradicts the state (an
// event the decider would never have produced); state is unchanged then.
Status Apply(DomainState& state, const schema::Event& event);

}  // namespace ledger::domain
