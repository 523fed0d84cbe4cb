// A realistic command mix for one merchant, for benchmarks: about 40% place order (each
// followed by its authorization), 35% capture, 10% refund, 5% dispute steps, 10% other.
// Deterministic for a seed. Not thread-safe: one mix per client thread.
#pragma once

#include <functional>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "ledger/domain/commands.h"
#include "ledger/domain/sequencer.h"

namespace testing_support {

class CommandMix {
 public:
  static constexpr int kSetupCommands = 4;

  CommandMix(std::string merchant, uint64_t seed) : merchant_(std::move(merchant)) { rng_.seed(seed); }
  const std::string& merchant() const { return merchant_; }
  // Ids drawn so far (distinct per command: use it for command ids and digests).
  uint64_t drawn() const { return n_; }

  // The merchant's set-up: configuration, a store, a listing, a customer (step 0..3).
  ledger::domain::Command Setup(int step);
  // `command` as a request of this mix's merchant, with a distinct command id and request
  // digest (client `client` of a benchmark).
  ledger::domain::CommandRequest Request(uint64_t client, ledger::domain::Command command);
  // The next command of the mix; report its outcome with Done() before asking again.
  ledger::domain::Command Next();
  void Done(bool ok);

 private:
  std::string Id(const char* prefix) { return std::string(prefix).append(std::to_string(++n_)); }

  std::string merchant_;
  std::mt19937_64 rng_;
  uint64_t n_ = 0;
  uint64_t issued_ = 0;  // requests made
  std::vector<std::pair<std::string, int64_t>> authorized_;            // payment, amount
  std::vector<std::tuple<std::string, std::string, int64_t>> captured_;  // payment, capture, left
  std::vector<std::string> disputes_;
  std::string pending_auth_;   // an order placed, to authorize next
  std::function<void()> then_;  // what to remember if the last command succeeded
};

}  // namespace testing_support
