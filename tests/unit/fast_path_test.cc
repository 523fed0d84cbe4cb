// The publisher's fast path and delivery errors (DESIGN §6; tests (c) and (d) of the Kafka
// issue). Every check ends with an independent reader of the partition: each acknowledged
// command must be in the canonical log it derives, byte for byte.
#include <gtest/gtest.h>

#include <atomic>
#include <iostream>
#include <mutex>
#include <set>
#include <thread>

#include "ledger/kafka/canonical_rule.h"
#include "ledger/kafka/embedded_cluster.h"
#include "ledger/kafka/log_reader.h"
#include "ledger/kafka/publisher.h"
#include "tests/support/log_fixtures.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_records.h"

using namespace ledger;
using namespace ledger::kafka;
using testing_support::TempDir;

namespace {

constexpr int kMessageTooLarge = 10;  // not retried by the producer: a delivery error

struct Writer {
  explicit Writer(const std::string& bootstrap) {
    store = testing_support::OpenNodeStore(dir.path(), "n0", AckLevel::kReplicated);
    auto r = LogReader::Start({bootstrap, ShardId(0), {}}, store.get());
    auto p = Publisher::Start({bootstrap, ShardId(0), {}}, store.get());
    EXPECT_TRUE(r.ok() && p.ok());
    reader = std::move(r).value();
    publisher = std::move(p).value();
    testing_support::PromoteToEpochOne(*store, "n0");
  }
  TempDir dir;
  std::unique_ptr<EventStore> store;
  std::unique_ptr<LogReader> reader;
  std::unique_ptr<Publisher> publisher;
};

// Appends from `callers` threads until Stop() or kLoadCommandsMax commands (the embedded
// cluster keeps about 5 MiB per partition; an independent reader must find offset 0);
// records every acknowledged first position.
constexpr uint64_t kLoadCommandsMax = 4000;
class Load {
 public:
  Load(EventStore& store, int callers) {
    for (int t = 0; t < callers; ++t)
      threads_.emplace_back([this, &store, t] {
        for (uint64_t i = 0; !stop_.load() && issued_.fetch_add(1) < kLoadCommandsMax; ++i) {
          testing_support::RecordSpec spec;
          spec.stream = std::string("order/m1/o").append(std::to_string((t * 31 + i) % 11));
          spec.seed = 1'000'000 * (t + 1) + i;
          auto r = store.Append(testing_support::MakeCommand(spec, 1 + i % 2, false));
          if (r.ok()) {
            std::lock_guard<std::mutex> lock(mu_);
            acked_.insert(r->first_position.value());
          }
        }
      });
  }
  std::set<uint64_t> Stop() {
    stop_ = true;
    for (auto& t : threads_) t.join();
    return acked_;
  }
  size_t acked() {
    std::lock_guard<std::mutex> lock(mu_);
    return acked_.size();
  }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> issued_{0};
  std::vector<std::thread> threads_;
  std::mutex mu_;
  std::set<uint64_t> acked_;
};

// An independent reader's copy of the canonical log holds every acknowledged command with
// the writer's bytes, and ends where the writer's canonical mark does.
void ExpectEveryAckInAnIndependentReadersLog(const std::string& bootstrap, EventStore& writer,
                                             const std::set<uint64_t>& acked) {
  TempDir dir;
  auto copy = testing_support::OpenNodeStore(dir.path(), "reader");
  auto reader = LogReader::Start({bootstrap, ShardId(0), {}}, copy.get());
  ASSERT_TRUE(reader.ok());
  const Position mark = writer.canonical_mark().position;
  ASSERT_TRUE((*reader)->WaitFor(mark, 30000)) << (*reader)->stats().stopped.ToString();
  for (uint64_t p : acked) {
    auto mine = writer.ReadRange(Position(p), 1);
    auto theirs = copy->ReadRange(Position(p), 1);
    ASSERT_TRUE(mine.ok() && theirs.ok() && mine->size() == 1 && theirs->size() == 1) << "acked position " << p;
    EXPECT_EQ(mine->front().record, theirs->front().record) << p;
    EXPECT_EQ(mine->front().hash, theirs->front().hash) << p;
  }
  Position through;
  EXPECT_TRUE(VerifyChain(*copy, &through).ok());
}

TEST(FastPath, DeliveryReportsSettleBatchesAndReadersAgree) {
  auto cluster = EmbeddedCluster::Start(3, 1);
  ASSERT_TRUE(cluster.ok());
  Writer w((*cluster)->bootstrap());
  Load load(*w.store, 8);
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  const auto acked = load.Stop();
  ASSERT_GT(acked.size(), 50u);
  const auto st = w.publisher->stats();
  EXPECT_GT(st.fast_path_confirmed, 0u) << "no batch was settled by its delivery report";
  EXPECT_EQ(st.delivery_errors, 0u);
  EXPECT_TRUE(w.reader->stats().skipped.empty());
  ASSERT_TRUE(w.reader->WaitFor(w.store->head().position, 15000));
  ExpectEveryAckInAnIndependentReadersLog((*cluster)->bootstrap(), *w.store, acked);
}

// Test (d): produces fail in the middle of a run. Reports after the error are left to the
// reader, the publisher republishes from the first batch not known canonical, the resends
// the broker did keep are duplicates every reader skips, and nothing acknowledged is missing.
TEST(FastPath, AProduceThatFailsMidRunLeavesLaterBatchesToTheReader) {
  auto cluster = EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok());
  Writer w((*cluster)->bootstrap());
  Load load(*w.store, 8);
  std::this_thread::sleep_for(std::chrono::milliseconds(400));
  ASSERT_TRUE((*cluster)->FailNextProduces(3, kMessageTooLarge).ok());
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  const auto acked = load.Stop();
  ASSERT_TRUE(w.reader->WaitFor(w.store->head().position, 30000)) << w.reader->stats().stopped.ToString();
  const auto st = w.publisher->stats();
  EXPECT_GE(st.delivery_errors, 1u);
  EXPECT_GE(st.republish_rounds, 1u);
  // Reports of batches sent before the error that still succeeded were left to the reader.
  std::cout << "fast path: " << st.fast_path_confirmed << " settled, " << st.fast_path_after_error
            << " left to the reader after an error, " << st.delivery_errors << " delivery errors\n";
  EXPECT_GT(st.fast_path_confirmed, 0u);
  ExpectEveryAckInAnIndependentReadersLog((*cluster)->bootstrap(), *w.store, acked);
}

// Test (c): the same batch published twice, as a retry would: readers skip the duplicate.
TEST(FastPath, TheSameBatchPublishedTwiceIsSkippedByReaders) {
  auto cluster = EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok());
  Writer w((*cluster)->bootstrap());
  testing_support::WriteCommands(*w.store, 10, 7);
  ASSERT_TRUE(w.reader->WaitFor(w.store->head().position, 15000));
  // Every batch again, from another producer: what resends after a lost report look like.
  auto batches = w.store->ReadBatches(Position(1), 1000);
  ASSERT_TRUE(batches.ok());
  testing_support::PublishRaw((*cluster)->bootstrap(), *batches);
  testing_support::WriteCommands(*w.store, 5, 70);  // after the duplicates
  ASSERT_TRUE(w.reader->WaitFor(w.store->head().position, 15000)) << w.reader->stats().stopped.ToString();
  const auto skipped = w.reader->stats().skipped;
  uint64_t total = 0;
  for (const auto& [why, n] : skipped) total += n;
  EXPECT_EQ(total, batches->size()) << "every duplicate is skipped, and nothing else";
  std::set<uint64_t> all;
  for (uint64_t p = 1; p <= w.store->head().position.value(); ++p) all.insert(p);
  ExpectEveryAckInAnIndependentReadersLog((*cluster)->bootstrap(), *w.store, all);
}

}  // namespace
