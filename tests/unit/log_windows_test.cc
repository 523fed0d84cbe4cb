// The webhook sender's windows of the log: subscribers far apart each keep a window (the
// log is read once per window, not at every turn), the least recently used goes first, a
// window ends at the round's bound, and a window's events stay put while it is kept.
#include "api/log_windows.h"

#include <gtest/gtest.h>

namespace {

using ledger::Position;
using ledger::Result;
using ledger::Status;
using ledger::StoredEvent;

// A log of `head` events whose record is its position in decimal; counts reads.
struct FakeLog {
  uint64_t head = 100000;
  bool failing = false;
  std::vector<std::pair<uint64_t, size_t>> reads;  // (from, limit)
  api::LogWindows::ReadFn Fn() {
    return [this](Position from, size_t limit) -> Result<std::vector<StoredEvent>> {
      reads.emplace_back(from.value(), limit);
      if (failing) return Status::IOError("injected");
      std::vector<StoredEvent> out;
      for (uint64_t p = from.value(); p <= head && out.size() < limit; ++p)
        out.push_back(StoredEvent{Position(p), {}, std::to_string(p)});
      return out;
    };
  }
};

uint64_t At(const std::vector<StoredEvent>* events, size_t skip) { return std::stoull((*events)[skip].record); }

TEST(LogWindows, SubscribersFarApartEachKeepTheirWindow) {
  FakeLog log;
  api::LogWindows windows(4, 4096, log.Fn());
  size_t skip = 0;
  // A caught-up subscriber near the head and one replaying from the start, turn by turn.
  for (uint64_t turn = 0; turn < 100; ++turn) {
    const auto* backlog = windows.Read(1 + turn, log.head, &skip);
    ASSERT_NE(backlog, nullptr);
    EXPECT_EQ(At(backlog, skip), 1 + turn);
    const auto* recent = windows.Read(99000 + turn, log.head, &skip);
    ASSERT_NE(recent, nullptr);
    EXPECT_EQ(At(recent, skip), 99000 + turn);
  }
  EXPECT_EQ(windows.reads(), 2u);
  ASSERT_EQ(log.reads.size(), 2u);
  EXPECT_EQ(log.reads[0], (std::pair<uint64_t, size_t>{1, 4096}));
  EXPECT_EQ(log.reads[1], (std::pair<uint64_t, size_t>{99000, 1001}));  // ends at the bound
}

TEST(LogWindows, TheLeastRecentlyUsedWindowIsReplacedAndTheOthersStayPut) {
  FakeLog log;
  api::LogWindows windows(2, 10, log.Fn());
  size_t skip = 0;
  const auto* a = windows.Read(1, log.head, &skip);
  const auto* b = windows.Read(100, log.head, &skip);
  const StoredEvent* a_first = &(*a)[0];
  ASSERT_EQ(windows.Read(5, log.head, &skip), a);  // a is used again: b is now the oldest
  EXPECT_EQ(skip, 4u);
  const auto* c = windows.Read(200, log.head, &skip);
  EXPECT_EQ(c, b);                 // b's room took c
  EXPECT_EQ(At(c, skip), 200u);
  EXPECT_EQ(&(*a)[0], a_first);    // a did not move
  EXPECT_EQ(windows.reads(), 3u);
  windows.Read(100, log.head, &skip);  // b again: read anew, into a's room (now the oldest)
  EXPECT_EQ(windows.reads(), 4u);
  // Past a window's end is another window.
  windows.Read(210, log.head, &skip);
  EXPECT_EQ(windows.reads(), 5u);
}

TEST(LogWindows, AFailedReadKeepsNothingAndIsTriedAgain) {
  FakeLog log;
  log.failing = true;
  api::LogWindows windows(2, 10, log.Fn());
  size_t skip = 0;
  EXPECT_EQ(windows.Read(1, log.head, &skip), nullptr);
  log.failing = false;
  const auto* w = windows.Read(1, log.head, &skip);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(At(w, skip), 1u);
  EXPECT_EQ(windows.reads(), 2u);
}

TEST(LogWindows, AWindowEndsAtTheBound) {
  FakeLog log;
  api::LogWindows windows(2, 4096, log.Fn());
  size_t skip = 0;
  const auto* w = windows.Read(10, 12, &skip);
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->size(), 3u);
  // A later round with a higher bound reads past the old window's end.
  w = windows.Read(13, 20, &skip);
  EXPECT_EQ(At(w, skip), 13u);
  EXPECT_EQ(windows.reads(), 2u);
}

}  // namespace
