// A standby (--role standby): follows the writer's Kafka partition into its own store by
// the follower append path, keeps hot read models over it, serves reads, answers writes
// with 503 not-writer naming the writer, never mints an admin key, and holds the writer's
// log byte for byte (same digest at the same position).
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace testing_support;
using Json = nlohmann::json;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

Headers Bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

TEST(Standby, FollowsTheWriterServesReadsAndSendsWritesToTheWriter) {
  TempDir dir;
  DevBroker broker(LEDGERD_PATH, dir.path());
  const std::string bootstrap = broker.bootstrap;
  ASSERT_FALSE(bootstrap.empty()) << ReadAll(dir.Sub("broker.log"));
  const int writer_port = FreeLoopbackPort();
  const std::string writer_url = "http://127.0.0.1:" + std::to_string(writer_port);
  ChildProcess writer(LEDGERD_PATH,
                      {"--data", dir.Sub("w"), "--http", "127.0.0.1:" + std::to_string(writer_port), "--kafka", bootstrap,
                       "--node-id", "w1"},
                      dir.Sub("writer.log"));
  ASSERT_TRUE(WaitForStatus(writer_port, "/health/ready", 200, 20000)) << ReadAll(dir.Sub("writer.log"));
  std::string admin = ReadAdminKey(dir.Sub("w"));
  const std::string key =
      Json::parse(HttpCall(writer_port, "POST", "/v1/keys", Bearer(admin), R"({"role":"merchant","merchant_id":"m1"})").body)["key"];
  ASSERT_EQ(HttpCall(writer_port, "PUT", "/v1/merchant", Bearer(key), R"({"settlement_currency":"USD"})").status, 200);
  ASSERT_EQ(HttpCall(writer_port, "POST", "/v1/stores", Bearer(key), R"({"store_id":"s1","name":"Shoes"})").status, 201);

  const int standby_port = FreeLoopbackPort();
  ChildProcess standby(LEDGERD_PATH,
                       {"--data", dir.Sub("s"), "--http", "127.0.0.1:" + std::to_string(standby_port), "--kafka", bootstrap,
                        "--role", "standby", "--writer", writer_url, "--node-id", "s1"},
                       dir.Sub("standby.log"));
  ASSERT_TRUE(WaitForStatus(standby_port, "/health/ready", 200, 20000)) << ReadAll(dir.Sub("standby.log"));
  // Written after the standby started too: it follows.
  ASSERT_EQ(HttpCall(writer_port, "POST", "/v1/customers", Bearer(key), R"({"customer_id":"c1"})").status, 201);
  // Reads with the writer's keys (KeyIssued is in the log), once the standby has caught up.
  HttpReply customer;
  for (int i = 0; i < 200 && customer.status != 200; ++i) {
    customer = HttpCall(standby_port, "GET", "/v1/customers/c1", Bearer(key), "");
    if (customer.status != 200) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ASSERT_EQ(customer.status, 200) << customer.body << ReadAll(dir.Sub("standby.log"));
  EXPECT_EQ(HttpCall(standby_port, "GET", "/v1/stores/s1", Bearer(key), "").status, 200);
  // Writes: 503 not-writer, naming the writer, nothing written.
  HttpReply write = HttpCall(standby_port, "POST", "/v1/stores", Bearer(key), R"({"store_id":"s2","name":"Hats"})");
  EXPECT_EQ(write.status, 503);
  const Json problem = Json::parse(write.body);
  EXPECT_EQ(problem["type"], "urn:ledger:problem:not-writer");
  EXPECT_EQ(problem["writer"], writer_url);
  EXPECT_NE(write.headers.find("Retry-After"), std::string::npos) << write.headers;
  EXPECT_EQ(HttpGet(standby_port, "/health/writer").status, 503);
  EXPECT_EQ(HttpGet(writer_port, "/health/writer").status, 200);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("s") + "/admin.key")) << "a standby never mints an admin key";
  EXPECT_EQ(ReadAll(dir.Sub("standby.log")).find("admin key"), std::string::npos);
  // The same log: the standby's head position and hash are the writer's.
  const Json w = Json::parse(HttpGet(writer_port, "/health/ready").body);
  Json s;
  for (int i = 0; i < 200; ++i) {
    s = Json::parse(HttpGet(standby_port, "/health/ready").body);
    if (s["head_position"] == w["canonical_position"]) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_EQ(s["head_position"], w["canonical_position"]);
  ASSERT_NE(standby.StopWith(SIGTERM, 15000), -1);
  ASSERT_NE(writer.StopWith(SIGTERM, 15000), -1);
  // Byte for byte: the chain hash at that position is the same in both stores.
  const std::string at = s["head_position"].get<std::string>();
  auto digest = [&](const std::string& data) {
    return RunCommand(std::string(LEDGER_REPLAY_PATH) + " digest --store " + data + " --at " + at + " 2>&1").out;
  };
  const std::string from_writer = digest(dir.Sub("w")), from_standby = digest(dir.Sub("s"));
  EXPECT_EQ(from_standby, from_writer);
  EXPECT_NE(from_writer.find(':'), std::string::npos) << from_writer;
  ASSERT_NE(broker.process.StopWith(SIGTERM, 15000), -1);
}

}  // namespace
