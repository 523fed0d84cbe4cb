// RocksStore: the RocksDB implementation of EventStore (internal to ledger/).
// Opening and reads are in rocks_store.cc; caller-side checks in command_check.cc; the
// group commit (sequencer, committer and notifier threads) in group_commit.cc.
#pragma once

#include <rocksdb/db.h>
#include <rocksdb/statistics.h>
#include <rocksdb/write_batch.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <optional>
#include <mutex>
#include <thread>
#include <unordered_map>

#include "ledger/event_store.h"
#include "ledger/record_codec.h"

namespace ledger {

struct PreparedEvent {
  std::string record;
  std::string stream;
  ExpectedVersion expected;
  std::optional<PersonalSeal> seal;
  size_t personal_offset = 0;  // where the sealed bytes go in `record`, when sealing
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

inline constexpr size_t kBatchesInFlightMax = 2;
// Longest the sequencer holds a batch open for callers expected back (see ReadyToClose).
inline constexpr int64_t kGroupCommitWaitMaxUs = 1000;
// Written batches waiting for the notifier thread to answer their callers.
inline constexpr size_t kBatchesAwaitingAnswerMax = 4;

// What a decided-but-not-durable batch changes, read by later decisions.
struct BatchOverlay {
  std::unordered_map<std::string, uint64_t> stream_versions;      // stream -> version after
  std::unordered_map<std::string, IdempotencyEntry> idempotency;  // IdempotencyKey() -> entry
};

struct OpenBatch {
  Position first;                // position of the batch's first event
  Position next;                 // position of the next accepted event
  Sha256Digest previous_hash{};  // hash of the event before `next`
  int64_t recorded_at_us = 0;
  Epoch epoch;
  std::shared_ptr<BatchOverlay> overlay = std::make_shared<BatchOverlay>();
  rocksdb::WriteBatch wb;        // synced: events, idempotency, batch and head rows
  rocksdb::WriteBatch index_wb;  // stream-index rows, written after the sync (IndexBatch)
  std::vector<PreparedCommand> commands;
  std::vector<std::optional<Result<AppendResult>>> answers;
  Status failure;  // set by the committer when the batch could not be written
  size_t reserved_bytes = 0;
  size_t reserved_events = 0;
  uint64_t events = 0;

  bool empty() const { return commands.empty(); }
  bool Fits(const PreparedCommand& c) const {
    return empty() || (reserved_bytes + c.bytes <= kBatchBytesMax &&
                       reserved_events + c.events.size() <= kBatchEventsMax);
  }
};

// Structural checks on the caller's thread: records verify, sizes within limits, stream
// names valid, envelope fields agree across the command.
Result<PreparedCommand> PrepareCommand(AppendCommand command, ShardId shard);

// A RocksDB status as a ledger Status, `what` saying what failed.
Status FromRocks(const rocksdb::Status& s, const std::string& what);

class RocksStore final : public EventStore {
 public:
  enum Family { kEvents = 0, kStreams, kIdempotency, kBatches, kMeta, kQuarantine, kSnapshots, kKeyring, kFamilyCount };
  static const char* FamilyName(int family);

  static Result<std::unique_ptr<EventStore>> Open(const StoreOptions& options);
  static Result<std::unique_ptr<EventStore>> OpenImpl(const StoreOptions& options, bool is_new);
  ~RocksStore() override;

  Result<AppendResult> Append(AppendCommand command) override;
  Result<std::unique_ptr<Keyring>> OpenKeyring(const SecretKey& secrets_key) override;
  void AppendAsync(AppendCommand command, std::function<void(Result<AppendResult>)> done) override;
  Status ReadyToAppend() const override;
  void AnswerWhenAcknowledgeable(Position through, std::function<void(Status)> done) override;
  Status SetWriterEpoch(Epoch epoch) override;
  Status AttemptPromotion(Epoch epoch) override;
  Epoch writer_epoch() const override;
  Head head() const override;
  Result<std::vector<StoredEvent>> ReadRange(Position from, size_t limit) const override;
  Status ScanRangeInto(Position from, size_t limit, EventChunk* out) const override;
  Result<std::vector<StoredEvent>> ReadStream(const std::string& stream, StreamVersion from,
                                              ReadDirection direction, size_t limit) const override;
  Result<StreamVersion> StreamHead(const std::string& stream) const override;
  Result<std::optional<IdempotencyEntry>> LookupIdempotency(const std::string& merchant,
                                                            const std::string& key) const override;
  StoreStats stats() const override;
  Result<std::vector<std::string>> ReadBatches(Position from, size_t limit) const override;
  Result<std::vector<BatchInfo>> ReadBatchInfos(Position from, size_t limit) const override;
  Status AppendCanonicalBatch(std::string_view batch_bytes, const CanonicalMark& after) override;
  void RenewLease(std::chrono::steady_clock::time_point valid_until) override;
  std::string kafka_cluster_id() const override;
  Status SetKafkaClusterId(const std::string& cluster_id) override;
  size_t answers_awaiting_lease() const override;
  CanonicalMark canonical_mark() const override;
  void WaitForLogPast(Position seen, bool canonical, int timeout_ms) const override;
  uint64_t AddLogWatcher(LogWatcher wake) override;
  void RemoveLogWatcher(uint64_t id) override;
  Status fenced() const override;
  Status StartNewKafkaIncarnation(Epoch epoch, const std::string& owner) override;
  bool lease_valid() const override;
  bool idle() const override;
  bool appends_unwritten() const override;
  Result<QuarantineReport> RejoinAsFollower() override;
  Result<std::vector<StoredEvent>> ReadQuarantine(size_t limit) const override;
  Status PutSnapshot(const std::string& key, const std::string& value) override;
  Result<std::optional<std::string>> GetSnapshot(const std::string& key) const override;
  Status ClearSnapshots() override;

 private:
  RocksStore() = default;
  Status LoadAndCheckHead();
  Status ConfirmCanonical(const BatchView& batch, const CanonicalMark& after);
  // Replicated ack level: answers held until the canonical mark reaches their position.
  void HoldUntilCanonical(Position needed, std::function<void(Result<AppendResult>)> done,
                          Result<AppendResult> answer);
  void ReleaseCanonical(Position mark);
  // Sends a successful answer now when the lease allows, else keeps it until it does.
  void Acknowledge(std::function<void(Result<AppendResult>)> done, Result<AppendResult> answer);
  void Fence(Status why);
  // Fails every answer held for the canonical mark or the lease (they will never go out).
  void FailOwedAnswers(const Status& why);
  Result<std::optional<IdempotencyEntry>> ReadIdempotency(const std::string& encoded_key) const;
  // families_[0] is RocksDB's default family, which the ledger does not use.
  rocksdb::ColumnFamilyHandle* cf(Family f) const { return families_[1 + f]; }

  // ---- group commit (group_commit.cc) ----
  // Three threads: the sequencer decides commands into the open batch as they arrive; the
  // committer writes closed batches, one synced WriteBatch each, strictly in order; the
  // notifier answers their callers, then writes their stream-index rows (stream_index.cc).
  // The open batch is closed when the committer is idle, so a
  // batch holds everything that arrived during the previous sync: the batch grows with
  // load, and deciding overlaps syncing.
  void SequencerLoop();
  void CommitterLoop();
  bool ReadyToClose(const OpenBatch& open) const;  // REQUIRES: queue_mu_ held
  void Write(OpenBatch& batch);
  void Answer(OpenBatch& batch);
  void NotifierLoop();
  // Why AppendAsync would refuse a command now (closing, fenced, queue or awaiting answers
  // at their bound), or OK. REQUIRES: queue_mu_ held.
  Status RefusalLocked() const;
  void ResetOpenBatch(OpenBatch& batch);
  void CloseOpenBatch(std::unique_ptr<OpenBatch>& open);
  Result<AppendResult> Decide(PreparedCommand& cmd, OpenBatch& batch);
  Result<uint64_t> CurrentVersion(const std::string& stream, const OpenBatch& batch);
  Result<std::optional<IdempotencyEntry>> FindIdempotency(const std::string& key,
                                                          const OpenBatch& batch);

  // ---- the stream index (stream_index.cc) ----
  // A batch's stream-index rows are not in its synced WriteBatch: inserting random stream
  // keys into the memtable cost about 40% of a single-event batch's write (README,
  // "Where the single-event time goes"). The notifier writes them, unsynced, right after
  // answering the batch's callers; until then the batch's overlay stays in in_flight_, so
  // decisions never read a stale index, and stream reads wait for the index to reach the
  // head they saw. Every later synced write also makes these rows durable (one WAL); a
  // crash can lose only rows past the last sync, and the open writes them back from the
  // events (RebuildStreamIndexTail), so the index is derived state that never lags a
  // reopened store.
  void IndexBatch(OpenBatch& batch);
  Status WaitForStreamIndex() const;  // until the index holds the head as it is now
  Status RebuildStreamIndexTail();    // at open, writer only
  void SetIndexedThrough(Position p);  // in memory, once the rows are written
  void PutIndexedThrough(rocksdb::WriteBatch& wb, Position p) const;  // the stored watermark
  // The last stream-index row of `stream`, as the index stands now (no wait).
  Result<StreamVersion> IndexedStreamHead(const std::string& stream) const;

  StoreOptions options_;
  Clock* clock_ = nullptr;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> families_;
  std::shared_ptr<rocksdb::Statistics> statistics_;

  mutable std::mutex head_mu_;
  Head head_;  // durable head; GUARDED_BY(head_mu_), written only by the committer
  CanonicalMark canonical_;  // GUARDED_BY(head_mu_)
  // Notified (after head_mu_ is released) whenever head_ or canonical_ moves.
  mutable std::condition_variable log_moved_cv_;
  // Wakes log_moved_cv_'s waiters and the log watchers; call after head_mu_ is released.
  void NotifyLogMoved();
  mutable std::mutex watchers_mu_;  // held while a watcher runs, so RemoveLogWatcher waits it out
  std::map<uint64_t, LogWatcher> watchers_;  // GUARDED_BY(watchers_mu_)
  uint64_t next_watcher_id_ = 1;              // GUARDED_BY(watchers_mu_)
  std::atomic<uint64_t> epoch_{0};            // patched into new batches
  std::atomic<uint64_t> stored_epoch_{0};     // as stored in meta (owned, canonical)

  mutable std::mutex queue_mu_;
  std::condition_variable sequencer_cv_;
  std::condition_variable committer_cv_;
  std::deque<PreparedCommand> queue_;               // GUARDED_BY(queue_mu_)
  std::deque<std::unique_ptr<OpenBatch>> closed_;   // GUARDED_BY(queue_mu_)
  bool committer_busy_ = false;                     // GUARDED_BY(queue_mu_)
  // Batches taken by the committer and not yet answered by the notifier (raised under
  // queue_mu_ with committer_busy_): a rejoin waits for them.
  std::atomic<size_t> unanswered_batches_{0};
  bool stopping_ = false;                           // GUARDED_BY(queue_mu_)
  bool sequencer_done_ = false;                     // GUARDED_BY(queue_mu_)
  size_t open_commands_ = 0;                        // GUARDED_BY(queue_mu_)
  size_t close_target_commands_ = 0;                // GUARDED_BY(queue_mu_)
  std::chrono::steady_clock::time_point close_deadline_{};  // GUARDED_BY(queue_mu_)
  std::mutex notify_mu_;
  std::condition_variable notify_cv_;
  std::condition_variable answer_space_cv_;
  std::deque<std::unique_ptr<OpenBatch>> to_answer_;  // GUARDED_BY(notify_mu_)
  bool notifier_stop_ = false;                        // GUARDED_BY(notify_mu_)
  std::thread notifier_;
  std::thread sequencer_;
  std::thread committer_;

  // Decided state (sequencer only): where the next batch starts.
  Position decided_next_;
  Sha256Digest decided_hash_{};
  int64_t decided_recorded_at_us_ = 0;

  // Durable stream versions plus the overlays of batches decided but not yet durable.
  std::mutex state_mu_;
  std::unordered_map<std::string, uint64_t> stream_cache_;   // GUARDED_BY(state_mu_)
  std::deque<std::shared_ptr<const BatchOverlay>> in_flight_;     // GUARDED_BY(state_mu_)

  mutable std::mutex failed_mu_;
  Status failed_;  // GUARDED_BY(failed_mu_); once set, the store refuses all appends

  mutable std::mutex index_mu_;
  mutable std::condition_variable index_cv_;
  Position indexed_through_;   // GUARDED_BY(index_mu_)
  Status index_failed_;        // GUARDED_BY(index_mu_)
  uint64_t stream_index_rows_rebuilt_ = 0;  // set once at open

  struct HeldAnswer {
    std::function<void(Result<AppendResult>)> done;
    std::optional<Result<AppendResult>> answer;
  };
  std::mutex held_mu_;
  std::multimap<uint64_t, HeldAnswer> held_;  // GUARDED_BY(held_mu_), by position needed
  // The lease: answers ready to go out wait here while it has expired.
  mutable std::mutex lease_mu_;
  std::chrono::steady_clock::time_point lease_valid_until_{};  // GUARDED_BY(lease_mu_)
  std::vector<HeldAnswer> lease_held_;                          // GUARDED_BY(lease_mu_)
  // Serialises confirmations of the writer's own batches (its reader and its publisher's
  // fast path both confirm).
  std::mutex confirm_mu_;
  std::atomic<size_t> held_count_{0};
  mutable std::mutex fenced_mu_;
  Status fenced_;  // GUARDED_BY(fenced_mu_)

  std::atomic<uint64_t> batches_committed_{0};
  std::atomic<uint64_t> events_committed_{0};
  std::atomic<uint64_t> commands_rejected_{0};
};

}  // namespace ledger
