// DeadlineTimer: jobs run once, not before their deadline, in deadline order; a cancelled
// job never runs; Stop runs what is pending at once, and a job set after Stop runs at once.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <vector>

#include "api/deadline_timer.h"

using api::DeadlineTimer;
using Clock = std::chrono::steady_clock;

namespace {

TEST(DeadlineTimer, RunsJobsAtTheirDeadlinesInOrderAndNeverACancelledOne) {
  DeadlineTimer timer;
  std::mutex mu;
  std::vector<int> ran;
  std::vector<Clock::time_point> ran_at;
  std::promise<void> last;
  const Clock::time_point start = Clock::now();
  auto job = [&](int tag) {
    return [&, tag] {
      std::lock_guard<std::mutex> lock(mu);
      ran.push_back(tag);
      ran_at.push_back(Clock::now());
      if (tag == 3) last.set_value();
    };
  };
  // Set out of order; the second one set is the earliest and must wake the thread.
  timer.At(start + std::chrono::milliseconds(60), job(3));
  timer.At(start + std::chrono::milliseconds(20), job(1));
  const DeadlineTimer::Ticket cancelled = timer.At(start + std::chrono::milliseconds(30), job(99));
  timer.At(start + std::chrono::milliseconds(40), job(2));
  timer.Cancel(cancelled);
  ASSERT_EQ(last.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(ran, (std::vector<int>{1, 2, 3}));
  EXPECT_GE(ran_at[0], start + std::chrono::milliseconds(20)) << "a job ran before its deadline";
  EXPECT_GE(ran_at[2], start + std::chrono::milliseconds(60));
  EXPECT_EQ(timer.pending(), 0u);
}

TEST(DeadlineTimer, StopRunsPendingJobsAtOnceAndLaterOnesRunWhenSet) {
  DeadlineTimer timer;
  std::atomic<int> ran{0};
  timer.At(Clock::now() + std::chrono::hours(1), [&] { ran++; });
  timer.At(Clock::now() + std::chrono::hours(2), [&] { ran++; });
  const DeadlineTimer::Ticket forgotten = timer.At(Clock::now() + std::chrono::hours(3), [&] { ran += 100; });
  timer.Cancel(forgotten);
  EXPECT_EQ(timer.pending(), 2u);
  timer.Stop();
  EXPECT_EQ(ran.load(), 2) << "Stop runs each pending job once, and not a cancelled one";
  timer.At(Clock::now() + std::chrono::hours(1), [&] { ran++; });
  EXPECT_EQ(ran.load(), 3) << "a stopped timer runs a new job at once";
  timer.Stop();  // idempotent
  EXPECT_EQ(ran.load(), 3);
}

TEST(DeadlineTimer, AJobMaySetAndCancelOtherDeadlines) {
  DeadlineTimer timer;
  std::promise<void> second;
  std::atomic<bool> cancelled_ran{false};
  const DeadlineTimer::Ticket doomed =
      timer.At(Clock::now() + std::chrono::milliseconds(50), [&] { cancelled_ran = true; });
  timer.At(Clock::now(), [&] {
    timer.Cancel(doomed);
    timer.At(Clock::now() + std::chrono::milliseconds(100), [&] { second.set_value(); });
  });
  EXPECT_EQ(second.get_future().wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_FALSE(cancelled_ran.load()) << "a job cancelled by another job still ran";
}

}  // namespace
