// A customer registered with personal fields, ordered, messaged, then erased, on a writer
// and its standby over a dev broker: the log verifies, the money is intact, and no byte of
// their name or email is in either node's data directory, log, /metrics or export, nor in
// the Kafka topics (DESIGN §12; issue 8's "done means").
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

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
  DevBroker broker(LEDGERD_PATH, dir.path());
  ASSERT_FALSE(broker.bootstrap.empty());
  const std::string data = dir.Sub("data"), standby_data = dir.Sub("standby"), key_file = dir.Sub("secrets.key");
  std::ofstream(key_file) << std::string(64, 'e') << "\n";
  chmod(key_file.c_str(), 0600);
  const int port = FreeLoopbackPort(), standby_port = FreeLoopbackPort();
  ChildProcess node(LEDGERD_PATH,
                    {"--data", data, "--http", "127.0.0.1:" + std::to_string(port), "--secrets-key-file", key_file,
                     "--kafka", broker.bootstrap, "--node-id", "w1"},
                    dir.Sub("node.log"));
  ASSERT_TRUE(WaitForStatus(port, "/health/ready", 200, 20000)) << ReadAll(dir.Sub("node.log"));
  ChildProcess standby(LEDGERD_PATH,
                       {"--data", standby_data, "--http", "127.0.0.1:" + std::to_string(standby_port), "--secrets-key-file",
                        key_file, "--kafka", broker.bootstrap, "--node-id", "s1", "--role", "standby", "--writer",
                        "http://127.0.0.1:" + std::to_string(port)},
                       dir.Sub("standby.log"));
  ASSERT_TRUE(WaitForStatus(standby_port, "/health/ready", 200, 20000)) << ReadAll(dir.Sub("standby.log"));
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
  // An update keeps what it does not mention (DECISIONS 109): a new phone, then the README
  // tour's form naming no personal field; the standby below opens the fields of both events.
  ASSERT_EQ(HttpCall(port, "POST", "/v1/customers", Bearer(key), R"({"customer_id":"c1","phone":"+49 30 777"})").status,
            201);
  ASSERT_EQ(HttpCall(port, "POST", "/v1/customers", Bearer(key), R"({"customer_id":"c1","store_id":"s1"})").status, 201);
  const Json merged = Json::parse(HttpCall(port, "GET", "/v1/customers/c1", Bearer(key), "").body)["profile"];
  EXPECT_EQ(merged.value("name", ""), kName) << merged.dump();
  EXPECT_EQ(merged.value("email", ""), kEmail);
  EXPECT_EQ(merged.value("phone", ""), "+49 30 777");
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
  h.back().second = "msg-1";
  ASSERT_EQ(HttpCall(port, "POST", "/v1/messages", h,
                     Json{{"message_id", "msg1"}, {"customer_id", "c1"}, {"medium", "email"},
                          {"body", std::string("Dear ") + kName + ", your order shipped"}}
                         .dump())
                .status,
            201);
  // The standby opens the customer too: it has the key from the keyring topic.
  bool standby_opens = false;
  for (int i = 0; i < 100 && !standby_opens; ++i) {
    const Json v = Json::parse(HttpCall(standby_port, "GET", "/v1/customers/c1", Bearer(key), "").body, nullptr, false);
    standby_opens = v.is_object() && v.contains("messages") && v["messages"].size() == 1 &&
                    v["profile"].value("email", "") == kEmail && v["profile"].value("phone", "") == "+49 30 777";
    if (!standby_opens) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(standby_opens) << ReadAll(dir.Sub("standby.log"));
  const std::string balances = HttpCall(port, "GET", "/v1/balances", Bearer(key), "").body;
  HttpReply erased = HttpCall(port, "POST", "/v1/customers/c1/erase", Bearer(key), "");
  ASSERT_EQ(erased.status, 200) << erased.body;
  HttpReply after = HttpCall(port, "GET", "/v1/customers/c1", Bearer(key), "");
  EXPECT_TRUE(Json::parse(after.body)["profile"]["erased"].get<bool>()) << after.body;
  EXPECT_EQ(HttpCall(port, "GET", "/v1/balances", Bearer(key), "").body, balances);
  bool standby_erased = false;
  for (int i = 0; i < 100 && !standby_erased; ++i) {
    const Json v = Json::parse(HttpCall(standby_port, "GET", "/v1/customers/c1", Bearer(key), "").body, nullptr, false);
    standby_erased = v.is_object() && v["profile"].value("erased", false) && v.dump().find("shipped") == std::string::npos;
    if (!standby_erased) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  EXPECT_TRUE(standby_erased);
  // Kafka: both topics as they are, every message's bytes.
  std::string topics;
  for (const char* topic : {"ledger.events", "ledger.keyring"}) {
    CommandRun dump = RunCommand(std::string(KCAT_PATH) + " -C -q -b " + broker.bootstrap + " -t " + topic +
                                 " -p 0 -o beginning -e -f '%k%s' 2>/dev/null");
    EXPECT_EQ(dump.exit_code, 0) << topic;
    EXPECT_FALSE(dump.out.empty()) << topic;
    topics += dump.out;
  }
  std::string seen = topics;
  for (int p : {port, standby_port}) seen += HttpGet(p, "/metrics").body;
  ASSERT_NE(standby.StopWith(SIGTERM, 15000), -1);
  ASSERT_NE(node.StopWith(SIGTERM, 15000), -1);
  for (const std::string& d : {data, standby_data}) {
    seen += AllFileBytes(d);
    CommandRun verify = RunCommand(std::string(LEDGER_REPLAY_PATH) + " verify --store " + d + " 2>&1");
    EXPECT_EQ(verify.exit_code, 0) << verify.out;
    CommandRun exported = RunCommand(std::string(LEDGER_REPLAY_PATH) + " export --store " + d + " --format jsonl --out " +
                                     d + ".jsonl 2>&1");
    ASSERT_EQ(exported.exit_code, 0) << exported.out;
    const std::string jsonl = ReadAll(d + ".jsonl");
    EXPECT_NE(jsonl.find("CustomerErased"), std::string::npos);
    seen += jsonl;
  }
  seen += ReadAll(dir.Sub("node.log")) + ReadAll(dir.Sub("standby.log"));
  EXPECT_EQ(seen.find(kName), std::string::npos) << "the name is somewhere";
  EXPECT_EQ(seen.find(kEmail), std::string::npos) << "the email is somewhere";
  EXPECT_EQ(seen.find("your order shipped"), std::string::npos) << "the message text is somewhere";
  ASSERT_NE(broker.process.StopWith(SIGTERM, 15000), -1);
}

}  // namespace
