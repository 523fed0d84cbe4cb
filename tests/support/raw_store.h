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
  // The meta canonical mark (what EventStore::canonical_mark() loads at open), owned by
  // `owner` in `epoch`, with no Kafka offset: as a writer's store stands once a log reader
  // has confirmed its batches through `position` and no further (its later batches not yet
  // published, or published by a writer since deposed). REQUIRES: `position` ends a stored
  // batch, at or below the head (the store refuses to open otherwise).
  void PutCanonicalMark(uint64_t position, uint64_t epoch = 1, const std::string& owner = "node-1");

 private:
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> handles_;
  std::map<std::string, rocksdb::ColumnFamilyHandle*> by_name_;
};

}  // namespace testing_support
