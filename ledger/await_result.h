// Blocking on an asynchronous call that answers once through a callback: the one place the
// blocking wrappers (EventStore::Append, Sequencer::Execute) wait.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <optional>

#include "ledger/status.h"

namespace ledger {

// Calls `start(done)` and waits until `done` has been called (from any thread, possibly
// inline), then returns what it was given.
template <typename T>
Result<T> AwaitResult(const std::function<void(std::function<void(Result<T>)>)>& start) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<Result<T>> answer;
  start([&](Result<T> r) {
    std::lock_guard<std::mutex> lock(mu);
    answer.emplace(std::move(r));
    cv.notify_one();
  });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return answer.has_value(); });
  return std::move(*answer);
}

}  // namespace ledger
