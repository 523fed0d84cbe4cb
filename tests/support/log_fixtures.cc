#include "tests/support/log_fixtures.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "ledger/record_codec.h"
#include "tests/support/test_records.h"

namespace testing_support {

using namespace ledger;

std::unique_ptr<EventStore> OpenNodeStore(const std::string& path, const std::string& node_id, AckLevel ack_level,
                                          bool ack_requires_lease) {
  StoreOptions o;
  o.ack_requires_lease = ack_requires_lease;
  o.path = path;
  o.node_id = node_id;
  o.ack_level = ack_level;
  auto s = EventStore::Open(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

void PromoteToEpochOne(EventStore& store, const std::string& node_id) { Promote(store, node_id, 1); }

void Promote(EventStore& store, const std::string& node_id, uint64_t epoch) {
  ASSERT_TRUE(store.SetWriterEpoch(Epoch(epoch)).ok());
  EnvelopeFields f;
  f.stream = "writer/0";
  AppendCommand cmd;
  cmd.events.push_back({EncodeRecord(f, schema::EventBody::WriterPromoted,
                                     [&](flatbuffers::FlatBufferBuilder& b) {
                                       return schema::CreateWriterPromotedDirect(b, epoch, node_id.c_str(), "", epoch - 1).Union();
                                     }),
                        ExpectedVersion::Any()});
  ASSERT_TRUE(store.Append(std::move(cmd)).ok());
}

void PublishRaw(const std::string& bootstrap, const std::vector<std::string>& messages) {
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  ASSERT_EQ(rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err), RD_KAFKA_CONF_OK);
  rd_kafka_t* producer = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  ASSERT_NE(producer, nullptr) << err;
  for (const std::string& bytes : messages)
    EXPECT_EQ(rd_kafka_producev(producer, RD_KAFKA_V_TOPIC("ledger.events"), RD_KAFKA_V_PARTITION(0),
                                RD_KAFKA_V_VALUE(const_cast<char*>(bytes.data()), bytes.size()),
                                RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
              RD_KAFKA_RESP_ERR_NO_ERROR);
  EXPECT_EQ(rd_kafka_flush(producer, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  rd_kafka_destroy(producer);
}

void WriteCommands(EventStore& store, int commands, uint64_t seed) {
  for (int i = 0; i < commands; ++i) {
    RecordSpec spec;
    spec.stream = std::string("order/m1/o").append(std::to_string(i % 5));
    spec.seed = seed + i;
    ASSERT_TRUE(store.Append(MakeCommand(spec, 1 + i % 3, false)).ok());
  }
}

}  // namespace testing_support
