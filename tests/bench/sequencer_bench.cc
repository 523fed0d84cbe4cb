// Sequencer benchmark: durable commands per second through the sequencer for a realistic
// mix (about 40% place order, 35% capture, 10% refund, 5% dispute steps, 10% other), from
// blocking client threads, each a merchant of its own. Then, in the same run, the very
// commands it wrote (same records, same grouping, same number of client threads) are
// appended straight to a fresh store: the ratio is the cost of deciding.
//
//   sequencer_bench [--seconds N] [--clients N] [--dir DIR] [--story]
//
// --story measures the cost of sealing personal data (issue 8) on the merchant story instead:
// each client's customers register with a name, email, phone and address, place two orders
// (each authorized and captured) and get a message; sealed under a data key drawn once per
// customer from the store's keyring (as ledgerd keeps it), against the same story written
// with key id 0 (plain, the format from before sealing), alternated five times in one run.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <random>
#include <thread>

#include "ledger/chain_hash.h"
#include "ledger/domain/sequencer.h"
#include "ledger/keyring.h"
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


// One customer's story after another, from each client (see the header).
struct StoryFigures {
  double commands_per_s = 0;
  double stories_per_s = 0;
};

StoryFigures RunStory(const std::string& dir, int clients, double seconds, bool sealed) {
  std::filesystem::remove_all(dir);
  StoreOptions o;
  o.path = dir;
  auto store = EventStore::Open(o);
  if (!store.ok()) std::exit(1);
  SequencerOptions so;
  so.seal_personal = sealed;
  auto seq = Sequencer::Start(store->get(), ShardId(0), so);
  if (!seq.ok()) std::exit(1);
  std::unique_ptr<Keyring> keyring;
  if (sealed) {
    SecretKey secrets{};
    for (size_t i = 0; i < secrets.size(); ++i) secrets[i] = static_cast<uint8_t>(i * 31 + 7);
    auto k = (*store)->OpenKeyring(secrets);
    if (!k.ok()) std::exit(1);
    keyring = std::move(k).value();
  }
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> commands{0}, stories{0};
  std::vector<std::thread> threads;
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&, c] {
      const std::string merchant = std::string("m").append(std::to_string(c));
      testing_support::CommandMix mix(merchant, c + 1);
      auto exec = [&](Command cmd) {
        auto r = (*seq)->Execute(mix.Request(static_cast<uint64_t>(c + 1), std::move(cmd)));
        if (!r.ok()) {
          std::fprintf(stderr, "story: %s\n", r.status().ToString().c_str());
          std::exit(1);
        }
        commands.fetch_add(1, std::memory_order_relaxed);
      };
      for (int i = 0; i < 3; ++i) exec(mix.Setup(i));  // configuration, store, listing
      for (uint64_t n = 1; !stop.load(std::memory_order_relaxed); ++n) {
        const std::string id = std::to_string(n);
        const std::string customer = std::string("c").append(id);
        PersonalInput p;
        if (keyring) {
          auto key = keyring->KeyFor(merchant, customer);
          if (!key.ok()) std::exit(1);
          p.key_id = key->key_id;
          p.data_key = key->key;
        }
        p.name = std::string("Customer Number ").append(id);
        p.email = std::string("customer").append(id).append("@example.com");
        p.phone = "+15555550100";
        p.address_line1 = "1 Main Street";
        p.city = "Springfield";
        p.postal_code = "12345";
        p.country = "US";
        exec(RegisterCustomer{customer, "s1", p});
        for (int k = 0; k < 2; ++k) {
          const std::string order = std::string("o").append(id).append("-").append(std::to_string(k));
          const std::string pay = std::string("p").append(id).append("-").append(std::to_string(k));
          exec(PlaceOrder{order, "s1", customer, "USD", {{"sku-1", 2, 2500}}, 0, 0});
          exec(AuthorizePayment{pay, order, 5000, "USD", "card", "paypal"});
          exec(CapturePayment{pay, std::string("k").append(pay), 5000, ""});
        }
        PersonalInput body = p;
        body.name = body.email = body.phone = body.address_line1 = body.city = body.postal_code = body.country = "";
        body.message_body = "Your order has shipped and should arrive on Thursday. Reply to this message with any "
                            "question about your order; we answer within a day.";
        exec(SendMessage{std::string("msg").append(id), customer, 0, body});
        stories.fetch_add(1, std::memory_order_relaxed);
      }
    });
  }
  auto start = SteadyClock::now();
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(SteadyClock::now() - start).count();
  (*seq)->Stop();
  keyring.reset();  // before its store
  store->reset();
  std::filesystem::remove_all(dir);
  return {commands.load() / elapsed, stories.load() / elapsed};
}
}  // namespace

int main(int argc, char** argv) {
  double seconds = 5;
  int clients = 8;
  std::string dir = "bench-data";
  bool story = false;
  for (int i = 1; i < argc; i += 2) {
    std::string flag = argv[i];
    if (flag == "--story") {
      story = true;
      --i;
      continue;
    }
    if (i + 1 >= argc) flag = "";
    if (flag == "--seconds") seconds = std::atof(argv[i + 1]);
    else if (flag == "--clients") clients = std::atoi(argv[i + 1]);
    else if (flag == "--dir") dir = argv[i + 1];
    else {
      std::fprintf(stderr, "usage: sequencer_bench [--seconds N] [--clients N] [--dir DIR] [--story]\n");
      return 2;
    }
  }
  if (story) {
    // The median of each round's own ratio (see store_bench's sealed cases).
    std::vector<double> ratios;
    for (int round = 0; round < 5; ++round) {
      const double plain = RunStory(dir + "/story", clients, seconds, false).commands_per_s;
      const double sealed = RunStory(dir + "/story", clients, seconds, true).commands_per_s;
      ratios.push_back(sealed / plain);
      std::printf("round %d: key id 0 %.0f, sealed %.0f commands/s (%.1f%%)\n", round + 1, plain, sealed,
                  100.0 * ratios.back());
      std::fflush(stdout);
    }
    std::sort(ratios.begin(), ratios.end());
    std::printf("merchant story (%d blocking clients; 8 commands and one key drawn per customer): sealed / key id 0, "
                "median of 5 rounds %.1f%% (%.1f%% .. %.1f%%)\n",
                clients, 100.0 * ratios[2], 100.0 * ratios.front(), 100.0 * ratios.back());
    return 0;
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
