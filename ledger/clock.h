// Time behind an interface, so tests can fake it. Only the group commit reads it, once
// per batch (recorded-at); decisions never do.
#pragma once

#include <cstdint>

namespace ledger {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMicros() = 0;  // microseconds since the Unix epoch
};

// The system's real-time clock. Thread-safe; never destroyed.
Clock* SystemClock();

}  // namespace ledger
