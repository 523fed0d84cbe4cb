#include "ledger/keyring.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <rocksdb/db.h>

#include <cstring>
#include <mutex>

#include "ledger/store_keys.h"

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

struct Keyring::Impl {
  std::unique_ptr<rocksdb::DB> db;
  SecretKey secrets{};
  std::mutex draw_mu;  // one draw at a time: a customer gets exactly one key

  ~Impl() { OPENSSL_cleanse(secrets.data(), secrets.size()); }

  Result<std::optional<std::string>> Read(const std::string& key) const {
    std::string v;
    rocksdb::Status s = db->Get(rocksdb::ReadOptions(), key, &v);
    if (s.IsNotFound()) return std::optional<std::string>();
    if (!s.ok()) return Status::IOError("cannot read the keyring: " + s.ToString());
    return std::optional<std::string>(std::move(v));
  }
};

Keyring::~Keyring() = default;

Result<std::unique_ptr<Keyring>> Keyring::Open(const std::string& path, const SecretKey& secrets_key) {
  std::unique_ptr<Keyring> k(new Keyring());
  k->impl_ = std::make_unique<Impl>();
  k->impl_->secrets = secrets_key;
  rocksdb::Options o;
  o.create_if_missing = true;
  o.WAL_ttl_seconds = 0;  // no archived write-ahead logs: a destroyed key must not linger there
  o.WAL_size_limit_MB = 0;
  o.recycle_log_file_num = 0;
  rocksdb::DB* db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(o, path, &db);
  if (!s.ok()) return Status::IOError("cannot open the keyring: " + s.ToString());
  k->impl_->db.reset(db);
  return k;
}

Result<DataKey> Keyring::KeyFor(const std::string& merchant, const std::string& customer) {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> lock(im.draw_mu);
  auto known = KeyIdOf(merchant, customer);
  if (!known.ok()) return known.status();
  if (known->has_value()) {
    auto key = Get(**known);
    if (!key.ok()) {
      if (key.status().code() == Code::kNotFound)
        return Status::InvalidArgument("this customer's personal data was erased");
      return key.status();
    }
    if (!key->has_value()) return Status::Corruption("the keyring names a key it does not hold");
    return DataKey{**known, **key};
  }
  DataKey d;
  while (d.key_id == 0)
    if (RAND_bytes(reinterpret_cast<unsigned char*>(&d.key_id), sizeof d.key_id) != 1)
      return Status::Unavailable("the random source failed");
  if (RAND_bytes(d.key.data(), static_cast<int>(d.key.size())) != 1) return Status::Unavailable("the random source failed");
  auto wrapped = Seal(im.secrets, std::string_view(reinterpret_cast<const char*>(d.key.data()), d.key.size()),
                      WrapAd(d.key_id));
  if (!wrapped.ok()) return wrapped.status();
  rocksdb::WriteBatch wb;
  wb.Put(KeyKey(d.key_id), *wrapped);
  std::string id;
  keys::PutBigEndian64(&id, d.key_id);
  wb.Put(CustomerKey(merchant, customer), id);
  rocksdb::WriteOptions wo;
  wo.sync = true;  // a key that sealed a durable event must itself be durable first
  rocksdb::Status s = im.db->Write(wo, &wb);
  if (!s.ok()) return Status::IOError("cannot store a data key: " + s.ToString());
  return d;
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

Status Keyring::Destroy(uint64_t key_id) {
  Impl& im = *impl_;
  rocksdb::WriteBatch wb;
  wb.Delete(KeyKey(key_id));
  wb.Put(ErasedKey(key_id), "");
  rocksdb::WriteOptions wo;
  wo.sync = true;
  rocksdb::Status s = im.db->Write(wo, &wb);
  if (!s.ok()) return Status::IOError("cannot destroy a data key: " + s.ToString());
  // The wrapped key still sits in the memtable's WAL and maybe an SST: flush, then rewrite
  // every file, so the old files (and their bytes) are deleted.
  rocksdb::FlushOptions fo;
  fo.wait = true;
  s = im.db->Flush(fo);
  if (s.ok()) {
    rocksdb::CompactRangeOptions co;
    co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForce;
    s = im.db->CompactRange(co, nullptr, nullptr);
  }
  if (!s.ok()) return Status::IOError("the key is destroyed but old keyring files remain: " + s.ToString());
  return Status::Ok();
}

}  // namespace ledger
