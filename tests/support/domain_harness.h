// Runs domain commands through Decide and Apply in memory, keeping every decided record,
// as the sequencer will (without the store). For tests and benchmarks.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "ledger/domain/decider.h"
#include "ledger/domain/fee_calculator.h"
#include "ledger/domain/sequencer.h"

namespace testing_support {

class DomainHarness {
 public:
  // In memory: publishes the default fee recipe as version 1.
  DomainHarness();
  // Durable: commands go through a Sequencer into `store` (which must outlive the
  // harness); the harness folds its state from the records read back from the store.
  explicit DomainHarness(ledger::EventStore* store, ledger::domain::SequencerOptions options = {});
  ~DomainHarness();

  // Decides `command` for `merchant` ("" for platform commands) and applies its events.
  ledger::Result<ledger::AppendCommand> Run(const std::string& merchant, const ledger::domain::Command& command,
                                            const std::string& idempotency_key = "");

  const ledger::domain::DomainState& state() const { return state_; }
  const std::vector<std::string>& records() const { return records_; }

  // Balances (credits - debits) per (account, currency), from every recorded posting.
  std::map<std::pair<std::string, std::string>, int64_t> Balances() const;

  // A fresh state folded from the recorded events.
  ledger::Result<ledger::domain::DomainState> Rebuild() const;

 private:
  ledger::Status FoldFromStore(uint64_t from, uint64_t count);

  ledger::EventStore* store_ = nullptr;
  std::unique_ptr<ledger::domain::Sequencer> sequencer_;
  ledger::domain::DomainState state_;
  std::vector<std::string> records_;
  uint64_t next_command_ = 1;
};

}  // namespace testing_support
