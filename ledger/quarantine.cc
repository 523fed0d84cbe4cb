// Rejoining as a follower (DESIGN §8): the local events beyond the canonical log are set
// aside in the quarantine family, never deleted.
#include <algorithm>
#include <cstring>

#include "ledger/record_codec.h"
#include "ledger/rocks_store.h"
#include "ledger/store_keys.h"

namespace ledger {

bool RocksStore::lease_valid() const {
  if (!options_.ack_requires_lease) return true;
  std::lock_guard<std::mutex> lock(lease_mu_);
  return std::chrono::steady_clock::now() < lease_valid_until_;
}

bool RocksStore::idle() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  return queue_.empty() && closed_.empty() && !committer_busy_ && open_commands_ == 0 && unanswered_batches_.load() == 0;
}

bool RocksStore::appends_unwritten() const {
  std::lock_guard<std::mutex> lock(queue_mu_);
  // The committer moves head_ before it clears committer_busy_ (group_commit.cc).
  return !queue_.empty() || !closed_.empty() || committer_busy_ || open_commands_ > 0;
}

Result<QuarantineReport> RocksStore::RejoinAsFollower() {
  // REQUIRES: queue_mu_ held.
  const auto appending = [this] {
    return !queue_.empty() || !closed_.empty() || committer_busy_ || open_commands_ > 0 || unanswered_batches_.load() > 0;
  };
  const Status busy = Status::Unavailable("commands are being appended; stop deciding before rejoining as a follower");
  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    if (appending()) return busy;
  }
  // Whatever is still owed an answer will never be canonical now; a fenced store takes no
  // new commands. Outside queue_mu_: the answers' callbacks may call Append.
  const Status rejoined = Status::NotWriter("this node rejoined the shard as a follower");
  Fence(rejoined);
  // Also when it was fenced already: answers parked since then must not outlive the fence.
  FailOwedAnswers(rejoined);
  std::unique_lock<std::mutex> lock(queue_mu_);
  if (appending()) return busy;
  std::unique_lock<std::mutex> confirm_lock(confirm_mu_);  // the mark stays put meanwhile
  const CanonicalMark mark = canonical_mark();
  const Head old_head = head();
  QuarantineReport report;
  rocksdb::WriteBatch wb;
  Head new_head{mark.position, mark.hash, 0};
  if (mark.position.value() > 0) {
    auto at_mark = ReadRange(mark.position, 1);
    if (!at_mark.ok()) return at_mark.status();
    if (at_mark->empty() || at_mark->front().hash != mark.hash)
      return Status::Corruption("the canonical mark names an event this store does not hold");
    const schema::Event* ev = VerifyRecord(at_mark->front().record);
    if (ev == nullptr) return Status::Corruption("the event at the canonical mark does not verify");
    new_head.recorded_at_us = ev->recorded_at_us();
  }
  const int64_t rejoined_at_us = clock_->NowMicros();
  for (uint64_t from = mark.position.value() + 1; from <= old_head.position.value();) {
    auto events = ReadRange(Position(from), kReadEventsMax);
    if (!events.ok()) return events.status();
    if (events->empty()) return Status::Corruption("events missing below the head");
    for (const StoredEvent& e : *events) {
      const schema::Event* ev = VerifyRecord(e.record);
      if (ev == nullptr) return Status::Corruption("local event at position " + std::to_string(e.position.value()) +
                                                   " does not verify");
      std::string value(reinterpret_cast<const char*>(e.hash.data()), e.hash.size());
      value.append(e.record);
      wb.Put(cf(kQuarantine), keys::QuarantineKey(e.position, rejoined_at_us), value);
      wb.Delete(cf(kEvents), keys::EventKey(e.position));
      const std::string stream = ev->stream() ? ev->stream()->str() : "";
      wb.Delete(cf(kStreams), keys::StreamVersionKey(stream, StreamVersion(ev->stream_version())));
      if (ev->command_first_position() == e.position.value() && ev->idempotency_key() && ev->idempotency_key()->size() > 0) {
        const std::string tenant = ev->tenant() ? ev->tenant()->str() : "";
        wb.Delete(cf(kIdempotency), keys::IdempotencyKey(tenant, ev->idempotency_key()->str()));
        report.idempotency_keys.push_back(tenant + ":" + ev->idempotency_key()->str());
      }
      wb.Delete(cf(kBatches), keys::BatchKey(e.position));  // a batch's key is its first position
      if (report.events == 0) report.first = e.position;
      report.last = e.position;
      report.events++;
      from = e.position.value() + 1;
    }
  }
  std::string head_value;
  keys::PutBigEndian64(&head_value, new_head.position.value());
  head_value.append(reinterpret_cast<const char*>(new_head.hash.data()), 32);
  keys::PutBigEndian64(&head_value, static_cast<uint64_t>(new_head.recorded_at_us));
  wb.Put(cf(kMeta), keys::kMetaHead, head_value);
  std::string no_epoch;
  keys::PutBigEndian64(&no_epoch, 0);
  wb.Put(cf(kMeta), keys::kMetaWriterEpoch, no_epoch);
  // Nothing is appending, so the index holds all it will (less only after a failed index
  // write); rows past the new head are deleted above.
  Position indexed;
  {
    std::lock_guard<std::mutex> il(index_mu_);
    indexed = Position(std::min(indexed_through_.value(), new_head.position.value()));
  }
  PutIndexedThrough(wb, indexed);
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  if (rocksdb::Status s = db_->Write(wo, &wb); !s.ok())
    return Status::IOError("cannot set the local tail aside: " + s.ToString());
  {
    std::lock_guard<std::mutex> hl(head_mu_);
    head_ = new_head;
  }
  NotifyLogMoved();
  SetIndexedThrough(indexed);
  {
    std::lock_guard<std::mutex> sl(state_mu_);
    stream_cache_.clear();  // versions of set-aside events are gone; misses read the index
    in_flight_.clear();
  }
  decided_next_ = new_head.position.next();
  decided_hash_ = new_head.hash;
  decided_recorded_at_us_ = std::max(decided_recorded_at_us_, new_head.recorded_at_us);
  epoch_.store(0);
  stored_epoch_.store(0);
  {
    std::lock_guard<std::mutex> fl(fenced_mu_);
    fenced_ = Status::Ok();
  }
  return report;
}

Result<std::vector<StoredEvent>> RocksStore::ReadQuarantine(size_t limit) const {
  std::vector<StoredEvent> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kQuarantine)));
  for (it->SeekToFirst(); it->Valid() && out.size() < limit; it->Next()) {
    const auto key = it->key().ToStringView();
    const auto value = it->value().ToStringView();
    if (key.size() != 16 || value.size() < 32) return Status::Corruption("quarantine entry is damaged");
    StoredEvent e;
    e.position = Position(keys::GetBigEndian64(key));
    std::memcpy(e.hash.data(), value.data(), 32);
    e.record = std::string(value.substr(32));
    out.push_back(std::move(e));
  }
  if (!it->status().ok()) return Status::IOError("cannot read the quarantine: " + it->status().ToString());
  return out;
}

}  // namespace ledger
