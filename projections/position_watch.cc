#include "projections/position_watch.h"

#include <chrono>
#include <utility>
#include <vector>

namespace projections {

void PositionWatch::When(ledger::Position position, Done done) {
  bool now = false, reached = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_ || applied_ >= position || waiting_.size() >= kPositionWatchPendingMax) {
      now = true;
      reached = applied_ >= position;
    } else {
      waiting_.emplace(position.value(), std::move(done));
    }
  }
  if (now) done(reached);  // outside the lock: `done` may take locks of its own
}

bool PositionWatch::WaitFor(ledger::Position position, int timeout_ms) const {
  std::unique_lock<std::mutex> lock(mu_);
  moved_.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return applied_ >= position || closed_; });
  return applied_ >= position;
}

void PositionWatch::Advance(ledger::Position position) {
  std::vector<Done> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (position <= applied_) return;
    applied_ = position;
    const auto end = waiting_.upper_bound(applied_.value());
    for (auto it = waiting_.begin(); it != end; ++it) due.push_back(std::move(it->second));
    waiting_.erase(waiting_.begin(), end);
  }
  moved_.notify_all();
  for (Done& d : due) d(true);
}

void PositionWatch::Close() {
  std::vector<Done> due;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    for (auto& [at, d] : waiting_) due.push_back(std::move(d));
    waiting_.clear();
  }
  moved_.notify_all();
  for (Done& d : due) d(false);
}

size_t PositionWatch::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return waiting_.size();
}

}  // namespace projections
