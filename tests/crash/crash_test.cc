// Crash test (DESIGN §4 durability): a child process appends under load and reports every
// acknowledged command through a pipe; the parent SIGKILLs it at random instants, reopens
// the store and checks that every acknowledged event is present and byte-identical,
// positions are dense, the chain verifies and no command is half written.
//
// A SIGKILL leaves the page cache intact, so surviving kills proves nothing about fsync on
// its own: the child also reports RocksDB's WAL-sync ticker next to its count of committed
// batches, and the test requires at least one WAL sync per acknowledged batch. The second
// test runs the child with sync off and requires that this check catches it.
//
// Kills: LEDGER_CRASH_KILLS (default 12). Seed: LEDGER_CRASH_SEED (default: time), printed.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "ledger/chain_hash.h"
#include "ledger/event_store.h"
#include "ledger/record_codec.h"
#include "tests/support/temp_dir.h"

using namespace ledger;

namespace {

struct Ack {
  uint64_t first = 0;
  uint32_t count = 0;
  std::string digest_hex;
  std::string idempotency_key;
};

struct RunReport {
  std::vector<Ack> acks;
  uint64_t max_batches = 0;
  bool sync_shortfall = false;  // some line reported fewer WAL syncs than committed batches
  std::string shortfall_line;
};

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

// Runs the child for `run_ms`, SIGKILLs it, and parses every complete line it wrote.
RunReport RunAndKill(const std::string& dir, int run, uint64_t seed, int run_ms, bool no_sync) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(fds[1], STDOUT_FILENO);
    close(fds[0]);
    close(fds[1]);
    std::string run_s = std::to_string(run), seed_s = std::to_string(seed);
    execl(CRASH_CHILD_PATH, "crash_child", dir.c_str(), run_s.c_str(), seed_s.c_str(),
          no_sync ? "--no-sync" : nullptr, nullptr);
    _exit(127);
  }
  close(fds[1]);
  // Drain the pipe concurrently so the child never blocks on a full pipe.
  std::string output;
  std::thread reader([&] {
    char buf[65536];
    ssize_t n;
    while ((n = read(fds[0], buf, sizeof buf)) > 0) output.append(buf, n);
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(run_ms));
  kill(pid, SIGKILL);
  int status = 0;
  waitpid(pid, &status, 0);
  reader.join();
  close(fds[0]);
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
      << "child ended on its own (status " << status << ") before the kill";

  RunReport report;
  std::istringstream in(output);
  std::string line;
  while (std::getline(in, line)) {
    if (in.eof()) break;  // a line cut by the kill has no newline: it was never complete
    std::istringstream ls(line);
    std::string tag;
    Ack a;
    uint64_t wal_syncs = 0, batches = 0;
    ls >> tag >> a.first >> a.count >> a.digest_hex >> a.idempotency_key >> wal_syncs >> batches;
    if (tag != "ack" || ls.fail()) {
      ADD_FAILURE() << "unparsable line from the child: " << line;
      continue;
    }
    if (wal_syncs < batches && !report.sync_shortfall) {
      report.sync_shortfall = true;
      report.shortfall_line = line;
    }
    report.max_batches = std::max(report.max_batches, batches);
    report.acks.push_back(std::move(a));
  }
  return report;
}

// Reopens the store and checks every acknowledged command and the whole chain.
void CheckStore(const std::string& dir, const std::vector<Ack>& acked) {
  StoreOptions o;
  o.path = dir;
  o.create_if_missing = false;
  auto store = EventStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Position through;
  Status chain = VerifyChain(**store, &through);
  ASSERT_TRUE(chain.ok()) << chain.ToString() << " (verified through " << through.value() << ")";
  const uint64_t head = (*store)->head().position.value();
  for (const Ack& a : acked) {
    ASSERT_LE(a.first + a.count - 1, head) << "acknowledged command " << a.idempotency_key << " lost";
    auto events = (*store)->ReadRange(Position(a.first), a.count);
    ASSERT_TRUE(events.ok());
    ASSERT_EQ(events->size(), a.count);
    std::string all;
    for (const auto& e : *events) {
      const auto* ev = VerifyRecord(e.record);
      ASSERT_NE(ev, nullptr);
      EXPECT_EQ(ev->idempotency_key()->str(), a.idempotency_key);
      EXPECT_EQ(ev->command_first_position(), a.first);
      all += e.record;
    }
    EXPECT_EQ(ToHex(Sha256Of(all)), a.digest_hex) << "acknowledged bytes changed at " << a.first;
    // The idempotency index survived with the command: a retry gets the first result.
    auto idem = (*store)->LookupIdempotency("m1", a.idempotency_key);
    ASSERT_TRUE(idem.ok() && idem->has_value()) << "idempotency key lost: " << a.idempotency_key;
    EXPECT_EQ((*idem)->first_position.value(), a.first);
    EXPECT_EQ((*idem)->event_count, a.count);
  }
  // Stream versions are dense per stream and the stream index agrees with the events.
  std::map<std::string, uint64_t> stream_heads;
  for (uint64_t from = 1; from <= head; from += kReadEventsMax) {
    auto chunk = (*store)->ReadRange(Position(from), kReadEventsMax);
    ASSERT_TRUE(chunk.ok());
    for (const auto& e : *chunk) {
      const auto* ev = VerifyRecord(e.record);
      uint64_t& last = stream_heads[ev->stream()->str()];
      ASSERT_EQ(ev->stream_version(), last + 1) << "stream version gap at " << e.position.value();
      last = ev->stream_version();
    }
  }
  for (const auto& [stream, last] : stream_heads) {
    auto h = (*store)->StreamHead(stream);
    ASSERT_TRUE(h.ok());
    EXPECT_EQ(h->value(), last) << "stream index head of " << stream;
  }
  // No command is half written: walking from 1, each command is whole up to the head.
  uint64_t p = 1;
  while (p <= head) {
    auto first = (*store)->ReadRange(Position(p), 1);
    ASSERT_TRUE(first.ok() && first->size() == 1);
    const auto* ev = VerifyRecord(first->front().record);
    ASSERT_EQ(ev->command_first_position(), p) << "command boundary broken at " << p;
    ASSERT_LE(p + ev->command_event_count() - 1, head) << "half-written command at " << p;
    p += ev->command_event_count();
  }
}

}  // namespace

TEST(Crash, AcknowledgedEventsSurviveSigkill) {
  const uint64_t kills = EnvOr("LEDGER_CRASH_KILLS", 12);
  const uint64_t seed = EnvOr("LEDGER_CRASH_SEED", static_cast<uint64_t>(
      std::chrono::system_clock::now().time_since_epoch().count()));
  std::printf("crash test: %llu kills, seed %llu (LEDGER_CRASH_SEED=%llu to replay the schedule)\n",
              static_cast<unsigned long long>(kills), static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(seed));
  std::mt19937_64 rng(seed);
  testing_support::TempDir dir;
  std::vector<Ack> acked;
  uint64_t total_batches = 0;
  for (uint64_t k = 0; k < kills; ++k) {
    const int run_ms = 150 + static_cast<int>(rng() % 400);
    RunReport r = RunAndKill(dir.path(), static_cast<int>(k), rng(), run_ms, /*no_sync=*/false);
    ASSERT_FALSE(r.sync_shortfall) << "fewer WAL syncs than acknowledged batches: " << r.shortfall_line;
    total_batches += r.max_batches;
    acked.insert(acked.end(), r.acks.begin(), r.acks.end());
    CheckStore(dir.path(), acked);
    if (HasFatalFailure()) {
      ADD_FAILURE() << "failed after kill " << k << " (seed " << seed << ")";
      return;
    }
  }
  std::printf("crash test: %zu acknowledged commands in %llu synced batches, all intact\n",
              acked.size(), static_cast<unsigned long long>(total_batches));
  EXPECT_GT(acked.size(), kills) << "the child acknowledged too little to test anything";
}

// The check above must catch a store that skips fsync: run the child with sync off.
TEST(Crash, SyncCheckCatchesAStoreThatSkipsFsync) {
  testing_support::TempDir dir;
  RunReport r = RunAndKill(dir.path(), 0, 42, 300, /*no_sync=*/true);
  ASSERT_FALSE(r.acks.empty());
  EXPECT_TRUE(r.sync_shortfall) << "a store without fsync passed the WAL-sync check";
}
