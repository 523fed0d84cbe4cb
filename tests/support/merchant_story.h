// A small, fixed merchant story through the domain (two merchants, stores, listings,
// customers, orders, payments, a refund, a lost dispute, a message, an outage notice, a
// subscriber), for the projection tests. Its figures are worked out by hand in
// merchant_story.cc, where the expectations live next to the commands. `extra_orders`
// adds that many further paid orders to m1 (for benchmarks and resume tests).
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <string>

#include "tests/support/domain_harness.h"

namespace testing_support {

void RunMerchantStory(DomainHarness& harness, int extra_orders = 0);

// A clock that moves one second at every reading, from 2026-11-26T00:00:00Z.
class TickingClock final : public ledger::Clock {
 public:
  int64_t NowMicros() override { return start_us_ + 1'000'000 * ticks_++; }

 private:
  int64_t start_us_ = 1'795'651'200'000'000;  // 2026-11-26T00:00:00Z
  std::atomic<int64_t> ticks_{0};
};

// A store at `path` holding the merchant story, recorded-at ticking one second per batch.
struct StoryLog {
  explicit StoryLog(const std::string& path, int extra_orders = 0);
  TickingClock clock;
  std::unique_ptr<ledger::EventStore> store;
  std::map<std::pair<std::string, std::string>, int64_t> balances;  // after the story
};

}  // namespace testing_support
