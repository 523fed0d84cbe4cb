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

// DESIGN §5: placed -> paid (captured >= total) -> fulfilled; cancelled only while open
// and before any capture.
enum class OrderStatus { kPlaced, kPaid, kCancelled, kFulfilled };

// Stock changes of an order's placement and cancellation carry these reasons.
inline constexpr char kStockReasonOrderPlaced[] = "order placed";
inline constexpr char kStockReasonOrderCancelled[] = "order cancelled";

struct Order {
  std::string store_id;
  std::string customer_id;
  Channel channel = Channel::kWeb;
  std::string currency;
  std::vector<std::pair<std::string, int64_t>> sku_quantities;  // ordered, by sku
  // What placement took from stock, by sku: less than ordered when a marketplace's order
  // was reported with stock short, nothing for a sku it reported that is not listed.
  // Folded from the placement's own stock changes (not recomputed), so that a rebuild from
  // the log gives the same; a cancellation returns exactly this.
  std::map<std::string, int64_t> stock_taken;
  int64_t shipping_minor = 0;
  int64_t tax_minor = 0;
  int64_t total_minor = 0;
  // Captured in the order's currency only: a provider's capture in another currency is
  // recorded (with a note) but never counts toward this order's total (DECISIONS 107).
  int64_t captured_minor = 0;
  int64_t captures = 0;  // captures of its payments in any currency: cancel needs none
  OrderStatus status = OrderStatus::kPlaced;
  std::vector<std::string> payment_ids;
  // Open: payments, captures and cancellation still apply.
  bool Open() const { return status == OrderStatus::kPlaced || status == OrderStatus::kPaid; }
  // DESIGN §5's "captured >= total": gross captures, so a later refund does not make an
  // order unpaid; an order whose total is 0 is paid from its placement. The one predicate
  // behind the paid status and the fulfil rule.
  bool Paid() const { return captured_minor >= total_minor; }
};

struct Capture {
  int64_t amount_minor = 0;
  // Its own currency: the payment's, except for a provider's capture in another one, whose
  // refunds, disputes and fee reversals then count only in this currency (DECISIONS 107).
  std::string currency;
  CaptureOutcome charged;           // fees, sales tax share, as recorded
  int64_t refunded_minor = 0;       // refunds in the capture's currency
  int64_t open_disputes_minor = 0;  // disputes in the capture's currency
  int64_t lost_disputes_minor = 0;
  int64_t fee_reversal_basis_minor = 0;  // refunds (+ fee-reversing lost disputes)
  int open_disputes = 0;  // more than one only through provider-reported facts
  // In the capture's currency.
  int64_t Refundable() const { return amount_minor - refunded_minor - open_disputes_minor - lost_disputes_minor; }
};

enum class PaymentStatus { kAuthorized, kVoided, kFailed };

struct Payment {
  std::string order_id;
  std::string currency;
  int64_t authorized_minor = 0;
  int64_t captured_minor = 0;  // captures in the payment's currency only (DECISIONS 107)
  std::string provider;  // as the merchant named it at authorization ("paypal", ...)
  PaymentStatus status = PaymentStatus::kAuthorized;
  std::map<std::string, Capture> captures;  // by capture id
  std::map<std::string, int64_t> refunds;   // by refund id
  // Live: authorized, not voided or failed; counts against the order total.
  bool Live() const { return status == PaymentStatus::kAuthorized; }
  // In any currency: an authorization with a capture is no longer voided or failed.
  bool HasCaptures() const { return !captures.empty(); }
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

// The order whose placement is being folded, and the command that placed it: that
// command's stock changes (reason "order placed") follow its OrderPlaced and are the
// order's Order::stock_taken.
struct Placement {
  std::string order_id;
  uint64_t command_hi = 0, command_lo = 0;  // the envelope's correlation id
};

struct MerchantState {
  bool configured = false;
  std::string settlement_currency;
  bool takes_paypal_webhooks = false;  // a PayPal webhook id is configured
  std::map<std::string, Store> stores;
  std::map<std::string, bool> customers;  // id -> erased
  std::map<std::string, Order> orders;
  Placement placing;
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
