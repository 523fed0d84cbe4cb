// VerifyChain: the full walk of a store's chain, shared by the crash test, the node's
// start-up checks and ledger-replay. Reading and checking overlap: a reader thread fetches
// the next chunks while this thread checks the current one (the two cost about the same).
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <vector>
#include <mutex>
#include <thread>

#include "ledger/chain_hash.h"
#include "ledger/event_store.h"
#include "ledger/record_codec.h"

namespace ledger {

namespace {

// Chunks of the log read ahead on a thread of its own, at most kChunksAhead at a time.
class ChunkReader {
 public:
  static constexpr size_t kChunksAhead = 3;

  ChunkReader(const EventStore& store, uint64_t first, uint64_t last) : store_(store), next_(first), last_(last) {
    thread_ = std::thread([this] { Run(); });
  }
  ~ChunkReader() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  // The next chunk in order (empty at the end), or the read's error. `used`, the chunk
  // the caller is done with, is read into again.
  Result<EventChunk> Next(EventChunk used) {
    std::unique_lock<std::mutex> lock(mu_);
    if (spare_.size() < kChunksAhead + 1) spare_.push_back(std::move(used));
    cv_.wait(lock, [this] { return !ready_.empty() || done_; });
    if (ready_.empty()) {
      if (!error_.ok()) return error_;
      return EventChunk();
    }
    EventChunk chunk = std::move(ready_.front());
    ready_.pop_front();
    cv_.notify_all();
    return chunk;
  }

 private:
  void Run() {
    while (next_ <= last_) {
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stop_ || ready_.size() < kChunksAhead; });
        if (stop_) break;
      }
      EventChunk chunk;
      {
        std::lock_guard<std::mutex> lock(mu_);
        if (!spare_.empty()) {
          chunk = std::move(spare_.back());
          spare_.pop_back();
        }
      }
      Status read = store_.ScanRangeInto(Position(next_), std::min<uint64_t>(kReadEventsMax, last_ - next_ + 1), &chunk);
      std::lock_guard<std::mutex> lock(mu_);
      if (!read.ok()) {
        error_ = read;
        break;
      }
      if (chunk.size() == 0) break;  // the walk reports the missing position
      next_ = chunk.positions.back().value() + 1;
      ready_.push_back(std::move(chunk));
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    done_ = true;
    cv_.notify_all();
  }

  const EventStore& store_;
  uint64_t next_;
  const uint64_t last_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<EventChunk> ready_;  // GUARDED_BY(mu_)
  std::vector<EventChunk> spare_;  // GUARDED_BY(mu_): chunks handed back, to read into
  Status error_;                                // GUARDED_BY(mu_)
  bool done_ = false;                           // GUARDED_BY(mu_)
  bool stop_ = false;                           // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace

Status VerifyChain(const EventStore& store, Position* verified_through) {
  return VerifyChainThrough(store, Position(0), verified_through, nullptr, nullptr);
}

Status VerifyChainThrough(const EventStore& store, Position through, Position* verified_through,
                          const std::function<Status(Position, const Sha256Digest&, const schema::Event&)>& also,
                          const std::function<void(Position)>& progress) {
  const Head head = store.head();
  const bool whole = through.value() == 0 || through >= head.position;
  const uint64_t last = whole ? head.position.value() : through.value();
  Sha256Digest previous = kGenesisHash;
  uint64_t expected = 1;
  *verified_through = Position(0);
  ChunkReader reader(store, 1, last);
  EventChunk used;
  // The message is built only for a failure (this runs for every event of the log).
  const auto bad = [&expected](const char* what) {
    return Status::Corruption(std::string(what).append(" at position ").append(std::to_string(expected)));
  };
  // Checks the chunk's events from `expected` on, up to `last`.
  const auto check = [&](const EventChunk& chunk) -> Status {
    for (size_t i = 0; i < chunk.size(); ++i) {
      const Position position = chunk.positions[i];
      const std::string_view record = chunk.record(i);
      const Sha256Digest& hash = chunk.hashes[i];
      if (position.value() > last) break;
      if (position.value() != expected) return bad("event missing");
      const schema::Event* ev = VerifyRecord(record);
      if (ev == nullptr) return bad("record does not verify");
      if (ev->position() != expected) return bad("record names another position");
      if (ev->command_first_position() > expected || ev->command_event_count() == 0 ||
          expected - ev->command_first_position() >= ev->command_event_count())
        return bad("record is outside its command");
      if (ChainHash(previous, position, record) != hash) return bad("chain hash does not match");
      if (also) LEDGER_RETURN_IF_ERROR(also(position, hash, *ev));
      previous = hash;
      *verified_through = position;
      ++expected;
    }
    return Status::Ok();
  };
  while (expected <= last) {
    auto chunk = reader.Next(std::move(used));
    if (!chunk.ok() && chunk.status().code() == Code::kCorruption) {
      // A damaged table block fails the whole read it is in (and a read ahead fails before
      // the events in front of it are checked): go on one event at a time, so the first
      // bad position named is the first event that cannot be read.
      for (EventChunk one; expected <= last;) {
        if (Status s = store.ScanRangeInto(Position(expected), 1, &one); !s.ok()) {
          if (s.code() != Code::kCorruption) return s;  // I/O, not damage
          return Status::Corruption("unreadable at position " + std::to_string(expected) + ": " + s.message());
        }
        if (one.size() == 0) return bad("event missing");
        LEDGER_RETURN_IF_ERROR(check(one));
        if (progress) progress(*verified_through);
      }
      break;
    }
    if (!chunk.ok()) return chunk.status();
    if (chunk->size() == 0) return bad("event missing");
    LEDGER_RETURN_IF_ERROR(check(*chunk));
    if (progress) progress(*verified_through);
    used = std::move(chunk).value();
  }
  if (whole && previous != head.hash) return Status::Corruption("head hash does not match the chain");
  return Status::Ok();
}

}  // namespace ledger
