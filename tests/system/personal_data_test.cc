// A customer registered with personal fields, ordered, then erased, on a real ledgerd with
// a secrets key: the log verifies, the money is intact, and no byte of their name or email
// is in the data directory, the node's log, /metrics or an export (DESIGN §12).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace testing_support;
using Json = nlohmann::json;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;

constexpr char kName[] = "Wilhelmina Outage-Quarantine";
constexpr char kEmail[] = "w.oq.system-test@example.invalid";

Headers Bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }


TEST(PersonalData, AnErasedCustomerLeavesNoByteOfTheirNameOrEmailAnywhere) {
  TempDir dir;
  const std::string data = dir.Sub("data"), key_file = dir.Sub("secrets.key");
  std::ofstream(key_file) << std::string(64, 'e') << "\n";
  chmod(key_file.c_str(), 0600);
  const int port = FreeLoopbackPort();
  ChildProcess node(LEDGERD_PATH,
                    {"--data", data, "--http", "127.0.0.1:" + std::to_string(port), "--secrets-key-file", key_file},
                    dir.Sub("node.log"));
  ASSERT_TRUE(WaitForStatus(port, "/health/ready", 200, 20000)) << ReadAll(dir.Sub("node.log"));
  const std::string admin = ReadAdminKey(data);
  const std::string key =
      Json::parse(HttpCall(port, "POST", "/v1/keys", Bearer(admin), R"({"role":"merchant","merchant_id":"m1"})").body)["key"];
  ASSERT_EQ(HttpCall(port, "PUT", "/v1/merchant", Bearer(key), R"({"settlement_currency":"USD"})").status, 200);
  ASSERT_EQ(HttpCall(port, "POST", "/v1/stores", Bearer(key), R"({"store_id":"s1","name":"Shoes"})").status, 201);
  ASSERT_EQ(HttpCall(port, "POST", "/v1/stores/s1/listings", Bearer(key),
                     R"({"sku":"sku-1","title":"Red Shoe","price":5000,"currency":"USD","stock":10})")
                .status,
            201);
  const Json customer = {{"customer_id", "c1"}, {"store_id", "s1"}, {"name", kName}, {"email", kEmail},
                         {"phone", "+49 30 555"}};
  HttpReply reg = HttpCall(port, "POST", "/v1/customers", Bearer(key), customer.dump());
  ASSERT_EQ(reg.status, 201) << reg.body;
  EXPECT_EQ(Json::parse(reg.body)["profile"]["email"], kEmail);
  ASSERT_EQ(HttpCall(port, "POST", "/v1/orders", Bearer(key),
                     R"({"order_id":"o1","store_id":"s1","customer_id":"c1","currency":"USD",
                         "lines":[{"sku":"sku-1","quantity":1,"unit_price":5000}],"shipping":0,"tax":0})")
                .status,
            201);
  Headers h = Bearer(key);
  h.emplace_back("Idempotency-Key", "auth-1");
  ASSERT_EQ(HttpCall(port, "POST", "/v1/payments", h,
                     R"({"payment_id":"p1","order_id":"o1","amount":5000,"currency":"USD","method":"card","provider":"stripe"})")
                .status,
            201);
  h.back().second = "cap-1";
  ASSERT_EQ(HttpCall(port, "POST", "/v1/payments/p1/captures", h, R"({"capture_id":"k1","amount":5000})").status, 201);
  const std::string balances = HttpCall(port, "GET", "/v1/balances", Bearer(key), "").body;
  HttpReply erased = HttpCall(port, "POST", "/v1/customers/c1/erase", Bearer(key), "");
  ASSERT_EQ(erased.status, 200) << erased.body;
  HttpReply after = HttpCall(port, "GET", "/v1/customers/c1", Bearer(key), "");
  EXPECT_TRUE(Json::parse(after.body)["profile"]["erased"].get<bool>()) << after.body;
  EXPECT_EQ(HttpCall(port, "GET", "/v1/balances", Bearer(key), "").body, balances);
  const std::string metrics = HttpGet(port, "/metrics").body;
  EXPECT_EQ(metrics.find(kName), std::string::npos);
  EXPECT_EQ(metrics.find(kEmail), std::string::npos);
  ASSERT_NE(node.StopWith(SIGTERM, 15000), -1);

  const std::string files = AllFileBytes(data);
  EXPECT_EQ(files.find(kName), std::string::npos) << "the name is in the data directory";
  EXPECT_EQ(files.find(kEmail), std::string::npos) << "the email is in the data directory";
  const std::string log = ReadAll(dir.Sub("node.log"));
  EXPECT_EQ(log.find(kName), std::string::npos);
  EXPECT_EQ(log.find(kEmail), std::string::npos);
  CommandRun verify = RunCommand(std::string(LEDGER_REPLAY_PATH) + " verify --store " + data + " 2>&1");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  CommandRun exported =
      RunCommand(std::string(LEDGER_REPLAY_PATH) + " export --store " + data + " --format jsonl --out " + dir.Sub("all.jsonl") + " 2>&1");
  ASSERT_EQ(exported.exit_code, 0) << exported.out;
  const std::string jsonl = ReadAll(dir.Sub("all.jsonl"));
  EXPECT_NE(jsonl.find("CustomerErased"), std::string::npos);
  EXPECT_EQ(jsonl.find(kName), std::string::npos);
  EXPECT_EQ(jsonl.find(kEmail), std::string::npos);
}

}  // namespace
