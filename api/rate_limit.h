// Requests per second per key (DESIGN §9 limits): a token bucket per key id, refilled at
// the rate (default kRequestsPerSecondPerKey, `--rate-limit-per-key`) up to twice the rate
// (kRequestBurstPerKey by default). Thread-safe.
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <unordered_map>

namespace api {

inline constexpr double kRequestsPerSecondPerKey = 100;
inline constexpr double kRequestBurstPerKey = 200;
inline constexpr size_t kRateLimitedKeysMax = 100000;  // buckets kept; the oldest are dropped beyond

class RateLimiter {
 public:
  explicit RateLimiter(double per_second = kRequestsPerSecondPerKey) : per_second_(per_second), burst_(2 * per_second) {}
  double per_second() const { return per_second_; }
  // True when `key_id` may make one more request now (and takes its token).
  bool Allow(const std::string& key_id);

 private:
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now();
  };
  const double per_second_;
  const double burst_;
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // GUARDED_BY(mu_)
};

}  // namespace api
