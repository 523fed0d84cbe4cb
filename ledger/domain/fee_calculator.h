// Fee breakdowns and double-entry postings for every money event (DESIGN §5), computed
// from one fee recipe. Pure functions, integer arithmetic only, thread-safe.
//
// Conventions: a Posting moves `amount_minor` from `debit` to `credit`; an account's
// balance is what it was credited less what it was debited, so a positive
// merchant:<id>:available is money the platform owes the merchant and external:customer
// is minus what customers paid in. Every event's postings balance by construction.
#pragma once

#include <string>
#include <vector>

#include "ledger/domain/fee_recipe.h"
#include "ledger/status.h"

namespace ledger {

struct FeeLine {
  std::string contributor;
  FeeKind kind = FeeKind::kFee;
  int64_t amount_minor = 0;           // charged (> 0) or reversed (< 0)
  int64_t percentage_part_minor = 0;  // from basis points
  int64_t fixed_part_minor = 0;       // fixed part plus what a min/max clamp added or removed
  std::string payer_account;          // resolved for the merchant
  std::string payee_account;
};

struct Posting {
  std::string debit;
  std::string credit;
  int64_t amount_minor = 0;
  std::string currency;
};

struct FeeBreakdown {
  uint32_t recipe_version = 0;
  std::string currency;
  std::vector<FeeLine> lines;
  int64_t Total() const;  // sum of line amounts (fees and taxes on fees)
};

struct CaptureInput {
  std::string merchant_id;
  Channel channel = Channel::kWeb;
  std::string currency;
  int64_t captured_minor = 0;
  int64_t order_total_minor = 0;   // the order's total, for pro-rata shares
  int64_t order_tax_minor = 0;
  int64_t order_shipping_minor = 0;
};

struct CaptureOutcome {
  FeeBreakdown fees;
  int64_t sales_tax_minor = 0;     // the capture's share of the order's tax, when collected
  int64_t merchant_net_minor = 0;  // captured - fees - sales tax
  std::vector<Posting> postings;
};

// Errors: RuleViolated "currency-not-priced" when a contributor that applies has no fixed
// part for the currency; InvalidArgument on negative input or overflow.
Result<CaptureOutcome> ComputeCapture(const FeeRecipe& recipe, const CaptureInput& in);

struct RefundInput {
  std::string merchant_id;
  const FeeRecipe* capture_recipe = nullptr;  // the version the capture was charged under
  const CaptureOutcome* capture = nullptr;    // as recorded in the capture event
  int64_t captured_minor = 0;
  int64_t reversed_basis_before_minor = 0;    // refunds (and fee-reversing lost disputes) so far
  int64_t refund_minor = 0;
};

struct RefundOutcome {
  FeeBreakdown reversals;              // negative amounts
  int64_t sales_tax_reversed_minor = 0;
  int64_t merchant_debit_minor = 0;    // what the merchant gives back
  std::vector<Posting> postings;
};

// Cumulative reversal: after refunds totalling c of capture g, contributor i has been
// reversed round_half_even(r_i * c / g) in all, r_i being the part its refund_reverses
// names; this refund reverses that figure minus the one before.
Result<RefundOutcome> ComputeRefund(const RefundInput& in);

struct DisputeOpenOutcome {
  FeeBreakdown fees;
  std::vector<Posting> postings;  // available -> reserve, plus the dispute fee
};
Result<DisputeOpenOutcome> ComputeDisputeOpen(const FeeRecipe& recipe, const std::string& merchant_id,
                                              Channel channel, const std::string& currency,
                                              int64_t disputed_minor);

enum class DisputeResult { kWon, kLost };
struct DisputeResolveOutcome {
  FeeBreakdown fees;  // returned dispute fees (negative), fees charged at resolution, reversals
  std::vector<Posting> postings;
};
// `open_fees` is what the dispute's opening charged. For a lost dispute under a recipe
// whose lost disputes reverse capture fees, `refund` describes the capture as for a refund
// of the disputed amount; otherwise it may be null.
Result<DisputeResolveOutcome> ComputeDisputeResolve(const FeeRecipe& recipe, const std::string& merchant_id,
                                                    Channel channel, const std::string& currency,
                                                    int64_t disputed_minor, DisputeResult result,
                                                    const FeeBreakdown& open_fees,
                                                    const RefundInput* refund);

// Communications fee for one message, in the merchant's settlement currency.
Result<CaptureOutcome> ComputeMessageFees(const FeeRecipe& recipe, const std::string& merchant_id,
                                          Channel channel, const std::string& settlement_currency);

// Sum of balances per account from postings (credits - debits), checked for overflow.
Status ApplyPostings(const std::vector<Posting>& postings,
                     std::map<std::pair<std::string, std::string>, int64_t>* balances);

}  // namespace ledger
