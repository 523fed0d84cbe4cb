// `ledgerd dev-broker` as a process: writes its bootstrap address, serves the Kafka
// protocol to an independent client (produce, then consume back by offset), and stops on
// SIGTERM, removing the address file.
#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace testing_support;

namespace {

rd_kafka_t* Client(rd_kafka_type_t type, const std::string& bootstrap) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
  if (type == RD_KAFKA_CONSUMER) {
    rd_kafka_conf_set(conf, "group.id", "dev-broker-test", err, sizeof err);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", err, sizeof err);
  } else {
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "acks", "all", err, sizeof err);
  }
  return rd_kafka_new(type, conf, err, sizeof err);
}

}  // namespace

TEST(DevBroker, ServesTheKafkaProtocolAndStopsOnSigterm) {
  TempDir dir;
  const std::string file = dir.Sub("bootstrap");
  ChildProcess broker(LEDGERD_PATH, {"dev-broker", "--bootstrap-file", file, "--partitions", "2"}, dir.Sub("broker.log"));
  const std::string bootstrap = WaitForFileLine(file, 15000);
  ASSERT_FALSE(bootstrap.empty()) << "no bootstrap file";
  EXPECT_EQ(bootstrap.rfind("127.0.0.1:", 0), 0u) << bootstrap;

  rd_kafka_t* producer = Client(RD_KAFKA_PRODUCER, bootstrap);
  ASSERT_NE(producer, nullptr);
  const std::string payload = "one batch";
  ASSERT_EQ(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("ledger.events"), RD_KAFKA_V_PARTITION(1),
                              RD_KAFKA_V_VALUE(const_cast<char*>(payload.data()), payload.size()),
                              RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
            RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(rd_kafka_flush(producer, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(producer);

  rd_kafka_t* consumer = Client(RD_KAFKA_CONSUMER, bootstrap);
  ASSERT_NE(consumer, nullptr);
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, "ledger.events", 1)->offset = RD_KAFKA_OFFSET_BEGINNING;
  ASSERT_EQ(rd_kafka_assign(consumer, parts), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_topic_partition_list_destroy(parts);
  std::string got;
  for (int i = 0; i < 100 && got.empty(); ++i) {
    rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
    if (m == nullptr) continue;
    if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
      got.assign(static_cast<const char*>(m->payload), m->len);
      EXPECT_EQ(m->offset, 0);
    }
    rd_kafka_message_destroy(m);
  }
  rd_kafka_consumer_close(consumer);
  rd_kafka_destroy(consumer);
  EXPECT_EQ(got, payload);

  int status = broker.StopWith(SIGTERM, 10000);
  ASSERT_NE(status, -1) << "dev broker did not stop on SIGTERM";
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  EXPECT_FALSE(std::filesystem::exists(file)) << "stale bootstrap address left behind";
}

TEST(DevBroker, BadFlagsExitWithUsage) {
  TempDir dir;
  ChildProcess broker(LEDGERD_PATH, {"dev-broker", "--partitions", "0", "--bootstrap-file", dir.Sub("b")}, dir.Sub("log"));
  int status = broker.StopWith(0, 10000);
  ASSERT_NE(status, -1);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 2);
}
