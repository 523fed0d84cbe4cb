// The stream index, written apart from the events (see rocks_store.h, "the stream index").
#include <thread>

#include "ledger/record_codec.h"
#include "ledger/rocks_store.h"
#include "ledger/store_keys.h"

namespace ledger {
namespace {
// How long a stream read waits for the index to reach the head it saw. The notifier writes
// a batch's rows right after answering its callers (one unsynced write); this bound only
// matters when the notifier is stuck in a caller's callback or the store is failing.
constexpr auto kStreamIndexWaitMax = std::chrono::seconds(5);
}  // namespace

void RocksStore::PutIndexedThrough(rocksdb::WriteBatch& wb, Position p) const {
  std::string value;
  keys::PutBigEndian64(&value, p.value());
  wb.Put(cf(kMeta), keys::kMetaIndexedThrough, value);
}

void RocksStore::SetIndexedThrough(Position p) {
  {
    std::lock_guard<std::mutex> lock(index_mu_);
    indexed_through_ = p;
  }
  index_cv_.notify_all();
}

// On the notifier thread, batches in commit order.
void RocksStore::IndexBatch(OpenBatch& batch) {
  if (!batch.failure.ok()) return;  // nothing written; the store refuses further appends
  if (batch.events > 0) {
    const Position last(batch.next.value() - 1);
    PutIndexedThrough(batch.index_wb, last);
    // Not synced: the next synced batch syncs it (one WAL), and a crash before that loses
    // only rows the open writes back from the events.
    rocksdb::Status s = options_.stream_index_write_fault && options_.stream_index_write_fault()
                            ? rocksdb::Status::IOError("injected stream-index write fault")
                            : db_->Write(rocksdb::WriteOptions(), &batch.index_wb);
    if (!s.ok()) {
      // The overlay stays in flight, so nothing decided reads the missing rows; stream
      // reads fail until an operator reopens the store (the open rebuilds the rows).
      const Status failed = Status::IOError("the event store could not write its stream index and refuses "
                                            "further appends: " + s.ToString());
      {
        std::lock_guard<std::mutex> lock(failed_mu_);
        if (failed_.ok()) failed_ = failed;
      }
      {
        std::lock_guard<std::mutex> lock(index_mu_);
        index_failed_ = failed;
      }
      index_cv_.notify_all();
      return;
    }
  }
  {
    std::lock_guard<std::mutex> lock(state_mu_);
    if (stream_cache_.size() + batch.overlay->stream_versions.size() > kStreamCacheEntriesMax)
      stream_cache_.clear();
    for (const auto& [stream, v] : batch.overlay->stream_versions) stream_cache_[stream] = v;
    LEDGER_INVARIANT(!in_flight_.empty() && in_flight_.front() == batch.overlay);
    in_flight_.pop_front();
  }
  if (batch.events > 0) SetIndexedThrough(Position(batch.next.value() - 1));
}

Status RocksStore::WaitForStreamIndex() const {
  if (!options_.secondary_path.empty()) return Status::Ok();  // reads what the primary wrote
  // An answer's callback runs on the notifier, which writes the index only after it:
  // waiting there would wait for itself.
  if (std::this_thread::get_id() == notifier_.get_id())
    return Status::Unavailable("a stream read from inside an append's answer cannot see that append yet");
  const Position target = head().position;
  std::unique_lock<std::mutex> lock(index_mu_);
  const bool reached = index_cv_.wait_for(lock, kStreamIndexWaitMax, [&] {
    return indexed_through_.value() >= target.value() || !index_failed_.ok();
  });
  if (!index_failed_.ok()) return index_failed_;
  if (!reached) return Status::Unavailable("the stream index is behind the log; retry shortly");
  return Status::Ok();
}

// Writes back the stream-index rows of the events past the stored watermark, in one synced
// batch per chunk of events, the watermark with them.
Status RocksStore::RebuildStreamIndexTail() {
  const Position head = this->head().position;
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kMeta), keys::kMetaIndexedThrough, &v);
  Position through = head;  // a store from before the watermark wrote its index with the events
  if (s.ok()) {
    if (v.size() != 8) return Status::Corruption("the stream index watermark is damaged");
    through = Position(keys::GetBigEndian64(v));
  } else if (!s.IsNotFound()) {
    return Status::IOError("cannot read the stream index watermark: " + s.ToString());
  }
  if (through.value() > head.value())
    return Status::Corruption("the stream index claims position " + std::to_string(through.value()) +
                              " but the head is " + std::to_string(head.value()));
  while (through.value() < head.value()) {
    auto events = ReadRange(through.next(), kReadEventsMax);
    if (!events.ok()) return events.status();
    if (events->empty()) return Status::Corruption("events missing below the head");
    rocksdb::WriteBatch wb;
    for (const StoredEvent& e : *events) {
      if (e.position.value() > head.value()) break;
      if (e.position != through.next())
        return Status::Corruption("event missing at position " + std::to_string(through.next().value()));
      const schema::Event* ev = VerifyRecord(e.record);
      if (ev == nullptr || ev->stream() == nullptr)
        return Status::Corruption("event at position " + std::to_string(e.position.value()) + " does not verify");
      wb.Put(cf(kStreams), keys::StreamVersionKey(ev->stream()->str(), StreamVersion(ev->stream_version())),
             keys::EventKey(e.position));
      through = e.position;
      ++stream_index_rows_rebuilt_;
    }
    PutIndexedThrough(wb, through);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = db_->Write(wo, &wb);
    if (!s.ok()) return Status::IOError("cannot write back the stream index: " + s.ToString());
  }
  SetIndexedThrough(head);
  return Status::Ok();
}

Result<StreamVersion> RocksStore::IndexedStreamHead(const std::string& stream) const {
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kStreams)));
  it->SeekForPrev(keys::StreamVersionKey(stream, StreamVersion(UINT64_MAX)));
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the stream head"));
  if (!it->Valid() || !keys::IsVersionKeyOf(it->key().ToStringView(), stream)) return StreamVersion(0);
  const std::string_view key = it->key().ToStringView();
  return StreamVersion(keys::GetBigEndian64(key.substr(key.size() - 8)));
}

}  // namespace ledger
