// Projection and publishing benchmarks (the Kafka issue's figures):
//  1. rebuild: the four read models rebuilt from position 1 over a store of --events events
//     written through the sequencer (a realistic mix), beside a raw scan of the same store
//     (read and verify every record) in the same run; events/s and peak RSS.
//  2. visible: append -> visible in every read model, p50 and p99, through the whole writer
//     path (sequencer, group commit, embedded Kafka-protocol cluster, publisher, the
//     writer's reader, projector; ack level replicated), at a steady 5,000 commands/s and
//     at half of the maximum measured in the same run.
//  3. publishing: acknowledged commands/s and canonical events/s, replicated and local.
//
//   projection_bench [--events N] [--seconds S] [--clients C] [--dir DIR]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <queue>
#include <thread>

#include "ledger/chain_hash.h"
#include "ledger/domain/sequencer.h"
#include "ledger/kafka/embedded_cluster.h"
#include "ledger/kafka/log_reader.h"
#include "ledger/kafka/publisher.h"
#include "ledger/record_codec.h"
#include "projections/projections.h"
#include "tests/support/bench_support.h"
#include "tests/support/command_driver.h"
#include "tests/support/command_mix.h"
#include "tests/support/log_fixtures.h"

using namespace ledger;
using namespace ledger::domain;
using Steady = std::chrono::steady_clock;
using testing_support::Die;
using testing_support::PeakRssKb;

namespace {


using testing_support::Driver;

// ---- 1. rebuild ----

void BuildStore(const std::string& dir, uint64_t events, int clients) {
  std::filesystem::remove_all(dir);
  StoreOptions o;
  o.path = dir;
  auto store = EventStore::Open(o);
  if (!store.ok()) Die(store.status(), "open");
  auto seq = Sequencer::Start(store->get(), ShardId(0));
  if (!seq.ok()) Die(seq.status(), "sequencer");
  Driver d(seq->get(), clients, 0, nullptr);
  while ((*store)->head().position.value() < events) std::this_thread::sleep_for(std::chrono::milliseconds(50));
  d.Stop();
}

void Rebuild(const std::string& store_dir, const std::string& dir, size_t apply_events_max) {
  StoreOptions o;
  o.path = store_dir;
  o.create_if_missing = false;
  auto store = EventStore::Open(o);
  if (!store.ok()) Die(store.status(), "open");
  const uint64_t head = (*store)->head().position.value();
  // Raw scan: read and verify every record.
  auto t0 = Steady::now();
  uint64_t seen = 0;
  for (uint64_t from = 1; from <= head; from += kReadEventsMax) {
    auto chunk = (*store)->ReadRange(Position(from), kReadEventsMax);
    if (!chunk.ok()) Die(chunk.status(), "scan");
    for (const auto& e : *chunk) seen += VerifyRecord(e.record) != nullptr;
  }
  const double raw_s = std::chrono::duration<double>(Steady::now() - t0).count();
  std::filesystem::remove_all(dir);
  projections::ProjectorOptions po;
  po.dir = dir;
  po.bound = projections::SourceBound::kHead;
  po.apply_events_max = apply_events_max;
  auto p = projections::Projector::Open(po);
  if (!p.ok()) Die(p.status(), "projector");
  t0 = Steady::now();
  Status s = (*p)->CatchUp(**store, Position(head));
  if (!s.ok()) Die(s, "rebuild");
  const double rebuild_s = std::chrono::duration<double>(Steady::now() - t0).count();
  std::printf("rebuild, commits of up to %zu events, over %llu events (%llu verified by the raw scan)\n",
              apply_events_max, static_cast<unsigned long long>(head), static_cast<unsigned long long>(seen));
  std::printf("  raw scan (read + verify)       %12.0f events/s\n", head / raw_s);
  std::printf("  rebuild, four read models      %12.0f events/s  (%.0f%% of the raw scan)\n", head / rebuild_s,
              100.0 * raw_s / rebuild_s);
  std::printf("  peak RSS                       %12ld KiB\n", PeakRssKb());
  p->reset();
  std::filesystem::remove_all(dir);
}

// ---- 2 and 3: the whole writer path ----

struct WriterPath {
  WriterPath(const std::string& dir, AckLevel ack) {
    std::filesystem::remove_all(dir);
    auto c = kafka::EmbeddedCluster::Start(kafka::kEmbeddedBrokers, 1);
    if (!c.ok()) Die(c.status(), "cluster");
    cluster = std::move(c).value();
    store = testing_support::OpenNodeStore(dir + "/store", "n0", ack, /*ack_requires_lease=*/true);
    auto r = kafka::LogReader::Start({cluster->bootstrap(), ShardId(0), {}}, store.get(), 500);
    if (!r.ok()) Die(r.status(), "reader");
    reader = std::move(r).value();
    auto p = kafka::Publisher::Start({cluster->bootstrap(), ShardId(0), {}}, store.get());
    if (!p.ok()) Die(p.status(), "publisher");
    publisher = std::move(p).value();
    testing_support::PromoteToEpochOne(*store, "n0");
    auto s = Sequencer::Start(store.get(), ShardId(0));
    if (!s.ok()) Die(s.status(), "sequencer");
    seq = std::move(s).value();
    projections::ProjectorOptions po;
    po.dir = dir + "/projections";
    auto pr = projections::Projector::Open(po);
    if (!pr.ok()) Die(pr.status(), "projector");
    projector = std::move(pr).value();
    projector->Follow(store.get());
  }
  ~WriterPath() {
    projector.reset();
    seq.reset();
    publisher.reset();
    reader.reset();
    store.reset();
    cluster.reset();
  }
  std::unique_ptr<kafka::EmbeddedCluster> cluster;
  std::unique_ptr<EventStore> store;
  std::unique_ptr<kafka::LogReader> reader;
  std::unique_ptr<kafka::Publisher> publisher;
  std::unique_ptr<Sequencer> seq;
  std::unique_ptr<projections::Projector> projector;
};

struct Visible {
  double commands_per_s = 0;
  double p50_ms = 0, p99_ms = 0;
  uint64_t samples = 0;
};

// Runs the mix at `rate` (0: flat out) and measures append -> visible in every read model.
Visible MeasureVisible(const std::string& dir, int clients, double rate, double seconds) {
  WriterPath w(dir, AckLevel::kReplicated);
  std::mutex mu;
  std::condition_variable cv;
  using Item = std::pair<uint64_t, Steady::time_point>;
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> waiting;  // by position
  std::vector<double> latencies_ms;
  std::atomic<bool> done{false};
  std::thread watcher([&] {
    std::unique_lock<std::mutex> lock(mu);
    while (!done.load() || !waiting.empty()) {
      if (waiting.empty()) {
        cv.wait_for(lock, std::chrono::milliseconds(5));
        continue;
      }
      const uint64_t need = waiting.top().first;
      lock.unlock();
      const bool reached = w.projector->WaitFor(Position(need), 50);
      const auto now = Steady::now();
      lock.lock();
      if (!reached) continue;
      const uint64_t at = w.projector->position().value();
      while (!waiting.empty() && waiting.top().first <= at) {
        latencies_ms.push_back(std::chrono::duration<double, std::milli>(now - waiting.top().second).count());
        waiting.pop();
      }
    }
  });
  Driver d(w.seq.get(), clients, rate, [&](uint64_t last, Steady::time_point at) {
    std::lock_guard<std::mutex> lock(mu);
    waiting.emplace(last, at);
    cv.notify_one();
  });
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const uint64_t commands = d.Stop();
  done = true;
  watcher.join();
  Visible v;
  v.commands_per_s = commands / seconds;
  std::sort(latencies_ms.begin(), latencies_ms.end());
  v.samples = latencies_ms.size();
  if (!latencies_ms.empty()) {
    v.p50_ms = latencies_ms[latencies_ms.size() / 2];
    v.p99_ms = latencies_ms[std::min(latencies_ms.size() - 1, latencies_ms.size() * 99 / 100)];
  }
  return v;
}

void MeasurePublishing(const std::string& dir, int clients, double seconds, AckLevel ack, const char* name) {
  WriterPath w(dir, ack);
  const uint64_t canonical_before = w.store->canonical_mark().position.value();
  Driver d(w.seq.get(), clients, 0, nullptr);
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  const uint64_t commands = d.Stop();
  const uint64_t canonical = w.store->canonical_mark().position.value() - canonical_before;
  const auto st = w.publisher->stats();
  std::printf("  %-10s %10.0f acked commands/s %12.0f canonical events/s  (fast path settled %llu of %llu batches)\n",
              name, commands / seconds, canonical / seconds, static_cast<unsigned long long>(st.fast_path_confirmed),
              static_cast<unsigned long long>(st.delivered));
}

}  // namespace

int main(int argc, char** argv) {
  std::setvbuf(stdout, nullptr, _IOLBF, 0);  // figures as they come, also into a pipe
  uint64_t events = 1'000'000;
  double seconds = 5;
  int clients = 16;
  std::string dir = "bench-data";
  std::string only;  // rebuild | publishing | visible; empty: all
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = testing_support::FlagAt(argc, argv, i);
    if (flag == "--only") only = argv[i + 1];
    else if (flag == "--events") events = std::strtoull(argv[i + 1], nullptr, 10);
    else if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (flag == "--clients") clients = std::atoi(argv[i + 1]);
    else if (flag == "--dir") dir = argv[i + 1];
    else {
      std::fprintf(stderr,
                   "usage: projection_bench [--events N] [--seconds S] [--clients C] [--dir DIR] "
                   "[--only rebuild|publishing|visible]\n");
      return 2;
    }
  }
  if (only.empty() || only == "rebuild") {
    // A store left by an earlier run of the same size is reused (building it is slow).
    if (!std::filesystem::exists(dir + "/log")) BuildStore(dir + "/log", events, clients);
    for (size_t span : {projections::kApplyEventsMax, size_t{65536}}) Rebuild(dir + "/log", dir + "/rebuilt", span);
  }
  if (only == "rebuild") return 0;
  std::filesystem::remove_all(dir + "/log");
  if (only.empty() || only == "publishing") {
    std::printf("publishing, %d blocking clients, %.0f s each\n", clients, seconds);
    MeasurePublishing(dir + "/pub", clients, seconds, AckLevel::kReplicated, "replicated");
    MeasurePublishing(dir + "/pub", clients, seconds, AckLevel::kLocal, "local");
  }
  if (only == "publishing") return 0;
  std::printf("append -> visible in every read model (replicated)\n");
  const Visible max = MeasureVisible(dir + "/vis", clients, 0, seconds);
  std::printf("  at the maximum   %8.0f commands/s  p50 %7.2f ms  p99 %7.2f ms  (%llu samples)\n", max.commands_per_s,
              max.p50_ms, max.p99_ms, static_cast<unsigned long long>(max.samples));
  for (double rate : {5000.0, max.commands_per_s / 2}) {
    const Visible v = MeasureVisible(dir + "/vis", clients, rate, seconds);
    std::printf("  target %6.0f/s  %8.0f commands/s  p50 %7.2f ms  p99 %7.2f ms  (%llu samples)\n", rate,
                v.commands_per_s, v.p50_ms, v.p99_ms, static_cast<unsigned long long>(v.samples));
  }
  std::filesystem::remove_all(dir);
  return 0;
}
