#include "tests/support/merchant_story.h"

#include <string>

#include "ledger/chain_hash.h"

namespace testing_support {

using namespace ledger::domain;
using ledger::Channel;

namespace {
void Must(DomainHarness& h, const std::string& merchant, const Command& c) {
  auto r = h.Run(merchant, c);
  LEDGER_INVARIANT(r.ok());
}
std::string Numbered(const char* prefix, int n) { return std::string(prefix).append(std::to_string(n)); }
}  // namespace

// Figures under the default recipe (USD: processing 2.90% + 30, platform 1%, marketplace
// 10% on the marketplace channel, dispute 1500, message 5; no sales-tax channels):
//   cap1 11300 web:          processing 328+30=358, platform 113, merchant net 10829
//   r1 1300 of cap1:         processing reverses its percentage part 38 (328*1300/11300 =
//                            37.7 -> 38), platform 13 (113*1300/11300 = 13)
//   cap2 6000 marketplace:   processing 174+30=204, marketplace 600, platform 60, net 5136
//   d1 on cap2, lost:        dispute fee 1500; the customer's 6000 goes back
//   msg1:                    communications 5
// Lifetime value: c1 11300 - 1300 = 10000 USD; c2 6000 - 6000 (lost) = 0.
// Storefront: s1 2 orders (o3 cancelled), sku-1 x2, net captured 10000; s2 1 order, sku-3
// x3, net captured 6000 (captured - refunded). Notice n1 is open while o1 is: c1 sees it.
void RunMerchantStory(DomainHarness& h, int extra_orders) {
  Must(h, "m1", ConfigureMerchant{"USD", "", "", "", "", ""});
  Must(h, "m1", OpenStore{"s1", "Shoes", Channel::kWeb});
  Must(h, "m1", OpenStore{"s2", "Hats", Channel::kMarketplace});
  Must(h, "m1", PublishListing{"s1", "sku-1", "Red Shoe", 5000, "USD", 1000000});
  Must(h, "m1", PublishListing{"s1", "sku-2", "Blue Shoe", 3000, "USD", 5});
  Must(h, "m1", PublishListing{"s2", "sku-3", "Red Hat", 2000, "USD", 20});
  Must(h, "m1", RegisterCustomer{"c1", "s1"});
  Must(h, "m1", RegisterCustomer{"c2", "s2"});
  Must(h, "", PublishOutageNotice{"n1", "payments", "minor", OutageStatusInput::kInvestigating,
                                  "card payments are slow", 1795651200000000, 1795651200000000});
  Must(h, "m1", PlaceOrder{"o1", "s1", "c1", "USD", {{"sku-1", 2, 5000}}, 500, 800});
  Must(h, "m1", AuthorizePayment{"p1", "o1", 11300, "USD", "card", "stripe"});
  Must(h, "m1", CapturePayment{"p1", "cap1", 11300, ""});
  Must(h, "", UpdateOutageNotice{"n1", OutageStatusInput::kIdentified, "a provider is slow", "major"});
  Must(h, "", UpdateOutageNotice{"n1", OutageStatusInput::kResolved, "recovered", ""});
  Must(h, "m1", PlaceOrder{"o2", "s2", "c2", "USD", {{"sku-3", 3, 2000}}, 0, 0});
  Must(h, "m1", AuthorizePayment{"p2", "o2", 6000, "USD", "card", "stripe"});
  Must(h, "m1", CapturePayment{"p2", "cap2", 6000, ""});
  Must(h, "m1", RefundPayment{"p1", "r1", "cap1", 1300});
  Must(h, "m1", OpenDispute{"d1", "p2", "cap2", 6000, "fraudulent", 0});
  Must(h, "m1", ResolveDispute{"d1", DisputeOutcomeInput::kLost});
  Must(h, "m1", SendMessage{"msg1", "c1", 0});
  Must(h, "m1", PlaceOrder{"o3", "s1", "c1", "USD", {{"sku-2", 1, 3000}}, 0, 0});
  Must(h, "m1", CancelOrder{"o3", "customer changed their mind"});
  Must(h, "m1", FulfilOrder{"o1"});
  Must(h, "", AddSubscriber{"sub1", "https://hooks.example.com/ledger", "sealed-secret", {"outages"}});
  Must(h, "", PublishOutageNotice{"n2", "api", "minor", OutageStatusInput::kInvestigating,
                                  "elevated errors", 1795651300000000, 1795651300000000});
  Must(h, "m2", ConfigureMerchant{"USD", "", "", "", "", ""});
  Must(h, "m2", OpenStore{"t1", "Scarves", Channel::kWeb});
  Must(h, "m2", PublishListing{"t1", "sku-9", "red scarf", 1500, "USD", 3});
  Must(h, "m2", RegisterCustomer{"c1", "t1"});
  // Keys: only their hashes enter the log.
  Must(h, "", IssueKey{"key-m1", ledger::Sha256Of("lk_story_m1"), KeyRoleInput::kMerchant, "m1"});
  Must(h, "", IssueKey{"key-analyst", ledger::Sha256Of("lk_story_analyst"), KeyRoleInput::kAnalyst, ""});
  Must(h, "", RevokeKey{"key-analyst"});
  for (int i = 0; i < extra_orders; ++i) {
    const std::string o = Numbered("x", i), p = Numbered("xp", i);
    Must(h, "m1", PlaceOrder{o, "s1", "c1", "USD", {{"sku-1", 1, 5000}}, 0, 0});
    Must(h, "m1", AuthorizePayment{p, o, 5000, "USD", "card", "stripe"});
    Must(h, "m1", CapturePayment{p, Numbered("xc", i), 5000, ""});
  }
}

StoryLog::StoryLog(const std::string& path, int extra_orders) {
  ledger::StoreOptions o;
  o.path = path;
  o.clock = &clock;
  auto s = ledger::EventStore::Open(o);
  LEDGER_INVARIANT(s.ok());
  store = std::move(s).value();
  DomainHarness h(store.get());
  RunMerchantStory(h, extra_orders);
  balances = h.Balances();
}

}  // namespace testing_support
