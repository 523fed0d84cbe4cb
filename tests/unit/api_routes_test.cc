// The HTTP routes in process (no socket): keys and roles, tenancy with a foreign key on
// every route family, problem+json for every kind of bad input, idempotency, positions,
// read-your-writes. Each bad request is also checked to change nothing.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <set>
#include <stdexcept>

#include <openssl/evp.h>

#include "api/auth.h"
#include "api/deadline_timer.h"
#include "api/list_support.h"
#include "api/rate_limit.h"
#include "api/route_support.h"
#include "api/routes.h"
#include "ledger/chain_hash.h"
#include "ledger/clock.h"
#include "ledger/domain/sequencer.h"
#include "ledger/position_token.h"
#include "ledger/seal.h"
#include "projections/projections.h"
#include "tests/support/api_fixture.h"
#include "tests/support/temp_dir.h"

using namespace api;
using ledger::Position;
using testing_support::ApiTest;

namespace {


TEST_F(ApiTest, TheMerchantStoryOverHttpWithFeesPositionsAndIdempotency) {
  MerchantSetUp(m1_);
  const std::string capture = R"({"capture_id":"cap1","amount":11300})";
  Response r = Call("POST", "/v1/payments/p1/captures", m1_, capture, {{"idempotency-key", "cap-1"}});
  ASSERT_EQ(r.status, 201) << r.body;
  // The capture answers with its fee breakdown (processing 2.9% + 30, platform 1%).
  EXPECT_EQ(Body(r)["contributors"]["processing"]["charged_minor"], 358);
  EXPECT_EQ(Body(r)["contributors"]["platform"]["charged_minor"], 113);
  EXPECT_EQ(Body(r)["merchant_net_at_capture_minor"], 10829);
  const std::string position = HeaderOf(r, "X-Ledger-Position");
  EXPECT_EQ(position.rfind("0:", 0), 0u) << position;
  const Position head = store_->head().position;

  // The same key and body: the first result, nothing written.
  Response again = Call("POST", "/v1/payments/p1/captures", m1_, capture, {{"idempotency-key", "cap-1"}});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(HeaderOf(again, "Idempotent-Replayed"), "true");
  EXPECT_EQ(HeaderOf(again, "X-Ledger-Position"), position);
  // The same key with another body: refused, nothing written.
  Response reused = Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap2","amount":1})",
                         {{"idempotency-key", "cap-1"}});
  EXPECT_EQ(reused.status, 422);
  EXPECT_EQ(Code(reused), "idempotency-key-reused");
  EXPECT_EQ(store_->head().position, head);

  // Reads, with read-your-writes.
  Response c = Call("GET", "/v1/customers/c1?min_position=" + position, m1_);
  ASSERT_EQ(c.status, 200) << c.body;
  EXPECT_EQ(Body(c)["lifetime_value_minor"]["USD"], 11300);
  Response b = Call("GET", "/v1/balances", m1_);
  ASSERT_EQ(b.status, 200);
  EXPECT_EQ(Body(b)["balances"]["merchant:m1:available"]["USD"], 10829);
  EXPECT_EQ(Body(b)["overflowed"], Json::array()) << "no balance reached the int64 bound";
  EXPECT_EQ(Body(b)["merchant_id"], "m1");
  Response refund = Call("POST", "/v1/payments/p1/refunds", m1_, R"({"refund_id":"r1","capture_id":"cap1","amount":1300})",
                         {{"idempotency-key", "ref-1"}});
  ASSERT_EQ(refund.status, 201) << refund.body;
  EXPECT_EQ(Body(refund)["contributors"]["processing"]["reversed_minor"], 38);
  EXPECT_EQ(Call("GET", "/v1/stores/s1", m1_).status, 200);
  EXPECT_EQ(Call("GET", "/v1/orders/o1", m1_).status, 200);
  Response fees = Call("GET", "/v1/fees?from=2000-01-01&to=2100-01-01", m1_);
  ASSERT_EQ(fees.status, 200);
  EXPECT_FALSE(Body(fees)["rows"].empty());
  EXPECT_EQ(Call("GET", "/v1/statements?from=2000-01-01&to=2100-01-01&currency=USD", m1_).status, 200);

  // Fee aggregates grouped as DESIGN §7 asks (combinable; the dimensions left out summed):
  // the capture of 11300 charged processing 358 and platform 113; the refund of 1300
  // reversed 38 and 13.
  Response by_contributor = Call("GET", "/v1/fees?from=2000-01-01&to=2100-01-01&group_by=contributor", m1_);
  ASSERT_EQ(by_contributor.status, 200) << by_contributor.body;
  EXPECT_EQ(Body(by_contributor)["rows"],
            Json::parse(R"([{"contributor":"platform","kind":"fee","currency":"USD","charged_minor":113,"reversed_minor":13,"net_minor":100,"overflowed":false},
                            {"contributor":"processing","kind":"fee","currency":"USD","charged_minor":358,"reversed_minor":38,"net_minor":320,"overflowed":false}])"));
  Response by_day = Call("GET", "/v1/fees?from=2000-01-01&to=2100-01-01&group_by=day", m1_);
  ASSERT_EQ(by_day.status, 200);
  ASSERT_EQ(Body(by_day)["rows"].size(), 1u) << by_day.body;
  EXPECT_EQ(Body(by_day)["rows"][0]["net_minor"], 420);
  EXPECT_EQ(Body(by_day)["rows"][0]["charged_minor"], 471);
  EXPECT_FALSE(Body(by_day)["rows"][0].contains("contributor"));
  EXPECT_FALSE(Body(by_day)["rows"][0].contains("merchant_id"));
  Response all_in_one = Call("GET", "/v1/fees?from=2000-01-01&to=2100-01-01&group_by=merchant,day,contributor", m1_);
  ASSERT_EQ(all_in_one.status, 200);
  EXPECT_EQ(Body(all_in_one), Body(fees)) << "all three named is the default";
  Response csv = Call("GET", "/v1/fees?from=2000-01-01&to=2100-01-01&group_by=contributor", m1_, "", {{"accept", "text/csv"}});
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(csv.body,
            "contributor,kind,currency,charged_minor,reversed_minor,net_minor,overflowed\r\n"
            "platform,fee,USD,113,13,100,false\r\nprocessing,fee,USD,358,38,320,false\r\n");
  for (const char* bad : {"week", "day,day", "day,", ",day", "Day"}) {
    Response refused = Call("GET", std::string("/v1/fees?from=2000-01-01&to=2100-01-01&group_by=") + bad, m1_);
    EXPECT_EQ(refused.status, 400) << bad;
    EXPECT_EQ(Body(refused)["pointer"], "/group_by") << bad;
  }
}

TEST_F(ApiTest, KeysAreNeededShownOnceAndRevocable) {
  for (const std::string& key : {std::string(), std::string("lk_nonsense"), std::string("lk_") + std::string(64, '0')}) {
    Response r = Call("GET", "/v1/balances", key);
    EXPECT_EQ(r.status, 401) << key;
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(Code(r), "unauthenticated");
  }
  Response list = Call("GET", "/v1/keys", admin_);
  ASSERT_EQ(list.status, 200);
  EXPECT_EQ(list.body.find(m1_), std::string::npos) << "a key was listed";
  EXPECT_EQ(list.body.find("key_hash"), std::string::npos);
  EXPECT_GE(Body(list)["keys"].size(), 4u);
  EXPECT_EQ(Body(list)["keys"][0]["role"].get<std::string>().find_first_of("ABCDEFGHIJKLMNOPQRSTUVWXYZ"), std::string::npos);
  // Revoked: refused from then on.
  std::string key_id;
  const Json listed = Body(list);  // named: a range-for over a temporary's member dangles
  for (const Json& k : listed["keys"])
    if (k["merchant_id"] == "m2") key_id = k["key_id"].get<std::string>();
  ASSERT_FALSE(key_id.empty()) << list.body;
  EXPECT_EQ(Call("GET", "/v1/balances", m2_).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/keys/" + key_id, admin_).status, 200);
  EXPECT_EQ(Call("GET", "/v1/balances", m2_).status, 401);
  // Roles: only admins issue keys and publish outages; merchants cannot.
  EXPECT_EQ(Call("POST", "/v1/keys", m1_, R"({"role":"admin"})").status, 403);
  EXPECT_EQ(Call("POST", "/v1/outages", m1_, R"({"notice_id":"n1","component":"api","impact":"minor"})").status, 403);
  EXPECT_EQ(Call("POST", "/v1/stores", analyst_, R"({"store_id":"s9","name":"x"})").status, 403);
  EXPECT_EQ(Call("POST", "/v1/keys", admin_, R"({"role":"emperor"})").status, 400);
  // A retried key request never answers a key that was not issued.
  Response first = Call("POST", "/v1/keys", admin_, R"({"role":"analyst"})", {{"idempotency-key", "k-1"}});
  ASSERT_EQ(first.status, 201);
  Response retry = Call("POST", "/v1/keys", admin_, R"({"role":"analyst"})", {{"idempotency-key", "k-1"}});
  EXPECT_EQ(retry.status, 200);
  EXPECT_FALSE(Body(retry).contains("key")) << retry.body;
  EXPECT_EQ(Call("GET", "/v1/balances?merchant_id=m1", Body(first)["key"].get<std::string>()).status, 200);
  EXPECT_EQ(Call("POST", "/v1/keys", admin_, R"({"role":"merchant"})").status, 400);  // a merchant key names its merchant
}

TEST_F(ApiTest, AForeignMerchantKeySeesAndChangesNothingOfAnotherTenant) {
  MerchantSetUp(m1_);
  ASSERT_EQ(Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap1","amount":11300})",
                 {{"idempotency-key", "c"}}).status, 201);
  const Position head = store_->head().position;
  // Reads: 404, as if the ids did not exist.
  for (const char* path : {"/v1/customers/c1", "/v1/orders/o1", "/v1/orders/o1/fees", "/v1/stores/s1"}) {
    Response r = Call("GET", path, m2_);
    EXPECT_EQ(r.status, 404) << path << " " << r.body;
    EXPECT_EQ(Code(r), "not-found");
  }
  EXPECT_EQ(Body(Call("GET", "/v1/balances", m2_))["balances"], Json::object());
  // Writes on m1's resources: not found for m2, nothing written.
  const std::map<std::string, std::string> key = {{"idempotency-key", "x"}};
  EXPECT_EQ(Call("POST", "/v1/payments/p1/captures", m2_, R"({"capture_id":"cap9","amount":1})", key).status, 404);
  EXPECT_EQ(Call("POST", "/v1/payments/p1/refunds", m2_, R"({"refund_id":"r9","capture_id":"cap1","amount":1})", key).status, 404);
  EXPECT_EQ(Call("POST", "/v1/payments/p1/void", m2_, "{}").status, 404);
  EXPECT_EQ(Call("POST", "/v1/orders/o1/cancel", m2_, "{}").status, 404);
  EXPECT_EQ(Call("POST", "/v1/stores/s1/listings", m2_, R"({"sku":"x","title":"x","price":1,"currency":"USD","stock":1})").status,
            404);
  EXPECT_EQ(Call("POST", "/v1/disputes", m2_, R"({"dispute_id":"d9","payment_id":"p1","capture_id":"cap1","amount":1})", key)
                .status,
            404);
  EXPECT_EQ(store_->head().position, head) << "a foreign key wrote something";
}

// GET /v1/orders/{order_id}/fees (DESIGN §9) answered 404 "no such route". It answers the
// order's fee breakdown: each capture of its payments, and totals per currency. Two
// payments of one order each capture "X" (capture ids are unique per payment only): the
// fees read model kept one record per capture id, so the second capture's answer and a
// refund of the first showed the other payment's record (DECISIONS 102).
TEST_F(ApiTest, AnOrdersFeeBreakdownListsEveryCaptureOfItsPayments) {
  MerchantSetUp(m1_);
  ASSERT_EQ(Call("POST", "/v1/orders", m1_,
                 R"({"order_id":"o2","store_id":"s1","customer_id":"c1","currency":"USD",
                     "lines":[{"sku":"sku-1","quantity":1,"unit_price":5000}],"shipping":0,"tax":0})")
                .status,
            201);
  const std::vector<std::pair<std::string, int64_t>> payments = {{"pa", 2000}, {"pb", 3000}};  // o2's 5000
  for (const auto& [payment, amount] : payments) {
    const Json authorize = {{"payment_id", payment}, {"order_id", "o2"}, {"amount", amount}, {"currency", "USD"},
                            {"method", "card"},      {"provider", "stripe"}};
    ASSERT_EQ(Call("POST", "/v1/payments", m1_, authorize.dump(), {{"idempotency-key", "auth-" + payment}}).status, 201);
  }
  Response a = Call("POST", "/v1/payments/pa/captures", m1_, R"({"capture_id":"X","amount":2000})",
                    {{"idempotency-key", "cap-pa"}});
  ASSERT_EQ(a.status, 201) << a.body;
  EXPECT_EQ(Body(a)["payment_id"], "pa");
  Response b = Call("POST", "/v1/payments/pb/captures", m1_, R"({"capture_id":"X","amount":3000})",
                    {{"idempotency-key", "cap-pb"}});
  ASSERT_EQ(b.status, 201) << b.body;
  EXPECT_EQ(Body(b)["payment_id"], "pb") << "the answer is this payment's capture";
  EXPECT_EQ(Body(b)["gross_minor"], 3000);
  Response refund = Call("POST", "/v1/payments/pa/refunds", m1_, R"({"refund_id":"r1","capture_id":"X","amount":500})",
                         {{"idempotency-key", "ref-pa"}});
  ASSERT_EQ(refund.status, 201) << refund.body;
  EXPECT_EQ(Body(refund)["payment_id"], "pa") << "the refund lands on its own payment's capture";
  EXPECT_EQ(Body(refund)["gross_minor"], 2000);
  EXPECT_EQ(Body(refund)["refunded_minor"], 500);

  const std::string position = HeaderOf(refund, "X-Ledger-Position");
  Response fees = Call("GET", "/v1/orders/o2/fees?min_position=" + position, m1_);
  ASSERT_EQ(fees.status, 200) << fees.body;
  const Json f = Body(fees);
  EXPECT_EQ(f["merchant_id"], "m1");
  EXPECT_EQ(f["order_id"], "o2");
  ASSERT_EQ(f["captures"].size(), 2u);
  EXPECT_EQ(f["captures"][0], Body(refund)) << "pa's X, as the refund answered it";
  EXPECT_EQ(f["captures"][1]["payment_id"], "pb");
  EXPECT_EQ(f["captures"][1]["refunded_minor"], 0);
  const Json& usd = f["totals"]["USD"];
  EXPECT_EQ(usd["captures"], 2);
  EXPECT_EQ(usd["gross_minor"], 5000);
  EXPECT_EQ(usd["refunded_minor"], 500);
  EXPECT_EQ(usd["contributors"]["processing"]["charged_minor"].get<int64_t>(),
            f["captures"][0]["contributors"]["processing"]["charged_minor"].get<int64_t>() +
                f["captures"][1]["contributors"]["processing"]["charged_minor"].get<int64_t>());
  EXPECT_EQ(usd["merchant_net_minor"].get<int64_t>(),
            f["captures"][0]["merchant_net_minor"].get<int64_t>() + f["captures"][1]["merchant_net_minor"].get<int64_t>());
  EXPECT_FALSE(usd.contains("overflowed"));
  EXPECT_EQ(HeaderOf(fees, "ETag"), HeaderOf(Call("GET", "/v1/orders/o2", m1_), "ETag")) << "the order's version";
  EXPECT_FALSE(HeaderOf(fees, "ETag").empty());

  // An order without captures: empty lists. An unknown order: 404.
  Response none = Call("GET", "/v1/orders/o1/fees", m1_);
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(Body(none)["captures"], Json::array());
  EXPECT_EQ(Body(none)["totals"], Json::object());
  Response unknown = Call("GET", "/v1/orders/nope/fees", m1_);
  EXPECT_EQ(unknown.status, 404);
  EXPECT_EQ(Code(unknown), "not-found");
  EXPECT_EQ(HeaderOf(unknown, "ETag"), "");
  // Another merchant's key: 404 as if the order did not exist; naming m1: 403.
  Response foreign = Call("GET", "/v1/orders/o2/fees", m2_);
  EXPECT_EQ(foreign.status, 404) << foreign.body;
  EXPECT_EQ(Code(foreign), "not-found");
  EXPECT_EQ(Call("GET", "/v1/orders/o2/fees?merchant_id=m1", m2_).status, 403);
  // Analysts name the merchant, as on the other reads of one resource.
  Response unnamed = Call("GET", "/v1/orders/o2/fees", analyst_);
  EXPECT_EQ(unnamed.status, 400) << unnamed.body;
  EXPECT_EQ(Code(unnamed), "invalid-field");
  EXPECT_EQ(Body(unnamed)["pointer"], "/merchant_id");
  Response named = Call("GET", "/v1/orders/o2/fees?merchant_id=m1", analyst_);
  ASSERT_EQ(named.status, 200) << named.body;
  EXPECT_EQ(Body(named), f);
  EXPECT_EQ(Call("GET", "/v1/orders/o2/fees?merchant_id=m2", analyst_).status, 404);
  // Merchants and analysts only: an admin key is refused.
  EXPECT_EQ(Call("GET", "/v1/orders/o2/fees?merchant_id=m1", admin_).status, 403);
}

TEST_F(ApiTest, BadInputGetsAClearProblemAndChangesNothing) {
  MerchantSetUp(m1_);
  const Position head = store_->head().position;
  struct Case {
    std::string method, path, body;
    int status;
    std::string code, pointer;
  };
  const std::vector<Case> cases = {
      {"POST", "/v1/stores", "{not json", 400, "malformed-json", ""},
      {"POST", "/v1/stores", "[1,2]", 400, "malformed-json", ""},
      {"POST", "/v1/stores", R"({"name":"x"})", 400, "invalid-field", "/store_id"},
      {"POST", "/v1/stores", R"({"store_id":7,"name":"x"})", 400, "invalid-field", "/store_id"},
      {"POST", "/v1/stores", R"({"store_id":"bad id!","name":"x"})", 400, "invalid-field", "/store_id"},
      {"POST", "/v1/stores", R"({"store_id":"s2","name":"x","channel":"tv"})", 400, "invalid-field", "/channel"},
      {"POST", "/v1/stores/s1/listings", R"({"sku":"k","title":"t","price":"5000","currency":"USD","stock":1})", 400,
       "invalid-field", "/price"},
      {"POST", "/v1/stores/s1/listings", R"({"sku":"k","title":"t","price":50.5,"currency":"USD","stock":1})", 400,
       "invalid-field", "/price"},
      {"POST", "/v1/stores/s1/listings", R"({"sku":"k","title":"t","price":18446744073709551615,"currency":"USD","stock":1})",
       400, "invalid-field", "/price"},
      {"POST", "/v1/stores/s1/listings", R"({"sku":"k","title":"t","price":100,"currency":"XXX","stock":1})", 400,
       "invalid-field", "/currency"},
      {"POST", "/v1/orders", R"({"order_id":"o9","store_id":"s1","customer_id":"c1","currency":"USD","lines":[{"sku":"sku-1","quantity":"2","unit_price":1}]})",
       400, "invalid-field", "/lines/0/quantity"},
      {"POST", "/v1/customers", R"({"customer_id":"c9","email":"ada.example.com"})", 400, "invalid-field", "/email"},
      {"POST", "/v1/customers", R"({"customer_id":"c9","name":7})", 400, "invalid-field", "/name"},
      {"POST", "/v1/customers", R"({"customer_id":"c9","address":{"country":"Germany"}})", 400, "invalid-field", "/address/country"},
      {"POST", "/v1/customers", R"({"customer_id":"c9","address":"Main St 1"})", 400, "invalid-field", "/address"},
      // An address part the API does not know is refused, not read as "no part given" (which
      // would remove the address and hash its text unsealed into the digest).
      {"POST", "/v1/customers", R"({"customer_id":"c9","address":{"street":"Hauptstr. 5","zip":"10115"}})", 400,
       "invalid-field", "/address"},
      {"POST", "/v1/payments/p1/captures", R"({"capture_id":"cap1","amount":-5})", 0, "", ""},  // see below
      {"POST", "/v1/payments/p1/captures", R"({"capture_id":"cap1","amount":999999})", 422, "rule-violated", ""},
      {"GET", "/v1/statements?from=2026-13-99&to=x", "", 400, "invalid-field", "/from"},
      {"GET", "/v1/statements?from=2026-01-01&to=2026-12-31&currency=%FF", "", 400, "invalid-field", ""},
      {"GET", "/v1/customers/c1?min_position=banana", "", 400, "invalid-field", "/min_position"},
      {"GET", "/v1/customers/c1?min_position=7:1", "", 400, "invalid-field", ""},
      {"GET", "/v1/nothing", "", 404, "not-found", ""},
      {"DELETE", "/v1/stores", "", 405, "method-not-allowed", ""},
      // A NUL cut the stored string short ("evil" of "evil\u0000@x.com"), past the checks.
      {"POST", "/v1/customers", R"({"customer_id":"c9","email":"evil\u0000@x.com"})", 400, "invalid-field", "/email"},
      {"POST", "/v1/customers", R"({"customer_id":"c9","name":"Eve\u0000Hidden"})", 400, "invalid-field", "/name"},
      {"POST", "/v1/stores", R"({"store_id":"s2","name":"bell\u0007"})", 400, "invalid-field", "/name"},
      {"POST", "/v1/stores/s1/listings", R"({"sku":"k","title":"t\u001b[2J","price":100,"currency":"USD","stock":1})",
       400, "invalid-field", "/title"},
      // A provider's settings of another type than an object were taken for absent: cleared.
      {"PUT", "/v1/merchant", R"({"settlement_currency":"USD","paypal":"x"})", 400, "invalid-field", "/paypal"},
      {"PUT", "/v1/merchant", R"({"settlement_currency":"USD","ebay":5})", 400, "invalid-field", "/ebay"},
      {"PUT", "/v1/merchant", R"({"settlement_currency":"USD","paypal":{"webhook_id":"w","cert_pem":"garbage"}})", 400,
       "invalid-field", "/paypal/cert_pem"},
      {"PUT", "/v1/merchant", R"({"settlement_currency":"USD","ebay":{"public_key":"zz"}})", 400, "invalid-field",
       "/ebay/public_key"},
      // Calendar days only, the problem pointing at the parameter (it named none).
      {"GET", "/v1/fees?from=2026-02-30&to=2026-03-01", "", 400, "invalid-field", "/from"},
      {"GET", "/v1/fees?from=2026-03-01&to=2026-02-30", "", 400, "invalid-field", "/to"},
      {"GET", "/v1/statements?from=2026-02-29&to=2026-03-01&currency=USD", "", 400, "invalid-field", "/from"},
      {"GET", "/v1/statements?from=2026-13-01&to=2026-12-31&currency=USD", "", 400, "invalid-field", "/from"},
      {"GET", "/v1/statements?from=2026-01-01&to=2026-1-31&currency=USD", "", 400, "invalid-field", "/to"},
      {"GET", "/v1/statements?to=2026-12-31&currency=USD", "", 400, "invalid-field", "/from"},
      {"GET", "/v1/statements?from=2026-01-01&currency=USD", "", 400, "invalid-field", "/to"},
      {"GET", "/v1/statements?from=2026-03-01&to=2026-02-28&currency=USD", "", 400, "invalid-field", "/to"},
      {"GET", "/v1/statements?from=2026-01-01&to=2026-12-31&currency=usd", "", 400, "invalid-field", "/currency"},
      {"GET", "/v1/statements?from=2026-01-01&to=2026-12-31&currency=USDX", "", 400, "invalid-field", "/currency"},
      // A subscriber's URL and secret are checked before the node's secrets key is asked for.
      {"POST", "/v1/subscribers", R"({"subscriber_id":"s9","url":"https://93.184.216.34:99999/h","secret":"s3cret-s3cret-s3cret","topics":["outages"]})",
       400, "invalid-field", "/url"},
      {"POST", "/v1/subscribers", R"({"subscriber_id":"s9","url":"https://93.184.216.34/h\r\nX-Evil: 1","secret":"s3cret-s3cret-s3cret","topics":["outages"]})",
       400, "invalid-field", "/url"},
      {"POST", "/v1/subscribers", R"({"subscriber_id":"s9","url":"https://203.0.113.7/h","secret":"s3cret-s3cret-s3cret","topics":["outages"]})",
       400, "invalid-field", "/url"},
      {"POST", "/v1/subscribers", R"({"subscriber_id":"s9","url":"https://93.184.216.34/h","secret":"                ","topics":["outages"]})",
       400, "invalid-field", "/secret"},
      // A batch's items are checked whole before any runs: the first item would have run.
      {"POST", "/v1/batch", R"({"items":[{"method":"POST","path":"/v1/stores","body":{"store_id":"s8","name":"x"}},{"method":"POST","path":"/v1/stores","idempotency_key":""}]})",
       400, "invalid-field", "/items/1/idempotency_key"},
  };
  int n = 0;
  for (const Case& c : cases) {
    std::map<std::string, std::string> headers = {{"idempotency-key", "bad-" + std::to_string(++n)}};
    Response r = Call(c.method, c.path, m1_, c.body, headers);
    if (c.status == 0) {  // a negative amount: a field or rule error, never a write
      EXPECT_TRUE(r.status == 400 || r.status == 422) << r.body;
      continue;
    }
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body << " -> " << r.body;
    EXPECT_EQ(r.content_type, "application/problem+json");
    EXPECT_EQ(Code(r), c.code) << r.body;
    if (!c.pointer.empty()) {
      EXPECT_EQ(Body(r)["pointer"], c.pointer) << r.body;
    }
  }
  // Money moves only with an Idempotency-Key.
  Response no_key = Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap1","amount":100})");
  EXPECT_EQ(no_key.status, 400);
  EXPECT_EQ(Code(no_key), "idempotency-key-required");
  // Too large.
  Response big = Call("POST", "/v1/stores", m1_, std::string(kBodyBytesMax + 1, ' '));
  EXPECT_EQ(big.status, 413);
  EXPECT_EQ(Code(big), "body-too-large");
  EXPECT_EQ(store_->head().position, head) << "a refused request wrote something";
  // A field that makes the event too large for the store: 413, nothing written, and the
  // node goes on writing (it stopped every tenant's writes until a restart).
  Response long_id = Call("PUT", "/v1/merchant", m1_,
                          R"({"settlement_currency":"USD","paypal":{"webhook_id":")" + std::string(100000, 'w') + "\"}}");
  EXPECT_EQ(long_id.status, 413) << long_id.body;
  EXPECT_EQ(Code(long_id), "body-too-large");
  EXPECT_EQ(store_->head().position, head);
  Response after = Call("POST", "/v1/stores", m2_, R"({"store_id":"s9","name":"Next"})");
  EXPECT_EQ(after.status, 201) << after.body;
  // A leap day is a day.
  EXPECT_EQ(Call("GET", "/v1/fees?from=2028-02-29&to=2028-03-01", m1_).status, 200);
  // A position not reached in time: 503 with Retry-After.
  Response lag = Call("GET", "/v1/customers/c1?min_position=0:999999", m1_);
  EXPECT_EQ(lag.status, 503);
  EXPECT_EQ(Code(lag), "projection-lagging");
  EXPECT_EQ(HeaderOf(lag, "Retry-After"), "1");
}

TEST_F(ApiTest, AdminOutagesShowOnThePublicStatusPage) {
  Response r = Call("POST", "/v1/outages", admin_,
                    R"({"notice_id":"n1","component":"payments","impact":"minor","status":"investigating","message":"slow"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(Body(r)["status"], "Investigating");
  Response page = Call("GET", "/v1/status", "");
  ASSERT_EQ(page.status, 200);
  EXPECT_EQ(Body(page)["components"][0]["status"], "minor");
  ASSERT_EQ(Call("POST", "/v1/outages/n1/updates", admin_, R"({"status":"resolved","message":"ok"})").status, 200);
  EXPECT_EQ(Body(Call("GET", "/v1/status", ""))["overall"], "operational");
  EXPECT_EQ(Call("POST", "/v1/outages/n1/updates", admin_, R"({"status":"gone"})").status, 400);
  // The mall is public too.
  MerchantSetUp(m1_);
  Response mall = Call("GET", "/v1/mall?q=red", "");
  ASSERT_EQ(mall.status, 200);
  EXPECT_EQ(Body(mall)["listings"].size(), 1u);
}

// The log for auditors and standbys: whole batches, the stored bytes, paged by `next`,
// never past the canonical head; a standby rebuilding from them gets the same chain.
TEST_F(ApiTest, TheLogIsServedAsWholeCanonicalBatches) {
  MerchantSetUp(m1_);
  const std::string auditor = IssueKey("auditor", "");
  EXPECT_TRUE(Body(Call("GET", "/v1/log", auditor))["batches"].empty()) << "nothing is canonical yet";
  // As a node's start on the embedded cluster does: the local log becomes canonical.
  ASSERT_TRUE(store_->StartNewKafkaIncarnation(ledger::Epoch(1), "n0").ok());
  EXPECT_EQ(Call("GET", "/v1/log", m1_).status, 403);
  std::vector<std::string> got;
  std::string from = "0:1";
  for (int page = 0; page < 100; ++page) {
    Response r = Call("GET", "/v1/log?from=" + from + "&limit=3", auditor);
    ASSERT_EQ(r.status, 200) << r.body;
    const Json b = Body(r);
    if (b["batches"].empty()) break;
    EXPECT_LE(b["batches"].size(), 3u);
    for (const Json& batch : b["batches"]) {
      got.push_back(batch["first_position"].get<std::string>());
      // Each record is the stored bytes (base64) with the stored hash.
      const uint64_t first = std::stoull(batch["first_position"].get<std::string>().substr(2));
      for (size_t i = 0; i < batch["records"].size(); ++i) {
        auto stored_event = store_->ReadRange(Position(first + i), 1);
        ASSERT_TRUE(stored_event.ok() && stored_event->size() == 1);
        const std::string b64 = batch["records"][i]["record"].get<std::string>();
        std::string raw(b64.size(), '\0');
        int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(raw.data()),
                                reinterpret_cast<const unsigned char*>(b64.data()), static_cast<int>(b64.size()));
        ASSERT_GE(n, 0);
        raw.resize(static_cast<size_t>(n) - (b64.size() >= 2 && b64[b64.size() - 2] == '=' ? 2 : b64.back() == '=' ? 1 : 0));
        EXPECT_EQ(raw, stored_event->front().record);
        EXPECT_EQ(batch["records"][i]["hash"], ledger::ToHex(stored_event->front().hash));
      }
    }
    from = b["next"].get<std::string>();
  }
  auto stored = store_->ReadBatchInfos(Position(1), 100000);
  ASSERT_TRUE(stored.ok());
  ASSERT_EQ(got.size(), stored->size());  // the store here is its own canonical log (head)
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], "0:" + std::to_string((*stored)[i].first.value()));
  Response digest = Call("GET", "/v1/audit/digest", auditor);
  ASSERT_EQ(digest.status, 200);
  EXPECT_EQ(Body(digest)["hash"], ledger::ToHex(store_->canonical_mark().hash));
  for (const ledger::BatchInfo& b : *stored)
    if (b.last > b.first) {  // a position inside a batch is not a place to start from
      EXPECT_EQ(Call("GET", "/v1/log?from=0:" + std::to_string(b.first.value() + 1), auditor).status, 400);
      break;
    }
  EXPECT_EQ(Call("GET", "/v1/log?limit=0", auditor).status, 400);
  // One stream, its name URL-encoded as one segment.
  Response stream = Call("GET", "/v1/streams/order%2Fm1%2Fo1", auditor);
  ASSERT_EQ(stream.status, 200) << stream.body;
  EXPECT_EQ(Body(stream)["events"][0]["stream_version"], 1);
  EXPECT_EQ(Body(Call("GET", "/v1/streams/order%2Fm1%2Fo1?direction=backward&limit=1", auditor))["events"].size(), 1u);
  EXPECT_EQ(Call("GET", "/v1/streams/order%2Fm9%2Fnone", auditor).status, 404);
  EXPECT_EQ(Call("GET", "/v1/streams/order%2Fm1%2Fo1?direction=sideways", auditor).status, 400);
  EXPECT_EQ(Call("GET", "/v1/streams/order%2Fm1%2Fo1", m1_).status, 403);
  EXPECT_EQ(Call("GET", "/v1/log?limit=abc", auditor).status, 400);
  EXPECT_EQ(Call("GET", "/v1/log?from=3:1", auditor).status, 400);
}

// The OpenAPI document kept in the repo describes exactly the routes the node serves.
TEST_F(ApiTest, TheOpenApiDocumentDescribesEveryRouteAndNoOther) {
  Response r = Call("GET", "/v1/openapi.json", "");
  ASSERT_EQ(r.status, 200);
  const Json doc = Body(r);
  EXPECT_EQ(doc["openapi"], "3.0.3");
  std::set<std::string> served, documented;
  for (const std::string& route : router_.Routes()) {
    const size_t sp = route.find(' ');
    std::string method = route.substr(0, sp);
    for (char& ch : method) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    served.insert(method + " " + route.substr(sp + 1));
  }
  for (const auto& [path, ops] : doc["paths"].items())
    for (const auto& [method, op] : ops.items()) {
      if (path.rfind("/health", 0) == 0 || path == "/metrics") continue;  // served by the HTTP front itself
      documented.insert(method + " " + path);
      if (path != "/v1/openapi.json" && path != "/v1/status" && path != "/v1/mall") {
        EXPECT_TRUE(op.contains("responses") && op["responses"].contains("401")) << method << " " << path;
      }
    }
  EXPECT_EQ(served, documented);
}

TEST_F(ApiTest, ListsPageByCursorAnswerCsvAndKeepToTheirTenant) {
  MerchantSetUp(m1_);
  for (const char* id : {"s2", "s3"})
    ASSERT_EQ(Call("POST", "/v1/stores", m1_, Json{{"store_id", id}, {"name", "x"}}.dump()).status, 201);
  Response page1 = Call("GET", "/v1/stores?limit=2", m1_);
  ASSERT_EQ(page1.status, 200) << page1.body;
  const Json p1 = Body(page1);
  ASSERT_EQ(p1["items"].size(), 2u);
  ASSERT_TRUE(p1["next_cursor"].is_string());
  const Json p2 = Body(Call("GET", "/v1/stores?limit=2&cursor=" + p1["next_cursor"].get<std::string>(), m1_));
  ASSERT_EQ(p2["items"].size(), 1u);
  EXPECT_TRUE(p2["next_cursor"].is_null());
  EXPECT_EQ(p2["items"][0]["store_id"], "s3");
  // A cursor is only good for its own list: m2 cannot walk m1's stores with it.
  EXPECT_EQ(Call("GET", "/v1/stores?cursor=" + p1["next_cursor"].get<std::string>(), m2_).status, 400);
  EXPECT_EQ(Call("GET", "/v1/stores?cursor=zz", m1_).status, 400);
  for (const char* bad : {"100000", "-1", "0", " 5", "5x", "", "9999999999999999999999"})
    EXPECT_EQ(Call("GET", std::string("/v1/stores?limit=") + bad, m1_).status, *bad ? 400 : 200) << bad;
  EXPECT_TRUE(Body(Call("GET", "/v1/stores", m2_))["items"].empty());
  EXPECT_EQ(Body(Call("GET", "/v1/stores", analyst_))["items"].size(), 3u);  // analysts see every tenant
  Response csv = Call("GET", "/v1/customers", m1_, "", {{"accept", "text/csv"}});
  ASSERT_EQ(csv.status, 200);
  EXPECT_EQ(csv.content_type, "text/csv; charset=utf-8");
  EXPECT_EQ(csv.body.rfind("channel,customer_id,", 0), 0u) << csv.body;
  EXPECT_NE(csv.body.find("\r\n"), std::string::npos) << "RFC 4180 lines";
  // A cell a spreadsheet would run as a formula, also behind a tab or a carriage return,
  // is written behind a quote; one that begins with the quote itself gets another, so
  // "'=x" stays apart from "=x". Numbers are numbers.
  const Json rows = Json::array({Json{{"a", "=1+1"}, {"b", "\tx"}}, Json{{"a", "\rx"}, {"b", "'=x"}},
                                 Json{{"a", "-5"}, {"b", -5}}, Json{{"a", "plain"}, {"b", "it's"}}});
  EXPECT_EQ(ToCsv(rows), "a,b\r\n'=1+1,'\tx\r\n\"'\rx\",''=x\r\n'-5,-5\r\nplain,it's\r\n");
  EXPECT_NE(csv.body.find("c1"), std::string::npos);

  ASSERT_EQ(Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap1","amount":11300})",
                 {{"idempotency-key", "c1"}}).status, 201);
  ASSERT_EQ(Call("POST", "/v1/disputes", m1_, R"({"dispute_id":"d1","payment_id":"p1","capture_id":"cap1","amount":300})",
                 {{"idempotency-key", "d1"}}).status, 201);
  Response pay = Call("GET", "/v1/payments/p1", m1_);
  ASSERT_EQ(pay.status, 200) << pay.body;
  EXPECT_EQ(Body(pay)["captures"].size(), 1u);
  EXPECT_EQ(Body(pay)["disputes"][0]["dispute_id"], "d1");
  EXPECT_EQ(Call("GET", "/v1/payments/p1", m2_).status, 404);
  EXPECT_EQ(Body(Call("GET", "/v1/disputes?status=open", m1_))["items"].size(), 1u);
  EXPECT_TRUE(Body(Call("GET", "/v1/disputes?status=resolved", m1_))["items"].empty());
  EXPECT_EQ(Call("GET", "/v1/disputes?status=maybe", m1_).status, 400);
}

// The dispute writes answer the dispute as GET /v1/disputes lists it (DESIGN §9: the
// resource after the command; they answered the payment, {dispute_id} and {dispute_id,
// outcome}). A dispute opened without an evidence due date gets the API's clock plus seven
// days (it got 0). GET /v1/disputes filters by status before it counts the page (a page came
// short, or empty, with a cursor), and an analyst reads every merchant's without
// merchant_id (it was 400) (DECISIONS 108).
TEST_F(ApiTest, DisputeWritesAnswerTheDisputeAndItsListPagesOverTheFilteredSet) {
  MerchantSetUp(m1_);
  const std::vector<std::string> ids = {"d1", "d2", "d3", "d4", "d5", "d6"};
  for (size_t i = 0; i < ids.size(); ++i) {
    const Json capture = {{"capture_id", "cap-" + ids[i]}, {"amount", 1000}};
    ASSERT_EQ(Call("POST", "/v1/payments/p1/captures", m1_, capture.dump(), {{"idempotency-key", "cap-" + ids[i]}}).status,
              201);
  }
  const auto open_dispute = [&](const std::string& id, const Json& extra) {
    Json body = {{"dispute_id", id}, {"payment_id", "p1"}, {"capture_id", "cap-" + id}, {"amount", 100}, {"reason", "fraud"}};
    body.update(extra);
    return Call("POST", "/v1/disputes", m1_, body.dump(), {{"idempotency-key", "open-" + id}});
  };
  constexpr int64_t kWeekUs = int64_t{7} * 24 * 3600 * 1000000;
  const int64_t before_us = ledger::SystemClock()->NowMicros();
  const Response d1 = open_dispute("d1", Json::object());
  const int64_t after_us = ledger::SystemClock()->NowMicros();
  ASSERT_EQ(d1.status, 201) << d1.body;
  const Json opened = Body(d1);
  EXPECT_EQ(opened["dispute_id"], "d1");
  EXPECT_EQ(opened["payment_id"], "p1");
  EXPECT_EQ(opened["order_id"], "o1");
  EXPECT_EQ(opened["capture_id"], "cap-d1");
  EXPECT_EQ(opened["merchant_id"], "m1");
  EXPECT_EQ(opened["status"], "open");
  EXPECT_EQ(opened["amount"]["amount_minor"], 100);
  EXPECT_EQ(opened["payment"]["payment_id"], "p1") << "the payment it answered before, kept under payment";
  const int64_t due = opened["evidence_due_at_us"].get<int64_t>();
  EXPECT_GE(due, before_us + kWeekUs) << opened.dump();
  EXPECT_LE(due, after_us + kWeekUs) << opened.dump();
  // 0 is "none" too; a date given is kept.
  const Response d2 = open_dispute("d2", {{"evidence_due_at_us", 0}});
  ASSERT_EQ(d2.status, 201) << d2.body;
  EXPECT_GE(Body(d2)["evidence_due_at_us"].get<int64_t>(), before_us + kWeekUs);
  for (const char* id : {"d3", "d4", "d5"}) ASSERT_EQ(open_dispute(id, Json::object()).status, 201) << id;
  const Response d6 = open_dispute("d6", {{"evidence_due_at_us", 1900000000000000}});
  ASSERT_EQ(d6.status, 201) << d6.body;
  EXPECT_EQ(Body(d6)["evidence_due_at_us"], 1900000000000000);

  // Evidence, accept and resolve answer the dispute after the command.
  const Response evidence = Call("POST", "/v1/disputes/d4/evidence", m1_, R"({"evidence_ref":"tracking-1"})",
                                 {{"idempotency-key", "ev-d4"}});
  ASSERT_EQ(evidence.status, 200) << evidence.body;
  EXPECT_EQ(Body(evidence)["dispute_id"], "d4");
  EXPECT_EQ(Body(evidence)["status"], "evidence_submitted");
  EXPECT_EQ(Body(evidence)["capture_id"], "cap-d4");
  const Response accepted = Call("POST", "/v1/disputes/d2/accept", m1_, "{}", {{"idempotency-key", "acc-d2"}});
  ASSERT_EQ(accepted.status, 200) << accepted.body;
  EXPECT_EQ(Body(accepted)["dispute_id"], "d2");
  EXPECT_EQ(Body(accepted)["status"], "resolved");
  EXPECT_EQ(Body(accepted)["outcome"], "Accepted");
  for (const auto& [id, outcome] : std::vector<std::pair<std::string, std::string>>{{"d3", "won"}, {"d5", "lost"}}) {
    const Response r = Call("POST", "/v1/disputes/" + id + "/resolve", admin_,
                            Json{{"outcome", outcome}, {"merchant_id", "m1"}}.dump(), {{"idempotency-key", "res-" + id}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(Body(r)["dispute_id"], id);
    EXPECT_EQ(Body(r)["outcome"], outcome) << "the word this route always answered";
    EXPECT_EQ(Body(r)["status"], "resolved");
    EXPECT_EQ(Body(r)["payment_id"], "p1");
    EXPECT_TRUE(Body(r).contains("resolved_at_us")) << r.body;
  }

  // Open: d1, d4 (evidence submitted), d6; resolved: d2, d3, d5. Every page but the last is full.
  const auto page = [&](const std::string& query, const std::string& key) {
    return Body(Call("GET", "/v1/disputes?" + query, key));
  };
  const auto ids_of = [](const Json& p) {
    std::vector<std::string> out;
    for (const Json& item : p["items"]) out.push_back(item["dispute_id"].get<std::string>());
    return out;
  };
  const Json open1 = page("status=open&limit=2", m1_);
  EXPECT_EQ(ids_of(open1), (std::vector<std::string>{"d1", "d4"})) << open1.dump();
  ASSERT_TRUE(open1["next_cursor"].is_string()) << open1.dump();
  const Json open2 = page("status=open&limit=2&cursor=" + open1["next_cursor"].get<std::string>(), m1_);
  EXPECT_EQ(ids_of(open2), (std::vector<std::string>{"d6"})) << open2.dump();
  EXPECT_TRUE(open2["next_cursor"].is_null()) << open2.dump();
  const Json resolved1 = page("status=resolved&limit=2", m1_);
  EXPECT_EQ(ids_of(resolved1), (std::vector<std::string>{"d2", "d3"})) << resolved1.dump();
  ASSERT_TRUE(resolved1["next_cursor"].is_string());
  const Json resolved2 = page("status=resolved&limit=2&cursor=" + resolved1["next_cursor"].get<std::string>(), m1_);
  EXPECT_EQ(ids_of(resolved2), (std::vector<std::string>{"d5"}));
  EXPECT_TRUE(resolved2["next_cursor"].is_null());
  const Json open_all = page("status=open&limit=3", m1_);
  EXPECT_EQ(ids_of(open_all), (std::vector<std::string>{"d1", "d4", "d6"}));
  EXPECT_TRUE(open_all["next_cursor"].is_null()) << "a full last page has no cursor: " << open_all.dump();
  // A row is what the write answered (d1 has not changed since; the payment aside).
  Json d1_row = open1["items"][0];
  Json d1_answer = opened;
  d1_answer.erase("payment");
  EXPECT_EQ(d1_row, d1_answer);
  EXPECT_EQ(open1["items"][1]["status"], "evidence_submitted");

  // Analysts: every merchant's by default, one merchant's with merchant_id.
  MerchantSetUp(m2_);
  ASSERT_EQ(Call("POST", "/v1/payments/p1/captures", m2_, R"({"capture_id":"cap-x","amount":1000})", {{"idempotency-key", "cx"}})
                .status,
            201);
  ASSERT_EQ(Call("POST", "/v1/disputes", m2_, R"({"dispute_id":"dx","payment_id":"p1","capture_id":"cap-x","amount":100})",
                 {{"idempotency-key", "dx"}})
                .status,
            201);
  const Json every = page("status=open", analyst_);
  ASSERT_EQ(every["items"].size(), 4u) << every.dump();
  std::set<std::string> merchants;
  for (const Json& item : every["items"]) merchants.insert(item["merchant_id"].get<std::string>());
  EXPECT_EQ(merchants, (std::set<std::string>{"m1", "m2"}));
  EXPECT_EQ(ids_of(page("merchant_id=m2", analyst_)), (std::vector<std::string>{"dx"}));
  EXPECT_EQ(page("", m1_)["items"].size(), 6u) << "a merchant its own only";
  EXPECT_EQ(ids_of(page("", m2_)), (std::vector<std::string>{"dx"}));
}

TEST_F(ApiTest, ABatchRunsItsItemsInOrderEachAnsweredAndARetryReplaysThem) {
  MerchantSetUp(m1_);
  const std::string batch = R"({"items":[
      {"method":"POST","path":"/v1/payments/p1/captures","body":{"capture_id":"cap1","amount":5000}},
      {"method":"POST","path":"/v1/payments/p1/captures","body":{"capture_id":"cap2","amount":99999999}},
      {"method":"POST","path":"/v1/payments/p1/captures","body":{"capture_id":"cap3","amount":6300}}]})";
  EXPECT_EQ(Call("POST", "/v1/batch", m1_, batch).status, 400);  // no batch key
  Response r = Call("POST", "/v1/batch", m1_, batch, {{"idempotency-key", "b1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const Json results = Body(r)["results"];
  ASSERT_EQ(results.size(), 3u);
  EXPECT_EQ(results[0]["status"], 201);
  EXPECT_EQ(results[1]["status"], 422);  // not atomic: the others still run
  EXPECT_EQ(results[2]["status"], 201);
  EXPECT_TRUE(results[0].contains("position"));
  const Position head = store_->head().position;
  // A retry of the same batch replays every item, writing nothing.
  const Json again = Body(Call("POST", "/v1/batch", m1_, batch, {{"idempotency-key", "b1"}}))["results"];
  EXPECT_EQ(again[0]["status"], 200);
  EXPECT_EQ(again[0]["position"], results[0]["position"]);
  EXPECT_EQ(store_->head().position, head);
  // The batch key sent again with other items is refused whole and runs nothing: neither
  // the items the first batch had (item 0 is the same capture) nor the one it never had
  // (its derived key "b1:3" unused, it ran with 201).
  const std::string other = R"({"items":[
      {"method":"POST","path":"/v1/payments/p1/captures","body":{"capture_id":"cap1","amount":5000}},
      {"method":"POST","path":"/v1/payments/p1/captures","body":{"capture_id":"cap2","amount":99999999}},
      {"method":"POST","path":"/v1/payments/p1/captures","body":{"capture_id":"cap3","amount":6300}},
      {"method":"POST","path":"/v1/customers","body":{"customer_id":"c-late"}}]})";
  Response reused = Call("POST", "/v1/batch", m1_, other, {{"idempotency-key", "b1"}});
  EXPECT_EQ(reused.status, 422) << reused.body;
  EXPECT_EQ(Code(reused), "idempotency-key-reused");
  EXPECT_EQ(store_->head().position, head);
  // Malformed batches run nothing.
  const std::string long_key(kIdempotencyKeyHeaderBytesMax + 1, 'k');
  for (const std::string& bad : std::vector<std::string>{
           R"({"items":[]})", R"({"items":{}})", R"({"items":[{"method":"GET","path":"/v1/balances"}]})",
           R"({"items":[{"method":"POST","path":"/v1/batch"}]})", R"({"items":[{"method":"POST"}]})",
           // A batch inside the batch however its path is spelled (it would run past the item
           // limit, outside the rate limit); the store item before it must not run either.
           R"({"items":[{"method":"POST","path":"/v1/stores","body":{"store_id":"s9","name":"x"}},)"
           R"({"method":"POST","path":"/v1/%62atch","body":{"items":[{"method":"POST","path":"/v1/stores"}]}}]})",
           R"({"items":[{"method":"POST","path":"/v1/batc%68"}]})",
           R"({"items":[{"method":"POST","path":"/v1/stores","idempotency_key":null}]})", R"({"items":[7]})",
           // Item keys: empty (the item would run without one), too long, a control
           // character, or the same as another item's (its own or derived) key.
           R"({"items":[{"method":"POST","path":"/v1/customers","body":{"customer_id":"c7"},"idempotency_key":""}]})",
           R"({"items":[{"method":"POST","path":"/v1/customers","body":{"customer_id":"c7"},"idempotency_key":")" + long_key + "\"}]}",
           R"({"items":[{"method":"POST","path":"/v1/customers","body":{"customer_id":"c7"},"idempotency_key":"k\u0001"}]})",
           R"({"items":[{"method":"POST","path":"/v1/customers","body":{"customer_id":"c7"},"idempotency_key":"k\r\nx"}]})",
           R"({"items":[{"method":"POST","path":"/v1/customers","body":{"customer_id":"c7"},"idempotency_key":"same"},)"
           R"({"method":"POST","path":"/v1/customers","body":{"customer_id":"c8"},"idempotency_key":"same"}]})",
           R"({"items":[{"method":"POST","path":"/v1/customers","body":{"customer_id":"c7"}},)"
           R"({"method":"POST","path":"/v1/customers","body":{"customer_id":"c8"},"idempotency_key":"b2:0"}]})",
           R"({"items":[{"method":"POST","path":"/v1/customers","body":{"customer_id":"c7"},"idempotency_key":"b2:1"},)"
           R"({"method":"POST","path":"/v1/customers","body":{"customer_id":"c8"}}]})"}) {
    Response b = Call("POST", "/v1/batch", m1_, bad, {{"idempotency-key", "b2"}});
    EXPECT_EQ(b.status, 400) << bad << " " << b.body;
  }
  EXPECT_EQ(store_->head().position, head);
  EXPECT_EQ(Call("POST", "/v1/batch", m2_, batch, {{"idempotency-key", "b1"}}).status, 200);  // m2's own key space
  EXPECT_EQ(Body(Call("POST", "/v1/batch", m2_, batch, {{"idempotency-key", "b3"}}))["results"][0]["status"], 404);
  // An item with its own key is its own request: sent again in another batch, it replays.
  const std::string own = R"({"method":"POST","path":"/v1/customers","idempotency_key":"own-1","body":{"customer_id":"c-own"}})";
  EXPECT_EQ(Body(Call("POST", "/v1/batch", m1_, R"({"items":[)" + own + "]}", {{"idempotency-key", "b4"}}))["results"][0]["status"], 201);
  const Json own_again = Body(Call("POST", "/v1/batch", m1_,
                                   R"({"items":[)" + own + R"(,{"method":"POST","path":"/v1/customers","body":{"customer_id":"c-own2"}}]})",
                                   {{"idempotency-key", "b5"}}))["results"];
  EXPECT_EQ(own_again[0]["status"], 200);
  EXPECT_EQ(own_again[1]["status"], 201);
}

TEST_F(ApiTest, MerchantConfigurationPayoutsAndFeeRecipes) {
  MerchantSetUp(m1_);
  Response conf = Call("GET", "/v1/merchant", m1_);
  ASSERT_EQ(conf.status, 200) << conf.body;
  EXPECT_EQ(Body(conf)["settlement_currency"], "USD");
  EXPECT_EQ(Call("GET", "/v1/merchant", m2_).status, 404);
  ASSERT_EQ(Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap1","amount":11300})",
                 {{"idempotency-key", "c1"}}).status, 201);
  Response payout = Call("POST", "/v1/payouts", m1_, R"({"payout_id":"po1","amount":5000,"currency":"USD"})",
                         {{"idempotency-key", "po1"}});
  ASSERT_EQ(payout.status, 201) << payout.body;
  // With the balances after it, as GET /v1/balances gives them (DECISIONS 102).
  EXPECT_EQ(Body(payout)["balances"], Body(Call("GET", "/v1/balances", m1_))["balances"]);
  EXPECT_EQ(Body(payout)["overflowed"], Json::array());
  const Json payouts = Body(Call("GET", "/v1/payouts", m1_));
  ASSERT_EQ(payouts["items"].size(), 1u);
  EXPECT_EQ(payouts["items"][0]["status"], "sent");
  EXPECT_TRUE(Body(Call("GET", "/v1/payouts", m2_))["items"].empty());

  const Json recipes = Body(Call("GET", "/v1/fee-recipes", m1_));
  ASSERT_EQ(recipes["items"].size(), 1u);
  EXPECT_EQ(recipes["items"][0]["version"], 1);
  Json next = recipes["items"][0]["document"];
  next["version"] = 2;
  EXPECT_EQ(Call("POST", "/v1/fee-recipes", m1_, next.dump()).status, 403);
  Response published = Call("POST", "/v1/fee-recipes", admin_, next.dump());
  ASSERT_EQ(published.status, 201) << published.body;
  EXPECT_EQ(Body(published)["version"], 2);
  next["version"] = 1;  // an old version number
  EXPECT_EQ(Call("POST", "/v1/fee-recipes", admin_, next.dump()).status, 422);
  EXPECT_EQ(Body(Call("GET", "/v1/fee-recipes", analyst_))["items"].size(), 2u);
}

TEST_F(ApiTest, SubscribersSealTheirSecretAndRefusePrivateAddresses) {
  const std::string good = R"({"subscriber_id":"sub1","url":"https://93.184.216.34/hooks","secret":"s3cret-s3cret-s3cret","topics":["outages"]})";
  EXPECT_EQ(Call("POST", "/v1/subscribers", m1_, good).status, 503);  // no secrets key on this node
  UseSecretsKey();
  for (const char* url : {"https://10.1.2.3/h", "http://127.0.0.1:9/h", "https://[::1]/h", "https://169.254.169.254/latest",
                          "https://192.168.1.1/", "https://user@93.184.216.34/", "ftp://93.184.216.34/", "https://0.0.0.0/",
                          "https://[64:ff9b::a00:1]/", "https://[2002:c0a8:101::1]/", "https://[::ffff:10.0.0.1]/",
                          "https://198.18.0.1/", "https://[fd00::1]/", "https://[fe80::1]/",
                          // Ports: only 1 to 65535 in digits (65536 wrapped around to port 0, 99999 to 34463).
                          "https://93.184.216.34:0/h", "https://93.184.216.34:65536/h", "https://93.184.216.34:99999/h",
                          "https://93.184.216.34:-1/h", "https://93.184.216.34:80:80/h", "https://93.184.216.34:/h",
                          "https://[2606:2800:220:1::1]:99999/h", "https://93.184.216.34:+80/h",
                          // Control characters, spaces and backslashes, kept for good in the log.
                          "https://93.184.216.34/h\r\nX-Evil: 1", "https://93.184.216.34/h\n", "https://93.184.216.34/a b",
                          "https://93.184.216.34/h\t", "https://93.184.216.34/h\x7f", "https://93.184.216.34\\@10.0.0.1/",
                          " https://93.184.216.34/h",
                          // Special-purpose ranges: IETF assignments, documentation (also inside IPv6).
                          "https://192.0.0.8/", "https://192.0.2.1/", "https://198.51.100.7/", "https://203.0.113.9/",
                          "https://[2001:db8::1]/", "https://[::ffff:192.0.2.1]/"}) {
    Response r = Call("POST", "/v1/subscribers", m1_,
                      Json{{"subscriber_id", "subx"}, {"url", url}, {"secret", "s3cret-s3cret-s3cret"}, {"topics", {"outages"}}}.dump());
    EXPECT_EQ(r.status, 400) << url << " " << r.body;
    EXPECT_EQ(Body(r)["pointer"], "/url") << url;
  }
  EXPECT_EQ(Call("POST", "/v1/subscribers", m1_,
                 R"({"subscriber_id":"s2","url":"https://93.184.216.34/","secret":"s3cret-s3cret-s3cret","topics":["digests"]})")
                .status,
            400);  // digests are the auditors'
  // A secret of white space only is no secret, however long.
  for (const char* blank : {"                ", "\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t\t", " \r\n \r\n \r\n \r\n \r\n \r\n"}) {
    Response r = Call("POST", "/v1/subscribers", m1_,
                      Json{{"subscriber_id", "subx"}, {"url", "https://93.184.216.34/h"}, {"secret", blank}, {"topics", {"outages"}}}.dump());
    EXPECT_EQ(r.status, 400) << r.body;
    EXPECT_EQ(Body(r)["pointer"], "/secret");
  }
  const Position before = store_->head().position;
  Response r = Call("POST", "/v1/subscribers", m1_, good);
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.body.find("s3cret"), std::string::npos);
  // The secret is in the log only sealed, and opens with the node's key.
  auto events = store_->ReadRange(before.next(), 10);
  ASSERT_TRUE(events.ok() && !events->empty());
  for (const auto& e : *events) EXPECT_EQ(e.record.find("s3cret-s3cret"), std::string::npos);
  // m1's "sub1" is "m1:sub1" in the log (DECISIONS 97), the secret bound to that id.
  auto sub = ReadModel(ctx_, "status")->Get("subscriber/m1:sub1");
  ASSERT_TRUE(sub.ok() && sub->has_value());
  std::string sealed;
  const std::string hex = (**sub)["secret_sealed_hex"].get<std::string>();
  ASSERT_TRUE(ledger::FromHex(hex, &sealed));
  EXPECT_EQ(*ledger::Unseal(subscriber_secrets_key_, sealed, "subscriber/m1:sub1"), "s3cret-s3cret-s3cret");
  EXPECT_EQ(Call("GET", "/v1/status", "").body.find("sub1"), std::string::npos);
  // Another merchant cannot remove it; its owner can.
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/sub1", m2_).status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/sub1", m1_).status, 200);
  // Every port from 1 to 65535 is one.
  int port_n = 0;
  for (const char* url : {"https://93.184.216.34:1/h", "https://93.184.216.34:65535/h", "https://[2606:2800:220:1::1]:8443/h"}) {
    Response ported = Call("POST", "/v1/subscribers", m1_,
                           Json{{"subscriber_id", "port" + std::to_string(++port_n)}, {"url", url},
                                {"secret", "s3cret-s3cret-s3cret"}, {"topics", {"outages"}}}.dump());
    EXPECT_EQ(ported.status, 201) << url << " " << ported.body;
  }
  // Tests may allow loopback addresses.
  ctx_.allow_private_webhooks = true;
  EXPECT_EQ(Call("POST", "/v1/subscribers", admin_,
                 R"({"subscriber_id":"local","url":"http://127.0.0.1:8080/h","secret":"s3cret-s3cret-s3cret","topics":["outages"]})")
                .status,
            201);
  // But not a URL of no form: the form is checked however private the address may be.
  for (const char* url : {"http://127.0.0.1:99999/h", "http://127.0.0.1:8080/h\r\n", "ftp://127.0.0.1/h"}) {
    Response r = Call("POST", "/v1/subscribers", admin_,
                      Json{{"subscriber_id", "local2"}, {"url", url}, {"secret", "s3cret-s3cret-s3cret"}, {"topics", {"outages"}}}.dump());
    EXPECT_EQ(r.status, 400) << url << " " << r.body;
    EXPECT_EQ(Body(r)["pointer"], "/url") << url;
  }
  ctx_.allow_private_webhooks = false;
}

TEST_F(ApiTest, ABatchCountsOnceAgainstItsKeysRate) {
  MerchantSetUp(m1_);
  RateLimiter limiter(2);  // 2 per second, burst 4: fewer than the items of one batch
  ctx_.rate_limiter = &limiter;
  Json items = Json::array();
  for (int i = 0; i < 10; ++i)
    items.push_back({{"method", "POST"}, {"path", "/v1/customers"}, {"body", {{"customer_id", "rc" + std::to_string(i)}}}});
  Response r = Call("POST", "/v1/batch", m1_, Json{{"items", items}}.dump(), {{"idempotency-key", "rate-b1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  const Json results = Body(r)["results"];
  for (const Json& item : results) EXPECT_EQ(item["status"], 201) << item.dump();
  ctx_.rate_limiter = nullptr;
}

TEST_F(ApiTest, AKeyOverItsRateGets429WhileOthersGoOn) {
  RateLimiter limiter;
  ctx_.rate_limiter = &limiter;
  int limited = 0, served = 0;
  for (int i = 0; i < static_cast<int>(kRequestBurstPerKey) + 50; ++i) {
    Response r = Call("GET", "/v1/balances", m1_);
    if (r.status == 429) {
      ++limited;
      EXPECT_EQ(Code(r), "rate-limited");
      EXPECT_EQ(HeaderOf(r, "Retry-After"), "1");
    } else {
      ++served;
    }
  }
  EXPECT_GE(served, static_cast<int>(kRequestBurstPerKey));
  EXPECT_GT(limited, 0);
  EXPECT_EQ(Call("GET", "/v1/balances", m2_).status, 200) << "another key is not limited by m1's traffic";
  ctx_.rate_limiter = nullptr;
}

}  // namespace

namespace {

TEST_F(ApiTest, ETagsAreStreamVersionsAndIfMatchRefusesStaleWrites) {
  MerchantSetUp(m1_);
  Response order = Call("GET", "/v1/orders/o1", m1_);
  ASSERT_EQ(order.status, 200);
  EXPECT_EQ(HeaderOf(order, "ETag"), "\"1\"") << "the order stream holds OrderPlaced";
  Response payment = Call("GET", "/v1/payments/p1", m1_);
  EXPECT_EQ(HeaderOf(payment, "ETag"), "\"1\"");
  EXPECT_EQ(HeaderOf(Call("GET", "/v1/customers/c1", m1_), "ETag"), "\"1\"");
  EXPECT_FALSE(HeaderOf(Call("GET", "/v1/stores/s1", m1_), "ETag").empty());
  EXPECT_EQ(HeaderOf(Call("GET", "/v1/orders/nope", m1_), "ETag"), "") << "no resource, no tag";
  EXPECT_EQ(HeaderOf(Call("GET", "/v1/orders/o1", m2_), "ETag"), "") << "another tenant sees neither body nor tag";

  const Position head = store_->head().position;
  // A stale version: 409, nothing written.
  Response stale = Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap1","amount":100})",
                        {{"idempotency-key", "cap-a"}, {"if-match", "\"7\""}});
  EXPECT_EQ(stale.status, 409) << stale.body;
  EXPECT_EQ(Code(stale), "version-conflict");
  // Not a version, or a route that names no single resource: 400, nothing written.
  Response garbage = Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap1","amount":100})",
                          {{"idempotency-key", "cap-b"}, {"if-match", "W/\"1\""}});
  EXPECT_EQ(garbage.status, 400);
  EXPECT_EQ(Body(garbage)["pointer"], "/headers/if-match");
  Response unconditional_route = Call("POST", "/v1/payouts", m1_, R"({"payout_id":"po1","amount":1,"currency":"USD"})",
                                      {{"idempotency-key", "po-1"}, {"if-match", "\"1\""}});
  EXPECT_EQ(unconditional_route.status, 400);
  // An empty If-Match (or white space) is no condition: refused, not taken for none (the
  // capture ran unconditionally), on conditional and unconditional routes alike.
  int blank_n = 0;
  for (const char* blank : {"", "   ", "\"\""}) {
    const std::string n = std::to_string(++blank_n);
    Response conditional = Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap1","amount":100})",
                                {{"idempotency-key", "cap-blank-" + n}, {"if-match", blank}});
    EXPECT_EQ(conditional.status, 400) << "[" << blank << "] " << conditional.body;
    EXPECT_EQ(Body(conditional)["pointer"], "/headers/if-match");
    Response unconditional = Call("POST", "/v1/payouts", m1_, R"({"payout_id":"po1","amount":1,"currency":"USD"})",
                                  {{"idempotency-key", "po-blank-" + n}, {"if-match", blank}});
    EXPECT_EQ(unconditional.status, 400) << "[" << blank << "] " << unconditional.body;
  }
  // A batch takes no If-Match either: refused as on other routes, its items not run.
  const std::string batch = R"({"items":[{"method":"POST","path":"/v1/payments/p1/captures","body":{"capture_id":"cap9","amount":100}}]})";
  for (const char* tag : {"\"1\"", ""}) {
    Response b = Call("POST", "/v1/batch", m1_, batch, {{"idempotency-key", "b-if-match"}, {"if-match", tag}});
    EXPECT_EQ(b.status, 400) << "[" << tag << "] " << b.body;
    EXPECT_EQ(Code(b), "invalid-field");
    EXPECT_EQ(Body(b)["pointer"], "/headers/if-match");
  }
  EXPECT_EQ(store_->head().position, head);

  // The version the ETag gave: written; the next read carries the next version.
  Response ok = Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap1","amount":100})",
                     {{"idempotency-key", "cap-c"}, {"if-match", HeaderOf(payment, "ETag")}});
  ASSERT_EQ(ok.status, 201) << ok.body;
  // Its retry (same key, same request) answers the first result, not a conflict.
  Response retry = Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap1","amount":100})",
                        {{"idempotency-key", "cap-c"}, {"if-match", HeaderOf(payment, "ETag")}});
  EXPECT_EQ(retry.status, 200) << retry.body;
  EXPECT_EQ(HeaderOf(retry, "Idempotent-Replayed"), "true");
  Response after = Call("GET", "/v1/payments/p1", m1_);
  EXPECT_EQ(HeaderOf(after, "ETag"), "\"2\"");
  // A second writer still holding the old tag loses.
  Response lost = Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap2","amount":100})",
                       {{"idempotency-key", "cap-d"}, {"if-match", HeaderOf(payment, "ETag")}});
  EXPECT_EQ(lost.status, 409);
  // Orders too: cancel with a stale tag refused, with the current one done.
  EXPECT_EQ(Call("POST", "/v1/orders/o1/fulfil", m1_, "{}", {{"if-match", "\"0\""}}).status, 409);
  EXPECT_EQ(Call("POST", "/v1/orders/o1/cancel", m1_, "{}", {{"if-match", "5"}}).status, 409);
}


// A sequencer that holds every command's callback until the test answers it: what a
// writer looks like while Kafka is away.
class HeldSequencer final : public ledger::domain::Sequencer {
 public:
  void Stop() override {}
  void Submit(ledger::domain::CommandRequest, std::function<void(ledger::Result<ledger::domain::CommandResult>)> done) override {
    std::lock_guard<std::mutex> lock(mu_);
    held_.push_back(std::move(done));
  }
  ledger::Result<ledger::domain::CommandResult> Execute(ledger::domain::CommandRequest) override {
    return ledger::Status::Unavailable("held");
  }
  CacheStats cache_stats() const override { return {}; }
  bool failed() const override { return false; }
  bool settled() const override { return false; }
  size_t held() {
    std::lock_guard<std::mutex> lock(mu_);
    return held_.size();
  }
  void AnswerAll(const ledger::Result<ledger::domain::CommandResult>& answer) {
    std::vector<std::function<void(ledger::Result<ledger::domain::CommandResult>)>> due;
    {
      std::lock_guard<std::mutex> lock(mu_);
      due.swap(held_);
    }
    for (auto& done : due) done(answer);
  }

 private:
  std::mutex mu_;
  std::vector<std::function<void(ledger::Result<ledger::domain::CommandResult>)>> held_;
};

// A write route answering later (as the HTTP front runs it): its own timer, every answer
// kept (they come on other threads).
struct LaterCall {
  struct Received {
    std::mutex mu;
    std::condition_variable cv;
    std::vector<Response> got;  // GUARDED_BY(mu)
  };
  std::shared_ptr<DeadlineTimer> timer = std::make_shared<DeadlineTimer>();
  std::shared_ptr<Received> answers = std::make_shared<Received>();
  Response Dispatch(const Router& router, Request request) {
    auto r = std::make_shared<Request>(std::move(request));
    r->timer = timer;
    r->answer_later = [r, answers = answers](Response resp) {
      std::lock_guard<std::mutex> lock(answers->mu);
      answers->got.push_back(std::move(resp));
      answers->cv.notify_all();
    };
    Response resp = router.Dispatch(*r);
    r->answer_later = nullptr;
    return resp;
  }
  // The answers so far, after waiting (at most 10 s) for `at_least` of them.
  std::vector<Response> Answers(size_t at_least = 0) {
    std::unique_lock<std::mutex> lock(answers->mu);
    answers->cv.wait_for(lock, std::chrono::seconds(10), [&] { return answers->got.size() >= at_least; });
    return answers->got;
  }
};

Request OrderRequest(const std::string& key, const std::string& order_id) {
  Request r;
  r.method = "POST";
  r.path = "/v1/orders";
  r.headers["authorization"] = "Bearer " + key;
  r.body = Json{{"order_id", order_id}, {"store_id", "s1"}, {"customer_id", "c1"}, {"currency", "USD"},
                {"lines", Json::array({Json{{"sku", "sku-1"}, {"quantity", 1}, {"unit_price", 5000}}})}}
               .dump();
  return r;
}

TEST_F(ApiTest, AWriteNeverAnsweredGets503AtItsDeadlineAndALateAnswerChangesNothing) {
  HeldSequencer held;
  slot_.set({std::shared_ptr<ledger::domain::Sequencer>(&held, [](ledger::domain::Sequencer*) {}), ""});
  LaterCall later;
  const Response first = later.Dispatch(router_, OrderRequest(m1_, "o-held"));
  ASSERT_TRUE(first.deferred) << first.status << " " << first.body;
  EXPECT_EQ(held.held(), 1u);
  EXPECT_TRUE(later.Answers().empty()) << "answered before the write was";
  EXPECT_EQ(later.timer->pending(), 1u) << "no deadline bounds the wait";
  later.timer->Stop();  // the deadline (kWriteWaitMs) comes
  std::vector<Response> got = later.Answers();
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 503);
  EXPECT_EQ(Code(got[0]), "kafka-unavailable");
  // The store's answer after that: nothing more is sent.
  held.AnswerAll(ledger::domain::CommandResult{Position(store_->head().position.value() + 1), 1, false});
  EXPECT_EQ(later.Answers().size(), 1u);
  slot_.set({std::shared_ptr<ledger::domain::Sequencer>(seq_.get(), [](ledger::domain::Sequencer*) {}), ""});
}

TEST_F(ApiTest, AWriteTheReadModelsDoNotReachAnswersAtItsDeadlineWithoutTheResource) {
  HeldSequencer held;
  slot_.set({std::shared_ptr<ledger::domain::Sequencer>(&held, [](ledger::domain::Sequencer*) {}), ""});
  LaterCall later;
  ASSERT_TRUE(later.Dispatch(router_, OrderRequest(m1_, "o-far")).deferred);
  // Answered at a position the read models will not reach: the deadline moves to
  // kReadYourWritesWaitMs from the answer, and still bounds the wait.
  held.AnswerAll(ledger::domain::CommandResult{Position(1000000), 1, false});
  EXPECT_TRUE(later.Answers().empty());
  EXPECT_EQ(later.timer->pending(), 1u);
  later.timer->Stop();
  const std::vector<Response> got = later.Answers();
  ASSERT_EQ(got.size(), 1u);
  const Response& answer = got[0];
  EXPECT_EQ(answer.status, 201) << answer.body;
  EXPECT_EQ(HeaderOf(answer, "X-Ledger-Position"), "0:1000000");
  EXPECT_TRUE(Body(answer).contains("note")) << answer.body;
  EXPECT_FALSE(Body(answer).contains("order_id")) << "the resource before the read models have it";
  // A refusal from the store answers at once, with its problem, and leaves no deadline.
  LaterCall refused;
  ASSERT_TRUE(refused.Dispatch(router_, OrderRequest(m1_, "o-refused")).deferred);
  held.AnswerAll(ledger::Status::Unavailable("the append queue is full"));
  ASSERT_EQ(refused.Answers().size(), 1u);
  EXPECT_EQ(refused.Answers()[0].status, 503);
  EXPECT_EQ(refused.timer->pending(), 0u);
  slot_.set({std::shared_ptr<ledger::domain::Sequencer>(seq_.get(), [](ledger::domain::Sequencer*) {}), ""});
}

TEST_F(ApiTest, AWriteAnsweredLaterGivesTheSameAnswerAsOneWaitedFor) {
  MerchantSetUp(m1_);
  LaterCall later;
  ASSERT_TRUE(later.Dispatch(router_, OrderRequest(m1_, "o-later")).deferred);
  // Answered from the store's or the read models' thread; the test waits for it.
  const std::vector<Response> got = later.Answers(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(later.timer->pending(), 0u) << "the deadline outlived the answer";
  const Response& answer = got[0];
  ASSERT_EQ(answer.status, 201) << answer.body;
  EXPECT_EQ(Body(answer)["order_id"], "o-later") << "the resource, as the read models have it";
  EXPECT_FALSE(HeaderOf(answer, "X-Ledger-Position").empty());
  // A route answering synchronously (a batch's items, tests) gives the same.
  Request direct = OrderRequest(m1_, "o-direct");
  const Response now = router_.Dispatch(direct);
  ASSERT_FALSE(now.deferred);
  ASSERT_EQ(now.status, 201) << now.body;
  EXPECT_EQ(Body(now)["order_id"], "o-direct");
}


TEST_F(ApiTest, OnlyWritesThatNeverWaitRunOnTheReceivingThread) {
  // Which routes run inline (on cpprestsdk's thread, which also does the sockets' I/O):
  // exactly these. A route that may wait (reads with min_position, ETags, webhooks, the
  // batch, erasure) must stay on a worker.
  std::set<std::string> inline_routes;
  for (const std::string& route : router_.Routes()) {
    Request r;
    r.method = route.substr(0, route.find(' '));
    // The pattern with "x" for each parameter.
    const std::string pattern = route.substr(route.find(' ') + 1);
    for (size_t i = 0; i < pattern.size(); ++i) {
      if (pattern[i] != '{') {
        r.path.push_back(pattern[i]);
        continue;
      }
      r.path.push_back('x');
      i = pattern.find('}', i);
    }
    if (router_.HowRuns(r) == Runs::kInline) inline_routes.insert(route);
  }
  const std::set<std::string> expected = {
      "POST /v1/orders", "POST /v1/orders/{order_id}/cancel", "POST /v1/orders/{order_id}/fulfil",
      "POST /v1/payments", "POST /v1/payments/{payment_id}/captures", "POST /v1/payments/{payment_id}/void",
      "POST /v1/payments/{payment_id}/refunds"};
  EXPECT_EQ(inline_routes, expected);
  Request unknown;
  unknown.method = "POST";
  unknown.path = "/v1/nothing";
  EXPECT_EQ(router_.HowRuns(unknown), Runs::kWorker);

  // And each of them, with the store holding every command (Kafka away), hands its write
  // over and returns at once: a deferred answer, no thread waiting.
  HeldSequencer held;
  slot_.set({std::shared_ptr<ledger::domain::Sequencer>(&held, [](ledger::domain::Sequencer*) {}), ""});
  const std::vector<std::pair<std::string, std::string>> writes = {
      {"/v1/orders/o1/cancel", "{}"},
      {"/v1/orders/o1/fulfil", "{}"},
      {"/v1/payments", R"({"payment_id":"p9","order_id":"o1","amount":1,"currency":"USD"})"},
      {"/v1/payments/p1/captures", R"({"capture_id":"c9","amount":1})"},
      {"/v1/payments/p1/void", "{}"},
      {"/v1/payments/p1/refunds", R"({"refund_id":"r9","capture_id":"c9","amount":1})"}};
  LaterCall later;
  EXPECT_TRUE(later.Dispatch(router_, OrderRequest(m1_, "o9")).deferred);
  for (const auto& [path, body] : writes) {
    Request r;
    r.method = "POST";
    r.path = path;
    r.headers["authorization"] = "Bearer " + m1_;
    r.headers["idempotency-key"] = "k" + path;
    r.body = body;
    const Response answer = later.Dispatch(router_, r);
    EXPECT_TRUE(answer.deferred) << path << ": " << answer.status << " " << answer.body;
  }
  EXPECT_EQ(held.held(), writes.size() + 1);
  later.timer->Stop();
  EXPECT_EQ(later.Answers().size(), writes.size() + 1);
  slot_.set({std::shared_ptr<ledger::domain::Sequencer>(seq_.get(), [](ledger::domain::Sequencer*) {}), ""});
}


TEST_F(ApiTest, AnAnswerThatThrowsAfterItsCommandRanIsA500NotACrash) {
  // The answer is made on the store's or the read models' thread, where nothing may throw:
  // a resource() that throws becomes a 500 problem, answered once.
  HeldSequencer held;
  slot_.set({std::shared_ptr<ledger::domain::Sequencer>(&held, [](ledger::domain::Sequencer*) {}), ""});
  Router router;
  router.Add("POST", "/throws", Guard(ctx_, {api::Role::kMerchant}, Body::kJson, [](api::Call& c) {
    return AnswerCommand(c, "m1", ledger::domain::RevokeKey{"k"}, Idempotency::kOptional, 201,
                         []() -> Json { throw std::runtime_error("a read model said no"); });
  }));
  Request r;
  r.method = "POST";
  r.path = "/throws";
  r.headers["authorization"] = "Bearer " + m1_;
  r.body = "{}";
  LaterCall later;
  ASSERT_TRUE(later.Dispatch(router, r).deferred);
  // Answered at a position the read models already have: visible at once, resource() runs.
  held.AnswerAll(ledger::domain::CommandResult{store_->head().position, 1, false});
  const std::vector<Response> got = later.Answers(1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].status, 500);
  EXPECT_EQ(Code(got[0]), "internal");
  EXPECT_EQ(got[0].body.find("said no"), std::string::npos) << "the exception's text reached the client";
  EXPECT_EQ(later.timer->pending(), 0u);
  slot_.set({std::shared_ptr<ledger::domain::Sequencer>(seq_.get(), [](ledger::domain::Sequencer*) {}), ""});
}


// "METHOD /pattern" of Router::Routes() as a request line: method, and the pattern with
// "x" for each parameter.
std::pair<std::string, std::string> RequestLineOf(const std::string& route) {
  const std::string pattern = route.substr(route.find(' ') + 1);
  std::string path;
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] != '{') {
      path.push_back(pattern[i]);
      continue;
    }
    path.push_back('x');
    i = pattern.find('}', i);
  }
  return {route.substr(0, route.find(' ')), path};
}

// A merchant key naming another merchant (`merchant_id` in the query) was answered with its
// own tenant's data, as if it were the other's. Now 403 forbidden on every keyed route,
// before the route runs (nothing is written); its own id is fine, and analysts still name
// any merchant.
TEST_F(ApiTest, AMerchantKeyNamingAnotherMerchantIsForbiddenOnEveryRoute) {
  MerchantSetUp(m1_);
  const Position head = store_->head().position;
  size_t readable = 0;
  for (const std::string& route : router_.Routes()) {
    const auto [method, path] = RequestLineOf(route);
    if (path.rfind("/v1/webhooks/", 0) == 0) continue;  // signed by a provider: no key, no tenant of a key
    const std::string body = method == "GET" ? "" : "{}";
    if (Call(method, path, "", body).status != 401) continue;  // public (mall, status, the document)
    Response other = Call(method, path + "?merchant_id=m2", m1_, body);
    EXPECT_EQ(other.status, 403) << route << " " << other.body;
    EXPECT_EQ(Code(other), "forbidden") << route;
    if (method != "GET") continue;  // its own id on a write would run it
    Response own = Call(method, path + "?merchant_id=m1", m1_);
    if (own.status != 403) ++readable;  // (403: a route of another role)
    EXPECT_EQ(Call(method, path + "?merchant_id=nobody", m1_).status, 403) << route;
  }
  EXPECT_GE(readable, 10u) << "the merchant's own reads were not reached";
  // Its own id answers what no id answers; the other's is refused whether or not it exists.
  EXPECT_EQ(Call("GET", "/v1/stores?merchant_id=m1", m1_).body, Call("GET", "/v1/stores", m1_).body);
  EXPECT_EQ(Call("GET", "/v1/balances?merchant_id=m1", m1_).status, 200);
  EXPECT_EQ(Call("GET", "/v1/customers/c1?merchant_id=m1", m1_).status, 200);
  // Named in a body too (Call::Merchant reads both).
  Response in_body = Call("POST", "/v1/stores", m1_, R"({"store_id":"s7","name":"x","merchant_id":"m2"})");
  EXPECT_EQ(in_body.status, 403) << in_body.body;
  EXPECT_EQ(store_->head().position, head) << "a request naming another merchant wrote something";
  EXPECT_EQ(Call("POST", "/v1/stores", m1_, R"({"store_id":"s7","name":"x","merchant_id":"m1"})").status, 201);
  // Analysts name whichever merchant they read.
  EXPECT_EQ(Call("GET", "/v1/stores?merchant_id=m2", analyst_).status, 200);
  EXPECT_EQ(Call("GET", "/v1/customers/c1?merchant_id=m1", analyst_).status, 200);
}

// `limit=5&limit=500` kept the last value, so a check reading one and a route the other
// could disagree. A name given twice (compared decoded) is 400 invalid-field naming it, on
// every route, before the route runs.
TEST_F(ApiTest, AQueryParameterGivenTwiceIsRefusedOnEveryRoute) {
  MerchantSetUp(m1_);
  Response twice = Call("GET", "/v1/stores?limit=5&limit=500", m1_);
  EXPECT_EQ(twice.status, 400) << twice.body;
  EXPECT_EQ(twice.content_type, "application/problem+json");
  EXPECT_EQ(Code(twice), "invalid-field");
  EXPECT_EQ(Body(twice)["pointer"], "/limit");
  EXPECT_NE(Body(twice)["detail"].get<std::string>().find("limit"), std::string::npos) << twice.body;
  EXPECT_EQ(Body(Call("GET", "/v1/stores?limit=1&%6Cimit=2", m1_))["pointer"], "/limit");
  EXPECT_EQ(Body(Call("GET", "/v1/stores?a%2Fb=1&a%2Fb=1", m1_))["pointer"], "/a~1b");  // a JSON pointer's escape
  EXPECT_EQ(Call("GET", "/v1/stores?merchant_id=m1&merchant_id=m2", analyst_).status, 400);
  const Position head = store_->head().position;
  for (const std::string& route : router_.Routes()) {
    const auto [method, path] = RequestLineOf(route);
    for (const std::string& key : {admin_, m1_, std::string()}) {
      Response r = Call(method, path + "?x=1&y=2&x=1", key, method == "GET" ? "" : "{}");
      EXPECT_EQ(r.status, 400) << route << " " << r.body;
      EXPECT_EQ(Body(r)["pointer"], "/x") << route;
    }
  }
  EXPECT_EQ(store_->head().position, head) << "a refused request wrote something";
  // Once each, in any order, and empty pieces: fine.
  EXPECT_EQ(Call("GET", "/v1/stores?cursor=&limit=5&&", m1_).status, 200);
}

// Query names and values and path segments were not percent-decoded (`/v1/stores/%73%31`
// was no store). The router decodes each segment after splitting the path, and the
// query's names and values; a malformed escape, decoded text that is not UTF-8 or holds a
// control character, and a '/' inside an id's segment are 400 invalid-field.
TEST_F(ApiTest, PathSegmentsAndQueryTextArePercentDecodedAndBadEscapesRefused) {
  MerchantSetUp(m1_);
  ASSERT_EQ(Call("POST", "/v1/stores", m1_, R"({"store_id":"s2","name":"Boots"})").status, 201);
  const Response plain = Call("GET", "/v1/stores/s1", m1_);
  ASSERT_EQ(plain.status, 200);
  for (const char* path : {"/v1/stores/%73%31", "/v1/stores/%731", "/v1/%73tores/s1", "/%76%31/stores/s%31"}) {
    Response r = Call("GET", path, m1_);
    EXPECT_EQ(r.status, 200) << path << " " << r.body;
    EXPECT_EQ(r.body, plain.body) << path;
  }
  // Writes name the same resource: the listing goes to s1.
  ASSERT_EQ(Call("POST", "/v1/stores/%73%31/listings", m1_,
                 R"({"sku":"sku-2","title":"Blue Shoe","price":4000,"currency":"USD","stock":3})").status,
            201);
  EXPECT_EQ(Body(Call("GET", "/v1/mall?q=%62lue%20sh", ""))["listings"].size(), 1u);
  // Query names and values.
  Response one = Call("GET", "/v1/stores?%6Cimit=%31", m1_);
  ASSERT_EQ(one.status, 200) << one.body;
  ASSERT_EQ(Body(one)["items"].size(), 1u);
  // Values that need no escape read as before: cursors (hex), positions, days.
  const std::string cursor = Body(one)["next_cursor"].get<std::string>();
  Response next = Call("GET", "/v1/stores?limit=1&cursor=" + cursor, m1_);
  ASSERT_EQ(next.status, 200) << next.body;
  EXPECT_EQ(Body(next)["items"][0]["store_id"], "s2");
  const std::string position = "0:" + std::to_string(store_->head().position.value());
  EXPECT_EQ(Call("GET", "/v1/balances?min_position=" + position, m1_).status, 200);
  EXPECT_EQ(Call("GET", "/v1/balances?min_position=0%3A" + position.substr(2), m1_).status, 200);
  EXPECT_EQ(Call("GET", "/v1/fees?from=2000-01-01&to=2100-01-01", m1_).status, 200);

  const Position head = store_->head().position;
  for (const char* path : {"/v1/stores/%7", "/v1/stores/s%", "/v1/stores/%zz", "/v1/stores/s%001", "/v1/stores/s%0A1",
                           "/v1/stores/s%7F", "/v1/stores/%FF", "/v1/stores/%C0%AF", "/v1/stores/s1%2Fx",
                           "/v1/stores/..%2Fs1", "/v1/%FF/stores", "/v1/stores?limit=%", "/v1/stores?limit=%4",
                           "/v1/stores?limit=%G1", "/v1/stores?cursor=%00", "/v1/stores?cursor=a%0Db",
                           "/v1/stores?cursor=%FF", "/v1/stores?%FF=1", "/v1/stores?=5", "/v1/mall?q=%00"}) {
    Response r = Call("GET", path, m1_);
    EXPECT_EQ(r.status, 400) << path << " " << r.body;
    EXPECT_EQ(r.content_type, "application/problem+json") << path;
    EXPECT_EQ(Code(r), "invalid-field") << path;
  }
  // A '/' inside an id's segment is refused on writes too (it is no id), not taken apart.
  for (const char* path : {"/v1/stores/s1%2Fx/listings", "/v1/orders/o1%2F/cancel", "/v1/orders/o1%00/cancel"}) {
    Response r = Call("POST", path, m1_, R"({"sku":"k","title":"t","price":1,"currency":"USD","stock":1})",
                      {{"idempotency-key", std::string("enc-") + path}});
    EXPECT_EQ(r.status, 400) << path << " " << r.body;
  }
  EXPECT_EQ(store_->head().position, head) << "a refused request wrote something";
}

// An idempotent write's digest covered the path as sent, so a retry spelling it with other
// percent-escapes (`p%31` for `p1`) was refused 422 idempotency-key-reused instead of
// replayed (DECISIONS 95, 98). It covers the path as the router reads it
// (Request::canonical_path): such a retry replays the first answer, another request under
// the key is still refused, and a path sent without escapes has the digest it always had,
// so the records in existing logs still match. A batch's items likewise, and its
// fingerprint.
TEST_F(ApiTest, AnIdempotentRetrySpelledWithOtherEscapesIsReplayed) {
  MerchantSetUp(m1_);
  const std::string capture = R"({"capture_id":"cap1","amount":5000})";
  const Response first = Call("POST", "/v1/payments/p1/captures", m1_, capture, {{"idempotency-key", "cap-esc"}});
  ASSERT_EQ(first.status, 201) << first.body;
  // Without escapes, the digest is what it always was: method, path, body.
  auto recorded = store_->LookupIdempotency("m1", "cap-esc");
  ASSERT_TRUE(recorded.ok() && recorded->has_value());
  EXPECT_EQ((*recorded)->request_digest, ledger::Sha256Of("POST /v1/payments/p1/captures\n" + capture));
  const Position head = store_->head().position;
  for (const char* path : {"/v1/payments/p%31/captures", "/v1/%70ayments/p1/captures", "/%76%31/payments/%70%31/%63aptures"}) {
    const Response again = Call("POST", path, m1_, capture, {{"idempotency-key", "cap-esc"}});
    EXPECT_EQ(again.status, 200) << path << " " << again.body;  // a replay's status, as for any replay
    EXPECT_EQ(HeaderOf(again, "Idempotent-Replayed"), "true") << path;
    EXPECT_EQ(HeaderOf(again, "X-Ledger-Position"), HeaderOf(first, "X-Ledger-Position")) << path;
    EXPECT_EQ(again.body, first.body) << path;
  }
  // Another request under the key, however its path is spelled, is still refused.
  const Response other = Call("POST", "/v1/payments/p%31/captures", m1_, R"({"capture_id":"cap2","amount":1})",
                              {{"idempotency-key", "cap-esc"}});
  EXPECT_EQ(other.status, 422) << other.body;
  EXPECT_EQ(Code(other), "idempotency-key-reused");
  EXPECT_EQ(store_->head().position, head) << "a retry wrote something";

  // The path as the router reads it: each spelling of a path is one string, a path sent
  // without escapes is itself, and a '%' or '/' inside a segment stays apart.
  const auto canonical = [&](const std::string& path) {
    Request r;
    r.method = "GET";
    r.path = path;
    return router_.Find(r).canonical_path;
  };
  EXPECT_EQ(canonical("/v1/payments/p1/captures"), "/v1/payments/p1/captures");
  EXPECT_EQ(canonical("/v1/payments/"), "/v1/payments/");
  EXPECT_EQ(canonical("/v1/payments/p%31/captures"), "/v1/payments/p1/captures");
  EXPECT_EQ(canonical("/v1/streams/order%2fm1%2Fo1"), "/v1/streams/order%2Fm1%2Fo1");
  EXPECT_NE(canonical("/v1/streams/order%2Fm1"), canonical("/v1/streams/order/m1"));
  EXPECT_EQ(canonical("/v1/x/50%25"), "/v1/x/50%25");
  EXPECT_EQ(canonical("/v1/x/a%2"), "");  // malformed: refused before any route

  // A batch: its items' digests and its fingerprint take the paths as the router reads
  // them, so the batch retried with its paths spelled otherwise replays its items.
  const std::string batch =
      R"({"items":[{"method":"POST","path":"/v1/payments/p1/captures","body":{"capture_id":"cap-b","amount":1000}}]})";
  const Response b1 = Call("POST", "/v1/batch", m1_, batch, {{"idempotency-key", "batch-esc"}});
  ASSERT_EQ(b1.status, 200) << b1.body;
  ASSERT_EQ(Body(b1)["results"][0]["status"], 201) << b1.body;
  // Without escapes, the derived-key item's digest is what it always was (DECISIONS 91):
  // method, path, body, and the fingerprint of the batch as sent.
  const Json sent = Json::parse(batch);
  const std::string fingerprint = ledger::ToHex(ledger::Sha256Of(sent.dump()));
  auto item = store_->LookupIdempotency("m1", "batch-esc:0");
  ASSERT_TRUE(item.ok() && item->has_value());
  EXPECT_EQ((*item)->request_digest, ledger::Sha256Of("POST /v1/payments/p1/captures\n" + sent["items"][0]["body"].dump() +
                                                       "\nbatch " + fingerprint));
  const Position batch_head = store_->head().position;
  std::string escaped = batch;
  escaped.replace(escaped.find("/p1/"), 4, "/p%31/");
  const Response b2 = Call("POST", "/v1/batch", m1_, escaped, {{"idempotency-key", "batch-esc"}});
  ASSERT_EQ(b2.status, 200) << b2.body;
  EXPECT_EQ(Body(b2)["results"][0]["status"], 200) << b2.body;
  EXPECT_EQ(Body(b2)["results"][0]["position"], Body(b1)["results"][0]["position"]);
  EXPECT_EQ(store_->head().position, batch_head) << "a retried batch wrote something";
}

// Accept headers and what a route answering JSON or CSV answers them with: "json", "csv" or
// "406" (the lists, GET /v1/statements).
const std::vector<std::pair<std::string, std::string>>& AcceptCases() {
  static const std::vector<std::pair<std::string, std::string>> cases = {
      {"", "json"},
      {"*/*", "json"},
      {"application/json", "json"},
      {"text/csv", "csv"},
      {"TEXT/CSV", "csv"},
      {"text/csv; charset=utf-8", "csv"},
      {"text/*", "csv"},
      {"application/*", "json"},
      {"text/csv, application/json", "csv"},
      {"application/json, text/csv", "json"},
      {"text/csv, */*", "csv"},
      {"*/*, text/csv", "json"},
      {"application/json;q=0.5, text/csv", "csv"},
      {"text/csv;q=0.9, application/json", "json"},
      {"text/csv;q=0.9, application/json;q=0.9", "csv"},
      {"application/json;q=0.9, text/csv;q=0.9", "json"},
      {"text/csv;q=0, */*", "json"},
      {"text/csv;q=0.001", "csv"},
      {"text/html, */*;q=0.1", "json"},
      {"text/csv;x=\"a,b\";q=1, application/json;q=0.5", "csv"},
      // Naming neither: disregarded, JSON as before Accept was parsed.
      {"text/csvx", "json"},
      {"application/not-text/csv", "json"},
      {"text/html", "json"},
      {"text/csv;q=0", "json"},
      {"text/csv;q=2", "json"},
      {"text/csv;q=0.5x", "json"},
      {"application/problem+json", "json"},
      {"garbage", "json"},
      {"application/json;q=0, text/*", "csv"},
      // JSON refused outright and CSV not acceptable: 406.
      {"application/json;q=0, text/csv;q=0", "406"},
      {"application/json;q=0", "406"},
      {"*/*;q=0", "406"},
  };
  return cases;
}

// Accept was matched as a substring (`text/csvx`, `application/not-text/csv` got CSV). It is
// a list of media ranges with weights: CSV when text/csv is acceptable and preferred over
// application/json (a tie goes to the one listed first), JSON for */* and for an Accept
// that names neither, and 406 not-acceptable only when JSON is refused outright (q=0) and
// CSV is not acceptable.
TEST_F(ApiTest, ListsNegotiateCsvFromAcceptAsWeightedMediaRanges) {
  MerchantSetUp(m1_);
  for (const auto& [accept, want] : AcceptCases()) {
    Response r = Call("GET", "/v1/customers", m1_, "", {{"accept", accept}});
    if (want == "406") {
      EXPECT_EQ(r.status, 406) << "[" << accept << "] " << r.body;
      EXPECT_EQ(r.content_type, "application/problem+json") << accept;
      EXPECT_EQ(Code(r), "not-acceptable") << accept;
      continue;
    }
    EXPECT_EQ(r.status, 200) << "[" << accept << "] " << r.body;
    EXPECT_EQ(r.content_type, want == "csv" ? std::string(kCsvContentType) : std::string("application/json")) << accept;
  }
  // No Accept at all: JSON.
  EXPECT_EQ(Call("GET", "/v1/customers", m1_).content_type, "application/json");
  EXPECT_TRUE(NegotiateListFormat(" ") == ListFormat::kJson);
}

// A statement in CSV (issue 5 has GET /v1/statements "JSON or CSV"; `Accept: text/csv` got
// JSON): one row per account, the columns in a fixed order, written by the lists' writer
// (formula escaping, CRLF), Accept negotiated as for the lists, 406 included.
TEST_F(ApiTest, StatementsAnswerCsvWhenAcceptPrefersIt) {
  MerchantSetUp(m1_);
  ASSERT_EQ(Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap1","amount":11300})",
                 {{"idempotency-key", "c1"}}).status, 201);
  const std::map<std::string, std::string> csv = {{"accept", "text/csv"}};
  const std::string header =
      "merchant_id,currency,from_day,to_day,account,opening_minor,credits_minor,debits_minor,postings,closing_minor,"
      "overflowed\r\n";
  // The capture: 11300 in; processing 358 and platform 113 out; three postings.
  Response period = Call("GET", "/v1/statements?from=2000-01-01&to=2100-01-01", m1_, "", csv);
  ASSERT_EQ(period.status, 200) << period.body;
  EXPECT_EQ(period.content_type, kCsvContentType);
  EXPECT_EQ(period.body, header + "m1,USD,2000-01-01,2100-01-01,merchant:m1:available,0,11300,471,3,10829,false\r\n");
  // A later period opens with what the earlier one closed with, and has no postings.
  Response later = Call("GET", "/v1/statements?from=2100-01-02&to=2100-12-31", m1_, "", csv);
  ASSERT_EQ(later.status, 200) << later.body;
  EXPECT_EQ(later.body, header + "m1,USD,2100-01-02,2100-12-31,merchant:m1:available,10829,0,0,0,10829,false\r\n");
  // A currency the merchant has no postings in: the header alone.
  EXPECT_EQ(Call("GET", "/v1/statements?from=2000-01-01&to=2100-01-01&currency=EUR", m1_, "", csv).body, header);
  // The JSON, as before, has the same figures; an analyst names the merchant.
  const Json json = Body(Call("GET", "/v1/statements?from=2000-01-01&to=2100-01-01", m1_));
  EXPECT_EQ(json["currency"], "USD");
  EXPECT_EQ(json["accounts"]["merchant:m1:available"]["closing_minor"], 10829);
  Response analyst = Call("GET", "/v1/statements?from=2000-01-01&to=2100-01-01&merchant_id=m1", analyst_, "", csv);
  EXPECT_EQ(analyst.body, period.body);

  for (const auto& [accept, want] : AcceptCases()) {
    Response r = Call("GET", "/v1/statements?from=2000-01-01&to=2100-01-01", m1_, "", {{"accept", accept}});
    if (want == "406") {
      EXPECT_EQ(r.status, 406) << "[" << accept << "] " << r.body;
      EXPECT_EQ(r.content_type, "application/problem+json") << accept;
      EXPECT_EQ(Code(r), "not-acceptable") << accept;
      continue;
    }
    EXPECT_EQ(r.status, 200) << "[" << accept << "] " << r.body;
    EXPECT_EQ(r.content_type, want == "csv" ? std::string(kCsvContentType) : std::string("application/json")) << accept;
    if (want == "csv") {
      EXPECT_EQ(r.body, period.body) << accept;
    }
  }
  // A refused request is a problem whatever Accept prefers.
  Response bad = Call("GET", "/v1/statements?from=2000-01-01", m1_, "", csv);
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_EQ(bad.content_type, "application/problem+json");
  EXPECT_EQ(Body(bad)["pointer"], "/to");
}

// Without `currency` a statement was in USD whatever the merchant settles in: a EUR
// merchant got an empty USD statement. It is in the merchant's settlement currency (as GET
// /v1/merchant shows it), and its closing balances are GET /v1/balances' (DESIGN §7); a
// merchant with none configured is asked to name one.
TEST_F(ApiTest, AStatementIsInTheMerchantsSettlementCurrencyUnlessNamed) {
  ASSERT_EQ(Call("PUT", "/v1/merchant", m2_, R"({"settlement_currency":"EUR"})").status, 200);
  ASSERT_EQ(Call("POST", "/v1/stores", m2_, R"({"store_id":"s1","name":"Boots","channel":"web"})").status, 201);
  ASSERT_EQ(Call("POST", "/v1/stores/s1/listings", m2_,
                 R"({"sku":"sku-1","title":"Boot","price":5000,"currency":"EUR","stock":10})").status, 201);
  ASSERT_EQ(Call("POST", "/v1/customers", m2_, R"({"customer_id":"c1","store_id":"s1"})").status, 201);
  ASSERT_EQ(Call("POST", "/v1/orders", m2_,
                 R"({"order_id":"o1","store_id":"s1","customer_id":"c1","currency":"EUR",
                     "lines":[{"sku":"sku-1","quantity":2,"unit_price":5000}]})").status, 201);
  ASSERT_EQ(Call("POST", "/v1/payments", m2_,
                 R"({"payment_id":"p1","order_id":"o1","amount":10000,"currency":"EUR","method":"card","provider":"stripe"})",
                 {{"idempotency-key", "a1"}}).status, 201);
  Response capture = Call("POST", "/v1/payments/p1/captures", m2_, R"({"capture_id":"cap1","amount":10000})",
                          {{"idempotency-key", "c1"}});
  ASSERT_EQ(capture.status, 201) << capture.body;

  Response eur = Call("GET", "/v1/statements?from=2000-01-01&to=2100-01-01", m2_);
  ASSERT_EQ(eur.status, 200) << eur.body;
  EXPECT_EQ(Body(eur)["currency"], "EUR");
  const Json balances = Body(Call("GET", "/v1/balances", m2_))["balances"];
  EXPECT_EQ(balances["merchant:m2:available"]["EUR"], 10000 - 315 - 100);  // processing 2.9% + 25, platform 1%
  EXPECT_EQ(Body(eur)["accounts"]["merchant:m2:available"]["closing_minor"], balances["merchant:m2:available"]["EUR"]);
  // Named, a currency is still the one named; an analyst gets the named merchant's.
  EXPECT_EQ(Body(Call("GET", "/v1/statements?from=2000-01-01&to=2100-01-01&currency=USD", m2_))["accounts"],
            Json::object());
  EXPECT_EQ(Body(Call("GET", "/v1/statements?from=2000-01-01&to=2100-01-01&merchant_id=m2", analyst_))["currency"],
            "EUR");
  // A merchant that configured nothing names the currency (m1 here: not set up).
  Response none = Call("GET", "/v1/statements?from=2000-01-01&to=2100-01-01", m1_);
  EXPECT_EQ(none.status, 400) << none.body;
  EXPECT_EQ(Code(none), "invalid-field");
  EXPECT_EQ(Body(none)["pointer"], "/currency");
  EXPECT_EQ(Body(none)["detail"], "give a currency: this merchant has no settlement currency");
  EXPECT_EQ(Call("GET", "/v1/statements?from=2000-01-01&to=2100-01-01&merchant_id=m9", analyst_).status, 400);
  Response named = Call("GET", "/v1/statements?from=2000-01-01&to=2100-01-01&currency=USD", m1_);
  EXPECT_EQ(named.status, 200) << named.body;
  EXPECT_EQ(Body(named)["accounts"], Json::object());
}

// DESIGN §4's "returns the first result", as far as the store keeps one (DECISIONS 103): a
// replay writes nothing and answers 200 with Idempotent-Replayed and the first result's
// X-Ledger-Position; its body is the resource as it stands now, not the first answer's (a
// capture replayed after a refund shows the refund), and X-Ledger-Read-Position names the
// read models' position that body reflects at least.
TEST_F(ApiTest, AReplayAnswersTheFirstPositionAndTheResourceAsItIsNow) {
  MerchantSetUp(m1_);
  const std::string capture = R"({"capture_id":"cap1","amount":11300})";
  const Response first = Call("POST", "/v1/payments/p1/captures", m1_, capture, {{"idempotency-key", "cap-now"}});
  ASSERT_EQ(first.status, 201) << first.body;
  EXPECT_EQ(Body(first)["contributors"]["processing"]["reversed_minor"], 0);
  EXPECT_EQ(HeaderOf(first, "Idempotent-Replayed"), "");
  EXPECT_EQ(HeaderOf(first, "X-Ledger-Read-Position"), "") << "only a replay says which state its body shows";
  const Response refund = Call("POST", "/v1/payments/p1/refunds", m1_,
                               R"({"refund_id":"r1","capture_id":"cap1","amount":1300})", {{"idempotency-key", "ref-now"}});
  ASSERT_EQ(refund.status, 201) << refund.body;
  const Position head = store_->head().position;

  const Response again = Call("POST", "/v1/payments/p1/captures", m1_, capture, {{"idempotency-key", "cap-now"}});
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(HeaderOf(again, "Idempotent-Replayed"), "true");
  EXPECT_EQ(HeaderOf(again, "X-Ledger-Position"), HeaderOf(first, "X-Ledger-Position"));
  EXPECT_EQ(Body(again)["contributors"]["processing"]["reversed_minor"], 38);  // the refund, after the first answer
  EXPECT_EQ(again.body, refund.body) << "the capture as it stands now";
  auto read_at = ledger::ParsePositionToken(HeaderOf(again, "X-Ledger-Read-Position"));
  auto refunded_at = ledger::ParsePositionToken(HeaderOf(refund, "X-Ledger-Position"));
  ASSERT_TRUE(read_at.ok()) << HeaderOf(again, "X-Ledger-Read-Position");
  ASSERT_TRUE(refunded_at.ok());
  EXPECT_GE(read_at->position.value(), refunded_at->position.value());
  EXPECT_EQ(store_->head().position, head) << "a replay wrote something";
  // A replay whose answer is not the resource (a key, shown only once) names no read position.
  ASSERT_EQ(Call("POST", "/v1/keys", admin_, R"({"role":"auditor"})", {{"idempotency-key", "key-now"}}).status, 201);
  const Response key_again = Call("POST", "/v1/keys", admin_, R"({"role":"auditor"})", {{"idempotency-key", "key-now"}});
  EXPECT_EQ(HeaderOf(key_again, "Idempotent-Replayed"), "true");
  EXPECT_EQ(HeaderOf(key_again, "X-Ledger-Read-Position"), "");
}

// POST /v1/keys with a merchant id of the wrong form (upper case, too long) was told "a
// merchant key names one merchant id; other roles name none", hiding the reason.
TEST_F(ApiTest, AKeysMerchantIdOfTheWrongFormIsToldSo) {
  const Position head = store_->head().position;
  for (const std::string& id : {std::string("mAabc"), std::string(33, 'm'), std::string("m-1")}) {
    Response r = Call("POST", "/v1/keys", admin_, Json{{"role", "merchant"}, {"merchant_id", id}}.dump());
    EXPECT_EQ(r.status, 400) << id << " " << r.body;
    EXPECT_EQ(Code(r), "invalid-field") << id;
    EXPECT_EQ(Body(r)["pointer"], "/merchant_id") << id;
    EXPECT_EQ(Body(r)["detail"], "/merchant_id: must match [a-z0-9_]{1,32}") << id;
  }
  // The other two reasons keep their words: a merchant key without an id, another role with one.
  for (const char* body : {R"({"role":"merchant"})", R"({"role":"analyst","merchant_id":"m1"})"}) {
    Response r = Call("POST", "/v1/keys", admin_, body);
    EXPECT_EQ(r.status, 400) << body << " " << r.body;
    EXPECT_EQ(Body(r)["detail"], "/merchant_id: a merchant key names one merchant id; other roles name none") << body;
  }
  EXPECT_EQ(store_->head().position, head) << "a refused key was issued";
  EXPECT_EQ(Call("POST", "/v1/keys", admin_, R"({"role":"merchant","merchant_id":"m_3"})").status, 201);
}

// Removing another owner's subscriber
// (a merchant's or the platform's), one already removed, or one that never existed answers
// the same 404 with the same body, so the answer tells nothing of other owners' ids; the
// subscriber itself is untouched.
TEST_F(ApiTest, AnotherOwnersSubscriberCannotBeToldFromNone) {
  UseSecretsKey();
  const auto add = [&](const std::string& id, const std::string& who) {
    return Call("POST", "/v1/subscribers", who,
                Json{{"subscriber_id", id}, {"url", "https://93.184.216.34/h"}, {"secret", "s3cret-s3cret-s3cret"},
                     {"topics", {"outages"}}}.dump())
        .status;
  };
  ASSERT_EQ(add("sub-m1", m1_), 201);
  ASSERT_EQ(add("sub-platform", admin_), 201);
  ASSERT_EQ(add("sub-gone", m2_), 201);
  ASSERT_EQ(Call("DELETE", "/v1/subscribers/sub-gone", m2_).status, 200);
  for (const std::string& who : {m2_, admin_}) {
    const Response none = Call("DELETE", "/v1/subscribers/sub-none", who);
    EXPECT_EQ(none.status, 404) << none.body;
    EXPECT_EQ(Code(none), "not-found");
    for (const char* id : {"sub-m1", "sub-platform", "sub-gone"}) {
      if (who == admin_ && std::string(id) == "sub-platform") continue;  // the admin's own
      const Response r = Call("DELETE", std::string("/v1/subscribers/") + id, who);
      EXPECT_EQ(r.status, none.status) << id;
      EXPECT_EQ(r.content_type, none.content_type) << id;
      EXPECT_EQ(Body(r), Body(none)) << id << ": " << r.body << " vs " << none.body;
      EXPECT_EQ(r.headers, none.headers) << id;
    }
  }
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/sub-m1", m1_).status, 200) << "the foreign calls removed it";
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/sub-platform", admin_).status, 200);
}

// Subscriber ids are each owner's own (DECISIONS 97): two merchants both hold "hooks", and
// creating an id another merchant or the platform holds answers as a free id does, so a
// merchant learns nothing of other owners' ids. In the log a merchant's is "<merchant>:<id>";
// answers show the id the client sent. Each owner removes only its own.
TEST_F(ApiTest, MerchantsSubscriberIdsAreTheirOwnAndTellNothingOfOthers) {
  UseSecretsKey();
  const auto add = [&](const std::string& id, const std::string& who) { return AddSubscriber(id, who); };
  const Response m1_hooks = add("hooks", m1_);
  ASSERT_EQ(m1_hooks.status, 201) << m1_hooks.body;
  EXPECT_EQ(Body(m1_hooks)["subscriber_id"], "hooks");
  EXPECT_EQ(Body(m1_hooks)["owner_merchant_id"], "m1");
  const Response m2_hooks = add("hooks", m2_);
  ASSERT_EQ(m2_hooks.status, 201) << m2_hooks.body;
  EXPECT_EQ(Body(m2_hooks)["subscriber_id"], "hooks");
  ASSERT_EQ(add("ops", admin_).status, 201);
  // An id the platform holds, and one another merchant holds, answer as a free one does.
  const auto same_answer = [&](const Response& held, const Response& free, const std::string& held_id) {
    EXPECT_EQ(held.status, 201) << held.body;
    EXPECT_EQ(held.status, free.status) << held.body;
    Json body = Body(held);
    EXPECT_EQ(body["subscriber_id"], held_id);
    body["subscriber_id"] = Body(free)["subscriber_id"];
    EXPECT_EQ(body, Body(free));
  };
  const Response m1_free = add("free-id", m1_);
  same_answer(add("ops", m1_), m1_free, "ops");         // the platform holds "ops"
  const Response m2_free = add("fresh", m2_);
  same_answer(add("free-id", m2_), m2_free, "free-id");  // m1 holds "free-id"
  // Its own id again is its own to be told of.
  const Response again = add("hooks", m2_);
  EXPECT_EQ(again.status, 422) << again.body;
  EXPECT_EQ(Code(again), "rule-violated");
  EXPECT_EQ(Body(again)["rule"], "subscriber-exists") << again.body;
  // The platform too: an id a merchant holds is free for it.
  EXPECT_EQ(add("hooks", admin_).status, 201);
  // In the log and the status view: "<merchant>:<id>", the secret sealed to that id.
  const auto* status = ReadModel(ctx_, "status");
  for (const char* id : {"m1:hooks", "m2:hooks", "m1:ops", "ops", "hooks"}) {
    auto sub = status->Get(std::string("subscriber/") + id);
    ASSERT_TRUE(sub.ok() && sub->has_value()) << id;
    std::string sealed;
    ASSERT_TRUE(ledger::FromHex((**sub)["secret_sealed_hex"].get<std::string>(), &sealed));
    EXPECT_TRUE(ledger::Unseal(subscriber_secrets_key_, sealed, std::string("subscriber/") + id).ok()) << id;
  }
  auto m1_sub = status->Get("subscriber/m1:hooks");
  ASSERT_TRUE(m1_sub.ok() && m1_sub->has_value());
  EXPECT_EQ((**m1_sub)["owner_merchant_id"], "m1");
  EXPECT_EQ((**m1_sub)["subscriber_id"], "m1:hooks");
  // Each merchant removes its own only; the answer shows the id it sent.
  const Response removed = Call("DELETE", "/v1/subscribers/hooks", m1_);
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(Body(removed)["subscriber_id"], "hooks");
  EXPECT_FALSE(status->Get("subscriber/m1:hooks")->has_value());
  EXPECT_TRUE(status->Get("subscriber/m2:hooks")->has_value());
  EXPECT_TRUE(status->Get("subscriber/hooks")->has_value());
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/hooks", m1_).status, 404);  // m2's and the platform's are not m1's
  // The scoped form names nothing of another owner's either.
  for (const std::string& who : {m2_, admin_}) {
    const Response r = Call("DELETE", "/v1/subscribers/m1:free-id", who);
    EXPECT_EQ(r.status, 404) << r.body;
    EXPECT_EQ(Code(r), "not-found");
  }
  EXPECT_TRUE(status->Get("subscriber/m1:free-id")->has_value());
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/ops", m1_).status, 200);  // m1's own "ops"
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/ops", m1_).status, 404);  // the platform's is not its
  EXPECT_TRUE(status->Get("subscriber/ops")->has_value());
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/hooks", m2_).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/hooks", admin_).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/ops", admin_).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/free-id", m1_).status, 200);
  EXPECT_TRUE(status->Get("subscriber/m2:free-id")->has_value());
}

// DELETE /v1/subscribers/{id} is for auditors too (DESIGN §9: digests; it answered 403). An
// auditor's subscriber is "Auditors:<id>" in the log (DECISIONS 108), so an auditor removes
// the ones auditors added (any auditor key's) and no other: an admin's of the same chosen
// id, a merchant's, and one that never was answer the same 404, nothing written. An admin
// removes an auditor's by its whole id.
TEST_F(ApiTest, AnAuditorRemovesTheSubscribersAuditorsAddedAndNoOthers) {
  UseSecretsKey();
  const std::string auditor = IssueKey("auditor", "");
  const std::string other_auditor = IssueKey("auditor", "");
  const auto add = [&](const std::string& id, const std::string& who, const char* topic) {
    return AddSubscriber(id, who, topic);
  };
  const Response feed = add("feed", auditor, "digests");
  ASSERT_EQ(feed.status, 201) << feed.body;
  EXPECT_EQ(Body(feed)["subscriber_id"], "feed") << "the answer shows the id the auditor chose";
  EXPECT_EQ(Body(feed)["owner_merchant_id"], "");
  ASSERT_EQ(add("ops-digests", admin_, "digests").status, 201);
  ASSERT_EQ(add("ops-digests", auditor, "digests").status, 201) << "the auditors' own, beside the admin's";
  ASSERT_EQ(add("hooks", m1_, "outages").status, 201);
  ASSERT_EQ(add("shared", other_auditor, "digests").status, 201);
  const auto* status = ReadModel(ctx_, "status");
  for (const char* id : {"Auditors:feed", "Auditors:ops-digests", "ops-digests", "m1:hooks", "Auditors:shared"})
    EXPECT_TRUE(status->Get(std::string("subscriber/") + id)->has_value()) << id;
  // Room for the scope: 64 - "Auditors:" = 55 characters.
  const Response too_long = add(std::string(56, 'a'), auditor, "digests");
  EXPECT_EQ(too_long.status, 400) << too_long.body;
  EXPECT_NE(Body(too_long)["detail"].get<std::string>().find("at most 55"), std::string::npos) << too_long.body;

  // Not the auditors': the same 404 as none, nothing written.
  const Position head = store_->head().position;
  const Response none = Call("DELETE", "/v1/subscribers/never-was", auditor);
  EXPECT_EQ(none.status, 404) << none.body;
  EXPECT_EQ(Code(none), "not-found");
  for (const std::string& id : {std::string("m1:hooks"), std::string("hooks"), std::string("Auditors:feed"),
                                std::string(60, 'x')}) {
    const Response r = Call("DELETE", "/v1/subscribers/" + id, auditor);
    EXPECT_EQ(r.status, 404) << id << " " << r.body;
    EXPECT_EQ(Body(r), Body(none)) << id;
  }
  EXPECT_EQ(store_->head().position, head) << "a refused removal wrote something";
  EXPECT_TRUE(status->Get("subscriber/m1:hooks")->has_value());

  // Its own: removed, the answer the id it sent. "ops-digests" is the auditors', not the admin's.
  const Response removed = Call("DELETE", "/v1/subscribers/feed", auditor);
  ASSERT_EQ(removed.status, 200) << removed.body;
  EXPECT_EQ(Body(removed)["subscriber_id"], "feed");
  EXPECT_FALSE(status->Get("subscriber/Auditors:feed")->has_value());
  ASSERT_EQ(Call("DELETE", "/v1/subscribers/ops-digests", auditor).status, 200);
  EXPECT_FALSE(status->Get("subscriber/Auditors:ops-digests")->has_value());
  EXPECT_TRUE(status->Get("subscriber/ops-digests")->has_value()) << "the admin's is not the auditors'";
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/ops-digests", auditor).status, 404);
  // Another auditor key's: the auditors' too.
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/shared", auditor).status, 200);
  // A merchant reaches none of them; an admin removes one by its whole id.
  ASSERT_EQ(add("kept", auditor, "digests").status, 201);
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/kept", m1_).status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/kept", admin_).status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/Auditors:kept", admin_).status, 200);
  // The admin's and the auditors' requests share the platform's idempotency keys, and the
  // same DELETE path names another subscriber for each: an auditor's request under the key
  // of an admin's is refused, never answered with the admin's result while its own stays.
  ASSERT_EQ(add("twin", admin_, "digests").status, 201);
  ASSERT_EQ(add("twin", auditor, "digests").status, 201);
  ASSERT_EQ(Call("DELETE", "/v1/subscribers/twin", admin_, "", {{"idempotency-key", "drop-twin"}}).status, 200);
  const Response reused = Call("DELETE", "/v1/subscribers/twin", auditor, "", {{"idempotency-key", "drop-twin"}});
  EXPECT_EQ(reused.status, 422) << reused.body;
  EXPECT_EQ(Code(reused), "idempotency-key-reused");
  EXPECT_TRUE(status->Get("subscriber/Auditors:twin")->has_value());
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/ops-digests", admin_).status, 200);
}

// A chosen subscriber id holds no ':' (whoever sends it) and leaves room for "<merchant>:"
// within the 64 characters of an id: at most 61 for m1. Refused as 400 at /subscriber_id,
// nothing written.
TEST_F(ApiTest, SubscriberIdsHoldNoColonAndFitTheirMerchantsPrefix) {
  UseSecretsKey();
  const auto add = [&](const std::string& id, const std::string& who) { return AddSubscriber(id, who); };
  const Position head = store_->head().position;
  for (const std::string& who : {m1_, admin_}) {
    for (const char* id : {"a:b", "m2:hooks", ":", "hooks:"}) {
      const Response r = add(id, who);
      EXPECT_EQ(r.status, 400) << id << " " << r.body;
      EXPECT_EQ(Code(r), "invalid-field") << id;
      EXPECT_EQ(Body(r)["pointer"], "/subscriber_id") << id;
    }
  }
  const std::string longest(61, 'x');  // 64 - "m1:"
  const Response too_long = add(longest + "x", m1_);
  EXPECT_EQ(too_long.status, 400) << too_long.body;
  EXPECT_EQ(Body(too_long)["pointer"], "/subscriber_id");
  EXPECT_NE(Body(too_long)["detail"].get<std::string>().find("at most 61"), std::string::npos) << too_long.body;
  EXPECT_EQ(add(std::string(65, 'y'), admin_).status, 400);
  EXPECT_EQ(store_->head().position, head) << "a refused id wrote something";
  // The longest ones are taken: 61 for m1, the whole 64 for the platform.
  const Response fits = add(longest, m1_);
  ASSERT_EQ(fits.status, 201) << fits.body;
  EXPECT_EQ(Body(fits)["subscriber_id"], longest);
  EXPECT_EQ(add(std::string(64, 'y'), admin_).status, 201);
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/" + longest, m1_).status, 200);
  EXPECT_EQ(Call("DELETE", "/v1/subscribers/" + std::string(64, 'y'), admin_).status, 200);
}

}  // namespace
