// Every bad input to the store gets a clear error and changes nothing.
#include <gtest/gtest.h>
#include <rocksdb/db.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "ledger/chain_hash.h"
#include "ledger/event_store.h"
#include "ledger/record_codec.h"
#include "tests/support/raw_store.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_records.h"

using namespace ledger;
using testing_support::MakeCommand;
using testing_support::MakeListingRecord;
using testing_support::RecordSpec;
using testing_support::TempDir;

namespace {

std::unique_ptr<EventStore> OpenStore(const std::string& path, uint32_t shard = 0) {
  StoreOptions o;
  o.path = path;
  o.shard = ShardId(shard);
  auto s = EventStore::Open(o);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  return s.ok() ? std::move(s).value() : nullptr;
}

// Every file's name and content hash: to prove a refused open changed nothing.
std::map<std::string, std::string> Snapshot(const std::string& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out[e.path().string()] = ToHex(Sha256Of(ss.str()));
  }
  return out;
}

class StoreBadInput : public ::testing::Test {
 protected:
  void SetUp() override {
    store_ = OpenStore(dir_.path());
    ASSERT_TRUE(store_);
    RecordSpec s;
    s.stream = "order/m1/1";
    s.idempotency_key = "idem-1";
    s.request = "place order 1";
    ASSERT_TRUE(store_->Append(MakeCommand(s, 2, false)).ok());
    head_ = store_->head();
  }
  void ExpectNothingWritten() {
    EXPECT_EQ(store_->head().position, head_.position);
    EXPECT_EQ(store_->head().hash, head_.hash);
    auto all = store_->ReadRange(Position(1), 100);
    ASSERT_TRUE(all.ok());
    EXPECT_EQ(all->size(), head_.position.value());
  }
  Status AppendOne(RecordSpec s, ExpectedVersion expected = ExpectedVersion::Any()) {
    return store_->Append(MakeCommand(s, 1, false, expected)).status();
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
  Head head_;
};

}  // namespace

TEST_F(StoreBadInput, VersionConflictNoStreamOnExistingStream) {
  RecordSpec s;
  s.stream = "order/m1/1";
  EXPECT_EQ(AppendOne(s, ExpectedVersion::NoStream()).code(), Code::kVersionConflict);
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, VersionConflictExactMismatch) {
  RecordSpec s;
  s.stream = "order/m1/1";
  Status st = AppendOne(s, ExpectedVersion::Exactly(StreamVersion(1)));
  EXPECT_EQ(st.code(), Code::kVersionConflict);
  EXPECT_NE(st.message().find("is at version 2"), std::string::npos) << st.message();
  s.stream = "order/m1/none";
  EXPECT_EQ(AppendOne(s, ExpectedVersion::Exactly(StreamVersion(1))).code(), Code::kVersionConflict);
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, ExpectedVersionZeroMustBeNoStream) {
  RecordSpec s;
  s.stream = "order/m1/new";
  EXPECT_EQ(AppendOne(s, ExpectedVersion::Exactly(StreamVersion(0))).code(), Code::kInvalidArgument);
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, IdempotencyKeyWithADifferentRequest) {
  RecordSpec s;
  s.stream = "order/m1/1";
  s.idempotency_key = "idem-1";
  s.request = "place order 1 with another total";
  auto r = store_->Append(MakeCommand(s, 2, false));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), Code::kIdempotencyKeyReused);
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, RecordOverTheSizeLimit) {
  RecordSpec s;
  s.stream = "order/m1/big";
  s.title_bytes = kRecordBytesMax;
  Status st = AppendOne(s);
  EXPECT_EQ(st.code(), Code::kTooLarge);
  EXPECT_NE(st.message().find(std::to_string(kRecordBytesMax)), std::string::npos);
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, CommandOverTheBatchSize) {
  RecordSpec s;
  s.stream = "order/m1/big";
  s.title_bytes = 60 * 1024;  // each record fits; 14 of them do not fit one batch
  auto r = store_->Append(MakeCommand(s, 14, true));
  EXPECT_EQ(r.status().code(), Code::kTooLarge);
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, CommandWithTooManyEvents) {
  RecordSpec s;
  s.title_bytes = 1;
  auto r = store_->Append(MakeCommand(s, kCommandEventsMax + 1, false));
  EXPECT_EQ(r.status().code(), Code::kTooLarge);
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, EmptyAndMalformedStreamIds) {
  for (const char* bad : {"", "order", "order/m1/", "order/M1/1", "order/m1/a b", "nope/m1/1",
                          "order/m1/1/2"}) {
    RecordSpec s;
    s.stream = bad;
    Status st = AppendOne(s);
    EXPECT_EQ(st.code(), Code::kInvalidArgument) << "stream '" << bad << "'";
  }
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, CommandWithNoEvents) {
  auto r = store_->Append(AppendCommand{});
  EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, RecordThatIsNotAnEvent) {
  AppendCommand cmd;
  cmd.events.push_back({std::string("definitely not a flatbuffer"), ExpectedVersion::Any()});
  EXPECT_EQ(store_->Append(std::move(cmd)).status().code(), Code::kInvalidArgument);
  // A valid record with one byte of its table offset broken.
  RecordSpec s;
  std::string rec = MakeListingRecord(s);
  rec[0] = static_cast<char>(0xff);
  rec[1] = static_cast<char>(0xff);
  AppendCommand cmd2;
  cmd2.events.push_back({rec, ExpectedVersion::Any()});
  EXPECT_EQ(store_->Append(std::move(cmd2)).status().code(), Code::kInvalidArgument);
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, EventCountThatIsNotTheCommands) {
  RecordSpec s;
  s.command_event_count = 3;
  AppendCommand cmd;
  cmd.events.push_back({MakeListingRecord(s), ExpectedVersion::Any()});
  EXPECT_EQ(store_->Append(std::move(cmd)).status().code(), Code::kInvalidArgument);
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, EventsThatDisagreeOnTheirCommand) {
  RecordSpec a;
  a.command_event_count = 2;
  a.idempotency_key = "k-a";
  RecordSpec b = a;
  b.idempotency_key = "k-b";
  AppendCommand cmd;
  cmd.events.push_back({MakeListingRecord(a), ExpectedVersion::Any()});
  cmd.events.push_back({MakeListingRecord(b), ExpectedVersion::Any()});
  EXPECT_EQ(store_->Append(std::move(cmd)).status().code(), Code::kInvalidArgument);
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, RecordForAnotherShard) {
  RecordSpec s;
  s.shard = 5;
  EXPECT_EQ(AppendOne(s).code(), Code::kInvalidArgument);
  ExpectNothingWritten();
}

TEST_F(StoreBadInput, BadTenantAndIdempotencyKey) {
  RecordSpec s;
  s.tenant = "Not-A-Merchant";
  EXPECT_EQ(AppendOne(s).code(), Code::kInvalidArgument);
  RecordSpec k;
  k.idempotency_key = "has space";
  EXPECT_EQ(AppendOne(k).code(), Code::kInvalidArgument);
  ExpectNothingWritten();
}

TEST(StoreOpen, DirectoryWithOtherFilesIsRefusedAndUntouched) {
  TempDir dir;
  { std::ofstream(dir.Sub("notes.txt")) << "my thesis"; }
  auto before = Snapshot(dir.path());
  StoreOptions o;
  o.path = dir.path();
  auto s = EventStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kNotALedgerStore);
  EXPECT_EQ(Snapshot(dir.path()), before);
}

TEST(StoreOpen, PathThatIsAFileIsRefused) {
  TempDir dir;
  { std::ofstream(dir.Sub("file")) << "x"; }
  StoreOptions o;
  o.path = dir.Sub("file");
  auto s = EventStore::Open(o);
  EXPECT_EQ(s.status().code(), Code::kNotALedgerStore);
}

TEST(StoreOpen, MissingStoreWithoutCreateIsNotFound) {
  TempDir dir;
  StoreOptions o;
  o.path = dir.Sub("absent");
  o.create_if_missing = false;
  EXPECT_EQ(EventStore::Open(o).status().code(), Code::kNotFound);
  EXPECT_FALSE(std::filesystem::exists(o.path));
}

TEST(StoreOpen, PlainRocksDbIsNotALedgerStore) {
  TempDir dir;
  {
    rocksdb::Options opts;
    opts.create_if_missing = true;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(opts, dir.path(), &db).ok());
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), "k", "v").ok());
    delete db;
  }
  auto before = Snapshot(dir.path());
  StoreOptions o;
  o.path = dir.path();
  auto s = EventStore::Open(o);
  EXPECT_EQ(s.status().code(), Code::kNotALedgerStore);
  EXPECT_EQ(Snapshot(dir.path()), before);
}

TEST(StoreOpen, StoreOfAnotherShardIsRefused) {
  TempDir dir;
  { ASSERT_TRUE(OpenStore(dir.path(), 1)); }
  StoreOptions o;
  o.path = dir.path();
  o.shard = ShardId(2);
  auto s = EventStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kNotALedgerStore);
  EXPECT_NE(s.status().message().find("shard 1"), std::string::npos);
}

// The stream-index watermark claims rows past the last event: refused, and the store is
// unchanged (with the watermark set right, it opens with its events).
TEST(StoreOpen, AStreamIndexWatermarkPastTheHeadIsRefused) {
  TempDir dir;
  { ASSERT_TRUE(OpenStore(dir.path())->Append(MakeCommand(RecordSpec{}, 2, false)).ok()); }
  testing_support::RawStore(dir.path()).PutIndexedThrough(9);
  StoreOptions o;
  o.path = dir.path();
  auto refused = EventStore::Open(o);
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), Code::kCorruption);
  EXPECT_NE(refused.status().message().find("stream index"), std::string::npos);
  testing_support::RawStore(dir.path()).PutIndexedThrough(2);
  auto store = OpenStore(dir.path());
  ASSERT_TRUE(store);
  EXPECT_EQ(store->head().position, Position(2));
  EXPECT_EQ(store->stats().stream_index_rows_rebuilt, 0u);
}

TEST(StoreOpen, CorruptedCurrentFileIsACleanError) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Append(MakeCommand(RecordSpec{}, 3, false)).ok());
  }
  { std::ofstream(dir.Sub("CURRENT"), std::ios::trunc) << "MANIFEST-999999\n"; }
  auto before = Snapshot(dir.path());
  StoreOptions o;
  o.path = dir.path();
  auto s = EventStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_TRUE(s.status().code() == Code::kCorruption || s.status().code() == Code::kIOError)
      << s.status().ToString();
  EXPECT_EQ(Snapshot(dir.path()), before);
}

TEST(StoreOpen, GarbledManifestIsACleanError) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Append(MakeCommand(RecordSpec{}, 3, false)).ok());
  }
  for (const auto& e : std::filesystem::directory_iterator(dir.path())) {
    if (e.path().filename().string().rfind("MANIFEST-", 0) == 0) {
      std::fstream f(e.path(), std::ios::in | std::ios::out | std::ios::binary);
      f.seekp(0);
      f << std::string(64, '\x5a');
    }
  }
  StoreOptions o;
  o.path = dir.path();
  auto s = EventStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.status().code(), Code::kOk);
}

TEST(StoreOpen, TamperedHeadRecordIsDetected) {
  TempDir dir;
  {
    auto store = OpenStore(dir.path());
    ASSERT_TRUE(store->Append(MakeCommand(RecordSpec{}, 3, false)).ok());
  }
  {
    // Rewrite the last event's record behind the store's back.
    rocksdb::DBOptions opts;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(opts, dir.path(), &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* db = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(opts, dir.path(), cfs, &handles, &db).ok());
    rocksdb::ColumnFamilyHandle* events = nullptr;
    for (size_t i = 0; i < names.size(); ++i)
      if (names[i] == "events") events = handles[i];
    std::string key("\0\0\0\0\0\0\0\x03", 8), value;
    ASSERT_TRUE(db->Get(rocksdb::ReadOptions(), events, key, &value).ok());
    value.back() ^= 0x01;
    ASSERT_TRUE(db->Put(rocksdb::WriteOptions(), events, key, value).ok());
    for (auto* h : handles) ASSERT_TRUE(db->DestroyColumnFamilyHandle(h).ok());
    delete db;
  }
  StoreOptions o;
  o.path = dir.path();
  auto s = EventStore::Open(o);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), Code::kCorruption);
  EXPECT_NE(s.status().message().find("position 3"), std::string::npos) << s.status().message();
}

// A store is created whole or not at all: what a kill during creation leaves behind (a
// "<path>.creating" directory) is discarded by the next start, and the path itself never
// holds half a store.
TEST(StoreOpen, CreationCutByACrashIsDiscarded) {
  TempDir dir;
  const std::string path = dir.Sub("store");
  std::filesystem::create_directories(path + ".creating");
  { std::ofstream(path + ".creating/CURRENT") << "MANIFEST-000001\n"; }
  { std::ofstream(path + ".creating/000003.log") << "half a write"; }
  StoreOptions o;
  o.path = path;
  auto s = EventStore::Open(o);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_FALSE(std::filesystem::exists(path + ".creating"));
  EXPECT_TRUE(std::filesystem::exists(path + "/CURRENT"));
  EXPECT_TRUE((*s)->Append(MakeCommand(RecordSpec{}, 1, false)).ok());
}
