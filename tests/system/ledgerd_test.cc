// ledgerd as a process: starts on a free loopback port, answers health, keeps its store
// across restarts, refuses a directory that is not its store, stops on SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace testing_support;

namespace {
std::vector<std::string> NodeArgs(const std::string& data, int port) {
  return {"--data", data, "--http", "127.0.0.1:" + std::to_string(port), "--node-id", "test-node"};
}
}  // namespace

TEST(Ledgerd, ServesHealthAndStopsOnSigterm) {
  TempDir dir;
  const int port = FreeLoopbackPort();
  ASSERT_GT(port, 0);
  ChildProcess node(LEDGERD_PATH, NodeArgs(dir.Sub("data"), port), dir.Sub("node.log"));
  ASSERT_TRUE(WaitForStatus(port, "/health/live", 200, 15000)) << "node did not come up";
  HttpReply live = HttpGet(port, "/health/live");
  EXPECT_EQ(live.status, 200);
  EXPECT_NE(live.body.find("live"), std::string::npos);
  EXPECT_NE(live.headers.find("application/json"), std::string::npos);
  HttpReply missing = HttpGet(port, "/v1/nothing-here");
  EXPECT_EQ(HttpGet(port, "/health/ready").status, 200);
  EXPECT_EQ(missing.status, 404);
  EXPECT_NE(missing.headers.find("application/problem+json"), std::string::npos);
  EXPECT_NE(missing.body.find("urn:ledger:problem:not-found"), std::string::npos);
  int status = node.StopWith(SIGTERM, 10000);
  ASSERT_NE(status, -1) << "node did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("data") + "/shard-0/CURRENT"));
}

TEST(Ledgerd, RefusesADataDirectoryHoldingSomethingElse) {
  TempDir dir;
  std::filesystem::create_directories(dir.Sub("data/shard-0"));
  { std::ofstream(dir.Sub("data/shard-0/precious.txt")) << "not a ledger"; }
  const int port = FreeLoopbackPort();
  ChildProcess node(LEDGERD_PATH, NodeArgs(dir.Sub("data"), port), dir.Sub("node.log"));
  int status = node.StopWith(0, 15000);  // signal 0: just wait for it to exit
  ASSERT_NE(status, -1) << "node kept running on a foreign directory";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 1);
  std::ifstream log(dir.Sub("node.log"));
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("not-a-ledger-store"), std::string::npos) << text;
}

TEST(Ledgerd, BadFlagsExitWithUsage) {
  TempDir dir;
  ChildProcess node(LEDGERD_PATH, {"--http", "127.0.0.1:1"}, dir.Sub("node.log"));
  int status = node.StopWith(0, 10000);
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}

// --help prints the usage on stdout and exits 0 (it said "--help needs a value", exit 2); a
// flag it does not know, last on the line, is named as unknown (exit 2) (DECISIONS 108).
TEST(Ledgerd, HelpPrintsTheUsageAndUnknownFlagsAreNamed) {
  for (const char* ask : {" --help", " -h", " dev-broker --help"}) {
    const CommandRun help = RunCommand(std::string(LEDGERD_PATH) + ask + " 2>/dev/null");
    EXPECT_EQ(help.exit_code, 0) << ask;
    EXPECT_EQ(help.out.rfind("usage: ledgerd", 0), 0u) << ask << ": " << help.out;
  }
  const CommandRun bogus = RunCommand(std::string(LEDGERD_PATH) + " --data /nonexistent --http 127.0.0.1:1 --bogus 2>&1");
  EXPECT_EQ(bogus.exit_code, 2);
  EXPECT_EQ(bogus.out.rfind("ledgerd: unknown flag --bogus\n", 0), 0u) << bogus.out;
}

// With no --kafka the node runs the embedded cluster: a new shard's first batches
// (WriterPromoted(1), the default fee recipe, the first admin key: positions 1 to 3) are
// published, read back and known canonical; a restart (a new, empty topic) goes on from the
// store's own head without writing a second promotion, recipe or key.
TEST(Ledgerd, EmbeddedClusterMakesTheFirstBatchCanonicalAndRestartsCleanly) {
  TempDir dir;
  for (int run = 0; run < 2; ++run) {
    const int port = FreeLoopbackPort();
    ChildProcess node(LEDGERD_PATH, NodeArgs(dir.Sub("data"), port), dir.Sub("node.log"));
    ASSERT_TRUE(WaitForStatus(port, "/health/ready", 200, 20000)) << "node did not come up (run " << run << ")";
    HttpReply ready = HttpGet(port, "/health/ready");
    EXPECT_NE(ready.body.find("\"head_position\":\"0:3\""), std::string::npos) << ready.body;
    EXPECT_NE(ready.body.find("\"canonical_position\":\"0:3\""), std::string::npos) << ready.body;
    EXPECT_NE(ready.body.find("\"publishing_lag_events\":0"), std::string::npos) << ready.body;
    // The read models follow the canonical log inside the node.
    for (int i = 0; i < 100 && HttpGet(port, "/health/ready").body.find("\"projection_position\":\"0:3\"") ==
                                   std::string::npos; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    EXPECT_NE(HttpGet(port, "/health/ready").body.find("\"projection_position\":\"0:3\""), std::string::npos);
    int status = node.StopWith(SIGTERM, 15000);
    ASSERT_NE(status, -1) << "node did not stop on SIGTERM";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  }
}

// An external cluster whose topic went back (the dev broker restarted: a new cluster id, an
// empty topic): the writer refuses to start, naming --accept-new-topic; with it, it goes on.
TEST(Ledgerd, ATopicThatWentBackIsRefusedUnlessAccepted) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  auto start_broker = [&](int n) {
    const std::string file = dir.Sub("bootstrap" + std::to_string(n));
    auto broker = std::make_unique<ChildProcess>(LEDGERD_PATH, std::vector<std::string>{"dev-broker", "--bootstrap-file", file},
                                                 dir.Sub("broker.log"));
    return std::make_pair(std::move(broker), WaitForFileLine(file, 15000));
  };
  auto [broker, bootstrap] = start_broker(1);
  ASSERT_FALSE(bootstrap.empty());
  auto args = [&](const std::string& kafka, int port) {
    auto a = NodeArgs(data, port);
    a.insert(a.end(), {"--kafka", kafka});
    return a;
  };
  {
    const int port = FreeLoopbackPort();
    ChildProcess node(LEDGERD_PATH, args(bootstrap, port), dir.Sub("node1.log"));
    ASSERT_TRUE(WaitForStatus(port, "/health/ready", 200, 20000));
    ASSERT_NE(node.StopWith(SIGTERM, 15000), -1);
  }
  ASSERT_NE(broker->StopWith(SIGTERM, 10000), -1);
  auto [broker2, bootstrap2] = start_broker(2);
  ASSERT_FALSE(bootstrap2.empty());
  {
    ChildProcess node(LEDGERD_PATH, args(bootstrap2, FreeLoopbackPort()), dir.Sub("node2.log"));
    const int status = node.StopWith(0, 20000);
    ASSERT_NE(status, -1) << "the node should have refused to start";
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) != 0);
    std::ifstream log(dir.Sub("node2.log"));
    std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
    EXPECT_NE(text.find("--accept-new-topic"), std::string::npos) << text;
  }
  const int port = FreeLoopbackPort();
  auto accepted = args(bootstrap2, port);
  accepted.push_back("--accept-new-topic");
  ChildProcess node(LEDGERD_PATH, accepted, dir.Sub("node3.log"));
  ASSERT_TRUE(WaitForStatus(port, "/health/ready", 200, 20000));
  EXPECT_NE(HttpGet(port, "/health/ready").body.find("\"canonical_position\":\"0:3\""), std::string::npos);
  ASSERT_NE(node.StopWith(SIGTERM, 15000), -1);
  ASSERT_NE(broker2->StopWith(SIGTERM, 10000), -1);
}

// Projections as a separate process (`--role projector --shards 0`): it keeps its own copy
// of shard 0's log from Kafka and the read models over it, reaching the writer's canonical
// position; it never writes (no WriterPromoted of its own, no writer epoch).
TEST(Ledgerd, AProjectorProcessFollowsTheWritersLog) {
  TempDir dir;
  DevBroker broker(LEDGERD_PATH, dir.path());
  const std::string bootstrap = broker.bootstrap;
  ASSERT_FALSE(bootstrap.empty());
  const int writer_port = FreeLoopbackPort();
  auto writer_args = NodeArgs(dir.Sub("writer"), writer_port);
  writer_args.insert(writer_args.end(), {"--kafka", bootstrap});
  ChildProcess writer(LEDGERD_PATH, writer_args, dir.Sub("writer.log"));
  ASSERT_TRUE(WaitForStatus(writer_port, "/health/ready", 200, 20000));

  const int port = FreeLoopbackPort();
  ChildProcess projector(LEDGERD_PATH,
                         {"--data", dir.Sub("projector"), "--http", "127.0.0.1:" + std::to_string(port), "--node-id",
                          "p1", "--role", "projector", "--shards", "0", "--kafka", bootstrap},
                         dir.Sub("projector.log"));
  ASSERT_TRUE(WaitForStatus(port, "/health/ready", 200, 20000));
  std::string body;
  for (int i = 0; i < 200; ++i) {
    body = HttpGet(port, "/health/ready").body;
    if (body.find("\"projection_position\":\"0:3\"") != std::string::npos) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_NE(body.find("\"projection_position\":\"0:3\""), std::string::npos) << body;
  EXPECT_NE(body.find("\"canonical_position\":\"0:3\""), std::string::npos) << body;
  EXPECT_EQ(HttpGet(port, "/health/writer").status, 503);  // a projector never writes
  EXPECT_EQ(HttpGet(writer_port, "/health/writer").status, 200);
  ASSERT_NE(projector.StopWith(SIGTERM, 15000), -1);
  ASSERT_NE(writer.StopWith(SIGTERM, 15000), -1);
  EXPECT_TRUE(std::filesystem::exists(dir.Sub("projector") + "/projections/shard-0/customers/CURRENT"));
  ASSERT_NE(broker.process.StopWith(SIGTERM, 10000), -1);
}
