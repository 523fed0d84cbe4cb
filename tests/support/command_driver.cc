#include "tests/support/command_driver.h"

#include <cstdlib>
#include <string>

#include "tests/support/command_mix.h"

namespace testing_support {

using Steady = std::chrono::steady_clock;

Driver::Driver(ledger::domain::Sequencer* seq, int clients, double rate_per_s, OnAnswer on_answer) {
  for (int c = 0; c < clients; ++c)
    threads_.emplace_back([=, this] {
      CommandMix mix(std::string("m").append(std::to_string(c)), c + 1);
      auto exec = [&](ledger::domain::Command cmd) {
        const auto at = Steady::now();
        auto res = seq->Execute(mix.Request(static_cast<uint64_t>(c + 1), std::move(cmd)));
        if (res.ok() && res->event_count > 0 && on_answer) on_answer(res->first_position.value() + res->event_count - 1, at);
        return res;
      };
      for (int i = 0; i < CommandMix::kSetupCommands; ++i)
        if (!exec(mix.Setup(i)).ok()) std::exit(1);
      const auto start = Steady::now();
      const double per_client = rate_per_s / clients;
      for (uint64_t n = 0; !stop_.load(); ++n) {
        if (per_client > 0) std::this_thread::sleep_until(start + std::chrono::duration<double>(n / per_client));
        auto r = exec(mix.Next());
        mix.Done(r.ok());
        if (r.ok()) commands_++;
      }
    });
}

Driver::~Driver() { Stop(); }

uint64_t Driver::Stop() {
  stop_ = true;
  for (auto& t : threads_)
    if (t.joinable()) t.join();
  return commands_.load();
}

}  // namespace testing_support
