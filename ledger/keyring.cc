#include "ledger/keyring.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <rocksdb/db.h>

#include <array>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <mutex>
#include <tuple>

#include "ledger/file_sync.h"
#include "ledger/store_keys.h"
#include "ledger/types.h"

namespace ledger {

namespace {
std::string KeyKey(uint64_t id) {
  std::string k = "key/";
  keys::PutBigEndian64(&k, id);
  return k;
}
std::string ErasedKey(uint64_t id) {
  std::string k = "erased/";
  keys::PutBigEndian64(&k, id);
  return k;
}
// Present while a destroyed key's bytes may still sit in old files (a flush and compaction
// owed): written with the tombstone, removed once the purge is done, retried at open.
constexpr char kPurgePending[] = "purge-pending";

std::string CustomerKey(const std::string& merchant, const std::string& customer) {
  // Ids are validated upstream ([a-z0-9_] merchants, [A-Za-z0-9._:-] customers): '/' is unambiguous.
  return "customer/" + merchant + "/" + customer;
}
std::string WrapAd(uint64_t id) {
  std::string ad = "ledger keyring v1";
  keys::PutBigEndian64(&ad, id);
  return ad;
}
}  // namespace

std::string EncodeKeyringKey(uint64_t key_id) {
  std::string k;
  keys::PutBigEndian64(&k, key_id);
  return k;
}

std::string EncodeKeyringValue(const KeyringRecord& r) {
  if (r.tombstone) return "";
  std::string v;
  for (const std::string* s : {&r.merchant, &r.customer}) {
    v.push_back(static_cast<char>(s->size() >> 8));
    v.push_back(static_cast<char>(s->size() & 0xff));
    v.append(*s);
  }
  v.append(r.wrapped);
  return v;
}

Result<KeyringRecord> DecodeKeyringRecord(std::string_view key, const std::string_view* value) {
  if (key.size() != 8) return Status::Corruption("keyring record key is not a key id");
  KeyringRecord r;
  r.key_id = keys::GetBigEndian64(key);
  if (value == nullptr) {
    r.tombstone = true;
    return r;
  }
  std::string_view v = *value;
  for (std::string* s : {&r.merchant, &r.customer}) {
    if (v.size() < 2) return Status::Corruption("keyring record is damaged");
    const size_t n = (static_cast<uint8_t>(v[0]) << 8) | static_cast<uint8_t>(v[1]);
    if (v.size() < 2 + n) return Status::Corruption("keyring record is damaged");
    *s = std::string(v.substr(2, n));
    v.remove_prefix(2 + n);
  }
  if (v.size() != 32 + kSealOverheadBytes || r.merchant.empty() || r.customer.empty())
    return Status::Corruption("keyring record is damaged");
  r.wrapped = std::string(v);
  return r;
}

struct Keyring::Impl {
  std::unique_ptr<rocksdb::DB> owned_db;  // a keyring of its own
  rocksdb::DB* db = nullptr;
  rocksdb::ColumnFamilyHandle* family = nullptr;
  // In the event store: every family, flushed when a key is destroyed (see the header).
  std::vector<rocksdb::ColumnFamilyHandle*> all_families;
  bool in_event_store = false;
  SecretKey secrets{};
  // Draws are serialized per customer (a customer gets exactly one key), not globally: a
  // draw waits for the replication (a Kafka round trip), and one customer's wait must not
  // hold up every other registration. Striped by customer; two customers sharing a stripe
  // only wait for each other.
  static constexpr size_t kDrawStripes = 64;
  std::array<std::mutex, kDrawStripes> draw_mu;
  // Storing a wrapped key and destroying a key exclude each other, so a replicated key
  // arriving while its tombstone is applied never comes back to disk.
  std::mutex store_mu;
  std::mutex replicate_mu;
  Replicate replicate;  // GUARDED_BY(replicate_mu)

  Status Replicated(const KeyringRecord& r) {
    Replicate fn;
    {
      std::lock_guard<std::mutex> lock(replicate_mu);
      fn = replicate;
    }
    return fn ? fn(r) : Status::Ok();
  }

  Status StoreWrapped(uint64_t key_id, const std::string& wrapped, const std::string& merchant,
                      const std::string& customer, bool synced) {
    rocksdb::WriteBatch wb;
    wb.Put(family, KeyKey(key_id), wrapped);
    std::string id;
    keys::PutBigEndian64(&id, key_id);
    // The first key stays the customer's key; every key of theirs is listed, so that an
    // erasure destroys all of them (two nodes may each have drawn one across a failover).
    std::string existing;
    if (db->Get(rocksdb::ReadOptions(), family, CustomerKey(merchant, customer), &existing).IsNotFound())
      wb.Put(family, CustomerKey(merchant, customer), id);
    wb.Put(family, CustomerKey(merchant, customer) + "/" + id, "");
    rocksdb::WriteOptions wo;
    // A key that sealed a durable event must itself be durable first. In the event store
    // the key's write precedes the event's in the one write-ahead log, and the event's
    // write is synced; a replicated key (`synced`) is synced anyway, as it may arrive after
    // events a standby already holds.
    wo.sync = synced || !in_event_store;
    rocksdb::Status s = db->Write(wo, &wb);
    if (!s.ok()) return Status::IOError("cannot store a data key: " + s.ToString());
    return Status::Ok();
  }

  // Flushes (every family, in the event store: the write-ahead log that held a destroyed
  // key is then obsolete and deleted) and rewrites the keyring's files, so destroyed keys'
  // bytes leave the disk; then clears the pending mark.
  // One purge at a time. The mark holds a random value per tombstone: a purge clears it
  // only if no tombstone came after the purge began (whose bytes its flush may have
  // missed); that tombstone's own purge then runs.
  std::mutex purge_mu;

  Status Purge() {
    std::lock_guard<std::mutex> purge_lock(purge_mu);
    std::string mark;
    {
      std::lock_guard<std::mutex> lock(store_mu);
      if (!db->Get(rocksdb::ReadOptions(), family, kPurgePending, &mark).ok()) return Status::Ok();  // done meanwhile
    }
    rocksdb::FlushOptions fo;
    fo.wait = true;
    rocksdb::Status s = db->Flush(fo, all_families);
    if (s.ok()) {
      rocksdb::CompactRangeOptions co;
      co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
      s = db->CompactRange(co, family, nullptr, nullptr);
    }
    if (s.ok()) {
      std::lock_guard<std::mutex> lock(store_mu);
      std::string now;
      if (db->Get(rocksdb::ReadOptions(), family, kPurgePending, &now).ok() && now == mark) {
        rocksdb::WriteOptions wo;
        wo.sync = true;
        s = db->Delete(wo, family, kPurgePending);
      }
    }
    if (!s.ok()) return Status::IOError("the key is destroyed but old keyring files remain: " + s.ToString());
    return Status::Ok();
  }

  bool PurgePending() const {
    std::string v;
    return db->Get(rocksdb::ReadOptions(), family, kPurgePending, &v).ok();
  }

  // The secrets key, and the pseudonyms' own key derived from it once (the secrets key also
  // wraps data keys with AES-GCM: one key, one algorithm).
  SecretKey pseudonym_key{};
  void SetSecrets(const SecretKey& key) {
    secrets = key;
    Sha256DigestBytes derived = HmacSha256(secrets, "ledger pseudonym key v1");
    std::memcpy(pseudonym_key.data(), derived.data(), pseudonym_key.size());
    OPENSSL_cleanse(derived.data(), derived.size());
  }

  ~Impl() {
    OPENSSL_cleanse(secrets.data(), secrets.size());
    OPENSSL_cleanse(pseudonym_key.data(), pseudonym_key.size());
  }

  Result<std::optional<std::string>> Read(const std::string& key) const {
    std::string v;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), family, key, &v);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return Status::IOError("cannot read the keyring: " + s.ToString());
    return std::optional<std::string>(std::move(v));
  }
};

Keyring::~Keyring() = default;

Result<std::unique_ptr<Keyring>> Keyring::Open(const std::string& path, const SecretKey& secrets_key) {
  std::unique_ptr<Keyring> k(new Keyring());
  k->impl_ = std::make_unique<Impl>();
  k->impl_->SetSecrets(secrets_key);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.WAL_ttl_seconds = 0;  // no archived write-ahead logs: a destroyed key must not linger there
  o.WAL_size_limit_MB = 0;
  o.recycle_log_file_num = 0;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, path, &db);
  if (!s.ok()) return Status::IOError("cannot open the keyring: " + s.ToString());
  k->impl_->owned_db.reset(db);
  k->impl_->db = db;
  k->impl_->family = db->DefaultColumnFamily();
  k->impl_->all_families = {k->impl_->family};
  if (k->impl_->PurgePending()) LEDGER_RETURN_IF_ERROR(k->impl_->Purge());  // owed by a run that died
  return k;
}

std::unique_ptr<Keyring> Keyring::InFamily(rocksdb::DB* db, rocksdb::ColumnFamilyHandle* family,
                                           std::vector<rocksdb::ColumnFamilyHandle*> all_families,
                                           const SecretKey& secrets_key) {
  std::unique_ptr<Keyring> k(new Keyring());
  k->impl_ = std::make_unique<Impl>();
  k->impl_->SetSecrets(secrets_key);
  k->impl_->db = db;
  k->impl_->family = family;
  k->impl_->all_families = std::move(all_families);
  k->impl_->in_event_store = true;
  // A purge owed by a run that died is retried at the next destruction or start of a
  // sweep (Keyring::FinishPurge), not here: opening must not fail on it.
  return k;
}

Status Keyring::FinishPurge() {
  if (!impl_->PurgePending()) return Status::Ok();
  return impl_->Purge();
}

Status Keyring::ImportFrom(const std::string& path, const SecretKey& secrets_key) {
  namespace fs = std::filesystem;
  std::error_code ec;
  // A deletion cut short by a crash left this behind, already imported.
  const fs::path retired = fs::path(path).string() + ".imported";
  fs::remove_all(retired, ec);
  if (!fs::exists(path, ec)) return Status::Ok();
  {
    auto old = Open(path, secrets_key);
    if (!old.ok()) return old.status();
    // Every entry as it is (keys, tombstones, every customer's list of keys): one synced
    // batch, so nothing is half imported and no owner is lost.
    rocksdb::WriteBatch wb;
    Impl& from = *(*old)->impl_;
    std::unique_ptr<rocksdb::Iterator> it(from.db->NewIterator(rocksdb::ReadOptions(), from.family));
    for (it->SeekToFirst(); it->Valid(); it->Next())
      if (it->key().ToStringView() != kPurgePending) wb.Put(impl_->family, it->key(), it->value());
    if (!it->status().ok()) return Status::IOError("cannot read the old keyring: " + it->status().ToString());
    it.reset();
    std::lock_guard<std::mutex> lock(impl_->store_mu);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::Status s = impl_->db->Write(wo, &wb);
    if (!s.ok()) return Status::IOError("cannot import the old keyring: " + s.ToString());
  }
  // Renamed first (atomic, synced), then deleted: a crash in between never leaves a
  // half-deleted RocksDB that the next start would fail to open.
  fs::rename(path, retired, ec);
  if (ec) return Status::IOError("the old keyring was imported but cannot be moved aside: " + ec.message());
  SyncParentDirectory(retired);
  fs::remove_all(retired, ec);
  if (ec) return Status::IOError("the old keyring was imported but cannot be deleted: " + ec.message());
  return Status::Ok();
}

Result<DataKey> Keyring::KeyFor(const std::string& merchant, const std::string& customer) {
  Impl& im = *impl_;
  // A customer's key once drawn: no lock (the common case, every later request of theirs).
  auto existing = ExistingKey(merchant, customer);
  if (!existing.ok() || existing->has_value()) {
    if (!existing.ok()) return existing.status();
    return **existing;
  }
  const std::string customer_key = CustomerKey(merchant, customer);
  std::lock_guard<std::mutex> lock(im.draw_mu[std::hash<std::string>{}(customer_key) % Impl::kDrawStripes]);
  existing = ExistingKey(merchant, customer);  // drawn meanwhile by another request
  if (!existing.ok()) return existing.status();
  if (existing->has_value()) return **existing;
  DataKey d;
  while (d.key_id == 0)
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&d.key_id), sizeof d.key_id) != 1)
      return Status::Unavailable("the random source failed");
  if (RAND_bytes(d.key.data(), static_cast<int>(d.key.size())) != 1) return Status::Unavailable("the random source failed");
  auto wrapped = Seal(im.secrets, std::string_view(reinterpret_cast<const char*>(d.key.data()), d.key.size()),
                      WrapAd(d.key_id));
  if (!wrapped.ok()) return wrapped.status();
  // Replicated first: no event is sealed under a key a standby could not have.
  LEDGER_RETURN_IF_ERROR(im.Replicated(KeyringRecord{d.key_id, false, merchant, customer, *wrapped}));
  std::lock_guard<std::mutex> store_lock(im.store_mu);
  LEDGER_RETURN_IF_ERROR(im.StoreWrapped(d.key_id, *wrapped, merchant, customer, /*synced=*/false));
  return d;
}

Result<std::optional<DataKey>> Keyring::ExistingKey(const std::string& merchant, const std::string& customer) const {
  auto known = KeyIdOf(merchant, customer);
  if (!known.ok()) return known.status();
  if (!known->has_value()) return std::optional<DataKey>();
  auto key = Get(**known);
  if (!key.ok()) {
    if (key.status().code() == Code::kNotFound)
      return Status::InvalidArgument("this customer's personal data was erased");
    return key.status();
  }
  if (!key->has_value()) return Status::Corruption("the keyring names a key it does not hold");
  return std::optional<DataKey>(DataKey{**known, **key});
}

std::string Keyring::Pseudonym(std::string_view context, std::string_view name) const {
  std::string message(context);
  message.push_back('\n');
  message.append(name);
  const Sha256DigestBytes mac = HmacSha256(impl_->pseudonym_key, message);
  OPENSSL_cleanse(message.data(), message.size());
  return ToHex(std::string_view(reinterpret_cast<const char*>(mac.data()), 16));
}

void Keyring::SetReplication(Replicate replicate) {
  std::lock_guard<std::mutex> lock(impl_->replicate_mu);
  impl_->replicate = std::move(replicate);
}

Status Keyring::Apply(const KeyringRecord& r) {
  if (r.tombstone) return DestroyHere(r.key_id);
  std::lock_guard<std::mutex> lock(impl_->store_mu);  // against a DestroyHere in between
  if (Destroyed(r.key_id)) return Status::Ok();  // erased here already: never back
  return impl_->StoreWrapped(r.key_id, r.wrapped, r.merchant, r.customer, /*synced=*/true);
}

Result<std::optional<uint64_t>> Keyring::KeyIdOf(const std::string& merchant, const std::string& customer) const {
  auto v = impl_->Read(CustomerKey(merchant, customer));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<uint64_t>();
  if ((*v)->size() != 8) return Status::Corruption("keyring entry is damaged");
  return std::optional<uint64_t>(keys::GetBigEndian64(**v));
}

Result<std::optional<SecretKey>> Keyring::Get(uint64_t key_id) const {
  if (Destroyed(key_id)) return Status::NotFound("the key was destroyed");
  auto v = impl_->Read(KeyKey(key_id));
  if (!v.ok()) return v.status();
  if (!v->has_value()) return std::optional<SecretKey>();
  auto key = Unseal(impl_->secrets, **v, WrapAd(key_id));
  if (!key.ok() || key->size() != 32) return Status::Corruption("a wrapped data key does not open with this node's secrets key");
  SecretKey out{};
  std::memcpy(out.data(), key->data(), 32);
  OPENSSL_cleanse(key->data(), key->size());
  return std::optional<SecretKey>(out);
}

bool Keyring::Destroyed(uint64_t key_id) const {
  auto v = impl_->Read(ErasedKey(key_id));
  return v.ok() && v->has_value();
}

Status Keyring::DestroyCustomer(const std::string& merchant, const std::string& customer, size_t* destroyed) {
  std::vector<uint64_t> ids;
  {
    const std::string prefix = CustomerKey(merchant, customer) + "/";
    std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->family));
    for (it->Seek(prefix); it->Valid() && it->key().starts_with(prefix); it->Next()) {
      const std::string_view id = it->key().ToStringView().substr(prefix.size());
      if (id.size() == 8) ids.push_back(keys::GetBigEndian64(id));
    }
    if (!it->status().ok()) return Status::IOError("cannot read the keyring: " + it->status().ToString());
  }
  // Every key's tombstone first (replicated, then here), then one purge for all of them.
  for (uint64_t id : ids) {
    if (Destroyed(id)) continue;  // done already: no second tombstone
    LEDGER_RETURN_IF_ERROR(impl_->Replicated(KeyringRecord{id, true, "", "", ""}));
    LEDGER_RETURN_IF_ERROR(Tombstone(id));
    if (destroyed != nullptr) ++*destroyed;
  }
  return FinishPurge();
}

Status Keyring::Destroy(uint64_t key_id) {
  LEDGER_RETURN_IF_ERROR(impl_->Replicated(KeyringRecord{key_id, true, "", "", ""}));
  return DestroyHere(key_id);
}

Status Keyring::DestroyHere(uint64_t key_id) {
  LEDGER_RETURN_IF_ERROR(Tombstone(key_id));
  // Outside the lock: the flush and compaction take a while, and draws need not wait. Also
  // for a tombstone seen before: a purge that failed or died is done now.
  return FinishPurge();
}

Status Keyring::Tombstone(uint64_t key_id) {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> lock(im.store_mu);
  // Replayed tombstones (every start reads the topic again) write nothing once done.
  if (Destroyed(key_id)) {
    auto still = im.Read(KeyKey(key_id));
    if (still.ok() && !still->has_value()) return Status::Ok();
  }
  rocksdb::WriteBatch wb;
  wb.Delete(im.family, KeyKey(key_id));
  wb.Put(im.family, ErasedKey(key_id), "");
  // The key's bytes may still sit in old files: a purge is owed (see Impl::Purge).
  unsigned char mark[8];
  if (RAND_bytes(mark, sizeof mark) != 1) return Status::Unavailable("the random source failed");
  wb.Put(im.family, kPurgePending, rocksdb::Slice(reinterpret_cast<const char*>(mark), sizeof mark));
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = im.db->Write(wo, &wb);
  if (!s.ok()) return Status::IOError("cannot destroy a data key: " + s.ToString());
  return Status::Ok();
}

Result<std::vector<KeyringRecord>> Keyring::Scan(uint64_t after, size_t limit) const {
  // Keys and tombstones live under two prefixes; merge them by key id.
  std::map<uint64_t, KeyringRecord> found;
  std::map<uint64_t, std::pair<std::string, std::string>> owners;  // key id -> merchant, customer
  std::unique_ptr<rocksdb::Iterator> it(impl_->db->NewIterator(rocksdb::ReadOptions(), impl_->family));
  for (it->Seek("customer/"); it->Valid() && it->key().starts_with("customer/"); it->Next()) {
    if (it->value().empty()) continue;  // a customer's list of keys (the owners come from the mapping)
    if (it->value().size() != 8) return Status::Corruption("keyring entry is damaged");
    const std::string rest = it->key().ToString().substr(9);
    const size_t slash = rest.find('/');
    if (slash == std::string::npos) return Status::Corruption("keyring entry is damaged");
    owners[keys::GetBigEndian64(it->value().ToStringView())] = {rest.substr(0, slash), rest.substr(slash + 1)};
  }
  for (const char* prefix : {"key/", "erased/"}) {
    const bool erased = prefix[0] == 'e';
    std::string from = prefix;
    keys::PutBigEndian64(&from, after + 1);
    for (it->Seek(after == UINT64_MAX ? std::string(prefix) + "\xff" : from); it->Valid() && it->key().starts_with(prefix);
         it->Next()) {
      const std::string_view k = it->key().ToStringView().substr(std::strlen(prefix));
      if (k.size() != 8) return Status::Corruption("keyring entry is damaged");
      const uint64_t id = keys::GetBigEndian64(k);
      KeyringRecord r{id, erased, "", "", erased ? "" : it->value().ToString()};
      if (auto o = owners.find(id); o != owners.end()) std::tie(r.merchant, r.customer) = o->second;
      found[id] = std::move(r);  // a tombstone wins over a stale key
      if (found.size() > limit) found.erase(std::prev(found.end()));
    }
  }
  if (!it->status().ok()) return Status::IOError("cannot read the keyring: " + it->status().ToString());
  std::vector<KeyringRecord> out;
  for (auto& [id, r] : found) out.push_back(std::move(r));
  return out;
}

}  // namespace ledger
