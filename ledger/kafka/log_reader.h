// The shared log reader (DESIGN §6): follows one shard's partition of `ledger.events`
// from the store's canonical mark, judges every batch with the canonical rule, and appends
// the canonical ones through the store's follower path (which stores the Kafka offset with
// them). Non-canonical batches are skipped and counted by reason.
//
// A reader never skips offsets it has not seen: it resumes at the stored offset + 1 with
// `auto.offset.reset=error`; when those offsets have left Kafka it catches up from an event
// store that has them (with their offsets), if it was given one, and otherwise stops and
// says so. A batch that is broken inside stops it too.
//
// A writer's store holds its own batches before they are canonical: reading them back
// confirms them (same bytes) and moves the store's canonical mark; a canonical batch that
// differs from local events stops the reader with Diverged (the node then rejoins as a
// follower: EventStore::RejoinAsFollower). Thread-safety: all methods may be called from any thread.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/kafka/client_options.h"

namespace ledger::kafka {

using LogReaderOptions = ClientOptions;

inline constexpr double kLagBucketsMs[] = {1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500};

// Where a reader takes canonical batches whose offsets have left Kafka (DESIGN §8): a
// store that holds them (a peer's checkpoint, the writer's store in tests) or, in a
// standby, the writer's GET /v1/log. Called on the reader's thread; may block.
class CatchUpSource {
 public:
  struct Batch {
    std::string bytes;         // encoded as published (record_codec.h)
    int64_t kafka_offset = -1;  // where the batch lies in the partition
  };
  virtual ~CatchUpSource() = default;
  // Up to `limit` canonical batches whose first position is `from` or later, in order
  // (empty: nothing more). The reader judges each by the canonical rule all the same.
  virtual Result<std::vector<Batch>> ReadCanonical(Position from, size_t limit) = 0;
  // Called from another thread when the reader is stopped: a ReadCanonical in progress
  // (say, waiting on a dead peer) returns soon, with any status, and later ones at once.
  // The reader's destruction must not wait out a remote source's retries.
  virtual void Cancel() {}
};

// A store as a catch-up source: its batches up to its canonical mark. `store` must
// outlive the source.
std::unique_ptr<CatchUpSource> StoreCatchUpSource(const EventStore* store);

class LogReader {
 public:
  // Starts reading into `store` (which must outlive the reader). With `lease_ms` > 0 the
  // reader also keeps the writer's lease (DESIGN §6): every lease_ms / 4 it asks Kafka for
  // the partition's end, and once it has read up to that end it renews the store's lease
  // until the instant it asked plus lease_ms. A writer cut off from Kafka thus stops
  // acknowledging within lease_ms (half of --failover-after-ms).
  // With `catch_up` (see CatchUpSource), offsets that have left Kafka are taken from there,
  // judged by the same rule, before the reader follows Kafka again.
  static Result<std::unique_ptr<LogReader>> Start(const LogReaderOptions& options, EventStore* store,
                                                  int lease_ms = 0, std::unique_ptr<CatchUpSource> catch_up = nullptr);
  ~LogReader();  // stops the reader

  struct Stats {
    uint64_t canonical = 0;
    std::map<std::string, uint64_t> skipped;  // by verdict
    Status stopped;                           // OK while running
    uint64_t lease_renewals = 0;
    // The partition's end offset as Kafka last answered the lease's question (-1: Kafka has
    // not answered yet), so a caller can tell "no broker answers" from "still reading".
    int64_t end_offset = -1;
    // The positions of the batches read from Kafka, canonical or not (0: none yet): the
    // first batch's first position and the highest last position. A copy that begins empty
    // learns from them what the partition holds when none of it chains to genesis.
    Position first_read;
    Position last_read;
    uint64_t caught_up_from_store = 0;  // canonical batches taken from the catch-up source
    // Follow lag: from the writer deciding a batch's last record (its clock) to this reader
    // applying the batch, per canonical batch from Kafka; counts per bucket of kLagBucketsMs
    // (the last one: beyond them).
    std::vector<uint64_t> lag_buckets = std::vector<uint64_t>(std::size(kLagBucketsMs) + 1, 0);
    double lag_sum_s = 0;
  };
  Stats stats() const;

  // Step 1 of a promotion or a writer's start (DESIGN §8): asks Kafka for the partition's
  // end and waits until every batch before it was read and judged. The reader's stop
  // reason when it stopped (e.g. Diverged), Unavailable on timeout or when Kafka does not
  // answer.
  Status ReadToEnd(int timeout_ms) const;

  // Waits until the store's canonical position reaches `position`; false on timeout or when
  // the reader stopped.
  bool WaitFor(Position position, int timeout_ms) const;

 private:
  LogReader() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger::kafka
