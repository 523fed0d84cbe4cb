// PositionWatch: callbacks run once, when their position is applied, at once when it
// already is, and with reached = false when the watch closes first; WaitFor blocks until
// the same.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "projections/position_watch.h"

using ledger::Position;
using projections::PositionWatch;

namespace {

struct Calls {
  std::vector<std::pair<int, bool>> seen;  // (tag, reached)
  PositionWatch::Done Tag(int tag) {
    return [this, tag](bool reached) { seen.emplace_back(tag, reached); };
  }
};

TEST(PositionWatch, CallsEachWaiterOnceWhenItsPositionIsApplied) {
  PositionWatch w;
  Calls c;
  w.When(Position(5), c.Tag(5));
  w.When(Position(3), c.Tag(3));
  w.When(Position(7), c.Tag(7));
  EXPECT_TRUE(c.seen.empty());
  w.Advance(Position(4));
  ASSERT_EQ(c.seen.size(), 1u);
  EXPECT_EQ(c.seen[0], std::make_pair(3, true));
  w.Advance(Position(2));  // never goes back
  EXPECT_EQ(c.seen.size(), 1u);
  w.Advance(Position(6));
  ASSERT_EQ(c.seen.size(), 2u);
  EXPECT_EQ(c.seen[1], std::make_pair(5, true));
  EXPECT_EQ(w.pending(), 1u);
  w.When(Position(6), c.Tag(6));  // already applied: at once
  ASSERT_EQ(c.seen.size(), 3u);
  EXPECT_EQ(c.seen[2], std::make_pair(6, true));
  w.Advance(Position(7));
  ASSERT_EQ(c.seen.size(), 4u);
  EXPECT_EQ(c.seen[3], std::make_pair(7, true));
  w.Advance(Position(100));
  EXPECT_EQ(c.seen.size(), 4u);  // once only
  EXPECT_EQ(w.pending(), 0u);
}

TEST(PositionWatch, ClosingAnswersThePendingOnesNotReached) {
  PositionWatch w;
  Calls c;
  w.Advance(Position(10));
  w.When(Position(20), c.Tag(20));
  w.Close();
  ASSERT_EQ(c.seen.size(), 1u);
  EXPECT_EQ(c.seen[0], std::make_pair(20, false));
  w.When(Position(30), c.Tag(30));  // closed: at once, not reached
  w.When(Position(10), c.Tag(10));  // closed, but applied before: reached
  ASSERT_EQ(c.seen.size(), 3u);
  EXPECT_EQ(c.seen[1], std::make_pair(30, false));
  EXPECT_EQ(c.seen[2], std::make_pair(10, true));
  w.Advance(Position(40));
  EXPECT_EQ(c.seen.size(), 3u);
}

TEST(PositionWatch, PastItsBoundARequestIsAnsweredAtOnceNotReached) {
  PositionWatch w;
  w.Advance(Position(2));
  size_t not_reached = 0, reached = 0;
  const auto count = [&](bool r) { ++(r ? reached : not_reached); };
  for (size_t i = 0; i < projections::kPositionWatchPendingMax + 10; ++i) w.When(Position(5), count);
  EXPECT_EQ(w.pending(), projections::kPositionWatchPendingMax);
  EXPECT_EQ(not_reached, 10u);
  EXPECT_EQ(reached, 0u);
  w.When(Position(2), count);  // at the bound, but applied: reached
  EXPECT_EQ(reached, 1u);
  w.Advance(Position(5));
  EXPECT_EQ(reached, projections::kPositionWatchPendingMax + 1);
  EXPECT_EQ(not_reached, 10u);
  EXPECT_EQ(w.pending(), 0u);
  w.When(Position(6), count);  // room again: waits
  EXPECT_EQ(w.pending(), 1u);
}

TEST(PositionWatch, WaitersFromManyThreadsAreEachCalledExactlyOnce) {
  PositionWatch w;
  constexpr int kThreads = 4, kEach = 2000;
  std::atomic<int> reached{0}, calls{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 1; i <= kEach; ++i)
        w.When(Position(static_cast<uint64_t>(i * kThreads + t)), [&](bool r) {
          calls++;
          if (r) reached++;
        });
    });
  std::thread advancer([&] {
    for (uint64_t p = 1; p <= kThreads * kEach + kThreads; ++p) w.Advance(Position(p));
  });
  for (auto& t : threads) t.join();
  advancer.join();
  w.Advance(Position(kThreads * kEach + kThreads));
  EXPECT_EQ(calls.load(), kThreads * kEach);
  EXPECT_EQ(reached.load(), kThreads * kEach);
  EXPECT_EQ(w.pending(), 0u);
}

TEST(PositionWatch, WaitForReturnsWhenThePositionIsAppliedOrTheWatchClosesShortOfIt) {
  using Clock = std::chrono::steady_clock;
  PositionWatch w;
  w.Advance(Position(5));
  EXPECT_TRUE(w.WaitFor(Position(5), 0));
  EXPECT_FALSE(w.WaitFor(Position(6), 10));  // times out
  // Woken by an Advance on another thread, long before its (long) timeout.
  const auto started = Clock::now();
  std::thread advancer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    w.Advance(Position(7));  // past it
  });
  EXPECT_TRUE(w.WaitFor(Position(6), 60000));
  advancer.join();
  EXPECT_LT(Clock::now() - started, std::chrono::seconds(30));
  // Woken by Close, not reached; once closed, answered at once.
  std::thread closer([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    w.Close();
  });
  const auto waited = Clock::now();
  EXPECT_FALSE(w.WaitFor(Position(9), 60000));
  closer.join();
  EXPECT_LT(Clock::now() - waited, std::chrono::seconds(30));
  EXPECT_FALSE(w.WaitFor(Position(9), 60000));
  EXPECT_TRUE(w.WaitFor(Position(7), 60000));  // applied before closing
}

}  // namespace
