// Runs jobs at deadlines on one thread of its own: the bounds of HTTP writes that answer
// later (a route returns, and the write's answer comes from the store's or the read
// models' thread; if neither comes in time, the deadline answers instead). Deadlines are
// mostly "now + a fixed bound" and most are cancelled long before they come, so the
// thread is woken only by a deadline earlier than the time it sleeps until (a cancelled
// one is only forgotten: the thread may wake for it once, and sleeps again).
//
// Thread-safety: every method may be called from any thread; jobs run on the timer's
// thread (or Stop's caller) and must not block.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <thread>
#include <utility>

namespace api {

class DeadlineTimer {
 public:
  using Clock = std::chrono::steady_clock;
  using Ticket = std::pair<Clock::time_point, uint64_t>;  // when, and which of those due then

  DeadlineTimer();
  ~DeadlineTimer();  // Stop()
  DeadlineTimer(const DeadlineTimer&) = delete;
  DeadlineTimer& operator=(const DeadlineTimer&) = delete;

  // Runs `job` at `when` (or soon after) unless cancelled first; at once, on this thread,
  // once the timer has stopped.
  Ticket At(Clock::time_point when, std::function<void()> job);
  // Forgets the job (nothing when it already ran or is running).
  void Cancel(const Ticket& ticket);
  // Runs every pending job now, on this thread, in deadline order, and joins the thread.
  // Idempotent.
  void Stop();

  size_t pending() const;

 private:
  void Run();
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<Ticket, std::function<void()>> jobs_;  // GUARDED_BY(mu_)
  uint64_t next_ = 0;                             // GUARDED_BY(mu_)
  // When the thread wakes by itself (max: it sleeps until woken; min: it is awake).
  Clock::time_point wake_at_ = Clock::time_point::min();  // GUARDED_BY(mu_)
  bool stopped_ = false;                          // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace api
