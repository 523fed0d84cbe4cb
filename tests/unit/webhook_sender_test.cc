// Webhooks out in process, with a short backoff: a subscriber that never answers 2xx is
// given up on after its attempts (each recorded) and the next notification goes on; a
// merchant's dispute reaches that merchant's subscriber only.
#include "api/webhook_sender.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "ledger/domain/sequencer.h"
#include "ledger/seal.h"
#include "projections/projections.h"
#include "tests/support/http_sink.h"
#include "tests/support/temp_dir.h"

using namespace ledger;
using namespace ledger::domain;
using Json = nlohmann::json;

namespace {

class WebhookSenderTest : public ::testing::Test {
 protected:
  void SetUp() override {
    StoreOptions o;
    o.path = dir.Sub("store");
    store = std::move(EventStore::Open(o)).value();
    sequencer = std::move(Sequencer::Start(store.get(), ShardId(0))).value();
    projections::ProjectorOptions po;
    po.dir = dir.Sub("projections");
    po.bound = projections::SourceBound::kHead;
    projector = std::move(projections::Projector::Open(po)).value();
    projector->Follow(store.get());
    key[0] = 7;
    ctx.store = store.get();
    slot.set({std::shared_ptr<Sequencer>(sequencer.get(), [](Sequencer*) {}), ""});
    ctx.writer = &slot;
    ctx.projector = projector.get();
    ctx.secrets_key = &key;
    ctx.allow_private_webhooks = true;
  }
  void Run(const std::string& merchant, Command c) {
    CommandRequest r;
    r.merchant_id = merchant;
    r.command_id = {++n, 9};
    r.command = std::move(c);
    auto done = sequencer->Execute(std::move(r));
    ASSERT_TRUE(done.ok()) << done.status().ToString();
    // No Kafka here: what is stored is canonical, as the embedded cluster would confirm.
    ASSERT_TRUE(store->StartNewKafkaIncarnation(Epoch(1), "n0").ok());
  }
  void Subscribe(const std::string& merchant, const std::string& id, int port, const std::string& topic) {
    AddSubscriber a{id, "http://127.0.0.1:" + std::to_string(port) + "/h", *Seal(key, "secret-secret-secret", "subscriber/" + id),
                    {topic}};
    Run(merchant, a);
  }
  size_t StreamEvents(const std::string& stream) {
    auto e = store->ReadStream(stream, StreamVersion(1), ReadDirection::kForward, 100);
    return e.ok() ? e->size() : 0;
  }

  testing_support::TempDir dir;
  std::unique_ptr<EventStore> store;
  std::unique_ptr<Sequencer> sequencer;
  std::unique_ptr<projections::Projector> projector;
  SecretKey key{};
  api::WriterSlot slot;
  api::ApiContext ctx;
  uint64_t n = 100;
};

TEST_F(WebhookSenderTest, AFailingSubscriberIsGivenUpOnAndTheNextNotificationGoesOn) {
  testing_support::HttpSink sink({500, 500, 500, 200});  // three failures give up n1; n2 is delivered
  Subscribe("", "ops", sink.port(), "outages");
  Run("", PublishOutageNotice{"n1", "api", "minor", OutageStatusInput::kInvestigating, "x", 0, 0});
  Run("", PublishOutageNotice{"n2", "api", "minor", OutageStatusInput::kInvestigating, "y", 0, 0});
  api::WebhookSender sender(ctx, {/*attempts_max=*/3, /*backoff_first_ms=*/20});
  ASSERT_TRUE(sink.WaitFor(4, 20000));
  const auto got = sink.received();
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Json::parse(got[i].body)["event"]["incident"]["notice_id"], "n1");
  EXPECT_EQ(Json::parse(got[3].body)["event"]["incident"]["notice_id"], "n2");
  // added + 3 failures (the last one gives up) + 1 delivery
  for (int i = 0; i < 200 && StreamEvents("subscriber/ops") < 5; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(StreamEvents("subscriber/ops"), 5u);
}

TEST_F(WebhookSenderTest, DisputesGoToTheirMerchantsSubscriberOnly) {
  testing_support::HttpSink m1_sink, m2_sink;
  Run("m1", ConfigureMerchant{"USD", "", "", "", "", ""});
  Run("m1", OpenStore{"s1", "S", Channel::kWeb});
  Run("m1", PublishListing{"s1", "k", "K", 1000, "USD", 10});
  Run("m1", RegisterCustomer{"c1", "s1"});
  Run("m1", PlaceOrder{"o1", "s1", "c1", "USD", {{"k", 1, 1000}}, 0, 0});
  Run("m1", AuthorizePayment{"p1", "o1", 1000, "USD", "card", "x"});
  Run("m1", CapturePayment{"p1", "cap1", 1000, ""});
  Run("m2", ConfigureMerchant{"USD", "", "", "", "", ""});
  Subscribe("m1", "m1-disputes", m1_sink.port(), "disputes");
  Subscribe("m2", "m2-disputes", m2_sink.port(), "disputes");
  Run("m1", OpenDispute{"d1", "p1", "cap1", 500, "fraud", 0});
  api::WebhookSender sender(ctx, {3, 20});
  ASSERT_TRUE(m1_sink.WaitFor(1, 20000));
  EXPECT_EQ(Json::parse(m1_sink.received()[0].body)["event"]["dispute_id"], "d1");
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  EXPECT_TRUE(m2_sink.received().empty()) << "another merchant's dispute reached m2";
}

// A merchant's subscriber is "<merchant>:<id>" in the log (DECISIONS 97) but is sent the id
// its owner chose, in the body's notification id and in X-Ledger-Notification-Id; one a
// merchant added before ids were scoped, and the platform's, get their ids as they are; an
// auditor's, "Auditors:<id>" in the log (DECISIONS 108), gets its chosen id too.
// Attempts are recorded under the id in the log.
TEST_F(WebhookSenderTest, ASubscriberIsSentTheIdItsOwnerChose) {
  testing_support::HttpSink scoped, legacy, platform, auditors;
  Subscribe("m1", "m1:hooks", scoped.port(), "outages");
  Subscribe("m2", "old", legacy.port(), "outages");
  Subscribe("", "ops", platform.port(), "outages");
  Subscribe("", "Auditors:feed", auditors.port(), "outages");
  Run("", PublishOutageNotice{"n1", "api", "minor", OutageStatusInput::kInvestigating, "x", 0, 0});
  api::WebhookSender sender(ctx, {3, 20});
  for (auto [sink, chosen] : {std::pair{&scoped, std::string("hooks")}, std::pair{&legacy, std::string("old")},
                              std::pair{&platform, std::string("ops")}, std::pair{&auditors, std::string("feed")}}) {
    ASSERT_TRUE(sink->WaitFor(1, 20000)) << chosen;
    const auto got = sink->received()[0];
    const std::string id = Json::parse(got.body)["notification_id"].get<std::string>();
    ASSERT_EQ(id.rfind(chosen + ":", 0), 0u) << id;
    const std::string position = id.substr(chosen.size() + 1);
    EXPECT_TRUE(!position.empty() && position.find_first_not_of("0123456789") == std::string::npos) << id;
    // The sink writes each header as "name:value" on a line of its own.
    const std::string name = "x-ledger-notification-id:";
    const size_t at = got.headers.find(name);
    ASSERT_NE(at, std::string::npos) << got.headers;
    const size_t from = got.headers.find_first_not_of(' ', at + name.size());
    const size_t end = got.headers.find_first_of("\r\n", from);
    EXPECT_EQ(got.headers.substr(from, end == std::string::npos ? std::string::npos : end - from), id);
    EXPECT_EQ(got.headers.find("m1:"), std::string::npos) << got.headers;
    EXPECT_EQ(got.headers.find("Auditors:"), std::string::npos) << got.headers;
  }
  // added + 1 delivery, on the stream of the id in the log
  for (int i = 0; i < 200 && StreamEvents("subscriber/m1:hooks") < 2; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(StreamEvents("subscriber/m1:hooks"), 2u);
}

// Two subscribers behind a long stretch of events neither wants (more than one read
// window) and then forty notices: each gets all forty, in log order, none twice (several
// per round, the log read once per round for both).
TEST_F(WebhookSenderTest, ManyNotificationsAfterALongStretchArriveInOrderToEverySubscriber) {
  testing_support::HttpSink a, b;
  Subscribe("", "ops-a", a.port(), "outages");
  Subscribe("", "ops-b", b.port(), "outages");
  Run("m1", ConfigureMerchant{"USD", "", "", "", "", ""});
  for (int i = 0; i < 4500; ++i) Run("m1", RegisterCustomer{std::string("c").append(std::to_string(i)), ""});
  for (int i = 0; i < 40; ++i)
    Run("", PublishOutageNotice{std::string("n").append(std::to_string(i)), "api", "minor", OutageStatusInput::kInvestigating, "x", 0, 0});
  api::WebhookSender sender(ctx, {3, 20});
  ASSERT_TRUE(a.WaitFor(40, 60000));
  ASSERT_TRUE(b.WaitFor(40, 60000));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // nothing more may come
  for (auto* sink : {&a, &b}) {
    const auto got = sink->received();
    ASSERT_EQ(got.size(), 40u);
    for (int i = 0; i < 40; ++i)
      EXPECT_EQ(Json::parse(got[i].body)["event"]["incident"]["notice_id"], std::string("n").append(std::to_string(i))) << i;
  }
}

}  // namespace
