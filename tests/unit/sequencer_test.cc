// The sequencer in front of a real store: durable decisions, idempotency across in-flight
// retries and restarts, state refolded from the log after a restart.
#include "ledger/domain/sequencer.h"
#include "ledger/domain/decider.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <random>
#include <thread>

#include "ledger/chain_hash.h"
#include "tests/support/faulty_read_store.h"
#include "tests/support/temp_dir.h"

using namespace ledger;
using namespace ledger::domain;
using testing_support::TempDir;

namespace {

// "x" + number without GCC 12's -Wrestrict false positive.
std::string Id(const char* prefix, uint64_t n) { return std::string(prefix).append(std::to_string(n)); }

class SequencerTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }
  void Open() {
    StoreOptions o;
    o.path = dir_.path();
    auto s = EventStore::Open(o);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    store_ = std::move(s).value();
    auto q = Sequencer::Start(store_.get(), ShardId(0));
    ASSERT_TRUE(q.ok()) << q.status().ToString();
    seq_ = std::move(q).value();
  }
  void Close() {
    seq_.reset();
    store_.reset();
  }
  CommandRequest Req(Command c, std::string key = "", std::string request = "") {
    CommandRequest r;
    r.merchant_id = "m1";
    r.idempotency_key = std::move(key);
    r.request_digest = Sha256Of(request.empty() ? std::to_string(++n_) : request);
    r.command_id = {7, (++n_) << 16};
    r.command = std::move(c);
    return r;
  }
  Result<CommandResult> Run(Command c, std::string key = "", std::string request = "") {
    return seq_->Execute(Req(std::move(c), std::move(key), std::move(request)));
  }
  void Story() {
    for (Command c : std::vector<Command>{
             ConfigureMerchant{"USD", "", "", "", "", ""}, OpenStore{"s1", "Main", Channel::kMarketplace},
             PublishListing{"s1", "sku-1", "Kettle", 5000, "USD", 10}, RegisterCustomer{"c1", "s1"},
             PlaceOrder{"1001", "s1", "c1", "USD", {{"sku-1", 2, 5000}}, 0, 0},
             AuthorizePayment{"p1", "1001", 10000, "USD", "card", "paypal"}}) {
      auto r = Run(c);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
  }

  TempDir dir_;
  std::unique_ptr<EventStore> store_;
  std::unique_ptr<Sequencer> seq_;
  uint64_t n_ = 0;
};

}  // namespace

TEST_F(SequencerTest, EmptyLogStartsWithTheDefaultRecipe) {
  EXPECT_EQ(store_->head().position, Position(1));
  auto first = store_->ReadRange(Position(1), 1);
  ASSERT_TRUE(first.ok());
  EXPECT_EQ(VerifyRecord(first->front().record)->body_type(), schema::EventBody::FeeRecipePublished);
}

TEST_F(SequencerTest, DecisionsAreDurableAndSurviveARestart) {
  Story();
  auto cap = Run(CapturePayment{"p1", "cap-1", 10000, ""}, "cap-key", "capture 10000");
  ASSERT_TRUE(cap.ok()) << cap.status().ToString();
  EXPECT_FALSE(cap->replayed);
  auto refund = Run(RefundPayment{"p1", "r1", "cap-1", 6000});
  ASSERT_TRUE(refund.ok());
  const Position head = store_->head().position;
  Close();
  Open();  // the state is refolded from the log; the recipe is not published again
  EXPECT_EQ(store_->head().position, head);
  auto over = Run(RefundPayment{"p1", "r2", "cap-1", 4001});
  ASSERT_FALSE(over.ok());
  EXPECT_EQ(RuleCode(over.status()), "refund-exceeds-refundable");
  EXPECT_TRUE(Run(RefundPayment{"p1", "r2", "cap-1", 4000}).ok());
  // The capture's idempotency key answers with its first result after the restart.
  auto again = Run(CapturePayment{"p1", "cap-1", 10000, ""}, "cap-key", "capture 10000");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->replayed);
  EXPECT_EQ(again->first_position, cap->first_position);
  auto reused = Run(CapturePayment{"p1", "cap-9", 1, ""}, "cap-key", "another request");
  EXPECT_EQ(reused.status().code(), Code::kIdempotencyKeyReused);
  Position through;
  EXPECT_TRUE(VerifyChain(*store_, &through).ok());
}

TEST_F(SequencerTest, RetriesInFlightGetTheFirstResultAndWriteNothing) {
  Story();
  const Position before = store_->head().position;
  constexpr int kRetries = 20;
  std::atomic<int> answered{0}, replayed{0}, failures{0};
  std::vector<uint64_t> positions(kRetries);
  for (int i = 0; i < kRetries; ++i) {
    seq_->Submit(Req(CapturePayment{"p1", "cap-1", 2500, ""}, "same-key", "capture 2500"),
                 [&, i](Result<CommandResult> r) {
                   if (!r.ok()) failures++;
                   else {
                     positions[i] = r->first_position.value();
                     if (r->replayed) replayed++;
                   }
                   answered++;
                 });
  }
  while (answered.load() < kRetries) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(replayed.load(), kRetries - 1);
  for (uint64_t p : positions) EXPECT_EQ(p, positions[0]);
  EXPECT_EQ(store_->head().position.value(), before.value() + 1);  // one capture event
}

TEST_F(SequencerTest, RuleErrorsWriteNothing) {
  Story();
  const Position before = store_->head().position;
  auto r = Run(CapturePayment{"p1", "cap-1", 10001, ""});
  EXPECT_EQ(RuleCode(r.status()), "capture-exceeds-authorized");
  auto bad = Run(CapturePayment{"p1", "cap 1", 1, ""});
  EXPECT_EQ(bad.status().code(), Code::kInvalidArgument);
  auto key = Run(CapturePayment{"p1", "cap-1", 1, ""}, "bad key with spaces");
  EXPECT_EQ(key.status().code(), Code::kInvalidArgument);
  EXPECT_EQ(store_->head().position, before);
}

// A command whose event is over the store's record limit (a 100 KB certificate) is refused
// as TooLarge with nothing written, and the sequencer goes on deciding: refused by the store
// after it was folded into the sequencer's state, it stopped every later write of every
// merchant until a restart.
TEST_F(SequencerTest, ACommandTooLargeForTheStoreIsRefusedAndTheNextIsDecided) {
  Story();
  const Position head = store_->head().position;
  auto big = Run(ConfigureMerchant{"USD", "wh-1", std::string(100000, 'c'), "", "", ""});
  EXPECT_EQ(big.status().code(), Code::kTooLarge) << big.status().ToString();
  EXPECT_EQ(store_->head().position, head);
  auto next = Run(OpenStore{"s2", "Second", Channel::kWeb});
  ASSERT_TRUE(next.ok()) << next.status().ToString();
  EXPECT_EQ(next->first_position, head.next());
  // The state holds only what was written: a restart's fold decides the same.
  Close();
  Open();
  EXPECT_EQ(Run(OpenStore{"s2", "Again", Channel::kWeb}).status().code(), Code::kRuleViolated);
}

// A store that would refuse the append (fenced, closing, its queue full: ReadyToAppend) gets
// the command refused before it is decided: nothing written, nothing folded, and the same
// command is decided once the store takes appends again. Folded first, the capture would
// have stayed in the sequencer's state without being in the log.
TEST_F(SequencerTest, ACommandTheStoreWouldRefuseIsRefusedBeforeItIsDecided) {
  Story();
  seq_->Stop();
  testing_support::FaultyReadStore refusing(store_.get());
  std::atomic<bool> fenced{true};
  refusing.ready_fault = [&] { return fenced.load() ? Status::NotWriter("fenced (injected)") : Status::Ok(); };
  auto seq = Sequencer::Start(&refusing, ShardId(0));
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  const Position head = store_->head().position;
  auto refused = (*seq)->Execute(Req(CapturePayment{"p1", "cap-1", 10000, ""}));
  EXPECT_EQ(refused.status().code(), Code::kNotWriter) << refused.status().ToString();
  EXPECT_EQ(store_->head().position, head);
  fenced = false;
  auto captured = (*seq)->Execute(Req(CapturePayment{"p1", "cap-1", 10000, ""}));
  ASSERT_TRUE(captured.ok()) << captured.status().ToString();
  EXPECT_EQ(captured->first_position, head.next());
  seq->reset();
}

// DESIGN §6: an idempotent retry whose first result is not yet acknowledgeable waits the same
// way. A retry that reaches a new sequencer (after a restart, or a demotion that timed out)
// found its key in the store and was answered at once, though the first write had not been
// acknowledged (no lease here; in production, not yet canonical): had it then been set
// aside by a promotion, the retry's "done" would be a write lost. So would a repeated
// provider fact answered "already recorded" while the command that recorded it waits.
TEST(SequencerAcknowledgement, RetriesAndRepeatsAreAnsweredOnlyWhenTheFirstWriteIsAcknowledgeable) {
  TempDir dir;
  StoreOptions o;
  o.path = dir.path();
  uint64_t n = 0;
  const auto request = [&](Command c, std::string key, std::string body) {
    CommandRequest r;
    r.merchant_id = "m1";
    r.idempotency_key = std::move(key);
    r.request_digest = Sha256Of(body);
    r.command_id = {11, ++n};
    r.command = std::move(c);
    return r;
  };
  {  // answered without a lease: the merchant, a store, a payment
    auto store = EventStore::Open(o);
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    auto seq = Sequencer::Start(store->get(), ShardId(0));
    ASSERT_TRUE(seq.ok());
    for (Command c : std::vector<Command>{
             ConfigureMerchant{"USD", "", "", "", "", ""}, OpenStore{"s1", "Main", Channel::kMarketplace},
             PublishListing{"s1", "sku-1", "Kettle", 5000, "USD", 10}, RegisterCustomer{"c1", "s1"},
             PlaceOrder{"1001", "s1", "c1", "USD", {{"sku-1", 2, 5000}}, 0, 0},
             AuthorizePayment{"p1", "1001", 10000, "USD", "card", "paypal"}})
      ASSERT_TRUE((*seq)->Execute(request(c, "", std::to_string(n))).ok());
  }
  o.ack_requires_lease = true;  // not renewed until the end: nothing may be acknowledged
  auto store = EventStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto first = Sequencer::Start(store->get(), ShardId(0));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  const Position before = (*store)->head().position;
  auto capture = (*first)->SubmitForFuture(request(CapturePayment{"p1", "cap-1", 4000, "PAY-REF-1"}, "k-1", "capture"));
  // The repeat of the provider's fact, decided while the capture is in flight.
  auto repeat_in_flight = (*first)->SubmitForFuture(
      request(RecordProviderCapture{"p1", "cap-1", 4000, "USD", "PAY-REF-1"}, "paypal:evt-1", "fact"));
  for (int i = 0; i < 5000 && (*store)->head().position == before; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_GT((*store)->head().position, before) << "the capture was not written";
  (*first)->Stop();
  auto second = Sequencer::Start(store->get(), ShardId(0));  // as after a timed-out demotion
  ASSERT_TRUE(second.ok()) << second.status().ToString();
  auto retry = (*second)->SubmitForFuture(request(CapturePayment{"p1", "cap-1", 4000, "PAY-REF-1"}, "k-1", "capture"));
  auto repeat = (*second)->SubmitForFuture(
      request(RecordProviderCapture{"p1", "cap-1", 4000, "USD", "PAY-REF-1"}, "paypal:evt-2", "fact again"));
  EXPECT_EQ(retry.wait_for(std::chrono::milliseconds(300)), std::future_status::timeout)
      << "a retry was answered before its first write could be acknowledged";
  EXPECT_EQ(repeat.wait_for(std::chrono::milliseconds(1)), std::future_status::timeout)
      << "a repeated fact was answered before the write that recorded it could be acknowledged";
  EXPECT_EQ(repeat_in_flight.wait_for(std::chrono::milliseconds(1)), std::future_status::timeout);
  EXPECT_EQ(capture.wait_for(std::chrono::milliseconds(1)), std::future_status::timeout);

  (*store)->RenewLease(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  for (auto* f : {&capture, &retry, &repeat, &repeat_in_flight})
    ASSERT_EQ(f->wait_for(std::chrono::seconds(10)), std::future_status::ready);
  auto c = capture.get();
  ASSERT_TRUE(c.ok()) << c.status().ToString();
  auto r = retry.get();
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_TRUE(r->replayed);
  EXPECT_EQ(r->first_position, c->first_position);
  auto p = repeat.get();
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->event_count, 0u) << "the fact was recorded once, by the capture";
  EXPECT_TRUE(repeat_in_flight.get().ok());
  second->reset();
  first->reset();
}

// A store that fails a command after the sequencer folded it leaves the state ahead of the
// log: that sequencer refuses everything after (failed(), which the writer's monitor
// watches), and a new one on the same store folds the log again and decides as if the
// failed command had never been.
TEST_F(SequencerTest, AFailedSequencerSaysSoAndANewOneDecidesFromTheLog) {
  Story();
  seq_->Stop();
  testing_support::FaultyReadStore failing(store_.get());
  std::atomic<bool> broken{true};
  failing.append_fault = [&] { return broken.load() ? Status::IOError("injected write failure") : Status::Ok(); };
  auto seq = Sequencer::Start(&failing, ShardId(0));
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  EXPECT_FALSE((*seq)->failed());
  EXPECT_EQ((*seq)->Execute(Req(CapturePayment{"p1", "cap-1", 10000, ""})).status().code(), Code::kIOError);
  EXPECT_TRUE((*seq)->failed());
  broken = false;
  EXPECT_EQ((*seq)->Execute(Req(OpenStore{"s2", "Second", Channel::kWeb})).status().code(), Code::kUnavailable);
  (*seq)->Stop();
  auto fresh = Sequencer::Start(&failing, ShardId(0));
  ASSERT_TRUE(fresh.ok()) << fresh.status().ToString();
  EXPECT_FALSE((*fresh)->failed());
  auto captured = (*fresh)->Execute(Req(CapturePayment{"p1", "cap-1", 10000, ""}));
  EXPECT_TRUE(captured.ok()) << "the failed capture is not in the new sequencer's state: " << captured.status().ToString();
  fresh->reset();
  seq->reset();
}

// A writer whose demotion timed out goes on writing with a new sequencer while the store
// may still hold the retired one's last commands, taken and not yet written (a stalled
// disk). The new sequencer folds only once they are in the log: folding before, it decided
// a second capture of a fully captured payment (the store had no rule against it).
TEST_F(SequencerTest, ANewSequencerFoldsOnlyOnceTheRetiredOnesCommandsAreWritten) {
  Story();  // payment p1 authorized for 10000
  seq_->Stop();
  testing_support::FaultyReadStore stalled(store_.get());
  auto first = Sequencer::Start(&stalled, ShardId(0));
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  stalled.HoldAppends();
  auto capture = (*first)->SubmitForFuture(Req(CapturePayment{"p1", "cap-1", 10000, ""}));
  const auto held_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (stalled.held_appends() == 0 && std::chrono::steady_clock::now() < held_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ(stalled.held_appends(), 1u);
  (*first)->Stop();  // retired, its capture still owed
  EXPECT_FALSE((*first)->settled()) << "the store still owes the retired sequencer its capture's answer";

  SequencerOptions impatient;
  impatient.start_wait_ms = 20;
  auto refused = Sequencer::Start(&stalled, ShardId(0), impatient);
  EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();

  auto second = std::async(std::launch::async, [&] { return Sequencer::Start(&stalled, ShardId(0)); });
  EXPECT_EQ(second.wait_for(std::chrono::milliseconds(200)), std::future_status::timeout)
      << "the new sequencer folded while the retired one's capture was not written";
  stalled.ReleaseHeldAppends();
  ASSERT_EQ(capture.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  ASSERT_TRUE(capture.get().ok());
  // Settled once the store's callback has returned (it counts down after answering).
  const auto settled_by = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!(*first)->settled() && std::chrono::steady_clock::now() < settled_by)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_TRUE((*first)->settled());
  auto started = second.get();
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  auto again = (*started)->Execute(Req(CapturePayment{"p1", "cap-2", 10000, ""}));
  EXPECT_EQ(again.status().code(), Code::kRuleViolated) << again.status().ToString();
  EXPECT_NE(again.status().message().find("capture-exceeds-authorized"), std::string::npos) << again.status().message();
  size_t captures = 0;
  auto log = store_->ReadRange(Position(1), 1000);
  ASSERT_TRUE(log.ok());
  for (const StoredEvent& e : *log)
    if (VerifyRecord(e.record)->body_type() == schema::EventBody::PaymentCaptured) ++captures;
  EXPECT_EQ(captures, 1u);
  // The new sequencer decides on.
  EXPECT_TRUE((*started)->Execute(Req(RefundPayment{"p1", "r-1", "cap-1", 100})).ok());
  started->reset();
  first->reset();
}

// Kafka gone for long (no lease): answers wait, held by the store, up to
// kAwaitingCanonicalCommandsMax commands; the next is refused (Unavailable, nothing
// written) and, once the lease is back, every held command is answered and the sequencer
// decides again. The store's own refusal, met after the command was folded into the
// sequencer's state, stopped it until a restart.
TEST(SequencerBound, CommandsBeyondTheAwaitingBoundAreRefusedAndDecidingResumes) {
  TempDir dir;
  StoreOptions o;
  o.path = dir.path();
  {  // the log's first command (the default recipe), answered without a lease
    auto first = EventStore::Open(o);
    ASSERT_TRUE(first.ok()) << first.status().ToString();
    ASSERT_TRUE(Sequencer::Start(first->get(), ShardId(0)).ok());
  }
  o.ack_requires_lease = true;  // never renewed until the end: every answer is held
  auto store = EventStore::Open(o);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto seq = Sequencer::Start(store->get(), ShardId(0));
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  uint64_t n = 0;
  const auto request = [&](Command c) {
    CommandRequest r;
    r.merchant_id = "m1";
    r.request_digest = Sha256Of(std::to_string(++n));
    r.command_id = {9, n};
    r.command = std::move(c);
    return r;
  };
  std::atomic<size_t> answered_ok{0}, answered_other{0};
  const auto count = [&](Result<CommandResult> r) { (r.ok() ? answered_ok : answered_other).fetch_add(1); };
  (*seq)->Submit(request(ConfigureMerchant{"USD", "", "", "", "", ""}), count);
  const size_t commands = kAwaitingCanonicalCommandsMax;  // the configuration above is one of them
  for (size_t i = 1; i < commands; ++i) {
    (*seq)->Submit(request(OpenStore{Id("s", i), "Store", Channel::kWeb}), count);
    if (i % 1024 == 0)  // within the sequencer's own queue
      for (int k = 0; k < 3000 && (*store)->head().position.value() < i; ++k)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  const uint64_t held_head = 1 + commands;  // the default recipe and the commands
  for (int k = 0; k < 30000 && (*store)->head().position.value() < held_head; ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  ASSERT_EQ((*store)->head().position.value(), held_head);
  EXPECT_EQ(answered_ok.load() + answered_other.load(), 0u) << "answered without a lease";

  auto refused = (*seq)->Execute(request(OpenStore{"over", "Store", Channel::kWeb}));
  EXPECT_EQ(refused.status().code(), Code::kUnavailable) << refused.status().ToString();
  EXPECT_EQ((*store)->head().position.value(), held_head);

  (*store)->RenewLease(std::chrono::steady_clock::now() + std::chrono::seconds(60));
  for (int k = 0; k < 10000 && answered_ok.load() + answered_other.load() < commands; ++k)
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  EXPECT_EQ(answered_ok.load(), commands);
  EXPECT_EQ(answered_other.load(), 0u);
  auto after = (*seq)->Execute(request(OpenStore{"over", "Store", Channel::kWeb}));
  ASSERT_TRUE(after.ok()) << after.status().ToString();
  EXPECT_EQ(after->first_position.value(), held_head + 1);
}

TEST_F(SequencerTest, ConcurrentMerchantsAreSequencedWithoutLosingAnything) {
  Story();
  constexpr int kThreads = 8, kOrders = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  std::atomic<uint64_t> ids{0};
  for (int t = 0; t < kThreads; ++t)
    threads.emplace_back([&, t] {
      for (int i = 0; i < kOrders; ++i) {
        CommandRequest r;
        r.merchant_id = "m1";
        r.request_digest = Sha256Of(Id("t", t) + "-" + std::to_string(i));
        r.command_id = {t + 100ull, ids.fetch_add(1) << 16};
        r.command = RegisterCustomer{Id("t", t) + "-" + std::to_string(i), "s1"};
        if (!seq_->Execute(std::move(r)).ok()) failures++;
      }
    });
  for (auto& th : threads) th.join();
  EXPECT_EQ(failures.load(), 0);
  Close();
  Open();
  // Every customer is known after the restart: registering again is an update.
  auto again = Run(RegisterCustomer{"t3-7", "s1"});
  ASSERT_TRUE(again.ok());
  auto rec = store_->ReadRange(again->first_position, 1);
  EXPECT_EQ(VerifyRecord(rec->front().record)->body_type(), schema::EventBody::CustomerUpdated);
}

namespace {

class ZeroClock : public Clock {
 public:
  int64_t NowMicros() override { return 1'700'000'000'000'000; }
};

// A deterministic workload over several merchants; returns each command's outcome.
std::vector<std::string> Workload(Sequencer& seq, uint64_t seed, int steps) {
  std::mt19937_64 rng(seed);
  std::vector<std::string> outcomes;
  uint64_t n = 0;
  auto run = [&](const std::string& m, Command c) {
    CommandRequest r;
    r.merchant_id = m;
    r.request_digest = Sha256Of(std::to_string(++n));
    r.command_id = {n, 0};
    r.command = std::move(c);
    auto res = seq.Execute(std::move(r));
    outcomes.push_back(res.ok() ? "ok@" + std::to_string(res->first_position.value()) : res.status().ToString());
  };
  const int kMerchants = 6;
  for (int i = 0; i < kMerchants; ++i) {
    const std::string m = Id("m", i);
    run(m, ConfigureMerchant{"USD", "", "", "", "", ""});
    run(m, OpenStore{"s1", "store", i % 2 ? Channel::kWeb : Channel::kMarketplace});
    run(m, PublishListing{"s1", "sku", "item", 1000, "USD", 1000});
    run(m, RegisterCustomer{"c1", "s1"});
  }
  for (int k = 0; k < steps; ++k) {
    const std::string m = Id("m", rng() % kMerchants);
    const std::string o = Id("o", rng() % 20), p = Id("p", rng() % 20);
    switch (rng() % 6) {
      case 0: run(m, PlaceOrder{o, "s1", "c1", "USD", {{"sku", 1 + int64_t(rng() % 3), 1000}}, 0, 0}); break;
      case 1: run(m, AuthorizePayment{p, o, 1000 + int64_t(rng() % 2000), "USD", "card", "paypal"}); break;
      case 2: run(m, CapturePayment{p, Id("k", rng() % 3), 1 + int64_t(rng() % 1500), ""}); break;
      case 3: run(m, RefundPayment{p, Id("r", k), Id("k", rng() % 3), 1 + int64_t(rng() % 800)}); break;
      case 4: run(m, SendPayout{Id("po", k), 1 + int64_t(rng() % 3000), "USD"}); break;
      case 5: run(m, OpenDispute{Id("d", k), p, Id("k", rng() % 3), 1 + int64_t(rng() % 500), "x"}); break;
    }
  }
  return outcomes;
}

struct Node {
  std::unique_ptr<EventStore> store;
  std::unique_ptr<Sequencer> seq;
};

Node OpenNode(const std::string& dir, Clock* clock, size_t cached_max) {
  StoreOptions o;
  o.path = dir;
  o.clock = clock;
  Node n;
  n.store = std::move(EventStore::Open(o)).value();
  SequencerOptions so;
  so.merchants_cached_max = cached_max;
  n.seq = std::move(Sequencer::Start(n.store.get(), ShardId(0), so)).value();
  return n;
}

std::vector<std::string> Log(EventStore& store) {
  std::vector<std::string> out;
  auto events = store.ReadRange(Position(1), kReadEventsMax);  // named: a temporary would dangle
  EXPECT_TRUE(events.ok());
  for (const auto& e : *events) out.push_back(e.record);
  EXPECT_LT(out.size(), kReadEventsMax);
  return out;
}

}  // namespace

// A sequencer that keeps two merchants in memory decides exactly as one that keeps all:
// same answers, same log byte for byte, also across a restart (snapshots of the earlier run
// are dropped and rebuilt).
TEST(SequencerCache, BoundedCacheDecidesExactlyAsTheUnboundedOne) {
  TempDir a, b;
  ZeroClock clock;
  Node bounded = OpenNode(a.path(), &clock, 2);
  Node unbounded = OpenNode(b.path(), &clock, 1000);
  EXPECT_EQ(Workload(*bounded.seq, 42, 400), Workload(*unbounded.seq, 42, 400));
  EXPECT_GT(bounded.seq->cache_stats().reloads, 50u);
  EXPECT_EQ(unbounded.seq->cache_stats().reloads, 0u);
  EXPECT_EQ(Log(*bounded.store), Log(*unbounded.store));
  bounded = {};
  unbounded = {};
  bounded = OpenNode(a.path(), &clock, 2);
  unbounded = OpenNode(b.path(), &clock, 1000);
  EXPECT_EQ(Workload(*bounded.seq, 43, 300), Workload(*unbounded.seq, 43, 300));
  EXPECT_EQ(Log(*bounded.store), Log(*unbounded.store));
}
