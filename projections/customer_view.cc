// The unified customer view (DESIGN §7): per merchant and customer, the profile, every
// order across stores and channels with its payments, captures, refunds and disputes,
// messages, open disputes, and lifetime value per currency = captured - refunded - lost
// disputes (shipping and tax included: they are part of what was captured). Outage notices
// are kept with their open intervals; which of them touched a customer's orders is decided
// when the view is read (queries.cc), from the orders' open intervals.
//
// Keys: customer/<merchant>/<customer> (profile, lifetime value, open disputes),
//       customer_order/<merchant>/<customer>/<order>, customer_message/<merchant>/<customer>/<message>
//       (one key each, so that a customer with many orders is never one ever-growing value),
//       order/<merchant>/<order>, payment/<merchant>/<payment> (its order),
//       dispute/<merchant>/<dispute> (its order), notice/<notice>,
//       unmatched/<merchant>/<payment>: captures, refunds and disputes a provider reported
//       for a payment the ledger never authorized (no order to hang them on).
// Provider facts that broke a rule carry their anomaly note into the entries here.
// Personal fields are kept as the events carry them; an erased customer's are dropped from
// the profile here and never shown by the query (messages included).
#include "projections/event_reading.h"
#include "projections/projection.h"

namespace projections {
namespace {

using ledger::Status;
using ledger::schema::Event;
using ledger::schema::EventBody;
namespace fbs = ledger::schema;

std::string CustomerKey(const std::string& m, const std::string& c) { return "customer/" + m + "/" + c; }
std::string OrderKey(const std::string& m, const std::string& o) { return "order/" + m + "/" + o; }
std::string DisputeKey(const std::string& m, const std::string& d) { return "dispute/" + m + "/" + d; }

// Objects here are built field by field: nlohmann's initializer lists copy every pair
// through a temporary array, which made building them about a tenth of a customers rebuild.
Json Money(const fbs::Money* m) {
  Json::object_t fields;
  fields.emplace("amount_minor", m ? m->amount_minor() : 0);
  fields.emplace("currency", m ? Str(m->currency()) : std::string());
  return Json(std::move(fields));
}

// The fields a capture's and a refund's entry in an order share.
Json::object_t MoneyMovement(const std::string& payment_id, const fbs::Money* amount, fbs::PaymentSource source,
                             int64_t at) {
  Json::object_t fields;
  fields.emplace("payment_id", payment_id);
  fields.emplace("amount", Money(amount));
  fields.emplace("source", fbs::EnumNamePaymentSource(source));
  fields.emplace("recorded_at_us", at);
  return fields;
}

// The customer record an order belongs to (null json when the order has no customer).
Json* CustomerOfOrder(StateTxn& s, const std::string& m, const Json& order) {
  if (!order.is_object() || order.value("customer_id", "").empty()) return nullptr;
  Json& c = s.Mutable(CustomerKey(m, order["customer_id"].get<std::string>()));
  if (c.is_null()) c = {{"customer_id", order["customer_id"]}, {"registered", false}};
  return &c;
}

void AddLifetimeValue(StateTxn& s, const std::string& m, const Json& order, const std::string& currency,
                      int64_t delta) {
  if (Json* c = CustomerOfOrder(s, m, order)) {
    Json& ltv = (*c)["lifetime_value_minor"];
    AddTo(ltv, currency, delta);
  }
}

// The order a money event belongs to, or for a provider fact about a payment the ledger
// never authorized (order id empty), that payment's unmatched record (same shape).
Json& OrderOf(StateTxn& s, const std::string& m, const std::string& order_id, const std::string& payment_id) {
  if (!order_id.empty()) return s.Mutable(OrderKey(m, order_id));
  Json& u = s.Mutable("unmatched/" + m + "/" + payment_id);
  if (u.is_null()) u = {{"payment_id", payment_id}, {"order_id", ""}, {"payments", Json::object()}};
  return u;
}

// Adds the envelope's anomaly note, if any, to an entry.
Json Noted(const Event& e, Json entry) {
  if (e.anomaly() != nullptr && e.anomaly()->size() > 0) entry["anomaly"] = e.anomaly()->str();
  return entry;
}

void SetPayment(Json& order, const std::string& payment_id, const char* field, const Json& value) {
  order["payments"][payment_id][field] = value;
}

class CustomerView final : public Projection {
 public:
  CustomerView() : Projection("customers") {}

  Status Apply(const Event& e, StateTxn& s) const override {
    const std::string m = Str(e.tenant());
    const int64_t at = e.recorded_at_us();
    switch (e.body_type()) {
      case EventBody::CustomerRegistered: {
        const auto* b = e.body_as_CustomerRegistered();
        Json& c = s.Mutable(CustomerKey(m, Str(b->customer_id())));
        if (c.is_null()) c = {{"customer_id", Str(b->customer_id())}};
        c["registered"] = true;
        c["store_id"] = Str(b->store_id());
        c["channel"] = fbs::EnumNameChannel(b->channel());
        c["registered_at_us"] = at;
        c["profile"] = PersonalOf(e);
        break;
      }
      case EventBody::CustomerUpdated: {
        Json& c = s.Mutable(CustomerKey(m, Str(e.body_as_CustomerUpdated()->customer_id())));
        if (c.is_null()) return Status::Corruption("CustomerUpdated for an unknown customer");
        if (!c.value("erased", false)) c["profile"] = PersonalOf(e);
        break;
      }
      case EventBody::CustomerErased: {
        Json& c = s.Mutable(CustomerKey(m, Str(e.body_as_CustomerErased()->customer_id())));
        if (c.is_null()) return Status::Corruption("CustomerErased for an unknown customer");
        c["erased"] = true;
        c["erased_at_us"] = at;
        c["profile"] = {{"erased", true}};
        break;
      }
      case EventBody::OrderPlaced: {
        const auto* b = e.body_as_OrderPlaced();
        Json::array_t lines;
        if (b->lines()) {
          lines.reserve(b->lines()->size());
          for (const auto* l : *b->lines()) {
            Json::object_t line;
            line.emplace("sku", Str(l->sku()));
            line.emplace("quantity", l->quantity());
            line.emplace("unit_price_minor", l->unit_price_minor());
            lines.emplace_back(std::move(line));
          }
        }
        Json::object_t order;
        order.emplace("order_id", Str(b->order_id()));
        order.emplace("customer_id", Str(b->customer_id()));
        order.emplace("store_id", Str(b->store_id()));
        order.emplace("channel", fbs::EnumNameChannel(b->channel()));
        order.emplace("currency", Str(b->currency()));
        order.emplace("lines", std::move(lines));
        order.emplace("shipping_minor", b->shipping_minor());
        order.emplace("tax_minor", b->tax_minor());
        order.emplace("total_minor", b->total_minor());
        order.emplace("status", "placed");
        order.emplace("placed_at_us", at);
        order.emplace("payments", Json::object());
        Json& stored = s.Put(OrderKey(m, Str(b->order_id())), Noted(e, Json(std::move(order))));
        if (Json* c = CustomerOfOrder(s, m, stored)) {
          AddTo(*c, "order_count", 1);
          s.Put("customer_order/" + m + "/" + Str(b->customer_id()) + "/" + Str(b->order_id()), {{"placed_at_us", at}});
        }
        break;
      }
      case EventBody::OrderCancelled:
      case EventBody::OrderFulfilled: {
        const bool cancelled = e.body_type() == EventBody::OrderCancelled;
        const std::string id = cancelled ? Str(e.body_as_OrderCancelled()->order_id())
                                         : Str(e.body_as_OrderFulfilled()->order_id());
        Json& o = s.Mutable(OrderKey(m, id));
        if (o.is_null()) return Status::Corruption("order event for an unknown order");
        o["status"] = cancelled ? "cancelled" : "fulfilled";
        o["closed_at_us"] = at;
        if (cancelled) o["cancel_reason"] = Str(e.body_as_OrderCancelled()->reason());
        break;
      }
      case EventBody::PaymentAuthorized: {
        const auto* b = e.body_as_PaymentAuthorized();
        Json& o = s.Mutable(OrderKey(m, Str(b->order_id())));
        if (o.is_null()) return Status::Corruption("payment for an unknown order");
        s.Put("payment/" + m + "/" + Str(b->payment_id()), {{"order_id", Str(b->order_id())}});
        Json& p = o["payments"][Str(b->payment_id())];
        p["status"] = "authorized";
        p["authorized"] = Money(b->amount());
        p["method"] = Str(b->method());
        p["provider"] = Str(b->provider());
        break;
      }
      case EventBody::AuthorizationVoided: {
        const auto* b = e.body_as_AuthorizationVoided();
        Json& o = s.Mutable(OrderKey(m, Str(b->order_id())));
        if (o.is_null()) return Status::Corruption("void for an unknown order");
        SetPayment(o, Str(b->payment_id()), "status", "voided");
        break;
      }
      case EventBody::PaymentFailed: {
        const auto* b = e.body_as_PaymentFailed();
        Json& o = s.Mutable(OrderKey(m, Str(b->order_id())));
        if (o.is_null()) return Status::Corruption("failed payment for an unknown order");
        SetPayment(o, Str(b->payment_id()), "status", "failed");
        SetPayment(o, Str(b->payment_id()), "failure_reason", Str(b->reason()));
        break;
      }
      case EventBody::PaymentCaptured: {
        const auto* b = e.body_as_PaymentCaptured();
        if (b->amount() == nullptr) return Status::Corruption("capture without an amount");
        Json& o = OrderOf(s, m, Str(b->order_id()), Str(b->payment_id()));
        if (o.is_null()) return Status::Corruption("capture for an unknown order");
        Json& p = o["payments"][Str(b->payment_id())];
        p["status"] = "captured";
        AddTo(p, "captured_minor", b->amount() ? b->amount()->amount_minor() : 0);
        Json::object_t capture = MoneyMovement(Str(b->payment_id()), b->amount(), b->source(), at);
        capture.emplace("capture_id", Str(b->capture_id()));
        PushTo(o, "captures", Noted(e, Json(std::move(capture))));
        AddLifetimeValue(s, m, o, Str(b->amount()->currency()), b->amount()->amount_minor());
        break;
      }
      case EventBody::PaymentRefunded: {
        const auto* b = e.body_as_PaymentRefunded();
        if (b->amount() == nullptr) return Status::Corruption("refund without an amount");
        Json& o = OrderOf(s, m, Str(b->order_id()), Str(b->payment_id()));
        if (o.is_null()) return Status::Corruption("refund for an unknown order");
        AddTo(o["payments"][Str(b->payment_id())], "refunded_minor", b->amount()->amount_minor());
        Json::object_t refund = MoneyMovement(Str(b->payment_id()), b->amount(), b->source(), at);
        refund.emplace("refund_id", Str(b->refund_id()));
        refund.emplace("capture_id", Str(b->capture_id()));
        PushTo(o, "refunds", Noted(e, Json(std::move(refund))));
        AddLifetimeValue(s, m, o, Str(b->amount()->currency()), -b->amount()->amount_minor());
        break;
      }
      case EventBody::DisputeOpened: {
        const auto* b = e.body_as_DisputeOpened();
        Json& o = OrderOf(s, m, Str(b->order_id()), Str(b->payment_id()));
        if (o.is_null()) return Status::Corruption("dispute for an unknown order");
        const std::string id = Str(b->dispute_id());
        o["disputes"][id] = Noted(e, {{"status", "open"}, {"payment_id", Str(b->payment_id())},
                                      {"capture_id", Str(b->capture_id())}, {"amount", Money(b->amount())},
                                      {"reason", Str(b->reason())}, {"evidence_due_at_us", b->evidence_due_at_us()},
                                      {"source", fbs::EnumNamePaymentSource(b->source())}, {"opened_at_us", at}});
        s.Put(DisputeKey(m, id), {{"order_id", Str(b->order_id())}, {"payment_id", Str(b->payment_id())}});
        if (Json* c = CustomerOfOrder(s, m, o)) (*c)["open_disputes"][id] = Str(b->order_id());
        break;
      }
      case EventBody::DisputeEvidenceSubmitted: {
        const auto* b = e.body_as_DisputeEvidenceSubmitted();
        const Json& d = s.Get(DisputeKey(m, Str(b->dispute_id())));
        if (d.is_null()) return Status::Corruption("evidence for an unknown dispute");
        Json& o = OrderOf(s, m, d["order_id"].get<std::string>(), d.value("payment_id", ""));
        o["disputes"][Str(b->dispute_id())]["status"] = "evidence_submitted";
        break;
      }
      case EventBody::DisputeResolved: {
        const auto* b = e.body_as_DisputeResolved();
        const std::string id = Str(b->dispute_id());
        const Json& d = s.Get(DisputeKey(m, id));
        if (d.is_null()) return Status::Corruption("resolution of an unknown dispute");
        Json& o = OrderOf(s, m, d["order_id"].get<std::string>(), d.value("payment_id", ""));
        Json& od = o["disputes"][id];
        od["status"] = "resolved";
        od["outcome"] = fbs::EnumNameDisputeOutcome(b->outcome());
        od["resolved_at_us"] = at;
        Json* c = CustomerOfOrder(s, m, o);
        if (c != nullptr && c->contains("open_disputes")) {
          (*c)["open_disputes"].erase(id);
          if ((*c)["open_disputes"].empty()) c->erase("open_disputes");
        }
        // Lost and accepted disputes take the money back from the merchant (DECISIONS §30).
        if (b->outcome() != fbs::DisputeOutcome::Won)
          AddLifetimeValue(s, m, o, od["amount"]["currency"].get<std::string>(),
                           -od["amount"]["amount_minor"].get<int64_t>());
        break;
      }
      case EventBody::MessageSent: {
        const auto* b = e.body_as_MessageSent();
        Json& c = s.Mutable(CustomerKey(m, Str(b->customer_id())));
        if (c.is_null()) c = {{"customer_id", Str(b->customer_id())}, {"registered", false}};
        Json msg = {{"message_id", Str(b->message_id())},
                    {"medium", fbs::EnumNameMessageMedium(b->medium())},
                    {"recorded_at_us", at}};
        const Json personal = PersonalOf(e);
        if (!c.value("erased", false) && !personal.empty()) msg["body"] = personal;
        AddTo(c, "message_count", 1);
        s.Put("customer_message/" + m + "/" + Str(b->customer_id()) + "/" + Str(b->message_id()), std::move(msg));
        break;
      }
      case EventBody::OutageNoticePublished: {
        const auto* b = e.body_as_OutageNoticePublished();
        s.Put("notice/" + Str(b->notice_id()), {{"notice_id", Str(b->notice_id())},
                                                {"component", Str(b->component())},
                                                {"impact", Str(b->impact())},
                                                {"opened_at_us", at}});
        if (b->status() == fbs::OutageStatus::Resolved) s.Mutable("notice/" + Str(b->notice_id()))["resolved_at_us"] = at;
        break;
      }
      case EventBody::OutageNoticeUpdated: {
        const auto* b = e.body_as_OutageNoticeUpdated();
        Json& n = s.Mutable("notice/" + Str(b->notice_id()));
        if (n.is_null()) return Status::Corruption("update of an unknown outage notice");
        if (b->status() == fbs::OutageStatus::Resolved && !n.contains("resolved_at_us")) n["resolved_at_us"] = at;
        break;
      }
      default:
        break;
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Projection> MakeCustomerView() { return std::make_unique<CustomerView>(); }

}  // namespace projections
