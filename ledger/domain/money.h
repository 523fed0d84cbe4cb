// Money: int64 minor units plus an ISO-4217 currency from a known table (DESIGN §5).
// Every operation is checked for overflow; mixing currencies is an error; no floating
// point touches money. All functions are pure and thread-safe.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "ledger/status.h"

namespace ledger {

struct Currency {
  std::string_view code;  // ISO-4217 alphabetic, e.g. "USD"
  int exponent;           // minor-unit digits: USD 2, JPY 0, KWD 3
};

// The known currency, or InvalidArgument "unknown currency".
Result<Currency> FindCurrency(std::string_view code);

struct Money {
  int64_t amount_minor = 0;
  std::string currency;

  bool operator==(const Money&) const = default;
};

// Checked integer arithmetic on minor units: InvalidArgument on overflow.
Result<int64_t> CheckedAdd(int64_t a, int64_t b);
Result<int64_t> CheckedSub(int64_t a, int64_t b);
Result<int64_t> CheckedMul(int64_t a, int64_t b);

// Same-currency arithmetic: InvalidArgument when the currencies differ or on overflow.
Result<Money> Add(const Money& a, const Money& b);
Result<Money> Subtract(const Money& a, const Money& b);

// round_half_even(a * b / c), exact (128-bit intermediate). REQUIRES c > 0.
// InvalidArgument when the result does not fit in int64.
Result<int64_t> MulDivRoundHalfEven(int64_t a, int64_t b, int64_t c);

// "25.125" in a currency of exponent 3 -> 25125. Exact: at most `exponent` decimals, an
// optional leading '-', digits only, no exponent notation, no spaces; overflow is an error.
Result<int64_t> ParseDecimalAmount(std::string_view text, int exponent);

// 25125, exponent 3 -> "25.125"; -5, exponent 2 -> "-0.05".
std::string FormatDecimalAmount(int64_t amount_minor, int exponent);

}  // namespace ledger
