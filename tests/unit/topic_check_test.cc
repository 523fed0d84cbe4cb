// A topic that went back (DESIGN §6): another cluster, or a partition that ends before the
// canonical head's offset. Refused with a clear error unless accepted; accepted, the log
// goes on from the store's head in a new incarnation and nothing old is republished.
#include "ledger/kafka/topic_check.h"

#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "ledger/kafka/canonical_rule.h"
#include "ledger/kafka/embedded_cluster.h"
#include "ledger/kafka/log_reader.h"
#include "ledger/kafka/publisher.h"
#include "tests/support/log_fixtures.h"
#include "tests/support/temp_dir.h"

using namespace ledger;
using namespace ledger::kafka;
using testing_support::TempDir;

TEST(TopicCheck, AnotherClusterIsRefusedUnlessAcceptedAndThenTheLogGoesOn) {
  auto first = EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(first.ok());
  TempDir dir;
  auto store = testing_support::OpenNodeStore(dir.path(), "n0", AckLevel::kReplicated);
  {
    auto check = CheckTopic({(*first)->bootstrap(), ShardId(0), {}}, store.get(), false, "n0");
    ASSERT_TRUE(check.ok()) << check.status().ToString();
    EXPECT_FALSE(check->went_back);
    EXPECT_EQ(store->kafka_cluster_id(), check->cluster_id);
    auto reader = LogReader::Start({(*first)->bootstrap(), ShardId(0), {}}, store.get());
    auto publisher = Publisher::Start({(*first)->bootstrap(), ShardId(0), {}}, store.get());
    ASSERT_TRUE(reader.ok() && publisher.ok());
    testing_support::PromoteToEpochOne(*store, "n0");
    testing_support::WriteCommands(*store, 5, 1);
    EXPECT_TRUE(CheckTopic({(*first)->bootstrap(), ShardId(0), {}}, store.get(), false, "n0").ok());
  }
  const CanonicalMark before = store->canonical_mark();
  ASSERT_GE(before.offset, 0);

  auto second = EmbeddedCluster::Start(1, 1);  // another cluster id, an empty topic
  ASSERT_TRUE(second.ok());
  auto refused = CheckTopic({(*second)->bootstrap(), ShardId(0), {}}, store.get(), false, "n0");
  ASSERT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("--accept-new-topic"), std::string::npos);
  EXPECT_EQ(store->canonical_mark().offset, before.offset) << "a refused check changed the store";

  auto accepted = CheckTopic({(*second)->bootstrap(), ShardId(0), {}}, store.get(), true, "n0");
  ASSERT_TRUE(accepted.ok()) << accepted.status().ToString();
  EXPECT_TRUE(accepted->went_back);
  EXPECT_EQ(store->canonical_mark().position, store->head().position);
  EXPECT_EQ(store->canonical_mark().offset, -1);
  // The log goes on in the new topic from the head; nothing old is republished.
  auto reader = LogReader::Start({(*second)->bootstrap(), ShardId(0), {}}, store.get());
  auto publisher = Publisher::Start({(*second)->bootstrap(), ShardId(0), {}}, store.get());
  ASSERT_TRUE(reader.ok() && publisher.ok());
  const Position head = store->head().position;
  testing_support::WriteCommands(*store, 3, 50);
  ASSERT_TRUE((*reader)->WaitFor(store->head().position, 15000)) << (*reader)->stats().stopped.ToString();
  // Only the new batches are published. The publisher counts a batch just after handing it
  // to the producer, and a quick reader can settle it before that count moves (seen once in
  // CI: 2 of 3 counted), so the count gets a bounded wait to catch up first.
  const uint64_t written = store->ReadBatches(head.next(), 1000)->size();
  for (int i = 0; i < 500 && (*publisher)->stats().published < written; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ((*publisher)->stats().published, written);
}

TEST(TopicCheck, APartitionEndingBeforeTheCanonicalOffsetWentBack) {
  auto cluster = EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok());
  TempDir w, f;
  // A follower whose canonical head sits at offset 1000 of a topic that now has nothing.
  auto writer = testing_support::OpenNodeStore(w.path(), "n0");
  testing_support::PromoteToEpochOne(*writer, "n0");
  auto follower = testing_support::OpenNodeStore(f.path(), "n1");
  auto batches = writer->ReadBatches(Position(1), 10);
  ASSERT_TRUE(batches.ok() && batches->size() == 1);
  auto facts = FactsOf(batches->front());
  ASSERT_TRUE(facts.ok());
  ASSERT_TRUE(follower->AppendCanonicalBatch(batches->front(), {facts->last, facts->last_hash, facts->epoch, "n0", 1000}).ok());
  auto refused = CheckTopic({(*cluster)->bootstrap(), ShardId(0), {}}, follower.get(), false, "n1");
  ASSERT_EQ(refused.status().code(), Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("before the canonical head's offset 1000"), std::string::npos)
      << refused.status().ToString();
}
