// Test (a) of the Kafka issue: programs we did not write read what ledgerd publishes.
// kcat (Debian's package; note that it links the same librdkafka as ledgerd, so it checks
// the bytes on the wire and the topic layout, not an independent Kafka client library)
// consumes `ledger.events` from a dev broker that a ledgerd writer published to, and flatc
// decodes that message with the files in schemas/. The message must be byte-identical to
// the batch in the writer's RocksDB store.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "ledger/event_store.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace testing_support;

namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

int Shell(const std::string& command) {
  const int status = std::system(command.c_str());
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

TEST(KafkaTools, KcatConsumesWhatLedgerdPublishedAndFlatcDecodesIt) {
  TempDir dir;
  DevBroker broker(LEDGERD_PATH, dir.path());
  const std::string bootstrap = broker.bootstrap;
  ASSERT_FALSE(bootstrap.empty());

  const int port = FreeLoopbackPort();
  const std::string data = dir.Sub("data");
  {
    ChildProcess node(LEDGERD_PATH,
                      {"--data", data, "--http", "127.0.0.1:" + std::to_string(port), "--node-id", "w1", "--kafka",
                       bootstrap},
                      dir.Sub("node.log"));
    ASSERT_TRUE(WaitForStatus(port, "/health/ready", 200, 20000)) << ReadFile(dir.Sub("node.log"));
    // The shard's first batch, WriterPromoted(1), is published at offset 0.
    const std::string message = dir.Sub("offset0.bin");
    const std::string kcat = std::string(KCAT_PATH) + " -C -q -b " + bootstrap +
                             " -t ledger.events -p 0 -o 0 -c 1 -e -f '%s' > " + message + " 2> " + dir.Sub("kcat.err");
    for (int i = 0; i < 100 && ReadFile(message).empty(); ++i) {
      ASSERT_EQ(Shell(kcat), 0) << ReadFile(dir.Sub("kcat.err"));
      if (ReadFile(message).empty()) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    ASSERT_FALSE(ReadFile(message).empty()) << "kcat read nothing at offset 0";
    ASSERT_NE(node.StopWith(SIGTERM, 10000), -1);
  }
  const std::string consumed = ReadFile(dir.Sub("offset0.bin"));

  // Byte-identical to the batch the writer stored.
  ledger::StoreOptions o;
  o.path = data + "/shard-0";
  o.create_if_missing = false;
  auto store = ledger::EventStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto batches = (*store)->ReadBatches(ledger::Position(1), 1);
  ASSERT_TRUE(batches.ok() && batches->size() == 1);
  EXPECT_EQ(consumed, batches->front()) << "the message on the wire differs from the stored batch";

  // flatc decodes it with the schema files: the batch and, nested, its record.
  const std::string out = dir.Sub("json");
  ASSERT_EQ(Shell(std::string(FLATC_PATH) + " --json --strict-json --raw-binary --root-type ledger.schema.Batch -o " +
                out + " " + LEDGER_SCHEMA_PATH + " -- " + dir.Sub("offset0.bin") + " 2> " + dir.Sub("flatc.err")),
            0)
      << ReadFile(dir.Sub("flatc.err"));
  const std::string json = ReadFile(out + "/offset0.json");
  EXPECT_NE(json.find("\"node_id\": \"w1\""), std::string::npos) << json.substr(0, 400);
  EXPECT_NE(json.find("\"first_position\": 1"), std::string::npos);
  EXPECT_NE(json.find("\"body_type\": \"WriterPromoted\""), std::string::npos);
  EXPECT_NE(json.find("\"stream\": \"writer/0\""), std::string::npos);
  ASSERT_NE(broker.process.StopWith(SIGTERM, 10000), -1);
}
