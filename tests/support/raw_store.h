// Raw RocksDB access to a closed event store, as someone with the files would have: for
// tests that damage a store the way an attacker or a broken disk would.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "ledger/types.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace testing_support {

class RawStore {
 public:
  explicit RawStore(const std::string& path);
  ~RawStore();
  // The stored value of an event: hash (32) || record.
  std::string Event(uint64_t position);
  void PutEvent(uint64_t position, const std::string& value);
  void DeleteEvent(uint64_t position);
  // Deletes every stream-index row (as a crash before the index write would leave it).
  void ClearStreamIndex();
  // The stream-index watermark (meta "indexed_through").
  void PutIndexedThrough(uint64_t position);
  // Writes every column family's memtable to table files (as a long-running store would
  // have them), so that damage to a table file reaches the events.
  void Flush();
  // The meta head record: position, hash, recorded-at.
  void PutHead(uint64_t position, const ledger::Sha256Digest& hash, int64_t recorded_at_us);

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name_;
};

}  // namespace testing_support
