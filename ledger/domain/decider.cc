#include "ledger/domain/decider.h"

#include "ledger/domain/decide_internal.h"

namespace ledger::domain {
namespace internal {

void EventSink::Add(std::string stream, ExpectedVersion expected, schema::EventBody type,
                    BodyBuilder build, std::string anomaly, std::optional<PersonalSeal> personal) {
  drafts_.push_back({std::move(stream), expected, type, std::move(build), std::move(anomaly), std::move(personal)});
}

AppendCommand EventSink::Finish() const {
  AppendCommand cmd;
  for (size_t i = 0; i < drafts_.size(); ++i) {
    const Draft& d = drafts_[i];
    EnvelopeFields f;
    f.shard = ctx_.shard;
    f.stream = d.stream;
    f.event_id = {ctx_.command_id.hi, ctx_.command_id.lo + i};
    f.tenant = ctx_.merchant_id;
    f.correlation_id = ctx_.command_id;
    f.causation_id = ctx_.command_id;
    f.idempotency_key = ctx_.idempotency_key;
    f.request_digest = ctx_.request_digest;
    f.command_event_count = static_cast<uint32_t>(drafts_.size());
    f.anomaly = d.anomaly;
    std::optional<PersonalSeal> seal = d.personal;
    if (seal && seal->key_id == 0) {  // the benchmark baseline (DecideContext::seal_personal)
      LEDGER_INVARIANT(!ctx_.seal_personal);  // never plain personal data otherwise
      f.personal = seal->plaintext;
      seal.reset();
    } else if (seal) {  // a placeholder of the sealed size; the store seals into it
      f.personal_key_id = seal->key_id;
      f.personal.assign(seal->plaintext.size() + kSealOverheadBytes, '\0');
    }
    cmd.events.push_back({EncodeRecord(f, d.type, d.build), d.expected, std::move(seal)});
  }
  return cmd;
}

Status CheckId(const std::string& id, const std::string& pointer) {
  if (!IsValidEntityId(id)) return Field(pointer, "must match [A-Za-z0-9._:-]{1,64}");
  return Status::Ok();
}

Status CheckCurrency(const std::string& currency, const std::string& pointer) {
  if (!FindCurrency(currency).ok()) return Field(pointer, "unknown currency");
  return Status::Ok();
}

Status CheckPositive(int64_t amount, const std::string& pointer) {
  if (amount <= 0) return Field(pointer, "must be a positive amount in minor units");
  return Status::Ok();
}

std::string JoinNotes(const std::vector<std::string>& notes) {
  std::string out;
  for (const auto& n : notes) {
    if (!out.empty()) out += "; ";
    out += n;
  }
  return out;
}

std::string StreamOf(const std::string& kind, const std::string& merchant, const std::string& id) {
  return kind + "/" + merchant + "/" + id;
}

flatbuffers::Offset<schema::Money> MoneyOf(Fbb& b, int64_t amount, const std::string& currency) {
  return schema::CreateMoneyDirect(b, amount, currency.c_str());
}

flatbuffers::Offset<schema::FeeBreakdown> FeesOf(Fbb& b, const FeeBreakdown& fees) {
  std::vector<flatbuffers::Offset<schema::FeeLine>> lines;
  for (const FeeLine& l : fees.lines)
    lines.push_back(schema::CreateFeeLineDirect(
        b, l.contributor.c_str(), l.kind == FeeKind::kTax ? schema::FeeKind::Tax : schema::FeeKind::Fee,
        l.amount_minor, fees.currency.c_str(), l.percentage_part_minor, l.fixed_part_minor,
        l.payer_account.c_str(), l.payee_account.c_str()));
  return schema::CreateFeeBreakdownDirect(b, fees.recipe_version, &lines);
}

std::vector<flatbuffers::Offset<schema::Posting>> PostingsOf(Fbb& b, const std::vector<Posting>& postings) {
  std::vector<flatbuffers::Offset<schema::Posting>> out;
  for (const Posting& p : postings)
    out.push_back(schema::CreatePostingDirect(b, p.debit.c_str(), p.credit.c_str(), p.amount_minor,
                                              p.currency.c_str()));
  return out;
}

schema::Channel ChannelOf(Channel c) {
  switch (c) {
    case Channel::kWeb: return schema::Channel::Web;
    case Channel::kMarketplace: return schema::Channel::Marketplace;
    case Channel::kMall: return schema::Channel::Mall;
  }
  return schema::Channel::Unknown;
}

const MerchantState* FindMerchant(const DomainState& s, const std::string& merchant) {
  auto it = s.merchants.find(merchant);
  return it == s.merchants.end() ? nullptr : &it->second;
}

const Order* FindOrder(const MerchantState& m, const std::string& order_id) {
  auto it = m.orders.find(order_id);
  return it == m.orders.end() ? nullptr : &it->second;
}

// A command whose postings would take one of the merchant's own balances past int64 is
// refused (DECISIONS 104): a sum past it wrapped (a payout check once approved 10^18
// against a balance far below zero) and no read model could show it. Checked on the
// decided records, so every command that posts (captures, refunds, disputes, payouts,
// messages, provider facts) is covered by this one rule.
Status MerchantBalancesStayInRange(const DomainState& state, const std::string& merchant, const AppendCommand& cmd) {
  const MerchantState* m = FindMerchant(state, merchant);
  const std::string prefix = MerchantAccountPrefix(merchant);
  std::map<std::pair<std::string, std::string>, int64_t> after;  // the balances this command moves
  const auto move = [&](std::string_view account, std::string_view currency, int64_t amount, bool credit) {
    if (!account.starts_with(prefix)) return Status::Ok();
    std::pair<std::string, std::string> key{std::string(account), std::string(currency)};
    auto it = after.find(key);
    if (it == after.end()) {
      int64_t now = 0;
      if (m != nullptr)
        if (auto found = m->account_minor.find(key); found != m->account_minor.end()) now = found->second;
      it = after.emplace(std::move(key), now).first;
    }
    int64_t& balance = it->second;
    if (credit ? __builtin_add_overflow(balance, amount, &balance) : __builtin_sub_overflow(balance, amount, &balance))
      return Rule("amount-out-of-range", "this would take the balance of " + it->first.first + " in " + it->first.second +
                                             " past " + std::to_string(INT64_MAX) +
                                             " minor units either way, the most the ledger can hold");
    return Status::Ok();
  };
  for (const PendingEvent& e : cmd.events) {
    // Encoded just now by EventSink::Finish: read as it is, not verified again on the
    // decision thread (the store verifies every record it takes).
    const schema::Event* event = schema::GetEvent(e.record.data());
    const auto* postings = PostingsOfRecord(*event);
    if (postings == nullptr) continue;
    for (const auto* p : *postings) {
      const std::string_view currency = p->currency() ? p->currency()->string_view() : std::string_view();
      const std::string_view debit = p->debit() ? p->debit()->string_view() : std::string_view();
      const std::string_view credit = p->credit() ? p->credit()->string_view() : std::string_view();
      // Credit, then debit: the order the read models apply a posting's sides in
      // (fees_view.cc), which matters when both are the same account near a bound.
      LEDGER_RETURN_IF_ERROR(move(credit, currency, p->amount_minor(), /*credit=*/true));
      LEDGER_RETURN_IF_ERROR(move(debit, currency, p->amount_minor(), /*credit=*/false));
    }
  }
  return Status::Ok();
}

}  // namespace internal

Result<AppendCommand> Decide(const DomainState& state, const DecideContext& ctx, const Command& command) {
  using namespace internal;
  const bool platform = std::holds_alternative<PublishFeeRecipe>(command) ||
                        std::holds_alternative<PublishOutageNotice>(command) ||
                        std::holds_alternative<UpdateOutageNotice>(command) ||
                        std::holds_alternative<IssueKey>(command) || std::holds_alternative<RevokeKey>(command) ||
                        std::holds_alternative<PublishDigest>(command) ||
                        std::holds_alternative<PromoteWriter>(command);
  // Subscribers belong to a merchant or, with no merchant, to the platform.
  const bool either = std::holds_alternative<AddSubscriber>(command) || std::holds_alternative<RemoveSubscriber>(command) ||
                      std::holds_alternative<RecordNotification>(command);
  if (either ? !(ctx.merchant_id.empty() || IsValidMerchantId(ctx.merchant_id))
             : platform ? !ctx.merchant_id.empty() : !IsValidMerchantId(ctx.merchant_id))
    return Status::InvalidArgument(platform ? "this is a platform command, not a merchant's"
                                            : "merchant id must match [a-z0-9_]{1,32}");
  EventSink sink(ctx);
  Status s = std::visit(
      [&](const auto& c) -> Status {
        using T = std::decay_t<decltype(c)>;
        if constexpr (std::is_same_v<T, ConfigureMerchant> || std::is_same_v<T, OpenStore> ||
                      std::is_same_v<T, PublishListing> || std::is_same_v<T, RegisterCustomer> ||
                      std::is_same_v<T, SendMessage> || std::is_same_v<T, PublishFeeRecipe> ||
                      std::is_same_v<T, PublishOutageNotice> || std::is_same_v<T, UpdateOutageNotice> ||
                      std::is_same_v<T, IssueKey> || std::is_same_v<T, RevokeKey> ||
                      std::is_same_v<T, AddSubscriber> || std::is_same_v<T, RemoveSubscriber> ||
                      std::is_same_v<T, RecordNotification> || std::is_same_v<T, PublishDigest> ||
                      std::is_same_v<T, PromoteWriter> || std::is_same_v<T, EraseCustomer>)
          return DecideCatalog(state, ctx, command, sink);
        else if constexpr (std::is_same_v<T, PlaceOrder> || std::is_same_v<T, CancelOrder> ||
                           std::is_same_v<T, FulfilOrder> || std::is_same_v<T, RecordProviderOrder>)
          return DecideOrder(state, ctx, command, sink);
        else if constexpr (std::is_same_v<T, RecordProviderCapture> || std::is_same_v<T, RecordProviderRefund> ||
                           std::is_same_v<T, RecordProviderDispute>)
          return DecideProvider(state, ctx, command, sink);
        else if constexpr (std::is_same_v<T, OpenDispute> || std::is_same_v<T, SubmitDisputeEvidence> ||
                           std::is_same_v<T, AcceptDispute> || std::is_same_v<T, ResolveDispute> ||
                           std::is_same_v<T, SendPayout> || std::is_same_v<T, ReturnPayout> ||
                           std::is_same_v<T, RecordProviderDisputeOutcome>)
          return DecideDispute(state, ctx, command, sink);
        else
          return DecidePayment(state, ctx, command, sink);
      },
      command);
  if (!s.ok()) return s;
  AppendCommand decided = sink.Finish();
  if (!ctx.merchant_id.empty())
    LEDGER_RETURN_IF_ERROR(internal::MerchantBalancesStayInRange(state, ctx.merchant_id, decided));
  return decided;
}

std::string RuleCode(const Status& status) {
  if (status.code() != Code::kRuleViolated) return "";
  const auto colon = status.message().find(':');
  return colon == std::string::npos ? status.message() : status.message().substr(0, colon);
}

}  // namespace ledger::domain
