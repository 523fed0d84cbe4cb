// ledger-replay's benchmark (the replay issue's figures): over stores of --events events
// (a realistic mix written through the sequencer; 1M and 10M in the issue), in the same
// run: a raw RocksDB scan of the events column family (read every key and value), verify
// (replay::Verify: chain, records, commands, epochs, postings), and rebuilds (one read
// model, and all five). Each phase runs in a child process of its own, so its peak RSS
// (VmHWM) is its own. Prints events/s, the ratio to the raw scan and peak RSS.
//
//   replay_bench [--events N[,N...]] [--dir DIR] [--clients C]
// A store already at DIR/log-N is reused.
#include <rocksdb/db.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ledger/domain/sequencer.h"
#include "projections/projections.h"
#include "replay/replay.h"
#include "tests/support/bench_support.h"
#include "tests/support/command_driver.h"

using Steady = std::chrono::steady_clock;
using testing_support::Die;
using testing_support::PeakRssKb;

namespace {


// Through the sequencer alone, never published to Kafka: the store's canonical mark stays 0,
// so its rebuilds read through its head.
void BuildStore(const std::string& dir, uint64_t events, int clients) {
  if (std::filesystem::exists(dir)) return;
  const std::string building = dir + ".building";
  std::filesystem::remove_all(building);
  {
    ledger::StoreOptions o;
    o.path = building;
    auto store = ledger::EventStore::Open(o);
    if (!store.ok()) Die(store.status(), "open");
    auto seq = ledger::domain::Sequencer::Start(store->get(), ledger::ShardId(0));
    if (!seq.ok()) Die(seq.status(), "sequencer");
    const auto t0 = Steady::now();
    testing_support::Driver d(seq->get(), clients, 0, nullptr);
    while ((*store)->head().position.value() < events) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    d.Stop();
    (*seq)->Stop();
    std::fprintf(stderr, "built %llu events in %.0f s\n", static_cast<unsigned long long>((*store)->head().position.value()),
                 std::chrono::duration<double>(Steady::now() - t0).count());
  }
  std::filesystem::rename(building, dir);
}

// Runs phase `name` of this program in a child process of its own (fork and exec: a child
// merely forked from a process that has run RocksDB would inherit its background threads'
// locks). Prints "<label> events/s, ratio, peak RSS"; returns events/s.
double RunPhase(const char* self, const std::string& phase, const std::string& log, const std::string& dir,
                const std::string& label, double raw_rate) {
  int fds[2];
  if (::pipe(fds) != 0) std::exit(1);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::dup2(fds[1], STDOUT_FILENO);
    ::close(fds[0]);
    ::close(fds[1]);
    ::execl(self, self, "--phase", phase.c_str(), "--log", log.c_str(), "--dir", dir.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  ::close(fds[1]);
  std::string line;
  char buf[256];
  for (ssize_t n; (n = ::read(fds[0], buf, sizeof buf)) > 0;) line.append(buf, static_cast<size_t>(n));
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "%s failed\n", label.c_str());
    std::exit(1);
  }
  double rate = 0;
  long rss = 0;
  std::istringstream(line) >> rate >> rss;
  if (raw_rate > 0)
    std::printf("  %-28s %12.0f events/s  %5.0f%% of the raw scan  peak RSS %7ld MiB\n", label.c_str(), rate,
                100.0 * rate / raw_rate, rss / 1024);
  else
    std::printf("  %-28s %12.0f events/s                       peak RSS %7ld MiB\n", label.c_str(), rate, rss / 1024);
  std::fflush(stdout);
  return rate;
}

// In the child: one phase, timed; prints "<events/s> <peak RSS KiB>".
int Phase(const std::string& phase, const std::string& log, const std::string& dir);

uint64_t RawScan(const std::string& dir) {
  std::vector<std::string> names;
  if (!rocksdb::DB::ListColumnFamilies(rocksdb::DBOptions(), dir, &names).ok()) std::exit(1);
  std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
  for (const auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* db = nullptr;
  if (!rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), dir, cfs, &handles, &db).ok()) std::exit(1);
  rocksdb::ColumnFamilyHandle* events = nullptr;
  for (size_t i = 0; i < names.size(); ++i)
    if (names[i] == "events") events = handles[i];
  uint64_t n = 0, bytes = 0;
  rocksdb::ReadOptions ro;
  ro.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(ro, events));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    bytes += it->key().size() + it->value().size();
    ++n;
  }
  if (bytes == 0) std::exit(1);
  it.reset();
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  delete db;
  return n;
}

std::unique_ptr<ledger::EventStore> OpenStore(const std::string& dir, const std::string& scratch) {
  auto store = replay::OpenForReplay(dir, scratch);
  if (!store.ok()) Die(store.status(), "open");
  return std::move(store).value();
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 7 && std::string(argv[1]) == "--phase") return Phase(argv[2], argv[4], argv[6]);
  std::vector<uint64_t> sizes = {1'000'000};
  std::string dir = "replay-bench-data";
  int clients = 8;
  for (int i = 1; i < argc; i += 2) {
    const std::string flag = testing_support::FlagAt(argc, argv, i);
    if (flag == "--events") {
      sizes.clear();
      std::stringstream list(argv[i + 1]);
      for (std::string item; std::getline(list, item, ',');) sizes.push_back(std::strtoull(item.c_str(), nullptr, 10));
    } else if (flag == "--dir") {
      dir = argv[i + 1];
    } else if (flag == "--clients") {
      clients = std::atoi(argv[i + 1]);
    } else {
      std::fprintf(stderr, "usage: replay_bench [--events N[,N...]] [--dir DIR] [--clients C]\n");
      return 2;
    }
  }
  std::filesystem::create_directories(dir);
  for (uint64_t size : sizes) {
    const std::string log = dir + "/log-" + std::to_string(size);
    BuildStore(log, size, clients);
    std::printf("over %llu events (%s)\n", static_cast<unsigned long long>(size), log.c_str());
    const double raw = RunPhase(argv[0], "raw", log, dir, "raw RocksDB scan", 0);
    RunPhase(argv[0], "verify", log, dir, "verify", raw);
    RunPhase(argv[0], "fees", log, dir, "rebuild fees", raw);
    RunPhase(argv[0], "customers", log, dir, "rebuild customers", raw);
    RunPhase(argv[0], "all", log, dir, "rebuild all five read models", raw);
  }
  return 0;
}

namespace {
int Phase(const std::string& phase, const std::string& log, const std::string& dir) {
  const std::string scratch = dir + "/scratch", out = dir + "/rebuilt";
  std::filesystem::remove_all(scratch);
  std::filesystem::remove_all(out);
  const auto t0 = Steady::now();
  uint64_t events = 0;
  if (phase == "raw") {
    events = RawScan(log);
  } else {
    auto store = OpenStore(log, scratch);
    if (phase == "verify") {
      auto r = replay::Verify(*store, {});
      if (!r.ok() || !r->intact) return 1;
      events = r->events;
    } else if (phase == "all") {
      projections::ProjectorOptions po;
      po.dir = out;
      po.bound = projections::SourceBound::kHead;  // the store has no canonical mark (see BuildStore)
      po.store_access = projections::StoreAccess::kWriteUnlogged;  // as ledger-replay rebuild
      auto p = projections::Projector::Open(po);
      if (!p.ok()) Die(p.status(), "projector");
      const ledger::Position head = store->head().position;
      if (auto s = (*p)->CatchUp(*store, head); !s.ok()) Die(s, "rebuild");
      if (auto s = (*p)->Flush(); !s.ok()) Die(s, "flush");
      events = head.value();
    } else {
      replay::RebuildOptions o;
      o.projection = phase;
      o.out_dir = out;
      // Written through the sequencer without Kafka, the store has no canonical mark: read
      // through its head (ledger-replay's --through head), or the rebuild is refused.
      o.through = replay::Through::kHead;
      auto r = replay::Rebuild(*store, o);
      if (!r.ok()) Die(r.status(), "rebuild");
      events = r->events;
    }
  }
  const double seconds = std::chrono::duration<double>(Steady::now() - t0).count();
  std::printf("%f %ld\n", events / seconds, PeakRssKb());
  std::filesystem::remove_all(scratch);
  std::filesystem::remove_all(out);
  return 0;
}
}  // namespace
