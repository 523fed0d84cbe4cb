// Webhooks in (DESIGN §9): PayPal's signed string pinned against hand-computed values,
// signatures checked with the tests' own RSA and EC key pairs, exact decimal amounts, and
// the routes in process: verified facts recorded once (with anomaly notes), bad signatures
// 401 with nothing written, redeliveries 200 with nothing written.
#include <gtest/gtest.h>

#include <cstdio>
#include <ctime>

#include <openssl/evp.h>

#include "api/base64.h"
#include "api/provider_events.h"
#include "api/provider_signatures.h"
#include "ledger/clock.h"
#include "tests/support/api_fixture.h"
#include "tests/support/provider_signers.h"

using namespace api;
using testing_support::ApiTest;
using testing_support::EcSigner;
using testing_support::PublicKeyPem;
using testing_support::RsaSigner;
using testing_support::SelfSignedCertPem;

namespace {

// ---- the signed string, by hand ----

TEST(PayPalSignedString, IsPinnedToHandComputedCrc32Values) {
  // CRC-32 check values from the standard (zlib's crc32): "123456789" -> 0xCBF43926.
  EXPECT_EQ(Crc32(""), 0u);
  EXPECT_EQ(Crc32("123456789"), 0xCBF43926u);
  EXPECT_EQ(Crc32("The quick brown fox jumps over the lazy dog"), 0x414FA339u);
  // As an unsigned decimal (0xCBF43926 = 3421780262, above INT32_MAX: never negative).
  EXPECT_EQ(PayPalSignedString("69cd13f0-d67a-11e5-baa3-778b53f4ae55", "2016-02-18T20:01:35Z", "1JE4291016473214C",
                               "123456789"),
            "69cd13f0-d67a-11e5-baa3-778b53f4ae55|2016-02-18T20:01:35Z|1JE4291016473214C|3421780262");
}

TEST(ProviderSignatures, PayPalRsaSha256VerifiesOnlyTheSignedStringWithTheConfiguredCertificate) {
  RsaSigner paypal, other;
  const std::string signed_string = PayPalSignedString("t-1", "2026-11-26T10:00:00Z", "WH-1", R"({"id":"WH-EV-1"})");
  const std::string sig = Base64Encode(paypal.Sign(signed_string));
  EXPECT_TRUE(VerifyPayPalSignature(paypal.cert_pem, signed_string, sig).ok());
  EXPECT_FALSE(VerifyPayPalSignature(other.cert_pem, signed_string, sig).ok()) << "another certificate";
  EXPECT_FALSE(VerifyPayPalSignature(paypal.cert_pem, signed_string + "x", sig).ok()) << "another body";
  std::string tampered = paypal.Sign(signed_string);
  tampered[10] ^= 1;
  EXPECT_FALSE(VerifyPayPalSignature(paypal.cert_pem, signed_string, Base64Encode(tampered)).ok());
  EXPECT_FALSE(VerifyPayPalSignature(paypal.cert_pem, signed_string, "not base64!").ok());
  EXPECT_FALSE(VerifyPayPalSignature("not a certificate", signed_string, sig).ok());
  EXPECT_FALSE(VerifyPayPalSignature(paypal.cert_pem, signed_string, Base64Encode(paypal.Sign(signed_string, EVP_sha1()))).ok())
      << "RSA-SHA1 is not PayPal's algorithm";
}

// PUT /v1/merchant keeps only keys that can verify a provider's webhooks: PayPal's an X.509
// certificate with an RSA key, eBay's an EC public key.
TEST(ProviderSignatures, ConfiguredKeysMustBeOfTheProvidersType) {
  RsaSigner rsa;
  EcSigner ec;
  EXPECT_TRUE(CheckPayPalCertificate(rsa.cert_pem).ok());
  const ledger::Status ec_cert = CheckPayPalCertificate(SelfSignedCertPem(ec.key));
  EXPECT_FALSE(ec_cert.ok()) << "a certificate with an EC key cannot verify PayPal's RSA-SHA256";
  EXPECT_NE(ec_cert.message().find("RSA"), std::string::npos) << ec_cert.message();
  EXPECT_FALSE(CheckPayPalCertificate(PublicKeyPem(rsa.key)).ok()) << "a bare public key is not a certificate";
  EXPECT_TRUE(CheckEbayPublicKey(ec.public_pem()).ok());
  EXPECT_FALSE(CheckEbayPublicKey(PublicKeyPem(rsa.key)).ok()) << "an RSA key is not eBay's";
  EXPECT_FALSE(CheckEbayPublicKey(rsa.cert_pem).ok()) << "a certificate is not a public key";
}

TEST(ProviderSignatures, EbayEcdsaVerifiesTheRawBodyWithTheConfiguredKey) {
  EcSigner ebay, other;
  const std::string body = R"({"notification":{"notificationId":"n-1"}})";
  EXPECT_TRUE(VerifyEbaySignature(ebay.public_pem(), ebay.Header(body), body).ok());
  EXPECT_TRUE(VerifyEbaySignature(ebay.public_pem(), ebay.Header(body, "SHA256"), body).ok());
  EXPECT_FALSE(VerifyEbaySignature(other.public_pem(), ebay.Header(body), body).ok());
  EXPECT_FALSE(VerifyEbaySignature(ebay.public_pem(), ebay.Header(body), body + " ").ok());
  EXPECT_FALSE(VerifyEbaySignature(ebay.public_pem(), Base64Encode("{}"), body).ok());
  EXPECT_FALSE(VerifyEbaySignature(ebay.public_pem(), "%%%", body).ok());
  // The key as eBay's getPublicKey gives it: the PEM on one line.
  std::string one_line;
  for (char ch : ebay.public_pem())
    if (ch != '\n') one_line.push_back(ch);
  EXPECT_TRUE(CheckEbayPublicKey(one_line).ok());
  EXPECT_TRUE(VerifyEbaySignature(one_line, ebay.Header(body), body).ok());
  EXPECT_FALSE(CheckEbayPublicKey("zz").ok());
  EXPECT_FALSE(CheckPayPalCertificate("garbage").ok());
  const std::string md5 = Base64Encode(Json{{"alg", "ECDSA"}, {"signature", "AAAA"}, {"digest", "MD5"}}.dump());
  EXPECT_FALSE(VerifyEbaySignature(ebay.public_pem(), md5, body).ok());
  RsaSigner rsa;
  EXPECT_FALSE(VerifyEbaySignature(PublicKeyPem(rsa.key), ebay.Header(body), body).ok()) << "an RSA key is not eBay's";
}

// ---- reading providers' events ----

Json Capture(const std::string& value, const std::string& currency) {
  return Json{{"id", "WH-1"},
              {"event_type", "PAYMENT.CAPTURE.COMPLETED"},
              {"resource", {{"id", "CAP-1"}, {"custom_id", "p1"}, {"amount", {{"currency_code", currency}, {"value", value}}}}}};
}

int64_t CapturedMinor(const Json& event) {
  auto e = ReadPayPalEvent(event);
  if (!e.ok()) return -1;
  return std::get<ledger::domain::RecordProviderCapture>(e->commands.at(0)).amount_minor;
}

TEST(ProviderEvents, PayPalAmountsConvertExactlyByTheCurrencysExponentOrAreRefused) {
  EXPECT_EQ(CapturedMinor(Capture("55.00", "USD")), 5500);
  EXPECT_EQ(CapturedMinor(Capture("55", "USD")), 5500);
  EXPECT_EQ(CapturedMinor(Capture("0.05", "USD")), 5);
  EXPECT_EQ(CapturedMinor(Capture("100", "JPY")), 100);
  EXPECT_EQ(CapturedMinor(Capture("1.234", "KWD")), 1234);
  EXPECT_EQ(CapturedMinor(Capture("92233720368547758.07", "USD")), INT64_MAX);
  for (const auto& [value, currency] : std::vector<std::pair<std::string, std::string>>{
           {"55.001", "USD"}, {"100.5", "JPY"}, {"-1.00", "USD"}, {"0.00", "USD"}, {"1e3", "USD"}, {" 5", "USD"},
           {"5,00", "USD"}, {"", "USD"}, {"92233720368547758.08", "USD"}, {"1.00", "XXX"}, {"1.00", "usd"}}) {
    auto e = ReadPayPalEvent(Capture(value, currency));
    ASSERT_FALSE(e.ok()) << value << " " << currency;
    EXPECT_EQ(e.status().code(), ledger::Code::kInvalidArgument);
    EXPECT_EQ(e.status().message().rfind("/resource/amount/", 0), 0u) << e.status().message();
  }
  Json number = Capture("1.00", "USD");
  number["resource"]["amount"]["value"] = 1.0;  // PayPal sends strings; a JSON number is refused
  EXPECT_FALSE(ReadPayPalEvent(number).ok());
}

TEST(ProviderEvents, TimestampsAreUtcOnly) {
  EXPECT_EQ(*ledger::ParseUtcTimestampUs("1970-01-01T00:00:01Z"), 1000000);
  EXPECT_EQ(*ledger::ParseUtcTimestampUs("2024-03-14T21:04:00.5Z"), 1710450240500000);
  for (const char* bad : {"2024-03-14T21:04:00", "2024-03-14 21:04:00Z", "2024-02-31T00:00:00Z", "2024-03-14T21:04:00+01:00",
                          "2024-13-01T00:00:00Z", "2024-03-14T21:04:00.Z"})
    EXPECT_FALSE(ledger::ParseUtcTimestampUs(bad).ok()) << bad;
}

// Providers send RFC 3339 date-times: a numeric offset names the same instant as its UTC
// form (PayPal's PAYPAL-TRANSMISSION-TIME with "+00:00" was refused as not now; DECISIONS
// 108). The ledger's own UTC parser stays as it was (above).
TEST(ProviderEvents, Rfc3339TimestampsWithOffsetsAreReadInUtc) {
  const int64_t utc = *ledger::ParseUtcTimestampUs("2026-11-28T10:00:00Z");
  EXPECT_EQ(*ledger::ParseRfc3339TimestampUs("2026-11-28T10:00:00Z"), utc);
  EXPECT_EQ(*ledger::ParseRfc3339TimestampUs("2026-11-28T10:00:00+00:00"), utc);
  EXPECT_EQ(*ledger::ParseRfc3339TimestampUs("2026-11-28T10:00:00-00:00"), utc);
  EXPECT_EQ(*ledger::ParseRfc3339TimestampUs("2026-11-28T12:00:00+02:00"), utc);
  EXPECT_EQ(*ledger::ParseRfc3339TimestampUs("2026-11-28T04:30:00-05:30"), utc);
  EXPECT_EQ(*ledger::ParseRfc3339TimestampUs("2026-11-28t10:00:00z"), utc) << "RFC 3339 §5.6 allows lower case";
  EXPECT_EQ(*ledger::ParseRfc3339TimestampUs("2026-11-28T12:00:00.5+02:00"), utc + 500000);
  EXPECT_EQ(*ledger::ParseRfc3339TimestampUs("2026-11-28T10:00:00.123456789Z"), utc + 123456) << "cut to microseconds";
  // Across a day and a year.
  EXPECT_EQ(*ledger::ParseRfc3339TimestampUs("2026-12-31T23:30:00-01:00"), *ledger::ParseUtcTimestampUs("2027-01-01T00:30:00Z"));
  EXPECT_EQ(*ledger::ParseRfc3339TimestampUs("2027-01-01T01:00:00+14:00"), *ledger::ParseUtcTimestampUs("2026-12-31T11:00:00Z"));
  for (const char* bad : {"", "+02:00", "Z", "2026-11-28T10:00:00", "2026-11-28T10:00:00+0200", "2026-11-28T10:00:00+2:00",
                          "2026-11-28T10:00:00+24:00", "2026-11-28T10:00:00+02:60", "2026-11-28 10:00:00+02:00",
                          "2026-11-28T10:00:00.+02:00", "2026-11-28T10:00:00.1234567xZ", "2026-02-30T10:00:00+02:00",
                          "2026-11-28T10:00:00+02:00Z", "2026-11-28T25:00:00+02:00", "2026-11-28T10:00:00 +02:00"})
    EXPECT_FALSE(ledger::ParseRfc3339TimestampUs(bad).ok()) << bad;
}

TEST(ProviderEvents, UnknownEventTypesAreAcknowledgedAndRecordNothing) {
  auto e = ReadPayPalEvent(Json{{"id", "WH-9"}, {"event_type", "BILLING.PLAN.CREATED"}, {"resource", Json::object()}});
  ASSERT_TRUE(e.ok());
  EXPECT_TRUE(e->commands.empty());
  EXPECT_FALSE(e->ignored.empty());
}

// ---- the routes ----

// A PAYPAL-TRANSMISSION-TIME `offset_s` from now.
std::string UtcNow(int offset_s = 0) {
  const time_t t = std::time(nullptr) + offset_s;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

// Now (shifted by `shift_s`) as the wall time at `offset_minutes` east of UTC, written with
// that numeric offset: "2026-11-28T12:00:00+02:00" for 10:00 UTC at +120.
std::string OffsetNow(int offset_minutes, int shift_s = 0) {
  const time_t t = std::time(nullptr) + shift_s + offset_minutes * 60;
  std::tm tm{};
  gmtime_r(&t, &tm);
  char local[32];
  std::strftime(local, sizeof local, "%Y-%m-%dT%H:%M:%S", &tm);
  const int magnitude = offset_minutes < 0 ? -offset_minutes : offset_minutes;
  char offset[16];  // "+HH:MM"; room for what the compiler cannot rule out
  std::snprintf(offset, sizeof offset, "%c%02d:%02d", offset_minutes < 0 ? '-' : '+', magnitude / 60, magnitude % 60);
  return std::string(local) + offset;
}

class WebhooksInTest : public ApiTest {
 protected:
  void SetUp() override {
    ApiTest::SetUp();
    MerchantSetUp(m1_);
    const Json config = {{"settlement_currency", "USD"},
                         {"paypal", {{"webhook_id", "WH-ID-1"}, {"cert_pem", paypal.cert_pem}}},
                         {"ebay", {{"public_key", ebay.public_pem()}, {"store_id", "s1"}, {"seller_id", "seller-m1"}}}};
    ASSERT_EQ(Call("PUT", "/v1/merchant", m1_, config.dump()).status, 200);
  }

  Response PayPal(const Json& event, const std::string& merchant = "m1", bool sign_right = true) {
    const std::string body = event.dump();
    const std::string id = "tx-" + event.value("id", "");
    const std::string time = UtcNow();
    std::string sig = paypal.Sign(PayPalSignedString(id, time, "WH-ID-1", body));
    if (!sign_right) sig[5] ^= 1;
    return Call("POST", "/v1/webhooks/paypal/" + merchant, "", body,
                {{"paypal-transmission-id", id},
                 {"paypal-transmission-time", time},
                 {"paypal-transmission-sig", Base64Encode(sig)},
                 {"paypal-auth-algo", "SHA256withRSA"},
                 {"paypal-cert-url", "https://attacker.example/cert.pem"}});
  }

  Response Ebay(const Json& n, const std::string& merchant = "m1") {
    const std::string body = n.dump();
    return Call("POST", "/v1/webhooks/ebay/" + merchant, "", body, {{"x-ebay-signature", ebay.Header(body)}});
  }

  uint64_t Head() { return store_->head().position.value(); }

  Json Order(const std::string& id) {
    Response r = Call("GET", "/v1/orders/" + id, m1_);
    EXPECT_EQ(r.status, 200) << r.body;
    return Body(r);
  }

  static Json Event(const std::string& id, const std::string& type, Json resource) {
    return Json{{"id", id}, {"event_type", type}, {"resource", std::move(resource)}};
  }
  static Json CaptureResource(const std::string& capture, const std::string& payment, const std::string& value) {
    return Json{{"id", capture}, {"custom_id", payment}, {"amount", {{"currency_code", "USD"}, {"value", value}}}};
  }
  // PayPal's facts about a payment PAY-X this ledger never authorized: a capture CAP-X of
  // 50.00, a refund of 10.00 of it and a dispute PP-D-X of 40.00, each recorded (200).
  void ReportUnmatchedPayment() {
    ASSERT_EQ(PayPal(Event("WH-1", "PAYMENT.CAPTURE.COMPLETED", CaptureResource("CAP-X", "PAY-X", "50.00"))).status, 200);
    const Json refund = {{"id", "R-X"},
                         {"amount", {{"currency_code", "USD"}, {"value", "10.00"}}},
                         {"links", {{{"rel", "up"}, {"href", "https://api.paypal.com/v2/payments/captures/CAP-X"}}}}};
    ASSERT_EQ(PayPal(Event("WH-2", "PAYMENT.CAPTURE.REFUNDED", refund)).status, 200);
    ASSERT_EQ(PayPal(Event("WH-3", "CUSTOMER.DISPUTE.CREATED", DisputeResource("PP-D-X", "CAP-X", "40.00"))).status, 200);
  }
  static Json DisputeResource(const std::string& dispute, const std::string& capture, const std::string& value) {
    return Json{{"dispute_id", dispute},
                {"reason", "MERCHANDISE_OR_SERVICE_NOT_RECEIVED"},
                {"seller_response_due_date", "2026-12-10T23:59:59.000Z"},
                {"disputed_transactions", {{{"seller_transaction_id", capture}}}},
                {"dispute_amount", {{"currency_code", "USD"}, {"value", value}}}};
  }

  RsaSigner paypal;
  EcSigner ebay;
};

TEST_F(WebhooksInTest, APayPalCaptureIsRecordedOnceWhateverTheRedelivery) {
  const uint64_t before = Head();
  Response r = PayPal(Event("WH-1", "PAYMENT.CAPTURE.COMPLETED", CaptureResource("8MC585209K746392H", "p1", "113.00")));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(Body(r)["recorded"].get<bool>());
  EXPECT_FALSE(HeaderOf(r, "X-Ledger-Position").empty());
  const uint64_t after = Head();
  EXPECT_GT(after, before);
  // The same event again (PayPal redelivers): 200, nothing written.
  Response again = PayPal(Event("WH-1", "PAYMENT.CAPTURE.COMPLETED", CaptureResource("8MC585209K746392H", "p1", "113.00")));
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_FALSE(Body(again)["recorded"].get<bool>());
  EXPECT_EQ(HeaderOf(again, "Idempotent-Replayed"), "true");
  // The same capture under another event id: the provider reference is recorded already.
  Response other = PayPal(Event("WH-2", "PAYMENT.CAPTURE.COMPLETED", CaptureResource("8MC585209K746392H", "p1", "113.00")));
  EXPECT_EQ(other.status, 200) << other.body;
  EXPECT_EQ(Head(), after);
  // The order shows the capture as the provider's, with its fees in the fee read model.
  ASSERT_TRUE(projector_->WaitFor(ledger::Position(after), 5000));
  const Json order = Order("o1");
  ASSERT_EQ(order["captures"].size(), 1u) << order.dump();
  EXPECT_EQ(order["captures"][0]["capture_id"], "8MC585209K746392H");
  EXPECT_EQ(order["captures"][0]["source"], "Provider");
  EXPECT_EQ(order["captures"][0]["amount"]["amount_minor"], 11300);
  EXPECT_FALSE(order["captures"][0].contains("anomaly"));
  // A merchant capture naming the same PayPal capture id is refused (recorded once).
  Response dup = Call("POST", "/v1/payments/p1/captures", m1_,
                      R"({"capture_id":"cap-2","amount":100,"provider_reference":"8MC585209K746392H"})",
                      {{"idempotency-key", "cap-dup"}});
  EXPECT_EQ(dup.status, 422) << dup.body;
}

// A merchant that takes PayPal's webhooks records a PayPal capture only with PayPal's
// capture id: without it, the same money reported by the webhook would be a second capture.
TEST_F(WebhooksInTest, APayPalCaptureWithoutPayPalsIdIsRefusedSoTheWebhookCannotDoubleIt) {
  Response o = Call("POST", "/v1/orders", m1_,
                    R"({"order_id":"o9","store_id":"s1","customer_id":"c1","currency":"USD",
                        "lines":[{"sku":"sku-1","quantity":1,"unit_price":5000}]})");
  ASSERT_EQ(o.status, 201) << o.body;
  Response p = Call("POST", "/v1/payments", m1_,
                    R"({"payment_id":"p9","order_id":"o9","amount":5000,"currency":"USD","method":"wallet","provider":"PayPal"})",
                    {{"idempotency-key", "auth-9"}});
  ASSERT_EQ(p.status, 201) << p.body;
  const uint64_t before = Head();
  Response bare = Call("POST", "/v1/payments/p9/captures", m1_, R"({"capture_id":"cap-9","amount":5000})",
                       {{"idempotency-key", "cap-9"}});
  EXPECT_EQ(bare.status, 422) << bare.body;
  EXPECT_EQ(Body(bare)["rule"], "provider-reference-required") << bare.body;
  EXPECT_EQ(Head(), before) << "nothing written";
  Response named = Call("POST", "/v1/payments/p9/captures", m1_,
                        R"({"capture_id":"cap-9","amount":5000,"provider_reference":"PP-CAP-9"})",
                        {{"idempotency-key", "cap-9b"}});
  ASSERT_EQ(named.status, 201) << named.body;
  // PayPal then reports the same capture: recorded once.
  const uint64_t after = Head();
  Response reported = PayPal(Event("WH-9", "PAYMENT.CAPTURE.COMPLETED", CaptureResource("PP-CAP-9", "p9", "50.00")));
  EXPECT_EQ(reported.status, 200) << reported.body;
  EXPECT_EQ(Head(), after);
  ASSERT_TRUE(projector_->WaitFor(ledger::Position(after), 5000));
  EXPECT_EQ(Order("o9")["captures"].size(), 1u);
  // Another provider's payment needs no reference (its captures are reported by nobody).
  Response stripe = Call("POST", "/v1/payments/p1/captures", m1_, R"({"capture_id":"cap-1","amount":100})",
                         {{"idempotency-key", "cap-1"}});
  EXPECT_EQ(stripe.status, 201) << stripe.body;
}

TEST_F(WebhooksInTest, BadSignaturesAndUnconfiguredMerchantsAre401AndWriteNothing) {
  const Json event = Event("WH-1", "PAYMENT.CAPTURE.COMPLETED", CaptureResource("CAP-1", "p1", "113.00"));
  const uint64_t before = Head();
  auto code = [&](const Response& r) { return r.status == 401 ? Code(r) : std::to_string(r.status) + " " + r.body; };
  EXPECT_EQ(code(PayPal(event, "m1", /*sign_right=*/false)), "unauthenticated");
  EXPECT_EQ(code(PayPal(event, "m2")), "unauthenticated") << "m2 configured no PayPal webhook";
  EXPECT_EQ(code(PayPal(event, "NOT-A-MERCHANT")), "unauthenticated");
  // Signed for another body: the CRC32 differs.
  {
    const std::string body = event.dump();
    const std::string sig = Base64Encode(paypal.Sign(PayPalSignedString("tx", UtcNow(), "WH-ID-1", body + " ")));
    Response r = Call("POST", "/v1/webhooks/paypal/m1", "", body,
                      {{"paypal-transmission-id", "tx"}, {"paypal-transmission-time", UtcNow()}, {"paypal-transmission-sig", sig}});
    EXPECT_EQ(code(r), "unauthenticated");
    // Headers missing, or another algorithm named.
    Response bare = Call("POST", "/v1/webhooks/paypal/m1", "", body);
    EXPECT_EQ(code(bare), "unauthenticated");
  }
  // Signed with another webhook id than the merchant configured.
  {
    const std::string body = event.dump();
    const std::string sig = Base64Encode(paypal.Sign(PayPalSignedString("tx", UtcNow(), "WH-OTHER", body)));
    Response r = Call("POST", "/v1/webhooks/paypal/m1", "", body,
                      {{"paypal-transmission-id", "tx"}, {"paypal-transmission-time", UtcNow()}, {"paypal-transmission-sig", sig}});
    EXPECT_EQ(code(r), "unauthenticated");
  }
  // Signed right, but sent (or replayed) ten minutes ago.
  {
    const std::string body = event.dump();
    const std::string old = UtcNow(-600);
    const std::string sig = Base64Encode(paypal.Sign(PayPalSignedString("tx-old", old, "WH-ID-1", body)));
    Response r = Call("POST", "/v1/webhooks/paypal/m1", "", body,
                      {{"paypal-transmission-id", "tx-old"}, {"paypal-transmission-time", old}, {"paypal-transmission-sig", sig}});
    EXPECT_EQ(code(r), "unauthenticated");
  }
  // eBay: a body signed by another key, and a header for another body.
  {
    EcSigner stranger;
    const std::string body = R"({"notification":{"notificationId":"n-1"}})";
    EXPECT_EQ(code(Call("POST", "/v1/webhooks/ebay/m1", "", body, {{"x-ebay-signature", stranger.Header(body)}})),
              "unauthenticated");
    EXPECT_EQ(code(Call("POST", "/v1/webhooks/ebay/m1", "", body, {{"x-ebay-signature", ebay.Header(body + "x")}})),
              "unauthenticated");
    EXPECT_EQ(code(Call("POST", "/v1/webhooks/ebay/m1", "", body)), "unauthenticated");
  }
  EXPECT_EQ(Head(), before) << "a request that does not verify writes nothing";
}

// PAYPAL-TRANSMISSION-TIME is an RFC 3339 date-time: with a numeric offset it was refused
// 401 "not within 300 s of now" even when it was now. It is read in UTC; the 300 s window
// holds whatever the offset, and the signed string keeps the header as sent.
TEST_F(WebhooksInTest, ATransmissionTimeWithANumericOffsetIsCheckedInUtc) {
  int n = 0;
  const auto send = [&](const std::string& time) {
    const std::string id = "WH-OFF-" + std::to_string(++n);
    const std::string capture = "CAP-OFF-" + std::to_string(n);
    const std::string body = Event(id, "PAYMENT.CAPTURE.COMPLETED", CaptureResource(capture, "p1", "1.00")).dump();
    const std::string sig = Base64Encode(paypal.Sign(PayPalSignedString("tx-" + id, time, "WH-ID-1", body)));
    return Call("POST", "/v1/webhooks/paypal/m1", "", body,
                {{"paypal-transmission-id", "tx-" + id}, {"paypal-transmission-time", time}, {"paypal-transmission-sig", sig}});
  };
  for (int offset_minutes : {0, 120, -330, 840}) {
    const std::string now = OffsetNow(offset_minutes);
    const Response r = send(now);
    EXPECT_EQ(r.status, 200) << now << " " << r.body;
    EXPECT_TRUE(Body(r).value("recorded", false)) << now << " " << r.body;
  }
  const uint64_t before = Head();
  // Ten minutes away, in any offset: refused, nothing written.
  for (const std::string& old : {OffsetNow(0, -600), OffsetNow(120, -600), OffsetNow(-330, 600)}) {
    const Response r = send(old);
    EXPECT_EQ(r.status, 401) << old << " " << r.body;
    EXPECT_EQ(Code(r), "unauthenticated") << old;
  }
  // The UTC clock reading labelled with another offset is another instant (two hours off).
  std::string mislabelled = UtcNow();
  mislabelled.replace(mislabelled.size() - 1, 1, "+02:00");
  EXPECT_EQ(send(mislabelled).status, 401) << mislabelled;
  EXPECT_EQ(Head(), before);
}

TEST_F(WebhooksInTest, VerifiedButMalformedEventsAre400AndWriteNothing) {
  const uint64_t before = Head();
  // Signed correctly, but not JSON.
  {
    const std::string body = "{not json";
    const std::string sig = Base64Encode(paypal.Sign(PayPalSignedString("tx", UtcNow(), "WH-ID-1", body)));
    Response r = Call("POST", "/v1/webhooks/paypal/m1", "", body,
                      {{"paypal-transmission-id", "tx"}, {"paypal-transmission-time", UtcNow()}, {"paypal-transmission-sig", sig}});
    EXPECT_EQ(r.status, 400);
    EXPECT_EQ(Code(r), "malformed-json");
  }
  Response r = PayPal(Event("WH-3", "PAYMENT.CAPTURE.COMPLETED", CaptureResource("CAP-3", "p1", "113.001")));
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(Code(r), "invalid-field");
  EXPECT_EQ(Body(r)["pointer"], "/resource/amount/value");
  Response no_capture = PayPal(Event("WH-4", "PAYMENT.CAPTURE.REFUNDED", Json{{"id", "R-1"}, {"amount", {{"currency_code", "USD"}, {"value", "1.00"}}}}));
  EXPECT_EQ(no_capture.status, 400);
  EXPECT_EQ(Body(no_capture)["pointer"], "/resource/links");
  Response outcome = PayPal(Event("WH-5", "CUSTOMER.DISPUTE.RESOLVED", DisputeResource("PP-D-9", "CAP-9", "1.00")));
  EXPECT_EQ(outcome.status, 400) << outcome.body;
  Response ignored = PayPal(Event("WH-6", "CHECKOUT.ORDER.APPROVED", Json::object()));
  EXPECT_EQ(ignored.status, 200);
  EXPECT_FALSE(Body(ignored)["recorded"].get<bool>());
  EXPECT_EQ(Head(), before);
}

TEST_F(WebhooksInTest, RefundsAndDisputesFromPayPalMoveTheMoneyEvenPastTheMerchantsRules) {
  ASSERT_EQ(PayPal(Event("WH-1", "PAYMENT.CAPTURE.COMPLETED", CaptureResource("CAP-1", "p1", "113.00"))).status, 200);
  // A refund made on PayPal's dashboard, naming its capture by link only (no custom_id).
  Json refund = {{"id", "R-1"},
                 {"amount", {{"currency_code", "USD"}, {"value", "20.00"}}},
                 {"links", {{{"rel", "self"}, {"href", "https://api.paypal.com/v2/payments/refunds/R-1"}},
                            {{"rel", "up"}, {"href", "https://api.paypal.com/v2/payments/captures/CAP-1"}}}}};
  Response r = PayPal(Event("WH-2", "PAYMENT.CAPTURE.REFUNDED", refund));
  ASSERT_EQ(r.status, 200) << r.body;
  // A dispute of the rest, created, then updated (no change), then resolved for the buyer.
  ASSERT_EQ(PayPal(Event("WH-3", "CUSTOMER.DISPUTE.CREATED", DisputeResource("PP-D-1", "CAP-1", "93.00"))).status, 200);
  const uint64_t opened = Head();
  Response updated = PayPal(Event("WH-4", "CUSTOMER.DISPUTE.UPDATED", DisputeResource("PP-D-1", "CAP-1", "93.00")));
  EXPECT_EQ(updated.status, 200) << updated.body;
  EXPECT_EQ(Head(), opened) << "an update of a recorded dispute moves no money";
  Json resolved = DisputeResource("PP-D-1", "CAP-1", "93.00");
  resolved["dispute_outcome"] = {{"outcome_code", "RESOLVED_BUYER_FAVOUR"}};
  Response res = PayPal(Event("WH-5", "CUSTOMER.DISPUTE.RESOLVED", resolved));
  ASSERT_EQ(res.status, 200) << res.body;
  const uint64_t after = Head();
  EXPECT_GT(after, opened);
  EXPECT_EQ(PayPal(Event("WH-5", "CUSTOMER.DISPUTE.RESOLVED", resolved)).status, 200);
  EXPECT_EQ(PayPal(Event("WH-6", "CUSTOMER.DISPUTE.RESOLVED", resolved)).status, 200) << "resolved exactly once";
  EXPECT_EQ(Head(), after);
  // An over-refund reported by PayPal: recorded all the same, with its anomaly note.
  Json over = refund;
  over["id"] = "R-2";
  over["amount"]["value"] = "50.00";
  ASSERT_EQ(PayPal(Event("WH-7", "PAYMENT.CAPTURE.REFUNDED", over)).status, 200);
  ASSERT_TRUE(projector_->WaitFor(ledger::Position(Head()), 5000));
  const Json order = Order("o1");
  ASSERT_EQ(order["refunds"].size(), 2u) << order.dump();
  EXPECT_FALSE(order["refunds"][0].contains("anomaly"));
  EXPECT_NE(order["refunds"][1].value("anomaly", "").find("refund-exceeds-refundable"), std::string::npos) << order.dump();
  EXPECT_EQ(order["disputes"]["PP-D-1"]["status"], "resolved");
  EXPECT_EQ(order["disputes"]["PP-D-1"]["outcome"], "Lost");
  EXPECT_EQ(order["disputes"]["PP-D-1"]["source"], "Provider");
}

TEST_F(WebhooksInTest, ACaptureOfAPaymentTheLedgerNeverAuthorizedIsKeptAsAnUnmatchedFact) {
  ASSERT_NO_FATAL_FAILURE(ReportUnmatchedPayment());
  // A dispute of a capture nobody reported: not recordable yet (PayPal retries later).
  const uint64_t before = Head();
  Response early = PayPal(Event("WH-4", "CUSTOMER.DISPUTE.CREATED", DisputeResource("PP-D-Y", "CAP-Y", "1.00")));
  EXPECT_EQ(early.status, 404) << early.body;
  EXPECT_EQ(Body(early)["rule"], "capture-not-found");
  EXPECT_EQ(Head(), before);
  // The read models took all of it (no order to hang it on is not a corruption).
  ASSERT_TRUE(projector_->WaitFor(ledger::Position(Head()), 5000));
  auto u = ReadModel(ctx_, "customers")->Get("unmatched/m1/PAY-X");
  ASSERT_TRUE(u.ok() && u->has_value());
  const Json& fact = **u;
  EXPECT_NE(fact["captures"][0].value("anomaly", "").find("payment-unknown"), std::string::npos) << fact.dump();
  EXPECT_EQ(fact["refunds"].size(), 1u);
  EXPECT_EQ(fact["disputes"]["PP-D-X"]["status"], "open");
}

// DECISIONS 109: a payment the ledger never authorized had its provider's facts recorded
// (money moved, the customers read model keeps them under unmatched/) but GET
// /v1/payments/{id} answered 404, since it read only the link an authorization writes.
TEST_F(WebhooksInTest, APaymentTheLedgerNeverAuthorizedIsReadFromItsUnmatchedFacts) {
  ASSERT_NO_FATAL_FAILURE(ReportUnmatchedPayment());
  ASSERT_TRUE(projector_->WaitFor(ledger::Position(Head()), 5000));
  Response r = Call("GET", "/v1/payments/PAY-X", m1_);
  ASSERT_EQ(r.status, 200) << r.body;
  const Json p = Body(r);
  EXPECT_TRUE(p["unmatched"].get<bool>()) << r.body;
  EXPECT_TRUE(p["order_id"].is_null()) << r.body;
  EXPECT_EQ(p["payment_id"], "PAY-X");
  EXPECT_EQ(p["captured_minor"], 5000);
  EXPECT_EQ(p["refunded_minor"], 1000);
  ASSERT_EQ(p["captures"].size(), 1u) << r.body;
  EXPECT_EQ(p["captures"][0]["capture_id"], "CAP-X");
  EXPECT_NE(p["captures"][0].value("anomaly", "").find("payment-unknown"), std::string::npos) << r.body;
  ASSERT_EQ(p["refunds"].size(), 1u) << r.body;
  EXPECT_EQ(p["refunds"][0]["refund_id"], "R-X");
  ASSERT_EQ(p["disputes"].size(), 1u) << r.body;
  EXPECT_EQ(p["disputes"][0]["dispute_id"], "PP-D-X");
  EXPECT_EQ(p["disputes"][0]["status"], "open");
  EXPECT_FALSE(HeaderOf(r, "ETag").empty()) << "the payment's stream holds its capture and refund";
  // Merchant-scoped as every read: another merchant gets 404; an analyst names the merchant.
  EXPECT_EQ(Call("GET", "/v1/payments/PAY-X", m2_).status, 404);
  Response analyst = Call("GET", "/v1/payments/PAY-X?merchant_id=m1", analyst_);
  ASSERT_EQ(analyst.status, 200) << analyst.body;
  EXPECT_TRUE(Body(analyst)["unmatched"].get<bool>());
  // An authorized payment says it is matched and names its order; an unknown one is 404.
  Response authorized = Call("GET", "/v1/payments/p1", m1_);
  ASSERT_EQ(authorized.status, 200) << authorized.body;
  EXPECT_FALSE(Body(authorized)["unmatched"].get<bool>());
  EXPECT_EQ(Body(authorized)["order_id"], "o1");
  EXPECT_EQ(Call("GET", "/v1/payments/PAY-NONE", m1_).status, 404);
}

Json EbayOrder(const std::string& notification, const std::string& order, Json lines, const std::string& total,
               const std::string& seller = "seller-m1", const std::string& buyer = "happy_buyer") {
  return Json{{"metadata", {{"topic", "ORDER.CREATED"}, {"schemaVersion", "1.0"}}},
              {"notification",
               {{"notificationId", notification},
                {"eventDate", "2026-11-26T10:00:00.000Z"},
                {"data",
                 {{"orderId", order},
                  {"sellerId", seller},
                  {"buyer", {{"username", buyer}}},
                  {"lineItems", std::move(lines)},
                  {"pricingSummary",
                   {{"deliveryCost", {{"value", "5.00"}, {"currency", "USD"}}},
                    {"tax", {{"value", "0.00"}, {"currency", "USD"}}},
                    {"total", {{"value", total}, {"currency", "USD"}}}}}}}}}};
}

TEST_F(WebhooksInTest, AnEbayOrderIsPlacedInTheConfiguredStoreOnceWithItsBuyer) {
  const Json lines = {{{"sku", "sku-1"}, {"quantity", 2}, {"lineItemCost", {{"value", "100.00"}, {"currency", "USD"}}}}};
  Response r = Ebay(EbayOrder("n-1", "12-34567-89012", lines, "105.00"));
  ASSERT_EQ(r.status, 200) << r.body;
  const uint64_t after = Head();
  EXPECT_EQ(Ebay(EbayOrder("n-1", "12-34567-89012", lines, "105.00")).status, 200);
  EXPECT_EQ(Ebay(EbayOrder("n-2", "12-34567-89012", lines, "105.00")).status, 200) << "the same order, notified again";
  EXPECT_EQ(Head(), after);
  ASSERT_TRUE(projector_->WaitFor(ledger::Position(after), 5000));
  const Json order = Order("12-34567-89012");
  // The buyer's username is personal data: a pseudonymous id, the handle sealed.
  const std::string customer_id = order["customer_id"].get<std::string>();
  EXPECT_EQ(customer_id.rfind("ebay:", 0), 0u) << customer_id;
  EXPECT_EQ(customer_id.size(), 5u + 32u) << customer_id;
  EXPECT_EQ(customer_id.find("happy_buyer"), std::string::npos);
  EXPECT_EQ(order["store_id"], "s1");
  EXPECT_EQ(order["total_minor"], 10500);
  EXPECT_FALSE(order.contains("anomaly")) << order.dump();
  Response customer = Call("GET", "/v1/customers/" + customer_id, m1_);
  ASSERT_EQ(customer.status, 200) << customer.body;
  EXPECT_EQ(Body(customer)["profile"]["name"], "happy_buyer") << "opened for the merchant";
  // The same buyer's next order: the same customer.
  ASSERT_EQ(Ebay(EbayOrder("n-3", "12-34567-89013", lines, "105.00")).status, 200);
  ASSERT_TRUE(projector_->WaitFor(ledger::Position(Head()), 5000));
  EXPECT_EQ(Order("12-34567-89013")["customer_id"], customer_id);
  // Erased: the next order is still recorded (the money moved), the handle is not taken.
  ASSERT_EQ(Call("POST", "/v1/customers/" + customer_id + "/erase", m1_).status, 200);
  ASSERT_EQ(Ebay(EbayOrder("n-4", "12-34567-89014", lines, "105.00")).status, 200);
  ASSERT_TRUE(projector_->WaitFor(ledger::Position(Head()), 5000));
  EXPECT_EQ(Order("12-34567-89014")["customer_id"], customer_id);
  auto records = store_->ReadRange(ledger::Position(1), 100000);
  ASSERT_TRUE(records.ok());
  for (const auto& e : *records) EXPECT_EQ(e.record.find("happy_buyer"), std::string::npos) << "at " << e.position.value();
  // A handle that is no handle: refused by its pointer, nothing recorded, never echoed.
  const uint64_t before = Head();
  Response bad = Ebay(EbayOrder("n-5", "12-34567-89015", lines, "105.00", "seller-m1", "two words"));
  EXPECT_EQ(bad.status, 400) << bad.body;
  EXPECT_NE(bad.body.find("/notification/data/buyer/username"), std::string::npos) << bad.body;
  EXPECT_EQ(bad.body.find("two words"), std::string::npos);
  EXPECT_EQ(Ebay(EbayOrder("n-6", "12-34567-89016", lines, "105.00", "seller-m1", std::string(65, 'b'))).status, 400);
  EXPECT_EQ(Head(), before);
}

TEST_F(WebhooksInTest, AnEbayOrderWaitsForAKeyringOnANodeWithoutOne) {
  ctx_.keyring = nullptr;
  const Json lines = {{{"sku", "sku-1"}, {"quantity", 1}, {"lineItemCost", {{"value", "50.00"}, {"currency", "USD"}}}}};
  const uint64_t before = Head();
  Response r = Ebay(EbayOrder("n-7", "77-7", lines, "50.00"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(Head(), before) << "nothing recorded: eBay retries";
}

TEST_F(WebhooksInTest, AnEbayNotificationCountsOnlyForItsOwnSellersMerchant) {
  // m2 configured the same eBay key (eBay signs for every seller) with its own seller id.
  MerchantSetUp(m2_);
  const Json config = {{"settlement_currency", "USD"},
                       {"ebay", {{"public_key", ebay.public_pem()}, {"store_id", "s1"}, {"seller_id", "seller-m2"}}}};
  ASSERT_EQ(Call("PUT", "/v1/merchant", m2_, config.dump()).status, 200);
  const uint64_t before = Head();
  const Json lines = {{{"sku", "sku-1"}, {"quantity", 1}, {"lineItemCost", {{"value", "50.00"}, {"currency", "USD"}}}}};
  // m1's seller's notification, signed by eBay, sent to m2's endpoint: refused, unread.
  Response foreign = Ebay(EbayOrder("n-9", "77-1", lines, "50.00", "seller-m1"), "m2");
  EXPECT_EQ(foreign.status, 401) << foreign.body;
  EXPECT_EQ(Head(), before);
  // An account deletion of a buyer this merchant never had (eBay sends them to every
  // seller): 200, nothing recorded.
  const Json deletion = {{"metadata", {{"topic", "MARKETPLACE_ACCOUNT_DELETION"}}},
                         {"notification", {{"notificationId", "n-del"}, {"data", {{"username", "someone"}}}}}};
  Response ack = Ebay(deletion);
  EXPECT_EQ(ack.status, 200) << ack.body;
  EXPECT_FALSE(Body(ack)["recorded"].get<bool>());
  EXPECT_EQ(Head(), before);
}

// eBay's MARKETPLACE_ACCOUNT_DELETION as eBay sends it; its ids are two UUIDs joined by '_'.
Json EbayAccountDeletion(const std::string& notification, const std::string& username) {
  return Json{{"metadata", {{"topic", "MARKETPLACE_ACCOUNT_DELETION"}, {"schemaVersion", "1.0"}, {"deprecated", false}}},
              {"notification",
               {{"notificationId", notification},
                {"eventDate", "2026-11-27T10:00:00.000Z"},
                {"publishDate", "2026-11-27T10:00:00.100Z"},
                {"publishAttemptCount", 1},
                {"data",
                 {{"username", username},
                  {"userId", "ma8vp1jySJC"},
                  {"eiasToken", "nY+sHZ2PrBmdj6wVnY+sEZ2PrA2dj6wJnY+gAZGEpwmdj6x9nY+seQ=="}}}}}};
}

const char kEbayDeletionId[] = "49feeaeb-4982-42d9-a377-9645b8479411_33f7e043-fed8-442b-9d44-791923bd9a6d";

TEST_F(WebhooksInTest, AnEbayAccountDeletionErasesTheBuyersCustomerOnce) {
  const Json lines = {{{"sku", "sku-1"}, {"quantity", 1}, {"lineItemCost", {{"value", "50.00"}, {"currency", "USD"}}}}};
  ASSERT_EQ(Ebay(EbayOrder("n-1", "55-1", lines, "55.00", "seller-m1", "leaving_buyer")).status, 200);
  ASSERT_TRUE(projector_->WaitFor(ledger::Position(Head()), 5000));
  const std::string customer_id = Order("55-1")["customer_id"].get<std::string>();
  ASSERT_EQ(customer_id.rfind("ebay:", 0), 0u) << customer_id;
  Response before_erasure = Call("GET", "/v1/customers/" + customer_id, m1_);
  ASSERT_EQ(before_erasure.status, 200) << before_erasure.body;
  ASSERT_EQ(Body(before_erasure)["profile"]["name"], "leaving_buyer");

  const uint64_t before = Head();
  Response erased = Ebay(EbayAccountDeletion(kEbayDeletionId, "leaving_buyer"));
  ASSERT_EQ(erased.status, 200) << erased.body;
  EXPECT_TRUE(Body(erased)["recorded"].get<bool>()) << erased.body;
  EXPECT_EQ(erased.body.find("leaving_buyer"), std::string::npos) << "the handle is never echoed";
  const uint64_t after = Head();
  EXPECT_GT(after, before);
  ASSERT_TRUE(projector_->WaitFor(ledger::Position(after), 5000));
  Response customer = Call("GET", "/v1/customers/" + customer_id, m1_);
  ASSERT_EQ(customer.status, 200) << customer.body;
  const Json profile = Body(customer)["profile"];
  EXPECT_TRUE(profile.value("erased", false)) << customer.body;
  EXPECT_FALSE(profile.contains("name")) << customer.body;
  EXPECT_EQ(customer.body.find("leaving_buyer"), std::string::npos) << customer.body;
  EXPECT_EQ(Order("55-1")["customer_id"], customer_id) << "the money stays: the order keeps its customer";

  // eBay redelivers the same notification: 200, nothing written.
  Response again = Ebay(EbayAccountDeletion(kEbayDeletionId, "leaving_buyer"));
  EXPECT_EQ(again.status, 200) << again.body;
  EXPECT_FALSE(Body(again)["recorded"].get<bool>()) << again.body;
  // Another notification of the same deletion: the buyer is erased already.
  Response another = Ebay(EbayAccountDeletion("del-again", "leaving_buyer"));
  EXPECT_EQ(another.status, 200) << another.body;
  EXPECT_FALSE(Body(another)["recorded"].get<bool>()) << another.body;
  EXPECT_EQ(Head(), after);
}

TEST_F(WebhooksInTest, AnEbayAccountDeletionOfAStrangerOrBadlySignedErasesNothing) {
  const Json lines = {{{"sku", "sku-1"}, {"quantity", 1}, {"lineItemCost", {{"value", "50.00"}, {"currency", "USD"}}}}};
  ASSERT_EQ(Ebay(EbayOrder("n-1", "55-2", lines, "55.00", "seller-m1", "staying_buyer")).status, 200);
  ASSERT_TRUE(projector_->WaitFor(ledger::Position(Head()), 5000));
  const std::string customer_id = Order("55-2")["customer_id"].get<std::string>();
  const uint64_t before = Head();
  // eBay sends every deletion to every seller: a buyer this merchant never had is no error.
  Response stranger = Ebay(EbayAccountDeletion(kEbayDeletionId, "never_bought_here"));
  EXPECT_EQ(stranger.status, 200) << stranger.body;
  EXPECT_FALSE(Body(stranger)["recorded"].get<bool>()) << stranger.body;
  EXPECT_EQ(stranger.body.find("never_bought_here"), std::string::npos);
  // Signed by another key, or a signature of another body: 401, nothing erased.
  const std::string body = EbayAccountDeletion("del-forged", "staying_buyer").dump();
  EcSigner forger;
  EXPECT_EQ(Call("POST", "/v1/webhooks/ebay/m1", "", body, {{"x-ebay-signature", forger.Header(body)}}).status, 401);
  EXPECT_EQ(Call("POST", "/v1/webhooks/ebay/m1", "", body, {{"x-ebay-signature", ebay.Header(body + " ")}}).status, 401);
  EXPECT_EQ(Call("POST", "/v1/webhooks/ebay/m1", "", body).status, 401);
  EXPECT_EQ(Head(), before);
  Response customer = Call("GET", "/v1/customers/" + customer_id, m1_);
  ASSERT_EQ(customer.status, 200) << customer.body;
  EXPECT_EQ(Body(customer)["profile"]["name"], "staying_buyer") << "still there";
}

TEST_F(WebhooksInTest, AnEbayAccountDeletionWaitsForAKeyringOnANodeWithoutOne) {
  ctx_.keyring = nullptr;
  const uint64_t before = Head();
  Response r = Ebay(EbayAccountDeletion(kEbayDeletionId, "someone"));
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.body.find("someone"), std::string::npos);
  EXPECT_EQ(Head(), before) << "nothing recorded: eBay retries";
}

TEST_F(WebhooksInTest, AnEbayOrderBreakingStoreRulesIsRecordedWithAnomaliesAndStockNeverBelowZero) {
  // sku-1 has 8 left after o1 (10 - 2); eBay sold 9, and a sku the store never listed.
  const Json lines = {{{"sku", "sku-1"}, {"quantity", 9}, {"lineItemCost", {{"value", "450.00"}, {"currency", "USD"}}}},
                      {{"sku", "sku-gone"}, {"quantity", 1}, {"lineItemCost", {{"value", "3.00"}, {"currency", "USD"}}}}};
  Response r = Ebay(EbayOrder("n-5", "99-1", lines, "450.00"));
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_TRUE(projector_->WaitFor(ledger::Position(Head()), 5000));
  const std::string anomaly = Order("99-1").value("anomaly", "");
  EXPECT_NE(anomaly.find("insufficient-stock"), std::string::npos) << anomaly;
  EXPECT_NE(anomaly.find("sku-not-listed"), std::string::npos) << anomaly;
  EXPECT_NE(anomaly.find("total-mismatch"), std::string::npos) << anomaly;
  Response store = Call("GET", "/v1/stores/s1", m1_);
  ASSERT_EQ(store.status, 200);
  int64_t stock = -1;
  const Json listed = Body(store)["listings"];
  for (const Json& l : listed)
    if (l["sku"] == "sku-1") stock = l["stock"].get<int64_t>();
  EXPECT_EQ(stock, 0) << store.body.substr(0, 600);
  // A line whose cost is not a whole number of minor units per item: refused, nothing written.
  const uint64_t before = Head();
  const Json odd = {{{"sku", "sku-1"}, {"quantity", 3}, {"lineItemCost", {{"value", "1.00"}, {"currency", "USD"}}}}};
  Response bad = Ebay(EbayOrder("n-6", "99-2", odd, "1.00"));
  EXPECT_EQ(bad.status, 400);
  EXPECT_EQ(Body(bad)["pointer"], "/notification/data/lineItems/0/lineItemCost/value");
  EXPECT_EQ(Head(), before);
}

}  // namespace
