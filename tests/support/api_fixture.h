// The in-process API fixture: a store, a sequencer, the read models and every route on
// one router, with an admin key, two merchant keys (m1, m2) and an analyst key. Requests
// are plain values (no socket). Shared by the route tests.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <future>
#include <map>
#include <memory>
#include <string>

#include "api/auth.h"
#include "api/deadline_timer.h"
#include "api/route_support.h"
#include "api/routes.h"
#include "ledger/keyring.h"
#include "ledger/domain/sequencer.h"
#include "projections/projections.h"
#include "tests/support/temp_dir.h"

namespace testing_support {

using api::ApiContext;
using api::Json;
using api::Request;
using api::Response;
using api::Router;

class ApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ledger::StoreOptions o;
    o.path = dir.Sub("store");
    auto store = ledger::EventStore::Open(o);
    ASSERT_TRUE(store.ok());
    store_ = std::move(store).value();
    auto seq = ledger::domain::Sequencer::Start(store_.get(), ledger::ShardId(0));
    ASSERT_TRUE(seq.ok());
    seq_ = std::move(seq).value();
    projections::ProjectorOptions po;
    po.dir = dir.Sub("projections");
    po.bound = projections::SourceBound::kHead;  // no Kafka here: the store is the log
    auto p = projections::Projector::Open(po);
    ASSERT_TRUE(p.ok());
    projector_ = std::move(p).value();
    projector_->Follow(store_.get());
    ctx_.store = store_.get();
    // Not owned by the slot: the fixture stops the sequencer after the store closes.
    slot_.set({std::shared_ptr<ledger::domain::Sequencer>(seq_.get(), [](ledger::domain::Sequencer*) {}), ""});
    ctx_.writer = &slot_;
    ctx_.projector = projector_.get();
    ledger::SecretKey secrets{};
    secrets[0] = 42;
    auto keyring = store_->OpenKeyring(secrets);  // as ledgerd keeps it (closed before the store)
    ASSERT_TRUE(keyring.ok());
    keyring_ = std::move(keyring).value();
    ctx_.keyring = keyring_.get();
    api::AddRoutes(router_, ctx_);
    // The first admin key, as a writer on an empty log issues it.
    auto k = api::DrawKey();
    ASSERT_TRUE(k.ok());
    ledger::domain::CommandRequest r;
    r.command_id = {42, 42};
    r.command = ledger::domain::IssueKey{k->key_id, k->hash, ledger::domain::KeyRoleInput::kAdmin, ""};
    auto done = seq_->Execute(std::move(r));
    ASSERT_TRUE(done.ok());
    ASSERT_TRUE(projector_->WaitFor(done->first_position, 5000));
    admin_ = k->key;
    m1_ = IssueKey("merchant", "m1");
    m2_ = IssueKey("merchant", "m2");
    analyst_ = IssueKey("analyst", "");
  }

  Response Call(const std::string& method, const std::string& path, const std::string& key, const std::string& body = "",
                const std::map<std::string, std::string>& headers = {}) {
    Request r;
    r.method = method;
    // The target as sent, escapes and all: the router decodes it, as for the HTTP front.
    const size_t q = path.find('?');
    r.path = path.substr(0, q);
    if (q != std::string::npos) r.query_string = path.substr(q + 1);
    if (!key.empty()) r.headers["authorization"] = "Bearer " + key;
    for (const auto& [k, v] : headers) r.headers[k] = v;
    r.body = body;
    return Dispatch(r);
  }
  // POST /v1/subscribers of `id` (a public URL, topic outages) with `key`.
  Response AddSubscriber(const std::string& id, const std::string& key, const std::string& topic = "outages") {
    return Call("POST", "/v1/subscribers", key,
                nlohmann::json{{"subscriber_id", id},
                               {"url", "https://93.184.216.34/h"},
                               {"secret", "s3cret-s3cret-s3cret"},
                               {"topics", {topic}}}
                    .dump());
  }
  // Gives the routes a secrets key (--secrets-key-file), which subscribers need to seal
  // their secrets; the fixture's own, valid for the whole test.
  void UseSecretsKey() {
    subscriber_secrets_key_[5] = 9;
    ctx_.secrets_key = &subscriber_secrets_key_;
  }
  // As the HTTP front dispatches: a route may answer later (Request::answer_later), from
  // another thread, bounded by the fixture's timer; this waits for that answer.
  Response Dispatch(const Request& request) {
    auto r = std::make_shared<Request>(request);
    auto answer = std::make_shared<std::promise<Response>>();
    auto answered = std::make_shared<std::atomic<int>>(0);
    r->timer = timer_;
    r->answer_later = [r, answer, answered](Response resp) {
      if (answered->fetch_add(1) == 0) answer->set_value(std::move(resp));
      else ADD_FAILURE() << "a deferred route answered twice";
    };
    Response resp = router_.Dispatch(*r);
    r->answer_later = nullptr;
    if (!resp.deferred) return resp;
    std::future<Response> later = answer->get_future();
    if (later.wait_for(std::chrono::seconds(30)) != std::future_status::ready) {
      ADD_FAILURE() << "a deferred route never answered";
      return Response{500, "text/plain", {}, "never answered", false};
    }
    return later.get();
  }
  static Json Body(const Response& r) { return Json::parse(r.body); }
  static std::string Code(const Response& r) {
    Json b = Body(r);
    return b.contains("type") ? b["type"].get<std::string>().substr(std::string("urn:ledger:problem:").size()) : "";
  }
  static std::string HeaderOf(const Response& r, const std::string& name) {
    for (const auto& [k, v] : r.headers)
      if (k == name) return v;
    return "";
  }
  std::string IssueKey(const std::string& role, const std::string& merchant) {
    Response r = Call("POST", "/v1/keys", admin_, Json{{"role", role}, {"merchant_id", merchant}}.dump());
    EXPECT_EQ(r.status, 201) << r.body;
    return Body(r)["key"].get<std::string>();
  }
  // m1 with a store, a listing, a customer, an order o1 of 11300 and an authorization p1.
  void MerchantSetUp(const std::string& key) {
    ASSERT_EQ(Call("PUT", "/v1/merchant", key, R"({"settlement_currency":"USD"})").status, 200);
    ASSERT_EQ(Call("POST", "/v1/stores", key, R"({"store_id":"s1","name":"Shoes","channel":"web"})").status, 201);
    ASSERT_EQ(Call("POST", "/v1/stores/s1/listings", key,
                   R"({"sku":"sku-1","title":"Red Shoe","price":5000,"currency":"USD","stock":10})").status, 201);
    ASSERT_EQ(Call("POST", "/v1/customers", key, R"({"customer_id":"c1","store_id":"s1"})").status, 201);
    Response o = Call("POST", "/v1/orders", key,
                      R"({"order_id":"o1","store_id":"s1","customer_id":"c1","currency":"USD",
                          "lines":[{"sku":"sku-1","quantity":2,"unit_price":5000}],"shipping":500,"tax":800})");
    ASSERT_EQ(o.status, 201) << o.body;
    Response p = Call("POST", "/v1/payments", key,
                      R"({"payment_id":"p1","order_id":"o1","amount":11300,"currency":"USD","method":"card","provider":"stripe"})",
                      {{"idempotency-key", "auth-1"}});
    ASSERT_EQ(p.status, 201) << p.body;
  }

  testing_support::TempDir dir;
  std::unique_ptr<ledger::EventStore> store_;
  std::unique_ptr<ledger::domain::Sequencer> seq_;
  std::unique_ptr<projections::Projector> projector_;
  std::unique_ptr<ledger::Keyring> keyring_;
  api::WriterSlot slot_;
  ApiContext ctx_;
  Router router_;
  std::string admin_, m1_, m2_, analyst_;
  ledger::SecretKey subscriber_secrets_key_{};
  // Last, so it stops first: answers still waiting are given while the rest stands.
  std::shared_ptr<api::DeadlineTimer> timer_ = std::make_shared<api::DeadlineTimer>();
};

}  // namespace testing_support
