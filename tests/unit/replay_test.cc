// ledger-replay as a library: verify finds the exact first bad position of every kind of
// tampering (a flipped byte, a deleted record, two swapped, a record rehashed over a wrong
// previous hash) and a tail rewritten consistently is caught against a digest kept before
// it; a read model rebuilt as of position N has the digest the live projector recorded at
// N; diff lists what differs (keys escaped to one line, each side's position said); export
// filters and never writes personal fields; every operation stops when asked to; rebuild
// and export write their --out atomically (nothing there until it is whole, never over
// anything, no partial left behind); rebuild, export and digest read a store through its
// canonical mark and count what lies beyond it, and refuse a store with events and no mark
// unless asked to read through its head. Replay reads the store as a secondary instance
// while the store is open for writing.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>

#include "ledger/chain_hash.h"
#include "ledger/kafka/embedded_cluster.h"
#include "ledger/record_codec.h"
#include "ledger/store_keys.h"
#include "projections/projections.h"
#include "replay/out_file.h"
#include "replay/replay.h"
#include "schemas/ledger_generated.h"
#include "tests/support/log_fixtures.h"
#include "tests/support/merchant_story.h"
#include "tests/support/projection_store_writer.h"
#include "tests/support/raw_store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_records.h"

using ledger::Position;
using ledger::Sha256Digest;
using testing_support::RawStore;
using testing_support::StoryLog;
using testing_support::TempDir;
namespace fs = std::filesystem;

namespace {

Sha256Digest HashOf(const std::string& value) {
  Sha256Digest h{};
  std::memcpy(h.data(), value.data(), 32);
  return h;
}

// The story's store is written through the domain alone and never published to Kafka, so
// its canonical mark is 0 and a read through the mark (the default) is refused: every
// rebuild, export, digest and time lookup of it in these tests reads through its head
// (ledger-replay's --through head), by these helpers or replay::Through::kHead.
// AStoreIsReadThroughItsCanonicalMarkAndWhatLiesBeyondIsCounted gives a copy a mark.
replay::RebuildOptions RebuildThroughHead() {
  replay::RebuildOptions o;
  o.through = replay::Through::kHead;
  return o;
}
replay::ExportOptions ExportThroughHead() {
  replay::ExportOptions o;
  o.through = replay::Through::kHead;
  return o;
}

// The names in `dir` (a partial shows as ".NAME.partial-PID-RANDOM", replay/out_file.h).
std::set<std::string> Names(const std::string& dir) {
  std::set<std::string> names;
  for (const fs::directory_entry& entry : fs::directory_iterator(dir)) names.insert(entry.path().filename().string());
  return names;
}

std::string Contents(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class ReplayTest : public ::testing::Test {
 protected:
  void SetUp() override {
    log = std::make_unique<StoryLog>(dir.Sub("story"), /*extra_orders=*/10);
    head = log->store->head().position;
    ASSERT_GT(head.value(), 40u);
  }
  // A closed copy of the story's store, to damage.
  std::string Copy(const std::string& name) {
    if (log) log.reset();  // closed: RocksDB's files are whole
    const std::string to = dir.Sub(name);
    fs::copy(dir.Sub("story"), to, fs::copy_options::recursive);
    return to;
  }
  replay::VerifyReport VerifyAt(const std::string& path, std::vector<replay::KeptDigest> against = {}) {
    TempDir scratch;
    auto store = replay::OpenForReplay(path, scratch.path());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return {};
    replay::VerifyOptions o;
    o.against = against;
    auto r = replay::Verify(**store, o);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? *r : replay::VerifyReport{};
  }

  // The digest an auditor would have kept for position `at` of the story.
  replay::KeptDigest KeptAt(uint64_t at) {
    TempDir scratch;
    auto store = replay::OpenForReplay(dir.Sub("story"), scratch.path());
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return {};
    auto d = replay::DigestAt(**store, Position(at), replay::Through::kHead);
    EXPECT_TRUE(d.ok()) << d.status().ToString();
    return d.ok() ? replay::KeptDigest{d->position, d->hash} : replay::KeptDigest{};
  }

  TempDir dir;
  std::unique_ptr<StoryLog> log;
  Position head;
};

TEST_F(ReplayTest, AnIntactLogVerifiesWhileItsStoreIsOpenForWriting) {
  TempDir scratch;
  auto store = replay::OpenForReplay(dir.Sub("story"), scratch.path());  // the writer still has it open
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto r = replay::Verify(**store, {});
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->intact) << r->reason;
  EXPECT_EQ(r->events, head.value());
  EXPECT_EQ(r->through_hash, log->store->head().hash);
  auto d = replay::DigestAt(**store, Position(0), replay::Through::kHead);
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(replay::FormatDigest(*d), std::to_string(head.value()) + ":" + ledger::ToHex(log->store->head().hash));
  auto parsed = replay::ParseKeptDigest(replay::FormatDigest(*d));
  ASSERT_TRUE(parsed.has_value());
  EXPECT_EQ(parsed->hash, d->hash);
  EXPECT_FALSE(replay::ParseKeptDigest("12:abc").has_value());
  EXPECT_FALSE(replay::ParseKeptDigest("x:" + std::string(64, 'a')).has_value());
  // The store refuses appends through a replay handle (a command that is otherwise fine).
  testing_support::RecordSpec spec;
  spec.stream = "order/m1/late";
  auto refused = (*store)->Append(testing_support::MakeCommand(spec, 1, false));
  EXPECT_EQ(refused.status().code(), ledger::Code::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("read-only"), std::string::npos) << refused.status().ToString();
}

TEST_F(ReplayTest, EachTamperingIsFoundAtItsExactFirstBadPosition) {
  const uint64_t p = head.value() / 2;
  {
    const std::string path = Copy("flip");
    {
      RawStore raw(path);
      std::string v = raw.Event(p);
      v[32 + v.size() / 2 - 16] ^= 0x01;  // a byte inside the record
      raw.PutEvent(p, v);
    }
    auto r = VerifyAt(path);
    EXPECT_FALSE(r.intact);
    EXPECT_EQ(r.first_bad, Position(p)) << r.reason;
  }
  {
    const std::string path = Copy("deleted");
    RawStore(path).DeleteEvent(p);
    auto r = VerifyAt(path);
    EXPECT_FALSE(r.intact);
    EXPECT_EQ(r.first_bad, Position(p)) << r.reason;
    EXPECT_NE(r.reason.find("missing"), std::string::npos) << r.reason;
  }
  {
    const std::string path = Copy("swapped");
    {
      RawStore raw(path);
      const std::string a = raw.Event(p), b = raw.Event(p + 1);
      raw.PutEvent(p, b);
      raw.PutEvent(p + 1, a);
    }
    auto r = VerifyAt(path);
    EXPECT_FALSE(r.intact);
    EXPECT_EQ(r.first_bad, Position(p)) << r.reason;
  }
  {
    const std::string path = Copy("rehashed");
    {
      RawStore raw(path);
      const std::string v = raw.Event(p);
      const std::string record = v.substr(32);
      // Rehashed over a wrong previous hash (zeros): the hash is "right" for that record.
      const Sha256Digest forged = ledger::ChainHash(Sha256Digest{}, Position(p), record);
      raw.PutEvent(p, std::string(reinterpret_cast<const char*>(forged.data()), 32) + record);
    }
    auto r = VerifyAt(path);
    EXPECT_FALSE(r.intact);
    EXPECT_EQ(r.first_bad, Position(p)) << r.reason;
    EXPECT_NE(r.reason.find("chain hash"), std::string::npos) << r.reason;
  }
}

// A bit flipped in a table file on disk fails every read of its block. Verify names the
// first event that cannot be read, having checked every event before it; it named
// position 1, since the read ahead met the damage before the events in front of it were
// checked.
TEST_F(ReplayTest, ADamagedTableBlockIsNamedAtTheFirstEventThatCannotBeRead) {
  const std::string big = dir.Sub("big");
  Position big_head;
  {
    StoryLog story(big, /*extra_orders=*/300);  // many table blocks
    big_head = story.store->head().position;
  }
  { RawStore(big).Flush(); }
  fs::path largest;
  for (const auto& f : fs::directory_iterator(big))
    if (f.path().extension() == ".sst" && (largest.empty() || fs::file_size(f.path()) > fs::file_size(largest)))
      largest = f.path();
  ASSERT_FALSE(largest.empty());
  std::string bytes;
  {
    std::ifstream in(largest, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  bytes[bytes.size() / 3] ^= 0x40;  // inside a data block: events, a third of the way in
  std::ofstream(largest, std::ios::binary | std::ios::trunc) << bytes;

  const replay::VerifyReport r = VerifyAt(big);
  ASSERT_FALSE(r.intact);
  EXPECT_NE(r.reason.find("unreadable at position"), std::string::npos) << r.reason;
  EXPECT_GT(r.first_bad.value(), 1u) << r.reason;
  EXPECT_LT(r.first_bad, big_head);
  EXPECT_EQ(r.events, r.first_bad.value() - 1) << "every event before the damage was checked";
  TempDir scratch;
  auto store = replay::OpenForReplay(big, scratch.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ledger::StoredEvent before, at;
  EXPECT_TRUE(replay::ReadEventAt(**store, Position(r.first_bad.value() - 1), &before).ok());
  EXPECT_FALSE(replay::ReadEventAt(**store, r.first_bad, &at).ok());
}

TEST_F(ReplayTest, ATailRewrittenConsistentlyIsCaughtOnlyAgainstADigestKeptBeforeIt) {
  const uint64_t k = head.value() - 10;
  std::optional<replay::KeptDigest> kept;
  {
    TempDir scratch;
    auto store = replay::OpenForReplay(dir.Sub("story"), scratch.path());
    ASSERT_TRUE(store.ok());
    auto d = replay::DigestAt(**store, Position(k), replay::Through::kHead);
    ASSERT_TRUE(d.ok());
    kept = replay::ParseKeptDigest(replay::FormatDigest(*d));  // what an auditor kept outside
  }
  const std::string path = Copy("rewritten");
  {
    // From k on, every record changed (its recorded-at moved) and the chain recomputed:
    // consistent, with the head updated too.
    RawStore raw(path);
    Sha256Digest previous = HashOf(raw.Event(k - 1));
    int64_t last_at = 0;
    for (uint64_t p = k; p <= head.value(); ++p) {
      std::string record = raw.Event(p).substr(32);
      auto* e = ledger::schema::GetMutableEvent(record.data());
      last_at = e->recorded_at_us() - 3600'000'000;
      ASSERT_TRUE(e->mutate_recorded_at_us(last_at));
      previous = ledger::ChainHash(previous, Position(p), record);
      raw.PutEvent(p, std::string(reinterpret_cast<const char*>(previous.data()), 32) + record);
    }
    raw.PutHead(head.value(), previous, last_at);
  }
  auto alone = VerifyAt(path);
  EXPECT_TRUE(alone.intact) << "a consistent rewrite passes the chain alone: " << alone.reason;
  ASSERT_TRUE(kept.has_value());
  auto against = VerifyAt(path, {*kept});
  EXPECT_FALSE(against.intact);
  EXPECT_EQ(against.first_bad, Position(k)) << against.reason;
  EXPECT_NE(against.reason.find("digest"), std::string::npos) << against.reason;
  // The original still matches its kept digest.
  auto original = VerifyAt(dir.Sub("story"), {*kept});
  EXPECT_TRUE(original.intact) << original.reason;
}

TEST_F(ReplayTest, ARebuildAsOfAPositionHasTheDigestTheLiveProjectorRecordedThere) {
  projections::ProjectorOptions po;
  po.dir = dir.Sub("live");
  po.bound = projections::SourceBound::kHead;
  po.apply_events_max = 1;  // a commit (and a digest) at every stored batch boundary
  auto live = projections::Projector::Open(po);
  ASSERT_TRUE(live.ok());
  ASSERT_TRUE((*live)->CatchUp(*log->store, head).ok());
  auto batches = log->store->ReadBatchInfos(Position(1), 100000);
  ASSERT_TRUE(batches.ok());
  const Position n = (*batches)[batches->size() / 2].last;
  TempDir scratch;
  auto store = replay::OpenForReplay(dir.Sub("story"), scratch.path());
  ASSERT_TRUE(store.ok());
  for (const std::string& name : projections::ReadModelNames()) {
    replay::RebuildOptions o = RebuildThroughHead();
    o.projection = name;
    o.as_of = n;
    o.out_dir = dir.Sub("rebuilt-" + name);
    auto r = replay::Rebuild(**store, o);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->position, n);
    auto recorded = (*live)->read_model(name)->DigestAt(n);
    ASSERT_TRUE(recorded.ok() && recorded->has_value()) << name;
    EXPECT_EQ(r->digest, **recorded) << name;
  }
  // As of a time: the ticking clock records batch i at 2026-11-26T00:00:00Z + i s.
  auto at_time = replay::PositionAtTime(**store, 1'795'651'200'000'000 + 5'000'000, replay::Through::kHead);
  ASSERT_TRUE(at_time.ok());
  ASSERT_TRUE(replay::PositionAtTime(**store, 0, replay::Through::kHead).ok());
  ASSERT_TRUE(replay::PositionAtTime(**store, INT64_MAX, replay::Through::kHead).ok());
  EXPECT_GT(at_time->value(), 0u);
  EXPECT_LT(at_time->value(), head.value());
  EXPECT_EQ(*replay::PositionAtTime(**store, 0, replay::Through::kHead), Position(0));
  EXPECT_EQ(*replay::PositionAtTime(**store, INT64_MAX, replay::Through::kHead), head);
  // Bad requests change nothing on disk.
  replay::RebuildOptions bad = RebuildThroughHead();
  bad.projection = "nope";
  bad.out_dir = dir.Sub("nope");
  EXPECT_EQ(replay::Rebuild(**store, bad).status().code(), ledger::Code::kInvalidArgument);
  bad.projection = "fees";
  bad.out_dir = dir.Sub("rebuilt-fees");  // exists
  EXPECT_EQ(replay::Rebuild(**store, bad).status().code(), ledger::Code::kInvalidArgument);
  bad.out_dir = dir.Sub("beyond");
  bad.as_of = Position(head.value() + 1);
  EXPECT_EQ(replay::Rebuild(**store, bad).status().code(), ledger::Code::kInvalidArgument);
  EXPECT_FALSE(fs::exists(dir.Sub("beyond")));

  // diff: the live read models (open, read without a lock) against a rebuild at the head
  // agree; against the rebuild as of n they differ, key by key.
  replay::RebuildOptions whole = RebuildThroughHead();
  whole.projection = "fees";
  whole.out_dir = dir.Sub("whole");
  ASSERT_TRUE(replay::Rebuild(**store, whole).ok());
  auto same = replay::Diff(dir.Sub("live"), dir.Sub("whole"), {"fees"}, 10);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->count, 0u);
  fs::create_directories(dir.Sub("at-n"));
  fs::rename(dir.Sub("rebuilt-fees/fees"), dir.Sub("at-n/fees"));
  auto differs = replay::Diff(dir.Sub("live"), dir.Sub("at-n"), {}, 3);
  ASSERT_TRUE(differs.ok()) << differs.status().ToString();
  EXPECT_GT(differs->count, 0u);
  ASSERT_EQ(differs->differences.size(), 3u);
  EXPECT_EQ(differs->differences[0].read_model, "fees");
  EXPECT_FALSE(differs->differences[0].key.empty());
  // Only fees was compared; the live side's other read models are named, not hidden.
  EXPECT_EQ(differs->compared, std::vector<std::string>{"fees"});
  EXPECT_TRUE(differs->only_right.empty());
  EXPECT_GE(differs->only_left.size(), 3u);
  EXPECT_EQ(std::count(differs->only_left.begin(), differs->only_left.end(), "fees"), 0);
  EXPECT_EQ(replay::Diff(dir.Sub("live"), dir.Sub("nothing-here"), {}, 3).status().code(), ledger::Code::kInvalidArgument);
}

TEST_F(ReplayTest, ExportFiltersAndWritesEveryEventOnceAsJsonOrCsv) {
  TempDir scratch;
  auto store = replay::OpenForReplay(dir.Sub("story"), scratch.path());
  ASSERT_TRUE(store.ok());
  std::ostringstream all;
  auto everything = replay::Export(**store, ExportThroughHead(), all);
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(everything->exported, head.value());
  std::istringstream lines(all.str());
  std::string line;
  uint64_t expected = 1;
  while (std::getline(lines, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << line;
    EXPECT_EQ(j["position"], expected++);
    EXPECT_TRUE(j["body"].is_object()) << line;
    EXPECT_FALSE(j.contains("personal") && j["personal"].is_array()) << "personal bytes never leave";
  }
  EXPECT_EQ(expected, head.value() + 1);

  replay::ExportOptions o = ExportThroughHead();
  o.event_type = "CustomerRegistered";  // both merchants have some: the tenant filter decides
  o.tenant = "m1";
  o.format = replay::ExportFormat::kCsv;
  std::ostringstream csv;
  auto captured = replay::Export(**store, o, csv);
  ASSERT_TRUE(captured.ok());
  EXPECT_GT(captured->exported, 0u);
  EXPECT_LT(captured->exported, head.value());
  const std::string table = csv.str();
  EXPECT_EQ(table.rfind("position,stream,", 0), 0u);
  EXPECT_EQ(static_cast<uint64_t>(std::count(table.begin(), table.end(), '\n')), captured->exported + 1);
  EXPECT_EQ(table.find("\"m2\""), std::string::npos);
  replay::ExportOptions both = o;
  both.tenant.clear();
  std::ostringstream all_tenants;
  ASSERT_TRUE(replay::Export(**store, both, all_tenants).ok());
  EXPECT_NE(all_tenants.str().find("\"m2\""), std::string::npos) << "m2 has customers: the filter removed them";

  // Stream prefix and time: all of m1's order events, then those after the first one's time.
  replay::ExportOptions prefix = ExportThroughHead();
  prefix.stream_prefix = "order/m1/";
  std::ostringstream every_order;
  auto unbounded = replay::Export(**store, prefix, every_order);
  ASSERT_TRUE(unbounded.ok());
  ASSERT_GT(unbounded->exported, 1u);
  const auto first_order = nlohmann::json::parse(every_order.str().substr(0, every_order.str().find('\n')));
  prefix.from_us = first_order["recorded_at_us"].get<int64_t>() + 1;
  std::ostringstream some;
  auto orders = replay::Export(**store, prefix, some);
  ASSERT_TRUE(orders.ok());
  EXPECT_GT(orders->exported, 0u);
  EXPECT_LT(orders->exported, unbounded->exported) << "from_us removed the first order";
  std::istringstream order_lines(some.str());
  while (std::getline(order_lines, line)) {
    const auto j = nlohmann::json::parse(line);
    EXPECT_EQ(j["stream"].get<std::string>().rfind("order/m1/", 0), 0u);
    EXPECT_GE(j["recorded_at_us"].get<int64_t>(), prefix.from_us);
  }
  replay::ExportOptions unknown = ExportThroughHead();
  unknown.event_type = "NoSuchEvent";
  std::ostringstream none;
  EXPECT_EQ(replay::Export(**store, unknown, none).status().code(), ledger::Code::kInvalidArgument);
  EXPECT_TRUE(none.str().empty());
  replay::ExportOptions backwards;
  backwards.from_us = 2;
  backwards.to_us = 1;
  EXPECT_EQ(replay::CheckExportOptions(backwards).code(), ledger::Code::kInvalidArgument);
}

// Every kept digest is checked (a repeated --against used to keep only the last): the first
// that fails, in position order whatever order they were given in, is the one reported.
TEST_F(ReplayTest, EveryKeptDigestIsCheckedAndTheFirstToFailInPositionOrderIsNamed) {
  const uint64_t early = 10, late = head.value() - 5;
  const replay::KeptDigest good_early = KeptAt(early), good_late = KeptAt(late);
  replay::KeptDigest bad_early = good_early, bad_late = good_late;
  bad_early.hash[0] ^= 1;
  bad_late.hash[0] ^= 1;
  log.reset();  // the story's store closed: read as a secondary instance alone
  const std::string story = dir.Sub("story");
  EXPECT_TRUE(VerifyAt(story, {good_late, good_early}).intact);
  auto late_bad = VerifyAt(story, {good_early, bad_late});
  EXPECT_FALSE(late_bad.intact);
  EXPECT_EQ(late_bad.first_bad, Position(late)) << late_bad.reason;
  auto both_bad = VerifyAt(story, {bad_late, bad_early});  // given out of order
  EXPECT_FALSE(both_bad.intact);
  EXPECT_EQ(both_bad.first_bad, Position(early)) << both_bad.reason;
  EXPECT_NE(both_bad.reason.find("digest"), std::string::npos) << both_bad.reason;
  // A good digest does not hide a bad one at the same position.
  EXPECT_FALSE(VerifyAt(story, {good_early, bad_early}).intact);
  // One kept beyond the log's end fails at its position, after the good ones passed.
  replay::KeptDigest beyond = good_late;
  beyond.position = Position(head.value() + 3);
  auto short_log = VerifyAt(story, {beyond, good_early});
  EXPECT_FALSE(short_log.intact);
  EXPECT_EQ(short_log.first_bad, beyond.position) << short_log.reason;
}

// A command's events are written together: a rebuild as of a position inside one would
// show a state that never existed, so it is refused, naming the position that ends it.
TEST_F(ReplayTest, ARebuildAsOfAPositionInsideACommandIsRefusedNamingTheCommandsEnd) {
  uint64_t inside = 0, end = 0;
  for (uint64_t p = 1; p <= head.value() && inside == 0; ++p) {
    auto one = log->store->ReadRange(Position(p), 1);
    ASSERT_TRUE(one.ok() && !one->empty());
    const auto* e = ledger::VerifyRecord(one->front().record);
    ASSERT_NE(e, nullptr);
    if (e->command_event_count() > 1 && e->command_first_position() == p) {
      inside = p;
      end = p + e->command_event_count() - 1;
    }
  }
  ASSERT_GT(inside, 0u) << "the story has no command of several events";
  TempDir scratch;
  auto store = replay::OpenForReplay(dir.Sub("story"), scratch.path());
  ASSERT_TRUE(store.ok());
  replay::RebuildOptions o = RebuildThroughHead();
  o.projection = "fees";
  o.as_of = Position(inside);
  o.out_dir = dir.Sub("inside");
  auto refused = replay::Rebuild(**store, o);
  ASSERT_EQ(refused.status().code(), ledger::Code::kInvalidArgument) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("inside a command that ends at " + std::to_string(end)), std::string::npos)
      << refused.status().message();
  EXPECT_FALSE(fs::exists(dir.Sub("inside")));
  o.as_of = Position(end);
  auto whole = replay::Rebuild(**store, o);
  ASSERT_TRUE(whole.ok()) << whole.status().ToString();
  EXPECT_EQ(whole->position, Position(end));
}

// A writer's store whose head is beyond its canonical mark (a deposed writer's tail, never
// known to be part of the log, which a rejoin sets aside; DESIGN §6): rebuild, export,
// digest and the time lookup read through the mark and count what lies beyond it; read
// through the head they take every stored event, and agree with the canonical reads up to
// the mark; verify checks every stored event and names the mark.
TEST_F(ReplayTest, AStoreIsReadThroughItsCanonicalMarkAndWhatLiesBeyondIsCounted) {
  auto batches = log->store->ReadBatchInfos(Position(1), 100000);
  ASSERT_TRUE(batches.ok());
  ASSERT_GT(batches->size(), 4u);
  const Position mark = (*batches)[batches->size() / 2].last;  // a batch's end, so a command's
  ASSERT_LT(mark, head);
  const uint64_t beyond = head.value() - mark.value();
  const std::string path = Copy("deposed");
  RawStore(path).PutCanonicalMark(mark.value());  // confirmed through `mark`, no further
  TempDir scratch;
  auto store = replay::OpenForReplay(path, scratch.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_EQ((*store)->canonical_mark().position, mark);

  auto bound = replay::BoundOf(**store, replay::Through::kCanonical);
  ASSERT_TRUE(bound.ok()) << bound.status().ToString();
  EXPECT_EQ(bound->last, mark);
  EXPECT_EQ(bound->canonical, mark);
  EXPECT_EQ(bound->head, head);
  EXPECT_EQ(bound->beyond_canonical(), beyond);
  auto everything = replay::BoundOf(**store, replay::Through::kHead);
  ASSERT_TRUE(everything.ok());
  EXPECT_EQ(everything->last, head);
  EXPECT_EQ(everything->beyond_canonical(), 0u);

  // digest: the mark's by default; beyond it only through the head.
  auto at_mark = replay::DigestAt(**store, Position(0), replay::Through::kCanonical);
  ASSERT_TRUE(at_mark.ok()) << at_mark.status().ToString();
  EXPECT_EQ(at_mark->position, mark);
  auto same = replay::DigestAt(**store, mark, replay::Through::kHead);
  ASSERT_TRUE(same.ok());
  EXPECT_EQ(at_mark->hash, same->hash);
  auto past = replay::DigestAt(**store, Position(mark.value() + 1), replay::Through::kCanonical);
  EXPECT_EQ(past.status().code(), ledger::Code::kNotFound) << past.status().ToString();
  EXPECT_NE(past.status().message().find("--through head"), std::string::npos) << past.status().message();
  auto at_head = replay::DigestAt(**store, Position(0), replay::Through::kHead);
  ASSERT_TRUE(at_head.ok());
  EXPECT_EQ(at_head->position, head);
  EXPECT_EQ(*replay::PositionAtTime(**store, INT64_MAX, replay::Through::kCanonical), mark);
  EXPECT_EQ(*replay::PositionAtTime(**store, INT64_MAX, replay::Through::kHead), head);

  // rebuild: as of the mark by default, with the state a rebuild through the head has there.
  replay::RebuildOptions canonical;  // the default: through the mark
  canonical.projection = "fees";
  canonical.out_dir = dir.Sub("canonical");
  auto rebuilt = replay::Rebuild(**store, canonical);
  ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
  EXPECT_EQ(rebuilt->position, mark);
  EXPECT_EQ(rebuilt->bound.beyond_canonical(), beyond);
  replay::RebuildOptions head_at_mark = RebuildThroughHead();
  head_at_mark.projection = "fees";
  head_at_mark.as_of = mark;
  head_at_mark.out_dir = dir.Sub("head-at-mark");
  auto agreed = replay::Rebuild(**store, head_at_mark);
  ASSERT_TRUE(agreed.ok()) << agreed.status().ToString();
  EXPECT_EQ(agreed->digest, rebuilt->digest);
  EXPECT_EQ(agreed->bound.beyond_canonical(), 0u);
  replay::RebuildOptions whole = RebuildThroughHead();
  whole.projection = "fees";
  whole.out_dir = dir.Sub("whole");
  auto all = replay::Rebuild(**store, whole);
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(all->position, head);
  replay::RebuildOptions too_far = canonical;
  too_far.as_of = head;
  too_far.out_dir = dir.Sub("too-far");
  auto refused = replay::Rebuild(**store, too_far);
  EXPECT_EQ(refused.status().code(), ledger::Code::kInvalidArgument) << refused.status().ToString();
  EXPECT_NE(refused.status().message().find("--through head"), std::string::npos) << refused.status().message();
  EXPECT_FALSE(fs::exists(dir.Sub("too-far")));

  // export: events 1..mark, the same bytes a read through the head gives for them.
  std::ostringstream through_mark, through_head;
  auto exported = replay::Export(**store, {}, through_mark);
  ASSERT_TRUE(exported.ok()) << exported.status().ToString();
  EXPECT_EQ(exported->scanned, mark.value());
  EXPECT_EQ(exported->exported, mark.value());
  EXPECT_EQ(exported->bound.beyond_canonical(), beyond);
  const std::string text = through_mark.str();
  EXPECT_EQ(static_cast<uint64_t>(std::count(text.begin(), text.end(), '\n')), mark.value());
  auto exported_all = replay::Export(**store, ExportThroughHead(), through_head);
  ASSERT_TRUE(exported_all.ok());
  EXPECT_EQ(exported_all->exported, head.value());
  EXPECT_EQ(through_head.str().rfind(text, 0), 0u) << "the events up to the mark differ";

  // verify: every stored event, the mark named.
  auto verified = replay::Verify(**store, {});
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->intact) << verified->reason;
  EXPECT_EQ(verified->events, head.value());
  EXPECT_EQ(verified->canonical_position, mark);
}

// A store holding events and no canonical mark (never published to Kafka: this story's)
// has nothing known to be part of the log: each read through the mark is refused
// (InvalidArgument, ledger-replay's exit 2) naming --through head, and writes nothing,
// rather than an empty rebuild or export standing for the store. verify still checks every
// event and says there is no mark; an empty store is read through its mark as the empty log.
TEST_F(ReplayTest, AStoreWithEventsAndNoCanonicalMarkIsReadOnlyThroughItsHead) {
  TempDir scratch;
  auto store = replay::OpenForReplay(dir.Sub("story"), scratch.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_EQ((*store)->canonical_mark().position, Position(0));
  const auto names_through_head = [](const ledger::Status& s) {
    return s.code() == ledger::Code::kInvalidArgument && s.message().find("no canonical mark") != std::string::npos &&
           s.message().find("--through head") != std::string::npos;
  };
  EXPECT_TRUE(names_through_head(replay::BoundOf(**store, replay::Through::kCanonical).status()));
  EXPECT_TRUE(names_through_head(replay::DigestAt(**store, Position(0), replay::Through::kCanonical).status()));
  EXPECT_TRUE(names_through_head(replay::PositionAtTime(**store, INT64_MAX, replay::Through::kCanonical).status()));
  replay::RebuildOptions rebuild;  // the default: through the mark
  rebuild.projection = "fees";
  rebuild.out_dir = dir.Sub("never");
  EXPECT_TRUE(names_through_head(replay::Rebuild(**store, rebuild).status()));
  std::ostringstream none;
  EXPECT_TRUE(names_through_head(replay::Export(**store, {}, none).status()));
  EXPECT_TRUE(none.str().empty());
  EXPECT_TRUE(names_through_head(replay::ExportToFile(**store, {}, dir.Sub("never.jsonl")).status()));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir.Sub("never"))));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir.Sub("never.jsonl"))));
  for (const std::string& name : Names(dir.path())) EXPECT_EQ(name.find(".partial-"), std::string::npos) << name;
  auto verified = replay::Verify(**store, {});
  ASSERT_TRUE(verified.ok());
  EXPECT_TRUE(verified->intact) << verified->reason;
  EXPECT_EQ(verified->events, head.value());
  EXPECT_EQ(verified->canonical_position, Position(0));

  {
    ledger::StoreOptions o;
    o.path = dir.Sub("empty");
    auto created = ledger::EventStore::Open(o);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
  }
  TempDir empty_scratch;
  auto empty = replay::OpenForReplay(dir.Sub("empty"), empty_scratch.path());
  ASSERT_TRUE(empty.ok()) << empty.status().ToString();
  auto digest = replay::DigestAt(**empty, Position(0), replay::Through::kCanonical);
  ASSERT_TRUE(digest.ok()) << digest.status().ToString();
  EXPECT_EQ(digest->position, Position(0));
  std::ostringstream nothing;
  auto exported = replay::Export(**empty, {}, nothing);
  ASSERT_TRUE(exported.ok()) << exported.status().ToString();
  EXPECT_EQ(exported->scanned, 0u);
}

// A stop asked for (ledger-replay sets the flag on SIGTERM or SIGINT) ends each operation
// at its next check with ShuttingDown, not a report, so the command can remove its scratch
// directory and say it was interrupted; without the flag the same calls finish.
TEST_F(ReplayTest, EachOperationStopsWithShuttingDownOnceAStopIsAskedFor) {
  const std::atomic<bool> stop{true};
  TempDir scratch;
  auto store = replay::OpenForReplay(dir.Sub("story"), scratch.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  replay::VerifyOptions verify;
  verify.stop = &stop;
  EXPECT_EQ(replay::Verify(**store, verify).status().code(), ledger::Code::kShuttingDown);
  replay::RebuildOptions rebuild = RebuildThroughHead();
  rebuild.projection = "fees";
  rebuild.out_dir = dir.Sub("stopped");
  rebuild.stop = &stop;
  EXPECT_EQ(replay::Rebuild(**store, rebuild).status().code(), ledger::Code::kShuttingDown);
  replay::ExportOptions exported = ExportThroughHead();
  exported.stop = &stop;
  std::ostringstream none;
  EXPECT_EQ(replay::Export(**store, exported, none).status().code(), ledger::Code::kShuttingDown);
  EXPECT_TRUE(none.str().empty());
  EXPECT_EQ(replay::ExportToFile(**store, exported, dir.Sub("stopped.jsonl")).status().code(), ledger::Code::kShuttingDown);
  // Neither output, nor the partial each was begun in.
  EXPECT_FALSE(fs::exists(dir.Sub("stopped")));
  EXPECT_FALSE(fs::exists(dir.Sub("stopped.jsonl")));
  for (const std::string& name : Names(dir.path())) EXPECT_EQ(name.find(".partial-"), std::string::npos) << name;
  replay::RebuildOptions whole = RebuildThroughHead();
  whole.projection = "fees";
  whole.out_dir = dir.Sub("whole");
  ASSERT_TRUE(replay::Rebuild(**store, whole).ok());
  EXPECT_EQ(replay::Diff(dir.Sub("whole"), dir.Sub("whole"), {}, 10, &stop).status().code(), ledger::Code::kShuttingDown);
  const std::atomic<bool> go_on{false};
  verify.stop = &go_on;
  auto intact = replay::Verify(**store, verify);
  ASSERT_TRUE(intact.ok()) << intact.status().ToString();
  EXPECT_TRUE(intact->intact) << intact->reason;
  EXPECT_TRUE(replay::Diff(dir.Sub("whole"), dir.Sub("whole"), {}, 10, &go_on).ok());
}

// A rebuild writes only into a directory it creates: a symlink at --out is refused as an
// existing directory is, a dangling one too (writing would create its target).
TEST_F(ReplayTest, ARebuildRefusesAnOutThatIsASymlinkEvenADanglingOne) {
  TempDir scratch;
  auto store = replay::OpenForReplay(dir.Sub("story"), scratch.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  fs::create_symlink(dir.Sub("nowhere"), dir.Sub("dangling"));
  fs::create_directories(dir.Sub("target"));
  fs::create_directory_symlink(dir.Sub("target"), dir.Sub("link"));
  for (const std::string& out : {dir.Sub("dangling"), dir.Sub("dangling") + "/", dir.Sub("link")}) {
    replay::RebuildOptions o = RebuildThroughHead();
    o.projection = "fees";
    o.out_dir = out;
    EXPECT_EQ(replay::Rebuild(**store, o).status().code(), ledger::Code::kInvalidArgument) << out;
  }
  EXPECT_FALSE(fs::exists(dir.Sub("nowhere")));
  EXPECT_TRUE(fs::is_empty(dir.Sub("target")));
}

// A rebuild is built under a hidden name beside --out and appears under --out only once it
// is whole: while it runs --out is absent; a stop, even one asked for after the last step,
// leaves neither --out nor the partial; a finished one leaves exactly --out ("dir/" naming
// dir), which diff reads as any projection directory.
TEST_F(ReplayTest, ARebuildAppearsUnderOutOnlyWhenWholeAndLeavesNoPartial) {
  TempDir scratch;
  auto store = replay::OpenForReplay(dir.Sub("story"), scratch.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const std::string parent = dir.Sub("outputs");
  fs::create_directories(parent);
  std::atomic<bool> stop{false};
  std::set<std::string> seen;  // the parent's names at the last step
  replay::RebuildOptions late = RebuildThroughHead();
  late.projection = "fees";
  late.out_dir = parent + "/late";
  late.stop = &stop;
  late.progress = [&](uint64_t done, uint64_t total) {
    seen = Names(parent);
    if (done == total) stop = true;  // after the last step, before --out is given its name
  };
  auto stopped = replay::Rebuild(**store, late);
  EXPECT_EQ(stopped.status().code(), ledger::Code::kShuttingDown) << stopped.status().ToString();
  ASSERT_EQ(seen.size(), 1u) << "one partial beside --out, and --out not yet there";
  EXPECT_EQ(seen.begin()->rfind(".late.partial-" + std::to_string(::getpid()) + "-", 0), 0u) << *seen.begin();
  EXPECT_TRUE(Names(parent).empty()) << "the stopped rebuild left something";
  replay::RebuildOptions early = late;  // stop still set: stopped before the first step
  early.out_dir = parent + "/early";
  early.progress = nullptr;
  EXPECT_EQ(replay::Rebuild(**store, early).status().code(), ledger::Code::kShuttingDown);
  EXPECT_TRUE(Names(parent).empty()) << "the stopped rebuild left something";

  replay::RebuildOptions whole = RebuildThroughHead();
  whole.projection = "fees";
  whole.out_dir = parent + "/whole/";
  auto r = replay::Rebuild(**store, whole);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->position, head);
  EXPECT_EQ(Names(parent), std::set<std::string>{"whole"});
  EXPECT_EQ(Names(parent + "/whole"), std::set<std::string>{"fees"});
  auto same = replay::Diff(parent + "/whole", parent + "/whole", {}, 10);
  ASSERT_TRUE(same.ok()) << same.status().ToString();
  EXPECT_EQ(same->compared, std::vector<std::string>{"fees"});
  ASSERT_EQ(same->positions.size(), 1u);
  EXPECT_EQ(same->positions[0].left, head);
}

// An export to a file is written under a hidden name beside it and appears under its name
// only once whole and synced, with the mode a file created in place had (0666 less the
// umask); one refused, stopped or failing (an event missing) leaves nothing there, nor its
// partial.
TEST_F(ReplayTest, AnExportToAFileAppearsOnlyWhenWholeAndLeavesNoPartial) {
  const std::string parent = dir.Sub("outputs");
  fs::create_directories(parent);
  {
    TempDir scratch;
    auto store = replay::OpenForReplay(dir.Sub("story"), scratch.path());
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    std::ostringstream expected;
    ASSERT_TRUE(replay::Export(**store, ExportThroughHead(), expected).ok());
    replay::ExportOptions o = ExportThroughHead();
    std::set<std::string> seen;  // the parent's names at the end of the walk
    o.progress = [&](uint64_t, uint64_t) { seen = Names(parent); };
    auto r = replay::ExportToFile(**store, o, parent + "/all.jsonl");
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->exported, head.value());
    ASSERT_EQ(seen.size(), 1u) << "one partial beside --out, and --out not yet there";
    EXPECT_EQ(seen.begin()->rfind(".all.jsonl.partial-" + std::to_string(::getpid()) + "-", 0), 0u) << *seen.begin();
    EXPECT_EQ(Contents(parent + "/all.jsonl"), expected.str());
    { std::ofstream(dir.Sub("in-place")) << "x"; }
    EXPECT_EQ(static_cast<int>(fs::status(parent + "/all.jsonl").permissions()),
              static_cast<int>(fs::status(dir.Sub("in-place")).permissions()));
    EXPECT_EQ(Names(parent), std::set<std::string>{"all.jsonl"});

    std::atomic<bool> stop{true};
    replay::ExportOptions stopped = ExportThroughHead();
    stopped.stop = &stop;
    EXPECT_EQ(replay::ExportToFile(**store, stopped, parent + "/early.jsonl").status().code(), ledger::Code::kShuttingDown);
    stop = false;
    stopped.progress = [&](uint64_t done, uint64_t total) {
      if (done == total) stop = true;  // after the last read, before the file is given its name
    };
    EXPECT_EQ(replay::ExportToFile(**store, stopped, parent + "/late.jsonl").status().code(), ledger::Code::kShuttingDown);
    // Refused before anything is written: a taken name, a directory's.
    EXPECT_EQ(replay::ExportToFile(**store, ExportThroughHead(), parent + "/all.jsonl").status().code(), ledger::Code::kInvalidArgument);
    EXPECT_EQ(replay::ExportToFile(**store, ExportThroughHead(), parent + "/new/").status().code(), ledger::Code::kInvalidArgument);
    EXPECT_EQ(Contents(parent + "/all.jsonl"), expected.str());
  }
  const std::string damaged = Copy("damaged");
  RawStore(damaged).DeleteEvent(5);
  TempDir scratch;
  auto store = replay::OpenForReplay(damaged, scratch.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto broken = replay::ExportToFile(**store, ExportThroughHead(), parent + "/broken.jsonl");
  EXPECT_EQ(broken.status().code(), ledger::Code::kCorruption) << broken.status().ToString();
  EXPECT_EQ(Names(parent), std::set<std::string>{"all.jsonl"});
}

// --out created by something else while a rebuild or an export ran (at its last step, as a
// race would) is never replaced: IOError naming it (exit 3 from the command line), what is
// there left as it was, the partial removed. An empty directory is the case a plain
// rename(2) would have replaced.
TEST_F(ReplayTest, AnOutCreatedWhileTheCommandRanIsNeverReplaced) {
  TempDir scratch;
  auto store = replay::OpenForReplay(dir.Sub("story"), scratch.path());
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const std::string parent = dir.Sub("outputs");
  fs::create_directories(parent);
  for (const bool as_symlink : {false, true}) {
    const std::string out = parent + (as_symlink ? "/dangling" : "/empty");
    replay::RebuildOptions o = RebuildThroughHead();
    o.projection = "fees";
    o.out_dir = out;
    o.progress = [&](uint64_t done, uint64_t total) {
      if (done != total) return;
      if (as_symlink) fs::create_symlink(parent + "/nowhere", out);
      else fs::create_directory(out);
    };
    auto r = replay::Rebuild(**store, o);
    EXPECT_EQ(r.status().code(), ledger::Code::kIOError) << r.status().ToString();
    EXPECT_NE(r.status().message().find(out + " appeared"), std::string::npos) << r.status().message();
  }
  EXPECT_TRUE(fs::is_empty(parent + "/empty"));
  EXPECT_TRUE(fs::is_symlink(parent + "/dangling"));
  const std::string file = parent + "/events.jsonl";
  replay::ExportOptions e = ExportThroughHead();
  e.progress = [&](uint64_t done, uint64_t total) {
    if (done == total) std::ofstream(file) << "theirs\n";
  };
  auto exported = replay::ExportToFile(**store, e, file);
  EXPECT_EQ(exported.status().code(), ledger::Code::kIOError) << exported.status().ToString();
  EXPECT_NE(exported.status().message().find(file + " appeared"), std::string::npos) << exported.status().message();
  EXPECT_EQ(Contents(file), "theirs\n");
  EXPECT_EQ(Names(parent), (std::set<std::string>{"dangling", "empty", "events.jsonl"}));
}

// The helpers under both: a partial's name is hidden, beside the output, and says which
// process made it; a rename never replaces a directory (empty or not), a file or a
// symlink (dangling or not) and then leaves its source as it was; a partial whose Publish
// fails is removed with its PartialOut, and a published one is the output.
TEST(ReplayOutFile, ARenameNeverReplacesAnythingAndAPartialIsRemovedUnlessPublished) {
  TempDir dir;
  const fs::path name = replay::PartialSiblingName(dir.Sub("out.csv"));
  EXPECT_EQ(name.parent_path().string(), dir.path());
  EXPECT_EQ(name.filename().string().rfind(".out.csv.partial-" + std::to_string(::getpid()) + "-", 0), 0u) << name.string();
  EXPECT_LE(fs::path(replay::PartialSiblingName(dir.Sub(std::string(255, 'n')))).filename().string().size(), 255u);
  EXPECT_EQ(replay::WithoutTrailingSlash("a/b//").string(), "a/b");
  EXPECT_EQ(replay::WithoutTrailingSlash("/").string(), "/");

  fs::create_directories(dir.Sub("empty"));
  fs::create_directories(dir.Sub("full/x"));
  { std::ofstream(dir.Sub("file")) << "theirs"; }
  fs::create_symlink(dir.Sub("file"), dir.Sub("link"));
  fs::create_symlink(dir.Sub("nowhere"), dir.Sub("dangling"));
  fs::create_directories(dir.Sub("source-dir/inside"));
  { std::ofstream(dir.Sub("source-file")) << "ours"; }
  for (const std::string source : {"source-dir", "source-file"}) {
    for (const std::string target : {"empty", "full", "file", "link", "dangling"}) {
      const ledger::Status s = replay::RenameWithoutReplacing(dir.Sub(source), dir.Sub(target));
      EXPECT_EQ(s.code(), ledger::Code::kIOError) << source << " onto " << target << ": " << s.ToString();
      EXPECT_NE(s.message().find(dir.Sub(target) + " appeared"), std::string::npos) << s.message();
      EXPECT_TRUE(fs::exists(dir.Sub(source))) << source << " onto " << target;
    }
  }
  EXPECT_TRUE(fs::is_empty(dir.Sub("empty")));
  EXPECT_EQ(Names(dir.Sub("full")), std::set<std::string>{"x"});
  EXPECT_EQ(Contents(dir.Sub("file")), "theirs");
  EXPECT_FALSE(fs::exists(dir.Sub("nowhere")));
  ASSERT_TRUE(replay::RenameWithoutReplacing(dir.Sub("source-file"), dir.Sub("renamed")).ok());
  EXPECT_EQ(Contents(dir.Sub("renamed")), "ours");
  EXPECT_FALSE(fs::exists(dir.Sub("source-file")));

  std::string partial_path;
  {
    auto partial = replay::PartialOut::MakeDirectory(dir.Sub("out-dir"));
    ASSERT_TRUE(partial.ok()) << partial.status().ToString();
    partial_path = partial->path();
    { std::ofstream(partial_path + "/a") << "a"; }
    EXPECT_TRUE(replay::SyncTree(partial_path).ok());
    fs::create_directory(dir.Sub("out-dir"));  // someone else's, made meanwhile
    const ledger::Status published = partial->Publish();
    EXPECT_EQ(published.code(), ledger::Code::kIOError) << published.ToString();
    EXPECT_TRUE(fs::exists(partial_path)) << "kept until its PartialOut goes";
  }
  EXPECT_FALSE(fs::exists(partial_path));
  EXPECT_TRUE(fs::is_empty(dir.Sub("out-dir")));
  {
    int fd = -1;
    auto partial = replay::PartialOut::CreateFile(dir.Sub("out-file"), 0666, &fd);
    ASSERT_TRUE(partial.ok()) << partial.status().ToString();
    ASSERT_GE(fd, 0);
    partial_path = partial->path();
    replay::FdOut file(fd);
    std::ostream out(&file);
    out << "written";
    out.flush();
    ASSERT_TRUE(file.Close()) << file.error();
    ASSERT_TRUE(partial->Publish().ok());
    EXPECT_TRUE(partial->path().empty());
  }
  EXPECT_EQ(Contents(dir.Sub("out-file")), "written");
  EXPECT_FALSE(fs::exists(partial_path));
  for (const std::string& n : Names(dir.path())) EXPECT_EQ(n.find(".partial-"), std::string::npos) << n;
}

// diff's text output escapes keys (a read model's key may hold any bytes: a newline in one
// broke its line, a terminal escape could forge another) so that one key is one line of
// printable ASCII, and no two keys print alike; the report says which position each
// side's store had applied.
TEST(ReplayDiff, KeysPrintOnOneLineAndEachSidesPositionIsReported) {
  TempDir dir;
  const std::vector<std::string> keys = {"plain/key",   "two\nlines", "cr\rtab\t",      std::string("nul\0byte", 8),
                                         "back\\slash", "caf\xc3\xa9",  "esc\x1b[2J\x7f", "bad\xffutf8"};
  std::vector<std::pair<std::string, nlohmann::json>> left = {{"same", 1}};
  for (const std::string& key : keys) left.emplace_back(key, "left only");
  ASSERT_TRUE(testing_support::WriteProjectionCommit(dir.Sub("left"), "fees", 7, left).ok());
  ASSERT_TRUE(testing_support::WriteProjectionCommit(dir.Sub("right"), "fees", 5, {{"same", 1}}).ok());
  auto d = replay::Diff(dir.Sub("left"), dir.Sub("right"), {"fees"}, 100);
  ASSERT_TRUE(d.ok()) << d.status().ToString();
  ASSERT_EQ(d->positions.size(), 1u);
  EXPECT_EQ(d->positions[0].read_model, "fees");
  EXPECT_EQ(d->positions[0].left, Position(7));
  EXPECT_EQ(d->positions[0].right, Position(5));
  EXPECT_EQ(d->count, keys.size());
  std::set<std::string> printed;
  for (const replay::Difference& difference : d->differences) {
    EXPECT_NE(std::find(keys.begin(), keys.end(), difference.key), keys.end()) << "the report keeps the key's bytes";
    const std::string line = replay::EscapeForLine(difference.key);
    for (const char c : line) EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << line;
    printed.insert(line);
    EXPECT_EQ(difference.left, "\"left only\"");
    EXPECT_TRUE(difference.right.empty());
  }
  EXPECT_EQ(printed.size(), keys.size()) << "two keys printed alike";
  EXPECT_EQ(replay::EscapeForLine("two\nlines"), "two\\nlines");
  EXPECT_EQ(replay::EscapeForLine("cr\rtab\t"), "cr\\rtab\\t");
  EXPECT_EQ(replay::EscapeForLine(std::string("nul\0byte", 8)), "nul\\x00byte");
  EXPECT_EQ(replay::EscapeForLine("back\\slash"), "back\\\\slash");
  EXPECT_EQ(replay::EscapeForLine("caf\xc3\xa9"), "caf\\xc3\\xa9");
  EXPECT_EQ(replay::EscapeForLine("esc\x1b[2J\x7f"), "esc\\x1b[2J\\x7f");
  EXPECT_EQ(replay::EscapeForLine("plain/key"), "plain/key");
}

// A topic whose first batch is not position 1 (a new embedded cluster's, continuing from
// the writer's head) has nothing that chains to genesis: the copy fails and says which
// positions the topic holds, instead of an empty copy that verifies as "intact, 0 events".
TEST(ReplayFromKafka, ATopicThatDoesNotBeginAtPositionOneIsRefusedNamingWhatItHolds) {
  auto cluster = ledger::kafka::EmbeddedCluster::Start(1, 1);
  ASSERT_TRUE(cluster.ok()) << cluster.status().ToString();
  TempDir writer_dir, scratch;
  auto writer = testing_support::OpenNodeStore(writer_dir.path(), "n0");
  testing_support::PromoteToEpochOne(*writer, "n0");
  testing_support::WriteCommands(*writer, 12, 1);
  auto batches = writer->ReadBatches(Position(1), 100000);
  auto infos = writer->ReadBatchInfos(Position(1), 100000);
  ASSERT_TRUE(batches.ok() && infos.ok());
  ASSERT_GT(batches->size(), 4u);
  testing_support::PublishRaw((*cluster)->bootstrap(), std::vector<std::string>(batches->begin() + 3, batches->end()));
  replay::KafkaSource source;
  source.bootstrap = (*cluster)->bootstrap();
  source.timeout_s = 60;
  auto copy = replay::CopyFromKafka(source, scratch.path());
  ASSERT_FALSE(copy.ok());
  EXPECT_EQ(copy.status().code(), ledger::Code::kCorruption) << copy.status().ToString();
  const std::string held = std::to_string((*infos)[3].first.value()) + ".." + std::to_string(writer->head().position.value());
  EXPECT_NE(copy.status().message().find("does not begin at position 1"), std::string::npos) << copy.status().message();
  EXPECT_NE(copy.status().message().find(held), std::string::npos) << copy.status().message();
}

// An unreachable bootstrap used to wait out the whole read timeout (ten minutes): the copy
// gives up once no broker has answered within its answer timeout.
TEST(ReplayFromKafka, NoBrokerAnsweringIsUnavailableWithinTheAnswerTimeout) {
  TempDir scratch;
  replay::KafkaSource source;
  source.bootstrap = "127.0.0.1:1";
  source.answer_timeout_ms = 1500;
  const auto started = std::chrono::steady_clock::now();
  auto copy = replay::CopyFromKafka(source, scratch.path());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  ASSERT_FALSE(copy.ok());
  EXPECT_EQ(copy.status().code(), ledger::Code::kUnavailable) << copy.status().ToString();
  EXPECT_NE(copy.status().message().find("no Kafka broker"), std::string::npos) << copy.status().message();
  EXPECT_LT(seconds, 60) << "closing the reader must not wait for the unreachable broker for long";
}

}  // namespace
