// Test (b) of the Kafka issue: two writers on one partition. A zombie writer keeps
// publishing after a standby promoted itself to a higher epoch; it acknowledges nothing
// that is not canonical, is fenced by the first canonical batch not its own, and readers
// started at different offsets derive byte-identical canonical logs. Then the trace in
// ../shared/model (trace-lost-ack-as-first-written.txt) as a test: a node whose promotion
// attempt lost keeps its old epoch, so a restart cannot write in an epoch it never owned.
#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <thread>

#include "ledger/kafka/canonical_rule.h"
#include "ledger/kafka/embedded_cluster.h"
#include "ledger/kafka/log_reader.h"
#include "ledger/kafka/publisher.h"
#include "ledger/record_codec.h"
#include "tests/support/log_fixtures.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_records.h"

using namespace ledger;
using namespace ledger::kafka;
using testing_support::TempDir;

namespace {

AppendCommand Command(uint64_t seed, int events = 1) {
  testing_support::RecordSpec spec;
  spec.stream = std::string("order/m1/o").append(std::to_string(seed % 13));
  spec.seed = seed;
  spec.idempotency_key = std::string("k").append(std::to_string(seed));
  spec.request = spec.idempotency_key;
  return testing_support::MakeCommand(spec, events, false);
}

AppendCommand WriterPromoted(const std::string& node, uint64_t epoch, uint64_t previous) {
  EnvelopeFields f;
  f.stream = "writer/0";
  AppendCommand cmd;
  cmd.events.push_back({EncodeRecord(f, schema::EventBody::WriterPromoted,
                                     [&](flatbuffers::FlatBufferBuilder& b) {
                                       return schema::CreateWriterPromotedDirect(b, epoch, node.c_str(), "", previous)
                                           .Union();
                                     }),
                        ExpectedVersion::Any()});
  return cmd;
}

// Copies the canonical log through a reader until `position`, then stops reading.
std::unique_ptr<EventStore> CopyUpTo(const std::string& bootstrap, const std::string& dir, const std::string& node,
                                     Position position, AckLevel ack = AckLevel::kLocal) {
  auto store = testing_support::OpenNodeStore(dir, node, ack);
  auto reader = LogReader::Start({bootstrap, ShardId(0), {}}, store.get());
  EXPECT_TRUE(reader.ok());
  EXPECT_TRUE((*reader)->WaitFor(position, 15000));
  return store;
}

std::vector<std::string> Log(EventStore& s) {
  auto b = s.ReadBatches(Position(1), 100000);
  EXPECT_TRUE(b.ok());
  return b.ok() ? *b : std::vector<std::string>{};
}

TEST(ZombieWriter, AcknowledgesNothingNonCanonicalAndReadersAgreeFromAnyOffset) {
  auto cluster = EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok());
  const std::string bootstrap = (*cluster)->bootstrap();
  TempDir a, b, r_early, r_fresh;

  // n0 writes under `replicated`, its acknowledgements recorded.
  auto zombie = testing_support::OpenNodeStore(a.path(), "n0", AckLevel::kReplicated);
  auto zombie_reader = LogReader::Start({bootstrap, ShardId(0), {}}, zombie.get());
  auto zombie_publisher = Publisher::Start({bootstrap, ShardId(0), {}}, zombie.get());
  ASSERT_TRUE(zombie_reader.ok() && zombie_publisher.ok());
  testing_support::PromoteToEpochOne(*zombie, "n0");
  std::mutex mu;
  std::set<uint64_t> acked;
  std::atomic<int> not_writer{0};
  auto write = [&](uint64_t seed) {
    zombie->AppendAsync(Command(seed, 1 + seed % 2), [&](Result<AppendResult> r) {
      std::lock_guard<std::mutex> lock(mu);
      if (r.ok()) acked.insert(r->first_position.value());
      else if (r.status().code() == Code::kNotWriter) not_writer++;
    });
  };
  for (uint64_t i = 0; i < 40; ++i) write(i);
  ASSERT_TRUE((*zombie_reader)->WaitFor(zombie->head().position, 15000));

  // A reader that starts early and will resume later from its stored offset.
  auto early = CopyUpTo(bootstrap, r_early.path(), "r1", zombie->canonical_mark().position);

  // n0 is cut off from Kafka (its publisher stops) but keeps committing: a zombie.
  zombie_publisher->reset();
  for (uint64_t i = 100; i < 120; ++i) write(i);

  // n1, a standby with the canonical log, promotes itself to epoch 2 and writes.
  auto standby = CopyUpTo(bootstrap, b.path(), "n1", zombie->canonical_mark().position, AckLevel::kReplicated);
  const Position promotion_at = standby->head().position.next();
  auto standby_reader = LogReader::Start({bootstrap, ShardId(0), {}}, standby.get());
  auto standby_publisher = Publisher::Start({bootstrap, ShardId(0), {}}, standby.get());
  ASSERT_TRUE(standby_reader.ok() && standby_publisher.ok());
  ASSERT_TRUE(standby->AttemptPromotion(Epoch(2)).ok());
  ASSERT_TRUE(standby->Append(WriterPromoted("n1", 2, 1)).ok());  // answered once canonical
  EXPECT_EQ(standby->writer_epoch(), Epoch(2));
  for (uint64_t i = 200; i < 230; ++i) ASSERT_TRUE(standby->Append(Command(i)).ok());

  // The zombie's publisher comes back and publishes its stale batches after n1's.
  auto back = Publisher::Start({bootstrap, ShardId(0), {}}, zombie.get());
  ASSERT_TRUE(back.ok());
  for (uint64_t i = 300; i < 310; ++i) write(i);
  for (int i = 0; i < 1000 && zombie->fenced().ok(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(zombie->fenced().code(), Code::kNotWriter) << "the zombie was never fenced";
  // Everything the zombie published has landed (after n1's batches).
  auto landed = [&] {
    const auto st = (*back)->stats();
    return st.published > 0 && st.delivered >= st.published;
  };
  for (int i = 0; i < 1000 && !landed(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GT((*back)->stats().delivered, 0u);
  ASSERT_TRUE(standby_reader->get()->WaitFor(standby->head().position, 15000));

  // Readers: from offset 0, and the early one resuming from its stored offset.
  auto fresh = testing_support::OpenNodeStore(r_fresh.path(), "r2");
  {
    auto r1 = LogReader::Start({bootstrap, ShardId(0), {}}, early.get());
    auto r2 = LogReader::Start({bootstrap, ShardId(0), {}}, fresh.get());
    ASSERT_TRUE(r1.ok() && r2.ok());
    ASSERT_TRUE((*r1)->WaitFor(standby->head().position, 15000)) << (*r1)->stats().stopped.ToString();
    ASSERT_TRUE((*r2)->WaitFor(standby->head().position, 15000)) << (*r2)->stats().stopped.ToString();
    // The zombie's late batches lie after n1's last one: wait for the reader to pass them.
    for (int i = 0; i < 500 && (*r2)->stats().skipped.empty(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE((*r2)->stats().skipped.empty()) << "the zombie's late batches should be skipped";
  }
  const auto canonical = Log(*fresh);
  EXPECT_EQ(Log(*early), canonical);
  EXPECT_EQ(Log(*standby), canonical);

  // Every acknowledgement of the zombie is in the canonical log with its bytes, and all of
  // them lie before the standby's promotion; its later callers were refused.
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_FALSE(acked.empty());
  for (uint64_t p : acked) {
    EXPECT_LT(p, promotion_at.value()) << "acknowledged at " << p << ", at or after the promotion";
    auto mine = zombie->ReadRange(Position(p), 1);
    auto theirs = fresh->ReadRange(Position(p), 1);
    ASSERT_TRUE(mine.ok() && theirs.ok() && mine->size() == 1 && theirs->size() == 1);
    EXPECT_EQ(mine->front().record, theirs->front().record) << p;
  }
  EXPECT_GT(not_writer.load(), 0);
}

// The zombie of the test above rejoins (DESIGN §8): its local events beyond the canonical
// log go to quarantine in one batch, with their indexes; nothing is deleted, the store
// follows the canonical log again, and its idempotency keys are free for the new writer.
TEST(ZombieWriter, RejoinsAsAFollowerWithItsTailInQuarantine) {
  auto cluster = EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok());
  const std::string bootstrap = (*cluster)->bootstrap();
  TempDir a, b;
  auto zombie = testing_support::OpenNodeStore(a.path(), "n0", AckLevel::kLocal);
  {
    auto reader = LogReader::Start({bootstrap, ShardId(0), {}}, zombie.get());
    auto publisher = Publisher::Start({bootstrap, ShardId(0), {}}, zombie.get());
    ASSERT_TRUE(reader.ok() && publisher.ok());
    testing_support::PromoteToEpochOne(*zombie, "n0");
    for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(zombie->Append(Command(i)).ok());
    ASSERT_TRUE((*reader)->WaitFor(zombie->head().position, 15000));
  }
  const CanonicalMark mark = zombie->canonical_mark();
  // Cut off from Kafka, it goes on committing under `local`: acknowledged, never canonical.
  std::vector<uint64_t> tail;
  for (uint64_t i = 100; i < 105; ++i) {
    auto r = zombie->Append(Command(i, 2));
    ASSERT_TRUE(r.ok());
    tail.push_back(r->first_position.value());
  }
  const Head zombie_head = zombie->head();
  auto standby = CopyUpTo(bootstrap, b.path(), "n1", mark.position, AckLevel::kReplicated);
  auto standby_reader = LogReader::Start({bootstrap, ShardId(0), {}}, standby.get());
  auto standby_publisher = Publisher::Start({bootstrap, ShardId(0), {}}, standby.get());
  ASSERT_TRUE(standby_reader.ok() && standby_publisher.ok());
  ASSERT_TRUE(standby->AttemptPromotion(Epoch(2)).ok());
  ASSERT_TRUE(standby->Append(WriterPromoted("n1", 2, 1)).ok());
  ASSERT_TRUE(standby->Append(Command(100, 2)).ok()) << "the zombie's key is the new writer's to use";

  // Back in touch: its reader finds the canonical log diverging from its tail.
  {
    auto reader = LogReader::Start({bootstrap, ShardId(0), {}}, zombie.get());
    ASSERT_TRUE(reader.ok());
    EXPECT_EQ((*reader)->ReadToEnd(15000).code(), Code::kDiverged);
  }
  EXPECT_EQ(zombie->fenced().code(), Code::kNotWriter);
  auto report = zombie->RejoinAsFollower();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->events, zombie_head.position.value() - mark.position.value());
  EXPECT_EQ(report->first, mark.position.next());
  EXPECT_EQ(report->last, zombie_head.position);
  EXPECT_EQ(report->idempotency_keys, (std::vector<std::string>{"m1:k100", "m1:k101", "m1:k102", "m1:k103", "m1:k104"}));
  EXPECT_EQ(zombie->head().position, mark.position);
  EXPECT_EQ(zombie->writer_epoch(), Epoch(0));
  EXPECT_TRUE(zombie->fenced().ok());
  auto key = zombie->LookupIdempotency("m1", "k101");
  ASSERT_TRUE(key.ok());
  EXPECT_FALSE(key->has_value()) << "a set-aside command's key no longer answers";
  auto quarantined = zombie->ReadQuarantine(1000);
  ASSERT_TRUE(quarantined.ok());
  ASSERT_EQ(quarantined->size(), report->events);
  EXPECT_EQ(quarantined->front().position, report->first);
  EXPECT_NE(VerifyRecord(quarantined->front().record), nullptr);

  // It follows the canonical log from there, to the same bytes as the new writer, and the
  // quarantine survives a restart.
  {
    auto reader = LogReader::Start({bootstrap, ShardId(0), {}}, zombie.get());
    ASSERT_TRUE(reader.ok());
    ASSERT_TRUE((*reader)->WaitFor(standby->head().position, 15000)) << (*reader)->stats().stopped.ToString();
  }
  EXPECT_EQ(Log(*zombie), Log(*standby));
  zombie.reset();
  zombie = testing_support::OpenNodeStore(a.path(), "n0", AckLevel::kLocal);
  EXPECT_EQ(zombie->head().position, standby->head().position);
  auto still = zombie->ReadQuarantine(1000);
  ASSERT_TRUE(still.ok());
  EXPECT_EQ(still->size(), report->events);
  auto again = zombie->RejoinAsFollower();
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->events, 0u) << "nothing beyond the canonical log now";
}

// Answers still held for the canonical mark when a writer rejoins are refused, never sent
// later as successes for events that are now in quarantine (found by review: a store fenced
// before the answers were parked let them through after the rejoin lifted the fence).
TEST(ZombieWriter, ARejoinRefusesEveryAnswerStillOwed) {
  TempDir dir;
  auto store = testing_support::OpenNodeStore(dir.path(), "n0", AckLevel::kReplicated);
  ASSERT_TRUE(store->SetWriterEpoch(Epoch(1)).ok());
  std::mutex mu;
  std::vector<Status> answers;
  for (uint64_t i = 0; i < 5; ++i)
    store->AppendAsync(Command(i), [&](Result<AppendResult> r) {
      std::lock_guard<std::mutex> lock(mu);
      answers.push_back(r.status());
    });
  for (int i = 0; i < 500 && !store->idle(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(2));
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_TRUE(answers.empty()) << "nothing is canonical: nothing may be answered yet";
  }
  auto report = store->RejoinAsFollower();
  ASSERT_TRUE(report.ok()) << report.status().ToString();
  EXPECT_EQ(report->events, 5u);
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_EQ(answers.size(), 5u);
  for (const Status& s : answers) EXPECT_EQ(s.code(), Code::kNotWriter);
}

// ../shared/model/trace-lost-ack-as-first-written.txt: n0 tried to promote itself to epoch 3
// while n1 (epoch 2) was still writing; n1's batch took the position, n0's WriterPromoted(3)
// was not canonical, yet n0 had stored epoch 3 and, restarted later, wrote "canonical"
// batches in an epoch nobody owns. Here the attempt loses the same way and the epoch that
// survives the restart is the old one.
TEST(ZombieWriter, ALostPromotionAttemptKeepsTheOldEpoch) {
  auto cluster = EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok());
  const std::string bootstrap = (*cluster)->bootstrap();
  TempDir w_dir, x_dir;
  auto writer = testing_support::OpenNodeStore(w_dir.path(), "n1", AckLevel::kReplicated);
  auto w_reader = LogReader::Start({bootstrap, ShardId(0), {}}, writer.get());
  auto w_publisher = Publisher::Start({bootstrap, ShardId(0), {}}, writer.get());
  ASSERT_TRUE(w_reader.ok() && w_publisher.ok());
  testing_support::PromoteToEpochOne(*writer, "n1");
  for (uint64_t i = 0; i < 10; ++i) ASSERT_TRUE(writer->Append(Command(i)).ok());

  // n0 follows the log, then stops reading (it thinks n1 is gone) at position h.
  Epoch epoch_before;
  {
    auto x = CopyUpTo(bootstrap, x_dir.path(), "n0", writer->head().position);
    epoch_before = x->writer_epoch();
    // n1 is still alive and writes the batch at h + 1.
    ASSERT_TRUE(writer->Append(Command(50)).ok());
    // n0's attempt: WriterPromoted(epoch_before + 2) at h + 1, published after n1's batch.
    ASSERT_TRUE(x->AttemptPromotion(Epoch(epoch_before.value() + 2)).ok());
    ASSERT_TRUE(x->Append(WriterPromoted("n0", epoch_before.value() + 2, 1)).ok());
    auto x_publisher = Publisher::Start({bootstrap, ShardId(0), {}}, x.get());
    auto x_reader = LogReader::Start({bootstrap, ShardId(0), {}}, x.get());
    ASSERT_TRUE(x_publisher.ok() && x_reader.ok());
    for (int i = 0; i < 1000 && (*x_reader)->stats().stopped.ok(); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_EQ((*x_reader)->stats().stopped.code(), Code::kDiverged) << "n1's batch took the position";
    EXPECT_EQ(x->fenced().code(), Code::kNotWriter);
  }
  // Restarted, n0 has the epoch it had: it never owned the one it tried.
  auto x = testing_support::OpenNodeStore(x_dir.path(), "n0");
  EXPECT_EQ(x->writer_epoch(), epoch_before);
  // And n1 carries on: the lost WriterPromoted was skipped, never canonical.
  ASSERT_TRUE(writer->Append(Command(60)).ok());
  EXPECT_TRUE(writer->fenced().ok());
  EXPECT_EQ(writer->canonical_mark().owner, "n1");
  EXPECT_FALSE((*w_reader)->stats().skipped.empty());
}

}  // namespace
