// The writer thread: group commit. It drains the bounded queue, decides each command
// against stream versions and idempotency keys, and commits all accepted commands of one
// drain as one synced WriteBatch. Commands are answered only after the sync.
#include <cstring>

#include "ledger/chain_hash.h"
#include "ledger/record_codec.h"
#include "ledger/rocks_store.h"
#include "ledger/store_keys.h"

namespace ledger {

// What the batch being built has changed, on top of the committed state.
struct RocksStore::BatchState {
  Position next;                 // position of the next accepted event
  Sha256Digest previous_hash{};  // hash of the event before `next`
  int64_t recorded_at_us = 0;
  Epoch epoch;
  std::unordered_map<std::string, uint64_t> stream_versions;  // stream -> version after batch
  std::unordered_map<std::string, IdempotencyEntry> idempotency;  // IdempotencyKey() -> entry
  uint64_t events = 0;
};

Result<AppendResult> RocksStore::Append(AppendCommand command) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<AppendResult>> answer;
  AppendAsync(std::move(command), [&](Result<AppendResult> r) {
    std::lock_guard<std::mutex> lock(mu);
    answer.emplace(std::move(r));
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return answer.has_value(); });
  return std::move(*answer);
}

void RocksStore::AppendAsync(AppendCommand command,
                             std::function<void(Result<AppendResult>)> done) {
  Result<PreparedCommand> prepared = PrepareCommand(std::move(command), options_.shard);
  if (!prepared.ok()) {
    commands_rejected_.fetch_add(1);
    done(prepared.status());
    return;
  }
  prepared->done = std::move(done);
  {
    std::unique_lock<std::mutex> lock(queue_mu_);
    if (stopping_) {
      lock.unlock();
      prepared->done(Status::ShuttingDown("the event store is closing"));
      return;
    }
    if (queue_.size() >= kAppendQueueCommandsMax) {
      lock.unlock();
      prepared->done(Status::Unavailable("the append queue is full; retry shortly"));
      return;
    }
    queue_.push_back(std::move(prepared).value());
  }
  queue_cv_.notify_one();
}

void RocksStore::WriterLoop() {
  std::vector<PreparedCommand> drained;
  for (;;) {
    drained.clear();
    {
      std::unique_lock<std::mutex> lock(queue_mu_);
      queue_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
      if (stopping_) {
        for (auto& c : queue_) c.done(Status::ShuttingDown("the event store is closing"));
        queue_.clear();
        return;
      }
      // The batch grows with load: everything queued while the last sync ran, up to the
      // named limits (one batch must stay one Kafka message).
      size_t bytes = 0, events = 0;
      while (!queue_.empty()) {
        const PreparedCommand& c = queue_.front();
        if (!drained.empty() && (bytes + c.bytes > kBatchBytesMax ||
                                 events + c.events.size() > kBatchEventsMax))
          break;
        bytes += c.bytes;
        events += c.events.size();
        drained.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    CommitBatch(drained);
  }
}

Result<std::optional<IdempotencyEntry>> RocksStore::FindIdempotency(const PreparedCommand& cmd,
                                                                    const BatchState& batch) const {
  auto in_batch = batch.idempotency.find(keys::IdempotencyKey(cmd.tenant, cmd.idempotency_key));
  if (in_batch != batch.idempotency.end()) return std::optional<IdempotencyEntry>(in_batch->second);
  return LookupIdempotency(cmd.tenant, cmd.idempotency_key);
}

Result<uint64_t> RocksStore::CurrentVersion(const std::string& stream, const BatchState& batch) {
  if (auto it = batch.stream_versions.find(stream); it != batch.stream_versions.end())
    return it->second;
  if (auto it = stream_cache_.find(stream); it != stream_cache_.end()) return it->second;
  Result<StreamVersion> v = StreamHead(stream);
  if (!v.ok()) return v.status();
  if (stream_cache_.size() >= kStreamCacheEntriesMax) stream_cache_.clear();
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

std::string IdempotencyValue(const IdempotencyEntry& e) {
  std::string v;
  keys::PutBigEndian64(&v, e.first_position.value());
  for (int shift = 24; shift >= 0; shift -= 8) v.push_back(static_cast<char>((e.event_count >> shift) & 0xff));
  v.append(reinterpret_cast<const char*>(e.request_digest.data()), e.request_digest.size());
  return v;
}
}  // namespace

// Decides one command against the committed state plus what this batch already holds.
// On success its puts are added to `wb` and `batch` advances; on error nothing changes.
Result<AppendResult> RocksStore::Decide(PreparedCommand& cmd, BatchState& batch,
                                        rocksdb::WriteBatch& wb) {
  if (!cmd.idempotency_key.empty()) {
    auto found = FindIdempotency(cmd, batch);
    if (!found.ok()) return found.status();
    if (found->has_value()) {
      const IdempotencyEntry& e = **found;
      if (e.request_digest != cmd.request_digest)
        return Status::IdempotencyKeyReused(
            "this idempotency key was already used with a different request");
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
    wb.Put(cf(kEvents), keys::EventKey(pos), value);
    wb.Put(cf(kStreams), keys::StreamVersionKey(ev.stream, StreamVersion(version)), keys::EventKey(pos));
    batch.previous_hash = hash;
    batch.next = pos.next();
  }
  for (auto& [stream, v] : start_versions) {
    LEDGER_INVARIANT(v == versions[stream]);
    batch.stream_versions[stream] = v;
  }
  const uint32_t count = static_cast<uint32_t>(cmd.events.size());
  batch.events += count;
  if (!cmd.idempotency_key.empty()) {
    IdempotencyEntry e{first, count, cmd.request_digest};
    std::string key = keys::IdempotencyKey(cmd.tenant, cmd.idempotency_key);
    wb.Put(cf(kIdempotency), key, IdempotencyValue(e));
    batch.idempotency.emplace(std::move(key), e);
  }
  return AppendResult{first, count, false};
}

void RocksStore::CommitBatch(std::vector<PreparedCommand>& commands) {
  std::vector<std::optional<Result<AppendResult>>> answers(commands.size());
  if (!failed_.ok()) {
    for (auto& c : commands) c.done(failed_);
    return;
  }
  const Head before = head();
  BatchState batch;
  batch.next = before.position.next();
  batch.previous_hash = before.hash;
  // Recorded-at is set once per batch and never goes down, even if the clock does.
  batch.recorded_at_us = std::max(clock_->NowMicros(), before.recorded_at_us);
  batch.epoch = writer_epoch();
  rocksdb::WriteBatch wb;
  for (size_t i = 0; i < commands.size(); ++i) answers[i].emplace(Decide(commands[i], batch, wb));

  if (batch.events > 0) {
    for (const auto& [stream, v] : batch.stream_versions) {
      std::string value;
      keys::PutBigEndian64(&value, v);
      wb.Put(cf(kStreams), keys::StreamHeadKey(stream), value);
    }
    const uint64_t last = batch.next.value() - 1;
    std::string batch_value;
    keys::PutBigEndian64(&batch_value, last);
    keys::PutBigEndian64(&batch_value, batch.epoch.value());
    keys::PutBigEndian64(&batch_value, UINT64_MAX);  // Kafka offset not known yet
    wb.Put(cf(kBatches), keys::BatchKey(before.position.next()), batch_value);
    std::string head_value;
    keys::PutBigEndian64(&head_value, last);
    head_value.append(reinterpret_cast<const char*>(batch.previous_hash.data()), 32);
    keys::PutBigEndian64(&head_value, static_cast<uint64_t>(batch.recorded_at_us));
    wb.Put(cf(kMeta), keys::kMetaHead, head_value);

    rocksdb::WriteOptions wo;
    wo.sync = options_.durability == Durability::kSync;
    rocksdb::Status s = db_->Write(wo, &wb);
    if (!s.ok()) {
      // After a failed write RocksDB may or may not hold the batch; the only safe course is
      // to stop accepting writes until an operator reopens (and the open checks the head).
      failed_ = Status::IOError("the event store could not write and refuses further appends: " +
                                s.ToString());
      for (auto& c : commands) c.done(failed_);
      return;
    }
    for (const auto& [stream, v] : batch.stream_versions) {
      if (stream_cache_.size() >= kStreamCacheEntriesMax) stream_cache_.clear();
      stream_cache_[stream] = v;
    }
    {
      std::lock_guard<std::mutex> lock(head_mu_);
      LEDGER_INVARIANT(head_.position == before.position);  // one writer
      head_ = Head{Position(last), batch.previous_hash, batch.recorded_at_us};
    }
    batches_committed_.fetch_add(1);
    events_committed_.fetch_add(batch.events);
  }
  for (size_t i = 0; i < commands.size(); ++i) {
    if (!answers[i]->ok()) commands_rejected_.fetch_add(1);
    commands[i].done(std::move(*answers[i]));
  }
}

}  // namespace ledger
