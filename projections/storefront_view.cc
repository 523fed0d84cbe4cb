// Storefront and mall (DESIGN §7): per store its listings (price, stock), order count, net
// captured revenue per currency (captured - refunded) and quantities per sku (the top 10
// are picked when read); the mall: every store's listings, found by sku or by title prefix
// (case-insensitive ASCII).
//
// Keys: merchant/<merchant> (its configuration), store/<merchant>/<store>, listing/<merchant>/<store>/<sku>,
//       order/<merchant>/<order> (its store and lines, for cancellations and captures),
//       mall/sku/<sku>/<merchant>/<store>, mall/title/<lowercased title>/<merchant>/<store>/<sku>.
#include <cctype>

#include "ledger/ids.h"
#include "projections/event_reading.h"
#include "projections/projection.h"

namespace projections {
namespace {

using ledger::Status;
using ledger::schema::Event;
using ledger::schema::EventBody;
namespace fbs = ledger::schema;


std::string TitleKey(const std::string& title, const std::string& m, const std::string& store, const std::string& sku) {
  return "mall/title/" + ledger::AsciiLower(title) + "/" + m + "/" + store + "/" + sku;
}

// Writes the listing and its two mall entries; drops the old title entry when it changed.
// Values here are records (record_value.h), except the merchant's rare configuration.
void PutListing(StateTxn& s, const std::string& m, const std::string& store, const std::string& sku,
                const std::string& title, const fbs::Money* price, int64_t stock) {
  Record& l = s.MutableRecord("listing/" + m + "/" + store + "/" + sku);
  if (!l.is_null()) {
    const std::optional<std::string_view> old_title = l.Text("title");
    if (old_title && *old_title != title) s.Erase(TitleKey(std::string(*old_title), m, store, sku));
  }
  const auto fill = [&](Record& r) {  // field by field, in key order
    r.Clear();
    r.SetText("currency", price ? Str(price->currency()) : "");
    r.SetText("merchant_id", m);
    r.SetInteger("price_minor", price ? price->amount_minor() : 0);
    r.SetText("sku", sku);
    r.SetInteger("stock", stock);
    r.SetText("store_id", store);
    r.SetText("title", title);
  };
  fill(s.PutRecord("mall/sku/" + sku + "/" + m + "/" + store));
  fill(s.PutRecord(TitleKey(title, m, store, sku)));
  fill(l);
}

// The store an order was placed in ("" when unknown).
std::string StoreOfOrder(StateTxn& s, const std::string& m, const std::string& order_id) {
  return std::string(s.GetRecord("order/" + m + "/" + order_id).Text("store_id").value_or(""));
}

class StorefrontView final : public Projection {
 public:
  StorefrontView() : Projection("storefront") {}

  Status Apply(const Event& e, StateTxn& s) const override {
    const std::string m = Str(e.tenant());
    switch (e.body_type()) {
      case EventBody::MerchantConfigured: {
        const auto* b = e.body_as_MerchantConfigured();
        // What the merchant configured; PayPal's certificate and eBay's public key are public
        // material, kept so the merchant can read back what webhooks are verified with.
        s.Put("merchant/" + m, {{"merchant_id", m},
                                {"settlement_currency", Str(b->settlement_currency())},
                                {"paypal", {{"webhook_id", Str(b->paypal_webhook_id())}, {"cert_pem", Str(b->paypal_cert_pem())}}},
                                {"ebay", {{"public_key", Str(b->ebay_public_key())}, {"store_id", Str(b->ebay_store_id())},
                                          {"seller_id", Str(b->ebay_seller_id())}}},
                                {"configured_at_us", e.recorded_at_us()}});
        break;
      }
      case EventBody::StoreOpened: {
        const auto* b = e.body_as_StoreOpened();
        Record& st = s.PutRecord("store/" + m + "/" + Str(b->store_id()));
        st.SetText("channel", fbs::EnumNameChannel(b->channel()));
        st.SetText("merchant_id", m);
        st.SetText("name", Str(b->name()));
        st.Child("net_captured_minor");
        st.SetInteger("opened_at_us", e.recorded_at_us());
        st.SetInteger("order_count", 0);
        st.Child("sku_quantity");
        st.SetText("store_id", Str(b->store_id()));
        break;
      }
      case EventBody::ListingPublished: {
        const auto* b = e.body_as_ListingPublished();
        PutListing(s, m, Str(b->store_id()), Str(b->sku()), Str(b->title()), b->price(), b->stock());
        break;
      }
      case EventBody::ListingChanged: {
        const auto* b = e.body_as_ListingChanged();
        PutListing(s, m, Str(b->store_id()), Str(b->sku()), Str(b->title()), b->price(), b->stock());
        break;
      }
      case EventBody::OrderPlaced: {
        const auto* b = e.body_as_OrderPlaced();
        const std::string store = Str(b->store_id());
        Record& order = s.PutRecord("order/" + m + "/" + Str(b->order_id()));
        OrderLinesInto(*b, /*with_unit_price=*/false, &order.List("lines"));
        order.SetText("store_id", store);
        Record& st = s.MutableRecord("store/" + m + "/" + store);
        if (st.is_null()) break;  // an order outside any opened store: nothing to count
        st.Add("order_count", 1);
        if (b->lines()) {
          Record& quantities = st.Child("sku_quantity");
          for (const auto* l : *b->lines()) quantities.Add(Str(l->sku()), l->quantity());
        }
        break;
      }
      case EventBody::OrderCancelled: {
        const std::string id = Str(e.body_as_OrderCancelled()->order_id());
        const Record& o = s.GetRecord("order/" + m + "/" + id);
        const std::optional<std::string_view> store = o.Text("store_id");
        if (o.is_null() || !store) return Status::Corruption("cancellation of an unknown order");
        Record& st = s.MutableRecord("store/" + m + "/" + std::string(*store));
        if (st.is_null()) break;
        // A cancelled order's quantities were never sold.
        const std::vector<Record>* lines = o.FindList("lines");
        if (lines == nullptr) break;
        Record& quantities = st.Child("sku_quantity");
        for (const Record& l : *lines) {
          const std::optional<std::string_view> sku = l.Text("sku");
          const std::optional<int64_t> quantity = l.Integer("quantity");
          if (!sku || !quantity) return Status::Corruption("an order line without its sku or quantity");
          quantities.Add(*sku, -*quantity);
          if (quantities.Integer(*sku) == 0) quantities.Erase(*sku);
        }
        break;
      }
      case EventBody::PaymentCaptured:
      case EventBody::PaymentRefunded: {
        const bool capture = e.body_type() == EventBody::PaymentCaptured;
        const fbs::Money* amount = capture ? e.body_as_PaymentCaptured()->amount() : e.body_as_PaymentRefunded()->amount();
        const std::string order = capture ? Str(e.body_as_PaymentCaptured()->order_id())
                                          : Str(e.body_as_PaymentRefunded()->order_id());
        if (amount == nullptr) return Status::Corruption("money event without an amount");
        const std::string store = StoreOfOrder(s, m, order);
        if (store.empty()) break;
        Record& st = s.MutableRecord("store/" + m + "/" + store);
        if (st.is_null()) break;
        st.Child("net_captured_minor").Add(Str(amount->currency()), capture ? amount->amount_minor() : -amount->amount_minor());
        break;
      }
      default:
        break;
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Projection> MakeStorefrontView() { return std::make_unique<StorefrontView>(); }

}  // namespace projections
