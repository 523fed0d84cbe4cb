// The decider: a pure function from (state, command) to the events that record it, or a
// rule error. No clock, no randomness: everything it needs is in the state, the command
// and the context. It does not change the state; the caller applies the events (Apply)
// once it accepts them.
//
// Rule errors are Status::RuleViolated with the message "<rule-code>: <explanation>",
// e.g. "refund-exceeds-refundable: ..."; malformed input is InvalidArgument naming the
// field. Either way no event is produced.
#pragma once

#include "ledger/domain/commands.h"
#include "ledger/domain/state.h"
#include "ledger/event_store.h"
#include "ledger/record_codec.h"

namespace ledger::domain {

struct DecideContext {
  std::string merchant_id;      // the tenant: from the caller's key
  std::string idempotency_key;  // may be empty
  Sha256Digest request_digest{};
  Uuid128 command_id;           // event i of the command gets {hi, lo + i}
  ShardId shard{0};
  // False only in benchmarks: personal fields are written as they were before sealing
  // (plain, key id 0; the migration format), the baseline that the cost of sealing is
  // measured against (issue 8). Nothing in ledgerd sets it.
  bool seal_personal = true;
};

// The events of one command, encoded as records with their expected versions. No events
// (and no error) means the command changes nothing: a provider fact already recorded.
Result<AppendCommand> Decide(const DomainState& state, const DecideContext& context,
                             const Command& command);

// The checks on a customer's personal fields (lengths, email shape, country code), for the
// API edge to run before it draws a data key; Decide runs them too. InvalidArgument naming
// the field, never the value.
Status CheckPersonalInput(const PersonalInput& personal);

// The rule code of a RuleViolated status ("refund-exceeds-refundable"), or "".
std::string RuleCode(const Status& status);

}  // namespace ledger::domain
