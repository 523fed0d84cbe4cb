// The writer's monitor inside a running shard (api/replicated_shard.cc), on the embedded
// cluster, with the event store wrapped to fail writes on demand: a sequencer whose append
// failed holds state the log does not, so it refuses everything after; the monitor replaces
// it with one that folds the log again, and writes go on without a restart.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

#include "api/replicated_shard.h"
#include "ledger/chain_hash.h"
#include "ledger/domain/sequencer.h"
#include "ledger/kafka/embedded_cluster.h"
#include "projections/projections.h"
#include "projections/read_model_store.h"
#include "tests/support/faulty_read_store.h"
#include "tests/support/temp_dir.h"

namespace {

using ledger::Code;
using ledger::Status;
using ledger::Channel;
using ledger::domain::Command;
using ledger::domain::CommandRequest;
using ledger::domain::ConfigureMerchant;
using ledger::domain::OpenStore;
using ledger::domain::Sequencer;
using testing_support::TempDir;

CommandRequest Request(Command c, uint64_t n) {
  CommandRequest r;
  r.merchant_id = "m1";
  r.request_digest = ledger::Sha256Of(std::to_string(n));
  r.command_id = {9, n << 16};
  r.command = std::move(c);
  return r;
}

// The shard's sequencer once it is another than `old` (and not null), or null after
// `timeout_ms`.
std::shared_ptr<Sequencer> NextSequencer(const api::ReplicatedShard& shard, const Sequencer* old, int timeout_ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < until) {
    std::shared_ptr<Sequencer> now = shard.writer()->get().sequencer;
    if (now != nullptr && now.get() != old) return now;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return nullptr;
}

// A node of its own on the embedded cluster, with a short failover period.
api::NodeOptions OneNodeOptions(const TempDir& dir) {
  api::NodeOptions o;
  o.data_dir = dir.path();
  o.node_id = "n1";
  o.failover_after_ms = 400;
  return o;
}

TEST(ReplicatedShardMonitor, ReplacesASequencerWhoseAppendFailedWithOneThatDecidesFromTheLog) {
  auto cluster = ledger::kafka::EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  TempDir dir;
  const api::NodeOptions o = OneNodeOptions(dir);
  std::atomic<bool> broken{false};
  auto shard = api::ReplicatedShard::Start(
      o, (*cluster)->bootstrap(), /*embedded=*/true, [] { return Status::Ok(); },
      [&broken](std::unique_ptr<ledger::EventStore> opened) -> std::unique_ptr<ledger::EventStore> {
        auto faulty = std::make_unique<testing_support::FaultyReadStore>(std::move(opened));
        faulty->append_fault = [&broken] {
          return broken.load() ? Status::IOError("injected write failure") : Status::Ok();
        };
        return faulty;
      });
  ASSERT_TRUE(shard.ok()) << shard.status().ToString();
  ASSERT_TRUE((*shard)->writing());
  const std::shared_ptr<Sequencer> first = (*shard)->writer()->get().sequencer;
  ASSERT_NE(first, nullptr);
  auto configured = first->Execute(Request(ConfigureMerchant{"USD", "", "", "", "", ""}, 1));
  ASSERT_TRUE(configured.ok()) << configured.status().ToString();

  broken = true;
  EXPECT_EQ(first->Execute(Request(OpenStore{"s1", "Main", Channel::kWeb}, 2)).status().code(), Code::kIOError);
  EXPECT_TRUE(first->failed());
  broken = false;
  // Without the monitor the shard would keep the failed one (every write 503) until restarted.
  const std::shared_ptr<Sequencer> second = NextSequencer(**shard, first.get(), 10000);
  ASSERT_NE(second, nullptr) << "the failed sequencer was not replaced";
  EXPECT_FALSE(second->failed());
  EXPECT_TRUE((*shard)->writing());
  // The store the failed command named was never written: the new sequencer's state, folded
  // from the log, does not hold it, so opening it again is no conflict.
  auto opened = second->Execute(Request(OpenStore{"s1", "Main", Channel::kWeb}, 3));
  EXPECT_TRUE(opened.ok()) << opened.status().ToString();
  EXPECT_NE((*shard)->Metrics().find("ledger_sequencer_restarts_total 1\n"), std::string::npos) << (*shard)->Metrics();
  // The one replaced is stopped: it takes nothing more.
  EXPECT_EQ(first->Execute(Request(OpenStore{"s2", "Second", Channel::kWeb}, 4)).status().code(), Code::kShuttingDown);
  // And the shard lets it go once the store owes it nothing (it kept every replaced one, a
  // folded state each, until the node stopped); this test's own reference keeps it alive.
  const auto dropped_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while ((*shard)->Metrics().find("ledger_sequencers_retired 0\n") == std::string::npos &&
         std::chrono::steady_clock::now() < dropped_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_NE((*shard)->Metrics().find("ledger_sequencers_retired 0\n"), std::string::npos) << (*shard)->Metrics();
  EXPECT_TRUE(first->settled());
}

}  // namespace

namespace {

// DESIGN §8: a failover's outage notice resolves by itself after --resolve-after-s of
// uninterrupted writing. The writer used to remember the notice in memory only, so one left
// open by a writer that restarted (or was demoted, or whose submit failed) stayed open for
// good. Now the writer finds every open failover notice of its shard in the status read
// model: here one already in the log when the shard starts, as a restart would find it;
// another shard's notice and other components' are left alone.
TEST(ReplicatedShardMonitor, AnOpenFailoverNoticeInTheLogIsResolvedAfterTheStablePeriod) {
  auto cluster = ledger::kafka::EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  TempDir dir;
  api::NodeOptions o = OneNodeOptions(dir);
  o.resolve_after_s = 1;
  auto shard = api::ReplicatedShard::Start(o, (*cluster)->bootstrap(), /*embedded=*/true, [] { return Status::Ok(); });
  ASSERT_TRUE(shard.ok()) << shard.status().ToString();
  const std::shared_ptr<Sequencer> sequencer = (*shard)->writer()->get().sequencer;
  ASSERT_NE(sequencer, nullptr);
  uint64_t n = 100;
  const auto publish = [&](const std::string& id, const std::string& component) {
    CommandRequest r;
    r.command_id = {11, n++};
    r.command = ledger::domain::PublishOutageNotice{id, component, "minor",
                                                    ledger::domain::OutageStatusInput::kMonitoring, "taken over", 1, 1};
    auto done = sequencer->Execute(std::move(r));
    ASSERT_TRUE(done.ok()) << done.status().ToString();
  };
  publish("failover-shard-0-epoch-7", "ledger-shard-0");  // as a writer that restarted before resolving it left it
  publish("failover-shard-01-epoch-2", "ledger-shard-01");  // not this shard's
  publish("paypal-slow", "payments-paypal");              // not a failover's
  const auto status_of = [&](const std::string& id) {
    auto v = (*shard)->projector()->read_model("status")->Get("incident/" + id);
    return v.ok() && v->has_value() ? (**v).value("status", std::string()) : std::string();
  };
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (status_of("failover-shard-0-epoch-7") != "Resolved" && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(status_of("failover-shard-0-epoch-7"), "Resolved");
  EXPECT_EQ(status_of("failover-shard-01-epoch-2"), "Monitoring");
  EXPECT_EQ(status_of("paypal-slow"), "Monitoring");
}

}  // namespace
