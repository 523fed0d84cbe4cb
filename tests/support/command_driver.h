// Drives command mixes (command_mix.h) through a sequencer from client threads, for
// benchmarks: `clients` merchants, each its own thread, at most `rate_per_s` commands per
// second in all (0: as fast as they go).
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <thread>
#include <vector>

#include "ledger/domain/sequencer.h"

namespace testing_support {

class Driver {
 public:
  // `on_answer(last position, submitted at)` runs for each command written (may be null).
  using OnAnswer = std::function<void(uint64_t last, std::chrono::steady_clock::time_point submitted)>;
  Driver(ledger::domain::Sequencer* seq, int clients, double rate_per_s, OnAnswer on_answer);
  ~Driver();
  // Stops the clients; the commands written.
  uint64_t Stop();

 private:
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> commands_{0};
  std::vector<std::thread> threads_;
};

}  // namespace testing_support
