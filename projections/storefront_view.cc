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
void PutListing(StateTxn& s, const std::string& m, const std::string& store, const std::string& sku,
                const std::string& title, const fbs::Money* price, int64_t stock) {
  Json& l = s.Mutable("listing/" + m + "/" + store + "/" + sku);
  if (!l.is_null() && l["title"] != title) s.Erase(TitleKey(l["title"].get<std::string>(), m, store, sku));
  // Field by field (an initializer list copies every pair through a temporary array):
  // every order changes its listings' stock.
  Json::object_t fields;
  fields.emplace("merchant_id", m);
  fields.emplace("store_id", store);
  fields.emplace("sku", sku);
  fields.emplace("title", title);
  fields.emplace("price_minor", price ? price->amount_minor() : 0);
  fields.emplace("currency", price ? Str(price->currency()) : "");
  fields.emplace("stock", stock);
  Json listing(std::move(fields));
  s.Put("mall/sku/" + sku + "/" + m + "/" + store, listing);
  s.Put(TitleKey(title, m, store, sku), listing);
  l = std::move(listing);
}

// The store an order was placed in ("" when unknown).
std::string StoreOfOrder(StateTxn& s, const std::string& m, const std::string& order_id) {
  const Json& o = s.Get("order/" + m + "/" + order_id);
  return o.is_null() ? std::string() : o["store_id"].get<std::string>();
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
        Json& st = s.Mutable("store/" + m + "/" + Str(b->store_id()));
        st = {{"merchant_id", m},
              {"store_id", Str(b->store_id())},
              {"name", Str(b->name())},
              {"channel", fbs::EnumNameChannel(b->channel())},
              {"opened_at_us", e.recorded_at_us()},
              {"order_count", 0},
              {"net_captured_minor", Json::object()},
              {"sku_quantity", Json::object()}};
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
        Json lines = Json::array();
        if (b->lines())
          for (const auto* l : *b->lines()) lines.push_back({{"sku", Str(l->sku())}, {"quantity", l->quantity()}});
        s.Put("order/" + m + "/" + Str(b->order_id()), {{"store_id", store}, {"lines", std::move(lines)}});
        Json& st = s.Mutable("store/" + m + "/" + store);
        if (st.is_null()) break;  // an order outside any opened store: nothing to count
        AddTo(st, "order_count", 1);
        if (b->lines())
          for (const auto* l : *b->lines()) AddTo(st["sku_quantity"], Str(l->sku()), l->quantity());
        break;
      }
      case EventBody::OrderCancelled: {
        const std::string id = Str(e.body_as_OrderCancelled()->order_id());
        const Json& o = s.Get("order/" + m + "/" + id);
        if (o.is_null()) return Status::Corruption("cancellation of an unknown order");
        Json& st = s.Mutable("store/" + m + "/" + o["store_id"].get<std::string>());
        if (st.is_null()) break;
        // A cancelled order's quantities were never sold.
        for (const Json& l : o["lines"]) {
          const std::string sku = l["sku"].get<std::string>();
          AddTo(st["sku_quantity"], sku, -l["quantity"].get<int64_t>());
          if (st["sku_quantity"][sku] == 0) st["sku_quantity"].erase(sku);
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
        Json& st = s.Mutable("store/" + m + "/" + store);
        if (st.is_null()) break;
        AddTo(st["net_captured_minor"], Str(amount->currency()),
              capture ? amount->amount_minor() : -amount->amount_minor());
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
