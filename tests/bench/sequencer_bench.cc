// Sequencer benchmark: durable commands per second through the sequencer for a realistic
// mix (about 40% place order, 35% capture, 10% refund, 5% dispute steps, 10% other), from
// blocking client threads, each a merchant of its own. Then, in the same run, the very
// commands it wrote (same records, same grouping, same number of client threads) are
// appended straight to a fresh store: the ratio is the cost of deciding.
//
//   sequencer_bench [--seconds N] [--clients N] [--dir DIR]
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "ledger/chain_hash.h"
#include "ledger/domain/sequencer.h"
#include "ledger/record_codec.h"
#include "tests/support/command_mix.h"

using namespace ledger;
using namespace ledger::domain;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Figures {
  double commands_per_s = 0;
  double events_per_s = 0;
  uint64_t commands = 0;
};

Figures RunSequencer(const std::string& dir, int clients, double seconds) {
  std::filesystem::remove_all(dir);
  StoreOptions o;
  o.path = dir;
  auto store = EventStore::Open(o);
  if (!store.ok()) std::exit(1);
  auto seq = Sequencer::Start(store->get(), ShardId(0));
  if (!seq.ok()) std::exit(1);
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> commands{0}, refused{0};
  std::vector<std::thread> threads;
  const uint64_t head_before = (*store)->head().position.value();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      testing_support::CommandMix mix(std::string("m").append(std::to_string(c)), c + 1);
      auto exec = [&](Command cmd) { return (*seq)->Execute(mix.Request(static_cast<uint64_t>(c + 1), std::move(cmd))); };
      for (int i = 0; i < testing_support::CommandMix::kSetupCommands; ++i)
        if (!exec(mix.Setup(i)).ok()) std::exit(1);
      while (!stop.load(std::memory_order_relaxed)) {
        auto r = exec(mix.Next());
        mix.Done(r.ok());
        if (!r.ok()) refused++;
        commands++;
      }
    });
  }
  auto start = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  Figures f;
  f.commands = commands.load();
  f.commands_per_s = commands.load() / elapsed;
  f.events_per_s = ((*store)->head().position.value() - head_before) / elapsed;
  std::printf("sequencer: %llu commands (%llu refused by rules) in %.1f s\n",
              static_cast<unsigned long long>(commands.load()), static_cast<unsigned long long>(refused.load()), elapsed);
  return f;
}

// Appends the commands recorded in `source_dir` (whole commands, in log order) to a fresh
// store from `clients` threads, each taking every clients-th command.
Figures RunStoreReplay(const std::string& source_dir, const std::string& dir, int clients) {
  StoreOptions so;
  so.path = source_dir;
  so.create_if_missing = false;
  auto source = EventStore::Open(so);
  if (!source.ok()) std::exit(1);
  std::vector<AppendCommand> cmds;
  const uint64_t head = (*source)->head().position.value();
  AppendCommand cur;
  for (uint64_t from = 1; from <= head; from += kReadEventsMax) {
    auto chunk = (*source)->ReadRange(Position(from), kReadEventsMax);
    for (const auto& e : *chunk) {
      const auto* ev = VerifyRecord(e.record);
      cur.events.push_back({e.record, ExpectedVersion::Any()});
      if (cur.events.size() == ev->command_event_count()) cmds.push_back(std::move(cur)), cur = {};
    }
  }
  source->reset();
  std::filesystem::remove_all(dir);
  StoreOptions o;
  o.path = dir;
  auto store = EventStore::Open(o);
  if (!store.ok()) std::exit(1);
  std::atomic<size_t> next{0};
  std::vector<std::thread> threads;
  auto start = SteadyClock::now();
  for (int c = 0; c < clients; ++c)
    threads.emplace_back([&] {
      for (size_t i; (i = next.fetch_add(1)) < cmds.size();)
        if (!(*store)->Append(std::move(cmds[i])).ok()) std::exit(1);
    });
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  Figures f;
  f.commands = cmds.size();
  f.commands_per_s = cmds.size() / elapsed;
  f.events_per_s = head / elapsed;
  store->reset();
  std::filesystem::remove_all(dir);
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int clients = 8;
  std::string dir = "bench-data";
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (flag == "--clients") clients = std::atoi(argv[i + 1]);
    else if (flag == "--dir") dir = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: sequencer_bench [--seconds N] [--clients N] [--dir DIR]\n");
      return 2;
    }
  }
  Figures seq = RunSequencer(dir + "/sequencer", clients, seconds);
  Figures raw = RunStoreReplay(dir + "/sequencer", dir + "/replay", clients);
  std::filesystem::remove_all(dir + "/sequencer");
  std::printf("%-34s %12s %12s\n", "", "commands/s", "events/s");
  std::printf("%-34s %12.0f %12.0f\n", "through the sequencer", seq.commands_per_s, seq.events_per_s);
  std::printf("%-34s %12.0f %12.0f\n", "same commands, straight to store", raw.commands_per_s, raw.events_per_s);
  std::printf("ratio: %.0f%% (%d blocking clients)\n", 100.0 * seq.commands_per_s / raw.commands_per_s, clients);
  return 0;
}
