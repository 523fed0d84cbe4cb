#include "ledger/clock.h"

#include <chrono>
#include <ctime>
#include <optional>

namespace ledger {
namespace {
class RealClock final : public Clock {
 public:
  int64_t NowMicros() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};
}  // namespace

Clock* SystemClock() {
  static RealClock clock;
  return &clock;
}

Result<int64_t> ParseUtcTimestampUs(const std::string& text) {
  // YYYY-MM-DDTHH:MM:SS[.f{1,6}]Z
  if (text.size() < 20 || text.size() > 27 || text.back() != 'Z') return Status::InvalidArgument("not a UTC timestamp");
  auto digits = [&](size_t at, size_t n, int* out) {
    int v = 0;
    for (size_t i = at; i < at + n; ++i) {
      if (text[i] < '0' || text[i] > '9') return false;
      v = v * 10 + (text[i] - '0');
    }
    *out = v;
    return true;
  };
  int year, month, day, hour, minute, second;
  if (!digits(0, 4, &year) || text[4] != '-' || !digits(5, 2, &month) || text[7] != '-' || !digits(8, 2, &day) ||
      text[10] != 'T' || !digits(11, 2, &hour) || text[13] != ':' || !digits(14, 2, &minute) || text[16] != ':' ||
      !digits(17, 2, &second))
    return Status::InvalidArgument("not a UTC timestamp");
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60)
    return Status::InvalidArgument("not a UTC timestamp");
  int64_t micros = 0;
  if (text.size() > 20) {
    if (text[19] != '.' || text.size() == 21) return Status::InvalidArgument("not a UTC timestamp");
    const size_t n = text.size() - 21;
    int f = 0;
    if (!digits(20, n, &f)) return Status::InvalidArgument("not a UTC timestamp");
    micros = f;
    for (size_t i = n; i < 6; ++i) micros *= 10;
  }
  std::tm tm{};
  tm.tm_year = year - 1900;
  tm.tm_mon = month - 1;
  tm.tm_mday = day;
  tm.tm_hour = hour;
  tm.tm_min = minute;
  tm.tm_sec = second;
  const time_t seconds = timegm(&tm);
  if (tm.tm_mday != day) return Status::InvalidArgument("not a UTC timestamp");  // 2024-02-31 rolls over
  return static_cast<int64_t>(seconds) * 1000000 + micros;
}

namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// The offset at the end of an RFC 3339 date-time, in seconds east of UTC, with the length
// of its text: "Z" or "z" is 0 (1 character), "+HH:MM" / "-HH:MM" (6). nullopt when the
// text ends in neither.
struct Offset {
  int64_t seconds = 0;
  size_t length = 0;
};
std::optional<Offset> TrailingOffset(const std::string& text) {
  const size_t n = text.size();
  if (n > 0 && (text[n - 1] == 'Z' || text[n - 1] == 'z')) return Offset{0, 1};
  if (n < 6) return std::nullopt;
  const char sign = text[n - 6];
  if ((sign != '+' && sign != '-') || !IsDigit(text[n - 5]) || !IsDigit(text[n - 4]) || text[n - 3] != ':' ||
      !IsDigit(text[n - 2]) || !IsDigit(text[n - 1]))
    return std::nullopt;
  const int hours = (text[n - 5] - '0') * 10 + (text[n - 4] - '0');
  const int minutes = (text[n - 2] - '0') * 10 + (text[n - 1] - '0');
  if (hours > 23 || minutes > 59) return std::nullopt;
  const int64_t seconds = hours * 3600 + minutes * 60;
  return Offset{sign == '+' ? seconds : -seconds, 6};
}

}  // namespace

Result<int64_t> ParseRfc3339TimestampUs(const std::string& text) {
  const Status bad = Status::InvalidArgument("not an RFC 3339 timestamp");
  const std::optional<Offset> offset = TrailingOffset(text);
  if (!offset) return bad;
  // The local date and time, written as the UTC form ParseUtcTimestampUs reads.
  std::string utc = text.substr(0, text.size() - offset->length);
  if (utc.size() > 10 && utc[10] == 't') utc[10] = 'T';
  // Fractional seconds finer than a microsecond (RFC 3339 allows any number of digits):
  // checked to be digits, then cut to six.
  if (utc.size() > 26 && utc[19] == '.') {
    for (size_t i = 26; i < utc.size(); ++i)
      if (!IsDigit(utc[i])) return bad;
    utc.resize(26);
  }
  auto local = ParseUtcTimestampUs(utc + "Z");
  if (!local.ok()) return bad;
  // Local time = UTC + offset, so UTC = local - offset.
  return *local - offset->seconds * 1000000;
}

}  // namespace ledger
