// Facts reported by a payment provider: captures, refunds and disputes that happened at
// the provider (a PayPal capture, a refund made on PayPal's dashboard, a chargeback). Each
// is recorded once per provider reference; a rule it breaks becomes an anomaly note.
#include "ledger/domain/decide_internal.h"

namespace ledger::domain::internal {
namespace {

Status CheckFact(const std::string& reference, const std::string& currency, int64_t amount) {
  LEDGER_RETURN_IF_ERROR(CheckId(reference, "/provider_reference"));
  LEDGER_RETURN_IF_ERROR(CheckCurrency(currency, "/currency"));
  return CheckPositive(amount, "/amount");
}

// The payment holding `capture_id`: a provider names the capture, not always the payment.
std::string PaymentOfCapture(const MerchantState* m, const std::string& capture_id) {
  if (m == nullptr) return "";
  auto it = m->capture_payments.find(capture_id);
  return it == m->capture_payments.end() ? "" : it->second;
}

bool AlreadyRecorded(const MerchantState* m, const std::string& reference) {
  return m != nullptr && m->provider_references.count(reference);
}

Status Capture_(const DomainState& s, const DecideContext& ctx, const RecordProviderCapture& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.payment_id, "/payment_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.capture_id, "/capture_id"));
  LEDGER_RETURN_IF_ERROR(CheckFact(c.provider_reference, c.currency, c.amount_minor));
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  if (AlreadyRecorded(m, c.provider_reference)) return Status::Ok();  // a repeat: nothing new
  std::vector<std::string> anomalies;
  CaptureInput in{ctx.merchant_id, Channel::kWeb, c.currency, c.amount_minor, c.amount_minor, 0, 0};
  std::string order_id;
  const Payment* p = nullptr;
  if (m != nullptr)
    if (auto it = m->payments.find(c.payment_id); it != m->payments.end()) p = &it->second;
  if (p == nullptr) {
    anomalies.push_back("payment-unknown: the ledger never authorized this payment");
  } else {
    if (p->captures.count(c.capture_id)) return Rule("capture-exists", "this capture id is already recorded");
    order_id = p->order_id;
    const bool foreign = c.currency != p->currency;
    if (auto o = m->orders.find(p->order_id); o != m->orders.end()) {
      in.channel = o->second.channel;
      // The order's tax and shipping shares are in its currency: a capture in another one
      // is charged as one without an order (its whole amount the base).
      if (!foreign) {
        in.order_total_minor = o->second.total_minor;
        in.order_tax_minor = o->second.tax_minor;
        in.order_shipping_minor = o->second.shipping_minor;
      }
    }
    if (!p->Live()) anomalies.push_back("payment-not-authorized: the authorization was voided or failed");
    // Recorded all the same, counted only in its own currency: never toward what was
    // captured of the payment's authorization (DECISIONS 107).
    if (foreign) anomalies.push_back("currency-mismatch: the payment is in " + p->currency);
    const auto captured = CheckedAdd(p->captured_minor, c.amount_minor);
    if (!foreign && (!captured.ok() || *captured > p->authorized_minor))
      anomalies.push_back("capture-exceeds-authorized: captures exceed the authorized " + std::to_string(p->authorized_minor));
  }
  const FeeRecipe* recipe = s.CurrentRecipe();
  if (recipe == nullptr) return Rule("fee-recipe-missing", "no fee recipe has been published");
  auto charged = ComputeCapture(*recipe, in);
  if (!charged.ok()) {
    if (RuleCode(charged.status()) != "currency-not-priced") return charged.status();
    // The money moved all the same: recorded with fee 0 (DESIGN §5).
    anomalies.push_back("currency-not-priced: recorded with fee 0");
    CaptureOutcome plain;
    plain.fees.recipe_version = recipe->version;
    plain.fees.currency = c.currency;
    plain.merchant_net_minor = c.amount_minor;
    plain.postings.push_back({"external:customer", "merchant:" + ctx.merchant_id + ":available", c.amount_minor, c.currency});
    charged = plain;
  }
  out.Add(StreamOf("payment", ctx.merchant_id, c.payment_id), ExpectedVersion::Any(), schema::EventBody::PaymentCaptured,
          [c, order_id, ch = in.channel, f = *charged](Fbb& b) {
            auto pv = PostingsOf(b, f.postings);
            return schema::CreatePaymentCapturedDirect(b, c.payment_id.c_str(), order_id.c_str(), c.capture_id.c_str(),
                                                       MoneyOf(b, c.amount_minor, c.currency), c.provider_reference.c_str(),
                                                       ChannelOf(ch), schema::PaymentSource::Provider, FeesOf(b, f.fees), &pv)
                .Union();
          },
          JoinNotes(anomalies));
  return Status::Ok();
}

Status Refund(const DomainState& s, const DecideContext& ctx, RecordProviderRefund c, EventSink& out) {
  if (c.payment_id.empty()) {
    // Unknown capture too: the refund is kept under the capture's id as its payment.
    c.payment_id = PaymentOfCapture(FindMerchant(s, ctx.merchant_id), c.capture_id);
    if (c.payment_id.empty()) c.payment_id = c.capture_id;
  }
  LEDGER_RETURN_IF_ERROR(CheckId(c.payment_id, "/payment_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.refund_id, "/refund_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.capture_id, "/capture_id"));
  LEDGER_RETURN_IF_ERROR(CheckFact(c.provider_reference, c.currency, c.amount_minor));
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  if (AlreadyRecorded(m, c.provider_reference)) return Status::Ok();
  std::vector<std::string> anomalies;
  const Payment* p = nullptr;
  const Capture* cap = nullptr;
  if (m != nullptr)
    if (auto it = m->payments.find(c.payment_id); it != m->payments.end()) {
      p = &it->second;
      if (auto k = p->captures.find(c.capture_id); k != p->captures.end()) cap = &k->second;
    }
  if (p != nullptr && p->refunds.count(c.refund_id)) return Rule("refund-exists", "this refund id is already recorded");
  RefundOutcome reversal;
  reversal.reversals.currency = c.currency;
  if (cap == nullptr) {
    anomalies.push_back("capture-unknown: no fees are reversed");
  } else {
    // A refund in another currency than its capture's moved money but refunds nothing of
    // the capture and reverses none of its fees (DECISIONS 107).
    const bool foreign = c.currency != cap->currency;
    if (c.currency != p->currency) anomalies.push_back("currency-mismatch: the payment is in " + p->currency);
    else if (foreign) anomalies.push_back("currency-mismatch: the capture is in " + cap->currency);
    if (!foreign && c.amount_minor > cap->Refundable())
      anomalies.push_back("refund-exceeds-refundable: only " + std::to_string(std::max<int64_t>(cap->Refundable(), 0)) +
                          " was refundable");
    // Fees are reversed as for a refund of what was left of the capture, never more.
    const int64_t reversible = std::min(c.amount_minor, cap->amount_minor - cap->fee_reversal_basis_minor);
    if (reversible > 0 && !foreign) {
      auto recipe = s.recipes.find(cap->charged.fees.recipe_version);
      if (recipe == s.recipes.end()) return Status::Corruption("the capture's fee recipe version is unknown");
      RefundInput in{ctx.merchant_id, &recipe->second, &cap->charged, cap->amount_minor, cap->fee_reversal_basis_minor, reversible};
      auto r = ComputeRefund(in);
      if (!r.ok()) return r.status();
      reversal = *r;
    }
  }
  // The whole refunded amount leaves the merchant, whatever part of it reverses fees.
  std::vector<Posting> postings;
  postings.push_back({"merchant:" + ctx.merchant_id + ":available", "external:customer", c.amount_minor, c.currency});
  for (const Posting& x : reversal.postings)
    if (!(x.debit == postings[0].debit && x.credit == postings[0].credit)) postings.push_back(x);
  const std::string order_id = p != nullptr ? p->order_id : "";
  out.Add(StreamOf("payment", ctx.merchant_id, c.payment_id), ExpectedVersion::Any(), schema::EventBody::PaymentRefunded,
          [c, order_id, fees = reversal.reversals, postings](Fbb& b) {
            auto pv = PostingsOf(b, postings);
            return schema::CreatePaymentRefundedDirect(b, c.payment_id.c_str(), order_id.c_str(), c.refund_id.c_str(),
                                                       c.capture_id.c_str(), MoneyOf(b, c.amount_minor, c.currency),
                                                       c.provider_reference.c_str(), schema::PaymentSource::Provider,
                                                       FeesOf(b, fees), &pv)
                .Union();
          },
          JoinNotes(anomalies));
  return Status::Ok();
}

Status Dispute_(const DomainState& s, const DecideContext& ctx, RecordProviderDispute c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.dispute_id, "/dispute_id"));
  if (c.payment_id.empty()) c.payment_id = PaymentOfCapture(FindMerchant(s, ctx.merchant_id), c.capture_id);
  if (c.payment_id.empty()) return Rule("capture-not-found", "the disputed capture is not recorded; record the capture first");
  LEDGER_RETURN_IF_ERROR(CheckId(c.payment_id, "/payment_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.capture_id, "/capture_id"));
  LEDGER_RETURN_IF_ERROR(CheckFact(c.provider_reference, c.currency, c.amount_minor));
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  if (AlreadyRecorded(m, c.provider_reference) || (m != nullptr && m->disputes.count(c.dispute_id)))
    return Status::Ok();
  const Capture* cap = nullptr;
  const Payment* p = nullptr;
  if (m != nullptr)
    if (auto it = m->payments.find(c.payment_id); it != m->payments.end()) {
      p = &it->second;
      if (auto k = p->captures.find(c.capture_id); k != p->captures.end()) cap = &k->second;
    }
  // Without the capture there is no merchant money to hold in reserve against it.
  if (cap == nullptr) return Rule("capture-not-found", "the disputed capture is not recorded; record the capture first");
  std::vector<std::string> anomalies;
  if (c.currency != p->currency) return Rule("currency-mismatch", "the payment is in " + p->currency);
  // Nothing of a capture in another currency can be held in reserve in this one.
  if (c.currency != cap->currency) return Rule("currency-mismatch", "the capture is in " + cap->currency);
  if (cap->open_disputes > 0) anomalies.push_back("dispute-already-open: the capture already has an open dispute");
  if (c.amount_minor > cap->Refundable())
    anomalies.push_back("dispute-exceeds-disputable: only " + std::to_string(std::max<int64_t>(cap->Refundable(), 0)) +
                        " was disputable");
  const FeeRecipe* recipe = s.CurrentRecipe();
  if (recipe == nullptr) return Rule("fee-recipe-missing", "no fee recipe has been published");
  const Order* order = m->orders.count(p->order_id) ? &m->orders.at(p->order_id) : nullptr;
  auto charged = ComputeDisputeOpen(*recipe, ctx.merchant_id, order ? order->channel : Channel::kWeb, c.currency, c.amount_minor);
  if (!charged.ok()) return charged.status();
  out.Add(StreamOf("dispute", ctx.merchant_id, c.dispute_id), ExpectedVersion::NoStream(), schema::EventBody::DisputeOpened,
          [c, order_id = p->order_id, f = *charged](Fbb& b) {
            auto pv = PostingsOf(b, f.postings);
            return schema::CreateDisputeOpenedDirect(b, c.dispute_id.c_str(), c.payment_id.c_str(), order_id.c_str(),
                                                     c.capture_id.c_str(), MoneyOf(b, c.amount_minor, c.currency),
                                                     c.reason.c_str(), c.evidence_due_at_us, c.provider_reference.c_str(),
                                                     schema::PaymentSource::Provider, FeesOf(b, f.fees), &pv)
                .Union();
          },
          JoinNotes(anomalies));
  return Status::Ok();
}

}  // namespace

Status DecideProvider(const DomainState& s, const DecideContext& ctx, const Command& c, EventSink& out) {
  if (auto* x = std::get_if<RecordProviderCapture>(&c)) return Capture_(s, ctx, *x, out);
  if (auto* x = std::get_if<RecordProviderRefund>(&c)) return Refund(s, ctx, *x, out);
  if (auto* x = std::get_if<RecordProviderDispute>(&c)) return Dispute_(s, ctx, *x, out);
  return Status::InvalidArgument("not a provider fact");
}

}  // namespace ledger::domain::internal
