// Tells callers when a projector has applied a position: blocking (WaitFor), or without
// a thread of theirs waiting (When): an HTTP write's answer callback (on the store's
// answer thread) asks to be called once the write is visible in the read models, so the
// route waiting for both wakes once instead of twice. Shared, since pending callbacks (held by a sequencer) may
// outlive the projector: a closed watch answers every request at once (reached only for
// a position it had applied before closing).
//
// Thread-safety: every method may be called from any thread.
#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>

#include "ledger/types.h"

namespace projections {

// Callbacks a watch keeps at once. One per write waiting for the read models: past this
// (read models stalled while writes keep being answered, as under `--ack local` with
// Kafka away) a request is answered at once, not reached, instead of memory growing
// without bound; its HTTP write then answers without the resource, as on a timeout.
inline constexpr size_t kPositionWatchPendingMax = 65536;

class PositionWatch {
 public:
  using Done = std::function<void(bool reached)>;

  // Calls done(true) once the applied position is at least `position`, at once (on this
  // thread) when it already is; done(false) when the watch closes first, and at once when
  // it is already closed and never applied `position`, or when kPositionWatchPendingMax
  // callbacks are already waiting. `done` runs on the projector's thread or the caller's:
  // it must not block.
  void When(ledger::Position position, Done done);

  // Waits, at most `timeout_ms`, until the applied position is at least `position`: true
  // then; false on timeout, or at once when the watch is closed short of it.
  bool WaitFor(ledger::Position position, int timeout_ms) const;

  // For the projector: the position it has applied (runs the callbacks it reaches; an
  // older position than one already given changes nothing), and its end (runs every
  // pending callback with false; later requests are answered false).
  void Advance(ledger::Position position);
  void Close();

  size_t pending() const;

 private:
  mutable std::mutex mu_;
  mutable std::condition_variable moved_;     // applied_ or closed_ changed
  ledger::Position applied_;                  // GUARDED_BY(mu_)
  bool closed_ = false;                       // GUARDED_BY(mu_)
  std::multimap<uint64_t, Done> waiting_;     // by position; GUARDED_BY(mu_)
};

}  // namespace projections
