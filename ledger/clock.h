// Time behind an interface, so tests can fake it. Only the group commit reads it, once
// per batch (recorded-at); decisions never do.
#pragma once

#include <cstdint>
#include <string>

#include "ledger/status.h"

namespace ledger {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual int64_t NowMicros() = 0;  // microseconds since the Unix epoch
};

// The system's real-time clock. Thread-safe; never destroyed.
Clock* SystemClock();

// "2024-03-14T21:04:00Z" or with fractional seconds ("...:00.123Z"), UTC only, as
// microseconds since the Unix epoch; InvalidArgument otherwise.
Result<int64_t> ParseUtcTimestampUs(const std::string& text);

}  // namespace ledger
