#include "api/rate_limit.h"

#include <algorithm>

namespace api {

bool RateLimiter::Allow(const std::string& key_id) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (buckets_.size() >= kRateLimitedKeysMax && !buckets_.count(key_id)) buckets_.clear();  // full buckets again
  Bucket& b = buckets_[key_id];
  const double elapsed_s = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(kRequestBurstPerKey, b.tokens + elapsed_s * kRequestsPerSecondPerKey);
  b.at = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

}  // namespace api
