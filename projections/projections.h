// The projections module's public header: the projector that keeps the four read models
// (DESIGN §7) of one shard, and the queries that read them (queries.h).
//
// A projector applies canonical events only. Its source is an event store holding the
// canonical log: the node's own store, bounded by the canonical mark its log reader keeps
// (a writer's events beyond the mark may still turn out non-canonical), or a store that is
// canonical by construction (a copy, an auditor's checkpoint), bounded by its head.
// Each read model lives in its own RocksDB under `dir/<name>`, with its position and Kafka
// offset committed in the same WriteBatch as its state; a model that is ahead of another
// after a crash skips what it already holds. Commits end at stored batch boundaries (one
// group commit, one Kafka message) whenever possible, so the digests recorded there are
// the ones an as-of rebuild finds.
//
// Thread-safety: position(), WaitFor(), stats() and the read models' reads may be called
// from any thread; CatchUp and Follow from one thread, not both at once.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/event_store.h"
#include "projections/position_watch.h"
#include "projections/read_model_store.h"

namespace projections {

// Events applied between two commits (a commit ends at the first batch boundary past it).
// A catch-up holds three spans and a txn per read model of this size: 8,192 cost a rebuild
// of all five ~50 MiB more peak memory and was no faster (DECISIONS §76).
inline constexpr size_t kApplyEventsMax = 2048;
// How long a following projector with nothing to apply waits for the log to move (it
// wakes as soon as the source's head or canonical mark does).
inline constexpr int kFollowWaitMaxMs = 20;

// The read models, in the order they are applied: the four of DESIGN §7 and `access` (the
// API keys, for the HTTP front).
const std::vector<std::string>& ReadModelNames();

enum class SourceBound {
  kCanonicalMark,  // events up to the store's canonical mark (a node's own store)
  kHead,           // every stored event (a store that holds only canonical events)
};

struct ProjectorOptions {
  std::string dir;
  std::vector<std::string> read_models;  // empty: all four
  SourceBound bound = SourceBound::kCanonicalMark;
  size_t apply_events_max = kApplyEventsMax;
  // kWriteUnlogged for a rebuild into a new directory (read_model_store.h): faster, and a
  // crash sends the stores back to their last flush. Flush() before relying on them.
  StoreAccess store_access = StoreAccess::kWrite;
};

struct ProjectorStats {
  uint64_t commits = 0;
  uint64_t catch_up_commits = 0;     // of those, spans a catch-up applied (a thread per read model)
  uint64_t events_applied = 0;
  ledger::Position source_position;  // the bound last seen
  ledger::Status stopped;            // why following stopped (OK while it runs)
};

class Projector {
 public:
  // Opens or creates the read models' stores. Errors as ProjectionStore::Open.
  static ledger::Result<std::unique_ptr<Projector>> Open(const ProjectorOptions& options);
  ~Projector();  // stops following

  // Applies the source's events after position() up to `until` (inclusive) and the bound,
  // returning when done. A live batch is applied on the calling thread; a catch-up runs
  // each read model on a worker thread of its own (DECISIONS §76). Errors: Corruption for
  // an unreadable event or one a read model cannot apply (position() stays before it;
  // other read models may hold a few spans past it, which a later catch-up skips);
  // IOError.
  ledger::Status CatchUp(const ledger::EventStore& source, ledger::Position until);

  // Follows the source on a thread of its own until destroyed or an error stops it
  // (stats().stopped). `source` must outlive the projector.
  void Follow(const ledger::EventStore* source);

  // Writes every read model's commits still only in memory to its tables (waits): what a
  // projector opened with kWriteUnlogged stores needs before its stores are relied on.
  ledger::Status Flush();

  // The lowest position every read model has reached.
  ledger::Position position() const;
  // Waits until position() >= `position`; false on timeout or when following stopped.
  bool WaitFor(ledger::Position position, int timeout_ms) const;
  // The same, as a callback (PositionWatch::When): closed when following stops or the
  // projector is destroyed. Shared: callers may keep it past the projector.
  std::shared_ptr<PositionWatch> position_watch() const;
  ProjectorStats stats() const;

  // nullptr for a name this projector does not keep.
  const ProjectionStore* read_model(std::string_view name) const;
  // The read models Open found written in another layout (an older build's) and dropped,
  // so that they are rebuilt from position 1 (for the node to say so).
  const std::vector<std::string>& read_models_rebuilding() const;

 private:
  Projector() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace projections
