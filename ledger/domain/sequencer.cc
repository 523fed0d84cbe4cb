#include "ledger/domain/sequencer.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <list>
#include <map>
#include <mutex>
#include <set>
#include <thread>
#include <unordered_map>

#include "ledger/await_result.h"
#include "ledger/domain/decider.h"
#include "ledger/domain/fee_recipe.h"
#include "ledger/domain/state.h"
#include "ledger/ids.h"
#include "ledger/thread_name.h"

namespace ledger::domain {
namespace {

using Done = std::function<void(Result<CommandResult>)>;

class SequencerImpl final : public Sequencer {
 public:
  SequencerImpl(EventStore* store, ShardId shard, SequencerOptions options)
      : store_(store), shard_(shard), options_(options) {}
  ~SequencerImpl() override { Stop(); }

  void Stop() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
    stopped_.store(true);  // after the join: no decision can hand the store anything more
  }

  bool settled() const override {
    return stopped_.load() && store_answers_pending_->load(std::memory_order_acquire) == 0;
  }

  // Folds the whole log, keeping at most merchants_cached_max merchants in memory: the
  // others are evicted to snapshots (their event positions) as the fold goes. Snapshots of
  // an earlier run are dropped first: they may lag the log.
  Status FoldLog() {
    LEDGER_RETURN_IF_ERROR(store_->ClearSnapshots());
    const uint64_t head = store_->head().position.value();
    // A walk over the whole log at start-up: packed chunks, without filling the block cache.
    EventChunk chunk;  // one buffer, read into again for every chunk
    for (uint64_t from = 1; from <= head; from += kReadEventsMax) {
      LEDGER_RETURN_IF_ERROR(store_->ScanRangeInto(Position(from), kReadEventsMax, &chunk));
      for (size_t i = 0; i < chunk.size(); ++i) {
        const Position position = chunk.positions[i];
        const schema::Event* ev = VerifyRecord(chunk.record(i));
        if (ev == nullptr) return Status::Corruption("record does not verify at position " + std::to_string(position.value()));
        const std::string merchant = ev->tenant() ? ev->tenant()->str() : "";
        if (!merchant.empty()) LEDGER_RETURN_IF_ERROR(EnsureLoaded(merchant));
        LEDGER_RETURN_IF_ERROR(Apply(state_, *ev));
        if (!merchant.empty()) {
          std::lock_guard<std::mutex> lock(cache_mu_);
          cached_.at(merchant).positions.push_back(position.value());
        }
        LEDGER_RETURN_IF_ERROR(EvictIfNeeded());
      }
    }
    return Status::Ok();
  }

  void StartThread() {
    thread_ = std::thread([this] {
      NameThisThread("sequencer");
      Loop();
    });
  }

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

  CacheStats cache_stats() const override { return {reloads_.load(), evictions_.load()}; }
  bool failed() const override { return failed_.load(); }

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

  static std::string SnapshotKey(const std::string& merchant) { return "merchant-events/" + merchant; }

  // Makes the merchant's state present: a hit, or a reload by folding the events its
  // snapshot lists. Decision thread (or the fold) only.
  Status EnsureLoaded(const std::string& merchant) {
    {
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = cached_.find(merchant);
      if (it != cached_.end()) {
        lru_.splice(lru_.begin(), lru_, it->second.lru);
        return Status::Ok();
      }
    }
    std::vector<uint64_t> positions;
    auto snap = store_->GetSnapshot(SnapshotKey(merchant));
    if (!snap.ok()) return snap.status();
    if (snap->has_value()) {
      positions = DecodePositions(**snap);
      for (uint64_t p : positions) {
        auto one = store_->ReadRange(Position(p), 1);
        if (!one.ok()) return one.status();
        if (one->empty()) return Status::Corruption("a snapshot names a missing event at position " + std::to_string(p));
        LEDGER_RETURN_IF_ERROR(Apply(state_, *VerifyRecord(one->front().record)));
      }
      reloads_.fetch_add(1);
    }
    std::lock_guard<std::mutex> lock(cache_mu_);
    lru_.push_front(merchant);
    cached_[merchant] = CachedMerchant{std::move(positions), 0, lru_.begin()};
    return Status::Ok();
  }

  // Evicts least recently used merchants with nothing in flight until the cache is within
  // its bound. A merchant leaves memory only once its snapshot is written.
  Status EvictIfNeeded() {
    for (;;) {
      std::string victim;
      std::string blob;
      {
        std::lock_guard<std::mutex> lock(cache_mu_);
        if (cached_.size() <= options_.merchants_cached_max) return Status::Ok();
        for (auto it = lru_.rbegin(); it != lru_.rend(); ++it)
          if (cached_.at(*it).in_flight == 0) {
            victim = *it;
            break;
          }
        if (victim.empty()) return Status::Ok();  // all busy: over the bound until they finish
        blob = EncodePositions(cached_.at(victim).positions);
      }
      LEDGER_RETURN_IF_ERROR(store_->PutSnapshot(SnapshotKey(victim), blob));
      std::lock_guard<std::mutex> lock(cache_mu_);
      auto it = cached_.find(victim);
      LEDGER_INVARIANT(it != cached_.end() && it->second.in_flight == 0);  // only this thread adds work
      lru_.erase(it->second.lru);
      cached_.erase(it);
      state_.merchants.erase(victim);
      evictions_.fetch_add(1);
    }
  }

  static std::string EncodePositions(const std::vector<uint64_t>& positions) {
    std::string out;  // varint deltas: positions only grow
    uint64_t prev = 0;
    for (uint64_t p : positions) {
      uint64_t d = p - prev;
      prev = p;
      while (d >= 0x80) {
        out.push_back(static_cast<char>((d & 0x7f) | 0x80));
        d >>= 7;
      }
      out.push_back(static_cast<char>(d));
    }
    return out;
  }

  static std::vector<uint64_t> DecodePositions(const std::string& blob) {
    std::vector<uint64_t> out;
    uint64_t prev = 0, d = 0;
    int shift = 0;
    for (unsigned char c : blob) {
      d |= static_cast<uint64_t>(c & 0x7f) << shift;
      if (c & 0x80) {
        shift += 7;
        continue;
      }
      prev += d;
      out.push_back(prev);
      d = 0;
      shift = 0;
    }
    return out;
  }

  void Handle(Pending p) {
    if (failed_.load()) {
      p.done(Status::Unavailable("the sequencer stopped after a failed append; retry shortly"));
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
    // What the store would refuse is refused here, before the command is folded into the
    // state: a refusal after that would leave the state ahead of the log, and only a
    // restart could set it right (one oversized field stopped every tenant's writes).
    if (outstanding_.load() >= kAwaitingCanonicalCommandsMax) {
      p.done(Status::Unavailable("the append queue is full; retry shortly"));
      return;
    }
    if (Status ready = store_->ReadyToAppend(); !ready.ok()) {
      p.done(ready);
      return;
    }
    if (!r.merchant_id.empty()) {
      if (Status s = EnsureLoaded(r.merchant_id); !s.ok()) {
        p.done(s);
        return;
      }
    }
    if (r.condition) {
      if (Status s = CheckCondition(*r.condition); !s.ok()) {
        p.done(s);
        return;
      }
    }
    DecideContext ctx{r.merchant_id, r.idempotency_key, r.request_digest, r.command_id, shard_,
                      options_.seal_personal};
    Result<AppendCommand> decided = Decide(state_, ctx, r.command);
    if (!decided.ok()) {
      p.done(decided.status());
      return;
    }
    if (decided->events.empty()) {  // a provider fact already recorded: nothing new
      AnswerOnceSettled(std::move(p.done));
      return;
    }
    if (Status limits = CheckCommandLimits(*decided); !limits.ok()) {
      p.done(limits);
      return;
    }
    std::vector<std::string> streams;
    streams.reserve(decided->events.size());
    for (const PendingEvent& e : decided->events) {
      const schema::Event* event = VerifyRecord(e.record);
      Status s = Apply(state_, *event);
      if (!s.ok()) {  // the decider produced an event its own state rejects: a bug
        failed_.store(true);
        p.done(Status::Corruption("decided events do not apply: " + s.message()));
        return;
      }
      streams.push_back(event->stream() ? event->stream()->str() : std::string());
    }
    {
      std::lock_guard<std::mutex> lock(streams_mu_);
      for (const std::string& stream : streams) streams_in_flight_[stream] += 1;
    }
    if (!r.merchant_id.empty()) {
      std::lock_guard<std::mutex> lock(cache_mu_);
      cached_.at(r.merchant_id).in_flight += 1;
    }
    std::string scope;
    if (!r.idempotency_key.empty()) {
      scope = IdempotencyScope(r);
      std::lock_guard<std::mutex> lock(idem_mu_);
      in_flight_[scope] = InFlight{r.request_digest, {}};
    }
    outstanding_.fetch_add(1);
    uint64_t append_id = 0;
    {
      std::lock_guard<std::mutex> lock(settle_mu_);
      append_id = ++appends_handed_;
      unanswered_appends_.insert(append_id);
    }
    store_answers_pending_->fetch_add(1);
    store_->AppendAsync(std::move(decided).value(),
                        [this, scope, merchant = r.merchant_id, streams = std::move(streams), append_id,
                         done = std::move(p.done), pending = store_answers_pending_](Result<AppendResult> a) mutable {
                          outstanding_.fetch_sub(1);
                          StreamsSettled(streams);
                          Finish(scope, merchant, append_id, std::move(done), std::move(a));
                          // Last, and through the lambda's own reference: this object may
                          // be destroyed as soon as the count reaches zero.
                          pending->fetch_sub(1, std::memory_order_release);
                        });
    if (Status s = EvictIfNeeded(); !s.ok()) failed_.store(true);  // a snapshot could not be written
  }

  // Decision thread. Only this thread adds streams in flight, so a stream with none has
  // every decided event written and the store's head is its version.
  Status CheckCondition(const StreamCondition& c) {
    {
      std::lock_guard<std::mutex> lock(streams_mu_);
      if (streams_in_flight_.count(c.stream))
        return Status::VersionConflict("the stream has writes in flight: read it again");
    }
    auto head = store_->StreamHead(c.stream);
    if (!head.ok()) return head.status();
    if (*head != c.version)
      return Status::VersionConflict("the stream is at version " + std::to_string(head->value()) + ", not " +
                                     std::to_string(c.version.value()));
    return Status::Ok();
  }

  // On the store's notifier thread, once the store answered (written, or failed).
  void StreamsSettled(const std::vector<std::string>& streams) {
    std::lock_guard<std::mutex> lock(streams_mu_);
    for (const std::string& stream : streams) {
      auto it = streams_in_flight_.find(stream);
      LEDGER_INVARIANT(it != streams_in_flight_.end() && it->second > 0);
      if (--it->second == 0) streams_in_flight_.erase(it);
    }
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
    // Written, maybe by an earlier sequencer or run, and maybe not yet known canonical
    // (DESIGN §6: a retry whose first result is not yet canonical waits the same way).
    const CommandResult first{(*durable)->first_position, (*durable)->event_count, true};
    AnswerWhenAcknowledgeable(store_, Position(first.first_position.value() + first.event_count - 1), first,
                              std::move(done));
    done = nullptr;
    return std::nullopt;
  }

  // Answers `done` with `result` once events through `through` may be acknowledged.
  // Static: it touches no sequencer, so the answer may come after the sequencer is gone.
  static void AnswerWhenAcknowledgeable(EventStore* store, Position through, CommandResult result, Done done) {
    // Parked answers count against the store's bound like appends' (a flood of a provider's
    // redeliveries during a Kafka outage must not grow them without limit).
    if (Status ready = store->ReadyToAppend(); !ready.ok()) {
      done(ready);
      return;
    }
    store->AnswerWhenAcknowledgeable(through, [result, done = std::move(done)](Status s) {
      if (s.ok()) done(result);
      else done(s);
    });
  }

  // A decision that wrote nothing because the state already holds what it asks for (a
  // provider fact recorded, a customer erased): answered only once every command the state
  // holds is acknowledged, since the one that recorded it may still be unwritten or not
  // canonical, and may yet fail (a 2xx would stop the provider from sending it again).
  // So: once the appends handed to the store before it are answered, then through the
  // store's head (what earlier sequencers and runs wrote).
  void AnswerOnceSettled(Done done) {
    {
      std::lock_guard<std::mutex> lock(settle_mu_);
      if (!unanswered_appends_.empty()) {
        settle_waiters_.emplace(appends_handed_, std::move(done));
        return;
      }
    }
    AnswerSettled(store_, failed_.load(), std::move(done));
  }
  // Static, given what it needs: an answered caller may destroy the sequencer at once.
  static void AnswerSettled(EventStore* store, bool earlier_failed, Done done) {
    if (earlier_failed) {  // an earlier command failed: the state holds what the log may not
      done(Status::Unavailable("an earlier command could not be written; retry shortly"));
      return;
    }
    AnswerWhenAcknowledgeable(store, store->head().position, CommandResult{Position(0), 0, true}, std::move(done));
  }
  // On the store's thread, when the append numbered `id` is answered (before its caller).
  void AppendAnswered(uint64_t id) {
    std::vector<Done> ready;
    {
      std::lock_guard<std::mutex> lock(settle_mu_);
      unanswered_appends_.erase(id);
      const uint64_t oldest = unanswered_appends_.empty() ? UINT64_MAX : *unanswered_appends_.begin();
      // A waiter keyed n waits for appends 1..n.
      while (!settle_waiters_.empty() && settle_waiters_.begin()->first < oldest) {
        ready.push_back(std::move(settle_waiters_.begin()->second));
        settle_waiters_.erase(settle_waiters_.begin());
      }
    }
    EventStore* const store = store_;
    const bool earlier_failed = failed_.load();
    for (Done& d : ready) AnswerSettled(store, earlier_failed, std::move(d));
  }

  // On the store's notifier thread: answer the caller and any retries that waited.
  // Nothing of this object is touched once `done` has run: a caller that was answered may
  // destroy the sequencer at once (tests do).
  void Finish(const std::string& scope, const std::string& merchant, uint64_t append_id, Done done,
              Result<AppendResult> a) {
    if (!merchant.empty()) {
      std::lock_guard<std::mutex> lock(cache_mu_);
      CachedMerchant& c = cached_.at(merchant);  // cannot be evicted while in flight
      if (a.ok() && !a->replayed)
        for (uint32_t i = 0; i < a->event_count; ++i) c.positions.push_back(a->first_position.value() + i);
      c.in_flight -= 1;
    }
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
    AppendAnswered(append_id);  // after failed_ is set: decisions waiting on it read it
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
  // Commands handed to the store and not yet answered (queued, being written, or awaiting
  // the canonical mark or the lease); kept below kAwaitingCanonicalCommandsMax.
  std::atomic<size_t> outstanding_{0};
  struct CachedMerchant {
    std::vector<uint64_t> positions;  // every event of the merchant so far
    int in_flight = 0;                // commands decided, not yet answered by the store
    std::list<std::string>::iterator lru;
  };

  SequencerOptions options_;
  DomainState state_;  // decision thread only (after start)

 public:
  bool has_no_recipe() const { return state_.recipes.empty(); }  // REQUIRES: before StartThread

 private:
  std::mutex cache_mu_;
  std::unordered_map<std::string, CachedMerchant> cached_;  // GUARDED_BY(cache_mu_)
  std::list<std::string> lru_;                               // GUARDED_BY(cache_mu_), most recent first

 public:
  std::atomic<uint64_t> reloads_{0};
  std::atomic<uint64_t> evictions_{0};

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // GUARDED_BY(mu_)
  bool stop_ = false;          // GUARDED_BY(mu_)
  std::atomic<bool> stopped_{false};  // Stop has joined the decision thread
  std::thread thread_;
  // Store callbacks into this object not yet returned (see settled()). Shared with each
  // callback, which decrements it after its last use of `this`.
  std::shared_ptr<std::atomic<size_t>> store_answers_pending_ = std::make_shared<std::atomic<size_t>>(0);
  std::mutex idem_mu_;
  std::unordered_map<std::string, InFlight> in_flight_;  // GUARDED_BY(idem_mu_)
  std::atomic<bool> failed_{false};
  std::mutex streams_mu_;
  std::unordered_map<std::string, uint32_t> streams_in_flight_;  // GUARDED_BY(streams_mu_): decided, not answered
  // Appends handed to the store, numbered from 1, and those not yet answered; decisions
  // that wrote nothing wait for the appends before them (AnswerOnceSettled).
  std::mutex settle_mu_;
  uint64_t appends_handed_ = 0;                  // GUARDED_BY(settle_mu_)
  std::set<uint64_t> unanswered_appends_;        // GUARDED_BY(settle_mu_)
  std::multimap<uint64_t, Done> settle_waiters_;  // GUARDED_BY(settle_mu_), by appends_handed_ when they came
};

}  // namespace

Result<std::unique_ptr<Sequencer>> Sequencer::Start(EventStore* store, ShardId shard, SequencerOptions options) {
  if (options.merchants_cached_max == 0) return Status::InvalidArgument("merchants_cached_max must be positive");
  // The fold must cover every command the store has taken: wait for an earlier
  // sequencer's last commands to reach the log.
  const auto written_by = std::chrono::steady_clock::now() + std::chrono::milliseconds(options.start_wait_ms);
  while (store->appends_unwritten()) {
    if (std::chrono::steady_clock::now() >= written_by)
      return Status::Unavailable("commands of an earlier sequencer are still being written; not deciding on a log without them");
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  auto s = std::make_unique<SequencerImpl>(store, shard, options);
  LEDGER_RETURN_IF_ERROR(s->FoldLog());
  // No recipe yet (an empty log, or only the writer's WriterPromoted(1)): the default one.
  const bool no_recipe = s->has_no_recipe();
  s->StartThread();
  if (no_recipe) {
    CommandRequest publish;
    publish.command = PublishFeeRecipe{DefaultFeeRecipeJson()};
    publish.command_id = {0, 1};
    auto r = s->Execute(std::move(publish));
    if (!r.ok()) return r.status();
  }
  return std::unique_ptr<Sequencer>(std::move(s));
}

}  // namespace ledger::domain
