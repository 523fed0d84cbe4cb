// Internal to the decider: collects a command's events, then encodes them once the
// command's event count is known; plus shared checks and FlatBuffers helpers.
#pragma once

#include <functional>

#include "ledger/domain/decider.h"
#include "ledger/domain/money.h"
#include "ledger/ids.h"

namespace ledger::domain::internal {

using Fbb = flatbuffers::FlatBufferBuilder;
using BodyBuilder = std::function<flatbuffers::Offset<void>(Fbb&)>;

class EventSink {
 public:
  explicit EventSink(const DecideContext& ctx) : ctx_(ctx) {}
  void Add(std::string stream, ExpectedVersion expected, schema::EventBody type, BodyBuilder build,
           std::string anomaly = "", std::optional<PersonalSeal> personal = std::nullopt);
  AppendCommand Finish() const;

 private:
  struct Draft {
    std::string stream;
    ExpectedVersion expected;
    schema::EventBody type;
    BodyBuilder build;
    std::string anomaly;
    std::optional<PersonalSeal> personal;
  };
  const DecideContext& ctx_;
  std::vector<Draft> drafts_;
};

inline Status Rule(const std::string& code, const std::string& message) {
  return Status::RuleViolated(code + ": " + message);
}
inline Status Field(const std::string& pointer, const std::string& message) {
  return Status::InvalidArgument(pointer + ": " + message);
}

Status CheckId(const std::string& id, const std::string& pointer);
Status CheckCurrency(const std::string& currency, const std::string& pointer);
Status CheckPositive(int64_t amount, const std::string& pointer);
// Refuses (rule amount-out-of-range) a decided command whose postings would take one of
// `merchant`'s own account balances past int64.
Status MerchantBalancesStayInRange(const DomainState& state, const std::string& merchant, const AppendCommand& cmd);

// A customer's personal fields checked and encoded as PersonalData, for the store to seal
// under the input's data key (key id 0, written plain, only when the context says not to
// seal: the benchmark baseline). Errors name the field, never the value.
Result<PersonalSeal> SealedPersonal(const DecideContext& ctx, const PersonalInput& p);

std::string StreamOf(const std::string& kind, const std::string& merchant, const std::string& id);
// Anomaly notes as one envelope field: "a; b".
std::string JoinNotes(const std::vector<std::string>& notes);

// FlatBuffers helpers.
flatbuffers::Offset<schema::Money> MoneyOf(Fbb& b, int64_t amount, const std::string& currency);
flatbuffers::Offset<schema::FeeBreakdown> FeesOf(Fbb& b, const FeeBreakdown& fees);
// For the *Direct builders, which take a vector's address.
std::vector<flatbuffers::Offset<schema::Posting>> PostingsOf(Fbb& b, const std::vector<Posting>& postings);
schema::Channel ChannelOf(Channel c);

// The merchant's state, or nullptr when the merchant has never been seen.
const MerchantState* FindMerchant(const DomainState& s, const std::string& merchant);
// A payment's order; nullptr for a payment a provider reported without one.
const Order* FindOrder(const MerchantState& m, const std::string& order_id);

// Handlers, one per command family (decide_*.cc).
Status DecideCatalog(const DomainState& s, const DecideContext& ctx, const Command& c, EventSink& out);
Status DecideOrder(const DomainState& s, const DecideContext& ctx, const Command& c, EventSink& out);
Status DecidePayment(const DomainState& s, const DecideContext& ctx, const Command& c, EventSink& out);
Status DecideProvider(const DomainState& s, const DecideContext& ctx, const Command& c, EventSink& out);
Status DecideDispute(const DomainState& s, const DecideContext& ctx, const Command& c, EventSink& out);

}  // namespace ledger::domain::internal
