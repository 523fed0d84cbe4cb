// Property test of the domain: seeded random command sequences (valid and invalid mixed)
// through Decide and Apply, checked after every command against a small reference model
// written only for this test, with its own arithmetic and its own copy of the default
// recipe's figures.
//
// LEDGER_PROPERTY_SEQUENCES (default 1500) sequences of LEDGER_PROPERTY_COMMANDS (default
// 60) commands; LEDGER_PROPERTY_SEED replays a run (the seed is printed).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <map>
#include <random>

#include "ledger/record_codec.h"
#include "tests/support/domain_harness.h"
#include "tests/support/temp_dir.h"

using namespace ledger;
using namespace ledger::domain;
using testing_support::DomainHarness;

namespace {

// "p" + number, written so that GCC 12 does not warn (-Wrestrict false positive).
std::string Id(const char* prefix, uint64_t n) {
  std::string out(prefix);
  out.append(std::to_string(n));
  return out;
}

uint64_t EnvOr(const char* name, uint64_t fallback) {
  const char* v = std::getenv(name);
  return v ? std::strtoull(v, nullptr, 10) : fallback;
}

// --- the reference model: plain integers, its own rounding, its own recipe figures ---

int64_t RefRoundHalfEven(int64_t num_a, int64_t num_b, int64_t den) {
  const __int128 n = static_cast<__int128>(num_a) * num_b;  // all inputs here are >= 0
  __int128 q = n / den;
  const __int128 twice_rest = (n - q * den) * 2;
  if (twice_rest > den || (twice_rest == den && q % 2 == 1)) ++q;
  return static_cast<int64_t>(q);
}

struct RefContributor {
  const char* name;
  int64_t bps;
  bool marketplace_only;
  bool refund_reverses_whole;  // else only the percentage part
};
constexpr RefContributor kRefCapture[] = {
    {"processing", 290, false, false}, {"marketplace", 1000, true, true}, {"platform", 100, false, true}};
int64_t RefProcessingFixed(const std::string& cur) { return cur == "USD" ? 30 : 40; }    // USD, JPY
int64_t RefDisputeFee(const std::string& cur) { return cur == "USD" ? 1500 : 2000; }
int64_t RefMessageFee(const std::string& cur) { return cur == "USD" ? 5 : 7; }

struct RefCapture {
  std::string merchant, currency;
  bool marketplace = false;
  int64_t gross = 0, refunded = 0, open_dispute = 0, lost = 0;
  int64_t Refundable() const { return gross - refunded - open_dispute - lost; }
  int64_t Charged(const RefContributor& c) const {
    if (c.marketplace_only && !marketplace) return 0;
    return RefRoundHalfEven(gross, c.bps, 10000) + (std::string(c.name) == "processing" ? RefProcessingFixed(currency) : 0);
  }
  int64_t Reversed(const RefContributor& c) const {
    if (c.marketplace_only && !marketplace) return 0;
    const int64_t part = c.refund_reverses_whole ? Charged(c) : RefRoundHalfEven(gross, c.bps, 10000);
    // Fees are reversed at most up to the whole capture, even after a provider over-refund.
    return RefRoundHalfEven(part, std::min(refunded, gross), gross);
  }
};

struct RefDispute {
  std::string payment, capture;
  int64_t amount = 0;
  bool resolved = false;
};

struct Reference {
  std::map<std::string, RefCapture> captures;  // "merchant/payment/capture"
  std::map<std::string, RefDispute> disputes;  // "merchant/dispute"
  std::map<std::string, int64_t> dispute_fees, message_fees;  // by currency
};

// --- the generator ---

struct MerchantSetup {
  std::string id, currency;
  Channel channel;
};
const MerchantSetup kMerchants[] = {{"m1", "USD", Channel::kMarketplace}, {"m2", "JPY", Channel::kWeb}};

class Sequence {
 public:
  explicit Sequence(uint64_t seed, EventStore* store = nullptr)
      : rng_(seed),
        h_(store ? std::make_unique<DomainHarness>(store, SequencerOptions{1}) : std::make_unique<DomainHarness>()) {}

  void Setup() {
    for (const auto& m : kMerchants) {
      Must(m.id, ConfigureMerchant{m.currency, "", "", "", "", ""});
      Must(m.id, OpenStore{"s1", "store", m.channel});
      for (int i = 0; i < 3; ++i) Must(m.id, PublishListing{"s1", "sku-" + std::to_string(i), "item", 1000, m.currency, 1000});
      for (int i = 0; i < 3; ++i) Must(m.id, RegisterCustomer{Id("c", i), "s1"});
    }
  }

  void Step() {
    const MerchantSetup& m = kMerchants[rng_() % 2];
    const MerchantState* st = h_->state().merchants.count(m.id) ? &h_->state().merchants.at(m.id) : nullptr;
    switch (rng_() % 18) {
      case 0: case 1: {
        std::vector<OrderLineInput> lines;
        for (int i = 0, n = 1 + rng_() % 3; i < n; ++i)
          lines.push_back({"sku-" + std::to_string(rng_() % 3), int64_t(1 + rng_() % 3), int64_t(rng_() % 5000)});
        Run(m.id, PlaceOrder{Id("o", n_++), "s1", Id("c", rng_() % 3), m.currency, lines,
                             int64_t(rng_() % 500), int64_t(rng_() % 500)});
        break;
      }
      case 2: case 3: {
        const std::string order = Pick(st ? Keys(st->orders) : std::vector<std::string>{});
        const int64_t total = st && st->orders.count(order) ? st->orders.at(order).total_minor : 100;
        Run(m.id, AuthorizePayment{Id("p", n_++), order, int64_t(1 + rng_() % (total + 1)), m.currency, "card", "paypal"});
        break;
      }
      case 4: case 5: case 6: {
        const std::string pay = Pick(st ? Keys(st->payments) : std::vector<std::string>{});
        const int64_t left = st && st->payments.count(pay) ? st->payments.at(pay).authorized_minor - st->payments.at(pay).captured_minor : 10;
        const int64_t amount = int64_t(1 + rng_() % (std::max<int64_t>(left, 1) + 2));
        const std::string cap = Id("k", n_++);
        if (Run(m.id, CapturePayment{pay, cap, amount, ""})) RecordCapture(m, pay, cap, amount);
        break;
      }
      case 7: case 8: {
        auto [pay, cap] = PickCapture(m.id);
        RefCapture* rc = ref_.captures.count(m.id + "/" + pay + "/" + cap) ? &ref_.captures[m.id + "/" + pay + "/" + cap] : nullptr;
        const int64_t amount = int64_t(1 + rng_() % ((rc ? rc->gross : 100) + 1));
        const bool ok = Run(m.id, RefundPayment{pay, Id("r", n_++), cap, amount});
        if (rc != nullptr) {
          // Refusal with refund-exceeds-refundable exactly when the reference says so.
          EXPECT_EQ(ok, amount <= rc->Refundable()) << "refund " << amount << " of refundable " << rc->Refundable();
          if (ok) rc->refunded += amount;
        }
        break;
      }
      case 9: {
        auto [pay, cap] = PickCapture(m.id);
        const std::string key = m.id + "/" + pay + "/" + cap;
        RefCapture* rc = ref_.captures.count(key) ? &ref_.captures[key] : nullptr;
        const int64_t amount = int64_t(1 + rng_() % ((rc ? rc->gross : 100) + 1));
        const std::string d = Id("d", n_++);
        const bool ok = Run(m.id, OpenDispute{d, pay, cap, amount, "fraud"});
        if (rc != nullptr) {
          const bool open_already = rc->open_dispute > 0;
          EXPECT_EQ(ok, !open_already && amount <= rc->Refundable());
          if (ok) {
            rc->open_dispute = amount;
            ref_.disputes[m.id + "/" + d] = {pay, cap, amount, false};
            ref_.dispute_fees[m.currency] += RefDisputeFee(m.currency);
          }
        }
        break;
      }
      case 10: {
        const std::string d = Pick(st ? Keys(st->disputes) : std::vector<std::string>{});
        const int kind = rng_() % 4;
        bool ok;
        if (kind == 0) ok = Run(m.id, SubmitDisputeEvidence{d, "proof"});
        else if (kind == 1) ok = Run(m.id, AcceptDispute{d});
        else ok = Run(m.id, ResolveDispute{d, kind == 2 ? DisputeOutcomeInput::kWon : DisputeOutcomeInput::kLost});
        auto rd = ref_.disputes.find(m.id + "/" + d);
        if (rd != ref_.disputes.end()) {
          EXPECT_EQ(ok, !rd->second.resolved) << "dispute " << d;
          if (ok && kind != 0) {
            rd->second.resolved = true;
            RefCapture& rc = ref_.captures[m.id + "/" + rd->second.payment + "/" + rd->second.capture];
            rc.open_dispute = 0;
            if (kind != 2) rc.lost += rd->second.amount;
          }
        }
        break;
      }
      case 11: {
        const int64_t available = st ? ledger::domain::AvailableMinor(*st, m.id, m.currency) : 0;
        Run(m.id, SendPayout{Id("po", n_++), int64_t(1 + rng_() % (std::max<int64_t>(available, 1) + 50)), m.currency});
        break;
      }
      case 12: Run(m.id, ReturnPayout{Pick(st ? Keys(st->payouts) : std::vector<std::string>{}), "returned"}); break;
      case 13: Run(m.id, CancelOrder{Pick(st ? Keys(st->orders) : std::vector<std::string>{}), "cancel"}); break;
      case 14: Run(m.id, FulfilOrder{Pick(st ? Keys(st->orders) : std::vector<std::string>{})}); break;
      case 16: {  // a provider capture: beyond the authorization now and then
        const std::string pay = Pick(st ? Keys(st->payments) : std::vector<std::string>{});
        if (!st || !st->payments.count(pay)) break;
        const Payment& p = st->payments.at(pay);
        const int64_t amount = int64_t(1 + rng_() % (std::max<int64_t>(p.authorized_minor - p.captured_minor, 1) + 100));
        const std::string cap = Id("pk", n_++);
        if (Run(m.id, RecordProviderCapture{pay, cap, amount, m.currency, cap})) RecordCapture(m, pay, cap, amount);
        break;
      }
      case 17: {  // a refund made at the provider: may exceed what was refundable
        auto [pay, cap] = PickCapture(m.id);
        const std::string key = m.id + "/" + pay + "/" + cap;
        if (!ref_.captures.count(key)) break;
        RefCapture& rc = ref_.captures[key];
        const int64_t amount = int64_t(1 + rng_() % (rc.gross + 50));
        const std::string ref = Id("pr", n_++);
        EXPECT_TRUE(Run(m.id, RecordProviderRefund{pay, ref, cap, amount, m.currency, ref})) << "provider facts are recorded";
        rc.refunded += amount;
        break;
      }
      case 15:
        if (Run(m.id, SendMessage{Id("msg", n_++), Id("c", rng_() % 4), 0}))
          ref_.message_fees[m.currency] += RefMessageFee(m.currency);
        break;
    }
  }

  void CheckInvariants() {
    const auto balances = h_->Balances();
    auto bal = [&](const std::string& account, const std::string& cur) {
      auto it = balances.find({account, cur});
      return it == balances.end() ? int64_t(0) : it->second;
    };
    std::map<std::string, int64_t> sum;
    for (const auto& [key, v] : balances) sum[key.second] += v;
    for (const auto& [cur, s] : sum) ASSERT_EQ(s, 0) << "balances do not sum to zero in " << cur;

    std::map<std::string, int64_t> customer, reserve;  // by currency / by merchant
    std::map<std::pair<std::string, std::string>, int64_t> fees;  // (contributor, currency)
    for (const auto& [key, c] : ref_.captures) {
      customer[c.currency] -= c.gross - c.refunded - c.lost;
      reserve[c.merchant] += c.open_dispute;
      for (const auto& rc : kRefCapture) fees[{rc.name, c.currency}] += c.Charged(rc) - c.Reversed(rc);
    }
    for (const auto& m : kMerchants) {
      ASSERT_EQ(bal("merchant:" + m.id + ":reserve", m.currency), reserve[m.id]) << "reserve of " << m.id;
      ASSERT_EQ(bal("external:customer", m.currency), customer[m.currency]) << "customer account " << m.currency;
      for (const auto& rc : kRefCapture)
        ASSERT_EQ(bal(std::string("platform:fees:") + rc.name, m.currency), (fees[{rc.name, m.currency}]))
            << rc.name << " fees in " << m.currency;
      ASSERT_EQ(bal("platform:fees:dispute", m.currency), ref_.dispute_fees[m.currency]);
      ASSERT_EQ(bal("platform:fees:communications", m.currency), ref_.message_fees[m.currency]);
    }
  }

  // No contributor is ever reversed more than it was charged, read from the events.
  void CheckReversalsFromEvents() {
    std::map<std::string, int64_t> net;  // capture/contributor -> charged + reversals (negative)
    for (const auto& r : h_->records()) {
      const schema::Event* e = VerifyRecord(r);
      const schema::FeeBreakdown* f = nullptr;
      std::string cap;
      if (e->body_type() == schema::EventBody::PaymentCaptured) {
        f = e->body_as_PaymentCaptured()->fees();
        cap = e->body_as_PaymentCaptured()->payment_id()->str() + "/" + e->body_as_PaymentCaptured()->capture_id()->str();
      } else if (e->body_type() == schema::EventBody::PaymentRefunded) {
        f = e->body_as_PaymentRefunded()->fees();
        cap = e->body_as_PaymentRefunded()->payment_id()->str() + "/" + e->body_as_PaymentRefunded()->capture_id()->str();
      }
      if (f == nullptr || f->lines() == nullptr) continue;
      for (const auto* l : *f->lines()) {
        int64_t& n = net[e->tenant()->str() + "/" + cap + "/" + l->contributor()->str()];
        n += l->amount_minor();
        ASSERT_GE(n, 0) << "contributor reversed beyond its charge on " << cap;
      }
    }
  }

  void CheckRebuild() {
    auto rebuilt = h_->Rebuild();
    ASSERT_TRUE(rebuilt.ok()) << rebuilt.status().ToString();
    for (const auto& m : kMerchants) {
      const auto& a = h_->state().merchants.at(m.id);
      const auto& b = rebuilt->merchants.at(m.id);
      ASSERT_EQ(a.account_minor, b.account_minor);
      ASSERT_EQ(a.orders.size(), b.orders.size());
      ASSERT_EQ(a.payments.size(), b.payments.size());
      ASSERT_EQ(a.disputes.size(), b.disputes.size());
    }
  }

  size_t accepted = 0, refused = 0;

 private:
  void RecordCapture(const MerchantSetup& m, const std::string& pay, const std::string& cap, int64_t amount) {
    RefCapture& rc = ref_.captures[m.id + "/" + pay + "/" + cap];
    rc.merchant = m.id;
    rc.currency = m.currency;
    rc.marketplace = m.channel == Channel::kMarketplace;
    rc.gross = amount;
  }
  bool Run(const std::string& merchant, const Command& c) {
    auto r = h_->Run(merchant, c);
    if (!r.ok()) {
      ++refused;
      // Refusals are rule errors or malformed input; never corruption or I/O.
      EXPECT_TRUE(r.status().code() == Code::kRuleViolated || r.status().code() == Code::kInvalidArgument)
          << r.status().ToString();
      return false;
    }
    ++accepted;
    return true;
  }
  void Must(const std::string& merchant, const Command& c) { ASSERT_TRUE(h_->Run(merchant, c).ok()); }
  template <typename M>
  static std::vector<std::string> Keys(const M& m) {
    std::vector<std::string> out;
    for (const auto& [k, v] : m) out.push_back(k);
    return out;
  }
  std::string Pick(const std::vector<std::string>& from) {
    if (from.empty() || rng_() % 10 == 0) return Id("none", rng_() % 3);  // sometimes unknown
    return from[rng_() % from.size()];
  }
  std::pair<std::string, std::string> PickCapture(const std::string& merchant) {
    std::vector<std::pair<std::string, std::string>> all;
    for (const auto& [key, c] : ref_.captures)
      if (c.merchant == merchant) {
        const auto a = key.find('/'), b = key.rfind('/');
        all.push_back({key.substr(a + 1, b - a - 1), key.substr(b + 1)});
      }
    if (all.empty() || rng_() % 10 == 0) return {"none", "none"};
    return all[rng_() % all.size()];
  }

  std::mt19937_64 rng_;
  std::unique_ptr<DomainHarness> h_;
  Reference ref_;
  uint64_t n_ = 0;
};

}  // namespace

TEST(DomainProperty, RandomSequencesKeepTheLedgerInvariants) {
  const uint64_t sequences = EnvOr("LEDGER_PROPERTY_SEQUENCES", 1500);
  const uint64_t commands = EnvOr("LEDGER_PROPERTY_COMMANDS", 60);
  const uint64_t seed = EnvOr("LEDGER_PROPERTY_SEED",
                              static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
  std::printf("domain property test: %llu sequences of %llu commands, seed %llu\n",
              static_cast<unsigned long long>(sequences), static_cast<unsigned long long>(commands),
              static_cast<unsigned long long>(seed));
  size_t accepted = 0, refused = 0;
  for (uint64_t i = 0; i < sequences; ++i) {
    Sequence s(seed + i);
    s.Setup();
    ASSERT_FALSE(HasFatalFailure());
    for (uint64_t k = 0; k < commands; ++k) {
      s.Step();
      s.CheckInvariants();
      if (HasFailure()) {
        ADD_FAILURE() << "sequence " << i << " step " << k << " (LEDGER_PROPERTY_SEED=" << seed + i
                      << " LEDGER_PROPERTY_SEQUENCES=1 replays it)";
        return;
      }
    }
    s.CheckReversalsFromEvents();
    s.CheckRebuild();
    if (HasFailure()) {
      ADD_FAILURE() << "sequence " << i << " (LEDGER_PROPERTY_SEED=" << seed + i << ")";
      return;
    }
    accepted += s.accepted;
    refused += s.refused;
  }
  std::printf("domain property test: %zu commands accepted, %zu refused, all invariants held\n", accepted, refused);
  EXPECT_GT(accepted, sequences * commands / 4) << "too few commands accepted to test anything";
  EXPECT_GT(refused, sequences * commands / 20) << "too few refusals to test the rules";
}

// A smaller run through the sequencer and a real store: the same checks on the records read
// back from the store, and the store's chain verifies. The sequencer keeps one merchant in
// memory, so every switch of merchant evicts one and reloads the other.
TEST(DomainProperty, DurableRunThroughTheSequencer) {
  const uint64_t sequences = EnvOr("LEDGER_PROPERTY_DURABLE_SEQUENCES", 12);
  const uint64_t commands = EnvOr("LEDGER_PROPERTY_COMMANDS", 60);
  const uint64_t seed = EnvOr("LEDGER_PROPERTY_SEED",
                              static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count()));
  std::printf("durable domain property test: %llu sequences, seed %llu\n", static_cast<unsigned long long>(sequences),
              static_cast<unsigned long long>(seed));
  for (uint64_t i = 0; i < sequences; ++i) {
    testing_support::TempDir dir;
    StoreOptions o;
    o.path = dir.path();
    auto store = EventStore::Open(o);
    ASSERT_TRUE(store.ok());
    {
      Sequence s(seed + i, store->get());
      s.Setup();
      ASSERT_FALSE(HasFatalFailure());
      for (uint64_t k = 0; k < commands; ++k) {
        s.Step();
        s.CheckInvariants();
        ASSERT_FALSE(HasFailure()) << "sequence " << i << " step " << k << " (LEDGER_PROPERTY_SEED=" << seed + i << ")";
      }
      s.CheckReversalsFromEvents();
      s.CheckRebuild();
      ASSERT_FALSE(HasFailure()) << "sequence " << i << " (LEDGER_PROPERTY_SEED=" << seed + i << ")";
    }
    Position through;
    Status chain = VerifyChain(**store, &through);
    ASSERT_TRUE(chain.ok()) << chain.ToString();
  }
}
