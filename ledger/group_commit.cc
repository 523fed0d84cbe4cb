// Group commit: the sequencer decides commands into the open batch as they arrive; the
// committer writes each closed batch as one synced WriteBatch, strictly in order, and
// answers its callers only after the sync.
//
// Why two threads: with one thread, the batch was closed as soon as the first callers of
// the next round arrived, and the rest waited a whole sync for the batch after (a convoy
// that halved batch sizes). Here the open batch closes only when the committer is idle, so
// it holds everything that arrived during the previous sync.
//
// Decided-but-not-durable state: batches in flight carry an Overlay (stream versions,
// idempotency entries) that later decisions read before the durable cache and RocksDB. If
// a write fails the store stops accepting appends, so no decision ever rests on a batch
// that was not written.
#include <openssl/crypto.h>

#include <cstring>

#include "ledger/await_result.h"
#include "ledger/chain_hash.h"
#include "ledger/record_codec.h"

#include "ledger/rocks_store.h"
#include "ledger/store_keys.h"

namespace ledger {

Result<AppendResult> RocksStore::Append(AppendCommand command) {
  return AwaitResult<AppendResult>(
      [&](std::function<void(Result<AppendResult>)> done) { AppendAsync(std::move(command), std::move(done)); });
}

void RocksStore::AppendAsync(AppendCommand command,
                             std::function<void(Result<AppendResult>)> done) {
  if (!options_.secondary_path.empty()) {
    done(Status::InvalidArgument("this store is open read-only (a secondary instance)"));
    return;
  }
  Result<PreparedCommand> prepared = PrepareCommand(std::move(command), options_.shard);
  if (!prepared.ok()) {
    commands_rejected_.fetch_add(1);
    done(prepared.status());
    return;
  }
  prepared->done = std::move(done);
  {
    std::unique_lock<std::mutex> lock(queue_mu_);
    if (Status refused = RefusalLocked(); !refused.ok()) {
      lock.unlock();
      if (refused.code() != Code::kShuttingDown) commands_rejected_.fetch_add(1);
      prepared->done(refused);
      return;
    }
    queue_.push_back(std::move(prepared).value());
    // While the committer syncs, the sequencer cannot close a batch: let arrivals gather
    // instead of waking it for each (a context switch per command on two cores). Once the
    // committer is idle, wake it so that deciding overlaps the callers' return.
    const bool quiet = open_commands_ == 0 && queue_.size() == 1;
    if (committer_busy_ && !quiet) return;
  }
  sequencer_cv_.notify_one();
}

Status RocksStore::ReadyToAppend() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return RefusalLocked();
}

Status RocksStore::RefusalLocked() const {
  if (stopping_) return Status::ShuttingDown("the event store is closing");
  if (Status f = fenced(); !f.ok()) return f;
  {
    std::lock_guard<std::mutex> lock(failed_mu_);  // (taken after queue_mu_, never before it)
    if (!failed_.ok()) return failed_;
  }
  // Answers awaiting the mark are counted too: after a planned demotion that timed out,
  // the retired sequencer's answers are still held here while a new one decides.
  if (queue_.size() >= kAppendQueueCommandsMax || held_count_.load() >= kAwaitingCanonicalCommandsMax)
    return Status::Unavailable("the append queue is full; retry shortly");
  return Status::Ok();
}

void RocksStore::ResetOpenBatch(OpenBatch& b) {
  b = OpenBatch();
  b.first = decided_next_;
  b.next = decided_next_;
  b.previous_hash = decided_hash_;
}

// REQUIRES: queue_mu_ held, closed_ has room. The overlay becomes visible to later
// decisions before the next command is decided.
void RocksStore::CloseOpenBatch(std::unique_ptr<OpenBatch>& open) {
  LEDGER_INVARIANT(closed_.size() < kBatchesInFlightMax);
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    in_flight_.push_back(open->overlay);
  }
  closed_.push_back(std::move(open));
  open_commands_ = 0;
  committer_cv_.notify_one();
  open = std::make_unique<OpenBatch>();
  ResetOpenBatch(*open);
}

// The open batch is closed when the committer is idle and either every caller expected
// back has arrived or the wait budget is spent. Callers expected back: those in the open
// batch or queue when the last commit finished, plus those that commit answered (closed-loop
// callers return within microseconds; without waiting for them, batches split into two
// alternating halves, each paying a whole sync). The budget is twice the last write's
// duration, capped: the write is little more than its sync, while the callers' return
// (answers, their next commands prepared and decided) takes about as long again; with one
// write's duration, batches of 32 closed-loop callers split (25 per batch instead of 32).
bool RocksStore::ReadyToClose(const OpenBatch& open) const {
  if (open.empty() || committer_busy_ || !closed_.empty()) return false;
  return open.commands.size() >= close_target_commands_ ||
         std::chrono::steady_clock::now() >= close_deadline_;
}

void RocksStore::SequencerLoop() {
  auto open = std::make_unique<OpenBatch>();
  ResetOpenBatch(*open);
  std::vector<PreparedCommand> taken;
  std::unique_lock<std::mutex> lock(queue_mu_);
  for (;;) {
    const bool can_take = !queue_.empty() && closed_.size() < kBatchesInFlightMax;
    if (!stopping_ && !can_take && !ReadyToClose(*open)) {
      if (!open->empty() && !committer_busy_ && closed_.empty())
        sequencer_cv_.wait_until(lock, close_deadline_);
      else
        sequencer_cv_.wait(lock);
      continue;
    }
    if (stopping_) break;
    if (ReadyToClose(*open)) {
      CloseOpenBatch(open);
      continue;
    }
    taken.clear();
    while (!queue_.empty() && open->Fits(queue_.front())) {
      open->reserved_bytes += queue_.front().bytes;
      open->reserved_events += queue_.front().events.size();
      taken.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    open_commands_ += taken.size();
    const bool full = !queue_.empty() && !open->Fits(queue_.front());
    lock.unlock();
    for (PreparedCommand& c : taken) {
      if (open->empty()) {
        // The decided head may have moved since the batch was opened (follower appends).
        const size_t reserved_bytes = open->reserved_bytes, reserved_events = open->reserved_events;
        ResetOpenBatch(*open);
        open->reserved_bytes = reserved_bytes;
        open->reserved_events = reserved_events;
        // Recorded-at is set once per batch and never goes down, even if the clock does.
        open->recorded_at_us = std::max(clock_->NowMicros(), decided_recorded_at_us_);
        open->epoch = writer_epoch();
      }
      Result<AppendResult> r = Decide(c, *open);
      open->commands.push_back(std::move(c));
      open->answers.emplace_back(std::move(r));
    }
    lock.lock();
    // closed_ had room when the commands were taken, and only this thread adds to it.
    if (full && !open->empty()) CloseOpenBatch(open);
  }
  // Stopping: what was decided but not handed over is not written.
  std::deque<PreparedCommand> rest;
  rest.swap(queue_);
  sequencer_done_ = true;
  committer_cv_.notify_one();
  lock.unlock();
  for (auto& c : open->commands) c.done(Status::ShuttingDown("the event store is closing"));
  for (auto& c : rest) c.done(Status::ShuttingDown("the event store is closing"));
}

void RocksStore::CommitterLoop() {
  std::unique_lock<std::mutex> lock(queue_mu_);
  for (;;) {
    committer_cv_.wait(lock, [&] { return !closed_.empty() || sequencer_done_; });
    if (closed_.empty()) return;  // sequencer done and nothing left to write
    std::unique_ptr<OpenBatch> batch = std::move(closed_.front());
    closed_.pop_front();
    committer_busy_ = true;
    unanswered_batches_.fetch_add(1);  // until the notifier has answered it
    lock.unlock();
    const auto write_start = std::chrono::steady_clock::now();
    Write(*batch);
    const auto write_time = std::chrono::steady_clock::now() - write_start;
    lock.lock();
    // Set the next close target before anyone is answered (see ReadyToClose).
    close_target_commands_ = open_commands_ + queue_.size() + batch->commands.size();
    close_deadline_ = std::chrono::steady_clock::now() +
                      std::min<std::chrono::steady_clock::duration>(
                          2 * write_time, std::chrono::microseconds(kGroupCommitWaitMaxUs));
    committer_busy_ = false;
    sequencer_cv_.notify_one();
    lock.unlock();
    // Callers are answered on the notifier thread, so slow callbacks never hold up the
    // next write; the hand-over is bounded so they cannot pile up without limit either.
    {
      std::unique_lock<std::mutex> nl(notify_mu_);
      answer_space_cv_.wait(nl, [&] { return to_answer_.size() < kBatchesAwaitingAnswerMax; });
      to_answer_.push_back(std::move(batch));
    }
    notify_cv_.notify_one();
    lock.lock();
  }
}

void RocksStore::NotifierLoop() {
  std::unique_lock<std::mutex> lock(notify_mu_);
  for (;;) {
    notify_cv_.wait(lock, [&] { return !to_answer_.empty() || notifier_stop_; });
    if (to_answer_.empty()) return;  // stopping, and every batch has been answered
    std::unique_ptr<OpenBatch> batch = std::move(to_answer_.front());
    to_answer_.pop_front();
    answer_space_cv_.notify_one();
    lock.unlock();
    Answer(*batch);
    IndexBatch(*batch);  // after the answers: the callers need not wait for it
    unanswered_batches_.fetch_sub(1);
    lock.lock();
  }
}

Result<std::optional<IdempotencyEntry>> RocksStore::FindIdempotency(const std::string& key,
                                                                    const OpenBatch& batch) {
  if (auto it = batch.overlay->idempotency.find(key); it != batch.overlay->idempotency.end())
    return std::optional<IdempotencyEntry>(it->second);
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    for (auto o = in_flight_.rbegin(); o != in_flight_.rend(); ++o)
      if (auto it = (*o)->idempotency.find(key); it != (*o)->idempotency.end())
        return std::optional<IdempotencyEntry>(it->second);
  }
  // Not in flight: durable or absent. (An overlay is dropped only after its batch and its
  // stream-index rows are written, so nothing can fall between the two looks.)
  return ReadIdempotency(key);
}

Result<uint64_t> RocksStore::CurrentVersion(const std::string& stream, const OpenBatch& batch) {
  if (auto it = batch.overlay->stream_versions.find(stream); it != batch.overlay->stream_versions.end())
    return it->second;
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    for (auto o = in_flight_.rbegin(); o != in_flight_.rend(); ++o)
      if (auto it = (*o)->stream_versions.find(stream); it != (*o)->stream_versions.end())
        return it->second;
    if (auto it = stream_cache_.find(stream); it != stream_cache_.end()) return it->second;
  }
  Result<StreamVersion> v = IndexedStreamHead(stream);  // streams in flight were found above
  if (!v.ok()) return v.status();
  std::lock_guard<std::mutex> lock(state_mu_);
  if (stream_cache_.size() >= kStreamCacheEntriesMax) stream_cache_.clear();
  // Only durable versions enter the cache; a version written since the read above is
  // newer and must win, so never overwrite an entry.
  stream_cache_.emplace(stream, v->value());
  return v->value();
}

namespace {
Status CheckExpected(const ExpectedVersion& expected, uint64_t current, const std::string& stream) {
  switch (expected.kind) {
    case ExpectedVersion::Kind::kAny: return Status::Ok();
    case ExpectedVersion::Kind::kNoStream:
      if (current == 0) return Status::Ok();
      return Status::VersionConflict("stream " + stream + " already exists at version " +
                                     std::to_string(current));
    case ExpectedVersion::Kind::kExact:
      if (current == expected.version.value()) return Status::Ok();
      return Status::VersionConflict("stream " + stream + " is at version " +
                                     std::to_string(current) + ", expected " +
                                     std::to_string(expected.version.value()));
  }
  return Status::InvalidArgument("unknown expected-version kind");
}

}  // namespace

// Decides one command against durable state, the batches in flight and the open batch.
// On success its puts are staged in the batch and the decided head advances; on error
// nothing changes.
Result<AppendResult> RocksStore::Decide(PreparedCommand& cmd, OpenBatch& batch) {
  std::string idem_key;
  if (!cmd.idempotency_key.empty()) {
    idem_key = keys::IdempotencyKey(cmd.tenant, cmd.idempotency_key);
    auto found = FindIdempotency(idem_key, batch);
    if (!found.ok()) return found.status();
    if (found->has_value()) {
      const IdempotencyEntry& e = **found;
      if (e.request_digest != cmd.request_digest)
        return Status::IdempotencyKeyReused(
            "this idempotency key was already used with a different request");
      // Answered with this batch, so never before the first result is durable.
      return AppendResult{e.first_position, e.event_count, /*replayed=*/true};
    }
  }
  // Check every event's expectation against the version just before it.
  std::unordered_map<std::string, uint64_t> start_versions;  // stream -> version before cmd
  std::unordered_map<std::string, uint64_t> versions;        // stream -> version so far
  for (const PreparedEvent& ev : cmd.events) {
    auto it = versions.find(ev.stream);
    if (it == versions.end()) {
      auto v = CurrentVersion(ev.stream, batch);
      if (!v.ok()) return v.status();
      start_versions.emplace(ev.stream, *v);
      it = versions.emplace(ev.stream, *v).first;
    }
    LEDGER_RETURN_IF_ERROR(CheckExpected(ev.expected, it->second, ev.stream));
    ++it->second;
  }
  // Personal fields are sealed now that their positions are known, before anything is
  // staged: a failure leaves the batch untouched.
  for (size_t i = 0; i < cmd.events.size(); ++i) {
    PreparedEvent& ev = cmd.events[i];
    if (!ev.seal) continue;
    const uint64_t pos = batch.next.value() + i;
    // Into the placeholder (its size was checked when the command was prepared).
    LEDGER_INVARIANT(ev.personal_offset + ev.seal->plaintext.size() + kSealOverheadBytes <= ev.record.size());
    LEDGER_RETURN_IF_ERROR(SealInto(ev.seal->data_key, ev.seal->plaintext,
                                    PersonalAssociatedData(options_.shard.value(), pos, ev.seal->key_id),
                                    ev.record.data() + ev.personal_offset));
    OPENSSL_cleanse(ev.seal->data_key.data(), ev.seal->data_key.size());
    OPENSSL_cleanse(ev.seal->plaintext.data(), ev.seal->plaintext.size());
    ev.seal.reset();
  }
  // Accepted: assign positions and versions, patch, hash, stage.
  const Position first = batch.next;
  for (PreparedEvent& ev : cmd.events) {
    const uint64_t version = ++start_versions[ev.stream];
    const Position pos = batch.next;
    PatchAssigned(&ev.record, {pos, StreamVersion(version), batch.recorded_at_us, first, batch.epoch});
    const Sha256Digest hash = ChainHash(batch.previous_hash, pos, ev.record);
    std::string value;
    value.reserve(32 + ev.record.size());
    value.append(reinterpret_cast<const char*>(hash.data()), hash.size());
    value.append(ev.record);
    batch.wb.Put(cf(kEvents), keys::EventKey(pos), value);
    batch.index_wb.Put(cf(kStreams), keys::StreamVersionKey(ev.stream, StreamVersion(version)), keys::EventKey(pos));
    batch.previous_hash = hash;
    batch.next = pos.next();
  }
  for (auto& [stream, v] : start_versions) {
    LEDGER_INVARIANT(v == versions[stream]);
    batch.overlay->stream_versions[stream] = v;
  }
  const uint32_t count = static_cast<uint32_t>(cmd.events.size());
  batch.events += count;
  if (!idem_key.empty()) {
    IdempotencyEntry e{first, count, cmd.request_digest};
    batch.wb.Put(cf(kIdempotency), idem_key, keys::IdempotencyValue(e));
    batch.overlay->idempotency.emplace(std::move(idem_key), e);
  }
  decided_next_ = batch.next;
  decided_hash_ = batch.previous_hash;
  decided_recorded_at_us_ = batch.recorded_at_us;
  return AppendResult{first, count, false};
}

void RocksStore::Write(OpenBatch& batch) {
  Status& failed = batch.failure;
  {
    std::lock_guard<std::mutex> lock(failed_mu_);
    failed = failed_;
  }
  // The batch's overlay leaves in_flight_ only once its stream-index rows are written
  // (IndexBatch), also for a batch with no events: overlays leave in order.
  if (failed.ok() && batch.events > 0) {
    const uint64_t last = batch.next.value() - 1;
    std::string batch_value;
    keys::PutBigEndian64(&batch_value, last);
    keys::PutBigEndian64(&batch_value, batch.epoch.value());
    keys::PutBigEndian64(&batch_value, UINT64_MAX);  // Kafka offset not known yet
    batch_value.append(options_.node_id);
    batch.wb.Put(cf(kBatches), keys::BatchKey(batch.first), batch_value);
    std::string head_value;
    keys::PutBigEndian64(&head_value, last);
    head_value.append(reinterpret_cast<const char*>(batch.previous_hash.data()), 32);
    keys::PutBigEndian64(&head_value, static_cast<uint64_t>(batch.recorded_at_us));
    batch.wb.Put(cf(kMeta), keys::kMetaHead, head_value);

    rocksdb::WriteOptions wo;
    wo.sync = options_.durability == Durability::kSync;
    rocksdb::Status s = db_->Write(wo, &batch.wb);
    if (!s.ok()) {
      // RocksDB may or may not hold the batch now; the only safe course is to refuse all
      // further appends until an operator reopens the store (the open checks the head).
      failed = Status::IOError("the event store could not write and refuses further appends: " +
                               s.ToString());
      std::lock_guard<std::mutex> lock(failed_mu_);
      failed_ = failed;
    } else {
      {
        std::lock_guard<std::mutex> lock(head_mu_);
        LEDGER_INVARIANT(head_.position.next() == batch.first);  // batches commit in order
        head_ = Head{Position(last), batch.previous_hash, batch.recorded_at_us};
      }
      NotifyLogMoved();
      batches_committed_.fetch_add(1);
      events_committed_.fetch_add(batch.events);
    }
  }
}

void RocksStore::Answer(OpenBatch& batch) {
  const Status& failed = batch.failure;
  for (size_t i = 0; i < batch.commands.size(); ++i) {
    Result<AppendResult> answer = failed.ok() ? std::move(*batch.answers[i]) : Result<AppendResult>(failed);
    if (!answer.ok()) commands_rejected_.fetch_add(1);
    if (answer.ok() && options_.ack_level == AckLevel::kReplicated) {
      // Written here, and for a replay written earlier: either way answered only once
      // those positions are known canonical.
      const Position needed(answer->first_position.value() + answer->event_count - 1);
      HoldUntilCanonical(needed, std::move(batch.commands[i].done), std::move(answer));
      continue;
    }
    if (answer.ok()) {
      Acknowledge(std::move(batch.commands[i].done), std::move(answer));
      continue;
    }
    batch.commands[i].done(std::move(answer));
  }
}

void RocksStore::Acknowledge(std::function<void(Result<AppendResult>)> done, Result<AppendResult> answer) {
  // A fenced store acknowledges nothing more, whatever reached this point.
  if (Status f = fenced(); !f.ok()) {
    done(f);
    return;
  }
  if (options_.ack_requires_lease) {
    std::lock_guard<std::mutex> lock(lease_mu_);
    if (std::chrono::steady_clock::now() >= lease_valid_until_) {
      lease_held_.push_back(HeldAnswer{std::move(done), std::move(answer)});
      held_count_.fetch_add(1);
      return;
    }
  }
  done(std::move(answer));
}

void RocksStore::RenewLease(std::chrono::steady_clock::time_point valid_until) {
  std::vector<HeldAnswer> ready;
  {
    std::lock_guard<std::mutex> lock(lease_mu_);
    lease_valid_until_ = std::max(lease_valid_until_, valid_until);
    if (std::chrono::steady_clock::now() >= lease_valid_until_) return;
    ready.swap(lease_held_);
    held_count_.fetch_sub(ready.size());
  }
  const Status f = fenced();
  for (HeldAnswer& h : ready) {
    if (f.ok()) h.done(std::move(*h.answer));
    else h.done(f);
  }
}

size_t RocksStore::answers_awaiting_lease() const {
  std::lock_guard<std::mutex> lock(lease_mu_);
  return lease_held_.size();
}

void RocksStore::HoldUntilCanonical(Position needed, std::function<void(Result<AppendResult>)> done,
                                    Result<AppendResult> answer) {
  {
    std::lock_guard<std::mutex> lock(held_mu_);
    // Checked under held_mu_: Fence sets fenced_ first and then empties held_ under this
    // lock, so an answer is either refused here or failed by Fence, never parked after it.
    if (Status f = fenced(); !f.ok()) {
      // Answered outside the lock below.
      answer = f;
    } else if (canonical_mark().position.value() < needed.value()) {
      held_.emplace(needed.value(), HeldAnswer{std::move(done), std::move(answer)});
      held_count_.fetch_add(1);
      return;
    }
  }
  Acknowledge(std::move(done), std::move(answer));
}

void RocksStore::AnswerWhenAcknowledgeable(Position through, std::function<void(Status)> done) {
  auto answer = [done = std::move(done)](Result<AppendResult> r) { done(r.status()); };
  if (options_.ack_level == AckLevel::kReplicated) {
    HoldUntilCanonical(through, std::move(answer), AppendResult{});
    return;
  }
  Acknowledge(std::move(answer), AppendResult{});
}

Status RocksStore::fenced() const {
  std::lock_guard<std::mutex> lock(fenced_mu_);
  return fenced_;
}

void RocksStore::Fence(Status why) {
  {
    std::lock_guard<std::mutex> lock(fenced_mu_);
    if (!fenced_.ok()) return;
    fenced_ = why;
  }
  FailOwedAnswers(why);
}

void RocksStore::FailOwedAnswers(const Status& why) {
  std::multimap<uint64_t, HeldAnswer> held;
  std::vector<HeldAnswer> lease_held;
  {
    std::lock_guard<std::mutex> lock(held_mu_);
    std::lock_guard<std::mutex> lease_lock(lease_mu_);
    held.swap(held_);
    lease_held.swap(lease_held_);
    held_count_.store(0);
  }
  for (auto& [pos, h] : held) h.done(why);
  for (HeldAnswer& h : lease_held) h.done(why);
}

// Called when the canonical mark moves: answers everything it now covers, outside the lock.
void RocksStore::ReleaseCanonical(Position mark) {
  std::vector<HeldAnswer> ready;
  {
    std::lock_guard<std::mutex> lock(held_mu_);
    auto end = held_.upper_bound(mark.value());
    for (auto it = held_.begin(); it != end; ++it) ready.push_back(std::move(it->second));
    held_.erase(held_.begin(), end);
    held_count_.fetch_sub(ready.size());
  }
  for (HeldAnswer& h : ready) Acknowledge(std::move(h.done), std::move(*h.answer));
}

}  // namespace ledger
