#include "api/provider_events.h"

#include <algorithm>
#include <utility>

#include "ledger/domain/money.h"
#include "ledger/clock.h"
#include "ledger/ids.h"

namespace api {

using ledger::Result;
using ledger::Status;
using Json = nlohmann::json;
namespace d = ledger::domain;

namespace {

Status Bad(const std::string& pointer, const std::string& why) { return Status::InvalidArgument(pointer + ": " + why); }

// The value at `pointer` ("/resource/id") when it is a string, else nullptr.
const Json* At(const Json& j, const std::string& pointer) {
  const Json::json_pointer p(pointer);
  return j.contains(p) ? &j.at(p) : nullptr;
}

Result<std::string> Text(const Json& j, const std::string& pointer) {
  const Json* v = At(j, pointer);
  if (v == nullptr || v->is_null()) return Bad(pointer, "required");
  if (!v->is_string() || v->get<std::string>().empty()) return Bad(pointer, "must be a non-empty string");
  return v->get<std::string>();
}

std::string OptionalText(const Json& j, const std::string& pointer) {
  const Json* v = At(j, pointer);
  return v != nullptr && v->is_string() ? v->get<std::string>() : "";
}

Result<std::string> Id(const Json& j, const std::string& pointer) {
  auto t = Text(j, pointer);
  if (!t.ok()) return t;
  if (!ledger::IsValidEntityId(*t)) return Bad(pointer, "must match [A-Za-z0-9._:-]{1,64}");
  return t;
}

// An id that may be absent ("" then).
Result<std::string> OptionalId(const Json& j, const std::string& pointer) {
  const std::string t = OptionalText(j, pointer);
  if (!t.empty() && !ledger::IsValidEntityId(t)) return Bad(pointer, "must match [A-Za-z0-9._:-]{1,64}");
  return t;
}

// {currency_code|currency, value: "12.34"} as exact minor units; the value must be > 0
// (or >= 0 with `zero_allowed`).
Result<ledger::Money> Amount(const Json& j, const std::string& pointer, const char* currency_field,
                             bool zero_allowed = false) {
  auto currency = Text(j, pointer + "/" + currency_field);
  if (!currency.ok()) return currency.status();
  auto known = ledger::FindCurrency(*currency);
  if (!known.ok()) return Bad(pointer + "/" + currency_field, "unknown currency");
  auto value = Text(j, pointer + "/value");
  if (!value.ok()) return value.status();
  auto minor = ledger::ParseDecimalAmount(*value, known->exponent);
  if (!minor.ok())
    return Bad(pointer + "/value", "not an exact amount in " + *currency + " (at most " + std::to_string(known->exponent) +
                                       " decimals, within int64 minor units)");
  if (*minor < 0 || (*minor == 0 && !zero_allowed)) return Bad(pointer + "/value", "must be positive");
  return ledger::Money{*minor, *currency};
}

// Reads Amount(...) into a command's amount_minor and currency.
template <typename Command>
Status SetAmount(const Json& j, const std::string& pointer, const char* currency_field, Command* c) {
  auto amount = Amount(j, pointer, currency_field);
  if (!amount.ok()) return amount.status();
  c->amount_minor = amount->amount_minor;
  c->currency = amount->currency;
  return Status::Ok();
}

// The last path segment of the link with rel "up" (a refund's capture).
std::string UpLinkId(const Json& resource) {
  if (!resource.contains("links") || !resource["links"].is_array()) return "";
  for (const Json& l : resource["links"]) {
    if (!l.is_object() || l.value("rel", "") != "up" || !l.contains("href") || !l["href"].is_string()) continue;
    const std::string href = l["href"].get<std::string>();
    const size_t slash = href.find_last_of('/');
    return slash == std::string::npos ? href : href.substr(slash + 1);
  }
  return "";
}

Result<d::RecordProviderDispute> PayPalDispute(const Json& e) {
  d::RecordProviderDispute c;
  auto id = Id(e, "/resource/dispute_id");
  if (!id.ok()) return id.status();
  c.dispute_id = *id;
  c.provider_reference = *id;
  auto capture = Id(e, "/resource/disputed_transactions/0/seller_transaction_id");
  if (!capture.ok()) return capture.status();
  c.capture_id = *capture;
  // The merchant's payment id travels as the transaction's custom field; without it the
  // ledger finds the payment by its capture.
  auto payment = OptionalId(e, "/resource/disputed_transactions/0/custom");
  if (!payment.ok()) return payment.status();
  c.payment_id = *payment;
  if (Status s = SetAmount(e, "/resource/dispute_amount", "currency_code", &c); !s.ok()) return s;
  c.reason = OptionalText(e, "/resource/reason");
  if (c.reason.size() > 200) c.reason.resize(200);
  const std::string due = OptionalText(e, "/resource/seller_response_due_date");
  if (!due.empty()) {
    // PayPal's dates are RFC 3339 date-times: an offset is as good as Z.
    auto at = ledger::ParseRfc3339TimestampUs(due);
    if (!at.ok()) return Bad("/resource/seller_response_due_date", "not an RFC 3339 timestamp");
    c.evidence_due_at_us = *at;
  }
  return c;
}

// A marketplace buyer's handle as the ledger takes one (the orders' rule, so a deletion
// names exactly the handles an order could have sealed).
bool IsMarketplaceHandle(const std::string& handle) {
  const bool printable = std::all_of(handle.begin(), handle.end(), [](char ch) { return ch > ' ' && ch < 0x7f; });
  return !handle.empty() && handle.size() <= kMarketplaceHandleBytesMax && printable;
}

// eBay's own ids of account-deletion notifications are two UUIDs joined by '_' (73
// characters), which the entity-id rule refuses; the id only roots idempotency keys
// ("ebay:<id>[:<n>]"), whose rule is printable ASCII without spaces.
Result<std::string> NotificationId(const Json& n, const std::string& pointer) {
  auto t = Text(n, pointer);
  if (!t.ok()) return t;
  const bool printable = std::all_of(t->begin(), t->end(), [](char ch) { return ch > ' ' && ch < 0x7f; });
  if (t->size() > kNotificationIdBytesMax || !printable)
    return Bad(pointer, "must be 1 to " + std::to_string(kNotificationIdBytesMax) + " printable characters without spaces");
  return t;
}

// MARKETPLACE_ACCOUNT_DELETION: the username is what the buyer's pseudonym is made of
// (userId and eiasToken never reach the ledger). A handle no order could have taken names
// no customer here: nothing to erase.
Result<ProviderEvent> ReadEbayAccountDeletion(const Json& n, ProviderEvent out) {
  auto id = NotificationId(n, "/notification/notificationId");
  if (!id.ok()) return id.status();
  out.event_id = *id;
  auto username = Text(n, "/notification/data/username");
  if (!username.ok()) return username.status();
  if (IsMarketplaceHandle(*username)) out.erased_buyer = *username;
  else out.ignored = "no customer of this buyer at this merchant";
  return out;
}

}  // namespace

Result<ProviderEvent> ReadPayPalEvent(const Json& e) {
  ProviderEvent out;
  auto id = Id(e, "/id");
  if (!id.ok()) return id.status();
  out.event_id = *id;
  auto type = Text(e, "/event_type");
  if (!type.ok()) return type.status();
  out.event_type = *type;
  const Json* resource = At(e, "/resource");
  if (resource == nullptr || !resource->is_object()) return Bad("/resource", "required: an object");

  if (out.event_type == "PAYMENT.CAPTURE.COMPLETED") {
    d::RecordProviderCapture c;
    auto capture = Id(e, "/resource/id");
    if (!capture.ok()) return capture.status();
    c.capture_id = c.provider_reference = *capture;
    // The ledger's payment id is the custom_id the merchant gave PayPal; else PayPal's order.
    c.payment_id = OptionalText(e, "/resource/custom_id");
    const char* payment_from = "/resource/custom_id";
    if (c.payment_id.empty()) {
      c.payment_id = OptionalText(e, "/resource/supplementary_data/related_ids/order_id");
      payment_from = "/resource/supplementary_data/related_ids/order_id";
    }
    if (!ledger::IsValidEntityId(c.payment_id))
      return Bad(payment_from, "the ledger's payment id (custom_id) or PayPal's order id is required, [A-Za-z0-9._:-]{1,64}");
    if (Status s = SetAmount(e, "/resource/amount", "currency_code", &c); !s.ok()) return s;
    out.commands.push_back(c);
    return out;
  }
  if (out.event_type == "PAYMENT.CAPTURE.REFUNDED") {
    d::RecordProviderRefund c;
    auto refund = Id(e, "/resource/id");
    if (!refund.ok()) return refund.status();
    c.refund_id = c.provider_reference = *refund;
    c.capture_id = UpLinkId(*resource);
    if (!ledger::IsValidEntityId(c.capture_id))
      return Bad("/resource/links", "the link with rel \"up\" must name the refunded capture");
    auto payment = OptionalId(e, "/resource/custom_id");
    if (!payment.ok()) return payment.status();
    c.payment_id = *payment;
    if (Status s = SetAmount(e, "/resource/amount", "currency_code", &c); !s.ok()) return s;
    out.commands.push_back(c);
    return out;
  }
  if (out.event_type == "CUSTOMER.DISPUTE.CREATED" || out.event_type == "CUSTOMER.DISPUTE.UPDATED" ||
      out.event_type == "CUSTOMER.DISPUTE.RESOLVED") {
    auto dispute = PayPalDispute(e);
    if (!dispute.ok()) return dispute.status();
    // Created and updated both record the dispute once (an update of a dispute the ledger
    // has changes nothing: its money moved when it opened); resolved also records the outcome.
    out.commands.push_back(*dispute);
    if (out.event_type != "CUSTOMER.DISPUTE.RESOLVED") return out;
    auto code = Text(e, "/resource/dispute_outcome/outcome_code");
    if (!code.ok()) return code.status();
    d::RecordProviderDisputeOutcome o;
    o.dispute_id = dispute->dispute_id;
    o.provider_reference = dispute->provider_reference;
    // Lost: the buyer got the money back from the merchant. Won: the merchant keeps it.
    if (*code == "RESOLVED_BUYER_FAVOUR" || *code == "ACCEPTED") o.outcome = d::DisputeOutcomeInput::kLost;
    else if (*code == "RESOLVED_SELLER_FAVOUR" || *code == "CANCELED_BY_BUYER" || *code == "DENIED" ||
             *code == "RESOLVED_WITH_PAYOUT")
      o.outcome = d::DisputeOutcomeInput::kWon;
    else return Bad("/resource/dispute_outcome/outcome_code", "not an outcome the ledger knows");
    out.commands.push_back(o);
    return out;
  }
  out.ignored = "event type not recorded by the ledger";
  return out;
}

Result<ProviderEvent> ReadEbayNotification(const Json& n, const std::string& store_id) {
  ProviderEvent out;
  out.event_type = OptionalText(n, "/metadata/topic");
  if (out.event_type == kEbayAccountDeletion) return ReadEbayAccountDeletion(n, std::move(out));
  auto id = Id(n, "/notification/notificationId");
  if (!id.ok()) return id.status();
  out.event_id = *id;
  // Only orders and account deletions mean anything here; eBay may send other topics:
  // acknowledged, nothing recorded.
  if (out.event_type.rfind("ORDER", 0) != 0) {
    out.ignored = "topic not recorded by the ledger";
    return out;
  }
  const std::string base = "/notification/data";
  d::RecordProviderOrder c;
  auto seller = Text(n, base + "/sellerId");  // the route checked it names this merchant's seller
  if (!seller.ok()) return seller.status();
  auto order = Id(n, base + "/orderId");
  if (!order.ok()) return order.status();
  c.order.order_id = c.provider_reference = *order;
  c.order.store_id = store_id;
  auto buyer = Text(n, base + "/buyer/username");
  if (!buyer.ok()) return buyer.status();
  // The username is personal data: the route turns it into a pseudonymous customer id and
  // seals it (AssignMarketplaceBuyer); here it is only checked.
  if (!IsMarketplaceHandle(*buyer))
    return Bad(base + "/buyer/username", "must be 1 to 64 printable characters without spaces");
  c.buyer = d::PersonalInput{};
  c.buyer->name = *buyer;
  auto total = Amount(n, base + "/pricingSummary/total", "currency");
  if (!total.ok()) return total.status();
  c.order.currency = total->currency;
  c.reported_total_minor = total->amount_minor;
  const Json* lines = At(n, base + "/lineItems");
  if (lines == nullptr || !lines->is_array() || lines->empty()) return Bad(base + "/lineItems", "required: a non-empty array");
  for (size_t i = 0; i < lines->size(); ++i) {
    const std::string at = base + "/lineItems/" + std::to_string(i);
    d::OrderLineInput line;
    auto sku = Id(n, at + "/sku");
    if (!sku.ok()) return sku.status();
    line.sku = *sku;
    const Json* q = At(n, at + "/quantity");
    if (q == nullptr || !q->is_number_integer() || q->get<int64_t>() <= 0 || q->get<int64_t>() > 1000000)
      return Bad(at + "/quantity", "must be an integer from 1 to 1000000");
    line.quantity = q->get<int64_t>();
    auto cost = Amount(n, at + "/lineItemCost", "currency");
    if (!cost.ok()) return cost.status();
    if (cost->currency != c.order.currency) return Bad(at + "/lineItemCost/currency", "differs from the order's total");
    // lineItemCost is the line's whole price: the unit price must divide it exactly.
    if (cost->amount_minor % line.quantity != 0)
      return Bad(at + "/lineItemCost/value", "is not a whole number of minor units per item");
    line.unit_price_minor = cost->amount_minor / line.quantity;
    c.order.lines.push_back(line);
  }
  for (const char* part : {"deliveryCost", "tax"}) {
    const std::string at = base + "/pricingSummary/" + part;
    if (At(n, at) == nullptr) continue;
    auto money = Amount(n, at, "currency", /*zero_allowed=*/true);
    if (!money.ok()) return money.status();
    if (money->currency != c.order.currency) return Bad(at + "/currency", "differs from the order's total");
    (std::string(part) == "tax" ? c.order.tax_minor : c.order.shipping_minor) = money->amount_minor;
  }
  out.commands.push_back(c);
  return out;
}

}  // namespace api
