// Requests per second per key (DESIGN §9 limits): a token bucket per key id, refilled at
// kRequestsPerSecondPerKey up to kRequestBurstPerKey. Thread-safe.
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
  // True when `key_id` may make one more request now (and takes its token).
  bool Allow(const std::string& key_id);

 private:
  struct Bucket {
    double tokens = kRequestBurstPerKey;
    std::chrono::steady_clock::time_point at = std::chrono::steady_clock::now();
  };
  std::mutex mu_;
  std::unordered_map<std::string, Bucket> buckets_;  // GUARDED_BY(mu_)
};

}  // namespace api
