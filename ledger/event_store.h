// The durable event store of one ledger shard (DESIGN §4), on RocksDB.
//
// Writes: Append() hands a command (its events as encoded records, see record_codec.h)
// to a bounded queue. One sequencer thread decides each command against stream versions
// and idempotency keys, assigns dense positions, and patches and hashes the records into
// the open batch; one committer thread writes each batch as ONE RocksDB WriteBatch with
// sync=true, in order: the group commit, which is also the unit later published to Kafka
// as one batch. The batch grows with load (it holds what arrived during the previous
// sync). A command's events are all written or none. A caller is answered only after the
// sync, on the store's notifier thread.
//
// Reads are served straight from RocksDB and may run on any thread, concurrently with
// appends; they see only committed batches.
//
// Thread-safety: every public method is safe to call from any thread.
// Errors: returned as Status / Result values; nothing throws.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ledger/clock.h"
#include "ledger/seal.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace ledger {

namespace schema {
struct Event;
}
class Keyring;

// Named limits (units last).
inline constexpr size_t kRecordBytesMax = 64 * 1024;
// One group commit = one Kafka message: well under Kafka's 1 MB default message size.
inline constexpr size_t kBatchBytesMax = 768 * 1024;
inline constexpr size_t kBatchEventsMax = 8192;
inline constexpr size_t kCommandEventsMax = 4096;
inline constexpr size_t kAppendQueueCommandsMax = 4096;
inline constexpr size_t kStreamCacheEntriesMax = 262144;
inline constexpr size_t kReadEventsMax = 10000;
// The block cache shared by the stores of a process: data, index and filter blocks.
inline constexpr size_t kBlockCacheBytes = 64 << 20;

enum class Durability {
  kSync,  // every group commit is fsynced before anyone is answered (the only safe choice)
  // Test-only: lets the crash test prove that it detects a store that skips fsync.
  kUnsafeNoSyncForTests,
};

enum class AckLevel {
  kLocal,       // answer once the batch is synced to the local disk
  // Answer once the batch is also known canonical: the store's canonical mark (moved by the
  // log reader tailing the partition) has reached it. DESIGN §6, the default for a node
  // that publishes to Kafka.
  kReplicated,
};

// Commands answered locally but waiting to be known canonical (replicated ack level);
// beyond it new commands are refused at once with Unavailable (Kafka is not keeping up).
inline constexpr size_t kAwaitingCanonicalCommandsMax = 65536;

struct StoreOptions {
  std::string path;
  ShardId shard{0};
  bool create_if_missing = true;
  Durability durability = Durability::kSync;
  Clock* clock = nullptr;  // not owned; nullptr = system clock
  std::string node_id = "node-1";  // recorded in every batch this store writes
  AckLevel ack_level = AckLevel::kLocal;
  // The lease (DESIGN §6): when set, nothing is acknowledged, at either ack level, unless
  // the lease renewed through RenewLease() is still valid; answers wait until it is (or
  // are refused when the store is fenced). A node's log reader renews it.
  bool ack_requires_lease = false;
  // Non-empty: open read-only as a RocksDB secondary instance (its own files go in this
  // directory), which may run while a node writes the store; reads see what was committed
  // when it opened. Appends are refused; nothing is created.
  std::string secondary_path;
  // Testing only: asked before each write of a batch's stream-index rows; true makes that
  // write fail as a RocksDB error would, so the failure path can be tested (no real fault
  // can be brought about at that moment on demand).
  std::function<bool()> stream_index_write_fault;
};

// A personal field to seal on append (DESIGN §12): the record carries personal_key_id and
// a `personal` vector of plaintext.size() + kSealOverheadBytes zero bytes; once the event's
// position is assigned the store seals the plaintext under the data key, bound to shard,
// position and key id, into that vector, before the record is hashed. Neither the key nor
// the plaintext is kept.
struct PersonalSeal {
  uint64_t key_id = 0;
  SecretKey data_key{};
  std::string plaintext;  // PersonalData bytes
};

struct PendingEvent {
  std::string record;  // built by EncodeRecord; assigned fields are patched on append
  ExpectedVersion expected = ExpectedVersion::Any();
  std::optional<PersonalSeal> seal = std::nullopt;
};

// One command: its events are appended atomically, in order. The idempotency key,
// request digest and tenant are read from the records (all must agree).
struct AppendCommand {
  std::vector<PendingEvent> events;
};

struct AppendResult {
  Position first_position;
  uint32_t event_count = 0;
  // True when the idempotency key was already used with the same request: nothing was
  // written and the positions are those of the first append.
  bool replayed = false;
};

struct StoredEvent {
  Position position;
  Sha256Digest hash{};
  std::string record;
};

// Consecutive events packed for scans: one buffer for all records, no per-event allocation.
struct EventChunk {
  std::vector<Position> positions;
  std::vector<Sha256Digest> hashes;
  std::vector<uint32_t> ends;  // record i is records[ends[i-1] .. ends[i])
  std::string records;
  size_t size() const { return positions.size(); }
  void clear() {  // keeps the capacity
    positions.clear();
    hashes.clear();
    ends.clear();
    records.clear();
  }
  std::string_view record(size_t i) const {
    const uint32_t begin = i == 0 ? 0 : ends[i - 1];
    return std::string_view(records).substr(begin, ends[i] - begin);
  }
};

struct Head {
  Position position;
  Sha256Digest hash{};
  int64_t recorded_at_us = 0;
};

// What a log reader knows of the canonical log this store holds (DESIGN §6).
struct CanonicalMark {
  Position position;   // last canonical position (0: none)
  Sha256Digest hash{};
  Epoch epoch;         // current canonical epoch
  std::string owner;   // node named by the canonical WriterPromoted(epoch)
  int64_t offset = -1; // Kafka offset of the batch holding `position` (-1: none)
};

struct IdempotencyEntry {
  Position first_position;
  uint32_t event_count = 0;
  Sha256Digest request_digest{};
};

// What a rejoin set aside (DESIGN §8): local events beyond the canonical log, moved whole
// into the quarantine family, never deleted (under `local` they were acknowledged).
struct QuarantineReport {
  uint64_t events = 0;
  Position first;  // 0 when nothing was set aside
  Position last;
  std::vector<std::string> idempotency_keys;  // "<merchant>:<key>" of the commands set aside
};

struct StoreStats {
  uint64_t batches_committed = 0;
  uint64_t events_committed = 0;
  uint64_t wal_syncs = 0;  // RocksDB's WAL_FILE_SYNCED ticker
  uint64_t commands_rejected = 0;
  // Stream-index rows this open wrote back from the events (a crash between a batch's
  // sync and its index write leaves them out; see RocksStore::RebuildStreamIndexTail).
  uint64_t stream_index_rows_rebuilt = 0;
  uint64_t log_watchers = 0;  // registered now (AddLogWatcher); one per running publisher
};

enum class ReadDirection { kForward, kBackward };

// Where one stored batch (one group commit, one Kafka message) lies.
struct BatchInfo {
  Position first;
  Position last;
  Epoch epoch;
  int64_t kafka_offset = -1;  // -1 until a log reader has seen it in Kafka
};

// The limits a command must keep whatever the store holds (kCommandEventsMax,
// kRecordBytesMax, one batch's kBatchBytesMax): TooLarge, or InvalidArgument for no events.
// AppendAsync checks them; a caller that folds a command into state of its own before
// appending (the sequencer) checks them first, since a command refused after that would
// leave its state ahead of the log.
Status CheckCommandLimits(const AppendCommand& command);

class EventStore {
 public:
  // Opens (or, with create_if_missing, creates) the store at options.path.
  // Errors: NotALedgerStore for a directory that holds something else or another shard;
  // Corruption when RocksDB or the head check finds damage; IOError. Nothing is changed
  // on error.
  static Result<std::unique_ptr<EventStore>> Open(const StoreOptions& options);

  virtual ~EventStore() = default;

  // Blocks until the command is durable or rejected.
  // Errors: InvalidArgument (no events, malformed record or stream id, disagreeing
  // envelope fields), TooLarge, VersionConflict, IdempotencyKeyReused, Unavailable (queue
  // full), IOError (the store then refuses all further appends), ShuttingDown.
  virtual Result<AppendResult> Append(AppendCommand command) = 0;

  // Same, answering through `done` on the store's notifier thread (or inline, when the
  // command is refused before it is queued). `done` must not block; it may call Append
  // again.
  virtual void AppendAsync(AppendCommand command,
                           std::function<void(Result<AppendResult>)> done) = 0;

  // Calls `done` once events through `through` may be acknowledged, as an append's answer
  // would be: under `replicated` once they are known canonical, and under the lease (when
  // StoreOptions::ack_requires_lease); NotWriter when the store is (or gets) fenced first.
  // For answers about events already written, maybe by an earlier sequencer or run: an
  // idempotent retry's first result, a repeated fact found in the state. `done` runs on
  // the caller's thread or one of the store's, and must not block.
  virtual void AnswerWhenAcknowledgeable(Position through, std::function<void(Status)> done) = 0;

  // OK when AppendAsync would queue a command now; else what it would answer (Unavailable:
  // the queue is at kAppendQueueCommandsMax or the answers awaiting the mark at
  // kAwaitingCanonicalCommandsMax; NotWriter when fenced; ShuttingDown). For the one thread
  // that appends (a writer's sequencer) the queue's room holds until it appends (only
  // appends fill it); the awaiting answers can still grow from commands already queued,
  // so such an appender also keeps its own unanswered commands below that bound. One
  // window is left: answers of an earlier appender that are still owed (a planned
  // demotion that timed out leaves a retired sequencer's) may fill the bound meanwhile.
  virtual Status ReadyToAppend() const = 0;

  // Sets the writer epoch patched into records from the next batch on (persisted at once):
  // for the shard's very first batch, WriterPromoted(1), which no other node can contend.
  virtual Status SetWriterEpoch(Epoch epoch) = 0;
  // A promotion attempt (DESIGN §8): records are patched with `epoch` from the next batch
  // on, but the epoch is stored only once a canonical batch of that epoch owned by this
  // node is confirmed. An attempt that loses (another node's batch takes the position)
  // fences the store, and a restart finds the old epoch (../shared/model's trace).
  // REQUIRES: epoch > writer_epoch().
  virtual Status AttemptPromotion(Epoch epoch) = 0;
  virtual Epoch writer_epoch() const = 0;

  virtual Head head() const = 0;

  // Up to `limit` (<= kReadEventsMax) events from `from` on, in position order.
  virtual Result<std::vector<StoredEvent>> ReadRange(Position from, size_t limit) const = 0;
  // The same, packed, for walks over the whole log: read without filling the block cache.
  Result<EventChunk> ScanRange(Position from, size_t limit) const {
    EventChunk out;
    LEDGER_RETURN_IF_ERROR(ScanRangeInto(from, limit, &out));
    return out;
  }
  // ScanRange into `out`, replacing what it held but keeping its buffers: a walk that hands
  // its chunks back reads the whole log without allocating (large blocks allocated and
  // freed per chunk cost a tenth of a verify under jemalloc).
  virtual Status ScanRangeInto(Position from, size_t limit, EventChunk* out) const = 0;

  // Up to `limit` events of `stream` starting at version `from` (forward: from, from+1, ..;
  // backward: from, from-1, ..; backward from 0 means from the last version).
  virtual Result<std::vector<StoredEvent>> ReadStream(const std::string& stream,
                                                      StreamVersion from,
                                                      ReadDirection direction,
                                                      size_t limit) const = 0;

  virtual Result<StreamVersion> StreamHead(const std::string& stream) const = 0;

  virtual Result<std::optional<IdempotencyEntry>> LookupIdempotency(
      const std::string& merchant, const std::string& key) const = 0;

  virtual StoreStats stats() const = 0;

  // Up to `limit` whole batches (encoded as published, see record_codec.h) whose first
  // position is at or after `from`, in order.
  virtual Result<std::vector<std::string>> ReadBatches(Position from, size_t limit) const = 0;

  // Up to `limit` batches' extents whose first position is at or after `from`, in order
  // (the batch index only; no events are read).
  virtual Result<std::vector<BatchInfo>> ReadBatchInfos(Position from, size_t limit) const = 0;

  // The follower's append path: writes a canonical batch exactly as its writer stored it
  // (positions, hashes, bytes), filling the same stream and idempotency indexes, in one
  // synced WriteBatch. When the store already holds those positions (a writer reading its
  // own batches back), the batch only confirms them: the bytes must be the same, and the
  // canonical mark moves; Diverged when they differ. REQUIRES for a new batch: no commands
  // are being appended to this store.
  // `after` is the canonical mark once the batch is applied (the log reader computes it);
  // it is stored in the same WriteBatch. Errors: InvalidArgument when the batch does not
  // start at head + 1, does not chain to the head, or `after` does not end where it does;
  // Corruption when it is broken inside; Unavailable when commands are in flight. Nothing
  // is written on error.
  virtual Status AppendCanonicalBatch(std::string_view batch_bytes, const CanonicalMark& after) = 0;

  // Fencing (DESIGN §8): a store that has a writer epoch is fenced by any canonical batch
  // that is not its own: from then on appends are refused with NotWriter, and answers
  // still waiting to be known canonical get NotWriter too (their batches never will be).
  // OK while not fenced.
  virtual Status fenced() const = 0;

  // The lease: acknowledgements may go out until `valid_until` (steady clock). Answers that
  // waited for it are released. No effect unless StoreOptions::ack_requires_lease.
  virtual void RenewLease(std::chrono::steady_clock::time_point valid_until) = 0;
  // Answers waiting for a valid lease (for metrics and tests).
  virtual size_t answers_awaiting_lease() const = 0;

  // True when no command is queued, being decided or being written.
  virtual bool idle() const = 0;
  // True while a command taken by Append or AppendAsync is not yet in the log (queued,
  // being decided into a batch or being written): head() does not cover it yet. A new
  // sequencer folds the log only once this is false (its state must hold every command an
  // earlier one handed over). Answers awaiting the canonical mark or the lease do not count.
  virtual bool appends_unwritten() const = 0;

  // True while acknowledgements may go out (always, without StoreOptions::ack_requires_lease).
  virtual bool lease_valid() const = 0;

  // Rejoining as a follower (DESIGN §8): a writer that was deposed, or a promotion attempt
  // that lost, sets aside its local events beyond the canonical mark in one synced
  // WriteBatch: events with their stream, idempotency and batch index entries move into the
  // quarantine family (keyed by position and the time of the rejoin, so a later rejoin
  // never overwrites an earlier one). Answers still owed get NotWriter; the writer epoch is
  // dropped (the node writes again only after a canonical WriterPromoted names it) and the
  // store is no longer fenced. Errors: Unavailable while commands are being appended (stop
  // the sequencer first); IOError. Nothing changes on error.
  virtual Result<QuarantineReport> RejoinAsFollower() = 0;
  // Quarantined events in position order (then by rejoin), for reports and tests.
  virtual Result<std::vector<StoredEvent>> ReadQuarantine(size_t limit) const = 0;

  // The canonical mark stored by the last AppendCanonicalBatch (position 0 if none).
  virtual CanonicalMark canonical_mark() const = 0;
  // Returns once the head (with `canonical`, the canonical mark) is past `seen`, or after
  // `timeout_ms`: a follower of the log (a projector) wakes when it moves instead of
  // polling.
  virtual void WaitForLogPast(Position seen, bool canonical, int timeout_ms) const = 0;
  // Calls `wake(head, canonical)` each time the head or the canonical mark moves (after
  // the move is visible to head() and canonical_mark()), until RemoveLogWatcher(id)
  // returns: for a thread that sleeps somewhere else than in WaitForLogPast (the publisher
  // sleeps in librdkafka's poll, which its delivery reports also end). `wake` runs on the
  // moving thread, under the store's locks (the watchers' own, and on some paths those
  // that order canonical marks and appends): it must be quick and must not call into the
  // store.
  using LogWatcher = std::function<void(Position head, Position canonical)>;
  virtual uint64_t AddLogWatcher(LogWatcher wake) = 0;
  virtual void RemoveLogWatcher(uint64_t id) = 0;

  // A topic that went back (DESIGN §6; the embedded cluster at every start): the log goes
  // on in a new incarnation of the partition from this store's own head. The canonical
  // mark becomes the head, owned by `owner` in `epoch`, with no Kafka offset; held answers
  // it now covers are released.
  virtual Status StartNewKafkaIncarnation(Epoch epoch, const std::string& owner) = 0;

  // The node's keyring (DESIGN §12), kept in this store's `keyring` column family, so that
  // a data key shares the write-ahead log of the events sealed under it: the synced write
  // of such an event makes the key durable too, and drawing a key costs no sync of its
  // own. The keyring must be closed before the store. Errors: InvalidArgument on a
  // read-only (secondary) store.
  virtual Result<std::unique_ptr<Keyring>> OpenKeyring(const SecretKey& secrets_key) = 0;

  // The id of the Kafka cluster this store's canonical mark refers to ("" before the first
  // contact); a different cluster means the topic went back (DESIGN §6).
  virtual std::string kafka_cluster_id() const = 0;
  virtual Status SetKafkaClusterId(const std::string& cluster_id) = 0;

  // Snapshots: derived data a reader may drop and rebuild from the log (the sequencer's
  // per-merchant event lists). Written without sync; never part of the chain.
  virtual Status PutSnapshot(const std::string& key, const std::string& value) = 0;
  virtual Result<std::optional<std::string>> GetSnapshot(const std::string& key) const = 0;
  virtual Status ClearSnapshots() = 0;
};

// Walks the chain from position 1 to the head: dense positions, each record's FlatBuffers
// verification and envelope position, each hash. OK, or Corruption naming the first bad
// position. Reads only; safe while the store is appended to.
Status VerifyChain(const EventStore& store, Position* verified_through);
// The same walk from the genesis up to `through` (0: the head), calling `also` for every
// event after its chain hash checked (its error stops the walk there) and `progress` every
// few thousand events. *verified_through is the last position whose every check passed,
// so the first bad position is *verified_through + 1.
Status VerifyChainThrough(const EventStore& store, Position through, Position* verified_through,
                          const std::function<Status(Position, const Sha256Digest&, const schema::Event&)>& also,
                          const std::function<void(Position)>& progress);

}  // namespace ledger
