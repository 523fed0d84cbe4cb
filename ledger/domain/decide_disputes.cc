// One dispute process (opened -> evidence submitted -> won or lost, or accepted; resolved
// exactly once) and payouts.
#include "ledger/domain/decide_internal.h"

namespace ledger::domain::internal {
namespace {

const Dispute* FindDispute(const MerchantState* m, const std::string& id) {
  if (m == nullptr) return nullptr;
  auto it = m->disputes.find(id);
  return it == m->disputes.end() ? nullptr : &it->second;
}

Status Open(const DomainState& s, const DecideContext& ctx, const OpenDispute& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.dispute_id, "/dispute_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.payment_id, "/payment_id"));
  LEDGER_RETURN_IF_ERROR(CheckId(c.capture_id, "/capture_id"));
  LEDGER_RETURN_IF_ERROR(CheckPositive(c.amount_minor, "/amount"));
  if (c.evidence_due_at_us < 0) return Field("/evidence_due_at_us", "must not be negative");
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  if (m == nullptr || !m->payments.count(c.payment_id)) return Rule("payment-not-found", "no such payment");
  if (m->disputes.count(c.dispute_id)) return Rule("dispute-exists", "this dispute id was already used");
  const Payment& p = m->payments.at(c.payment_id);
  auto cap = p.captures.find(c.capture_id);
  if (cap == p.captures.end()) return Rule("capture-not-found", "no such capture on this payment");
  // A dispute is in the payment's currency; a capture a provider reported in another has
  // nothing disputable in it (DECISIONS 107).
  if (cap->second.currency != p.currency)
    return Rule("currency-mismatch",
                "this capture is in " + cap->second.currency + ", not the payment's " + p.currency);
  if (cap->second.open_disputes > 0) return Rule("dispute-already-open", "this capture already has an open dispute");
  if (c.amount_minor > cap->second.Refundable())
    return Rule("dispute-exceeds-disputable", "at most " + std::to_string(cap->second.Refundable()) +
                                                  " of this capture can be disputed");
  const FeeRecipe* recipe = s.CurrentRecipe();
  if (recipe == nullptr) return Rule("fee-recipe-missing", "no fee recipe has been published");
  const Order* o = FindOrder(*m, p.order_id);
  auto charged = ComputeDisputeOpen(*recipe, ctx.merchant_id, o ? o->channel : Channel::kWeb, p.currency, c.amount_minor);
  if (!charged.ok()) return charged.status();
  out.Add(StreamOf("dispute", ctx.merchant_id, c.dispute_id), ExpectedVersion::NoStream(),
          schema::EventBody::DisputeOpened, [c, p, f = *charged](Fbb& b) {
            auto pv = PostingsOf(b, f.postings);
            return schema::CreateDisputeOpenedDirect(
                       b, c.dispute_id.c_str(), c.payment_id.c_str(), p.order_id.c_str(), c.capture_id.c_str(),
                       MoneyOf(b, c.amount_minor, p.currency), c.reason.c_str(), c.evidence_due_at_us, "",
                       schema::PaymentSource::Merchant, FeesOf(b, f.fees), &pv)
                .Union();
          });
  return Status::Ok();
}

Status Evidence(const DomainState& s, const DecideContext& ctx, const SubmitDisputeEvidence& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.dispute_id, "/dispute_id"));
  const Dispute* d = FindDispute(FindMerchant(s, ctx.merchant_id), c.dispute_id);
  if (d == nullptr) return Rule("dispute-not-found", "no such dispute");
  if (d->Resolved()) return Rule("dispute-resolved", "the dispute is already resolved");
  if (c.evidence_ref.empty() || c.evidence_ref.size() > 500) return Field("/evidence_ref", "must be 1 to 500 characters");
  out.Add(StreamOf("dispute", ctx.merchant_id, c.dispute_id), ExpectedVersion::Any(),
          schema::EventBody::DisputeEvidenceSubmitted, [c](Fbb& b) {
            return schema::CreateDisputeEvidenceSubmittedDirect(b, c.dispute_id.c_str(), c.evidence_ref.c_str(), "").Union();
          });
  return Status::Ok();
}

Status Resolve(const DomainState& s, const DecideContext& ctx, const std::string& dispute_id,
               schema::DisputeOutcome outcome, EventSink& out,
               schema::PaymentSource source = schema::PaymentSource::Merchant) {
  LEDGER_RETURN_IF_ERROR(CheckId(dispute_id, "/dispute_id"));
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  const Dispute* d = FindDispute(m, dispute_id);
  if (d == nullptr) return Rule("dispute-not-found", "no such dispute");
  if (d->Resolved()) return Rule("dispute-resolved", "a dispute is resolved exactly once");
  auto recipe = s.recipes.find(d->open_fees.recipe_version);
  if (recipe == s.recipes.end()) return Status::Corruption("the dispute's fee recipe version is unknown");
  const Payment& p = m->payments.at(d->payment_id);
  const Capture& cap = p.captures.at(d->capture_id);
  auto capture_recipe = s.recipes.find(cap.charged.fees.recipe_version);
  if (capture_recipe == s.recipes.end()) return Status::Corruption("the capture's fee recipe version is unknown");
  RefundInput as_refund{ctx.merchant_id, &capture_recipe->second, &cap.charged, cap.amount_minor,
                        cap.fee_reversal_basis_minor, d->amount_minor};
  const DisputeResult result = outcome == schema::DisputeOutcome::Won ? DisputeResult::kWon : DisputeResult::kLost;
  const Order* o = FindOrder(*m, p.order_id);
  auto settled = ComputeDisputeResolve(recipe->second, ctx.merchant_id, o ? o->channel : Channel::kWeb,
                                       d->currency, d->amount_minor, result, d->open_fees, &as_refund);
  if (!settled.ok()) return settled.status();
  out.Add(StreamOf("dispute", ctx.merchant_id, dispute_id), ExpectedVersion::Any(), schema::EventBody::DisputeResolved,
          [dispute_id, outcome, source, f = *settled](Fbb& b) {
            auto pv = PostingsOf(b, f.postings);
            return schema::CreateDisputeResolvedDirect(b, dispute_id.c_str(), outcome, source,
                                                       FeesOf(b, f.fees), &pv)
                .Union();
          });
  return Status::Ok();
}

Status Payout_(const DomainState& s, const DecideContext& ctx, const SendPayout& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.payout_id, "/payout_id"));
  LEDGER_RETURN_IF_ERROR(CheckCurrency(c.currency, "/currency"));
  LEDGER_RETURN_IF_ERROR(CheckPositive(c.amount_minor, "/amount"));
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  if (m != nullptr && m->payouts.count(c.payout_id)) return Rule("payout-exists", "this payout id was already used");
  const int64_t available = m != nullptr ? AvailableMinor(*m, ctx.merchant_id, c.currency) : 0;
  if (c.amount_minor > available)
    return Rule("payout-exceeds-available", "at most " + std::to_string(std::max<int64_t>(available, 0)) + " " +
                                                c.currency + " is available");
  const std::vector<Posting> postings = {{"merchant:" + ctx.merchant_id + ":available",
                                          "external:bank:" + ctx.merchant_id, c.amount_minor, c.currency}};
  out.Add(StreamOf("payout", ctx.merchant_id, c.payout_id), ExpectedVersion::NoStream(), schema::EventBody::PayoutSent,
          [c, postings](Fbb& b) {
            auto pv = PostingsOf(b, postings);
            return schema::CreatePayoutSentDirect(b, c.payout_id.c_str(), MoneyOf(b, c.amount_minor, c.currency),
                                                  &pv)
                .Union();
          });
  return Status::Ok();
}

Status Return(const DomainState& s, const DecideContext& ctx, const ReturnPayout& c, EventSink& out) {
  LEDGER_RETURN_IF_ERROR(CheckId(c.payout_id, "/payout_id"));
  const MerchantState* m = FindMerchant(s, ctx.merchant_id);
  if (m == nullptr || !m->payouts.count(c.payout_id)) return Rule("payout-not-found", "no such payout");
  const Payout& p = m->payouts.at(c.payout_id);
  if (p.returned) return Rule("payout-already-returned", "this payout was already returned");
  const std::vector<Posting> postings = {{"external:bank:" + ctx.merchant_id,
                                          "merchant:" + ctx.merchant_id + ":available", p.amount_minor, p.currency}};
  out.Add(StreamOf("payout", ctx.merchant_id, c.payout_id), ExpectedVersion::Any(), schema::EventBody::PayoutFailed,
          [c, p, postings](Fbb& b) {
            auto pv = PostingsOf(b, postings);
            return schema::CreatePayoutFailedDirect(b, c.payout_id.c_str(), MoneyOf(b, p.amount_minor, p.currency),
                                                    c.reason.c_str(), &pv)
                .Union();
          });
  return Status::Ok();
}

}  // namespace

Status DecideDispute(const DomainState& s, const DecideContext& ctx, const Command& c, EventSink& out) {
  if (auto* x = std::get_if<OpenDispute>(&c)) return Open(s, ctx, *x, out);
  if (auto* x = std::get_if<SubmitDisputeEvidence>(&c)) return Evidence(s, ctx, *x, out);
  if (auto* x = std::get_if<AcceptDispute>(&c)) return Resolve(s, ctx, x->dispute_id, schema::DisputeOutcome::Accepted, out);
  if (auto* x = std::get_if<ResolveDispute>(&c))
    return Resolve(s, ctx, x->dispute_id,
                   x->outcome == DisputeOutcomeInput::kWon ? schema::DisputeOutcome::Won : schema::DisputeOutcome::Lost, out);
  if (auto* x = std::get_if<RecordProviderDisputeOutcome>(&c)) {
    LEDGER_RETURN_IF_ERROR(CheckId(x->provider_reference, "/provider_reference"));
    const Dispute* d = FindDispute(FindMerchant(s, ctx.merchant_id), x->dispute_id);
    if (d != nullptr && d->Resolved()) return Status::Ok();  // resolved exactly once: a repeat
    return Resolve(s, ctx, x->dispute_id,
                   x->outcome == DisputeOutcomeInput::kWon ? schema::DisputeOutcome::Won : schema::DisputeOutcome::Lost,
                   out, schema::PaymentSource::Provider);
  }
  if (auto* x = std::get_if<SendPayout>(&c)) return Payout_(s, ctx, *x, out);
  if (auto* x = std::get_if<ReturnPayout>(&c)) return Return(s, ctx, *x, out);
  return Status::InvalidArgument("not a dispute or payout command");
}

}  // namespace ledger::domain::internal
