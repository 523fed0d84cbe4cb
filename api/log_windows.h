// Windows of the log kept for one round of the webhook sender: subscribers at a few
// positions far apart (one caught up, one replaying a backlog) each read from a window of
// their own instead of re-reading thousands of events at every turn. Least recently used
// goes first. A window's events stay put while it is kept (the room is reserved up front),
// so a pointer Read gave stays valid until that window is replaced. Single-threaded.
#pragma once

#include <cstdint>
#include <functional>
#include <vector>

#include "ledger/event_store.h"

namespace api {

class LogWindows {
 public:
  // Reads up to `limit` events from `from` (the store's ReadRange).
  using ReadFn = std::function<ledger::Result<std::vector<ledger::StoredEvent>>(ledger::Position from, size_t limit)>;

  LogWindows(size_t windows_kept, uint64_t window_events, ReadFn read);

  // The events from `from` up to `bound` (inclusive): a kept window holding `from`, else
  // one read into the least recently used window. *skip is the index of `from` in it.
  // nullptr when the read failed. REQUIRES: from <= bound.
  const std::vector<ledger::StoredEvent>* Read(uint64_t from, uint64_t bound, size_t* skip);

  uint64_t reads() const { return reads_; }  // reads of the log so far

 private:
  struct Window {
    uint64_t from = 0;  // position of events[0]
    std::vector<ledger::StoredEvent> events;
    uint64_t last_used = 0;
  };
  const size_t windows_kept_;
  const uint64_t window_events_;
  const ReadFn read_;
  std::vector<Window> kept_;
  uint64_t uses_ = 0;
  uint64_t reads_ = 0;
};

}  // namespace api
