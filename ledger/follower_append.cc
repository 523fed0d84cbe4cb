// Reading whole batches back, and the follower's append path: a canonical batch written
// exactly as its writer stored it, through the same indexes as the writer's own appends.
#include <cstring>

#include "ledger/chain_hash.h"
#include "ledger/kafka/canonical_rule.h"
#include "ledger/record_codec.h"
#include "ledger/rocks_store.h"
#include "ledger/store_keys.h"

namespace ledger {

namespace {
struct BatchEntry {
  Position first, last;
  Epoch epoch;
  int64_t offset = -1;
  std::string node_id;
};

// meta canonical_head: pos(8) || epoch(8) || offset(8) || owner (see store_keys.h)
std::string CanonicalMarkValue(const CanonicalMark& m) {
  std::string v;
  keys::PutBigEndian64(&v, m.position.value());
  keys::PutBigEndian64(&v, m.epoch.value());
  keys::PutBigEndian64(&v, static_cast<uint64_t>(m.offset));
  v.append(m.owner);
  return v;
}

bool ParseBatchEntry(std::string_view key, std::string_view value, BatchEntry* e) {
  if (key.size() != 8 || value.size() < 24) return false;
  e->first = Position(keys::GetBigEndian64(key));
  e->last = Position(keys::GetBigEndian64(value));
  e->epoch = Epoch(keys::GetBigEndian64(value.substr(8)));
  e->offset = static_cast<int64_t>(keys::GetBigEndian64(value.substr(16)));
  e->node_id = std::string(value.substr(24));
  return e->last >= e->first;
}
}  // namespace

Result<std::vector<std::string>> RocksStore::ReadBatches(Position from, size_t limit) const {
  std::vector<std::string> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kBatches)));
  for (it->Seek(keys::BatchKey(from)); it->Valid() && out.size() < limit; it->Next()) {
    BatchEntry e;
    if (!ParseBatchEntry(it->key().ToStringView(), it->value().ToStringView(), &e))
      return Status::Corruption("batch index entry is damaged");
    auto events = ReadRange(e.first, e.last.value() - e.first.value() + 1);
    if (!events.ok()) return events.status();
    if (events->size() != e.last.value() - e.first.value() + 1)
      return Status::Corruption("batch index names missing events at position " + std::to_string(e.first.value()));
    Sha256Digest previous = kGenesisHash;
    if (e.first.value() > 1) {
      auto before = ReadRange(Position(e.first.value() - 1), 1);
      if (!before.ok()) return before.status();
      if (before->empty()) return Status::Corruption("event missing before a batch");
      previous = before->front().hash;
    }
    BatchView v;
    v.shard = options_.shard;
    v.epoch = e.epoch;
    v.node_id = e.node_id;
    v.first_position = e.first;
    v.previous_hash = previous;
    for (const StoredEvent& s : *events) v.records.push_back({s.record, s.hash});
    out.push_back(EncodeBatch(v));
  }
  if (!it->status().ok()) return Status::IOError("cannot read the batch index: " + it->status().ToString());
  return out;
}

Result<std::vector<BatchInfo>> RocksStore::ReadBatchInfos(Position from, size_t limit) const {
  std::vector<BatchInfo> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kBatches)));
  for (it->Seek(keys::BatchKey(from)); it->Valid() && out.size() < limit; it->Next()) {
    BatchEntry e;
    if (!ParseBatchEntry(it->key().ToStringView(), it->value().ToStringView(), &e))
      return Status::Corruption("batch index entry is damaged");
    out.push_back({e.first, e.last, e.epoch, e.offset});
  }
  if (!it->status().ok()) return Status::IOError("cannot read the batch index: " + it->status().ToString());
  return out;
}

// A canonical batch over positions this store already holds: the writer reading its own
// batches back. Same bytes: the canonical mark moves (and the batch's offset is stored).
// Other bytes: Diverged; the local events beyond the canonical log must be set aside.
Status RocksStore::ConfirmCanonical(const BatchView& batch, const CanonicalMark& after) {
  // Serialised; callbacks (fencing, released answers) run after the lock is let go.
  std::unique_lock<std::mutex> confirm_lock(confirm_mu_);
  const CanonicalMark mark = canonical_mark();
  // Confirmed already (by the publisher's fast path, or the reader before it): the same
  // bytes change nothing; other bytes are a divergence as below.
  const bool confirmed = after.position <= mark.position;
  if (!confirmed && batch.first_position != mark.position.next())
    return Status::InvalidArgument("batch starts at position " + std::to_string(batch.first_position.value()) +
                                   "; the canonical mark is " + std::to_string(mark.position.value()));
  auto local = ReadRange(batch.first_position, batch.records.size());
  if (!local.ok()) return local.status();
  // A canonical batch that starts inside the local tail and ends beyond it is another
  // writer's: this store's own batches were cut elsewhere.
  const bool overhangs = batch.first_position.value() + batch.records.size() - 1 > head().position.value();
  if (local->size() != batch.records.size() && !overhangs) return Status::Corruption("local events missing below the head");
  for (size_t i = 0; i < batch.records.size(); ++i)
    if (i >= local->size() || (*local)[i].record != batch.records[i].record || (*local)[i].hash != batch.records[i].hash) {
      // Another writer's batch took these positions: if this store was writing, it is fenced.
      confirm_lock.unlock();
      if (writer_epoch().value() > 0)
        Fence(Status::NotWriter("fenced: epoch " + std::to_string(after.epoch.value()) + " belongs to node " + after.owner));
      return Status::Diverged("local event at position " + std::to_string(batch.first_position.value() + i) +
                              " differs from the canonical log");
    }
  if (confirmed) return Status::Ok();
  rocksdb::WriteBatch wb;
  std::string value;
  if (db_->Get(rocksdb::ReadOptions(), cf(kBatches), keys::BatchKey(batch.first_position), &value).ok() &&
      value.size() >= 24) {
    std::string offset;
    keys::PutBigEndian64(&offset, static_cast<uint64_t>(after.offset));
    value.replace(16, 8, offset);
    wb.Put(cf(kBatches), keys::BatchKey(batch.first_position), value);
  }
  wb.Put(cf(kMeta), keys::kMetaCanonicalHead, CanonicalMarkValue(after));
  // A promotion of this node became canonical: only now is its epoch this node's.
  const bool owns_new_epoch = after.owner == options_.node_id && after.epoch.value() > stored_epoch_.load();
  if (owns_new_epoch) {
    std::string epoch;
    keys::PutBigEndian64(&epoch, after.epoch.value());
    wb.Put(cf(kMeta), keys::kMetaWriterEpoch, epoch);
  }
  // Not synced: the events are durable already, and a mark lost with the page cache only
  // sends the reader back to an earlier offset, whose batches it confirms again. A newly
  // owned epoch is synced (rare, and a restart must not forget it).
  rocksdb::WriteOptions wo;
  wo.sync = owns_new_epoch && options_.durability == Durability::kSync;
  rocksdb::Status s = db_->Write(wo, &wb);
  if (!s.ok()) return Status::IOError("cannot record the canonical mark: " + s.ToString());
  if (owns_new_epoch) stored_epoch_.store(after.epoch.value());
  {
    std::lock_guard<std::mutex> lock(head_mu_);
    canonical_ = after;
  }
  NotifyLogMoved();
  confirm_lock.unlock();
  ReleaseCanonical(after.position);
  return Status::Ok();
}

Status RocksStore::StartNewKafkaIncarnation(Epoch epoch, const std::string& owner) {
  std::unique_lock<std::mutex> confirm_lock(confirm_mu_);  // the mark moves one writer at a time
  const Head h = head();
  CanonicalMark m{h.position, h.hash, epoch, owner, -1};
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  rocksdb::Status s = db_->Put(wo, cf(kMeta), keys::kMetaCanonicalHead, CanonicalMarkValue(m));
  if (!s.ok()) return Status::IOError("cannot record the new incarnation: " + s.ToString());
  {
    std::lock_guard<std::mutex> lock(head_mu_);
    canonical_ = m;
  }
  NotifyLogMoved();
  confirm_lock.unlock();
  ReleaseCanonical(m.position);
  return Status::Ok();
}

CanonicalMark RocksStore::canonical_mark() const {
  std::lock_guard<std::mutex> lock(head_mu_);
  return canonical_;
}

void RocksStore::WaitForLogPast(Position seen, bool canonical, int timeout_ms) const {
  std::unique_lock<std::mutex> lock(head_mu_);
  log_moved_cv_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return (canonical ? canonical_.position : head_.position) > seen;
  });
}

uint64_t RocksStore::AddLogWatcher(LogWatcher wake) {
  std::lock_guard<std::mutex> lock(watchers_mu_);
  const uint64_t id = next_watcher_id_++;
  watchers_.emplace(id, std::move(wake));
  return id;
}

void RocksStore::RemoveLogWatcher(uint64_t id) {
  std::lock_guard<std::mutex> lock(watchers_mu_);
  watchers_.erase(id);
}

void RocksStore::NotifyLogMoved() {
  log_moved_cv_.notify_all();
  Position head, canonical;
  {
    std::lock_guard<std::mutex> lock(head_mu_);
    head = head_.position;
    canonical = canonical_.position;
  }
  std::lock_guard<std::mutex> lock(watchers_mu_);
  for (const auto& [id, wake] : watchers_) wake(head, canonical);
}

Status RocksStore::AppendCanonicalBatch(std::string_view batch_bytes, const CanonicalMark& after) {
  const int64_t kafka_offset = after.offset;
  auto facts = kafka::FactsOf(batch_bytes);  // verifies every record and the chain inside
  if (!facts.ok()) return facts.status();
  auto batch = DecodeBatch(batch_bytes);
  if (!batch.ok()) return batch.status();
  if (after.position != facts->last || after.hash != facts->last_hash)
    return Status::InvalidArgument("the canonical mark does not end where the batch does");
  // Over positions this store holds (all of them, or the start of them: a local tail).
  if (facts->first.value() <= head().position.value()) return ConfirmCanonical(*batch, after);
  std::unique_lock<std::mutex> lock(queue_mu_);
  // Also while the notifier still owes a local batch its stream-index rows: the watermark
  // written below claims every row through this batch.
  if (!queue_.empty() || !closed_.empty() || committer_busy_ || open_commands_ > 0 || unanswered_batches_.load() > 0)
    return Status::Unavailable("commands are being appended; a follower append would interleave with them");
  {
    std::lock_guard<std::mutex> fl(failed_mu_);
    if (!failed_.ok()) return failed_;
  }
  const Head head = this->head();
  if (facts->first != head.position.next())
    return Status::InvalidArgument("batch starts at position " + std::to_string(facts->first.value()) +
                                   "; the store's head is " + std::to_string(head.position.value()));
  if (facts->previous_hash != head.hash) return Status::InvalidArgument("batch does not chain to the store's head");

  rocksdb::WriteBatch wb;
  std::unordered_map<std::string, uint64_t> versions;
  int64_t recorded_at = head.recorded_at_us;
  uint64_t pos = facts->first.value();
  for (const auto& item : batch->records) {
    const schema::Event* ev = VerifyRecord(item.record);  // verified by FactsOf
    const std::string stream = ev->stream() ? ev->stream()->str() : "";
    std::string value(reinterpret_cast<const char*>(item.hash.data()), item.hash.size());
    value.append(item.record);
    wb.Put(cf(kEvents), keys::EventKey(Position(pos)), value);
    wb.Put(cf(kStreams), keys::StreamVersionKey(stream, StreamVersion(ev->stream_version())), keys::EventKey(Position(pos)));
    versions[stream] = ev->stream_version();
    if (ev->command_first_position() == pos && ev->idempotency_key() && ev->idempotency_key()->size() > 0) {
      IdempotencyEntry e{Position(pos), ev->command_event_count(), FromSchema(ev->request_digest())};
      wb.Put(cf(kIdempotency), keys::IdempotencyKey(ev->tenant() ? ev->tenant()->str() : "", ev->idempotency_key()->str()),
             keys::IdempotencyValue(e));
    }
    recorded_at = std::max(recorded_at, ev->recorded_at_us());
    ++pos;
  }
  std::string batch_value;
  keys::PutBigEndian64(&batch_value, facts->last.value());
  keys::PutBigEndian64(&batch_value, facts->epoch.value());
  keys::PutBigEndian64(&batch_value, static_cast<uint64_t>(kafka_offset));
  batch_value.append(facts->node_id);
  wb.Put(cf(kBatches), keys::BatchKey(facts->first), batch_value);
  std::string head_value;
  keys::PutBigEndian64(&head_value, facts->last.value());
  head_value.append(reinterpret_cast<const char*>(facts->last_hash.data()), 32);
  keys::PutBigEndian64(&head_value, static_cast<uint64_t>(recorded_at));
  wb.Put(cf(kMeta), keys::kMetaHead, head_value);
  wb.Put(cf(kMeta), keys::kMetaCanonicalHead, CanonicalMarkValue(after));
  PutIndexedThrough(wb, facts->last);  // this batch's stream rows are in this WriteBatch
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  rocksdb::Status s = db_->Write(wo, &wb);
  if (!s.ok()) return Status::IOError("cannot append the canonical batch: " + s.ToString());
  {
    std::lock_guard<std::mutex> hl(head_mu_);
    head_ = Head{facts->last, facts->last_hash, recorded_at};
    canonical_ = after;
  }
  NotifyLogMoved();
  SetIndexedThrough(facts->last);
  {
    std::lock_guard<std::mutex> sl(state_mu_);
    for (const auto& [stream, v] : versions) stream_cache_[stream] = v;
  }
  decided_next_ = facts->last.next();
  decided_hash_ = facts->last_hash;
  decided_recorded_at_us_ = recorded_at;
  batches_committed_.fetch_add(1);
  events_committed_.fetch_add(facts->last.value() - facts->first.value() + 1);
  lock.unlock();  // callers are answered below, outside every lock: a callback may append
  // A writer that receives a canonical batch that is not its own has been deposed.
  if (writer_epoch().value() > 0 && (after.epoch != writer_epoch() || after.owner != options_.node_id))
    Fence(Status::NotWriter("fenced: epoch " + std::to_string(after.epoch.value()) + " belongs to node " + after.owner));
  ReleaseCanonical(after.position);
  return Status::Ok();
}

}  // namespace ledger
