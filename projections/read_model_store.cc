#include "projections/read_model_store.h"

#include <charconv>
#include <openssl/evp.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <cstring>

#include "ledger/chain_hash.h"
#include "ledger/store_keys.h"
#include "projections/msgpack_reader.h"
#include "projections/msgpack_writer.h"

namespace projections {

using ledger::Position;
using ledger::Result;
using ledger::Sha256Digest;
using ledger::Status;

namespace {
enum Family { kState = 0, kMeta = 1, kDigests = 2 };
const char* const kFamilyNames[] = {"default", "meta", "digests"};
constexpr std::string_view kMetaFormat = "format";
constexpr std::string_view kMetaLayout = "layout";  // decimal; absent: 1
constexpr std::string_view kMetaProgress = "progress";  // pos(8) || offset(8) || sum(32) || entries(8)
constexpr std::string_view kDigestDomain = "ledger projection state v1";
constexpr size_t kStateMemtableBytes = 16 << 20;
// Level 1's size and the size of the tables below it (RocksDB's defaults: 256 and 64 MiB).
// A read model's keys spread over its whole key space, so while level 1 holds everything
// (as it does up to 256 MiB), every flush's compaction rewrites all of it: compaction work
// per flush grew with the store, took most of a core at 10M events, and held big tables'
// buffers. With 32 MiB and 8 MiB tables the data moves down to deeper levels and each
// compaction touches a few small tables (10M events: customers 120k -> 140-158k events/s
// and 177 -> 118 MiB peak RSS; all five 75k -> 86k, 251 -> 209 MiB; 1M unchanged).
constexpr uint64_t kStateLevel1Bytes = 32 << 20;
constexpr uint64_t kStateTableFileBytes = 8 << 20;

std::string FormatValue(const std::string& name) { return "commerce-ledger projection v1 " + name; }

// Values are stored as MessagePack: the same JSON values (integers exact, object keys
// sorted), several times faster to write and read than JSON text. Deterministic.
// (Written by EncodeEntry, below.)
Json DecodeValue(std::string_view bytes) { return ReadMsgpack(bytes); }

// A big-endian 32-bit length at `at`.
void SetLen32(char* at, size_t n) {
  const uint32_t v = static_cast<uint32_t>(n);
  for (int i = 0; i < 4; ++i) at[i] = static_cast<char>((v >> (8 * (3 - i))) & 0xff);
}
void PutLen32(std::string* out, size_t n) {
  out->append(4, '\0');
  SetLen32(out->data() + out->size() - 4, n);
}

// An entry, the term the set hash adds for one key, is len32 key || key || len32 value ||
// value. Starts one in *entry (reused from entry to entry).
void BeginEntry(std::string_view key, std::string* entry) {
  entry->clear();
  PutLen32(entry, key.size());
  entry->append(key);
}

// SHA-256 of the entry of stored bytes `value`.
Sha256Digest EntryHash(std::string_view key, std::string_view value, std::string* scratch) {
  BeginEntry(key, scratch);
  PutLen32(scratch, value.size());
  scratch->append(value);
  return ledger::Sha256Of(*scratch);
}

// Encodes `value` straight into its entry and returns the value's bytes within it: the
// entry is hashed and the value stored with no other copy.
// `append_value(std::string*)` appends the value's MessagePack.
template <typename AppendValue>
std::string_view EncodeEntry(std::string_view key, const AppendValue& append_value, std::string* entry) {
  BeginEntry(key, entry);
  const size_t length_at = entry->size();
  PutLen32(entry, 0);  // set once the value's length is known
  append_value(entry);
  SetLen32(entry->data() + length_at, entry->size() - length_at - 4);
  return std::string_view(*entry).substr(length_at + 4);
}

// sum += sign * h (mod 2^256), both as 32-byte big-endian numbers.
void AddMod256(Sha256Digest* sum, const Sha256Digest& h, bool subtract) {
  int carry = 0;
  for (int i = 31; i >= 0; --i) {
    int v = subtract ? int((*sum)[i]) - int(h[i]) - carry : int((*sum)[i]) + int(h[i]) + carry;
    carry = subtract ? (v < 0 ? 1 : 0) : (v > 255 ? 1 : 0);
    (*sum)[i] = static_cast<uint8_t>(v & 0xff);
  }
}

std::string ProgressValue(const Progress& p, const Sha256Digest& sum) {
  std::string v;
  ledger::keys::PutBigEndian64(&v, p.position.value());
  ledger::keys::PutBigEndian64(&v, static_cast<uint64_t>(p.kafka_offset));
  v.append(reinterpret_cast<const char*>(sum.data()), sum.size());
  ledger::keys::PutBigEndian64(&v, p.entries);
  return v;
}

// Empties a value's objects and arrays bottom-up, so that its destructor has nothing left
// to walk. nlohmann's destructor moves the children of every object and array into a heap
// stack before freeing them (so that no depth can overflow the call stack); for the small,
// shallow values of a read model that stack was most of the cost of freeing a long span's
// values. Deeper than `depth_left` is left to that destructor.
void Dismantle(Json& v, int depth_left) {
  if (depth_left == 0) return;
  if (v.is_object()) {
    Json::object_t& fields = v.get_ref<Json::object_t&>();
    for (auto& [name, child] : fields)
      if (child.is_structured()) Dismantle(child, depth_left - 1);
    fields.clear();
  } else if (v.is_array()) {
    Json::array_t& items = v.get_ref<Json::array_t&>();
    for (Json& child : items)
      if (child.is_structured()) Dismantle(child, depth_left - 1);
    items.clear();
  }
}
constexpr int kDismantleDepthMax = 16;

}  // namespace

// ---- StateTxn ----

StateTxn::~StateTxn() {
  for (auto& [key, e] : entries_) Dismantle(e.value, kDismantleDepthMax);
}

StateTxn::Entry& StateTxn::Load(const std::string& key, bool as_record) {
  LEDGER_INVARIANT(!committed_);
  auto [it, added] = entries_.try_emplace(key);  // one hash and probe for a hit or a miss
  Entry& e = it->second;
  if (!added) {
    if (e.as_record == as_record) return e;
    // Asked for in the other form: converted in place.
    if (as_record) {
      if (!Record::FromJson(e.value, &e.record)) Fail(Status::Corruption("read model value is not a record"));
      e.value = nullptr;
    } else {
      e.value = e.record.ToJson();
      e.record.Clear();
    }
    e.as_record = as_record;
    return e;
  }
  e.as_record = as_record;
  auto raw = store_->GetRaw(key);
  if (!raw.ok()) {
    Fail(raw.status());
  } else if (raw->has_value()) {
    e.original = std::move(**raw);
    if (as_record) {
      if (!Record::FromMsgpack(*e.original, &e.record))
        Fail(Status::Corruption("read model value is damaged or not a record"));
    } else {
      e.value = DecodeValue(*e.original);
      if (e.value.is_discarded()) {
        Fail(Status::Corruption("read model value is damaged"));
        e.value = nullptr;
      }
    }
  }
  return e;
}

StateTxn::Entry& StateTxn::Set(const std::string& key, bool as_record) {
  LEDGER_INVARIANT(!committed_);
  auto [it, added] = entries_.try_emplace(key);
  Entry& e = it->second;
  if (added) e.original_read = false;
  e.as_record = as_record;
  e.value = nullptr;
  e.record.Clear();
  e.dirty = true;
  return e;
}

const Json& StateTxn::Get(const std::string& key) { return Load(key, /*as_record=*/false).value; }

Json& StateTxn::Put(const std::string& key, Json value) {
  Entry& e = Set(key, /*as_record=*/false);
  e.value = std::move(value);
  return e.value;
}

Json& StateTxn::Mutable(const std::string& key) {
  Entry& e = Load(key, /*as_record=*/false);
  e.dirty = true;
  return e.value;
}

const Record& StateTxn::GetRecord(const std::string& key) { return Load(key, /*as_record=*/true).record; }

Record& StateTxn::MutableRecord(const std::string& key) {
  Entry& e = Load(key, /*as_record=*/true);
  e.dirty = true;
  return e.record;
}

Record& StateTxn::PutRecord(const std::string& key) {
  Entry& e = Set(key, /*as_record=*/true);
  e.record.MakeObject();
  return e.record;
}

// ---- ProjectionStore ----

ProjectionStore::~ProjectionStore() {
  for (auto* h : cfs_) db_->DestroyColumnFamilyHandle(h);
  cfs_.clear();
  if (db_) db_->Close();
}

Result<std::unique_ptr<ProjectionStore>> ProjectionStore::Open(const std::string& path, const std::string& name,
                                                               StoreAccess access, uint32_t layout_version) {
  const bool read_only = access == StoreAccess::kReadOnly;
  rocksdb::DBOptions db_options;
  // Without the log, only flushes make commits durable: they must cut every family at the
  // same commit, or a crash could leave the state of one position with the progress of
  // another.
  db_options.atomic_flush = access == StoreAccess::kWriteUnlogged;
  db_options.create_if_missing = !read_only;
  db_options.create_missing_column_families = !read_only;
  db_options.paranoid_checks = true;
  std::vector<std::string> existing;
  const bool exists = rocksdb::DB::ListColumnFamilies(db_options, path, &existing).ok();
  if (read_only && !exists) return Status::NotFound("no projection store at " + path);
  if (exists) {
    for (const char* want : kFamilyNames)
      if (std::find(existing.begin(), existing.end(), want) == existing.end())
        return Status::NotALedgerStore("not a projection store: no '" + std::string(want) + "' column family");
  }
  // Most keys a batch touches are new (an order, a capture): bloom filters in the memtable
  // and the tables let those lookups miss without searching.
  rocksdb::ColumnFamilyOptions state_options;
  state_options.memtable_whole_key_filtering = true;
  state_options.memtable_prefix_bloom_size_ratio = 0.1;
  // A read model's memtable is most of a rebuild's memory; past 16 MiB a larger one made
  // no rebuild faster (300k and 3M events), only the process bigger (3M, all five read
  // models: 347 MiB peak with RocksDB's 64 MiB, 208 MiB with 16).
  state_options.write_buffer_size = kStateMemtableBytes;
  state_options.max_bytes_for_level_base = kStateLevel1Bytes;
  state_options.target_file_size_base = kStateTableFileBytes;
  rocksdb::BlockBasedTableOptions table;
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  state_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const char* n : kFamilyNames)
    descriptors.emplace_back(n, std::string(n) == "default" ? state_options : rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  // Read-only takes no lock: it may read a live projector's store (a snapshot as of opening).
  rocksdb::Status s = read_only ? rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, &handles, &raw)
                                : rocksdb::DB::Open(db_options, path, descriptors, &handles, &raw);
  if (!s.ok()) {
    if (s.IsCorruption()) return Status::Corruption("projection store: " + s.ToString());
    return Status::IOError("cannot open projection store: " + s.ToString());
  }
  std::unique_ptr<ProjectionStore> store(new ProjectionStore());
  store->db_.reset(raw);
  store->cfs_ = handles;
  store->name_ = name;
  store->write_ahead_log_ = access != StoreAccess::kWriteUnlogged;

  std::string format;
  s = raw->Get(rocksdb::ReadOptions(), handles[kMeta], kMetaFormat, &format);
  if (s.IsNotFound()) {
    if (exists) return Status::NotALedgerStore("projection store has no format marker");
    rocksdb::WriteOptions wo;
    wo.sync = true;
    rocksdb::WriteBatch marks;
    marks.Put(handles[kMeta], kMetaFormat, FormatValue(name));
    marks.Put(handles[kMeta], kMetaLayout, std::to_string(layout_version));
    s = raw->Write(wo, &marks);
    if (!s.ok()) return Status::IOError("cannot initialise projection store: " + s.ToString());
    store->layout_version_ = layout_version;
  } else if (!s.ok()) {
    return Status::IOError("cannot read projection store: " + s.ToString());
  } else if (format != FormatValue(name)) {
    return Status::NotALedgerStore("directory holds another read model, not '" + name + "'");
  } else {
    std::string layout;
    s = raw->Get(rocksdb::ReadOptions(), handles[kMeta], kMetaLayout, &layout);
    if (s.ok()) {
      uint32_t v = 0;
      const auto [end, ec] = std::from_chars(layout.data(), layout.data() + layout.size(), v);
      if (ec != std::errc() || end != layout.data() + layout.size() || v == 0)
        return Status::Corruption("projection layout record is damaged");
      store->layout_version_ = v;
    } else if (!s.IsNotFound()) {
      return Status::IOError("cannot read projection layout: " + s.ToString());
    }
  }

  std::string progress;
  s = raw->Get(rocksdb::ReadOptions(), handles[kMeta], kMetaProgress, &progress);
  if (s.ok()) {
    if (progress.size() != 56) return Status::Corruption("projection progress record is damaged");
    store->progress_.position = Position(ledger::keys::GetBigEndian64(progress));
    store->progress_.kafka_offset = static_cast<int64_t>(ledger::keys::GetBigEndian64(progress.substr(8)));
    std::memcpy(store->sum_.data(), progress.data() + 16, 32);
    store->progress_.entries = ledger::keys::GetBigEndian64(progress.substr(48));
  } else if (!s.IsNotFound()) {
    return Status::IOError("cannot read projection progress: " + s.ToString());
  }
  store->progress_.digest = DigestOf(name, store->sum_, store->progress_.entries);
  return store;
}

Progress ProjectionStore::progress() const {
  std::lock_guard<std::mutex> lock(mu_);
  return progress_;
}

Sha256Digest ProjectionStore::DigestOf(const std::string& name, const Sha256Digest& sum, uint64_t entries) {
  std::string buf(kDigestDomain);
  PutLen32(&buf, name.size());
  buf.append(name);
  buf.append(reinterpret_cast<const char*>(sum.data()), sum.size());
  ledger::keys::PutBigEndian64(&buf, entries);
  return ledger::Sha256Of(buf);
}

Status ProjectionStore::Commit(StateTxn& txn, Position position, int64_t kafka_offset) {
  LEDGER_INVARIANT(!txn.committed_);
  LEDGER_RETURN_IF_ERROR(txn.status());
  const Progress before = progress();
  LEDGER_INVARIANT(position > before.position || (position == before.position && txn.entries_.empty()));
  rocksdb::WriteBatch wb;
  Sha256Digest sum = sum_;
  uint64_t entries = before.entries;
  // Key order: the memtable inserts a sorted WriteBatch faster (and it reads better).
  std::vector<std::pair<const std::string*, StateTxn::Entry*>> changed;
  changed.reserve(txn.entries_.size());
  for (auto& [key, e] : txn.entries_)
    if (e.dirty) changed.emplace_back(&key, &e);
  std::sort(changed.begin(), changed.end(), [](const auto& a, const auto& b) { return *a.first < *b.first; });
  LEDGER_RETURN_IF_ERROR(ReadOriginals(changed));
  std::string entry, scratch;  // reused from key to key
  for (auto [key_ptr, entry_ptr] : changed) {
    const std::string& key = *key_ptr;
    StateTxn::Entry& e = *entry_ptr;
    std::optional<std::string_view> now;
    if (e.as_record && !e.record.is_null())
      now = EncodeEntry(key, [&](std::string* out) { e.record.AppendMsgpack(out); }, &entry);
    else if (!e.as_record && !e.value.is_null())
      now = EncodeEntry(key, [&](std::string* out) { AppendMsgpack(e.value, out); }, &entry);
    if (!now && !e.original) continue;
    if (now && e.original && *now == *e.original) continue;
    if (e.original) {
      AddMod256(&sum, EntryHash(key, *e.original, &scratch), /*subtract=*/true);
      --entries;
    }
    if (now) {
      AddMod256(&sum, ledger::Sha256Of(entry), /*subtract=*/false);
      ++entries;
      wb.Put(cfs_[kState], key, *now);
    } else {
      wb.Delete(cfs_[kState], key);
    }
  }
  Progress after{position, kafka_offset, DigestOf(name_, sum, entries), entries};
  wb.Put(cfs_[kMeta], kMetaProgress, ProgressValue(after, sum));
  std::string digest_key;
  ledger::keys::PutBigEndian64(&digest_key, position.value());
  wb.Put(cfs_[kDigests], digest_key,
         std::string_view(reinterpret_cast<const char*>(after.digest.data()), after.digest.size()));
  // Not synced: the WAL (unlogged: the atomic flushes) keeps the WriteBatch whole, and a
  // batch lost with the page cache only sends the projector back to an earlier position
  // it will re-apply from the log.
  rocksdb::WriteOptions write_options;
  write_options.disableWAL = !write_ahead_log_;
  rocksdb::Status s = db_->Write(write_options, &wb);
  if (!s.ok()) return Status::IOError("cannot write projection batch: " + s.ToString());
  sum_ = sum;
  {
    std::lock_guard<std::mutex> lock(mu_);
    progress_ = after;
  }
  txn.committed_ = true;  // its values are freed with it (by the caller, maybe elsewhere)
  return Status::Ok();
}

Status ProjectionStore::Flush() {
  rocksdb::FlushOptions options;
  options.wait = true;
  rocksdb::Status s = db_->Flush(options, cfs_);
  if (!s.ok()) return Status::IOError("cannot flush projection store: " + s.ToString());
  return Status::Ok();
}

Status ProjectionStore::ReadOriginals(const std::vector<std::pair<const std::string*, StateTxn::Entry*>>& changed) const {
  std::vector<rocksdb::Slice> keys;
  std::vector<StateTxn::Entry*> unread;
  for (auto [key, e] : changed) {
    if (e->original_read) continue;
    keys.emplace_back(*key);
    unread.push_back(e);
  }
  if (keys.empty()) return Status::Ok();
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  // One call for all of them, in key order: RocksDB probes each level's filters and reads
  // its blocks for the whole set at once, cheaper than a lookup per key.
  db_->MultiGet(rocksdb::ReadOptions(), cfs_[kState], keys.size(), keys.data(), values.data(), statuses.data(),
                /*sorted_input=*/true);
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].ok()) {
      unread[i]->original = values[i].ToString();
    } else if (!statuses[i].IsNotFound()) {
      return Status::IOError("cannot read projection state: " + statuses[i].ToString());
    }
    unread[i]->original_read = true;
  }
  return Status::Ok();
}

Result<std::optional<std::string>> ProjectionStore::GetRaw(const std::string& key) const {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cfs_[kState], key, &value);
  if (s.IsNotFound()) return std::optional<std::string>();
  if (!s.ok()) return Status::IOError("cannot read projection state: " + s.ToString());
  return std::optional<std::string>(std::move(value));
}

Result<std::optional<Json>> ProjectionStore::Get(const std::string& key) const {
  auto raw = GetRaw(key);
  if (!raw.ok()) return raw.status();
  if (!raw->has_value()) return std::optional<Json>();
  Json j = DecodeValue(**raw);
  if (j.is_discarded()) return Status::Corruption("read model value is damaged");
  return std::optional<Json>(std::move(j));
}

Result<std::vector<std::pair<std::string, Json>>> ProjectionStore::Scan(const std::string& prefix,
                                                                        const std::string& start_after,
                                                                        size_t limit) const {
  std::vector<std::pair<std::string, Json>> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cfs_[kState]));
  const std::string start = start_after.empty() ? prefix : start_after;
  for (it->Seek(start); it->Valid() && out.size() < limit; it->Next()) {
    std::string_view key = it->key().ToStringView();
    if (key.substr(0, prefix.size()) != prefix) break;
    if (!start_after.empty() && key == start_after) continue;
    Json j = DecodeValue(it->value().ToStringView());
    if (j.is_discarded()) return Status::Corruption("read model value is damaged");
    out.emplace_back(std::string(key), std::move(j));
  }
  if (!it->status().ok()) return Status::IOError("cannot scan projection state: " + it->status().ToString());
  return out;
}

Result<std::optional<Sha256Digest>> ProjectionStore::DigestAt(Position position) const {
  std::string key, value;
  ledger::keys::PutBigEndian64(&key, position.value());
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cfs_[kDigests], key, &value);
  if (s.IsNotFound()) return std::optional<Sha256Digest>();
  if (!s.ok() || value.size() != 32) return Status::IOError("cannot read a recorded digest: " + s.ToString());
  Sha256Digest d;
  std::memcpy(d.data(), value.data(), 32);
  return std::optional<Sha256Digest>(d);
}

Result<Sha256Digest> ProjectionStore::FullDigest() const {
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), &EVP_MD_CTX_free);
  if (!ctx || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) return Status::IOError("SHA-256 unavailable");
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cfs_[kState]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string len;
    PutLen32(&len, it->key().size());
    EVP_DigestUpdate(ctx.get(), len.data(), len.size());
    EVP_DigestUpdate(ctx.get(), it->key().data(), it->key().size());
    len.clear();
    PutLen32(&len, it->value().size());
    EVP_DigestUpdate(ctx.get(), len.data(), len.size());
    EVP_DigestUpdate(ctx.get(), it->value().data(), it->value().size());
  }
  if (!it->status().ok()) return Status::IOError("cannot scan projection state: " + it->status().ToString());
  Sha256Digest d;
  EVP_DigestFinal_ex(ctx.get(), d.data(), nullptr);
  return d;
}

}  // namespace projections
