// Opening a RocksStore and reading from it.
#include "ledger/rocks_store.h"

#include "ledger/file_sync.h"
#include "ledger/keyring.h"

#include <rocksdb/cache.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>

#include <cstring>
#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "ledger/chain_hash.h"
#include "ledger/record_codec.h"
#include "ledger/store_keys.h"
#include "ledger/thread_name.h"

namespace ledger {

Status FromRocks(const rocksdb::Status& s, const std::string& what) {
  if (s.ok()) return Status::Ok();
  if (s.IsCorruption()) return Status::Corruption(what + ": " + s.ToString());
  if (s.IsNotFound()) return Status::NotFound(what + ": " + s.ToString());
  return Status::IOError(what + ": " + s.ToString());
}

namespace {

// Read ahead of a walk over the log (ScanRangeInto). Each walk is a fresh iterator with a
// fresh prefetch buffer, whose pages the kernel faults in as pread fills them: 2 MiB of
// that per span cost a fees rebuild about a sixth of its samples in page faults. Paired
// runs over 300k and 1M events: 256 KiB beat 2 MiB (fees 230-263k -> 280-314k events/s,
// verify 955k -> 985k) and RocksDB's own growing read-ahead (verify ~830k).
constexpr size_t kScanReadaheadBytes = 256 << 10;

// One block cache for every family of every event store in the process (the read models'
// stores keep their own), holding the tables'
// index and filter blocks too: otherwise RocksDB keeps each table's index in memory
// outside any bound, and memory grows with the log (measured: a replay's RSS 87 -> 136 MiB
// from 1M to 10M events).
std::shared_ptr<rocksdb::Cache> SharedBlockCache() {
  static const std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(kBlockCacheBytes);
  return cache;
}

// Secondary instances (ledger-replay, replay_bench) walk the log: they get a small cache of
// their own and pin nothing. With a writer's options a secondary (which opens every table)
// held index and filter blocks of every family in the shared 64 MiB cache, mostly of
// families a walk never reads, and a rebuild's peak RSS grew with the log (fees: 67 MiB
// at 300k events, 116 MiB at 3M, ~55 MiB of it that cache; 100 MiB at 3M with this one).
constexpr size_t kSecondaryBlockCacheBytes = 8 << 20;
std::shared_ptr<rocksdb::Cache> SecondaryBlockCache() {
  static const std::shared_ptr<rocksdb::Cache> cache = rocksdb::NewLRUCache(kSecondaryBlockCacheBytes);
  return cache;
}

rocksdb::ColumnFamilyOptions FamilyOptions(bool point_lookups, bool secondary) {
  rocksdb::ColumnFamilyOptions o;
  // Index families take random keys: a smaller memtable keeps the skiplist shallow, and
  // every batch inserts into them (measured, when the stream index was still in the synced
  // batch: 64 MiB -> 8 MiB cut the write of a 32-command batch by about a fifth).
  o.write_buffer_size = (point_lookups ? 8 : 64) << 20;
  rocksdb::BlockBasedTableOptions t;
  t.block_cache = secondary ? SecondaryBlockCache() : SharedBlockCache();
  t.cache_index_and_filter_blocks = true;
  t.cache_index_and_filter_blocks_with_high_priority = true;
  t.pin_l0_filter_and_index_blocks_in_cache = !secondary;  // a writer's hot, newest tables stay resident
  if (point_lookups) {
    // Stream heads and idempotency keys are looked up by exact key, mostly for keys that do
    // not exist yet: a bloom filter answers those without touching data blocks.
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  }
  o.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  return o;
}

Status CheckDirectory(const StoreOptions& options, bool* is_new) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::path dir(options.path);
  if (!fs::exists(dir, ec)) {
    if (!options.create_if_missing) return Status::NotFound("no store at the given path");
    *is_new = true;
    return Status::Ok();
  }
  if (!fs::is_directory(dir, ec)) return Status::NotALedgerStore("path is not a directory");
  if (fs::exists(dir / "CURRENT", ec)) {
    *is_new = false;
    return Status::Ok();
  }
  if (fs::directory_iterator(dir, ec) != fs::directory_iterator())
    return Status::NotALedgerStore(
        "directory is not empty and holds no ledger store; refusing to create one inside it");
  if (!options.create_if_missing) return Status::NotFound("no store at the given path");
  *is_new = true;
  return Status::Ok();
}

}  // namespace

const char* RocksStore::FamilyName(int family) {
  static const char* kNames[kFamilyCount] = {"events", "streams", "idempotency",
                                             "batches", "meta", "quarantine", "snapshots",
                                             "keyring"};
  return kNames[family];
}

Result<std::unique_ptr<EventStore>> EventStore::Open(const StoreOptions& options) {
  return RocksStore::Open(options);
}

Result<std::unique_ptr<Keyring>> RocksStore::OpenKeyring(const SecretKey& secrets_key) {
  if (!options_.secondary_path.empty() || families_.size() != 1 + kFamilyCount)
    return Status::InvalidArgument("this store is open read-only (a secondary instance)");
  return Keyring::InFamily(db_.get(), cf(kKeyring), families_, secrets_key);
}

// A new store is created whole or not at all: built in "<path>.creating" (a leftover from
// a crash during an earlier creation is discarded), closed, then renamed into place. A kill
// during creation can therefore never leave a half-made store that the next start would
// refuse as "not a ledger store".
Result<std::unique_ptr<EventStore>> RocksStore::Open(const StoreOptions& options) {
  if (!options.secondary_path.empty()) return OpenImpl(options, /*is_new=*/false);
  bool is_new = false;
  LEDGER_RETURN_IF_ERROR(CheckDirectory(options, &is_new));
  if (!is_new) return OpenImpl(options, /*is_new=*/false);
  namespace fs = std::filesystem;
  std::error_code ec;
  StoreOptions staging = options;
  staging.path = options.path + ".creating";
  fs::remove_all(staging.path, ec);
  fs::create_directories(staging.path, ec);
  if (ec) return Status::IOError("cannot create the store directory: " + ec.message());
  {
    auto created = OpenImpl(staging, /*is_new=*/true);
    if (!created.ok()) return created.status();
  }  // closed here, synced
  fs::rename(staging.path, options.path, ec);  // replaces an empty directory at `path`
  if (ec) return Status::IOError("cannot move the new store into place: " + ec.message());
  SyncParentDirectory(options.path);  // the rename itself must survive a crash
  return OpenImpl(options, /*is_new=*/false);
}

Result<std::unique_ptr<EventStore>> RocksStore::OpenImpl(const StoreOptions& options, bool is_new) {
  rocksdb::DBOptions db_options;
  db_options.create_if_missing = is_new;
  db_options.create_missing_column_families = is_new;
  db_options.error_if_exists = is_new;
  db_options.paranoid_checks = true;
  db_options.IncreaseParallelism(2);
  // Bounded WAL: column families with little traffic would otherwise pin old WAL files,
  // and every open (a restart after a crash, an auditor's replay) replays all of them
  // (measured: 1M events left ~570 MB of WAL and a replay read at half speed).
  db_options.max_total_wal_size = 128 << 20;
  // A batch's stream-index rows are written by another thread right after its sync
  // (stream_index.cc): pipelined, their memtable insert overlaps the next batch's WAL
  // write and sync instead of queueing in front of it (32 blocking callers: 43,155 ->
  // 48,989 events/s; 64 async: 73,416 -> 99,111; store_bench, same session).
  db_options.enable_pipelined_write = true;
  auto statistics = rocksdb::CreateDBStatistics();
  db_options.statistics = statistics;

  std::set<std::string> have;  // the families an existing store has
  if (!is_new) {
    std::vector<std::string> names;
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, options.path, &names);
    if (!s.ok()) return FromRocks(s, "cannot read the store's column families");
    have.insert(names.begin(), names.end());
    for (int f = 0; f < kFamilyCount; ++f)
      if (!have.count(FamilyName(f)) && f != kKeyring)
        return Status::NotALedgerStore(std::string("RocksDB database without the '") +
                                       FamilyName(f) + "' column family is not a ledger store");
    // Stores made before the keyring moved in get the family at their next open as a
    // writer; a read-only instance of such a store goes without it.
    db_options.create_missing_column_families = options.secondary_path.empty();
  }

  const bool secondary = !options.secondary_path.empty();
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  descriptors.emplace_back(rocksdb::kDefaultColumnFamilyName, FamilyOptions(false, secondary));
  for (int f = 0; f < kFamilyCount; ++f)
    if (is_new || f != kKeyring || have.count(FamilyName(f)) || !secondary)
      descriptors.emplace_back(FamilyName(f), FamilyOptions(f == kStreams || f == kIdempotency, secondary));
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  if (secondary) db_options.max_open_files = -1;  // RocksDB requires it of a secondary instance
  rocksdb::Status s =
      secondary ? rocksdb::DB::OpenAsSecondary(db_options, options.path, options.secondary_path, descriptors, &handles, &raw)
                : rocksdb::DB::Open(db_options, options.path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "cannot open the event store");

  std::unique_ptr<RocksStore> store(new RocksStore());
  store->options_ = options;
  store->clock_ = options.clock ? options.clock : SystemClock();
  store->db_.reset(raw);
  store->statistics_ = statistics;
  // handles[0] is the default family, which the ledger does not use.
  store->families_.assign(handles.begin(), handles.end());

  auto meta = store->cf(kMeta);
  if (is_new) {
    rocksdb::WriteBatch wb;
    std::string shard;
    keys::PutBigEndian64(&shard, options.shard.value());
    std::string head;
    keys::PutBigEndian64(&head, 0);
    head.append(32, '\0');
    keys::PutBigEndian64(&head, 0);
    wb.Put(meta, keys::kMetaFormat, keys::kFormatValue);
    wb.Put(meta, keys::kMetaShard, shard);
    wb.Put(meta, keys::kMetaHead, head);
    rocksdb::WriteOptions wo;
    wo.sync = true;
    LEDGER_RETURN_IF_ERROR(FromRocks(store->db_->Write(wo, &wb), "cannot initialise the store"));
  }
  std::string format, shard;
  s = store->db_->Get(rocksdb::ReadOptions(), meta, keys::kMetaFormat, &format);
  if (!s.ok() || format != keys::kFormatValue)
    return Status::NotALedgerStore("store has no ledger format marker");
  s = store->db_->Get(rocksdb::ReadOptions(), meta, keys::kMetaShard, &shard);
  if (!s.ok() || shard.size() != 8) return Status::Corruption("store has no shard marker");
  if (keys::GetBigEndian64(shard) != options.shard.value())
    return Status::NotALedgerStore("store belongs to shard " +
                                   std::to_string(keys::GetBigEndian64(shard)) + ", not " +
                                   std::to_string(options.shard.value()));
  LEDGER_RETURN_IF_ERROR(store->LoadAndCheckHead());
  if (secondary) return std::unique_ptr<EventStore>(std::move(store));  // read-only: no writer threads
  LEDGER_RETURN_IF_ERROR(store->RebuildStreamIndexTail());
  const Head head = store->head();
  store->decided_next_ = head.position.next();
  store->decided_hash_ = head.hash;
  store->decided_recorded_at_us_ = head.recorded_at_us;
  store->sequencer_ = std::thread([p = store.get()] {
    NameThisThread("store-decide");
    p->SequencerLoop();
  });
  store->committer_ = std::thread([p = store.get()] {
    NameThisThread("store-commit");
    p->CommitterLoop();
  });
  store->notifier_ = std::thread([p = store.get()] {
    NameThisThread("store-answer");
    p->NotifierLoop();
  });
  return std::unique_ptr<EventStore>(std::move(store));
}

RocksStore::~RocksStore() {

  {
    std::lock_guard<std::mutex> lock(queue_mu_);
    stopping_ = true;
  }
  sequencer_cv_.notify_all();
  committer_cv_.notify_all();
  // The sequencer answers what it has not handed over; the committer then writes what it
  // was handed and stops.
  if (sequencer_.joinable()) sequencer_.join();
  if (committer_.joinable()) committer_.join();
  {
    std::lock_guard<std::mutex> lock(notify_mu_);
    notifier_stop_ = true;
  }
  notify_cv_.notify_all();
  if (notifier_.joinable()) notifier_.join();
  // Answers still waiting to be known canonical: durable here, but not known replicated.
  std::multimap<uint64_t, HeldAnswer> held;
  {
    std::lock_guard<std::mutex> lock(held_mu_);
    held.swap(held_);
  }
  for (auto& [pos, h] : held) h.done(Status::ShuttingDown("the store closed before the write was known replicated"));
  std::vector<HeldAnswer> lease_held;
  {
    std::lock_guard<std::mutex> lock(lease_mu_);
    lease_held.swap(lease_held_);
  }
  for (HeldAnswer& h : lease_held)
    h.done(Status::ShuttingDown("the store closed while the writer's lease had lapsed; the write is durable here "
                                "but was not acknowledged"));
  if (db_) {
    // A clean close leaves no WAL to replay at the next open.
    if (options_.secondary_path.empty()) {
      std::vector<rocksdb::ColumnFamilyHandle*> all(families_.begin(), families_.end());
      db_->Flush(rocksdb::FlushOptions(), all).PermitUncheckedError();
    }
    for (auto* h : families_) db_->DestroyColumnFamilyHandle(h).PermitUncheckedError();
    db_->Close().PermitUncheckedError();
  }
}

// The head in meta must be the last event, and its hash must follow from the event before
// it: a cheap check at every open that the tail of the chain is what was acknowledged.
Status RocksStore::LoadAndCheckHead() {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kMeta), keys::kMetaHead, &v);
  if (!s.ok() || v.size() != 48) return Status::Corruption("store head record is missing or damaged");
  Head h;
  h.position = Position(keys::GetBigEndian64(v));
  std::memcpy(h.hash.data(), v.data() + 8, 32);
  h.recorded_at_us = static_cast<int64_t>(keys::GetBigEndian64(std::string_view(v).substr(40)));

  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kEvents)));
  it->SeekToLast();
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the last event"));
  uint64_t last = it->Valid() ? keys::GetBigEndian64(it->key().ToStringView()) : 0;
  if (last != h.position.value())
    return Status::Corruption("head says position " + std::to_string(h.position.value()) +
                              " but the last event is at " + std::to_string(last));
  if (last > 0) {
    auto tail = ReadRange(Position(last > 1 ? last - 1 : 1), 2);
    if (!tail.ok()) return tail.status();
    Sha256Digest prev = last > 1 ? tail->front().hash : kGenesisHash;
    const StoredEvent& e = tail->back();
    if (VerifyRecord(e.record) == nullptr || ChainHash(prev, e.position, e.record) != e.hash ||
        e.hash != h.hash)
      return Status::Corruption("the chain does not verify at the head, position " +
                                std::to_string(last));
  }
  std::string mark;
  s = db_->Get(rocksdb::ReadOptions(), cf(kMeta), keys::kMetaCanonicalHead, &mark);
  if (s.ok()) {
    if (mark.size() < 24) return Status::Corruption("canonical head record is damaged");
    canonical_.position = Position(keys::GetBigEndian64(mark));
    canonical_.epoch = Epoch(keys::GetBigEndian64(std::string_view(mark).substr(8)));
    canonical_.offset = static_cast<int64_t>(keys::GetBigEndian64(std::string_view(mark).substr(16)));
    canonical_.owner = mark.substr(24);
    if (canonical_.position.value() > h.position.value()) return Status::Corruption("canonical head is beyond the head");
    if (canonical_.position == h.position) canonical_.hash = h.hash;
    else {
      auto at = ReadRange(canonical_.position, 1);
      if (!at.ok() || at->empty()) return Status::Corruption("canonical head names a missing event");
      canonical_.hash = at->front().hash;
    }
  }
  std::string epoch;
  s = db_->Get(rocksdb::ReadOptions(), cf(kMeta), keys::kMetaWriterEpoch, &epoch);
  if (s.ok() && epoch.size() == 8) {
    epoch_.store(keys::GetBigEndian64(epoch));
    stored_epoch_.store(keys::GetBigEndian64(epoch));
  }
  std::lock_guard<std::mutex> lock(head_mu_);
  head_ = h;
  return Status::Ok();
}

Status RocksStore::SetWriterEpoch(Epoch epoch) {
  std::string v;
  keys::PutBigEndian64(&v, epoch.value());
  rocksdb::WriteOptions wo;
  wo.sync = true;
  LEDGER_RETURN_IF_ERROR(FromRocks(db_->Put(wo, cf(kMeta), keys::kMetaWriterEpoch, v),
                                   "cannot store the writer epoch"));
  epoch_.store(epoch.value());
  stored_epoch_.store(epoch.value());
  return Status::Ok();
}

Status RocksStore::AttemptPromotion(Epoch epoch) {
  if (epoch.value() <= epoch_.load()) return Status::InvalidArgument("a promotion must raise the epoch");
  LEDGER_RETURN_IF_ERROR(fenced());
  epoch_.store(epoch.value());
  return Status::Ok();
}

Epoch RocksStore::writer_epoch() const { return Epoch(epoch_.load()); }

std::string RocksStore::kafka_cluster_id() const {
  std::string id;
  if (!db_->Get(rocksdb::ReadOptions(), cf(kMeta), keys::kMetaKafkaClusterId, &id).ok()) return "";
  return id;
}

Status RocksStore::SetKafkaClusterId(const std::string& cluster_id) {
  rocksdb::WriteOptions wo;
  wo.sync = options_.durability == Durability::kSync;
  return FromRocks(db_->Put(wo, cf(kMeta), keys::kMetaKafkaClusterId, cluster_id), "cannot store the Kafka cluster id");
}

Head RocksStore::head() const {
  std::lock_guard<std::mutex> lock(head_mu_);
  return head_;
}

Result<std::vector<StoredEvent>> RocksStore::ReadRange(Position from, size_t limit) const {
  if (limit > kReadEventsMax) limit = kReadEventsMax;
  if (from.value() == 0) from = Position(1);
  std::vector<StoredEvent> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kEvents)));
  for (it->Seek(keys::EventKey(from)); it->Valid() && out.size() < limit; it->Next()) {
    auto value = it->value().ToStringView();
    if (value.size() < 32) return Status::Corruption("event value shorter than its hash");
    StoredEvent e;
    e.position = Position(keys::GetBigEndian64(it->key().ToStringView()));
    std::memcpy(e.hash.data(), value.data(), 32);
    e.record.assign(value.substr(32));
    out.push_back(std::move(e));
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read events"));
  return out;
}

Status RocksStore::ScanRangeInto(Position from, size_t limit, EventChunk* chunk) const {
  if (limit > kReadEventsMax) limit = kReadEventsMax;
  if (from.value() == 0) from = Position(1);
  EventChunk& out = *chunk;
  out.clear();
  out.positions.reserve(limit);
  out.hashes.reserve(limit);
  out.ends.reserve(limit);
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;  // a walk over the whole log would only evict what readers need
  ro.readahead_size = kScanReadaheadBytes;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(ro, cf(kEvents)));
  for (it->Seek(keys::EventKey(from)); it->Valid() && out.size() < limit; it->Next()) {
    auto value = it->value().ToStringView();
    if (value.size() < 32) return Status::Corruption("event value shorter than its hash");
    out.positions.push_back(Position(keys::GetBigEndian64(it->key().ToStringView())));
    Sha256Digest& h = out.hashes.emplace_back();
    std::memcpy(h.data(), value.data(), 32);
    out.records.append(value.substr(32));
    out.ends.push_back(static_cast<uint32_t>(out.records.size()));
  }
  return FromRocks(it->status(), "cannot read events");
}

Result<std::vector<StoredEvent>> RocksStore::ReadStream(const std::string& stream,
                                                        StreamVersion from,
                                                        ReadDirection direction,
                                                        size_t limit) const {
  if (limit > kReadEventsMax) limit = kReadEventsMax;
  LEDGER_RETURN_IF_ERROR(WaitForStreamIndex());
  std::vector<StoredEvent> out;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kStreams)));
  const bool forward = direction == ReadDirection::kForward;
  if (forward) {
    it->Seek(keys::StreamVersionKey(stream, StreamVersion(std::max<uint64_t>(from.value(), 1))));
  } else {
    uint64_t start = from.value() == 0 ? UINT64_MAX : from.value();
    it->SeekForPrev(keys::StreamVersionKey(stream, StreamVersion(start)));
  }
  for (; it->Valid() && out.size() < limit; forward ? it->Next() : it->Prev()) {
    if (!keys::IsVersionKeyOf(it->key().ToStringView(), stream)) break;
    Position p(keys::GetBigEndian64(it->value().ToStringView()));
    auto one = ReadRange(p, 1);
    if (!one.ok()) return one.status();
    if (one->empty() || one->front().position != p)
      return Status::Corruption("stream index names a missing event at position " +
                                std::to_string(p.value()));
    out.push_back(std::move(one->front()));
  }
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "cannot read the stream"));
  return out;
}

// The last version key of the stream; the stream prefix (length-prefixed name) sorts all
// of a stream's versions together, so one SeekForPrev finds it.
Result<StreamVersion> RocksStore::StreamHead(const std::string& stream) const {
  LEDGER_RETURN_IF_ERROR(WaitForStreamIndex());
  return IndexedStreamHead(stream);
}

Result<std::optional<IdempotencyEntry>> RocksStore::LookupIdempotency(const std::string& merchant,
                                                                      const std::string& key) const {
  return ReadIdempotency(keys::IdempotencyKey(merchant, key));
}

Result<std::optional<IdempotencyEntry>> RocksStore::ReadIdempotency(const std::string& encoded_key) const {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kIdempotency), encoded_key, &v);
  if (s.IsNotFound()) return std::optional<IdempotencyEntry>();
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "cannot read the idempotency key"));
  IdempotencyEntry e;
  if (!keys::ParseIdempotencyValue(v, &e)) return Status::Corruption("idempotency value has the wrong size");
  return std::optional<IdempotencyEntry>(e);
}

Status RocksStore::PutSnapshot(const std::string& key, const std::string& value) {
  return FromRocks(db_->Put(rocksdb::WriteOptions(), cf(kSnapshots), key, value), "cannot write a snapshot");
}

Result<std::optional<std::string>> RocksStore::GetSnapshot(const std::string& key) const {
  std::string v;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf(kSnapshots), key, &v);
  if (s.IsNotFound()) return std::optional<std::string>();
  LEDGER_RETURN_IF_ERROR(FromRocks(s, "cannot read a snapshot"));
  return std::optional<std::string>(std::move(v));
}

Status RocksStore::ClearSnapshots() {
  // Snapshots are few and derived; deleting them one by one keeps this simple and exact.
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(rocksdb::ReadOptions(), cf(kSnapshots)));
  rocksdb::WriteBatch wb;
  for (it->SeekToFirst(); it->Valid(); it->Next()) wb.Delete(cf(kSnapshots), it->key());
  LEDGER_RETURN_IF_ERROR(FromRocks(it->status(), "cannot list snapshots"));
  return FromRocks(db_->Write(rocksdb::WriteOptions(), &wb), "cannot clear snapshots");
}

StoreStats RocksStore::stats() const {
  StoreStats s;
  s.batches_committed = batches_committed_.load();
  s.events_committed = events_committed_.load();
  s.commands_rejected = commands_rejected_.load();
  s.wal_syncs = statistics_->getTickerCount(rocksdb::WAL_FILE_SYNCED);
  s.stream_index_rows_rebuilt = stream_index_rows_rebuilt_;
  std::lock_guard<std::mutex> lock(watchers_mu_);
  s.log_watchers = watchers_.size();
  return s;
}

}  // namespace ledger
