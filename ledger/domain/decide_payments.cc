// Payments: authorize, void, capture (with the fee breakdown), refund (reversing under the
// capture's recipe version), fail.
#include "ledger/domain/decide_internal.h"

namespace ledger::domain::internal {
namespace {

const Payment* FindPayment(const MerchantState* m, const std::string& id) {
  if (m == nullptr) return nullptr;
  auto it = m->payments.find(id);
  return it == m->payments.end() ? nullptr : &it->second;
}

Status Authorize(const DomainState& s, const DecideContext& ctx, const AuthorizePayment& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.payment_id, "/payment_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.order_id, "/order_id"));
  LEDGER_RETURN_IF_ERROR(CheckCurrency(c.currency, "/currency"));
  LEDGER_RETURN_IF_ERROR(CheckPositive(c.amount_minor, "/amount"));
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  if (m == nullptr || !m->orders.count(c.order_id)) return Rule("order-not-found", "no such order");
  if (m->payments.count(c.payment_id)) return Rule("payment-exists", "this payment id was already used");
  const Order& o = m->orders.at(c.order_id);
  if (!o.Open()) return Rule("order-closed", "the order is cancelled or fulfilled");
  if (c.currency != o.currency) return Rule("currency-mismatch", "a payment is in its order's currency, " + o.currency);
  int64_t live = 0;
  for (const std::string& pid : o.payment_ids) {
    const Payment& p = m->payments.at(pid);
    if (p.Live()) live += p.authorized_minor;  // each <= the order total: no overflow
  }
  auto after = CheckedAdd(live, c.amount_minor);
  if (!after.ok() || *after > o.total_minor)
    return Rule("authorization-exceeds-order-total", "live authorizations would exceed the order total of " +
                                                         std::to_string(o.total_minor));
  // A currency the recipe cannot price would fail at capture: refuse it now.
  const FeeRecipe* recipe = s.CurrentRecipe();
  if (recipe == nullptr) return Rule("fee-recipe-missing", "no fee recipe has been published");
  for (const FeeContributor& fc : recipe->contributors)
    if (fc.AppliesTo(FeeEvent::kCapture, o.channel) && !fc.Prices(c.currency))
      return Rule("currency-not-priced", "the fee recipe does not price " + c.currency);
  out.Add(StreamOf("payment", ctx.merchant_id, c.payment_id), ExpectedVersion::NoStream(),
          schema::EventBody::PaymentAuthorized, [c](Fbb& b) {
            return schema::CreatePaymentAuthorizedDirect(b, c.payment_id.c_str(), c.order_id.c_str(),
                                                         MoneyOf(b, c.amount_minor, c.currency), c.method.c_str(),
                                                         c.provider.c_str(), "", schema::PaymentSource::Merchant)
                .Union();
          });
  return Status::Ok();
}

Status Void(const DomainState& s, const DecideContext& ctx, const VoidAuthorization& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.payment_id, "/payment_id"));
  const Payment* p = FindPayment(FindMerchant(s, ctx.merchant_id), c.payment_id);
  if (p == nullptr) return Rule("payment-not-found", "no such payment");
  if (!p->Live()) return Rule("payment-not-authorized", "the authorization is no longer live");
  if (p->HasCaptures()) return Rule("payment-has-captures", "an authorization can be voided only before capture");
  out.Add(StreamOf("payment", ctx.merchant_id, c.payment_id), ExpectedVersion::Any(),
          schema::EventBody::AuthorizationVoided, [c, p = *p](Fbb& b) {
            return schema::CreateAuthorizationVoidedDirect(b, c.payment_id.c_str(), p.order_id.c_str(),
                                                           MoneyOf(b, p.authorized_minor, p.currency), c.reason.c_str())
                .Union();
          });
  return Status::Ok();
}

bool IsPayPal(const std::string& provider) { return AsciiLower(provider) == "paypal"; }

Status Capture_(const DomainState& s, const DecideContext& ctx, const CapturePayment& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.payment_id, "/payment_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.capture_id, "/capture_id"));
  LEDGER_RETURN_IF_ERROR(CheckPositive(c.amount_minor, "/amount"));
  if (!c.provider_reference.empty()) LEDGER_RETURN_IF_ERROR(CheckId(c.provider_reference, "/provider_reference"));
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  const Payment* p = FindPayment(m, c.payment_id);
  if (p == nullptr) return Rule("payment-not-found", "no such payment");
  if (!p->Live()) return Rule("payment-not-authorized", "the authorization was voided or failed");
  if (p->captures.count(c.capture_id)) return Rule("capture-exists", "this capture id was already used");
  if (!c.provider_reference.empty() && m->provider_references.count(c.provider_reference))
    return Rule("provider-reference-exists", "this provider reference is already recorded");
  // PayPal reports the same capture through its webhook; only its capture id tells the two
  // records apart from two captures, so without it the money would be counted twice.
  if (c.provider_reference.empty() && m->takes_paypal_webhooks && IsPayPal(p->provider))
    return Rule("provider-reference-required",
                "this merchant takes PayPal's webhooks: give PayPal's capture id as provider_reference, or the capture "
                "PayPal reports would be recorded a second time");
  auto after = CheckedAdd(p->captured_minor, c.amount_minor);
  if (!after.ok() || *after > p->authorized_minor)
    return Rule("capture-exceeds-authorized", "captures would exceed the authorized " + std::to_string(p->authorized_minor));
  // A payment a provider reported without an order takes more captures only from the provider.
  const Order* o = FindOrder(*m, p->order_id);
  if (o == nullptr) return Rule("order-not-found", "this payment has no order in the ledger");
  const FeeRecipe* recipe = s.CurrentRecipe();
  if (recipe == nullptr) return Rule("fee-recipe-missing", "no fee recipe has been published");
  CaptureInput in{ctx.merchant_id, o->channel, p->currency, c.amount_minor, o->total_minor, o->tax_minor, o->shipping_minor};
  auto charged = ComputeCapture(*recipe, in);
  if (!charged.ok()) return charged.status();
  out.Add(StreamOf("payment", ctx.merchant_id, c.payment_id), ExpectedVersion::Any(),
          schema::EventBody::PaymentCaptured, [c, p = *p, ch = o->channel, f = *charged](Fbb& b) {
            auto pv = PostingsOf(b, f.postings);
            return schema::CreatePaymentCapturedDirect(
                       b, c.payment_id.c_str(), p.order_id.c_str(), c.capture_id.c_str(),
                       MoneyOf(b, c.amount_minor, p.currency), c.provider_reference.c_str(), ChannelOf(ch),
                       schema::PaymentSource::Merchant, FeesOf(b, f.fees), &pv)
                .Union();
          });
  return Status::Ok();
}

Status Refund(const DomainState& s, const DecideContext& ctx, const RefundPayment& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.payment_id, "/payment_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.refund_id, "/refund_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.capture_id, "/capture_id"));
  LEDGER_RETURN_IF_ERROR(CheckPositive(c.amount_minor, "/amount"));
  const Payment* p = FindPayment(FindMerchant(s, ctx.merchant_id), c.payment_id);
  if (p == nullptr) return Rule("payment-not-found", "no such payment");
  if (p->refunds.count(c.refund_id)) return Rule("refund-exists", "this refund id was already used");
  auto cap = p->captures.find(c.capture_id);
  if (cap == p->captures.end()) return Rule("capture-not-found", "no such capture on this payment");
  // A merchant's refund is in the payment's currency; a capture a provider reported in
  // another has nothing refundable in it (DECISIONS 107).
  if (cap->second.currency != p->currency)
    return Rule("currency-mismatch", "this capture is in " + cap->second.currency + ", not the payment's " +
                                         p->currency + ": refund it with the provider that took it");
  if (c.amount_minor > cap->second.Refundable())
    return Rule("refund-exceeds-refundable", "at most " + std::to_string(cap->second.Refundable()) +
                                                 " of this capture can be refunded");
  auto recipe = s.recipes.find(cap->second.charged.fees.recipe_version);
  if (recipe == s.recipes.end()) return Status::Corruption("the capture's fee recipe version is unknown");
  RefundInput in{ctx.merchant_id, &recipe->second, &cap->second.charged, cap->second.amount_minor,
                 cap->second.fee_reversal_basis_minor, c.amount_minor};
  auto reversed = ComputeRefund(in);
  if (!reversed.ok()) return reversed.status();
  out.Add(StreamOf("payment", ctx.merchant_id, c.payment_id), ExpectedVersion::Any(),
          schema::EventBody::PaymentRefunded, [c, p = *p, r = *reversed](Fbb& b) {
            auto pv = PostingsOf(b, r.postings);
            return schema::CreatePaymentRefundedDirect(
                       b, c.payment_id.c_str(), p.order_id.c_str(), c.refund_id.c_str(), c.capture_id.c_str(),
                       MoneyOf(b, c.amount_minor, p.currency), "", schema::PaymentSource::Merchant,
                       FeesOf(b, r.reversals), &pv)
                .Union();
          });
  return Status::Ok();
}

Status Fail(const DomainState& s, const DecideContext& ctx, const FailPayment& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.payment_id, "/payment_id"));
  const Payment* p = FindPayment(FindMerchant(s, ctx.merchant_id), c.payment_id);
  if (p == nullptr) return Rule("payment-not-found", "no such payment");
  if (!p->Live()) return Rule("payment-not-authorized", "the authorization is no longer live");
  if (p->HasCaptures()) return Rule("payment-has-captures", "a payment with captures cannot fail");
  out.Add(StreamOf("payment", ctx.merchant_id, c.payment_id), ExpectedVersion::Any(), schema::EventBody::PaymentFailed,
          [c, p = *p](Fbb& b) {
            return schema::CreatePaymentFailedDirect(b, c.payment_id.c_str(), p.order_id.c_str(),
                                                     MoneyOf(b, p.authorized_minor, p.currency), c.reason.c_str(), "")
                .Union();
          });
  return Status::Ok();
}

}  // namespace

Status DecidePayment(const DomainState& s, const DecideContext& ctx, const Command& c, EventSink& out) {
  if (auto* x = std::get_if<AuthorizePayment>(&c)) return Authorize(s, ctx, *x, out);
  if (auto* x = std::get_if<VoidAuthorization>(&c)) return Void(s, ctx, *x, out);
  if (auto* x = std::get_if<CapturePayment>(&c)) return Capture_(s, ctx, *x, out);
  if (auto* x = std::get_if<RefundPayment>(&c)) return Refund(s, ctx, *x, out);
  if (auto* x = std::get_if<FailPayment>(&c)) return Fail(s, ctx, *x, out);
  return Status::InvalidArgument("not a payment command");
}

}  // namespace ledger::domain::internal
