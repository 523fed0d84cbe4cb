// Orders: place (with stock reservation), cancel (what placement took back in stock, live
// authorizations voided), fulfil (only once paid).
#include <map>

#include "ledger/domain/decide_internal.h"

namespace ledger::domain::internal {
namespace {

constexpr size_t kOrderLinesMax = 100;

const Store* FindStore(const MerchantState* m, const std::string& id) {
  if (m == nullptr) return nullptr;
  auto it = m->stores.find(id);
  return it == m->stores.end() ? nullptr : &it->second;
}

// `stock_after` = the listing's stock + `delta`, computed (and checked) by the caller.
void AddStockChange(EventSink& out, const std::string& merchant, const std::string& store_id,
                    const std::string& sku, const Listing& l, int64_t delta, int64_t stock_after, const char* reason) {
  out.Add(StreamOf("store", merchant, store_id), ExpectedVersion::Any(), schema::EventBody::ListingChanged,
          [store_id, sku, l, delta, stock_after, reason = std::string(reason)](Fbb& b) {
            return schema::CreateListingChangedDirect(b, store_id.c_str(), sku.c_str(), l.title.c_str(),
                                                      MoneyOf(b, l.price_minor, l.currency), stock_after, delta,
                                                      reason.c_str())
                .Union();
          });
}

// A merchant's order (`facts` null: every rule refuses) or a marketplace's report of one
// (`facts` set: the rules a sale that already happened may break become anomaly notes).
Status Place(const DomainState& s, const DecideContext& ctx, const PlaceOrder& c, EventSink& out,
             std::vector<std::string>* facts = nullptr, int64_t reported_total_minor = 0,
             const PersonalInput* buyer = nullptr) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.order_id, "/order_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.store_id, "/store_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.customer_id, "/customer_id"));
  LEDGER_RETURN_IF_ERROR(CheckCurrency(c.currency, "/currency"));
  if (c.lines.empty() || c.lines.size() > kOrderLinesMax) return Field("/lines", "must hold 1 to 100 lines");
  if (c.shipping_minor < 0) return Field("/shipping", "must not be negative");
  if (c.tax_minor < 0) return Field("/tax", "must not be negative");
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  const Store* store = FindStore(m, c.store_id);
  if (store == nullptr) return Rule("store-not-found", "no such store");
  if (m->orders.count(c.order_id)) {
    if (facts != nullptr) return Status::Ok();  // reported before: nothing new
    return Rule("order-exists", "this order id was already used");
  }
  if (!m->customers.count(c.customer_id)) {
    if (facts == nullptr) return Rule("customer-not-found", "register the customer first");
    // A marketplace's buyer is registered with their first order, in the same command,
    // their handle sealed as personal data.
    std::optional<PersonalSeal> personal;
    if (buyer != nullptr) {
      auto sealed = SealedPersonal(ctx, *buyer);
      if (!sealed.ok()) return sealed.status();
      personal = std::move(sealed).value();
    }
    out.Add(StreamOf("customer", ctx.merchant_id, c.customer_id), ExpectedVersion::NoStream(),
            schema::EventBody::CustomerRegistered, [c, channel = store->channel](Fbb& b) {
              return schema::CreateCustomerRegisteredDirect(b, c.customer_id.c_str(), c.store_id.c_str(), ChannelOf(channel))
                  .Union();
            }, "", std::move(personal));
  }
  // A rule the order breaks: refused for a merchant, noted for a reported fact.
  auto broken = [facts](const std::string& code, const std::string& why) -> Status {
    if (facts == nullptr) return Rule(code, why);
    facts->push_back(code + ": " + why);
    return Status::Ok();
  };
  int64_t total = 0;
  std::map<std::string, int64_t> wanted;  // listed sku -> quantity over all lines
  for (size_t i = 0; i < c.lines.size(); ++i) {
    const OrderLineInput& line = c.lines[i];
    const std::string at = "/lines/" + std::to_string(i);
    LEDGER_RETURN_IF_ERROR(CheckId(line.sku, at + "/sku"));
    if (line.quantity <= 0) return Field(at + "/quantity", "must be positive");
    if (line.unit_price_minor < 0) return Field(at + "/unit_price", "must not be negative");
    auto amount = CheckedMul(line.quantity, line.unit_price_minor);
    if (!amount.ok()) return Field(at, "amount out of range");
    auto sum = CheckedAdd(total, *amount);
    if (!sum.ok()) return Field("/lines", "total out of range");
    total = *sum;
    auto listing = store->listings.find(line.sku);
    if (listing == store->listings.end()) {
      LEDGER_RETURN_IF_ERROR(broken("sku-not-listed", "sku " + line.sku + " is not listed in this store"));
      continue;
    }
    if (listing->second.currency != c.currency)
      LEDGER_RETURN_IF_ERROR(broken("currency-mismatch", "sku " + line.sku + " is priced in " + listing->second.currency));
    auto q = CheckedAdd(wanted[line.sku], line.quantity);
    if (!q.ok()) return Field(at + "/quantity", "out of range");
    wanted[line.sku] = *q;
  }
  for (auto& [sku, qty] : wanted) {
    const int64_t stock = store->listings.at(sku).stock;
    if (stock < qty) {
      LEDGER_RETURN_IF_ERROR(broken("insufficient-stock", "only " + std::to_string(stock) + " of " + sku + " in stock"));
      qty = stock;  // a fact: the stock runs out, it never goes below zero
    }
  }
  auto with_shipping = CheckedAdd(total, c.shipping_minor);
  auto grand = with_shipping.ok() ? CheckedAdd(*with_shipping, c.tax_minor) : with_shipping;
  if (!grand.ok()) return Field("/lines", "total out of range");
  total = *grand;
  if (facts != nullptr && reported_total_minor != 0 && reported_total_minor != total)
    facts->push_back("total-mismatch: reported " + std::to_string(reported_total_minor) + ", lines + shipping + tax = " +
                     std::to_string(total));
  out.Add(StreamOf("order", ctx.merchant_id, c.order_id), ExpectedVersion::NoStream(), schema::EventBody::OrderPlaced,
          [c, total, channel = store->channel](Fbb& b) {
            std::vector<flatbuffers::Offset<schema::OrderLine>> lines;
            for (const auto& l : c.lines)
              lines.push_back(schema::CreateOrderLineDirect(b, l.sku.c_str(), l.quantity, l.unit_price_minor));
            return schema::CreateOrderPlacedDirect(b, c.order_id.c_str(), c.store_id.c_str(), c.customer_id.c_str(),
                                                   ChannelOf(channel), c.currency.c_str(), &lines,
                                                   c.shipping_minor, c.tax_minor, total)
                .Union();
          },
          facts != nullptr ? JoinNotes(*facts) : "");
  // These stock changes are what the order took (Order::stock_taken, folded from them):
  // `qty` never exceeds the stock, so the stock after is >= 0.
  for (const auto& [sku, qty] : wanted) {
    const Listing& listing = store->listings.at(sku);  // `wanted` holds listed skus only
    if (qty > 0)
      AddStockChange(out, ctx.merchant_id, c.store_id, sku, listing, -qty, listing.stock - qty,
                     kStockReasonOrderPlaced);
  }
  return Status::Ok();
}

// Puts back exactly what the order's placement took (Order::stock_taken): never a sku that
// was not listed (a marketplace may report one), never more than was in stock then.
Status ReturnStock(const MerchantState& m, const std::string& merchant, const Order& o, EventSink& out) {
  const auto store = m.stores.find(o.store_id);
  LEDGER_INVARIANT(store != m.stores.end());  // placed only in an opened store; stores stay
  for (const auto& [sku, qty] : o.stock_taken) {
    const auto listing = store->second.listings.find(sku);
    LEDGER_INVARIANT(listing != store->second.listings.end());  // stock was taken from it; listings stay
    if (qty <= 0) continue;
    auto after = CheckedAdd(listing->second.stock, qty);  // the merchant may have raised it since
    if (!after.ok())
      return Rule("amount-out-of-range", "returning " + std::to_string(qty) + " of " + sku +
                                             " would take its stock past the most the ledger can hold");
    AddStockChange(out, merchant, o.store_id, sku, listing->second, qty, *after, kStockReasonOrderCancelled);
  }
  return Status::Ok();
}

Status Cancel(const DomainState& s, const DecideContext& ctx, const CancelOrder& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.order_id, "/order_id"));
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  if (m == nullptr || !m->orders.count(c.order_id)) return Rule("order-not-found", "no such order");
  const Order& o = m->orders.at(c.order_id);
  if (!o.Open()) return Rule("order-closed", "the order is already cancelled or fulfilled");
  // Any capture, in any currency: money moved, so it is refunded, not cancelled.
  if (o.captures > 0)
    return Rule("order-has-captures", "an order can be cancelled only before capture; refund instead");
  std::vector<std::string> voided;
  for (const std::string& pid : o.payment_ids)
    if (m->payments.at(pid).Live()) voided.push_back(pid);
  out.Add(StreamOf("order", ctx.merchant_id, c.order_id), ExpectedVersion::Any(), schema::EventBody::OrderCancelled,
          [c, voided](Fbb& b) {
            std::vector<flatbuffers::Offset<flatbuffers::String>> ids;
            for (const auto& v : voided) ids.push_back(b.CreateString(v));
            return schema::CreateOrderCancelledDirect(b, c.order_id.c_str(), c.reason.c_str(), &ids).Union();
          });
  for (const std::string& pid : voided) {
    const Payment& p = m->payments.at(pid);
    out.Add(StreamOf("payment", ctx.merchant_id, pid), ExpectedVersion::Any(), schema::EventBody::AuthorizationVoided,
            [pid, p, oid = c.order_id](Fbb& b) {
              return schema::CreateAuthorizationVoidedDirect(b, pid.c_str(), oid.c_str(),
                                                             MoneyOf(b, p.authorized_minor, p.currency), "order cancelled")
                  .Union();
            });
  }
  return ReturnStock(*m, ctx.merchant_id, o, out);
}

Status Fulfil(const DomainState& s, const DecideContext& ctx, const FulfilOrder& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.order_id, "/order_id"));
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  if (m == nullptr || !m->orders.count(c.order_id)) return Rule("order-not-found", "no such order");
  const Order& o = m->orders.at(c.order_id);
  if (!o.Open()) return Rule("order-closed", "the order is already cancelled or fulfilled");
  // The predicate of the paid status: captures in the order's currency reach its total.
  if (!o.Paid()) return Rule("order-not-paid", "capture the order's total in " + o.currency + " before fulfilling it");
  out.Add(StreamOf("order", ctx.merchant_id, c.order_id), ExpectedVersion::Any(), schema::EventBody::OrderFulfilled,
          [c](Fbb& b) { return schema::CreateOrderFulfilledDirect(b, c.order_id.c_str()).Union(); });
  return Status::Ok();
}

}  // namespace

Status DecideOrder(const DomainState& s, const DecideContext& ctx, const Command& c, EventSink& out) {
  if (auto* x = std::get_if<PlaceOrder>(&c)) return Place(s, ctx, *x, out);
  if (auto* x = std::get_if<RecordProviderOrder>(&c)) {
    LEDGER_RETURN_IF_ERROR(CheckId(x->provider_reference, "/provider_reference"));
    std::vector<std::string> anomalies;
    return Place(s, ctx, x->order, out, &anomalies, x->reported_total_minor, x->buyer ? &*x->buyer : nullptr);
  }
  if (auto* x = std::get_if<CancelOrder>(&c)) return Cancel(s, ctx, *x, out);
  if (auto* x = std::get_if<FulfilOrder>(&c)) return Fulfil(s, ctx, *x, out);
  return Status::InvalidArgument("not an order command");
}

}  // namespace ledger::domain::internal
