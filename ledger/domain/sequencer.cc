#include "ledger/domain/sequencer.h"

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "ledger/await_result.h"
#include "ledger/domain/decider.h"
#include "ledger/domain/fee_recipe.h"
#include "ledger/domain/state.h"
#include "ledger/ids.h"

namespace ledger::domain {
namespace {

using Done = std::function<void(Result<CommandResult>)>;

class SequencerImpl final : public Sequencer {
 public:
  SequencerImpl(EventStore* store, ShardId shard) : store_(store), shard_(shard) {}
  ~SequencerImpl() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
  }

  Status FoldLog() {
    const uint64_t head = store_->head().position.value();
    for (uint64_t from = 1; from <= head; from += kReadEventsMax) {
      auto chunk = store_->ReadRange(Position(from), kReadEventsMax);
      if (!chunk.ok()) return chunk.status();
      for (const StoredEvent& e : *chunk) {
        const schema::Event* ev = VerifyRecord(e.record);
        if (ev == nullptr) return Status::Corruption("record does not verify at position " + std::to_string(e.position.value()));
        LEDGER_RETURN_IF_ERROR(Apply(state_, *ev));
      }
    }
    return Status::Ok();
  }

  void StartThread() { thread_ = std::thread([this] { Loop(); }); }

  void Submit(CommandRequest request, Done done) override {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (stop_) {
        lock.unlock();
        done(Status::ShuttingDown("the sequencer is stopping"));
        return;
      }
      if (queue_.size() >= kSequencerQueueCommandsMax) {
        lock.unlock();
        done(Status::Unavailable("the command queue is full; retry shortly"));
        return;
      }
      queue_.push_back({std::move(request), std::move(done)});
    }
    cv_.notify_one();
  }

  Result<CommandResult> Execute(CommandRequest request) override {
    return AwaitResult<CommandResult>([&](Done done) { Submit(std::move(request), std::move(done)); });
  }

 private:
  struct Pending {
    CommandRequest request;
    Done done;
  };
  struct InFlight {
    Sha256Digest digest{};
    std::vector<Done> waiters;
  };

  void Loop() {
    std::deque<Pending> batch;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
        if (stop_ && queue_.empty()) return;
        batch.swap(queue_);
      }
      for (Pending& p : batch) Handle(std::move(p));
      batch.clear();
    }
  }

  static std::string IdempotencyScope(const CommandRequest& r) {
    return r.merchant_id + '\0' + r.idempotency_key;
  }

  void Handle(Pending p) {
    if (failed_.load()) {
      p.done(Status::Unavailable("the sequencer stopped after a failed append; restart the node"));
      return;
    }
    const CommandRequest& r = p.request;
    if (!r.idempotency_key.empty()) {
      Status key_ok = ValidateIdempotencyKey(r.idempotency_key);
      if (!key_ok.ok()) {
        p.done(key_ok);
        return;
      }
    }
    std::optional<Result<CommandResult>> earlier = CheckIdempotencyOrWait(r, p.done);
    if (!p.done) return;  // a retry of a command in flight: answered with its first result
    if (earlier.has_value()) {
      p.done(std::move(*earlier));
      return;
    }
    DecideContext ctx{r.merchant_id, r.idempotency_key, r.request_digest, r.command_id, shard_};
    Result<AppendCommand> decided = Decide(state_, ctx, r.command);
    if (!decided.ok()) {
      p.done(decided.status());
      return;
    }
    if (decided->events.empty()) {  // a provider fact already recorded: nothing new
      p.done(CommandResult{Position(0), 0, true});
      return;
    }
    for (const PendingEvent& e : decided->events) {
      Status s = Apply(state_, *VerifyRecord(e.record));
      if (!s.ok()) {  // the decider produced an event its own state rejects: a bug
        failed_.store(true);
        p.done(Status::Corruption("decided events do not apply: " + s.message()));
        return;
      }
    }
    std::string scope;
    if (!r.idempotency_key.empty()) {
      scope = IdempotencyScope(r);
      std::lock_guard<std::mutex> lock(idem_mu_);
      in_flight_[scope] = InFlight{r.request_digest, {}};
    }
    store_->AppendAsync(std::move(decided).value(),
                        [this, scope, done = std::move(p.done)](Result<AppendResult> a) mutable {
                          Finish(scope, std::move(done), std::move(a));
                        });
  }

  // The idempotency key's earlier answer; nullopt when the command is new. A retry of a
  // command still in flight takes `done` (leaving it empty) to be answered with the first.
  std::optional<Result<CommandResult>> CheckIdempotencyOrWait(const CommandRequest& r, Done& done) {
    if (r.idempotency_key.empty()) return std::nullopt;
    {
      std::lock_guard<std::mutex> lock(idem_mu_);
      auto it = in_flight_.find(IdempotencyScope(r));
      if (it != in_flight_.end()) {
        if (it->second.digest != r.request_digest)
          return Result<CommandResult>(Status::IdempotencyKeyReused("this idempotency key was already used with a different request"));
        it->second.waiters.push_back(std::move(done));
        done = nullptr;
        return std::nullopt;
      }
    }
    auto durable = store_->LookupIdempotency(r.merchant_id, r.idempotency_key);
    if (!durable.ok()) return Result<CommandResult>(durable.status());
    if (!durable->has_value()) return std::nullopt;
    if ((*durable)->request_digest != r.request_digest)
      return Result<CommandResult>(Status::IdempotencyKeyReused("this idempotency key was already used with a different request"));
    return Result<CommandResult>(CommandResult{(*durable)->first_position, (*durable)->event_count, true});
  }

  // On the store's notifier thread: answer the caller and any retries that waited.
  void Finish(const std::string& scope, Done done, Result<AppendResult> a) {
    std::vector<Done> waiters;
    if (!scope.empty()) {
      std::lock_guard<std::mutex> lock(idem_mu_);
      auto it = in_flight_.find(scope);
      if (it != in_flight_.end()) {
        waiters = std::move(it->second.waiters);
        in_flight_.erase(it);
      }
    }
    if (!a.ok() || a->replayed) {
      // The state already includes events the store did not write (or wrote earlier):
      // stop deciding until a restart refolds the state from the log.
      failed_.store(true);
    }
    auto answer = [&]() -> Result<CommandResult> {
      if (!a.ok()) return a.status();
      return CommandResult{a->first_position, a->event_count, false};
    };
    done(answer());
    for (Done& w : waiters) {
      Result<CommandResult> r = answer();
      if (r.ok()) r->replayed = true;
      w(std::move(r));
    }
  }

  EventStore* store_;
  ShardId shard_;
  DomainState state_;  // decision thread only (after start)
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // GUARDED_BY(mu_)
  bool stop_ = false;          // GUARDED_BY(mu_)
  std::thread thread_;
  std::mutex idem_mu_;
  std::unordered_map<std::string, InFlight> in_flight_;  // GUARDED_BY(idem_mu_)
  std::atomic<bool> failed_{false};
};

}  // namespace

Result<std::unique_ptr<Sequencer>> Sequencer::Start(EventStore* store, ShardId shard) {
  auto s = std::make_unique<SequencerImpl>(store, shard);
  LEDGER_RETURN_IF_ERROR(s->FoldLog());
  const bool empty = store->head().position.value() == 0;
  s->StartThread();
  if (empty) {
    CommandRequest publish;
    publish.command = PublishFeeRecipe{DefaultFeeRecipeJson()};
    publish.command_id = {0, 1};
    auto r = s->Execute(std::move(publish));
    if (!r.ok()) return r.status();
  }
  return std::unique_ptr<Sequencer>(std::move(s));
}

}  // namespace ledger::domain
