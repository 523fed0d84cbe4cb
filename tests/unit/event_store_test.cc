// The event store's happy paths: atomic appends, dense positions, the chain, stream reads,
// expected versions, idempotency, group commit and reopening.
#include "ledger/event_store.h"

#include <gtest/gtest.h>

#include <condition_variable>
#include <future>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

#include "ledger/chain_hash.h"
#include "ledger/record_codec.h"
#include "tests/support/raw_store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_records.h"

using namespace ledger;
using testing_support::MakeCommand;
using testing_support::RecordSpec;
using testing_support::TempDir;

namespace {

class FixedClock : public Clock {
 public:
  int64_t now_us = 1'700'000'000'000'000;
  int64_t NowMicros() override { return now_us; }
};

std::unique_ptr<EventStore> OpenStore(const std::string& path, Clock* clock = nullptr) {
  StoreOptions o;
  o.path = path;
  o.clock = clock;
  auto s = EventStore::Open(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

RecordSpec Spec(std::string stream, std::string idem = "", std::string request = "r") {
  RecordSpec s;
  s.stream = std::move(stream);
  s.idempotency_key = std::move(idem);
  s.request = std::move(request);
  return s;
}

}  // namespace

TEST(EventStore, AppendsAssignDensePositionsAndPatchTheEnvelope) {
  TempDir dir;
  FixedClock clock;
  auto store = OpenStore(dir.path(), &clock);
  ASSERT_TRUE(store);
  ASSERT_TRUE(store->SetWriterEpoch(Epoch(3)).ok());
  auto a = store->Append(MakeCommand(Spec("order/m1/1001"), 3, false));
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->first_position, Position(1));
  EXPECT_EQ(a->event_count, 3u);
  EXPECT_FALSE(a->replayed);
  clock.now_us -= 5'000'000;  // the clock goes back: recorded-at must not
  auto b = store->Append(MakeCommand(Spec("order/m1/1002"), 2, false));
  ASSERT_TRUE(b.ok());
  EXPECT_EQ(b->first_position, Position(4));
  EXPECT_EQ(store->head().position, Position(5));

  auto events = store->ReadRange(Position(1), 100);
  ASSERT_TRUE(events.ok());
  ASSERT_EQ(events->size(), 5u);
  int64_t last_recorded = 0;
  for (size_t i = 0; i < events->size(); ++i) {
    const auto* ev = VerifyRecord((*events)[i].record);
    ASSERT_NE(ev, nullptr);
    EXPECT_EQ(ev->position(), i + 1);
    EXPECT_EQ(ev->writer_epoch(), 3u);
    EXPECT_EQ(ev->command_first_position(), i < 3 ? 1u : 4u);
    EXPECT_EQ(ev->stream_version(), i < 3 ? i + 1 : i - 2);
    EXPECT_GE(ev->recorded_at_us(), last_recorded);
    last_recorded = ev->recorded_at_us();
  }
  EXPECT_EQ(VerifyRecord((*events)[0].record)->recorded_at_us(), 1'700'000'000'000'000);
  EXPECT_EQ(VerifyRecord((*events)[4].record)->recorded_at_us(), 1'700'000'000'000'000);
  Position through;
  EXPECT_TRUE(VerifyChain(*store, &through).ok());
  EXPECT_EQ(through, Position(5));
  EXPECT_EQ(store->head().hash, (*events)[4].hash);
}

TEST(EventStore, ChainHashesFollowTheDefinition) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store->Append(MakeCommand(Spec("order/m1/1"), 4, false)).ok());
  auto events = store->ReadRange(Position(1), 10);
  ASSERT_TRUE(events.ok());
  Sha256Digest prev = kGenesisHash;
  for (const auto& e : *events) {
    EXPECT_EQ(e.hash, ChainHash(prev, e.position, e.record));
    prev = e.hash;
  }
}

TEST(EventStore, StreamsReadForwardAndBackward) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  // Interleave two streams, including a stream whose name is a prefix of the other.
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(store->Append(MakeCommand(Spec("order/m1/10"), 1, false)).ok());
    ASSERT_TRUE(store->Append(MakeCommand(Spec("order/m1/100"), 1, false)).ok());
  }
  auto fwd = store->ReadStream("order/m1/10", StreamVersion(2), ReadDirection::kForward, 10);
  ASSERT_TRUE(fwd.ok());
  ASSERT_EQ(fwd->size(), 4u);
  EXPECT_EQ((*fwd)[0].position, Position(3));
  EXPECT_EQ(VerifyRecord((*fwd)[0].record)->stream()->str(), "order/m1/10");
  auto back = store->ReadStream("order/m1/100", StreamVersion(0), ReadDirection::kBackward, 3);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->size(), 3u);
  EXPECT_EQ(VerifyRecord((*back)[0].record)->stream_version(), 5u);
  EXPECT_EQ(VerifyRecord((*back)[2].record)->stream_version(), 3u);
  auto back_all = store->ReadStream("order/m1/10", StreamVersion(2), ReadDirection::kBackward, 10);
  ASSERT_TRUE(back_all.ok());
  EXPECT_EQ(back_all->size(), 2u);
  auto none = store->ReadStream("order/m1/999", StreamVersion(1), ReadDirection::kForward, 10);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
  EXPECT_EQ(store->StreamHead("order/m1/10").value(), StreamVersion(5));
  EXPECT_EQ(store->StreamHead("order/m1/1").value(), StreamVersion(0));
}

TEST(EventStore, ExpectedVersionsAnyNoStreamExact) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  EXPECT_TRUE(store->Append(MakeCommand(Spec("order/m1/1"), 1, false, ExpectedVersion::NoStream())).ok());
  EXPECT_TRUE(store->Append(MakeCommand(Spec("order/m1/1"), 1, false, ExpectedVersion::Exactly(StreamVersion(1)))).ok());
  EXPECT_TRUE(store->Append(MakeCommand(Spec("order/m1/1"), 2, false, ExpectedVersion::Any())).ok());
  EXPECT_EQ(store->StreamHead("order/m1/1").value(), StreamVersion(4));
  // A command whose second stream conflicts writes nothing, not even its first stream.
  AppendCommand mixed = MakeCommand(Spec("order/m1/2"), 1, false, ExpectedVersion::NoStream());
  auto second = MakeCommand(Spec("order/m1/1"), 1, false, ExpectedVersion::Exactly(StreamVersion(3)));
  mixed.events.push_back(std::move(second.events[0]));
  // Both records must carry the command's size (2); rebuild them accordingly.
  RecordSpec s = Spec("order/m1/2");
  s.command_event_count = 2;
  mixed.events[0].record = testing_support::MakeListingRecord(s);
  s.stream = "order/m1/1";
  mixed.events[1].record = testing_support::MakeListingRecord(s);
  auto r = store->Append(std::move(mixed));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kVersionConflict);
  EXPECT_EQ(store->StreamHead("order/m1/2").value(), StreamVersion(0));
  EXPECT_EQ(store->head().position, Position(4));
}

TEST(EventStore, ExpectationsApplyEventByEventWithinACommand) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  RecordSpec s = Spec("order/m1/7");
  s.command_event_count = 2;
  AppendCommand cmd;
  cmd.events.push_back({testing_support::MakeListingRecord(s), ExpectedVersion::NoStream()});
  cmd.events.push_back({testing_support::MakeListingRecord(s), ExpectedVersion::Exactly(StreamVersion(1))});
  auto r = store->Append(std::move(cmd));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(store->StreamHead("order/m1/7").value(), StreamVersion(2));
}

TEST(EventStore, IdempotencyReturnsTheFirstResultAndWritesNothing) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  auto first = store->Append(MakeCommand(Spec("payment/m1/p1", "key-1", "capture 100"), 2, false));
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(store->Append(MakeCommand(Spec("payment/m1/p2"), 1, false)).ok());
  auto again = store->Append(MakeCommand(Spec("payment/m1/p1", "key-1", "capture 100"), 2, false));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->first_position, first->first_position);
  EXPECT_EQ(again->event_count, 2u);
  EXPECT_EQ(store->head().position, Position(3));
  auto entry = store->LookupIdempotency("m1", "key-1");
  ASSERT_TRUE(entry.ok() && entry->has_value());
  EXPECT_EQ((*entry)->first_position, Position(1));
}

TEST(EventStore, IdempotencyKeysAreScopedPerMerchant) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  RecordSpec a = Spec("payment/m1/p1", "same-key", "a");
  RecordSpec b = Spec("payment/m2/p1", "same-key", "b");
  b.tenant = "m2";
  auto ra = store->Append(MakeCommand(a, 1, false));
  auto rb = store->Append(MakeCommand(b, 1, false));
  ASSERT_TRUE(ra.ok());
  ASSERT_TRUE(rb.ok()) << rb.status().ToString();
  EXPECT_FALSE(rb->replayed);
  EXPECT_EQ(store->head().position, Position(2));
}

TEST(EventStore, ConcurrentCallersShareGroupCommits) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  constexpr int kThreads = 16, kPerThread = 50;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string key = "k";
        key += std::to_string(t);
        key += "-";
        key += std::to_string(i);
        RecordSpec s = Spec("order/m1/t" + std::to_string(t), key);
        ExpectedVersion expected =
            i == 0 ? ExpectedVersion::NoStream() : ExpectedVersion::Exactly(StreamVersion(i));
        auto r = store->Append(MakeCommand(s, 1, false, expected));
        if (!r.ok() || r->replayed) {
          failures.fetch_add(1);
          continue;
        }
        // A retry with the same key and request is answered from the first append.
        auto retry = store->Append(MakeCommand(s, 1, false, expected));
        if (!retry.ok() || !retry->replayed || retry->first_position != r->first_position)
          failures.fetch_add(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(store->head().position, Position(kThreads * kPerThread));
  Position through;
  EXPECT_TRUE(VerifyChain(*store, &through).ok());
  EXPECT_EQ(through, store->head().position);
  StoreStats stats = store->stats();
  EXPECT_LT(stats.batches_committed, stats.events_committed) << "no group commit happened";
}

TEST(EventStore, ReopenKeepsHeadStreamsAndIdempotency) {
  TempDir dir;
  Sha256Digest head_hash;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Append(MakeCommand(Spec("order/m1/1", "idem-1"), 3, false)).ok());
    ASSERT_TRUE(store->SetWriterEpoch(Epoch(2)).ok());
    head_hash = store->head().hash;
  }
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->head().position, Position(3));
  EXPECT_EQ(store->head().hash, head_hash);
  EXPECT_EQ(store->writer_epoch(), Epoch(2));
  EXPECT_EQ(store->StreamHead("order/m1/1").value(), StreamVersion(3));
  auto again = store->Append(MakeCommand(Spec("order/m1/1", "idem-1"), 3, false));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  auto next = store->Append(MakeCommand(Spec("order/m1/1"), 1, false, ExpectedVersion::Exactly(StreamVersion(3))));
  ASSERT_TRUE(next.ok());
  EXPECT_EQ(next->first_position, Position(4));
  Position through;
  EXPECT_TRUE(VerifyChain(*store, &through).ok());
}

// Commands decided while earlier batches are still being written must see those batches:
// expected versions and idempotency keys of in-flight batches, not only durable ones.
TEST(EventStore, DecisionsSeeBatchesStillInFlight) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  constexpr int kCommands = 200;
  std::mutex mu;
  std::condition_variable cv;
  int answered = 0, failures = 0, replays = 0;
  auto done = [&](bool expect_replay) {
    return [&, expect_replay](Result<AppendResult> r) {
      std::lock_guard<std::mutex> lock(mu);
      if (!r.ok() || r->replayed != expect_replay) ++failures;
      if (r.ok() && r->replayed) ++replays;
      ++answered;
      cv.notify_all();
    };
  };
  for (int i = 0; i < kCommands; ++i) {
    RecordSpec s = Spec("order/m1/hot", "hot-" + std::to_string(i), "req-" + std::to_string(i));
    ExpectedVersion ev = i == 0 ? ExpectedVersion::NoStream() : ExpectedVersion::Exactly(StreamVersion(i));
    store->AppendAsync(MakeCommand(s, 1, false, ev), done(false));
    if (i % 10 == 0)  // an immediate retry, while the first may still be in flight
      store->AppendAsync(MakeCommand(s, 1, false, ev), done(true));
  }
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return answered == kCommands + kCommands / 10; });
  EXPECT_EQ(failures, 0);
  EXPECT_EQ(replays, kCommands / 10);
  EXPECT_EQ(store->StreamHead("order/m1/hot").value(), StreamVersion(kCommands));
  EXPECT_EQ(store->head().position, Position(kCommands));
}

TEST(EventStore, ConflictsAgainstInFlightBatchesAreRejected) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  std::atomic<int> ok{0}, conflicts{0}, answered{0};
  constexpr int kCommands = 100;
  for (int i = 0; i < kCommands; ++i) {
    // Every command claims to create the same stream: exactly one may win.
    store->AppendAsync(MakeCommand(Spec("order/m1/once"), 1, false, ExpectedVersion::NoStream()),
                       [&](Result<AppendResult> r) {
                         if (r.ok()) ok++;
                         else if (r.status().code() == Code::kVersionConflict) conflicts++;
                         answered++;
                       });
  }
  while (answered.load() < kCommands) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(ok.load(), 1);
  EXPECT_EQ(conflicts.load(), kCommands - 1);
  EXPECT_EQ(store->head().position, Position(1));
}

// A batch's stream-index rows are written after its sync. A crash between the two leaves
// events the index does not name; the next open writes those rows back from the events,
// before any decision or stream read can see the gap.
TEST(EventStore, StreamIndexRowsLostInACrashAreWrittenBackAtOpen) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Append(MakeCommand(Spec("order/m1/a"), 3, false)).ok());
    ASSERT_TRUE(store->Append(MakeCommand(Spec("order/m1/b"), 2, false)).ok());
    ASSERT_TRUE(store->Append(MakeCommand(Spec("order/m1/a"), 2, false, ExpectedVersion::Exactly(StreamVersion(3)))).ok());
    EXPECT_EQ(store->stats().stream_index_rows_rebuilt, 0u);
  }
  {
    testing_support::RawStore raw(dir.path());
    raw.ClearStreamIndex();
    raw.PutIndexedThrough(0);
  }
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store);
    EXPECT_EQ(store->stats().stream_index_rows_rebuilt, 7u);
    auto a = store->ReadStream("order/m1/a", StreamVersion(1), ReadDirection::kForward, 10);
    ASSERT_TRUE(a.ok()) << a.status().ToString();
    std::vector<uint64_t> positions;
    for (const auto& e : *a) positions.push_back(e.position.value());
    EXPECT_EQ(positions, (std::vector<uint64_t>{1, 2, 3, 6, 7}));
    EXPECT_EQ(store->StreamHead("order/m1/b").value(), StreamVersion(2));
    // Decisions read the written-back index (the stream cache starts empty).
    EXPECT_EQ(store->Append(MakeCommand(Spec("order/m1/a"), 1, false, ExpectedVersion::Exactly(StreamVersion(4))))
                  .status().code(), Code::kVersionConflict);
    auto next = store->Append(MakeCommand(Spec("order/m1/a"), 1, false, ExpectedVersion::Exactly(StreamVersion(5))));
    ASSERT_TRUE(next.ok()) << next.status().ToString();
    EXPECT_EQ(next->first_position, Position(8));
  }
  auto store = OpenStore(dir.path());  // the watermark moved with the rows: nothing to redo
  ASSERT_TRUE(store);
  EXPECT_EQ(store->stats().stream_index_rows_rebuilt, 0u);
  EXPECT_EQ(store->StreamHead("order/m1/a").value(), StreamVersion(6));
}

// A batch's stream-index write that fails after its events were synced and answered: the
// answer stands (the events are durable), but no stream read or decision may use the
// index that lacks them, so reads and appends fail until the store is reopened, and the
// open writes the missing rows back.
TEST(EventStore, AFailedStreamIndexWriteRefusesReadsAndAppendsUntilReopened) {
  TempDir dir;
  std::atomic<bool> fail{false};
  {
    StoreOptions o;
    o.path = dir.path();
    o.stream_index_write_fault = [&fail] { return fail.load(); };
    auto opened = EventStore::Open(o);
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    auto& store = *opened;
    ASSERT_TRUE(store->Append(MakeCommand(Spec("order/m1/a"), 2, false)).ok());
    ASSERT_EQ(store->StreamHead("order/m1/a").value(), StreamVersion(2));
    fail = true;
    auto answered = store->Append(MakeCommand(Spec("order/m1/a"), 3, false, ExpectedVersion::Exactly(StreamVersion(2))));
    ASSERT_TRUE(answered.ok()) << answered.status().ToString();
    EXPECT_EQ(answered->first_position, Position(3));
    // The fault stays armed: the notifier writes the rows after the answer, maybe only now.
    auto read = store->ReadStream("order/m1/a", StreamVersion(1), ReadDirection::kForward, 10);
    EXPECT_EQ(read.status().code(), Code::kIOError) << read.status().ToString();
    EXPECT_EQ(store->StreamHead("order/m1/a").status().code(), Code::kIOError);
    auto next = store->Append(MakeCommand(Spec("order/m1/b"), 1, false));
    EXPECT_EQ(next.status().code(), Code::kIOError) << next.status().ToString();
    EXPECT_EQ(store->head().position, Position(5));
  }
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->stats().stream_index_rows_rebuilt, 3u);
  auto a = store->ReadStream("order/m1/a", StreamVersion(1), ReadDirection::kForward, 10);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  EXPECT_EQ(a->size(), 5u);
  EXPECT_EQ(store->Append(MakeCommand(Spec("order/m1/a"), 1, false, ExpectedVersion::Exactly(StreamVersion(4))))
                .status().code(), Code::kVersionConflict);
  EXPECT_TRUE(store->Append(MakeCommand(Spec("order/m1/a"), 1, false, ExpectedVersion::Exactly(StreamVersion(5)))).ok());
}

// An answer's callback runs on the store's notifier, which writes the batch's index only
// after it: a stream read there is refused at once instead of waiting for itself.
TEST(EventStore, AStreamReadInsideAnAnswerIsRefusedNotStuck) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  std::promise<Status> inside;
  const auto start = std::chrono::steady_clock::now();
  store->AppendAsync(MakeCommand(Spec("order/m1/cb"), 1, false), [&](Result<AppendResult> r) {
    EXPECT_TRUE(r.ok());
    inside.set_value(store->StreamHead("order/m1/cb").status());
  });
  const Status s = inside.get_future().get();
  EXPECT_EQ(s.code(), Code::kUnavailable) << s.ToString();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(3)) << "waited for itself";
  EXPECT_EQ(store->StreamHead("order/m1/cb").value(), StreamVersion(1));  // outside: seen
}

// Callers are answered before their batch's stream-index rows are written; a stream read
// right after the answer still sees the write (it waits for the index to reach the head).
TEST(EventStore, AStreamReadRightAfterTheAnswerSeesTheWrite) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  for (uint64_t i = 1; i <= 300; ++i) {
    ASSERT_TRUE(store->Append(MakeCommand(Spec("order/m1/hot"), 1, false)).ok());
    ASSERT_EQ(store->StreamHead("order/m1/hot").value(), StreamVersion(i));
    auto last = store->ReadStream("order/m1/hot", StreamVersion(0), ReadDirection::kBackward, 1);
    ASSERT_TRUE(last.ok() && last->size() == 1);
    ASSERT_EQ(last->front().position, Position(i));
  }
}

// The publisher sleeps in librdkafka's poll and is woken by a log watcher: each commit
// and each move of the canonical mark reaches it with the positions after the move, and
// nothing after removal. (A follower's appends: FollowerAppend.LogWatchersSee...)
TEST(EventStore, LogWatchersSeeCommitsAndANewIncarnationUntilRemoved) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  std::mutex mu;
  std::vector<std::pair<uint64_t, uint64_t>> seen;  // (head, canonical) per call
  const uint64_t id = store->AddLogWatcher([&](Position head, Position canonical) {
    std::lock_guard<std::mutex> lock(mu);
    seen.emplace_back(head.value(), canonical.value());
  });
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(store->Append(MakeCommand(Spec("order/m1/w"), 1, false)).ok());
  ASSERT_TRUE(store->StartNewKafkaIncarnation(Epoch(1), "node-a").ok());
  {
    std::lock_guard<std::mutex> lock(mu);
    ASSERT_EQ(seen.size(), 4u);
    for (uint64_t i = 0; i < 3; ++i) EXPECT_EQ(seen[i], std::make_pair(i + 1, uint64_t{0}));
    EXPECT_EQ(seen[3], std::make_pair(uint64_t{3}, uint64_t{3}));  // the mark moved to the head
  }
  EXPECT_EQ(store->stats().log_watchers, 1u);
  store->RemoveLogWatcher(id);
  EXPECT_EQ(store->stats().log_watchers, 0u);
  ASSERT_TRUE(store->Append(MakeCommand(Spec("order/m1/w"), 1, false)).ok());
  std::lock_guard<std::mutex> lock(mu);
  EXPECT_EQ(seen.size(), 4u) << "a removed watcher was called";
}

// A projector following the log sleeps in WaitForLogPast; an append must wake it, not the
// timeout (30 s here: a missing notification shows as a test that takes the whole wait).
TEST(EventStore, WaitForLogPastWakesWhenTheHeadMoves) {
  TempDir dir;
  auto store = OpenStore(dir.path());
  const auto start = std::chrono::steady_clock::now();
  std::thread appender([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    EXPECT_TRUE(store->Append(MakeCommand(Spec("order/m1/w"), 1, false)).ok());
  });
  store->WaitForLogPast(Position(0), /*canonical=*/false, 30000);
  const auto waited = std::chrono::steady_clock::now() - start;
  appender.join();
  EXPECT_EQ(store->head().position, Position(1));
  EXPECT_LT(waited, std::chrono::seconds(10)) << "woken by the timeout, not by the append";
  // Already past: returns at once, whatever the timeout.
  store->WaitForLogPast(Position(0), /*canonical=*/false, 30000);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(10));
}
