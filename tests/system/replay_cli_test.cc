// ledger-replay as a program: exit 0 for an intact log, 1 naming the first bad position,
// 2 for usage; --json for machines; digest, rebuild and export from the command line.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "tests/support/http_sink.h"
#include "tests/support/merchant_story.h"
#include "tests/support/process.h"
#include "tests/support/raw_store.h"
#include "tests/support/temp_dir.h"

using Json = nlohmann::json;
using testing_support::TempDir;

namespace {

using Ran = testing_support::CommandRun;

// Runs ledger-replay with `args`; stdout captured, stderr left to the test's log.
Ran Replay(const std::string& args) {
  return testing_support::RunCommand(std::string(LEDGER_REPLAY_PATH) + " " + args + " 2>/dev/null");
}

TEST(LedgerReplay, ExitCodesJsonAndTheCommandsFromTheCommandLine) {
  TempDir dir;
  const std::string store = dir.Sub("store");
  uint64_t head = 0;
  {
    testing_support::StoryLog log(store, 5);
    head = log.store->head().position.value();
  }
  Ran verify = Replay("verify --store " + store + " --json");
  ASSERT_EQ(verify.exit_code, 0) << verify.out;
  const Json v = Json::parse(verify.out);
  EXPECT_TRUE(v["ok"].get<bool>());
  EXPECT_EQ(v["events"], head);

  Ran digest = Replay("digest --store " + store + " --at 20");
  ASSERT_EQ(digest.exit_code, 0);
  const std::string kept = digest.out.substr(0, digest.out.find('\n'));
  EXPECT_EQ(kept.rfind("20:", 0), 0u) << kept;
  EXPECT_EQ(Replay("verify --store " + store + " --against " + kept).exit_code, 0);

  Ran rebuilt = Replay("rebuild --store " + store + " --projection fees --as-of 20 --out " + dir.Sub("fees-at-20") + " --json");
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.out;
  EXPECT_EQ(Json::parse(rebuilt.out)["position"], 20);
  Ran exported = Replay("export --store " + store + " --format csv --type OrderPlaced --out " + dir.Sub("orders.csv"));
  ASSERT_EQ(exported.exit_code, 0);
  std::ifstream csv(dir.Sub("orders.csv"));
  std::string header, row;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("position,stream,", 0), 0u);
  int rows = 0;
  while (std::getline(csv, row)) {
    ++rows;
    EXPECT_NE(row.find("\"OrderPlaced\""), std::string::npos) << row;
  }
  EXPECT_GT(rows, 0);
  // Options export would refuse are refused before --out is touched.
  { std::ofstream(dir.Sub("keep.csv")) << "kept\n"; }
  EXPECT_EQ(Replay("export --store " + store + " --type Nope --out " + dir.Sub("keep.csv")).exit_code, 2);
  EXPECT_EQ(testing_support::ReadAll(dir.Sub("keep.csv")), "kept\n");
  // A flag the command does not take (a typo) is a usage error, not a default.
  EXPECT_EQ(Replay("rebuild --store " + store + " --projection fees --asof 20 --out " + dir.Sub("typo")).exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("typo")));

  // Usage: 2, and nothing written.
  EXPECT_EQ(Replay("").exit_code, 2);
  EXPECT_EQ(Replay("frobnicate --store " + store).exit_code, 2);
  EXPECT_EQ(Replay("verify").exit_code, 2);
  EXPECT_EQ(Replay("verify --store " + store + " --against 12:xyz").exit_code, 2);
  EXPECT_EQ(Replay("rebuild --store " + store + " --projection nope --out " + dir.Sub("x")).exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("x")));
  EXPECT_EQ(Replay("verify --store " + dir.Sub("no-such-store")).exit_code, 3);

  // A record deleted in the middle: 1, naming its position.
  const uint64_t bad = head / 2;
  testing_support::RawStore(store).DeleteEvent(bad);
  Ran damaged = Replay("verify --store " + store + " --json");
  EXPECT_EQ(damaged.exit_code, 1);
  const Json d = Json::parse(damaged.out);
  EXPECT_FALSE(d["ok"].get<bool>());
  EXPECT_EQ(d["first_bad_position"], bad);
}

}  // namespace


// The auditor's whole story: the writer publishes digests of its log, a `digests`
// subscriber receives one as a signed webhook, and ledger-replay checks the live node's
// store (read beside it, as a secondary instance) against that digest.
TEST(LedgerReplay, TheWritersDigestReachesASubscriberAndVerifiesTheLiveLog) {
  using namespace testing_support;
  TempDir dir;
  const std::string data = dir.Sub("data");
  const std::string key_file = dir.Sub("secrets.key");
  {
    std::ofstream(key_file) << std::string(64, 'd') << "\n";
  }
  ::chmod(key_file.c_str(), 0600);
  HttpSink sink;
  const int port = FreeLoopbackPort();
  ChildProcess node(LEDGERD_PATH,
                    {"--data", data, "--http", "127.0.0.1:" + std::to_string(port), "--secrets-key-file", key_file,
                     "--allow-private-webhooks", "--digest-every-s", "1"},
                    dir.Sub("node.log"));
  ASSERT_TRUE(WaitForStatus(port, "/health/ready", 200, 20000)) << ReadAll(dir.Sub("node.log"));
  std::string admin = ReadAdminKey(data);
  const std::vector<std::pair<std::string, std::string>> as_admin = {{"Authorization", "Bearer " + admin}};
  const std::string auditor = Json::parse(HttpCall(port, "POST", "/v1/keys", as_admin, R"({"role":"auditor"})").body)["key"];
  const std::vector<std::pair<std::string, std::string>> as_auditor = {{"Authorization", "Bearer " + auditor}};
  HttpReply sub = HttpCall(port, "POST", "/v1/subscribers", as_auditor,
                           Json{{"subscriber_id", "audit"}, {"url", "http://127.0.0.1:" + std::to_string(sink.port()) + "/d"},
                                {"secret", "whsec-auditor-0123456789"}, {"topics", {"digests"}}}
                               .dump());
  ASSERT_EQ(sub.status, 201) << sub.body;
  ASSERT_TRUE(sink.WaitFor(1, 20000)) << "no digest was delivered";
  const Json delivered = Json::parse(sink.received()[0].body);
  ASSERT_EQ(delivered["topic"], "digests") << delivered.dump();
  const uint64_t position = delivered["event"]["digest_position"].get<uint64_t>();
  const std::string hash = delivered["event"]["hash"].get<std::string>();
  ASSERT_GT(position, 0u);
  const std::string headers = sink.received()[0].headers;
  EXPECT_NE(headers.find("x-ledger-signature:"), std::string::npos) << headers;
  EXPECT_NE(headers.find("v1="), std::string::npos) << headers;
  // An idle log gets no more digests (with one a second, three seconds would bring three).
  auto digests = [&]() -> long {  // -1 when the read failed (so the checks below fail too)
    HttpReply stream = HttpCall(port, "GET", "/v1/streams/digest%2Fshard-0", as_auditor, "");
    return stream.status == 200 ? static_cast<long>(Json::parse(stream.body)["events"].size()) : -1;
  };
  const long first = digests();
  EXPECT_GE(first, 1);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // an absence: three digest periods
  const long later = digests();
  EXPECT_GE(later, first);
  EXPECT_LE(later, first + 1) << "digests of nothing but digests";

  // The live store, read beside the running node, against the delivered digest.
  const std::string kept = std::to_string(position) + ":" + hash;
  Ran verify = Replay("verify --store " + data + " --against " + kept + " --json");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_TRUE(Json::parse(verify.out)["ok"].get<bool>());
  // A digest the log never had: 1, at that position.
  const std::string wrong = std::to_string(position) + ":" + std::string(64, '0');
  Ran mismatch = Replay("verify --store " + data + " --against " + wrong + " --json");
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_EQ(Json::parse(mismatch.out)["first_bad_position"], position);
  ASSERT_NE(node.StopWith(SIGTERM, 15000), -1);
}

// Replay from Kafka instead of a store: the dev broker's ledger.events, read through the
// shared log reader, holds the same log as the writer's store.
TEST(LedgerReplay, TheKafkaTopicReplaysToTheSameLogAsTheWritersStore) {
  using namespace testing_support;
  TempDir dir;
  DevBroker broker(LEDGERD_PATH, dir.path());
  const std::string bootstrap = broker.bootstrap;
  ASSERT_FALSE(bootstrap.empty()) << ReadAll(dir.Sub("broker.log"));
  const std::string data = dir.Sub("data");
  const int port = FreeLoopbackPort();
  {
    ChildProcess node(LEDGERD_PATH, {"--data", data, "--http", "127.0.0.1:" + std::to_string(port), "--kafka", bootstrap},
                      dir.Sub("node.log"));
    ASSERT_TRUE(WaitForStatus(port, "/health/ready", 200, 20000)) << ReadAll(dir.Sub("node.log"));
    std::string admin = ReadAdminKey(data);
    for (int i = 0; i < 5; ++i)
      ASSERT_EQ(HttpCall(port, "POST", "/v1/keys", {{"Authorization", "Bearer " + admin}},
                         R"({"role":"merchant","merchant_id":"m)" + std::to_string(i) + R"("})")
                    .status,
                201);
    ASSERT_NE(node.StopWith(SIGTERM, 15000), -1);
  }
  Ran from_store = Replay("digest --store " + data + " --json");
  Ran from_kafka = Replay("digest --kafka " + bootstrap + " --json");
  ASSERT_EQ(from_store.exit_code, 0);
  ASSERT_EQ(from_kafka.exit_code, 0) << from_kafka.out;
  EXPECT_EQ(Json::parse(from_kafka.out)["digest"], Json::parse(from_store.out)["digest"]);
  Ran verify = Replay("verify --kafka " + bootstrap + " --json");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_EQ(Replay("verify --kafka " + bootstrap + " --store " + data).exit_code, 2) << "one source at a time";
  ASSERT_NE(broker.process.StopWith(SIGTERM, 15000), -1);
}
