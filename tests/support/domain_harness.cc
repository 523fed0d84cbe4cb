#include "tests/support/domain_harness.h"

#include "ledger/chain_hash.h"
#include "ledger/domain/fee_recipe.h"

namespace testing_support {

using namespace ledger;

namespace {
std::vector<Posting> PostingsOfEvent(const schema::Event& e) {
  const flatbuffers::Vector<flatbuffers::Offset<schema::Posting>>* p = nullptr;
  switch (e.body_type()) {
    case schema::EventBody::PaymentCaptured: p = e.body_as_PaymentCaptured()->postings(); break;
    case schema::EventBody::PaymentRefunded: p = e.body_as_PaymentRefunded()->postings(); break;
    case schema::EventBody::DisputeOpened: p = e.body_as_DisputeOpened()->postings(); break;
    case schema::EventBody::DisputeResolved: p = e.body_as_DisputeResolved()->postings(); break;
    case schema::EventBody::PayoutSent: p = e.body_as_PayoutSent()->postings(); break;
    case schema::EventBody::PayoutFailed: p = e.body_as_PayoutFailed()->postings(); break;
    case schema::EventBody::MessageSent: p = e.body_as_MessageSent()->postings(); break;
    default: break;
  }
  std::vector<Posting> out;
  if (p != nullptr)
    for (const auto* x : *p) out.push_back({x->debit()->str(), x->credit()->str(), x->amount_minor(), x->currency()->str()});
  return out;
}
}  // namespace

DomainHarness::DomainHarness() {
  auto r = Run("", domain::PublishFeeRecipe{DefaultFeeRecipeJson()});
  LEDGER_INVARIANT(r.ok());
}

Result<AppendCommand> DomainHarness::Run(const std::string& merchant, const domain::Command& command,
                                         const std::string& idempotency_key) {
  domain::DecideContext ctx;
  ctx.merchant_id = merchant;
  ctx.idempotency_key = idempotency_key;
  ctx.request_digest = Sha256Of("command " + std::to_string(next_command_));
  ctx.command_id = {next_command_, 0};
  ++next_command_;
  auto decided = domain::Decide(state_, ctx, command);
  if (!decided.ok()) return decided;
  for (const PendingEvent& pe : decided->events) {
    const schema::Event* e = VerifyRecord(pe.record);
    LEDGER_INVARIANT(e != nullptr);
    Status s = domain::Apply(state_, *e);
    if (!s.ok()) return s;
    records_.push_back(pe.record);
  }
  return decided;
}

std::map<std::pair<std::string, std::string>, int64_t> DomainHarness::Balances() const {
  std::map<std::pair<std::string, std::string>, int64_t> b;
  for (const auto& r : records_) {
    Status s = ApplyPostings(PostingsOfEvent(*VerifyRecord(r)), &b);
    LEDGER_INVARIANT(s.ok());
  }
  return b;
}

Result<domain::DomainState> DomainHarness::Rebuild() const {
  domain::DomainState fresh;
  for (const auto& r : records_) {
    Status s = domain::Apply(fresh, *VerifyRecord(r));
    if (!s.ok()) return s;
  }
  return fresh;
}

}  // namespace testing_support
