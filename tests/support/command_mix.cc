#include "tests/support/command_mix.h"

#include "ledger/chain_hash.h"

namespace testing_support {

using namespace ledger::domain;

Command CommandMix::Setup(int step) {
  switch (step) {
    case 0: return ConfigureMerchant{"USD", "", "", "", "", ""};
    case 1: return OpenStore{"s1", "store", ledger::Channel::kMarketplace};
    case 2: return PublishListing{"s1", "sku-1", "item", 2500, "USD", 1'000'000'000};
    default: return RegisterCustomer{"c1", "s1"};
  }
}

CommandRequest CommandMix::Request(uint64_t client, Command command) {
  CommandRequest r;
  r.merchant_id = merchant_;
  r.request_digest = ledger::Sha256Of(merchant_ + std::to_string(++issued_));
  r.command_id = {client, issued_};
  r.command = std::move(command);
  return r;
}

void CommandMix::Done(bool ok) {
  if (ok && then_) then_();
  then_ = nullptr;
}

Command CommandMix::Next() {
  then_ = nullptr;
  if (!pending_auth_.empty()) {
    std::string pay = Id("p");
    Command c = AuthorizePayment{pay, pending_auth_, 5000, "USD", "card", "paypal"};
    then_ = [this, pay] { authorized_.emplace_back(pay, 5000); };
    pending_auth_.clear();
    return c;
  }
  const int roll = static_cast<int>(rng_() % 100);
  if (roll < 35 && !authorized_.empty()) {
    auto [pay, amount] = authorized_.back();
    authorized_.pop_back();
    std::string cap = Id("k");
    then_ = [this, pay, cap, amount] { captured_.emplace_back(pay, cap, amount); };
    return CapturePayment{pay, cap, amount, ""};
  }
  if (roll < 45 && !captured_.empty()) {
    auto& [pay, cap, left] = captured_[rng_() % captured_.size()];
    const int64_t amount = std::min<int64_t>(left, 1 + rng_() % 2000);
    left -= amount;
    return RefundPayment{pay, Id("r"), cap, std::max<int64_t>(amount, 1)};
  }
  if (roll < 50 && !captured_.empty()) {
    if (!disputes_.empty() && rng_() % 2 == 0) {
      std::string d = disputes_.back();
      disputes_.pop_back();
      return ResolveDispute{d, rng_() % 2 ? DisputeOutcomeInput::kWon : DisputeOutcomeInput::kLost};
    }
    auto [pay, cap, left] = captured_[rng_() % captured_.size()];
    std::string d = Id("d");
    then_ = [this, d] { disputes_.push_back(d); };
    return OpenDispute{d, pay, cap, 1, "fraud"};
  }
  if (roll < 60) return RegisterCustomer{"c1", "s1"};  // "other": an update
  // Place an order; its authorization comes next, as part of checkout.
  std::string order = Id("o");
  then_ = [this, order] { pending_auth_ = order; };
  return PlaceOrder{order, "s1", "c1", "USD", {{"sku-1", 2, 2500}}, 0, 0};
}

}  // namespace testing_support
