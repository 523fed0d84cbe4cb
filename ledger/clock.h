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

// An RFC 3339 date-time as providers send it: the UTC forms above, or with a numeric offset
// ("2026-11-28T12:00:00+02:00", "-05:30", "-00:00"), converted to UTC; 'T' and 'Z' may be
// lower case (RFC 3339 §5.6) and fractional seconds past microseconds are truncated. As
// microseconds since the Unix epoch; InvalidArgument otherwise. For what providers send
// (PayPal's headers and dates); the ledger's own flags and queries keep to the UTC form.
Result<int64_t> ParseRfc3339TimestampUs(const std::string& text);

}  // namespace ledger
