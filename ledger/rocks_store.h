// RocksStore: the RocksDB implementation of EventStore (internal to ledger/).
// Opening and reads are in rocks_store.cc; caller-side checks in command_check.cc; the
// writer thread (group commit) in group_commit.cc.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/statistics.h>

#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "ledger/event_store.h"

namespace ledger {

struct PreparedEvent {
  std::string record;
  std::string stream;
  ExpectedVersion expected;
};

// A command that passed every check that needs no state, waiting for the writer.
struct PreparedCommand {
  std::vector<PreparedEvent> events;
  std::string tenant;
  std::string idempotency_key;  // empty: none
  Sha256Digest request_digest{};
  size_t bytes = 0;
  std::function<void(Result<AppendResult>)> done;
};

// Structural checks on the caller's thread: records verify, sizes within limits, stream
// names valid, envelope fields agree across the command.
Result<PreparedCommand> PrepareCommand(AppendCommand command, ShardId shard);

class RocksStore final : public EventStore {
 public:
  enum Family { kEvents = 0, kStreams, kIdempotency, kBatches, kMeta, kQuarantine, kFamilyCount };
  static const char* FamilyName(int family);

  static Result<std::unique_ptr<EventStore>> Open(const StoreOptions& options);
  ~RocksStore() override;

  Result<AppendResult> Append(AppendCommand command) override;
  void AppendAsync(AppendCommand command, std::function<void(Result<AppendResult>)> done) override;
  Status SetWriterEpoch(Epoch epoch) override;
  Epoch writer_epoch() const override;
  Head head() const override;
  Result<std::vector<StoredEvent>> ReadRange(Position from, size_t limit) const override;
  Result<std::vector<StoredEvent>> ReadStream(const std::string& stream, StreamVersion from,
                                              ReadDirection direction, size_t limit) const override;
  Result<StreamVersion> StreamHead(const std::string& stream) const override;
  Result<std::optional<IdempotencyEntry>> LookupIdempotency(const std::string& merchant,
                                                            const std::string& key) const override;
  StoreStats stats() const override;

 private:
  RocksStore() = default;
  Status LoadAndCheckHead();
  // families_[0] is RocksDB's default family, which the ledger does not use.
  rocksdb::ColumnFamilyHandle* cf(Family f) const { return families_[1 + f]; }

  // ---- writer thread (group_commit.cc) ----
  struct BatchState;
  void WriterLoop();
  void CommitBatch(std::vector<PreparedCommand>& commands);
  Result<AppendResult> Decide(PreparedCommand& cmd, BatchState& batch, rocksdb::WriteBatch& wb);
  Result<uint64_t> CurrentVersion(const std::string& stream, const BatchState& batch);
  Result<std::optional<IdempotencyEntry>> FindIdempotency(const PreparedCommand& cmd,
                                                          const BatchState& batch) const;

  StoreOptions options_;
  Clock* clock_ = nullptr;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;
  std::shared_ptr<rocksdb::Statistics> statistics_;

  mutable std::mutex head_mu_;
  Head head_;                      // GUARDED_BY(head_mu_); written only by the writer thread
  std::atomic<uint64_t> epoch_{0};

  std::mutex queue_mu_;
  std::condition_variable queue_cv_;
  std::deque<PreparedCommand> queue_;  // GUARDED_BY(queue_mu_), at most kAppendQueueCommandsMax
  bool stopping_ = false;              // GUARDED_BY(queue_mu_)
  std::thread writer_;

  // Writer-thread only.
  std::unordered_map<std::string, uint64_t> stream_cache_;
  Status failed_;  // set once a write fails: the store stops accepting appends

  std::atomic<uint64_t> batches_committed_{0};
  std::atomic<uint64_t> events_committed_{0};
  std::atomic<uint64_t> commands_rejected_{0};
};

}  // namespace ledger
