#include "tests/support/raw_store.h"

#include <rocksdb/db.h>

#include "ledger/status.h"
#include "ledger/store_keys.h"

namespace testing_support {

using ledger::Position;

RawStore::RawStore(const std::string& path) {
  std::vector<std::string> names;
  LEDGER_INVARIANT(rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), path, &names).ok());
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  rocksdb::DB* db = nullptr;
  LEDGER_INVARIANT(rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles_, &db).ok());
  db_.reset(db);
  for (size_t i = 0; i < names.size(); ++i) by_name_[names[i]] = handles_[i];
}

RawStore::~RawStore() {
  for (auto* h : handles_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
}

void RawStore::Flush() { LEDGER_INVARIANT(db_->Flush(rocksdb::FlushOptions(), handles_).ok()); }

std::string RawStore::Event(uint64_t p) {
  std::string v;
  LEDGER_INVARIANT(db_->Get(rocksdb::ReadOptions(), by_name_["events"], ledger::keys::EventKey(Position(p)), &v).ok());
  return v;
}

void RawStore::PutEvent(uint64_t p, const std::string& v) {
  LEDGER_INVARIANT(db_->Put(rocksdb::WriteOptions(), by_name_["events"], ledger::keys::EventKey(Position(p)), v).ok());
}

void RawStore::DeleteEvent(uint64_t p) {
  LEDGER_INVARIANT(db_->Delete(rocksdb::WriteOptions(), by_name_["events"], ledger::keys::EventKey(Position(p))).ok());
}

void RawStore::ClearStreamIndex() {
  rocksdb::WriteBatch wb;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), by_name_["streams"]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) wb.Delete(by_name_["streams"], it->key());
  LEDGER_INVARIANT(it->status().ok());
  it.reset();
  LEDGER_INVARIANT(db_->Write(rocksdb::WriteOptions(), &wb).ok());
}

void RawStore::PutIndexedThrough(uint64_t p) {
  std::string v;
  ledger::keys::PutBigEndian64(&v, p);
  LEDGER_INVARIANT(db_->Put(rocksdb::WriteOptions(), by_name_["meta"], ledger::keys::kMetaIndexedThrough, v).ok());
}

void RawStore::PutHead(uint64_t p, const ledger::Sha256Digest& hash, int64_t recorded_at_us) {
  std::string v;
  ledger::keys::PutBigEndian64(&v, p);
  v.append(reinterpret_cast<const char*>(hash.data()), 32);
  ledger::keys::PutBigEndian64(&v, static_cast<uint64_t>(recorded_at_us));
  LEDGER_INVARIANT(db_->Put(rocksdb::WriteOptions(), by_name_["meta"], ledger::keys::kMetaHead, v).ok());
}

void RawStore::PutCanonicalMark(uint64_t p, uint64_t epoch, const std::string& owner) {
  // The layout RocksStore writes (follower_append.cc, CanonicalMarkValue): position, epoch
  // and Kafka offset as 8 bytes big-endian each (-1: none), then the owner.
  std::string v;
  ledger::keys::PutBigEndian64(&v, p);
  ledger::keys::PutBigEndian64(&v, epoch);
  ledger::keys::PutBigEndian64(&v, static_cast<uint64_t>(int64_t{-1}));
  v.append(owner);
  LEDGER_INVARIANT(db_->Put(rocksdb::WriteOptions(), by_name_["meta"], ledger::keys::kMetaCanonicalHead, v).ok());
}

}  // namespace testing_support
