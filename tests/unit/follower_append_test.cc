// The follower's append path: a second store fed the first one's batches ends identical,
// indexes included, and can go on appending commands after it (a promotion).
#include <gtest/gtest.h>

#include <utility>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/kafka/canonical_rule.h"
#include "ledger/record_codec.h"
#include "tests/support/log_fixtures.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_records.h"

using namespace ledger;
using testing_support::MakeCommand;
using testing_support::RecordSpec;
using testing_support::TempDir;

namespace {

CanonicalMark Mark(const kafka::BatchFacts& f, int64_t offset) {
  return CanonicalMark{f.last, f.last_hash, f.epoch, f.node_id, offset};
}

CanonicalMark MarkOf(const std::string& bytes, int64_t offset) {
  auto f = kafka::FactsOf(bytes);
  return f.ok() ? Mark(*f, offset) : CanonicalMark{};
}

std::vector<std::string> AllBatches(EventStore& s) {
  auto b = s.ReadBatches(Position(1), 100000);
  EXPECT_TRUE(b.ok());
  return b.ok() ? *b : std::vector<std::string>{};
}

}  // namespace

// Log watchers (the publisher's wake) see a follower's appends and a writer's
// confirmations of its own batches (the fast path's and the reader's), each with the
// positions after the move.
TEST(FollowerAppend, LogWatchersSeeCanonicalAppendsAndConfirmations) {
  std::vector<std::pair<uint64_t, uint64_t>> on_writer, on_follower;  // (head, canonical); outlive the stores
  TempDir a, b;
  auto writer = testing_support::OpenNodeStore(a.path(), "n0");
  auto follower = testing_support::OpenNodeStore(b.path(), "n1");
  ASSERT_TRUE(writer->SetWriterEpoch(Epoch(1)).ok());
  for (int i = 0; i < 5; ++i) {
    RecordSpec s;
    s.stream = "order/m1/w";
    s.seed = i + 1;
    ASSERT_TRUE(writer->Append(MakeCommand(s, 1, false)).ok());
  }
  writer->AddLogWatcher([&](Position h, Position c) { on_writer.emplace_back(h.value(), c.value()); });
  follower->AddLogWatcher([&](Position h, Position c) { on_follower.emplace_back(h.value(), c.value()); });
  const uint64_t head = writer->head().position.value();
  std::vector<uint64_t> lasts;
  int64_t offset = 0;
  for (const auto& bytes : AllBatches(*writer)) {
    auto facts = kafka::FactsOf(bytes);
    ASSERT_TRUE(facts.ok());
    ASSERT_TRUE(follower->AppendCanonicalBatch(bytes, Mark(*facts, offset)).ok());
    ASSERT_TRUE(writer->AppendCanonicalBatch(bytes, Mark(*facts, offset)).ok());  // a confirmation
    lasts.push_back(facts->last.value());
    ++offset;
  }
  ASSERT_EQ(on_follower.size(), lasts.size());
  ASSERT_EQ(on_writer.size(), lasts.size());
  for (size_t i = 0; i < lasts.size(); ++i) {
    EXPECT_EQ(on_follower[i], std::make_pair(lasts[i], lasts[i]));  // head and mark move together
    EXPECT_EQ(on_writer[i], std::make_pair(head, lasts[i]));        // only the mark moves
  }
}

TEST(FollowerAppend, AFollowerFedTheWritersBatchesEndsIdentical) {
  TempDir a, b;
  auto writer = testing_support::OpenNodeStore(a.path(), "n0");
  auto follower = testing_support::OpenNodeStore(b.path(), "n1");
  ASSERT_TRUE(writer->SetWriterEpoch(Epoch(1)).ok());
  for (int i = 0; i < 30; ++i) {
    RecordSpec s;
    s.stream = std::string("order/m1/o").append(std::to_string(i % 7));
    s.idempotency_key = std::string("k").append(std::to_string(i));
    s.request = s.idempotency_key;
    s.seed = i + 1;
    ASSERT_TRUE(writer->Append(MakeCommand(s, 1 + i % 3, false)).ok());
  }
  auto batches = AllBatches(*writer);
  ASSERT_FALSE(batches.empty());
  int64_t offset = 0;
  for (const auto& bytes : batches) {
    auto facts = kafka::FactsOf(bytes);
    ASSERT_TRUE(facts.ok()) << facts.status().ToString();
    EXPECT_EQ(facts->node_id, "n0");
    ASSERT_TRUE(follower->AppendCanonicalBatch(bytes, Mark(*facts, offset++)).ok());
  }
  EXPECT_EQ(follower->canonical_mark().offset, offset - 1);
  follower.reset();  // the canonical mark survives a restart
  follower = testing_support::OpenNodeStore(b.path(), "n1");
  EXPECT_EQ(follower->canonical_mark().offset, offset - 1);
  EXPECT_EQ(follower->canonical_mark().position, writer->head().position);
  EXPECT_EQ(follower->canonical_mark().hash, writer->head().hash);
  EXPECT_EQ(follower->canonical_mark().owner, "n0");
  EXPECT_EQ(follower->head().position, writer->head().position);
  EXPECT_EQ(follower->head().hash, writer->head().hash);
  auto wa = writer->ReadRange(Position(1), 1000), fa = follower->ReadRange(Position(1), 1000);
  ASSERT_TRUE(wa.ok() && fa.ok());
  ASSERT_EQ(wa->size(), fa->size());
  for (size_t i = 0; i < wa->size(); ++i) EXPECT_EQ((*wa)[i].record, (*fa)[i].record);
  EXPECT_EQ(follower->StreamHead("order/m1/o3").value(), writer->StreamHead("order/m1/o3").value());
  auto idem = follower->LookupIdempotency("m1", "k17");
  ASSERT_TRUE(idem.ok() && idem->has_value());
  EXPECT_EQ((*idem)->first_position, (*writer->LookupIdempotency("m1", "k17"))->first_position);
  EXPECT_EQ(AllBatches(*follower), batches);  // republishable byte for byte
  Position through;
  EXPECT_TRUE(VerifyChain(*follower, &through).ok());

  // Promotion: the follower appends commands of its own after the copied log; a retry of
  // a command the writer took is answered from the copied idempotency index.
  RecordSpec retry;
  retry.stream = "order/m1/o3";
  retry.idempotency_key = "k3";
  retry.request = "k3";
  retry.seed = 4;
  auto again = follower->Append(MakeCommand(retry, 1 + 3 % 3, false));
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  RecordSpec next;
  next.stream = "order/m1/o3";
  auto r = follower->Append(MakeCommand(next, 1, false, ExpectedVersion::Exactly(writer->StreamHead("order/m1/o3").value())));
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->first_position, writer->head().position.next());
  EXPECT_TRUE(VerifyChain(*follower, &through).ok());
}

TEST(FollowerAppend, BatchesOutOfPlaceOrBrokenChangeNothing) {
  TempDir a, b;
  auto writer = testing_support::OpenNodeStore(a.path(), "n0");
  auto follower = testing_support::OpenNodeStore(b.path(), "n1");
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(writer->Append(MakeCommand(RecordSpec{}, 2, false)).ok());
  auto batches = AllBatches(*writer);
  ASSERT_GE(batches.size(), 2u);
  // Not the next batch.
  EXPECT_EQ(follower->AppendCanonicalBatch(batches[1], MarkOf(batches[1], 1)).code(), Code::kInvalidArgument);
  ASSERT_TRUE(follower->AppendCanonicalBatch(batches[0], MarkOf(batches[0], 0)).ok());
  // The same batch again: already canonical (a writer's reader and its publisher's fast
  // path both confirm its batches), so it changes nothing.
  const Head head_before = follower->head();
  EXPECT_TRUE(follower->AppendCanonicalBatch(batches[0], MarkOf(batches[0], 0)).ok());
  EXPECT_EQ(follower->head().position, head_before.position);
  EXPECT_EQ(follower->canonical_mark().position, head_before.position);
  // Broken inside.
  std::string broken = batches[1];
  broken[broken.size() / 2] ^= 0x20;
  EXPECT_NE(follower->AppendCanonicalBatch(broken, MarkOf(batches[1], 1)).code(), Code::kOk);
  // Another log's batch at the right position but chained elsewhere.
  TempDir c;
  auto other = testing_support::OpenNodeStore(c.path(), "n2");
  RecordSpec s;
  s.seed = 99;
  for (int i = 0; i < 2; ++i) ASSERT_TRUE(other->Append(MakeCommand(s, 2, false)).ok());
  auto foreign = AllBatches(*other);
  EXPECT_EQ(follower->AppendCanonicalBatch(foreign[1], MarkOf(foreign[1], 1)).code(), Code::kInvalidArgument);
  const Head h = follower->head();
  auto events = follower->ReadRange(Position(1), 100);
  EXPECT_EQ(events->size(), h.position.value());
  ASSERT_TRUE(follower->AppendCanonicalBatch(batches[1], MarkOf(batches[1], 1)).ok());
}
