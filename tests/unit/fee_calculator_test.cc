// The worked examples of issue 3 (DESIGN §5), figure for figure, plus the recipe's
// validation and the cumulative-refund rule.
#include "ledger/domain/fee_calculator.h"

#include <gtest/gtest.h>

#include <map>

#include "ledger/domain/money.h"

using namespace ledger;

namespace {

// The example recipe of issue 3 (the default recipe's capture contributors).
const char* kExampleRecipe = R"({
  "version": 7,
  "contributors": [
    {"id": "processing", "basis_points": 290, "fixed": {"USD": 30, "JPY": 40, "KWD": 100},
     "applies_to": ["capture"], "refund_reverses": "percentage"},
    {"id": "marketplace", "basis_points": 1000, "channels": ["marketplace"],
     "applies_to": ["capture"], "refund_reverses": "both"},
    {"id": "platform", "basis_points": 100, "applies_to": ["capture"], "refund_reverses": "both"},
    {"id": "dispute", "basis_points": 0, "fixed": {"USD": 1500, "JPY": 2000, "KWD": 5000},
     "applies_to": ["dispute_open"], "returned_on_dispute_win": false}
  ]
})";

FeeRecipe Recipe(const char* json = kExampleRecipe) {
  auto r = ParseFeeRecipe(json);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  return r.ok() ? *r : FeeRecipe{};
}

CaptureInput Capture(const std::string& currency, int64_t amount, Channel channel = Channel::kMarketplace) {
  CaptureInput in;
  in.merchant_id = "m1";
  in.channel = channel;
  in.currency = currency;
  in.captured_minor = amount;
  in.order_total_minor = amount;
  return in;
}

int64_t Line(const FeeBreakdown& b, const std::string& contributor) {
  for (const auto& l : b.lines)
    if (l.contributor == contributor) return l.amount_minor;
  return 0;
}

using Balances = std::map<std::pair<std::string, std::string>, int64_t>;

int64_t Balance(const Balances& b, const std::string& account, const std::string& currency = "USD") {
  auto it = b.find({account, currency});
  return it == b.end() ? 0 : it->second;
}

void ExpectBalanced(const std::vector<Posting>& postings) {
  Balances b;
  ASSERT_TRUE(ApplyPostings(postings, &b).ok());
  std::map<std::string, int64_t> per_currency;
  for (const auto& [key, v] : b) per_currency[key.second] += v;
  for (const auto& [cur, sum] : per_currency) EXPECT_EQ(sum, 0) << cur;
}

}  // namespace

TEST(FeeExamples, MarketplaceCaptureUsd) {
  auto out = ComputeCapture(Recipe(), Capture("USD", 10000));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Line(out->fees, "processing"), 320);
  EXPECT_EQ(Line(out->fees, "marketplace"), 1000);
  EXPECT_EQ(Line(out->fees, "platform"), 100);
  EXPECT_EQ(out->merchant_net_minor, 8580);
  EXPECT_EQ(out->fees.recipe_version, 7u);
  ExpectBalanced(out->postings);
}

TEST(FeeExamples, FullRefundLeavesTheMerchantPayingTheFixedPart) {
  FeeRecipe recipe = Recipe();
  auto cap = ComputeCapture(recipe, Capture("USD", 10000));
  ASSERT_TRUE(cap.ok());
  RefundInput in{"m1", &recipe, &*cap, 10000, 0, 10000};
  auto ref = ComputeRefund(in);
  ASSERT_TRUE(ref.ok()) << ref.status().ToString();
  EXPECT_EQ(Line(ref->reversals, "processing"), -290);
  EXPECT_EQ(Line(ref->reversals, "marketplace"), -1000);
  EXPECT_EQ(Line(ref->reversals, "platform"), -100);
  EXPECT_EQ(ref->merchant_debit_minor, 8610);
  Balances b;
  ASSERT_TRUE(ApplyPostings(cap->postings, &b).ok());
  ASSERT_TRUE(ApplyPostings(ref->postings, &b).ok());
  EXPECT_EQ(Balance(b, "merchant:m1:available"), -30);
  EXPECT_EQ(Balance(b, "external:customer"), 0);
  EXPECT_EQ(Balance(b, "platform:fees:processing"), 30);
  ExpectBalanced(ref->postings);
}

TEST(FeeExamples, ThreePartialRefundsReverseExactlyAsOneFullRefund) {
  FeeRecipe recipe = Recipe();
  auto cap = ComputeCapture(recipe, Capture("USD", 10000));
  ASSERT_TRUE(cap.ok());
  const int64_t parts[] = {3333, 3333, 3334};
  const int64_t want_reversed[] = {463, 464, 463};
  const int64_t want_processing[] = {97, 96, 97};
  const int64_t want_marketplace[] = {333, 334, 333};
  const int64_t want_platform[] = {33, 34, 33};
  const int64_t want_back[] = {2870, 2869, 2871};
  Balances b;
  ASSERT_TRUE(ApplyPostings(cap->postings, &b).ok());
  int64_t before = 0, given_back = 0;
  for (int i = 0; i < 3; ++i) {
    RefundInput in{"m1", &recipe, &*cap, 10000, before, parts[i]};
    auto ref = ComputeRefund(in);
    ASSERT_TRUE(ref.ok()) << ref.status().ToString();
    EXPECT_EQ(-ref->reversals.Total(), want_reversed[i]) << "refund " << i;
    EXPECT_EQ(-Line(ref->reversals, "processing"), want_processing[i]);
    EXPECT_EQ(-Line(ref->reversals, "marketplace"), want_marketplace[i]);
    EXPECT_EQ(-Line(ref->reversals, "platform"), want_platform[i]);
    EXPECT_EQ(ref->merchant_debit_minor, want_back[i]);
    ASSERT_TRUE(ApplyPostings(ref->postings, &b).ok());
    before += parts[i];
    given_back += ref->merchant_debit_minor;
  }
  EXPECT_EQ(given_back, 8610);
  EXPECT_EQ(Balance(b, "merchant:m1:available"), -30);
}

TEST(FeeExamples, LostDisputeOfTheWholeCapture) {
  FeeRecipe recipe = Recipe();
  auto cap = ComputeCapture(recipe, Capture("USD", 10000));
  auto open = ComputeDisputeOpen(recipe, "m1", Channel::kMarketplace, "USD", 10000);
  ASSERT_TRUE(cap.ok() && open.ok());
  EXPECT_EQ(Line(open->fees, "dispute"), 1500);
  Balances b;
  ASSERT_TRUE(ApplyPostings(cap->postings, &b).ok());
  ASSERT_TRUE(ApplyPostings(open->postings, &b).ok());
  EXPECT_EQ(Balance(b, "merchant:m1:reserve"), 10000);
  auto lost = ComputeDisputeResolve(recipe, "m1", Channel::kMarketplace, "USD", 10000,
                                    DisputeResult::kLost, open->fees, nullptr);
  ASSERT_TRUE(lost.ok());
  ASSERT_TRUE(ApplyPostings(lost->postings, &b).ok());
  EXPECT_EQ(Balance(b, "merchant:m1:reserve"), 0);
  EXPECT_EQ(Balance(b, "merchant:m1:available"), -2920);
  EXPECT_EQ(Balance(b, "external:customer"), 0);
  EXPECT_EQ(Balance(b, "platform:fees:dispute"), 1500);
  EXPECT_EQ(Balance(b, "platform:fees:processing"), 320);  // capture fees kept
}

TEST(FeeExamples, WonDisputeReleasesTheReserveAndKeepsTheFee) {
  FeeRecipe recipe = Recipe();
  auto open = ComputeDisputeOpen(recipe, "m1", Channel::kWeb, "USD", 4000);
  ASSERT_TRUE(open.ok());
  auto won = ComputeDisputeResolve(recipe, "m1", Channel::kWeb, "USD", 4000, DisputeResult::kWon,
                                   open->fees, nullptr);
  ASSERT_TRUE(won.ok());
  Balances b;
  ASSERT_TRUE(ApplyPostings(open->postings, &b).ok());
  ASSERT_TRUE(ApplyPostings(won->postings, &b).ok());
  EXPECT_EQ(Balance(b, "merchant:m1:reserve"), 0);
  EXPECT_EQ(Balance(b, "merchant:m1:available"), -1500);
}

TEST(FeeExamples, TaxOnMarketplaceAndPlatformFees) {
  FeeRecipe recipe = Recipe(R"({
    "version": 2,
    "contributors": [
      {"id": "processing", "basis_points": 290, "fixed": {"USD": 30}, "applies_to": ["capture"],
       "refund_reverses": "percentage"},
      {"id": "marketplace", "basis_points": 1000, "channels": ["marketplace"], "applies_to": ["capture"],
       "refund_reverses": "both"},
      {"id": "platform", "basis_points": 100, "applies_to": ["capture"], "refund_reverses": "both"},
      {"id": "fee_tax", "kind": "tax", "base": "fees", "base_contributors": ["marketplace", "platform"],
       "basis_points": 2000, "applies_to": ["capture"], "refund_reverses": "both"}
    ]})");
  auto out = ComputeCapture(recipe, Capture("USD", 10000));
  ASSERT_TRUE(out.ok()) << out.status().ToString();
  EXPECT_EQ(Line(out->fees, "fee_tax"), 220);
  EXPECT_EQ(out->merchant_net_minor, 8360);
  Balances b;
  ASSERT_TRUE(ApplyPostings(out->postings, &b).ok());
  EXPECT_EQ(Balance(b, "tax:payable:fees"), 220);
}

TEST(FeeExamples, JpyHasNoMinorUnits) {
  auto out = ComputeCapture(Recipe(), Capture("JPY", 10000));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(Line(out->fees, "processing"), 330);
  EXPECT_EQ(Line(out->fees, "marketplace"), 1000);
  EXPECT_EQ(Line(out->fees, "platform"), 100);
  EXPECT_EQ(out->merchant_net_minor, 8570);
}

TEST(FeeExamples, KwdHasThreeMinorDigitsAndRoundsHalfToEven) {
  auto amount = ParseDecimalAmount("25.125", FindCurrency("KWD")->exponent);
  ASSERT_TRUE(amount.ok());
  ASSERT_EQ(*amount, 25125);
  auto out = ComputeCapture(Recipe(), Capture("KWD", *amount));
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(Line(out->fees, "processing"), 829);   // 728.625 -> 729, plus 100
  EXPECT_EQ(Line(out->fees, "marketplace"), 2512); // 2512.5 -> 2512 (half to even)
  EXPECT_EQ(Line(out->fees, "platform"), 251);     // 251.25
  EXPECT_EQ(out->merchant_net_minor, 21533);
}

TEST(FeeRules, CurrencyNotPricedIsRejected) {
  auto out = ComputeCapture(Recipe(), Capture("EUR", 10000));
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), Code::kRuleViolated);
  EXPECT_NE(out.status().message().find("currency-not-priced"), std::string::npos);
}

TEST(FeeRules, MinAndMaxClampCountAsFixedPart) {
  FeeRecipe recipe = Recipe(R"({"version": 1, "contributors": [
      {"id": "processing", "basis_points": 290, "fixed": {"USD": 30}, "min": {"USD": 50},
       "max": {"USD": 500}, "applies_to": ["capture"], "refund_reverses": "percentage"}]})");
  auto small = ComputeCapture(recipe, Capture("USD", 100, Channel::kWeb));  // 3 + 30 -> 50
  ASSERT_TRUE(small.ok());
  EXPECT_EQ(small->fees.lines[0].amount_minor, 50);
  EXPECT_EQ(small->fees.lines[0].percentage_part_minor, 3);
  EXPECT_EQ(small->fees.lines[0].fixed_part_minor, 47);
  auto big = ComputeCapture(recipe, Capture("USD", 100000, Channel::kWeb));  // 2900 + 30 -> 500
  ASSERT_TRUE(big.ok());
  EXPECT_EQ(big->fees.lines[0].amount_minor, 500);
  EXPECT_EQ(big->fees.lines[0].fixed_part_minor, 500 - 2900);
}

TEST(FeeRules, SalesTaxCollectedOnFacilitatorChannels) {
  FeeRecipe recipe = Recipe(R"({"version": 1, "sales_tax_channels": ["marketplace"], "contributors": [
      {"id": "platform", "basis_points": 100, "applies_to": ["capture"], "refund_reverses": "both"}]})");
  CaptureInput in = Capture("USD", 5500);
  in.order_total_minor = 11000;  // half of the order captured
  in.order_tax_minor = 1000;
  auto out = ComputeCapture(recipe, in);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->sales_tax_minor, 500);
  EXPECT_EQ(out->merchant_net_minor, 5500 - 55 - 500);
  ExpectBalanced(out->postings);
}

TEST(FeeRules, GrossExTaxShippingBase) {
  FeeRecipe recipe = Recipe(R"({"version": 1, "contributors": [
      {"id": "marketplace", "base": "gross_ex_tax_shipping", "basis_points": 1000,
       "applies_to": ["capture"], "refund_reverses": "both"}]})");
  CaptureInput in = Capture("USD", 12000);
  in.order_tax_minor = 1000;
  in.order_shipping_minor = 1000;  // the capture carries 2000 of tax and shipping
  auto out = ComputeCapture(recipe, in);
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(Line(out->fees, "marketplace"), 1000);
}

TEST(FeeRules, RefundBeyondTheCaptureIsRefused) {
  FeeRecipe recipe = Recipe();
  auto cap = ComputeCapture(recipe, Capture("USD", 10000));
  RefundInput in{"m1", &recipe, &*cap, 10000, 6000, 4001};
  EXPECT_EQ(ComputeRefund(in).status().code(), Code::kRuleViolated);
}

TEST(FeeRecipeParse, DefaultRecipeParsesAndPricesTheListedCurrencies) {
  auto r = ParseFeeRecipe(DefaultFeeRecipeJson());
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->version, 1u);
  for (const char* cur : {"USD", "EUR", "GBP", "JPY", "KRW", "KWD", "BHD"}) {
    auto out = ComputeCapture(*r, Capture(cur, 10000));
    EXPECT_TRUE(out.ok()) << cur << ": " << out.status().ToString();
    auto msg = ComputeMessageFees(*r, "m1", Channel::kWeb, cur);
    ASSERT_TRUE(msg.ok()) << cur;
    EXPECT_GT(msg->fees.Total(), 0) << cur;
  }
  auto usd_msg = ComputeMessageFees(*r, "m1", Channel::kWeb, "USD");
  EXPECT_EQ(usd_msg->fees.Total(), 5);
}

TEST(FeeRecipeParse, BadRecipesAreRejectedWithTheirReason) {
  struct Case { const char* json; const char* reason; };
  const Case cases[] = {
      {"{", "malformed JSON"},
      {R"({"contributors": []})", "version"},
      {R"({"version": 1, "contributors": [{"id": "a", "basis_points": -1, "applies_to": ["capture"]}]})", "basis_points"},
      {R"({"version": 1, "contributors": [{"id": "a", "basis_points": 10001, "applies_to": ["capture"]}]})", "basis_points"},
      {R"({"version": 1, "contributors": [{"id": "a", "min": {"USD": 9}, "max": {"USD": 5}, "applies_to": ["capture"]}]})", "min is above max"},
      {R"({"version": 1, "contributors": [{"id": "a", "base": "net", "applies_to": ["capture"]}]})", "unknown base"},
      {R"({"version": 1, "contributors": [{"id": "a", "payee": "bank:x", "applies_to": ["capture"]}]})", "unknown payee account"},
      {R"({"version": 1, "contributors": [{"id": "a", "applies_to": ["capture"]}, {"id": "a", "applies_to": ["capture"]}]})", "duplicate id"},
      {R"({"version": 1, "contributors": [{"id": "a", "fixed": {"XYZ": 1}, "applies_to": ["capture"]}]})", "unknown currency"},
      {R"({"version": 1, "contributors": [{"id": "a", "fixed": {"USD": -1}, "applies_to": ["capture"]}]})", "negative"},
      {R"({"version": 1, "contributors": [{"id": "t", "kind": "tax", "base": "fees", "base_contributors": ["later"], "applies_to": ["capture"]}]})", "listed before"},
      {R"({"version": 1, "contributors": [{"id": "a", "applies_to": ["capture"], "bogus": 1}]})", "unknown field"},
      {R"({"version": 1, "contributors": [{"id": "a", "applies_to": []}]})", "applies_to"},
      {R"({"version": 1, "contributors": [{"id": "a", "channels": ["moon"], "applies_to": ["capture"]}]})", "channels"},
  };
  for (const Case& c : cases) {
    auto r = ParseFeeRecipe(c.json);
    ASSERT_FALSE(r.ok()) << c.json;
    EXPECT_EQ(r.status().code(), Code::kInvalidArgument);
    EXPECT_NE(r.status().message().find(c.reason), std::string::npos)
        << "for " << c.json << " got: " << r.status().message();
  }
}
