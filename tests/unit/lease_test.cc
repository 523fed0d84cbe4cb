// The writer's lease (DESIGN §6): nothing is acknowledged, at either ack level, unless the
// writer's own reader has recently read its partition to the end. First the store's gate
// alone, then test (g) of the Kafka issue: every broker down under load.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "ledger/kafka/embedded_cluster.h"
#include "ledger/kafka/log_reader.h"
#include "ledger/kafka/publisher.h"
#include "tests/support/log_fixtures.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_records.h"

using namespace ledger;
using namespace ledger::kafka;
using testing_support::TempDir;
using Steady = std::chrono::steady_clock;

namespace {

AppendCommand OneCommand(uint64_t seed) {
  testing_support::RecordSpec spec;
  spec.stream = std::string("order/m1/o").append(std::to_string(seed % 7));
  spec.seed = seed;
  return testing_support::MakeCommand(spec, 1, false);
}

TEST(Lease, NothingIsAcknowledgedWithoutIt) {
  TempDir dir;
  auto store = testing_support::OpenNodeStore(dir.path(), "n0", AckLevel::kLocal, /*ack_requires_lease=*/true);
  std::promise<Result<AppendResult>> first;
  store->AppendAsync(OneCommand(1), [&](Result<AppendResult> r) { first.set_value(std::move(r)); });
  auto answered = first.get_future();
  // Durable, but not acknowledged: no lease yet.
  EXPECT_EQ(answered.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout);
  EXPECT_EQ(store->head().position, Position(1));
  EXPECT_EQ(store->answers_awaiting_lease(), 1u);
  store->RenewLease(Steady::now() + std::chrono::seconds(30));
  ASSERT_EQ(answered.wait_for(std::chrono::seconds(5)), std::future_status::ready);
  EXPECT_TRUE(answered.get().ok());
  // While the lease holds, answers go out at once.
  EXPECT_TRUE(store->Append(OneCommand(2)).ok());
}

TEST(Lease, AnExpiredLeaseHoldsAnswersAndARenewalThatIsAlreadyPastReleasesNothing) {
  TempDir dir;
  auto store = testing_support::OpenNodeStore(dir.path(), "n0", AckLevel::kLocal, true);
  store->RenewLease(Steady::now() + std::chrono::milliseconds(50));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  std::atomic<int> answered{0};
  for (int i = 0; i < 5; ++i) store->AppendAsync(OneCommand(10 + i), [&](Result<AppendResult> r) {
    EXPECT_TRUE(r.ok());
    answered++;
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  EXPECT_EQ(answered.load(), 0);
  store->RenewLease(Steady::now() - std::chrono::milliseconds(1));  // lapsed already
  EXPECT_EQ(answered.load(), 0);
  store->RenewLease(Steady::now() + std::chrono::seconds(30));
  for (int i = 0; i < 500 && answered.load() < 5; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(answered.load(), 5);
}

TEST(Lease, AnswersWaitingForTheLeaseAreRefusedWhenTheStoreCloses) {
  TempDir dir;
  std::promise<Status> answer;
  {
    auto store = testing_support::OpenNodeStore(dir.path(), "n0", AckLevel::kLocal, true);
    store->AppendAsync(OneCommand(1), [&](Result<AppendResult> r) { answer.set_value(r.status()); });
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(answer.get_future().get().code(), Code::kShuttingDown);
}

// Test (g): every broker down for seconds under load. The lease stops acknowledgements
// within lease_ms; nothing acknowledged is lost; publishing resumes and every
// acknowledged event becomes canonical.
TEST(Lease, BrokersDownUnderLoadStopAcknowledgementsAndLoseNothing) {
  constexpr int kLeaseMs = 100;
  auto cluster = EmbeddedCluster::Start(3, 1);
  ASSERT_TRUE(cluster.ok());
  const std::string bootstrap = (*cluster)->bootstrap();
  TempDir dir;
  auto writer = testing_support::OpenNodeStore(dir.path(), "n0", AckLevel::kLocal, true);
  // The reader first: the promotion is acknowledged only under its lease too.
  auto reader = LogReader::Start({bootstrap, ShardId(0), {}}, writer.get(), kLeaseMs);
  ASSERT_TRUE(reader.ok());
  auto publisher = Publisher::Start({bootstrap, ShardId(0), {}}, writer.get());
  ASSERT_TRUE(publisher.ok());
  testing_support::PromoteToEpochOne(*writer, "n0");

  std::mutex mu;
  std::set<uint64_t> acknowledged;  // first positions
  std::atomic<uint64_t> acks{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> callers;
  for (int t = 0; t < 4; ++t)
    callers.emplace_back([&, t] {
      for (uint64_t i = 0; !stop.load(); ++i) {
        auto r = writer->Append(OneCommand(1000 * t + i));
        if (r.ok()) {
          std::lock_guard<std::mutex> lock(mu);
          acknowledged.insert(r->first_position.value());
          acks++;
        } else {
          std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
      }
    });
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  ASSERT_GT(acks.load(), 0u) << "no acknowledgements before the outage";

  for (int id = 1; id <= 3; ++id) ASSERT_TRUE((*cluster)->SetBrokerDown(id).ok());
  // After three lease periods no renewal can still hold: from then on nothing is acknowledged.
  std::this_thread::sleep_for(std::chrono::milliseconds(3 * kLeaseMs + 200));
  const uint64_t acks_when_lapsed = acks.load();
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  EXPECT_EQ(acks.load(), acks_when_lapsed) << "acknowledged while cut off from Kafka";
  // Each caller's last command is durable here but waits, unacknowledged, for the lease.
  EXPECT_EQ(writer->answers_awaiting_lease(), 4u);
  {  // A standby's step 1 (read to the end) gives up in time while the brokers are down,
     // rather than holding its caller (and the shard's role lock) until they are back.
    const auto asked = Steady::now();
    EXPECT_EQ((*reader)->ReadToEnd(500).code(), Code::kUnavailable);
    EXPECT_LT(Steady::now() - asked, std::chrono::seconds(5));
  }
  {
    std::lock_guard<std::mutex> lock(mu);
    EXPECT_GT(writer->head().position.value(), *acknowledged.rbegin());
  }

  for (int id = 1; id <= 3; ++id) ASSERT_TRUE((*cluster)->SetBrokerUp(id).ok());
  const auto back = Steady::now();
  while (acks.load() == acks_when_lapsed && Steady::now() - back < std::chrono::seconds(30))
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_GT(acks.load(), acks_when_lapsed) << "acknowledgements did not resume";
  stop = true;
  for (auto& t : callers) t.join();

  // Nothing acknowledged is lost: every acknowledged event is stored and becomes canonical.
  ASSERT_TRUE((*reader)->WaitFor(writer->head().position, 30000)) << (*reader)->stats().stopped.ToString();
  EXPECT_EQ(writer->answers_awaiting_lease(), 0u);
  for (uint64_t p : acknowledged) {
    auto e = writer->ReadRange(Position(p), 1);
    ASSERT_TRUE(e.ok() && e->size() == 1) << p;
    EXPECT_LE(p, writer->canonical_mark().position.value());
  }
  EXPECT_GT((*reader)->stats().lease_renewals, 5u);
  EXPECT_EQ((*publisher)->stats().published_through, writer->head().position);
}

}  // namespace
