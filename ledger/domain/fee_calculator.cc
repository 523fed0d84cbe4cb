#include "ledger/domain/fee_calculator.h"

#include "ledger/domain/money.h"

namespace ledger {
namespace {

std::string Available(const std::string& merchant) { return "merchant:" + merchant + ":available"; }
std::string Reserve(const std::string& merchant) { return "merchant:" + merchant + ":reserve"; }
constexpr const char* kCustomer = "external:customer";
constexpr const char* kSalesTax = "tax:payable:sales";

void Post(std::vector<Posting>* out, std::string debit, std::string credit, int64_t amount,
          const std::string& currency) {
  if (amount == 0) return;
  if (amount < 0) {  // a negative movement is the same movement the other way
    std::swap(debit, credit);
    amount = -amount;
  }
  out->push_back({std::move(debit), std::move(credit), amount, currency});
}

// One contributor's charge on `base` in `currency`, clamped by its min and max.
Result<FeeLine> Charge(const FeeContributor& c, int64_t base, const std::string& currency,
                       const std::string& merchant) {
  if (!c.Prices(currency))
    return Status::RuleViolated("currency-not-priced: the fee recipe does not price " + currency +
                                " for contributor " + c.id);
  auto pct = MulDivRoundHalfEven(base, c.basis_points, 10000);
  if (!pct.ok()) return pct.status();
  const auto fixed_it = c.fixed_minor.find(currency);
  const int64_t fixed = fixed_it == c.fixed_minor.end() ? 0 : fixed_it->second;
  auto raw = CheckedAdd(*pct, fixed);
  if (!raw.ok()) return raw.status();
  int64_t clamped = *raw;
  if (auto mn = c.min_minor.find(currency); mn != c.min_minor.end() && clamped < mn->second) clamped = mn->second;
  if (auto mx = c.max_minor.find(currency); mx != c.max_minor.end() && clamped > mx->second) clamped = mx->second;
  FeeLine line;
  line.contributor = c.id;
  line.kind = c.kind;
  line.amount_minor = clamped;
  line.percentage_part_minor = *pct;
  // What a clamp added or removed counts as fixed part (DESIGN §5).
  line.fixed_part_minor = fixed + (clamped - *raw);
  line.payer_account = ResolveAccount(c.payer_account, merchant);
  line.payee_account = ResolveAccount(c.payee_account, merchant);
  return line;
}

// Charges every contributor that applies to `event` on `channel`, in recipe order; a
// contributor with base `fees` is charged on the lines already computed.
Result<FeeBreakdown> ChargeAll(const FeeRecipe& recipe, FeeEvent event, Channel channel,
                               const std::string& currency, int64_t gross, int64_t gross_ex_tax_shipping,
                               const std::string& merchant) {
  FeeBreakdown out;
  out.recipe_version = recipe.version;
  out.currency = currency;
  for (const FeeContributor& c : recipe.contributors) {
    if (!c.AppliesTo(event, channel)) continue;
    int64_t base = gross;
    if (c.base == FeeBaseKind::kGrossExTaxShipping) base = gross_ex_tax_shipping;
    if (c.base == FeeBaseKind::kFees) {
      base = 0;
      for (const FeeLine& l : out.lines)
        for (const std::string& b : c.base_contributors)
          if (l.contributor == b) {
            auto sum = CheckedAdd(base, l.amount_minor);
            if (!sum.ok()) return sum.status();
            base = *sum;
          }
    }
    auto line = Charge(c, base, currency, merchant);
    if (!line.ok()) return line.status();
    out.lines.push_back(std::move(line).value());
  }
  return out;
}

int64_t ReversiblePart(const FeeLine& line, RefundReverses reverses) {
  switch (reverses) {
    case RefundReverses::kNeither: return 0;
    case RefundReverses::kPercentage: return line.percentage_part_minor;
    case RefundReverses::kFixed: return line.fixed_part_minor;
    case RefundReverses::kBoth: return line.amount_minor;
  }
  return 0;
}

}  // namespace

int64_t FeeBreakdown::Total() const {
  int64_t t = 0;
  for (const FeeLine& l : lines) t += l.amount_minor;  // bounded: each line fits, few lines
  return t;
}

Result<CaptureOutcome> ComputeCapture(const FeeRecipe& recipe, const CaptureInput& in) {
  if (in.captured_minor < 0 || in.order_total_minor < 0 || in.order_tax_minor < 0 ||
      in.order_shipping_minor < 0)
    return Status::InvalidArgument("amounts must not be negative");
  // Pro-rata share of the order's tax and shipping in this capture.
  int64_t tax_share = 0, tax_shipping_share = 0;
  if (in.order_total_minor > 0) {
    auto t = MulDivRoundHalfEven(in.captured_minor, in.order_tax_minor, in.order_total_minor);
    auto ts = CheckedAdd(in.order_tax_minor, in.order_shipping_minor);
    if (!t.ok() || !ts.ok()) return Status::InvalidArgument("amount out of range");
    auto s = MulDivRoundHalfEven(in.captured_minor, *ts, in.order_total_minor);
    if (!s.ok()) return s.status();
    tax_share = *t;
    tax_shipping_share = *s;
  }
  CaptureOutcome out;
  auto fees = ChargeAll(recipe, FeeEvent::kCapture, in.channel, in.currency, in.captured_minor,
                        in.captured_minor - tax_shipping_share, in.merchant_id);
  if (!fees.ok()) return fees.status();
  out.fees = std::move(fees).value();
  out.sales_tax_minor = recipe.sales_tax_channels.count(in.channel) ? tax_share : 0;
  auto net = CheckedSub(in.captured_minor, out.fees.Total());
  if (!net.ok()) return net.status();
  out.merchant_net_minor = *net - out.sales_tax_minor;
  Post(&out.postings, kCustomer, Available(in.merchant_id), in.captured_minor, in.currency);
  for (const FeeLine& l : out.fees.lines)
    Post(&out.postings, l.payer_account, l.payee_account, l.amount_minor, in.currency);
  Post(&out.postings, Available(in.merchant_id), kSalesTax, out.sales_tax_minor, in.currency);
  return out;
}

Result<RefundOutcome> ComputeRefund(const RefundInput& in) {
  LEDGER_INVARIANT(in.capture_recipe != nullptr && in.capture != nullptr);
  const int64_t g = in.captured_minor;
  if (in.refund_minor <= 0) return Status::InvalidArgument("refund amount must be positive");
  auto after = CheckedAdd(in.reversed_basis_before_minor, in.refund_minor);
  if (!after.ok()) return after.status();
  if (g <= 0 || *after > g) return Status::RuleViolated("refund-exceeds-refundable");
  const std::string& currency = in.capture->fees.currency;
  RefundOutcome out;
  out.reversals.recipe_version = in.capture->fees.recipe_version;
  out.reversals.currency = currency;
  // Cumulative figures: reversed in all after this refund, minus reversed in all before.
  auto reversed_between = [&](int64_t part) -> Result<int64_t> {
    auto before = MulDivRoundHalfEven(part, in.reversed_basis_before_minor, g);
    auto total = MulDivRoundHalfEven(part, *after, g);
    if (!before.ok() || !total.ok()) return Status::InvalidArgument("amount out of range");
    return *total - *before;
  };
  for (const FeeLine& line : in.capture->fees.lines) {
    const FeeContributor* c = in.capture_recipe->Find(line.contributor);
    LEDGER_INVARIANT(c != nullptr);  // the capture was charged under this very recipe
    auto reversed = reversed_between(ReversiblePart(line, c->refund_reverses));
    if (!reversed.ok()) return reversed.status();
    if (*reversed == 0) continue;
    FeeLine rev = line;
    rev.amount_minor = -*reversed;
    switch (c->refund_reverses) {
      case RefundReverses::kPercentage:
        rev.percentage_part_minor = -*reversed;
        rev.fixed_part_minor = 0;
        break;
      case RefundReverses::kFixed:
        rev.percentage_part_minor = 0;
        rev.fixed_part_minor = -*reversed;
        break;
      case RefundReverses::kBoth: {
        // The total follows the whole fee; the split only reports it.
        auto pct = reversed_between(line.percentage_part_minor);
        if (!pct.ok()) return pct.status();
        rev.percentage_part_minor = -*pct;
        rev.fixed_part_minor = -(*reversed - *pct);
        break;
      }
      case RefundReverses::kNeither:
        LEDGER_INVARIANT(false);  // a zero part reverses nothing
    }
    out.reversals.lines.push_back(std::move(rev));
  }
  auto st_before = MulDivRoundHalfEven(in.capture->sales_tax_minor, in.reversed_basis_before_minor, g);
  auto st_total = MulDivRoundHalfEven(in.capture->sales_tax_minor, *after, g);
  if (!st_before.ok() || !st_total.ok()) return Status::InvalidArgument("amount out of range");
  out.sales_tax_reversed_minor = *st_total - *st_before;
  // The merchant gives back the refund less the fees and sales tax that come back to it.
  out.merchant_debit_minor = in.refund_minor + out.reversals.Total() - out.sales_tax_reversed_minor;
  Post(&out.postings, Available(in.merchant_id), kCustomer, in.refund_minor, currency);
  for (const FeeLine& l : out.reversals.lines)
    Post(&out.postings, l.payer_account, l.payee_account, l.amount_minor, currency);
  Post(&out.postings, kSalesTax, Available(in.merchant_id), out.sales_tax_reversed_minor, currency);
  return out;
}

Result<DisputeOpenOutcome> ComputeDisputeOpen(const FeeRecipe& recipe, const std::string& merchant_id,
                                              Channel channel, const std::string& currency,
                                              int64_t disputed_minor) {
  if (disputed_minor <= 0) return Status::InvalidArgument("disputed amount must be positive");
  auto fees = ChargeAll(recipe, FeeEvent::kDisputeOpen, channel, currency, disputed_minor,
                        disputed_minor, merchant_id);
  if (!fees.ok()) return fees.status();
  DisputeOpenOutcome out;
  out.fees = std::move(fees).value();
  Post(&out.postings, Available(merchant_id), Reserve(merchant_id), disputed_minor, currency);
  for (const FeeLine& l : out.fees.lines)
    Post(&out.postings, l.payer_account, l.payee_account, l.amount_minor, currency);
  return out;
}

Result<DisputeResolveOutcome> ComputeDisputeResolve(const FeeRecipe& recipe, const std::string& merchant_id,
                                                    Channel channel, const std::string& currency,
                                                    int64_t disputed_minor, DisputeResult result,
                                                    const FeeBreakdown& open_fees,
                                                    const RefundInput* refund) {
  if (disputed_minor <= 0) return Status::InvalidArgument("disputed amount must be positive");
  auto charged = ChargeAll(recipe, FeeEvent::kDisputeResolve, channel, currency, disputed_minor,
                           disputed_minor, merchant_id);
  if (!charged.ok()) return charged.status();
  DisputeResolveOutcome out;
  out.fees = std::move(charged).value();
  if (result == DisputeResult::kWon) {
    Post(&out.postings, Reserve(merchant_id), Available(merchant_id), disputed_minor, currency);
    for (const FeeLine& l : open_fees.lines) {
      const FeeContributor* c = recipe.Find(l.contributor);
      if (c == nullptr || !c->returned_on_dispute_win) continue;
      FeeLine back = l;
      back.amount_minor = -l.amount_minor;
      back.percentage_part_minor = -l.percentage_part_minor;
      back.fixed_part_minor = -l.fixed_part_minor;
      out.fees.lines.push_back(std::move(back));
    }
  } else {
    Post(&out.postings, Reserve(merchant_id), kCustomer, disputed_minor, currency);
    if (recipe.lost_dispute_reverses_fees && refund != nullptr) {
      RefundInput as_refund = *refund;
      as_refund.refund_minor = disputed_minor;
      auto rev = ComputeRefund(as_refund);
      if (!rev.ok()) return rev.status();
      for (FeeLine& l : rev->reversals.lines) out.fees.lines.push_back(std::move(l));
      Post(&out.postings, kSalesTax, Available(merchant_id), rev->sales_tax_reversed_minor, currency);
    }
  }
  for (const FeeLine& l : out.fees.lines)
    Post(&out.postings, l.payer_account, l.payee_account, l.amount_minor, currency);
  out.fees.recipe_version = recipe.version;
  out.fees.currency = currency;
  return out;
}

Result<CaptureOutcome> ComputeMessageFees(const FeeRecipe& recipe, const std::string& merchant_id,
                                          Channel channel, const std::string& settlement_currency) {
  auto fees = ChargeAll(recipe, FeeEvent::kMessage, channel, settlement_currency, 0, 0, merchant_id);
  if (!fees.ok()) return fees.status();
  CaptureOutcome out;
  out.fees = std::move(fees).value();
  out.merchant_net_minor = -out.fees.Total();
  for (const FeeLine& l : out.fees.lines)
    Post(&out.postings, l.payer_account, l.payee_account, l.amount_minor, settlement_currency);
  return out;
}

Status ApplyPostings(const std::vector<Posting>& postings,
                     std::map<std::pair<std::string, std::string>, int64_t>* balances) {
  for (const Posting& p : postings) {
    LEDGER_INVARIANT(p.amount_minor > 0);
    int64_t& debit = (*balances)[{p.debit, p.currency}];
    int64_t& credit = (*balances)[{p.credit, p.currency}];
    auto d = CheckedSub(debit, p.amount_minor);
    auto c = CheckedAdd(credit, p.amount_minor);
    if (!d.ok() || !c.ok()) return Status::InvalidArgument("balance out of range");
    debit = *d;
    credit = *c;
  }
  return Status::Ok();
}

}  // namespace ledger
