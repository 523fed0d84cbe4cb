// Store benchmark: durable appends through the event store, each case beside two raw
// RocksDB baselines run in the same process right after it, with sync on and in batches of
// the same size: "rows" writes the same event rows (8-byte key, 32-byte hash + the same
// record); "rows+index" also writes the stream-index row per event and the head row per
// batch that the store writes, i.e. the same bytes as the store's WriteBatch.
//
//   store_bench [--seconds N] [--dir DIR] [--cases single,async,batched,sealed] [--rounds N]
//
// --rounds: how many alternating rounds (key id 0, sealed) the "sealed" cases run (5).
// Prints events/s, p50/p99 command latency and the ratio to the baseline. Not part of the
// default test run (performance targets live here, never in timed unit tests).
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/table.h>
#include <sys/resource.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/store_keys.h"
#include "tests/support/bench_support.h"
#include "tests/support/test_records.h"

using namespace ledger;
using SteadyClock = std::chrono::steady_clock;

namespace {

constexpr size_t kPayloadBytes = 200;
constexpr size_t kCommandPoolPerCaller = 32;
constexpr size_t kStreams = 10000;

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + (u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Figures {
  double cpu_percent = 0;  // of one core
  double events_per_batch = 0;
  double events_per_s = 0;
  double p50_ms = 0;
  double p99_ms = 0;
};

double Percentile(std::vector<double>& v, double q) {
  if (v.empty()) return 0;
  size_t i = std::min(v.size() - 1, static_cast<size_t>(q * (v.size() - 1) + 0.5));
  std::nth_element(v.begin(), v.begin() + i, v.end());
  return v[i];
}

// Personal fields in the "sealed" cases: about a customer's name, email, phone and city.
constexpr size_t kPersonalBytes = 120;
enum class Personal { kNone, kPlain, kSealed };

std::vector<AppendCommand> CommandPool(int caller, size_t events_per_command, Personal personal = Personal::kNone) {
  std::vector<AppendCommand> pool;
  std::mt19937_64 rng(caller * 7919 + events_per_command);
  for (size_t i = 0; i < kCommandPoolPerCaller; ++i) {
    testing_support::RecordSpec spec;
    spec.stream = "order/m1/s" + std::to_string(rng() % kStreams);
    spec.title_bytes = kPayloadBytes;
    spec.seed = rng();
    if (personal != Personal::kNone) spec.personal_bytes = kPersonalBytes;
    if (personal == Personal::kSealed) spec.seal_key_id = 1 + caller;
    pool.push_back(testing_support::MakeCommand(spec, events_per_command, false));
  }
  return pool;
}

// Async callers: `callers` commands kept in flight through AppendAsync, each completion
// submitting the slot's next command, as an asynchronous HTTP front does; no OS thread
// per caller.
struct AsyncSlot {
  EventStore* store;
  std::vector<AppendCommand>* pool;
  std::atomic<bool>* stop;
  std::atomic<uint64_t>* events;
  std::atomic<int>* outstanding;
  std::vector<double> latencies;
  size_t i = 0;
  std::chrono::steady_clock::time_point t0;

  void Submit() {
    AppendCommand cmd = (*pool)[i++ % kCommandPoolPerCaller];
    t0 = std::chrono::steady_clock::now();
    store->AppendAsync(std::move(cmd), [this](Result<AppendResult> r) {
      if (!r.ok()) {
        std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
        std::exit(1);
      }
      latencies.push_back(
          std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
      events->fetch_add(r->event_count, std::memory_order_relaxed);
      if (stop->load()) {
        outstanding->fetch_sub(1);
        return;
      }
      Submit();
    });
  }
};

Figures RunStore(const std::string& dir, int callers, size_t events_per_command, double seconds,
                 bool async_callers, Personal personal = Personal::kNone) {
  std::filesystem::remove_all(dir);
  StoreOptions o;
  o.path = dir;
  auto store = EventStore::Open(o);
  if (!store.ok()) {
    std::fprintf(stderr, "open: %s\n", store.status().ToString().c_str());
    std::exit(1);
  }
  std::vector<std::vector<AppendCommand>> pools;
  for (int c = 0; c < callers; ++c) pools.push_back(CommandPool(c, events_per_command, personal));
  std::atomic<bool> stop{false};
  std::vector<std::vector<double>> latencies(async_callers ? 0 : callers);
  std::atomic<uint64_t> events{0};
  std::vector<std::thread> threads;
  auto start = SteadyClock::now();
  const double cpu_start = CpuSeconds();
  std::atomic<int> outstanding{callers};
  std::vector<std::unique_ptr<AsyncSlot>> slots;
  for (int c = 0; async_callers && c < callers; ++c) {
    slots.push_back(std::make_unique<AsyncSlot>(
        AsyncSlot{store->get(), &pools[c], &stop, &events, &outstanding, {}, 0, {}}));
  }
  for (auto& slot : slots) slot->Submit();
  for (int c = 0; !async_callers && c < callers; ++c) {
    threads.emplace_back([&, c] {
      size_t i = 0;
      while (!stop.load(std::memory_order_relaxed)) {
        AppendCommand cmd = pools[c][i++ % kCommandPoolPerCaller];  // a copy: Append consumes it
        auto t0 = SteadyClock::now();
        auto r = (*store)->Append(std::move(cmd));
        auto t1 = SteadyClock::now();
        if (!r.ok()) {
          std::fprintf(stderr, "append: %s\n", r.status().ToString().c_str());
          std::exit(1);
        }
        latencies[c].push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        events.fetch_add(r->event_count, std::memory_order_relaxed);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  while (async_callers && outstanding.load() > 0) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  for (auto& slot : slots) latencies.push_back(std::move(slot->latencies));
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const double cpu = CpuSeconds() - cpu_start;
  std::vector<double> all;
  for (auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  Figures f;
  f.cpu_percent = 100.0 * cpu / elapsed;
  f.events_per_s = events.load() / elapsed;
  f.p50_ms = Percentile(all, 0.50);
  f.p99_ms = Percentile(all, 0.99);
  StoreStats st = (*store)->stats();
  f.events_per_batch = st.batches_committed ? double(st.events_committed) / st.batches_committed : 0;
  store->reset();
  std::filesystem::remove_all(dir);
  return f;
}

// Raw RocksDB: one thread writing the same event rows in sync batches of `batch_rows`.
// With `with_index`, each batch also holds what the store writes beside the events: one
// stream-index row per event (random streams, the store's key format, in a family with the
// store's options; a command's events share one stream, as in the store cases) and one
// head row, i.e. the same bytes as the store's WriteBatch.
Figures RunRaw(const std::string& dir, size_t batch_rows, size_t rows_per_stream, double seconds,
               bool with_index) {
  std::filesystem::remove_all(dir);
  rocksdb::Options o;
  o.create_if_missing = true;
  o.create_missing_column_families = true;
  o.IncreaseParallelism(2);
  o.write_buffer_size = 64 << 20;
  rocksdb::ColumnFamilyOptions index_options;
  index_options.write_buffer_size = 8 << 20;
  {
    rocksdb::BlockBasedTableOptions t;
    t.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
    index_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(t));
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
      {rocksdb::kDefaultColumnFamilyName, rocksdb::ColumnFamilyOptions(o)},
      {"streams", index_options}};
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::Open(rocksdb::DBOptions(o), dir, cfs, &handles, &db).ok()) std::exit(1);
  testing_support::RecordSpec spec;
  spec.title_bytes = kPayloadBytes;
  std::string value(32, 'h');
  value += testing_support::MakeListingRecord(spec);
  std::vector<uint64_t> stream_versions(kStreams, 0);
  std::mt19937_64 rng(1);
  uint64_t stream = 0;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  uint64_t pos = 0;
  std::vector<double> lat;
  auto start = SteadyClock::now();
  const double cpu_start = CpuSeconds();
  auto deadline = start + std::chrono::duration<double>(seconds);
  while (SteadyClock::now() < deadline) {
    rocksdb::WriteBatch wb;
    for (size_t i = 0; i < batch_rows; ++i) {
      const std::string key = keys::EventKey(Position(++pos));
      wb.Put(handles[0], key, value);
      if (with_index) {
        // Like the store's commands: `rows_per_stream` consecutive events on one stream.
        if (i % rows_per_stream == 0) stream = rng() % kStreams;
        wb.Put(handles[1],
               keys::StreamVersionKey("order/m1/s" + std::to_string(stream),
                                      StreamVersion(++stream_versions[stream])),
               key);
      }
    }
    if (with_index) wb.Put(handles[0], "head", std::string(48, 'm'));
    auto t0 = SteadyClock::now();
    if (!db->Write(wo, &wb).ok()) std::exit(1);
    lat.push_back(std::chrono::duration<double, std::milli>(SteadyClock::now() - t0).count());
  }
  double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  const double cpu = CpuSeconds() - cpu_start;
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  delete db;
  std::filesystem::remove_all(dir);
  Figures f;
  f.cpu_percent = 100.0 * cpu / elapsed;
  f.events_per_s = pos / elapsed;
  f.p50_ms = Percentile(lat, 0.5);
  f.p99_ms = Percentile(lat, 0.99);
  return f;
}

struct Case {
  const char* name;
  bool async_callers;
  int callers;
  size_t events_per_command;
  size_t baseline_batch_rows;
};

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  std::string dir = "bench-data";
  std::string cases = "single,batched";
  int seal_rounds = 5;  // --cases sealed: rounds of key id 0 and sealed per case
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = testing_support::FlagAt(argc, argv, i);
    if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (flag == "--dir") dir = argv[i + 1];
    else if (flag == "--cases") cases = argv[i + 1];
    else if (flag == "--rounds") seal_rounds = std::max(1, std::atoi(argv[i + 1]));
    else {
      std::fprintf(stderr, "usage: store_bench [--seconds N] [--dir DIR] [--cases single,async,batched,sealed] [--rounds N]\n");
      return 2;
    }
  }
  std::vector<Case> all;
  if (cases.find("single") != std::string::npos)
    for (int c : {1, 8, 32, 64}) all.push_back({"single-event commands", false, c, 1, static_cast<size_t>(c)});
  if (cases.find("async") != std::string::npos)
    for (int c : {1, 8, 32, 64}) all.push_back({"single, async callers", true, c, 1, static_cast<size_t>(c)});
  if (cases.find("batched") != std::string::npos) {
    all.push_back({"100-event commands", false, 8, 100, 100});
    all.push_back({"1000-event commands", false, 8, 1000, 1000});
  }
  if (cases.find("sealed") != std::string::npos) {
    // The cost of sealing (issue 8): the same commands with a 120-byte personal field,
    // unsealed (key id 0) and sealed by the store, alternated `seal_rounds` times per case.
    std::printf("store_bench sealed: %.0f s per run, %zu-byte payloads + %zu personal bytes, sync on\n", seconds,
                kPayloadBytes, kPersonalBytes);
    std::printf("%-22s %7s %12s %12s %7s\n", "case", "callers", "key id 0", "sealed", "ratio");
    struct SealCase {
      const char* name;
      bool async_callers;
      int callers;
      size_t events;
    };
    for (const SealCase& c : {SealCase{"single, async callers", true, 32, 1}, SealCase{"single, blocking", false, 32, 1},
                              SealCase{"100-event commands", false, 8, 100}}) {
      // Rounds alternate key id 0 and sealed; the ratio quoted is the median of each
      // round's own ratio (a round's two runs share the machine's state of the moment,
      // which on this shared machine moves more than sealing costs).
      std::vector<double> plain, sealed, ratios;
      for (int round = 0; round < seal_rounds; ++round) {
        plain.push_back(RunStore(dir + "/store", c.callers, c.events, seconds, c.async_callers, Personal::kPlain).events_per_s);
        sealed.push_back(RunStore(dir + "/store", c.callers, c.events, seconds, c.async_callers, Personal::kSealed).events_per_s);
        ratios.push_back(sealed.back() / plain.back());
      }
      std::sort(plain.begin(), plain.end());
      std::sort(sealed.begin(), sealed.end());
      std::sort(ratios.begin(), ratios.end());
      const size_t mid = ratios.size() / 2;
      std::printf("%-22s %7d %12.0f %12.0f %6.1f%%  (rounds %.0f%% .. %.0f%%)\n", c.name, c.callers, plain[mid],
                  sealed[mid], 100.0 * ratios[mid], 100.0 * ratios.front(), 100.0 * ratios.back());
      std::fflush(stdout);
    }
    if (cases == "sealed") return 0;
  }
  std::printf("store_bench: %.0f s per case, %zu-byte payloads, sync on, dir %s\n", seconds,
              kPayloadBytes, dir.c_str());
  std::printf("%-24s %7s %10s %8s %8s %8s %5s | %-14s %10s %6s | %10s %6s\n", "case", "callers",
              "events/s", "p50 ms", "p99 ms", "ev/batch", "cpu%", "raw batches", "rows", "ratio",
              "rows+index", "ratio");
  for (const Case& c : all) {
    Figures store = RunStore(dir + "/store", c.callers, c.events_per_command, seconds, c.async_callers);
    Figures raw = RunRaw(dir + "/raw", c.baseline_batch_rows, c.events_per_command, seconds, false);
    Figures raw_index = RunRaw(dir + "/raw", c.baseline_batch_rows, c.events_per_command, seconds, true);
    char base[64];
    std::snprintf(base, sizeof base, "sync, %zu rows", c.baseline_batch_rows);
    std::printf("%-24s %7d %10.0f %8.3f %8.3f %8.1f %5.0f | %-14s %10.0f %5.0f%% | %10.0f %5.0f%%\n",
                c.name, c.callers, store.events_per_s, store.p50_ms, store.p99_ms,
                store.events_per_batch, store.cpu_percent, base, raw.events_per_s,
                100.0 * store.events_per_s / raw.events_per_s, raw_index.events_per_s,
                100.0 * store.events_per_s / raw_index.events_per_s);
    std::fflush(stdout);
  }
  return 0;
}
