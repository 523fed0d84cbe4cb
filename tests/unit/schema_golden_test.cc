// Golden bytes: records and a batch encoded by schema version 1 are committed under
// tests/data/golden/ and must keep decoding, with the same field values, in every later
// version of the schema (fields are only added). Regenerate ONLY when starting a new golden
// set, never to make this test pass: LEDGER_WRITE_GOLDEN=1 ./unit_tests --gtest_filter='Golden*'
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "ledger/chain_hash.h"
#include "ledger/record_codec.h"

using namespace ledger;
namespace fb = flatbuffers;
namespace s = ledger::schema;

namespace {

const std::string kDir = std::string(LEDGER_TEST_DATA_DIR) + "/golden";

EnvelopeFields Envelope(const std::string& stream, const std::string& tenant, uint64_t n) {
  EnvelopeFields f;
  f.stream = stream;
  f.tenant = tenant;
  f.event_id = {0x0123456789abcdefULL, n};
  f.correlation_id = {7, n};
  f.causation_id = {8, n};
  f.idempotency_key = "golden-" + std::to_string(n);
  f.request_digest = Sha256Of("golden request " + std::to_string(n));
  f.command_event_count = 1;
  return f;
}

std::vector<fb::Offset<s::Posting>> Postings(fb::FlatBufferBuilder& b) {
  return {s::CreatePostingDirect(b, "external:customer", "merchant:m1:available", 10000, "USD"),
          s::CreatePostingDirect(b, "merchant:m1:available", "platform:fees:processing", 320, "USD")};
}

std::vector<std::pair<std::string, std::string>> BuildGolden() {
  std::vector<std::pair<std::string, std::string>> out;
  auto add = [&](const std::string& name, std::string rec, uint64_t pos) {
    PatchAssigned(&rec, {Position(pos), StreamVersion(1), 1'764'000'000'000'000 + int64_t(pos),
                         Position(pos), Epoch(1)});
    out.emplace_back(name, std::move(rec));
  };
  add("writer_promoted", EncodeRecord(Envelope("writer/0", "", 1), s::EventBody::WriterPromoted,
      [](fb::FlatBufferBuilder& b) {
        return s::CreateWriterPromotedDirect(b, 1, "node-a", "http://10.0.0.1:8080", 0).Union();
      }), 1);
  add("merchant_configured", EncodeRecord(Envelope("merchant/m1", "m1", 2), s::EventBody::MerchantConfigured,
      [](fb::FlatBufferBuilder& b) {
        return s::CreateMerchantConfiguredDirect(b, "m1", "USD", "WH-1", "-----BEGIN CERTIFICATE-----",
                                                 "ebay-key", "ebay-store").Union();
      }), 2);
  EnvelopeFields cust = Envelope("customer/m1/c1", "m1", 3);
  cust.personal = "sealed-or-plain personal bytes";
  add("customer_registered", EncodeRecord(cust, s::EventBody::CustomerRegistered,
      [](fb::FlatBufferBuilder& b) {
        return s::CreateCustomerRegisteredDirect(b, "c1", "s1", s::Channel::Web).Union();
      }), 3);
  add("order_placed", EncodeRecord(Envelope("order/m1/1001", "m1", 4), s::EventBody::OrderPlaced,
      [](fb::FlatBufferBuilder& b) {
        std::vector<fb::Offset<s::OrderLine>> lines = {s::CreateOrderLineDirect(b, "sku-1", 2, 4000),
                                                       s::CreateOrderLineDirect(b, "sku-2", 1, 1000)};
        return s::CreateOrderPlacedDirect(b, "1001", "s1", "c1", s::Channel::Marketplace, "USD", &lines,
                                          500, 500, 10000).Union();
      }), 4);
  add("payment_captured", EncodeRecord(Envelope("payment/m1/p1", "m1", 5), s::EventBody::PaymentCaptured,
      [](fb::FlatBufferBuilder& b) {
        auto amount = s::CreateMoneyDirect(b, 10000, "USD");
        std::vector<fb::Offset<s::FeeLine>> lines = {s::CreateFeeLineDirect(
            b, "processing", s::FeeKind::Fee, 320, "USD", 290, 30, "merchant:m1:available",
            "platform:fees:processing")};
        auto fees = s::CreateFeeBreakdownDirect(b, 1, &lines);
        auto postings = Postings(b);
        return s::CreatePaymentCapturedDirect(b, "p1", "1001", "cap-1", amount, "8MC585209K746392H",
                                              s::Channel::Web, s::PaymentSource::Merchant, fees, &postings).Union();
      }), 5);
  add("key_issued", EncodeRecord(Envelope("key/k1", "", 6), s::EventBody::KeyIssued,
      [](fb::FlatBufferBuilder& b) {
        s::Sha256 h = ToSchema(Sha256Of("not a real key"));
        return s::CreateKeyIssuedDirect(b, "k1", &h, s::KeyRole::Admin, "").Union();
      }), 6);
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string BatchOf(const std::vector<std::pair<std::string, std::string>>& records) {
  BatchView batch;
  batch.shard = ShardId(0);
  batch.epoch = Epoch(1);
  batch.node_id = "node-a";
  batch.first_position = Position(1);
  Sha256Digest prev = kGenesisHash;
  batch.previous_hash = prev;
  uint64_t pos = 1;
  for (const auto& [name, rec] : records) {
    prev = ChainHash(prev, Position(pos++), rec);
    batch.records.push_back({rec, prev});
  }
  return EncodeBatch(batch);
}

}  // namespace

TEST(Golden, WriteWhenAsked) {
  if (std::getenv("LEDGER_WRITE_GOLDEN") == nullptr) GTEST_SKIP() << "golden files are not rewritten";
  std::filesystem::create_directories(kDir);
  auto golden = BuildGolden();
  for (const auto& [name, rec] : golden) std::ofstream(kDir + "/" + name + ".bin", std::ios::binary) << rec;
  std::ofstream(kDir + "/batch.bin", std::ios::binary) << BatchOf(golden);
}

TEST(Golden, V1RecordsStillDecode) {
  const auto order = ReadFile(kDir + "/order_placed.bin");
  ASSERT_FALSE(order.empty()) << "missing golden file";
  const s::Event* e = VerifyRecord(order);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->position(), 4u);
  EXPECT_EQ(e->stream()->str(), "order/m1/1001");
  EXPECT_EQ(e->tenant()->str(), "m1");
  EXPECT_EQ(e->idempotency_key()->str(), "golden-4");
  EXPECT_EQ(FromSchema(e->request_digest()), Sha256Of("golden request 4"));
  EXPECT_EQ(e->event_id()->hi(), 0x0123456789abcdefULL);
  EXPECT_EQ(e->writer_epoch(), 1u);
  EXPECT_EQ(e->recorded_at_us(), 1'764'000'000'000'004);
  ASSERT_EQ(e->body_type(), s::EventBody::OrderPlaced);
  const auto* o = e->body_as_OrderPlaced();
  EXPECT_EQ(o->channel(), s::Channel::Marketplace);
  ASSERT_EQ(o->lines()->size(), 2u);
  EXPECT_EQ(o->lines()->Get(0)->quantity(), 2);
  EXPECT_EQ(o->lines()->Get(0)->unit_price_minor(), 4000);
  EXPECT_EQ(o->total_minor(), 10000);

  const auto cap = ReadFile(kDir + "/payment_captured.bin");
  e = VerifyRecord(cap);
  ASSERT_NE(e, nullptr);
  ASSERT_EQ(e->body_type(), s::EventBody::PaymentCaptured);
  const auto* c = e->body_as_PaymentCaptured();
  EXPECT_EQ(c->amount()->amount_minor(), 10000);
  EXPECT_EQ(c->amount()->currency()->str(), "USD");
  EXPECT_EQ(c->provider_reference()->str(), "8MC585209K746392H");
  EXPECT_EQ(c->fees()->recipe_version(), 1u);
  EXPECT_EQ(c->fees()->lines()->Get(0)->amount_minor(), 320);
  EXPECT_EQ(c->postings()->size(), 2u);

  const auto wp = ReadFile(kDir + "/writer_promoted.bin");
  e = VerifyRecord(wp);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->body_as_WriterPromoted()->epoch(), 1u);
  EXPECT_EQ(e->body_as_WriterPromoted()->node_id()->str(), "node-a");

  const auto cust = ReadFile(kDir + "/customer_registered.bin");
  e = VerifyRecord(cust);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->personal_key_id(), 0u);
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(e->personal()->data()), e->personal()->size()),
            "sealed-or-plain personal bytes");

  const auto key = ReadFile(kDir + "/key_issued.bin");
  e = VerifyRecord(key);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->body_as_KeyIssued()->role(), s::KeyRole::Admin);
  EXPECT_EQ(FromSchema(e->body_as_KeyIssued()->key_hash()), Sha256Of("not a real key"));

  const auto mc = ReadFile(kDir + "/merchant_configured.bin");
  e = VerifyRecord(mc);
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->body_as_MerchantConfigured()->settlement_currency()->str(), "USD");
}

TEST(Golden, V1BatchStillDecodesAndChains) {
  const auto bytes = ReadFile(kDir + "/batch.bin");
  ASSERT_FALSE(bytes.empty());
  auto batch = DecodeBatch(bytes);
  ASSERT_TRUE(batch.ok()) << batch.status().ToString();
  EXPECT_EQ(batch->epoch, Epoch(1));
  EXPECT_EQ(batch->node_id, "node-a");
  EXPECT_EQ(batch->first_position, Position(1));
  ASSERT_EQ(batch->records.size(), 6u);
  Sha256Digest prev = batch->previous_hash;
  uint64_t pos = batch->first_position.value();
  for (const auto& item : batch->records) {
    ASSERT_NE(VerifyRecord(item.record), nullptr);
    EXPECT_EQ(ChainHash(prev, Position(pos), item.record), item.hash) << "position " << pos;
    prev = item.hash;
    ++pos;
  }
}

TEST(Golden, DecodeRejectsDamagedBatch) {
  auto bytes = ReadFile(kDir + "/batch.bin");
  ASSERT_FALSE(bytes.empty());
  bytes.resize(bytes.size() / 2);
  EXPECT_EQ(DecodeBatch(bytes).status().code(), Code::kCorruption);
}
