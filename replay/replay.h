// ledger-replay's operations (DESIGN §10), as a library the command line (and the tests)
// call: verify a log, take a digest, rebuild a read model as of a position or time, diff
// two read-model directories, export events. Each reads an EventStore, normally opened
// read-only as a RocksDB secondary instance so it can run beside a live node
// (OpenForReplay). Errors as Status values; an integrity failure is not an error but a
// report naming the first bad position.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/event_store.h"
#include "schemas/ledger_generated.h"

namespace replay {

// Called with (done, total) every few thousand events, and at the end.
using Progress = std::function<void(uint64_t done, uint64_t total)>;

// Set by the caller to stop an operation (ledger-replay sets it on SIGTERM or SIGINT, from
// a signal handler, which may do no more than that). The long loops check it between steps
// and return ShuttingDown without a report. nullptr: never stops.
using StopFlag = const std::atomic<bool>*;
// ShuttingDown once `stop` is set, else OK. A relaxed load: cheap enough for every event.
inline ledger::Status CheckStop(StopFlag stop) {
  if (stop == nullptr || !stop->load(std::memory_order_relaxed)) return ledger::Status::Ok();
  return ledger::Status::ShuttingDown("stopped on request");
}

// Opens the store at `store_dir` read-only (a secondary instance whose files go under
// `scratch_dir`, which must be writable and not shared). Errors as EventStore::Open.
ledger::Result<std::unique_ptr<ledger::EventStore>> OpenForReplay(const std::string& store_dir, const std::string& scratch_dir,
                                                                  uint32_t shard = 0);

// How long a copy from Kafka waits for a broker to answer at all (an unreachable bootstrap
// must not hold an auditor's run: probed, 127.0.0.1:1 waited out the whole timeout_s).
inline constexpr int kKafkaAnswerTimeoutMs = 30000;

// The canonical log of `shard` read from Kafka through the shared log reader (which checks
// the chain and skips non-canonical and duplicate batches) into a new store under
// `scratch_dir`, up to the partition's end as Kafka reports it once reading began. The
// store is the copy's; every operation below works on it. Unavailable when no broker
// answers within `answer_timeout_ms` or the partition is not read to its end within
// `timeout_s`. Corruption when the partition holds batches but none of them continues the
// chain from genesis (a topic that begins after position 1, as a new embedded cluster's
// does): an empty copy must not stand for the log the topic holds.
struct KafkaSource {
  std::string bootstrap;
  std::vector<std::pair<std::string, std::string>> properties;  // librdkafka settings
  uint32_t shard = 0;
  int timeout_s = 600;
  int answer_timeout_ms = kKafkaAnswerTimeoutMs;
  StopFlag stop = nullptr;  // checked while waiting for the partition's end
};
ledger::Result<std::unique_ptr<ledger::EventStore>> CopyFromKafka(const KafkaSource& source, const std::string& scratch_dir,
                                                                  const Progress& progress = nullptr);

// ---- how far a store is read ----

// DESIGN §6: replay reads Kafka, or a store up to its canonical mark, never past it. A
// writer's own store (live, stopped or deposed) may hold events beyond its mark that no log
// reader has confirmed: a rejoin sets them aside (quarantine), so they never became part of
// the log and an auditor's rebuild, export or digest must not show them.
enum class Through {
  kCanonical,  // through the store's canonical mark (the default)
  // Every stored event: for a store never published to Kafka (a test's or a benchmark's,
  // written through a sequencer alone), or a stopped node whose mark lags its head (marks
  // are written without sync, DECISIONS 33). What lies beyond the mark is not known canonical.
  kHead,
};

// The positions an operation reads, 1..last, and what the store holds beyond them.
struct ReadBound {
  Through through = Through::kCanonical;
  ledger::Position last;       // the canonical mark, or the head under kHead
  ledger::Position canonical;  // the store's canonical mark (0: none)
  ledger::Position head;       // the store's head
  // Stored events beyond the canonical mark left unread (0 under kHead, which reads them).
  uint64_t beyond_canonical() const { return head.value() - last.value(); }
};

// Where `store` is read to under `through`. InvalidArgument, naming --through head, when
// `through` is kCanonical and the store holds events but no canonical mark: nothing in it
// is known to be part of the log, and an empty rebuild or export must not stand for it. A
// copy from Kafka (CopyFromKafka) is canonical throughout: its mark is its head.
ledger::Result<ReadBound> BoundOf(const ledger::EventStore& store, Through through);
// Where `bound` ends, for refusing a position beyond it: "the log ends at position N", and
// under kCanonical with events beyond the mark, that they are not known to be part of the
// log and --through head reads them.
std::string DescribeEnd(const ReadBound& bound);

// ---- verify ----

struct KeptDigest {  // a digest kept outside the system: "POSITION:HASH"
  ledger::Position position;
  ledger::Sha256Digest hash{};
};
std::optional<KeptDigest> ParseKeptDigest(const std::string& text);

struct VerifyOptions {
  // Every digest is checked; the first to fail in position order is the one reported.
  std::vector<KeptDigest> against;
  Progress progress;
  StopFlag stop = nullptr;  // checked at every event
};

struct VerifyReport {
  bool intact = false;
  uint64_t events = 0;             // events that passed every check
  ledger::Position through;        // the last of them
  ledger::Sha256Digest through_hash{};
  ledger::Position first_bad;      // 0 when intact
  std::string reason;              // why first_bad is bad (or what the kept digest showed)
  ledger::Position canonical_position;  // the store's canonical mark (0: none), for the summary
};

// The chain (previous hash, position, record), dense positions, every record's FlatBuffers
// verification, whole commands, writer epochs never going down, every posting well formed
// (positive amount, a known-looking currency, two different accounts: one debit, one
// credit, so every event balances), and, with `against`, that the log still holds each of
// those digests. Every stored event is checked, beyond the canonical mark too (the chain
// is the store's, whatever a rejoin later sets aside); the report names the mark. Errors
// only for I/O; damage is in the report.
ledger::Result<VerifyReport> Verify(const ledger::EventStore& store, const VerifyOptions& options);

// The event at `at` (kept in *out, which the returned event points into), verified.
// Corruption when it is missing or does not verify.
ledger::Result<const ledger::schema::Event*> ReadEventAt(const ledger::EventStore& store, ledger::Position at,
                                                        ledger::StoredEvent* out);

// ---- digest ----

struct Digest {
  ledger::Position position;
  ledger::Sha256Digest hash{};
  int64_t recorded_at_us = 0;
};
// The chain hash at `at` (0: the last position `through` reads, BoundOf). NotFound beyond
// it (beyond the canonical mark, under kCanonical: naming --through head); BoundOf's
// InvalidArgument.
ledger::Result<Digest> DigestAt(const ledger::EventStore& store, ledger::Position at, Through through);
// "<position>:<hex hash>", the form verify --against takes.
std::string FormatDigest(const Digest& d);

// The last position recorded at or before `time_us` (0 when none) among those `through`
// reads. BoundOf's errors.
ledger::Result<ledger::Position> PositionAtTime(const ledger::EventStore& store, int64_t time_us, Through through);

// ---- rebuild ----

struct RebuildOptions {
  std::string projection;     // one of projections::ReadModelNames()
  Through through = Through::kCanonical;  // how far the store is read (BoundOf)
  ledger::Position as_of;     // inclusive; 0: the last position read (the canonical mark, or
                              // the head under kHead). Must end a command (InvalidArgument
                              // otherwise: a state inside a command never existed)
  std::string out_dir;        // must not exist yet, not even as a symlink; "dir/" is dir
  Progress progress;
  StopFlag stop = nullptr;    // checked between steps of 200,000 events and before out_dir
                              // is given its name
};
struct RebuildReport {
  ledger::Position position;
  ledger::Sha256Digest digest{};  // the read model's state digest at `position` (DESIGN §7)
  uint64_t events = 0;
  double seconds = 0;
  ReadBound bound;  // what was read, and what the store holds beyond the canonical mark
};
// The read model is built in a hidden directory beside out_dir (replay/out_file.h),
// synced, and renamed to out_dir once whole, never over anything: on any error, a stop
// included, nothing is at out_dir and the hidden directory is removed. InvalidArgument
// (before anything is written) when out_dir is taken or the options are refused (as_of
// beyond what `through` reads, BoundOf's refusal); IOError when something else created
// out_dir while the rebuild ran.
ledger::Result<RebuildReport> Rebuild(const ledger::EventStore& store, const RebuildOptions& options);

// ---- diff ----

struct Difference {
  std::string read_model;
  std::string key;
  std::string left;   // the value as JSON, "" when absent on that side
  std::string right;
};
// The position each side's store of a read model had applied (its progress) when diff
// opened it: two stores at different positions differ by what one has not applied yet.
struct ComparedPositions {
  std::string read_model;
  ledger::Position left, right;
};
struct DiffReport {
  std::vector<Difference> differences;  // at most `limit`
  uint64_t count = 0;                   // all of them
  std::vector<std::string> compared;    // the read models compared
  std::vector<ComparedPositions> positions;  // one per compared read model, in that order
  // Read models only one side holds (a rebuild of one read model beside a live projector's
  // five): not compared, and said, so that nobody takes "0 keys differ" for all of them.
  std::vector<std::string> only_left, only_right;
};
// Compares the read models present in both projection directories (as a projector or
// Rebuild writes them), key by key. `read_models` empty: every one both have. `stop` is
// checked at every key.
ledger::Result<DiffReport> Diff(const std::string& left_dir, const std::string& right_dir,
                                const std::vector<std::string>& read_models, size_t limit, StopFlag stop = nullptr);

// `text` (a read model's key, which may hold any bytes) as one line of printable ASCII, for
// diff's text output: backslash, newline, carriage return and tab as JSON writes them
// (\\ \n \r \t), every other byte outside 0x20..0x7e as \xNN. A key holding a newline or a
// terminal escape can neither break diff's lines nor forge one, and no two keys print alike.
std::string EscapeForLine(std::string_view text);

// ---- export ----

enum class ExportFormat { kCsv, kJsonLines };
struct ExportOptions {
  ExportFormat format = ExportFormat::kJsonLines;
  Through through = Through::kCanonical;  // how far the store is read (BoundOf)
  std::string stream_prefix;  // "" = all
  std::string event_type;     // e.g. "PaymentCaptured"; "" = all
  std::string tenant;         // merchant id; "" = all
  int64_t from_us = 0;        // recorded_at_us >= from_us
  int64_t to_us = 0;          // < to_us; 0 = no bound
  Progress progress;
  StopFlag stop = nullptr;    // checked between reads of kReadEventsMax events (and, by
                              // ExportToFile, before its file is given its name)
};
struct ExportReport {
  uint64_t scanned = 0;
  uint64_t exported = 0;
  uint64_t unsealed_personal = 0;  // exported events with personal fields written before sealing (key id 0)
  ReadBound bound;  // what was read, and what the store holds beyond the canonical mark
};
// InvalidArgument for options Export would refuse (so a caller can check before it opens
// an output file).
ledger::Status CheckExportOptions(const ExportOptions& options);
// Writes one line (or CSV row) per matching event of those `through` reads (BoundOf's
// refusal is InvalidArgument, before anything is written): position, stream, version,
// type, tenant, recorded at, writer epoch, anomaly, and the body as JSON. Personal fields are never
// written: a sealed one shows its key id, an unsealed one (key id 0, written before
// sealing) shows only that it was unsealed, and an erased customer's show "erased".
ledger::Result<ExportReport> Export(const ledger::EventStore& store, const ExportOptions& options, std::ostream& out);
// Export into a new file at `out_path`, written in a hidden file beside it (replay/out_file.h),
// synced, and renamed to out_path once whole, never over anything: on any error (a missing
// event, a full disk, a stop) nothing is at out_path and the hidden file is removed.
// InvalidArgument (before anything is written) when out_path is taken, ends in '/', or the
// options are refused (BoundOf's refusal included); IOError when something else created
// out_path while the export ran.
ledger::Result<ExportReport> ExportToFile(const ledger::EventStore& store, const ExportOptions& options,
                                          const std::string& out_path);

}  // namespace replay
