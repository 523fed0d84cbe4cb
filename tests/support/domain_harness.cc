#include "tests/support/domain_harness.h"

#include "ledger/chain_hash.h"
#include "ledger/record_codec.h"
#include "ledger/domain/fee_recipe.h"

namespace testing_support {

using namespace ledger;

namespace {
std::vector<Posting> PostingsOfEvent(const schema::Event& e) {
  const auto* p = PostingsOfRecord(e);
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

DomainHarness::DomainHarness(EventStore* store, domain::SequencerOptions options) : store_(store) {
  auto seq = domain::Sequencer::Start(store, ShardId(0), options);
  LEDGER_INVARIANT(seq.ok());
  sequencer_ = std::move(seq).value();
  Status s = FoldFromStore(1, store->head().position.value());
  LEDGER_INVARIANT(s.ok());
}

DomainHarness::~DomainHarness() = default;

Status DomainHarness::FoldFromStore(uint64_t from, uint64_t count) {
  auto events = store_->ReadRange(Position(from), count);
  if (!events.ok()) return events.status();
  if (events->size() != count) return Status::Corruption("acknowledged events missing from the store");
  for (const StoredEvent& e : *events) {
    LEDGER_RETURN_IF_ERROR(domain::Apply(state_, *VerifyRecord(e.record)));
    records_.push_back(e.record);
  }
  return Status::Ok();
}

Result<AppendCommand> DomainHarness::Run(const std::string& merchant, const domain::Command& command,
                                         const std::string& idempotency_key) {
  if (sequencer_) {
    domain::CommandRequest r;
    r.merchant_id = merchant;
    r.idempotency_key = idempotency_key;
    r.request_digest = Sha256Of("command " + std::to_string(next_command_));
    r.command_id = {next_command_, 0};
    r.command = command;
    ++next_command_;
    auto done = sequencer_->Execute(std::move(r));
    if (!done.ok()) return done.status();
    AppendCommand out;
    if (done->event_count == 0) return out;
    const size_t before = records_.size();
    LEDGER_RETURN_IF_ERROR(FoldFromStore(done->first_position.value(), done->event_count));
    for (size_t i = before; i < records_.size(); ++i) out.events.push_back({records_[i], ExpectedVersion::Any()});
    return out;
  }
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
