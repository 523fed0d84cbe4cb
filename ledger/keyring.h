// The keyring (DESIGN §12): each customer's random 256-bit data key, wrapped (AES-256-GCM)
// with the node's secrets key, in the `keyring` column family of the node's event store
// (EventStore::OpenKeyring), or in a RocksDB of its own (Open: tools, tests, the import of
// keyrings made before the family existed). Destroying a key (erasure) deletes it and then
// flushes and compacts, so that the wrapped bytes leave the disk, not only the index: in
// the event store every family is flushed, so that the write-ahead log that held the key
// becomes obsolete and is deleted. Keys are never logged. Thread-safe.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "ledger/seal.h"
#include "ledger/status.h"

namespace rocksdb {
class DB;
class ColumnFamilyHandle;
}  // namespace rocksdb

namespace ledger {

struct DataKey {
  uint64_t key_id = 0;  // random, never 0 (0 means "not sealed" in the envelope)
  SecretKey key{};
};

// One entry of the keyring as it is replicated (topic ledger.keyring, key = the key id):
// the wrapped key and whose it is, or a tombstone for a destroyed key. The wrapped bytes
// open only with the secrets key the nodes of a shard share.
struct KeyringRecord {
  uint64_t key_id = 0;
  bool tombstone = false;
  std::string merchant, customer;
  std::string wrapped;
};
std::string EncodeKeyringKey(uint64_t key_id);
std::string EncodeKeyringValue(const KeyringRecord& r);  // "" for a tombstone
// `value` null (a Kafka tombstone) decodes to a tombstone. Corruption on damage.
Result<KeyringRecord> DecodeKeyringRecord(std::string_view key, const std::string_view* value);

class Keyring {
 public:
  // Where new keys and tombstones go before they take effect here (the replication; see
  // ledger/kafka/keyring_replicator.h). Must be durable elsewhere when it returns OK: a key
  // that sealed an event must be readable by every node that may take over.
  using Replicate = std::function<Status(const KeyringRecord&)>;
  void SetReplication(Replicate replicate);
  // An entry from the replication (idempotent): a wrapped key is stored unless that key
  // was destroyed here; a tombstone destroys it.
  Status Apply(const KeyringRecord& record);

  // A keyring in a RocksDB of its own at `path` (created if missing). New keys are synced
  // before they are handed out.
  static Result<std::unique_ptr<Keyring>> Open(const std::string& path, const SecretKey& secrets_key);
  // For the event store only (EventStore::OpenKeyring): the keyring in `family` of `db`,
  // whose families are `all_families`. New keys are written unsynced: they precede, in the
  // one write-ahead log, every event sealed under them, and those events are synced.
  static std::unique_ptr<Keyring> InFamily(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family,
                                           std::vector<rocksdb::ColumnFamilyHandle*> all_families,
                                           const SecretKey& secrets_key);
  // Moves every key and tombstone of a keyring of its own at `path` (made before the
  // keyring moved into the event store) into this one, then deletes it. Nothing to do when
  // there is none.
  Status ImportFrom(const std::string& path, const SecretKey& secrets_key);
  ~Keyring();

  // The customer's data key, drawn on first use. Errors: InvalidArgument when the customer
  // was erased (a new key would let new personal data in under an erased identity);
  // IOError.
  Result<DataKey> KeyFor(const std::string& merchant, const std::string& customer);
  // The key id of a customer, if one was ever drawn (also after erasure).
  Result<std::optional<uint64_t>> KeyIdOf(const std::string& merchant, const std::string& customer) const;
  // The key for `key_id`: nullopt when this keyring never held it; NotFound when it was
  // destroyed (erased).
  Result<std::optional<SecretKey>> Get(uint64_t key_id) const;
  // Destroys the key for good (idempotent), and marks it erased; the tombstone is
  // replicated first.
  Status Destroy(uint64_t key_id);
  bool Destroyed(uint64_t key_id) const;
  // Destroys every key the customer ever had here (erasure), with one purge for all.
  // `destroyed`, when given, counts the keys destroyed now (not before).
  Status DestroyCustomer(const std::string& merchant, const std::string& customer, size_t* destroyed = nullptr);
  // Runs the purge a destruction still owes (it failed, or the node died before it ran):
  // flush and compaction, so destroyed keys' bytes leave the disk. Idempotent, cheap when
  // nothing is owed. Called by every destruction; the writer's erasure sweep calls it too.
  Status FinishPurge();
  // A stable pseudonym of `name` within `context` (a marketplace buyer's handle within a
  // merchant): 32 hex digits of HMAC-SHA256 under a key derived once from the secrets key
  // (the secrets key itself wraps data keys: one key, one algorithm), so every node of the
  // shard derives the same one and nobody without the secrets key can test guesses
  // against it. Used where an id would otherwise carry personal data.
  std::string Pseudonym(std::string_view context, std::string_view name) const;

  // Up to `limit` records with key ids above `after`, in key id order, as the replication
  // carries them (wrapped keys, and tombstones for destroyed ones): a standby's bootstrap.
  Result<std::vector<KeyringRecord>> Scan(uint64_t after, size_t limit) const;

 private:
  Keyring() = default;
  Status DestroyHere(uint64_t key_id);
  // The key deleted and marked erased, a purge marked owed (synced); no flush yet.
  Status Tombstone(uint64_t key_id);
  // The customer's key if one was drawn; InvalidArgument when it was destroyed.
  Result<std::optional<DataKey>> ExistingKey(const std::string& merchant, const std::string& customer) const;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger
