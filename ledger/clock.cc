#include "ledger/clock.h"

#include <chrono>
#include <ctime>

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

}  // namespace ledger
