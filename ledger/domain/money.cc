#include "ledger/domain/money.h"

#include <array>
#include <limits>

namespace ledger {
namespace {

// ISO-4217 codes with their minor-unit exponents. Extend by appending; the exponent of a
// code never changes once events use it.
constexpr std::array<Currency, 48> kCurrencies = {{
    {"AED", 2}, {"AUD", 2}, {"BHD", 3}, {"BRL", 2}, {"CAD", 2}, {"CHF", 2}, {"CLP", 0},
    {"CNY", 2}, {"CZK", 2}, {"DKK", 2}, {"EUR", 2}, {"GBP", 2}, {"HKD", 2}, {"HUF", 2},
    {"IDR", 2}, {"ILS", 2}, {"INR", 2}, {"IQD", 3}, {"ISK", 0}, {"JOD", 3}, {"JPY", 0},
    {"KRW", 0}, {"KWD", 3}, {"LYD", 3}, {"MXN", 2}, {"MYR", 2}, {"NOK", 2}, {"NZD", 2},
    {"OMR", 3}, {"PHP", 2}, {"PLN", 2}, {"PYG", 0}, {"RON", 2}, {"SAR", 2}, {"SEK", 2},
    {"SGD", 2}, {"THB", 2}, {"TND", 3}, {"TRY", 2}, {"TWD", 2}, {"UGX", 0}, {"USD", 2},
    {"VND", 0}, {"XAF", 0}, {"XOF", 0}, {"ZAR", 2}, {"COP", 2}, {"EGP", 2},
}};

Status Overflow() { return Status::InvalidArgument("amount out of range"); }

}  // namespace

Result<Currency> FindCurrency(std::string_view code) {
  for (const Currency& c : kCurrencies)
    if (c.code == code) return c;
  return Status::InvalidArgument("unknown currency");
}

Result<int64_t> CheckedAdd(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return Overflow();
  return r;
}

Result<int64_t> CheckedSub(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_sub_overflow(a, b, &r)) return Overflow();
  return r;
}

Result<int64_t> CheckedMul(int64_t a, int64_t b) {
  int64_t r;
  if (__builtin_mul_overflow(a, b, &r)) return Overflow();
  return r;
}

Result<Money> Add(const Money& a, const Money& b) {
  if (a.currency != b.currency) return Status::InvalidArgument("currencies differ");
  auto r = CheckedAdd(a.amount_minor, b.amount_minor);
  if (!r.ok()) return r.status();
  return Money{*r, a.currency};
}

Result<Money> Subtract(const Money& a, const Money& b) {
  if (a.currency != b.currency) return Status::InvalidArgument("currencies differ");
  auto r = CheckedSub(a.amount_minor, b.amount_minor);
  if (!r.ok()) return r.status();
  return Money{*r, a.currency};
}

Result<int64_t> MulDivRoundHalfEven(int64_t a, int64_t b, int64_t c) {
  LEDGER_INVARIANT(c > 0);
  const __int128 n = static_cast<__int128>(a) * b;
  __int128 q = n / c;  // truncates toward zero
  __int128 r = n % c;  // same sign as n
  // Compare 2|r| with c to decide, away from zero or to even on an exact half.
  const __int128 twice = (r < 0 ? -r : r) * 2;
  if (twice > c || (twice == c && (q % 2 != 0))) q += (n < 0 ? -1 : 1);
  if (q > std::numeric_limits<int64_t>::max() || q < std::numeric_limits<int64_t>::min())
    return Overflow();
  return static_cast<int64_t>(q);
}

Result<int64_t> ParseDecimalAmount(std::string_view text, int exponent) {
  if (text.empty()) return Status::InvalidArgument("amount is empty");
  bool negative = false;
  if (text[0] == '-') {
    negative = true;
    text.remove_prefix(1);
  }
  const size_t dot = text.find('.');
  std::string_view whole = text.substr(0, dot);
  std::string_view frac = dot == std::string_view::npos ? std::string_view() : text.substr(dot + 1);
  if (whole.empty()) return Status::InvalidArgument("amount needs digits before the decimal point");
  if (dot != std::string_view::npos && frac.empty())
    return Status::InvalidArgument("amount needs digits after the decimal point");
  if (frac.size() > static_cast<size_t>(exponent))
    return Status::InvalidArgument("amount has more decimals than the currency allows");
  int64_t value = 0;
  auto push_digit = [&](char ch) -> Status {
    if (ch < '0' || ch > '9') return Status::InvalidArgument("amount must be a decimal number");
    auto m = CheckedMul(value, 10);
    if (!m.ok()) return m.status();
    auto s = CheckedAdd(*m, ch - '0');
    if (!s.ok()) return s.status();
    value = *s;
    return Status::Ok();
  };
  for (char ch : whole) LEDGER_RETURN_IF_ERROR(push_digit(ch));
  for (char ch : frac) LEDGER_RETURN_IF_ERROR(push_digit(ch));
  for (size_t i = frac.size(); i < static_cast<size_t>(exponent); ++i) LEDGER_RETURN_IF_ERROR(push_digit('0'));
  return negative ? -value : value;
}

std::string FormatDecimalAmount(int64_t amount_minor, int exponent) {
  const bool negative = amount_minor < 0;
  // Work in unsigned so that INT64_MIN formats too.
  uint64_t v = negative ? ~static_cast<uint64_t>(amount_minor) + 1 : static_cast<uint64_t>(amount_minor);
  std::string digits = std::to_string(v);
  if (exponent > 0) {
    if (digits.size() <= static_cast<size_t>(exponent))
      digits.insert(digits.begin(), static_cast<size_t>(exponent) - digits.size() + 1, '0');
    digits.insert(digits.end() - exponent, '.');
  }
  if (negative) digits.insert(digits.begin(), '-');
  return digits;
}

}  // namespace ledger
