#include "ledger/domain/money.h"

#include <gtest/gtest.h>

#include <limits>

using namespace ledger;

TEST(Money, CurrencyTableKnowsExponents) {
  for (const char* c : {"USD", "EUR", "GBP", "CHF", "CAD", "AUD", "SEK", "ZAR"}) EXPECT_EQ(FindCurrency(c)->exponent, 2) << c;
  for (const char* c : {"JPY", "KRW"}) EXPECT_EQ(FindCurrency(c)->exponent, 0) << c;
  for (const char* c : {"KWD", "BHD"}) EXPECT_EQ(FindCurrency(c)->exponent, 3) << c;
  EXPECT_FALSE(FindCurrency("usd").ok());
  EXPECT_FALSE(FindCurrency("XYZ").ok());
  EXPECT_FALSE(FindCurrency("").ok());
}

TEST(Money, CheckedArithmeticRefusesOverflow) {
  const int64_t max = std::numeric_limits<int64_t>::max(), min = std::numeric_limits<int64_t>::min();
  EXPECT_FALSE(CheckedAdd(max, 1).ok());
  EXPECT_FALSE(CheckedSub(min, 1).ok());
  EXPECT_FALSE(CheckedMul(max / 2 + 1, 2).ok());
  EXPECT_EQ(*CheckedAdd(max - 1, 1), max);
  EXPECT_FALSE(Add({1, "USD"}, {1, "EUR"}).ok());
  EXPECT_EQ(Add({1, "USD"}, {2, "USD"})->amount_minor, 3);
  EXPECT_FALSE(Subtract({min, "USD"}, {1, "USD"}).ok());
}

TEST(Money, MulDivRoundsHalfToEven) {
  EXPECT_EQ(*MulDivRoundHalfEven(25125, 1000, 10000), 2512);  // 2512.5
  EXPECT_EQ(*MulDivRoundHalfEven(25135, 1000, 10000), 2514);  // 2513.5
  EXPECT_EQ(*MulDivRoundHalfEven(25125, 290, 10000), 729);    // 728.625
  EXPECT_EQ(*MulDivRoundHalfEven(-25125, 1000, 10000), -2512);
  EXPECT_EQ(*MulDivRoundHalfEven(-25135, 1000, 10000), -2514);
  EXPECT_EQ(*MulDivRoundHalfEven(1, 1, 3), 0);
  EXPECT_EQ(*MulDivRoundHalfEven(2, 1, 3), 1);
  // The product overflows int64 but the quotient does not.
  const int64_t max = std::numeric_limits<int64_t>::max();
  EXPECT_EQ(*MulDivRoundHalfEven(max, 10000, 10000), max);
  EXPECT_FALSE(MulDivRoundHalfEven(max, 2, 1).ok());
}

TEST(Money, DecimalStringsConvertExactly) {
  EXPECT_EQ(*ParseDecimalAmount("25.125", 3), 25125);
  EXPECT_EQ(*ParseDecimalAmount("25.1", 3), 25100);
  EXPECT_EQ(*ParseDecimalAmount("100.00", 2), 10000);
  EXPECT_EQ(*ParseDecimalAmount("100", 2), 10000);
  EXPECT_EQ(*ParseDecimalAmount("10000", 0), 10000);
  EXPECT_EQ(*ParseDecimalAmount("-0.05", 2), -5);
  EXPECT_EQ(*ParseDecimalAmount("0.29", 2), 29);  // 0.29 is not exact in binary floating point
  for (const char* bad : {"", "1.234", "1e3", "1,00", " 1", "1.", ".5", "--1", "+1", "0x10", "1.2.3",
                          "99999999999999999999"})
    EXPECT_FALSE(ParseDecimalAmount(bad, 2).ok()) << "'" << bad << "'";
  EXPECT_FALSE(ParseDecimalAmount("1.5", 0).ok());
}

TEST(Money, FormatsDecimals) {
  EXPECT_EQ(FormatDecimalAmount(25125, 3), "25.125");
  EXPECT_EQ(FormatDecimalAmount(-5, 2), "-0.05");
  EXPECT_EQ(FormatDecimalAmount(10000, 0), "10000");
  EXPECT_EQ(FormatDecimalAmount(7, 2), "0.07");
  EXPECT_EQ(FormatDecimalAmount(std::numeric_limits<int64_t>::min(), 2), "-92233720368547758.08");
}
