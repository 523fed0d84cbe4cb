// One read model's own RocksDB (DESIGN §7): its logical state (keys -> JSON values, stored
// as MessagePack), the position and Kafka offset it has applied, and the state digest
// recorded at every applied batch boundary. State, progress and digest change in one WriteBatch, so a projector that
// dies mid-batch resumes exactly where its last commit left it: effectively once.
//
// The state digest. DESIGN §7 defines it as SHA-256 over the logical keys and values in key
// order. Recomputed at every batch boundary that costs O(state) per batch, which no rebuild
// target survives; this store keeps it incrementally instead (DECISIONS §29): an additive
// set hash, the sum mod 2^256 of SHA-256(len32 key || key || len32 value || value) over all
// entries, and digest = SHA-256("ledger projection state v1" || name || sum || entry count).
// Like the ordered hash it covers exactly the logical keys and values (no offsets,
// wall-clock fields or metrics), is the same for the same state however it was reached, and
// changes with any key or value. `FullDigest()` also computes the ordered SHA-256 of DESIGN
// §7, for auditors who want that form.
//
// Thread-safety: reads (Get, Scan, progress, DigestAt) may run on any thread, concurrently
// with Commit; Commit is called by one thread at a time.
#pragma once

#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ledger/status.h"
#include "ledger/types.h"
#include "projections/record_value.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace projections {

using Json = nlohmann::json;

struct Progress {
  ledger::Position position;       // last event applied (0: none)
  int64_t kafka_offset = -1;       // of the batch holding `position` (-1: unknown)
  ledger::Sha256Digest digest{};   // state digest at `position`
  uint64_t entries = 0;            // logical keys in the state
};

class ProjectionStore;

// The changes of one applied batch, on top of the store: reads see earlier writes of the
// same batch. A key whose value is null is absent (reading an absent key gives null;
// setting null erases it). Single-threaded. A committed txn is spent: it still owns the
// batch's values, which are freed when it is destroyed (a long catch-up has that done on
// another thread), and must not be read or committed again.
class StateTxn {
 public:
  explicit StateTxn(const ProjectionStore* store) : store_(store) {}
  ~StateTxn();
  StateTxn(const StateTxn&) = delete;
  StateTxn& operator=(const StateTxn&) = delete;

  // The value at `key`, null when absent.
  const Json& Get(const std::string& key);
  // The value at `key` to change in place (null when absent: assign to create it). The
  // references Get and Mutable give stay valid until Commit (rules hold several at once).
  Json& Mutable(const std::string& key);
  // Erases `key`, without reading it now (as Put).
  void Erase(const std::string& key) { Set(key, /*as_record=*/false); }
  // Sets the value at `key` whatever it was, without reading it now: a rule creating a
  // key (an order, a capture) has no use for the old value, and most such keys are new,
  // so their lookups (only the digest needs the old bytes) are left to Commit, which does
  // them together in key order. Gives the value to change in place, as Mutable does.
  Json& Put(const std::string& key, Json value);
  // The same three for values held as records (record_value.h: objects of integers,
  // booleans, strings and records), which give the same stored bytes as the JSON objects
  // without building them. For keys whose values always have that shape: a stored value
  // that does not fails the txn (Corruption). A key may be asked for in both forms within
  // a batch, but a reference of one form is invalid once the other is asked for.
  const Record& GetRecord(const std::string& key);
  Record& MutableRecord(const std::string& key);
  Record& PutRecord(const std::string& key);

  // The first error met reading the store (OK if none); Commit refuses a failed txn.
  const ledger::Status& status() const { return status_; }
  size_t size() const { return entries_.size(); }

 private:
  friend class ProjectionStore;
  struct Entry {
    std::optional<std::string> original;  // stored bytes before this txn
    bool original_read = true;            // false: set by Put, `original` read at Commit
    bool dirty = false;
    bool as_record = false;               // the value is `record`, not `value`
    Json value;
    Record record;
  };
  // The entry of `key`, read from the store on first use, holding its value in the form
  // asked for (a record or JSON).
  Entry& Load(const std::string& key, bool as_record);
  // The entry of `key` for a value set whatever it was (Put): not read now.
  Entry& Set(const std::string& key, bool as_record);
  void Fail(ledger::Status s) {
    if (status_.ok()) status_ = std::move(s);
  }

  const ProjectionStore* store_;
  // Hashed for the many lookups of a batch; Commit writes the changed keys in key order.
  std::unordered_map<std::string, Entry> entries_;
  ledger::Status status_;
  bool committed_ = false;
};

// How a projection store is opened.
enum class StoreAccess {
  // Commits go through RocksDB's write-ahead log: a process that dies loses none of them
  // (a machine that does may lose the last few, not synced; the projector applies them
  // again from the log).
  kWrite,
  // Commits skip the write-ahead log (about 5% of a rebuild's time): the memtables of all
  // column families are flushed together (atomic flush), so what is on disk always holds
  // one whole commit's state, progress and digests; a crash loses the commits since the
  // last flush (the store goes back to that position, never to a torn one), and Flush or
  // closing the store writes the rest. For rebuilds into a new directory, which start
  // over anyway when they fail.
  kWriteUnlogged,
  // Nothing created or written (Commit fails), no lock taken, so a live projector's store
  // can be read (as it stood when opened); NotFound when absent.
  kReadOnly,
};

class ProjectionStore {
 public:
  // Opens or creates the store of projection `name` at `path`. Errors: NotALedgerStore
  // when the directory holds something else (another projection, an event store);
  // Corruption; IOError.
  // A new store is marked with `layout_version` (Projection::layout_version); an existing
  // one keeps the layout it was written with (layout_version()).
  static ledger::Result<std::unique_ptr<ProjectionStore>> Open(const std::string& path, const std::string& name,
                                                               StoreAccess access = StoreAccess::kWrite,
                                                               uint32_t layout_version = 1);
  ~ProjectionStore();

  // Writes every commit still only in memory to the store's tables (waits). Errors: IOError.
  ledger::Status Flush();

  const std::string& name() const { return name_; }
  // The layout its keys and values were written in (1 for a store made before layouts
  // were recorded).
  uint32_t layout_version() const { return layout_version_; }
  Progress progress() const;

  // Writes the txn's changes, the new progress and the digest record for `position` in one
  // WriteBatch. REQUIRES: position > progress().position (or equal with no changes).
  ledger::Status Commit(StateTxn& txn, ledger::Position position, int64_t kafka_offset);

  ledger::Result<std::optional<Json>> Get(const std::string& key) const;
  // Entries whose key starts with `prefix`, after `start_after` (exclusive; "" = from the
  // first), at most `limit`, in key order.
  ledger::Result<std::vector<std::pair<std::string, Json>>> Scan(const std::string& prefix,
                                                                 const std::string& start_after,
                                                                 size_t limit) const;
  // The digest recorded when the projection's position became `position` (a batch
  // boundary); nullopt when no batch ended there.
  ledger::Result<std::optional<ledger::Sha256Digest>> DigestAt(ledger::Position position) const;
  // SHA-256 over every key and value in key order (len32-prefixed): DESIGN §7's form.
  ledger::Result<ledger::Sha256Digest> FullDigest() const;

  // The digest of a state with this sum and entry count (used by Commit; public for tests).
  static ledger::Sha256Digest DigestOf(const std::string& name, const ledger::Sha256Digest& sum, uint64_t entries);

 private:
  friend class StateTxn;
  ProjectionStore() = default;
  ledger::Result<std::optional<std::string>> GetRaw(const std::string& key) const;
  // Reads the stored bytes of the changed entries that Put set without reading them.
  ledger::Status ReadOriginals(const std::vector<std::pair<const std::string*, StateTxn::Entry*>>& changed) const;

  std::string name_;
  std::unique_ptr<rocksdb::DB> db_;
  std::vector<rocksdb::ColumnFamilyHandle*> cfs_;  // state, meta, digests
  bool write_ahead_log_ = true;
  uint32_t layout_version_ = 1;
  mutable std::mutex mu_;
  Progress progress_;              // GUARDED_BY(mu_)
  ledger::Sha256Digest sum_{};     // written only by Commit's thread
};

}  // namespace projections
