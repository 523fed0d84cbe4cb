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
// An order's status: placed, paid (its payments' captures in its currency reach its total,
// DESIGN §5; gross, so a refund does not undo it), then fulfilled, or cancelled. A
// payment's figures (captured_minor, refunded_minor) are in its own currency (`currency`);
// a provider's fact in another currency is listed with its own amount and currency and
// summed apart under other_currencies.<code>, never into them (DECISIONS 107).
// Personal fields are kept as the events carry them, one profile entry per field (sealed:
// {sealed, key_id, position} of the event that last set it, opened at read time), so that
// an update changes only the fields it names (DECISIONS 109); an erased customer's are
// dropped from the profile here and never shown by the query (messages included).
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

// Values here are records (record_value.h), built field by field in key order where
// that is easy (each field is then an append).
void SetMoney(Record& out, const fbs::Money* m) {
  out.SetInteger("amount_minor", m ? m->amount_minor() : 0);
  out.SetText("currency", m ? Str(m->currency()) : std::string());
}

// The fields a capture's and a refund's entry in an order share.
void SetMoneyMovement(Record& out, const std::string& payment_id, const fbs::Money* amount, fbs::PaymentSource source,
                      int64_t at) {
  SetMoney(out.Child("amount"), amount);
  out.SetText("payment_id", payment_id);
  out.SetInteger("recorded_at_us", at);
  out.SetText("source", fbs::EnumNamePaymentSource(source));
}

// The customer record an order belongs to (null when the order has no customer).
Record* CustomerOfOrder(StateTxn& s, const std::string& m, const Record& order) {
  const std::optional<std::string_view> id = order.Text("customer_id");
  if (!id || id->empty()) return nullptr;
  const std::string customer_id(*id);
  Record& c = s.MutableRecord(CustomerKey(m, customer_id));
  if (c.is_null()) {
    c.SetText("customer_id", customer_id);
    c.SetBoolean("registered", false);
  }
  return &c;
}

void AddLifetimeValue(StateTxn& s, const std::string& m, const Record& order, std::string_view currency,
                      int64_t delta) {
  if (Record* c = CustomerOfOrder(s, m, order)) c->Child("lifetime_value_minor").Add(currency, delta);
}

// The order a money event belongs to, or for a provider fact about a payment the ledger
// never authorized (order id empty), that payment's unmatched record (same shape).
Record& OrderOf(StateTxn& s, const std::string& m, const std::string& order_id, const std::string& payment_id) {
  if (!order_id.empty()) return s.MutableRecord(OrderKey(m, order_id));
  Record& u = s.MutableRecord("unmatched/" + m + "/" + payment_id);
  if (u.is_null()) {
    u.SetText("order_id", "");
    u.SetText("payment_id", payment_id);
    u.Child("payments");
  }
  return u;
}

// Adds the envelope's anomaly note, if any, to an entry.
void Note(const Event& e, Record& entry) {
  if (e.anomaly() != nullptr && e.anomaly()->size() > 0) entry.SetText("anomaly", e.anomaly()->string_view());
}

Record& Payment(Record& order, const std::string& payment_id) { return order.Child("payments").Child(payment_id); }

// Where a money fact in `currency` counts on `payment`: the payment itself in its own
// currency, else other_currencies.<currency>, so that a provider's capture or refund in
// another currency is never summed into the payment's figures. A payment a provider
// reported without an authorization takes its first fact's currency, as the domain does.
Record& FiguresIn(Record& payment, const std::string& currency) {
  const std::optional<std::string_view> own = payment.Text("currency");
  if (!own) payment.SetText("currency", currency);
  else if (*own != currency) return payment.Child("other_currencies").Child(currency);
  return payment;
}

// placed -> paid once the captures of the order's payments in its currency reach its
// total (DESIGN §5; the domain's Order::Paid, which the fulfil rule reads too). Every
// payment of an order is in the order's currency (the decider refuses another), and a
// payment's captured_minor counts only that currency.
void MarkPaidWhenCaptured(Record& order, int64_t at) {
  if (order.Text("status") != std::string_view("placed")) return;  // also an unmatched record: no status
  const std::optional<int64_t> total = order.Integer("total_minor");
  if (!total) return;
  const std::string currency(order.Text("currency").value_or(""));
  int64_t captured = 0;
  if (const Record* payments = order.Find("payments"))
    for (const Record::Field& f : payments->fields())
      if (f.kind == Record::Kind::kRecord && f.record->Text("currency") == currency)
        AddWithinInt64(&captured, f.record->Integer("captured_minor").value_or(0));
  if (captured < *total) return;
  order.SetInteger("paid_at_us", at);
  order.SetText("status", "paid");
}

// The profile's entries, in key order (each set is then an append).
constexpr std::pair<fbs::PersonalField, const char*> kProfileFields[] = {
    {fbs::PersonalField::Address, "address"}, {fbs::PersonalField::Email, "email"},
    {fbs::PersonalField::Name, "name"}, {fbs::PersonalField::Phone, "phone"}};

constexpr uint8_t kEveryProfileField =
    static_cast<uint8_t>(fbs::PersonalField::Address) | static_cast<uint8_t>(fbs::PersonalField::Email) |
    static_cast<uint8_t>(fbs::PersonalField::Name) | static_cast<uint8_t>(fbs::PersonalField::Phone);

// What an update keeps. One from before updates said so (nothing kept, nothing removed)
// that brought no personal bytes named no field: it keeps them all, where the rule of then
// emptied the profile (the data loss DECISIONS 109 mends). No later update has that form:
// name and email, neither given nor removable, are kept.
uint8_t KeptBy(const Event& e, const fbs::CustomerUpdated& update) {
  const bool brings_personal = e.personal_key_id() != 0 || (e.personal() != nullptr && e.personal()->size() > 0);
  if (update.personal_kept() == 0 && update.personal_removed() == 0 && !brings_personal) return kEveryProfileField;
  return update.personal_kept();
}

// The event's personal fields into the profile, but those in `kept` (PersonalField bits);
// a field in `removed`, or that the event does not carry, goes. Sealed bytes cannot be
// looked into here, so each field the event sets points at them ({sealed, key_id,
// position}; a field they turn out not to hold is shown as absent). A registration keeps
// nothing, as does an update from before CustomerUpdated said what it keeps that brought
// personal bytes (which fields it was given cannot be told).
void ProfileFrom(const Event& e, uint8_t kept, uint8_t removed, Record& profile) {
  Record from;
  PersonalInto(e, &from);
  const bool opaque = from.Boolean("sealed").value_or(false) || from.Boolean("unreadable").value_or(false);
  for (const auto& [field, name] : kProfileFields) {
    const auto bit = static_cast<uint8_t>(field);
    if ((kept & bit) != 0) continue;
    if ((removed & bit) != 0) {
      profile.Erase(name);
    } else if (opaque) {
      Record::FromJson(from.ToJson(), &profile.SetRecord(name));
    } else if (const std::optional<std::string_view> text = from.Text(name)) {
      profile.SetText(name, *text);
    } else if (const Record* address = from.Find(name)) {
      Record::FromJson(address->ToJson(), &profile.SetRecord(name));
    } else {
      profile.Erase(name);
    }
  }
}

class CustomerView final : public Projection {
 public:
  CustomerView() : Projection("customers") {}
  // 2: orders read paid; payments carry their currency and keep other currencies' facts
  // apart (DECISIONS 107). 3: the profile is kept field by field (DECISIONS 109), where
  // layouts 1 and 2 kept one {sealed, key_id, position} for the whole profile.
  uint32_t layout_version() const override { return 3; }

  Status Apply(const Event& e, StateTxn& s) const override {
    const std::string m = Str(e.tenant());
    const int64_t at = e.recorded_at_us();
    switch (e.body_type()) {
      case EventBody::CustomerRegistered: {
        const auto* b = e.body_as_CustomerRegistered();
        Record& c = s.MutableRecord(CustomerKey(m, Str(b->customer_id())));
        if (c.is_null()) c.SetText("customer_id", Str(b->customer_id()));
        c.SetText("channel", fbs::EnumNameChannel(b->channel()));
        ProfileFrom(e, /*kept=*/0, /*removed=*/0, c.SetRecord("profile"));
        c.SetBoolean("registered", true);
        c.SetInteger("registered_at_us", at);
        c.SetText("store_id", Str(b->store_id()));
        break;
      }
      case EventBody::CustomerUpdated: {
        const auto* b = e.body_as_CustomerUpdated();
        Record& c = s.MutableRecord(CustomerKey(m, Str(b->customer_id())));
        if (c.is_null()) return Status::Corruption("CustomerUpdated for an unknown customer");
        if (!c.Boolean("erased").value_or(false))
          ProfileFrom(e, KeptBy(e, *b), b->personal_removed(), c.Child("profile"));
        break;
      }
      case EventBody::CustomerErased: {
        Record& c = s.MutableRecord(CustomerKey(m, Str(e.body_as_CustomerErased()->customer_id())));
        if (c.is_null()) return Status::Corruption("CustomerErased for an unknown customer");
        c.SetBoolean("erased", true);
        c.SetInteger("erased_at_us", at);
        c.SetRecord("profile").SetBoolean("erased", true);
        break;
      }
      case EventBody::OrderPlaced: {
        const auto* b = e.body_as_OrderPlaced();
        Record& order = s.PutRecord(OrderKey(m, Str(b->order_id())));
        order.SetText("channel", fbs::EnumNameChannel(b->channel()));
        order.SetText("currency", Str(b->currency()));
        order.SetText("customer_id", Str(b->customer_id()));
        OrderLinesInto(*b, /*with_unit_price=*/true, &order.List("lines"));
        order.SetText("order_id", Str(b->order_id()));
        order.Child("payments");
        order.SetInteger("placed_at_us", at);
        order.SetInteger("shipping_minor", b->shipping_minor());
        order.SetText("status", "placed");
        order.SetText("store_id", Str(b->store_id()));
        order.SetInteger("tax_minor", b->tax_minor());
        order.SetInteger("total_minor", b->total_minor());
        Note(e, order);
        MarkPaidWhenCaptured(order, at);  // a total of 0 is paid from its placement
        if (Record* c = CustomerOfOrder(s, m, order)) {
          c->Add("order_count", 1);
          s.PutRecord("customer_order/" + m + "/" + Str(b->customer_id()) + "/" + Str(b->order_id()))
              .SetInteger("placed_at_us", at);
        }
        break;
      }
      case EventBody::OrderCancelled:
      case EventBody::OrderFulfilled: {
        const bool cancelled = e.body_type() == EventBody::OrderCancelled;
        const std::string id = cancelled ? Str(e.body_as_OrderCancelled()->order_id())
                                         : Str(e.body_as_OrderFulfilled()->order_id());
        Record& o = s.MutableRecord(OrderKey(m, id));
        if (o.is_null()) return Status::Corruption("order event for an unknown order");
        o.SetText("status", cancelled ? "cancelled" : "fulfilled");
        o.SetInteger("closed_at_us", at);
        if (cancelled) o.SetText("cancel_reason", Str(e.body_as_OrderCancelled()->reason()));
        break;
      }
      case EventBody::PaymentAuthorized: {
        const auto* b = e.body_as_PaymentAuthorized();
        Record& o = s.MutableRecord(OrderKey(m, Str(b->order_id())));
        if (o.is_null()) return Status::Corruption("payment for an unknown order");
        s.PutRecord("payment/" + m + "/" + Str(b->payment_id())).SetText("order_id", Str(b->order_id()));
        Record& p = Payment(o, Str(b->payment_id()));
        SetMoney(p.SetRecord("authorized"), b->amount());
        p.SetText("currency", b->amount() ? Str(b->amount()->currency()) : std::string());
        p.SetText("method", Str(b->method()));
        p.SetText("provider", Str(b->provider()));
        p.SetText("status", "authorized");
        break;
      }
      case EventBody::AuthorizationVoided: {
        const auto* b = e.body_as_AuthorizationVoided();
        Record& o = s.MutableRecord(OrderKey(m, Str(b->order_id())));
        if (o.is_null()) return Status::Corruption("void for an unknown order");
        Payment(o, Str(b->payment_id())).SetText("status", "voided");
        break;
      }
      case EventBody::PaymentFailed: {
        const auto* b = e.body_as_PaymentFailed();
        Record& o = s.MutableRecord(OrderKey(m, Str(b->order_id())));
        if (o.is_null()) return Status::Corruption("failed payment for an unknown order");
        Record& p = Payment(o, Str(b->payment_id()));
        p.SetText("failure_reason", Str(b->reason()));
        p.SetText("status", "failed");
        break;
      }
      case EventBody::PaymentCaptured: {
        const auto* b = e.body_as_PaymentCaptured();
        if (b->amount() == nullptr) return Status::Corruption("capture without an amount");
        Record& o = OrderOf(s, m, Str(b->order_id()), Str(b->payment_id()));
        if (o.is_null()) return Status::Corruption("capture for an unknown order");
        Record& p = Payment(o, Str(b->payment_id()));
        Record& figures = FiguresIn(p, Str(b->amount()->currency()));
        figures.Add("captured_minor", b->amount()->amount_minor());
        if (&figures == &p) p.SetText("status", "captured");  // in another currency: as it was
        MarkPaidWhenCaptured(o, at);
        Record& capture = o.List("captures").emplace_back();
        SetMoneyMovement(capture, Str(b->payment_id()), b->amount(), b->source(), at);
        capture.SetText("capture_id", Str(b->capture_id()));
        Note(e, capture);
        AddLifetimeValue(s, m, o, Str(b->amount()->currency()), b->amount()->amount_minor());
        break;
      }
      case EventBody::PaymentRefunded: {
        const auto* b = e.body_as_PaymentRefunded();
        if (b->amount() == nullptr) return Status::Corruption("refund without an amount");
        Record& o = OrderOf(s, m, Str(b->order_id()), Str(b->payment_id()));
        if (o.is_null()) return Status::Corruption("refund for an unknown order");
        Record& p = Payment(o, Str(b->payment_id()));
        FiguresIn(p, Str(b->amount()->currency())).Add("refunded_minor", b->amount()->amount_minor());
        Record& refund = o.List("refunds").emplace_back();
        SetMoneyMovement(refund, Str(b->payment_id()), b->amount(), b->source(), at);
        refund.SetText("capture_id", Str(b->capture_id()));
        refund.SetText("refund_id", Str(b->refund_id()));
        Note(e, refund);
        AddLifetimeValue(s, m, o, Str(b->amount()->currency()), -b->amount()->amount_minor());
        break;
      }
      case EventBody::DisputeOpened: {
        const auto* b = e.body_as_DisputeOpened();
        Record& o = OrderOf(s, m, Str(b->order_id()), Str(b->payment_id()));
        if (o.is_null()) return Status::Corruption("dispute for an unknown order");
        const std::string id = Str(b->dispute_id());
        Record& d = o.Child("disputes").SetRecord(id);
        SetMoney(d.Child("amount"), b->amount());
        d.SetText("capture_id", Str(b->capture_id()));
        d.SetInteger("evidence_due_at_us", b->evidence_due_at_us());
        d.SetInteger("opened_at_us", at);
        d.SetText("payment_id", Str(b->payment_id()));
        d.SetText("reason", Str(b->reason()));
        d.SetText("source", fbs::EnumNamePaymentSource(b->source()));
        d.SetText("status", "open");
        Note(e, d);
        Record& index = s.PutRecord(DisputeKey(m, id));
        index.SetText("order_id", Str(b->order_id()));
        index.SetText("payment_id", Str(b->payment_id()));
        if (Record* c = CustomerOfOrder(s, m, o)) c->Child("open_disputes").SetText(id, Str(b->order_id()));
        break;
      }
      case EventBody::DisputeEvidenceSubmitted: {
        const auto* b = e.body_as_DisputeEvidenceSubmitted();
        const Record& d = s.GetRecord(DisputeKey(m, Str(b->dispute_id())));
        const std::optional<std::string_view> order_id = d.Text("order_id");
        if (d.is_null() || !order_id) return Status::Corruption("evidence for an unknown dispute");
        Record& o = OrderOf(s, m, std::string(*order_id), std::string(d.Text("payment_id").value_or("")));
        o.Child("disputes").Child(Str(b->dispute_id())).SetText("status", "evidence_submitted");
        break;
      }
      case EventBody::DisputeResolved: {
        const auto* b = e.body_as_DisputeResolved();
        const std::string id = Str(b->dispute_id());
        const Record& d = s.GetRecord(DisputeKey(m, id));
        const std::optional<std::string_view> order_id = d.Text("order_id");
        if (d.is_null() || !order_id) return Status::Corruption("resolution of an unknown dispute");
        Record& o = OrderOf(s, m, std::string(*order_id), std::string(d.Text("payment_id").value_or("")));
        Record& od = o.Child("disputes").Child(id);
        od.SetText("outcome", fbs::EnumNameDisputeOutcome(b->outcome()));
        od.SetInteger("resolved_at_us", at);
        od.SetText("status", "resolved");
        Record* c = CustomerOfOrder(s, m, o);
        if (c != nullptr && c->Has("open_disputes")) {
          Record& open = c->Child("open_disputes");
          open.Erase(id);
          if (open.empty()) c->Erase("open_disputes");
        }
        // Lost and accepted disputes take the money back from the merchant (DECISIONS §30).
        if (b->outcome() != fbs::DisputeOutcome::Won) {
          const Record* amount = od.Find("amount");
          const std::optional<std::string_view> currency = amount ? amount->Text("currency") : std::nullopt;
          const std::optional<int64_t> minor = amount ? amount->Integer("amount_minor") : std::nullopt;
          if (!currency || !minor) return Status::Corruption("resolution of a dispute without its amount");
          AddLifetimeValue(s, m, o, std::string(*currency), -*minor);
        }
        break;
      }
      case EventBody::MessageSent: {
        const auto* b = e.body_as_MessageSent();
        Record& c = s.MutableRecord(CustomerKey(m, Str(b->customer_id())));
        if (c.is_null()) {
          c.SetText("customer_id", Str(b->customer_id()));
          c.SetBoolean("registered", false);
        }
        Record& msg = s.PutRecord("customer_message/" + m + "/" + Str(b->customer_id()) + "/" + Str(b->message_id()));
        if (!c.Boolean("erased").value_or(false)) {
          Record& body = msg.SetRecord("body");
          PersonalInto(e, &body);
          if (body.empty()) msg.Erase("body");
        }
        msg.SetText("medium", fbs::EnumNameMessageMedium(b->medium()));
        msg.SetText("message_id", Str(b->message_id()));
        msg.SetInteger("recorded_at_us", at);
        c.Add("message_count", 1);
        break;
      }
      case EventBody::OutageNoticePublished: {
        const auto* b = e.body_as_OutageNoticePublished();
        Record& n = s.PutRecord("notice/" + Str(b->notice_id()));
        n.SetText("component", Str(b->component()));
        n.SetText("impact", Str(b->impact()));
        n.SetText("notice_id", Str(b->notice_id()));
        n.SetInteger("opened_at_us", at);
        if (b->status() == fbs::OutageStatus::Resolved) n.SetInteger("resolved_at_us", at);
        break;
      }
      case EventBody::OutageNoticeUpdated: {
        const auto* b = e.body_as_OutageNoticeUpdated();
        Record& n = s.MutableRecord("notice/" + Str(b->notice_id()));
        if (n.is_null()) return Status::Corruption("update of an unknown outage notice");
        if (b->status() == fbs::OutageStatus::Resolved && !n.Has("resolved_at_us")) n.SetInteger("resolved_at_us", at);
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
