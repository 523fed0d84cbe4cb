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

using namespace ledger;
using namespace ledger::domain;
using SteadyClock = std::chrono::steady_clock;

namespace {

struct Client {
  std::string merchant;
  std::mt19937_64 rng;
  uint64_t n = 0;
  std::vector<std::pair<std::string, int64_t>> authorized;            // payment, amount
  std::vector<std::tuple<std::string, std::string, int64_t>> captured;  // payment, capture, left
  std::vector<std::string> disputes;

  std::string Id(const char* p) { return std::string(p).append(std::to_string(++n)); }

  Command Setup(int step) {
    switch (step) {
      case 0: return ConfigureMerchant{"USD", "", "", "", ""};
      case 1: return OpenStore{"s1", "store", Channel::kMarketplace};
      case 2: return PublishListing{"s1", "sku-1", "item", 2500, "USD", 1'000'000'000};
      default: return RegisterCustomer{"c1", "s1"};
    }
  }

  // The next command of the mix; `then` is what to remember if it succeeds.
  Command Next(std::function<void()>* then) {
    const int roll = static_cast<int>(rng() % 100);
    if (roll < 35 && !authorized.empty()) {
      auto [pay, amount] = authorized.back();
      authorized.pop_back();
      std::string cap = Id("k");
      *then = [this, pay, cap, amount] { captured.emplace_back(pay, cap, amount); };
      return CapturePayment{pay, cap, amount, ""};
    }
    if (roll < 45 && !captured.empty()) {
      auto& [pay, cap, left] = captured[rng() % captured.size()];
      const int64_t amount = std::min<int64_t>(left, 1 + rng() % 2000);
      left -= amount;
      return RefundPayment{pay, Id("r"), cap, std::max<int64_t>(amount, 1)};
    }
    if (roll < 50 && !captured.empty()) {
      if (!disputes.empty() && rng() % 2 == 0) {
        std::string d = disputes.back();
        disputes.pop_back();
        return ResolveDispute{d, rng() % 2 ? DisputeOutcomeInput::kWon : DisputeOutcomeInput::kLost};
      }
      auto [pay, cap, left] = captured[rng() % captured.size()];
      std::string d = Id("d");
      *then = [this, d] { disputes.push_back(d); };
      return OpenDispute{d, pay, cap, 1, "fraud"};
    }
    if (roll < 60) return RegisterCustomer{"c1", "s1"};  // "other": an update
    // Place an order and, as part of checkout, its authorization next.
    std::string order = Id("o");
    *then = [this, order] { pending_auth = order; };
    return PlaceOrder{order, "s1", "c1", "USD", {{"sku-1", 2, 2500}}, 0, 0};
  }

  std::string pending_auth;
};

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
      Client cl;
      cl.merchant = std::string("m").append(std::to_string(c));
      cl.rng.seed(c + 1);
      auto exec = [&](Command cmd) {
        CommandRequest r;
        r.merchant_id = cl.merchant;
        r.request_digest = Sha256Of(cl.merchant + std::to_string(cl.n));
        r.command_id = {static_cast<uint64_t>(c + 1), (++cl.n) << 16};
        r.command = std::move(cmd);
        return (*seq)->Execute(std::move(r));
      };
      for (int i = 0; i < 4; ++i)
        if (!exec(cl.Setup(i)).ok()) std::exit(1);
      while (!stop.load(std::memory_order_relaxed)) {
        std::function<void()> then;
        Command cmd = cl.pending_auth.empty() ? cl.Next(&then) : Command{};
        if (!cl.pending_auth.empty()) {
          std::string pay = cl.Id("p");
          cmd = AuthorizePayment{pay, cl.pending_auth, 5000, "USD", "card", "paypal"};
          then = [&cl, pay] { cl.authorized.emplace_back(pay, 5000); };
          cl.pending_auth.clear();
        }
        auto r = exec(std::move(cmd));
        if (r.ok()) {
          if (then) then();
        } else {
          refused++;
        }
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
