// The sequencer: one decision thread in front of the event store (DESIGN §5).
//
// Commands wait in a bounded queue. The decision thread checks the idempotency key, decides
// the command against the domain state, applies the resulting events to that state at once
// (so the next command sees them) and hands the records to the store, whose group commit
// makes them durable together with whatever else was decided meanwhile. A caller is
// answered once its events are durable (on the store's notifier thread), with their
// positions, or at once with the rule error.
//
// State: platform state (recipes, outages, keys, subscribers) stays in memory; merchants'
// state is a cache of at most merchants_cached_max merchants. An evicted merchant's event
// positions are written as a snapshot; a miss reloads the merchant by folding exactly those
// events. At start the whole log is folded through the same bounded cache (snapshots of an
// earlier run are dropped first, since they may lag the log). A sequencer that replaces
// another on the same store (a writer whose demotion timed out goes on writing) folds only
// once the store has written every command the earlier one handed over: a fold that missed
// one would decide against a state without it (a second capture of the same payment).
// If the store ever refuses a command the state already includes, the sequencer stops
// deciding (Unavailable, failed()) until it is replaced by a new one, which refolds the
// state from the log (the writer's monitor does that, api/replicated_shard.cc).
//
// Thread-safety: Submit and Execute may be called from any thread.
#pragma once

#include <future>
#include <memory>

#include "ledger/domain/commands.h"
#include "ledger/event_store.h"
#include "ledger/record_codec.h"

namespace ledger::domain {

inline constexpr size_t kSequencerQueueCommandsMax = 4096;
inline constexpr size_t kMerchantsCachedMax = 10000;
// How long Start waits for commands an earlier sequencer handed to the store to be written
// (a sync takes milliseconds; this bounds a stalled disk).
inline constexpr int kSequencerStartWaitMs = 10000;

struct SequencerOptions {
  // Merchants whose state is kept in memory; the least recently used beyond this are
  // evicted (their event positions written as a snapshot) and reloaded on a miss.
  size_t merchants_cached_max = kMerchantsCachedMax;
  // See DecideContext::seal_personal: false only for the sealing benchmark's baseline.
  bool seal_personal = true;
  // See kSequencerStartWaitMs.
  int start_wait_ms = kSequencerStartWaitMs;
};

// A caller's condition on one stream (HTTP If-Match): the command is decided only if the
// stream is at exactly this version, else VersionConflict and nothing is written. A stream
// with writes still in flight is a conflict too (its version is about to change).
struct StreamCondition {
  std::string stream;
  StreamVersion version;
};

struct CommandRequest {
  std::string merchant_id;      // "" for platform commands
  std::string idempotency_key;  // may be empty
  Sha256Digest request_digest{};
  Uuid128 command_id;           // distinct per command (the API edge draws it)
  Command command;
  std::optional<StreamCondition> condition;
};

struct CommandResult {
  Position first_position;
  uint32_t event_count = 0;
  bool replayed = false;  // the idempotency key's first result; nothing new written
};

class Sequencer {
 public:
  // Folds the store's log into the state and starts the decision thread. `store` must
  // outlive the sequencer. When the log holds no fee recipe, publishes the default one.
  // Errors: Unavailable when commands handed to the store before (by a stopped sequencer)
  // are still not written after options.start_wait_ms; what the fold or the recipe meets.
  static Result<std::unique_ptr<Sequencer>> Start(EventStore* store, ShardId shard,
                                                  SequencerOptions options = {});
  virtual ~Sequencer() = default;
  // Stops deciding: the decision thread is joined and later commands are refused
  // (ShuttingDown). Answers the store still owes (callbacks into this object) may arrive
  // until the store is closed, so the object must outlive its store's shutdown.
  virtual void Stop() = 0;
  // True once Stop has returned and every answer the store owed this object has been
  // delivered: no callback into it is pending, so whoever holds it may let it go (the
  // writer's monitor drops the sequencers it retired; they used to be kept until the node
  // stopped, one folded state per replacement).
  virtual bool settled() const = 0;

  // `done` runs once, on an internal thread; it must not block.
  virtual void Submit(CommandRequest request, std::function<void(Result<CommandResult>)> done) = 0;
  // Blocks until the command is durable or refused.
  virtual Result<CommandResult> Execute(CommandRequest request) = 0;
  // Submit, the answer through a future: for callers that wait a bounded time (the answer
  // may wait for Kafka or the lease) and give up on it without blocking the sequencer.
  std::future<Result<CommandResult>> SubmitForFuture(CommandRequest request) {
    auto answer = std::make_shared<std::promise<Result<CommandResult>>>();
    auto future = answer->get_future();
    Submit(std::move(request), [answer](Result<CommandResult> r) { answer->set_value(std::move(r)); });
    return future;
  }

  struct CacheStats {
    uint64_t reloads = 0;
    uint64_t evictions = 0;
  };
  virtual CacheStats cache_stats() const = 0;
  // False once the sequencer has stopped deciding for good: the store refused or failed a
  // command the state already held, so the state is ahead of the log. A new sequencer on
  // the same store folds the log again (what restarting the node did).
  virtual bool failed() const = 0;
};

}  // namespace ledger::domain
