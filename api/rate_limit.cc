#include "api/rate_limit.h"

#include <algorithm>

namespace api {

bool RateLimiter::Allow(const std::string& key_id) {
  const auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(mu_);
  if (buckets_.size() >= kRateLimitedKeysMax && !buckets_.count(key_id)) buckets_.clear();  // full buckets again
  auto [it, added] = buckets_.try_emplace(key_id);
  Bucket& b = it->second;
  if (added) b.tokens = burst_;
  const double elapsed_s = std::chrono::duration<double>(now - b.at).count();
  b.tokens = std::min(burst_, b.tokens + elapsed_s * per_second_);
  b.at = now;
  if (b.tokens < 1) return false;
  b.tokens -= 1;
  return true;
}

}  // namespace api
