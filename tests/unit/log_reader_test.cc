// The log reader against the embedded Kafka-protocol cluster: a follower store fed by a
// partition with resends and a stranger's batches ends identical to the writer's store,
// resumes after a restart at its stored offset, and stops (rather than jump) on a gap.
#include "ledger/kafka/log_reader.h"

#include <gtest/gtest.h>
#include <librdkafka/rdkafka.h>

#include "ledger/kafka/embedded_cluster.h"
#include "ledger/kafka/publisher.h"
#include "ledger/record_codec.h"
#include "tests/support/log_fixtures.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_records.h"

using namespace ledger;
using namespace ledger::kafka;
using testing_support::TempDir;

namespace {

class Producer {
 public:
  explicit Producer(const std::string& bootstrap) {
    char err[512];
    rd_kafka_conf_t* conf = rd_kafka_conf_new();
    rd_kafka_conf_set(conf, "bootstrap.servers", bootstrap.c_str(), err, sizeof err);
    rd_kafka_conf_set(conf, "enable.idempotence", "true", err, sizeof err);
    rd_kafka_conf_set(conf, "acks", "all", err, sizeof err);
    rk_ = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);
  }
  ~Producer() { rd_kafka_destroy(rk_); }
  void Send(const std::vector<std::string>& batches) {
    for (const auto& b : batches)
      ASSERT_EQ(rd_kafka_producev(rk_, RD_KAFKA_V_TOPIC(kEventsTopic), RD_KAFKA_V_PARTITION(0),
                                  RD_KAFKA_V_VALUE(const_cast<char*>(b.data()), b.size()),
                                  RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_END),
                RD_KAFKA_RESP_ERR_NO_ERROR);
    ASSERT_EQ(rd_kafka_flush(rk_, 10000), RD_KAFKA_RESP_ERR_NO_ERROR);
  }

 private:
  rd_kafka_t* rk_ = nullptr;
};

std::vector<std::string> Batches(EventStore& s, Position from = Position(1)) {
  return std::move(s.ReadBatches(from, 100000)).value();
}

void ExpectSameLog(EventStore& a, EventStore& b) {
  auto x = a.ReadRange(Position(1), 10000), y = b.ReadRange(Position(1), 10000);
  ASSERT_TRUE(x.ok() && y.ok());
  ASSERT_EQ(x->size(), y->size());
  for (size_t i = 0; i < x->size(); ++i) ASSERT_EQ((*x)[i].record, (*y)[i].record) << "position " << i + 1;
  Position through;
  EXPECT_TRUE(VerifyChain(b, &through).ok());
}

}  // namespace

TEST(LogReader, FollowsThePartitionSkipsStrangersAndResumesAtItsOffset) {
  auto cluster = EmbeddedCluster::Start(3, 1);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  TempDir a, b, c;
  auto writer = testing_support::OpenNodeStore(a.path(), "n0");
  testing_support::PromoteToEpochOne(*writer, "n0");
  testing_support::WriteCommands(*writer, 20, 1);
  auto stranger = testing_support::OpenNodeStore(c.path(), "n9");  // another log's batches in the same partition
  testing_support::PromoteToEpochOne(*stranger, "n9");
  testing_support::WriteCommands(*stranger, 3, 500);

  auto first = Batches(*writer);
  Producer p((*cluster)->bootstrap());
  std::vector<std::string> partition = {first[0]};
  partition.push_back(Batches(*stranger)[0]);  // a WriterPromoted(1) at position 1 again
  for (size_t i = 1; i < first.size(); ++i) {
    partition.push_back(first[i]);
    if (i % 3 == 0) partition.push_back(first[i]);  // resends
  }
  p.Send(partition);

  auto follower = testing_support::OpenNodeStore(b.path(), "n1");
  {
    auto reader = LogReader::Start({(*cluster)->bootstrap(), ShardId(0), {}}, follower.get());
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    ASSERT_TRUE((*reader)->WaitFor(writer->head().position, 15000)) << (*reader)->stats().stopped.ToString();
    auto st = (*reader)->stats();
    EXPECT_EQ(st.canonical, first.size());
    EXPECT_EQ(st.skipped["already-canonical"], partition.size() - first.size());
  }
  ExpectSameLog(*writer, *follower);
  EXPECT_EQ(follower->canonical_mark().owner, "n0");

  // More batches while the reader is down; a new reader resumes at the stored offset + 1
  // and so never looks at the old messages again.
  const Position before = writer->head().position;
  testing_support::WriteCommands(*writer, 10, 100);
  p.Send(Batches(*writer, before.next()));
  follower.reset();
  follower = testing_support::OpenNodeStore(b.path(), "n1");
  auto reader = LogReader::Start({(*cluster)->bootstrap(), ShardId(0), {}}, follower.get());
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->WaitFor(writer->head().position, 15000)) << (*reader)->stats().stopped.ToString();
  EXPECT_TRUE((*reader)->stats().skipped.empty()) << "the resumed reader re-read old offsets";
  ExpectSameLog(*writer, *follower);
}

// The writer tails its own partition with the same reader: its own batches come back and
// are confirmed (the canonical mark moves, nothing is rewritten); a store whose local
// events differ from the canonical log stops the reader with Diverged.
TEST(LogReader, AWritersOwnBatchesAreConfirmedAndDivergenceStops) {
  auto cluster = EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok());
  TempDir a, d;
  auto writer = testing_support::OpenNodeStore(a.path(), "n0");
  testing_support::PromoteToEpochOne(*writer, "n0");
  testing_support::WriteCommands(*writer, 12, 1);
  const auto batches = Batches(*writer);
  Producer p((*cluster)->bootstrap());
  p.Send(batches);
  EXPECT_EQ(writer->canonical_mark().position, Position(0));
  {
    auto reader = LogReader::Start({(*cluster)->bootstrap(), ShardId(0), {}}, writer.get());
    ASSERT_TRUE(reader.ok()) << reader.status().ToString();
    ASSERT_TRUE((*reader)->WaitFor(writer->head().position, 15000)) << (*reader)->stats().stopped.ToString();
    EXPECT_EQ((*reader)->stats().canonical, batches.size());
  }
  EXPECT_EQ(writer->canonical_mark().hash, writer->head().hash);
  EXPECT_EQ(writer->canonical_mark().offset, static_cast<int64_t>(batches.size()) - 1);
  EXPECT_EQ(Batches(*writer), batches);  // nothing rewritten

  auto other = testing_support::OpenNodeStore(d.path(), "n0");  // a different local history under the same name
  testing_support::PromoteToEpochOne(*other, "n0");
  testing_support::WriteCommands(*other, 3, 777);
  auto reader = LogReader::Start({(*cluster)->bootstrap(), ShardId(0), {}}, other.get());
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE((*reader)->WaitFor(Position(100), 10000));
  EXPECT_EQ((*reader)->stats().stopped.code(), Code::kDiverged) << (*reader)->stats().stopped.ToString();
  EXPECT_EQ(other->canonical_mark().position, Position(0));
}

// When the offsets after the stored one have left Kafka (the embedded cluster keeps about
// 5 MiB per partition), the reader stops and says so instead of jumping ahead.
TEST(LogReader, StopsOnOffsetsGoneFromKafka) {
  auto cluster = EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok());
  TempDir a, b;
  auto writer = testing_support::OpenNodeStore(a.path(), "n0");
  testing_support::PromoteToEpochOne(*writer, "n0");
  Producer p((*cluster)->bootstrap());
  p.Send(Batches(*writer));
  auto follower = testing_support::OpenNodeStore(b.path(), "n1");
  {
    auto reader = LogReader::Start({(*cluster)->bootstrap(), ShardId(0), {}}, follower.get());
    ASSERT_TRUE(reader.ok());
    ASSERT_TRUE((*reader)->WaitFor(writer->head().position, 15000));
  }
  // 8 MiB of resends push the next offsets out of the window.
  const std::string junk = Batches(*writer)[0] + std::string(8192, 'x');
  p.Send(std::vector<std::string>(1024, junk));
  auto reader = LogReader::Start({(*cluster)->bootstrap(), ShardId(0), {}}, follower.get());
  ASSERT_TRUE(reader.ok());
  EXPECT_FALSE((*reader)->WaitFor(Position(1000), 15000));
  const Status stopped = (*reader)->stats().stopped;
  EXPECT_EQ(stopped.code(), Code::kUnavailable) << stopped.ToString();
  EXPECT_NE(stopped.message().find("gone from Kafka"), std::string::npos) << stopped.ToString();

  // A reader with no offset at all starts at offset 0, which is gone too: it stops rather
  // than starting wherever the window begins (it would skip every batch there as a gap).
  TempDir c;
  auto fresh = testing_support::OpenNodeStore(c.path(), "n2");
  auto fresh_reader = LogReader::Start({(*cluster)->bootstrap(), ShardId(0), {}}, fresh.get());
  ASSERT_TRUE(fresh_reader.ok());
  EXPECT_FALSE((*fresh_reader)->WaitFor(Position(1), 15000));
  EXPECT_EQ((*fresh_reader)->stats().stopped.code(), Code::kUnavailable) << (*fresh_reader)->stats().stopped.ToString();
  EXPECT_TRUE((*fresh_reader)->stats().skipped.empty());
}

// A pass-through property librdkafka does not know is refused by name, before anything
// connects; its value (which may be a secret) is not echoed.
TEST(KafkaClients, UnknownPropertiesAreRefused) {
  TempDir a;
  auto store = testing_support::OpenNodeStore(a.path(), "n0");
  ClientOptions o{"127.0.0.1:1", ShardId(0), {{"no.such.property", "s3cr3t"}}};
  auto reader = LogReader::Start(o, store.get());
  ASSERT_FALSE(reader.ok());
  EXPECT_EQ(reader.status().code(), Code::kInvalidArgument);
  EXPECT_NE(reader.status().message().find("no.such.property"), std::string::npos);
  EXPECT_EQ(reader.status().message().find("s3cr3t"), std::string::npos);
  EXPECT_EQ(Publisher::Start(o, store.get()).status().code(), Code::kInvalidArgument);
}

// Test (h) of the Kafka issue: a reader that starts after Kafka's window has moved past its
// position catches up from a store that holds the canonical batches with their offsets,
// then follows Kafka, with no gap and no repeat at the switch.
TEST(LogReader, CatchesUpFromAStoreWhenKafkasWindowHasMovedOn) {
  auto cluster = EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok());
  const std::string bootstrap = (*cluster)->bootstrap();
  TempDir w, f;
  auto writer = testing_support::OpenNodeStore(w.path(), "n0");
  auto writer_reader = LogReader::Start({bootstrap, ShardId(0), {}}, writer.get());
  auto publisher = Publisher::Start({bootstrap, ShardId(0), {}}, writer.get());
  ASSERT_TRUE(writer_reader.ok() && publisher.ok());
  testing_support::PromoteToEpochOne(*writer, "n0");
  for (int i = 0; i < 160; ++i) {  // about 9 MiB: the embedded cluster keeps about 5
    testing_support::RecordSpec spec;
    spec.stream = std::string("order/m1/o").append(std::to_string(i % 7));
    spec.title_bytes = 56 * 1024;
    spec.seed = i + 1;
    ASSERT_TRUE(writer->Append(testing_support::MakeCommand(spec, 1, false)).ok());
  }
  ASSERT_TRUE((*writer_reader)->WaitFor(writer->head().position, 30000));

  auto follower = testing_support::OpenNodeStore(f.path(), "n1");
  {
    // Without a catch-up store it stops: offset 0 is gone.
    auto plain = LogReader::Start({bootstrap, ShardId(0), {}}, follower.get());
    ASSERT_TRUE(plain.ok());
    EXPECT_FALSE((*plain)->WaitFor(Position(1), 10000));
    EXPECT_EQ((*plain)->stats().stopped.code(), Code::kUnavailable);
  }
  auto reader = LogReader::Start({bootstrap, ShardId(0), {}}, follower.get(), 0, StoreCatchUpSource(writer.get()));
  ASSERT_TRUE(reader.ok());
  ASSERT_TRUE((*reader)->WaitFor(writer->head().position, 30000)) << (*reader)->stats().stopped.ToString();
  const uint64_t from_store = (*reader)->stats().caught_up_from_store;
  EXPECT_GT(from_store, 0u);
  // Then Kafka: new batches arrive through the partition, not the store.
  testing_support::WriteCommands(*writer, 5, 900);
  ASSERT_TRUE((*reader)->WaitFor(writer->head().position, 30000)) << (*reader)->stats().stopped.ToString();
  EXPECT_EQ((*reader)->stats().caught_up_from_store, from_store);
  // No gap and no repeat: the copy is the writer's log batch for batch (a resend the
  // publisher made under load would be skipped by the rule, which is not a repeat).
  EXPECT_EQ(*follower->ReadBatches(Position(1), 100000), *writer->ReadBatches(Position(1), 100000));
  Position through;
  EXPECT_TRUE(VerifyChain(*follower, &through).ok());
}
