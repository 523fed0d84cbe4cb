// The canonical-log rule on partitions built by hand: resends, a deposed writer's late
// batches, promotion races, zombies, and batches that are broken inside.
#include "ledger/kafka/canonical_rule.h"

#include <gtest/gtest.h>

#include <map>

#include "ledger/chain_hash.h"
#include "tests/support/test_records.h"

using namespace ledger;
using namespace ledger::kafka;

namespace {

// A writer's view of the log it builds on: where it appends next.
struct Writer {
  std::string node;
  uint64_t epoch;
  uint64_t next = 1;
  Sha256Digest prev{};
};

std::string Record(uint64_t pos, uint64_t epoch, uint32_t count, uint64_t first, const std::string* promote_node) {
  EnvelopeFields f;
  f.stream = promote_node ? "writer/0" : "order/m1/o" + std::to_string(pos);
  f.command_event_count = count;
  std::string rec = promote_node
                        ? EncodeRecord(f, schema::EventBody::WriterPromoted,
                                       [&](flatbuffers::FlatBufferBuilder& b) {
                                         return schema::CreateWriterPromotedDirect(b, epoch, promote_node->c_str(), "", 0).Union();
                                       })
                        : testing_support::MakeListingRecord([&] {
                            testing_support::RecordSpec s;
                            s.stream = f.stream;
                            s.command_event_count = count;
                            s.seed = pos;
                            return s;
                          }());
  PatchAssigned(&rec, {Position(pos), StreamVersion(1), 0, Position(first), Epoch(epoch)});
  return rec;
}

// One batch of `events` single-event commands (the first a WriterPromoted when promoting).
std::string Batch(Writer& w, int events, bool promote = false) {
  std::vector<std::string> records;
  BatchView v;
  v.shard = ShardId(0);
  v.epoch = Epoch(w.epoch);
  v.node_id = w.node;
  v.first_position = Position(w.next);
  v.previous_hash = w.prev;
  for (int i = 0; i < events; ++i) records.push_back(Record(w.next + i, w.epoch, 1, w.next + i, promote && i == 0 ? &w.node : nullptr));
  for (const auto& r : records) {
    w.prev = ChainHash(w.prev, Position(w.next), r);
    v.records.push_back({r, w.prev});
    ++w.next;
  }
  return EncodeBatch(v);
}

struct Reading {
  std::vector<std::string> canonical;  // batch bytes, in order
  std::map<std::string, int> skipped;  // by verdict
  CanonicalHead head;
};

Reading Read(const std::vector<std::string>& partition) {
  Reading r;
  for (size_t offset = 0; offset < partition.size(); ++offset) {
    auto facts = FactsOf(partition[offset]);
    EXPECT_TRUE(facts.ok()) << facts.status().ToString();
    Verdict v = Judge(r.head, *facts);
    if (v == Verdict::kCanonical) {
      r.head = Advance(r.head, *facts, static_cast<int64_t>(offset));
      r.canonical.push_back(partition[offset]);
    } else {
      r.skipped[std::string(VerdictName(v))]++;
    }
  }
  return r;
}

}  // namespace

TEST(CanonicalRule, AWriterAndItsResends) {
  Writer n0{"n0", 1};
  std::string b1 = Batch(n0, 1, /*promote=*/true), b2 = Batch(n0, 3), b3 = Batch(n0, 2);
  // The embedded cluster does not dedupe retried produces: b2 lands twice.
  Reading r = Read({b1, b2, b2, b3, b1});
  EXPECT_EQ(r.canonical, (std::vector<std::string>{b1, b2, b3}));
  EXPECT_EQ(r.skipped["already-canonical"], 2);
  EXPECT_EQ(r.head.position, Position(6));
  EXPECT_EQ(r.head.epoch, Epoch(1));
  EXPECT_EQ(r.head.owner, "n0");
  EXPECT_EQ(r.head.offset, 3);
}

TEST(CanonicalRule, TheFirstBatchOfAShardMustPromoteEpochOne) {
  Writer n0{"n0", 1};
  std::string plain = Batch(n0, 1);
  Reading r = Read({plain});
  EXPECT_TRUE(r.canonical.empty());
  EXPECT_EQ(r.skipped["not-owner"], 1);
}

TEST(CanonicalRule, ADeposedWritersLateBatchesAreSkipped) {
  Writer n0{"n0", 1};
  std::string b1 = Batch(n0, 1, true), b2 = Batch(n0, 2);
  Writer n1{"n1", 2, n0.next, n0.prev};  // the standby, caught up to b2, promotes
  std::string wp2 = Batch(n1, 1, true);
  std::string late1 = Batch(n0, 1), late2 = Batch(n0, 1);  // n0 kept writing on its own tail
  std::string c1 = Batch(n1, 2);
  Reading r = Read({b1, b2, wp2, late1, late2, c1});
  EXPECT_EQ(r.canonical, (std::vector<std::string>{b1, b2, wp2, c1}));
  EXPECT_EQ(r.head.epoch, Epoch(2));
  EXPECT_EQ(r.head.owner, "n1");
  EXPECT_EQ(r.skipped["already-canonical"] + r.skipped["wrong-previous-hash"] + r.skipped["not-owner"], 2);
}

TEST(CanonicalRule, ALateBatchThatLandsFirstWinsAndThePromotionLoses) {
  Writer n0{"n0", 1};
  std::string b1 = Batch(n0, 1, true), b2 = Batch(n0, 2);
  Writer n1{"n1", 2, n0.next, n0.prev};
  std::string wp2 = Batch(n1, 1, true);
  std::string late = Batch(n0, 1);  // same position as wp2, but it reached Kafka first
  Reading r = Read({b1, b2, late, wp2});
  EXPECT_EQ(r.canonical, (std::vector<std::string>{b1, b2, late}));
  EXPECT_EQ(r.head.owner, "n0");  // n1 must quarantine its WriterPromoted and follow
  EXPECT_EQ(r.skipped["already-canonical"], 1);
}

TEST(CanonicalRule, PromotionRaceHasOneWinner) {
  Writer n0{"n0", 1};
  std::string b1 = Batch(n0, 1, true);
  Writer n1{"n1", 2, n0.next, n0.prev}, n2{"n2", 2, n0.next, n0.prev};
  std::string wp_n1 = Batch(n1, 1, true), wp_n2 = Batch(n2, 1, true);
  std::string after_n2 = Batch(n2, 1);  // n2 did not see it lost
  std::string after_n1 = Batch(n1, 1);
  Reading r = Read({b1, wp_n1, wp_n2, after_n2, after_n1});
  EXPECT_EQ(r.canonical, (std::vector<std::string>{b1, wp_n1, after_n1}));
  EXPECT_EQ(r.head.owner, "n1");
}

TEST(CanonicalRule, NoEpochWithoutItsPromotion) {
  Writer n0{"n0", 1};
  std::string b1 = Batch(n0, 1, true);
  Writer zombie{"n9", 1, n0.next, n0.prev};  // claims epoch 1 without owning it
  Writer same{"n1", 1, n0.next, n0.prev};    // promotes epoch 1 again: not higher
  Writer jumper{"n2", 3, n0.next, n0.prev};  // batch of epoch 3 without a WriterPromoted
  std::string z = Batch(zombie, 1), s = Batch(same, 1, true), j = Batch(jumper, 1);
  Reading r = Read({b1, z, s, j});
  EXPECT_EQ(r.canonical, (std::vector<std::string>{b1}));
  EXPECT_EQ(r.skipped["not-owner"], 3);
}

TEST(CanonicalRule, BrokenBatchesAreCorruptionNotSkips) {
  Writer n0{"n0", 1};
  std::string good = Batch(n0, 3, true);
  std::string flipped = good;
  flipped[flipped.size() / 2] ^= 0x01;
  EXPECT_FALSE(FactsOf(flipped).ok());
  EXPECT_EQ(FactsOf(good.substr(0, good.size() / 2)).status().code(), Code::kCorruption);
  // A batch that ends inside a command.
  Writer w{"n0", 1};
  BatchView v;
  v.epoch = Epoch(1);
  v.node_id = "n0";
  v.first_position = Position(1);
  std::string rec = Record(1, 1, 2, 1, nullptr);  // says its command has 2 events
  v.records.push_back({rec, ChainHash(kGenesisHash, Position(1), rec)});
  auto facts = FactsOf(EncodeBatch(v));
  ASSERT_FALSE(facts.ok());
  EXPECT_NE(facts.status().message().find("inside a command"), std::string::npos);
}
