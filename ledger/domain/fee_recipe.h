// The fee recipe (DESIGN §5): one versioned document listing every revenue contributor of
// a transaction. Parsed from JSON (format in ledger/domain/FEE_RECIPE.md), validated, and
// published as FeeRecipePublished. A default ships with the project.
// Pure data and functions; thread-safe.
#pragma once

#include <cstdint>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "ledger/status.h"

namespace ledger {

enum class Channel { kWeb, kMarketplace, kMall };
enum class FeeEvent { kCapture, kRefund, kDisputeOpen, kDisputeResolve, kMessage };
enum class FeeKind { kFee, kTax };
enum class FeeBaseKind { kGross, kGrossExTaxShipping, kFees };
enum class RefundReverses { kNeither, kPercentage, kFixed, kBoth };

Result<Channel> ParseChannel(std::string_view s);
std::string_view ChannelName(Channel c);

struct FeeContributor {
  std::string id;  // e.g. "processing"; unique in a recipe; [a-z0-9_]{1,32}
  FeeKind kind = FeeKind::kFee;
  FeeBaseKind base = FeeBaseKind::kGross;
  std::vector<std::string> base_contributors;  // for base kFees
  int64_t basis_points = 0;                     // 0..10000
  std::map<std::string, int64_t> fixed_minor;   // per currency
  std::map<std::string, int64_t> min_minor;     // per currency; absent = no minimum
  std::map<std::string, int64_t> max_minor;     // per currency; absent = no maximum
  std::set<Channel> channels;                   // empty = every channel
  std::set<FeeEvent> applies_to;
  std::string payer_account;  // template: "merchant:{merchant}:available"
  std::string payee_account;  // "platform:fees:<id>", "tax:payable:fees", "tax:payable:sales"
  RefundReverses refund_reverses = RefundReverses::kNeither;
  bool returned_on_dispute_win = false;

  bool AppliesTo(FeeEvent e, Channel c) const {
    return applies_to.count(e) && (channels.empty() || channels.count(c));
  }
  // Prices `currency`: has no per-currency amounts at all, or a fixed part for it.
  bool Prices(const std::string& currency) const {
    return (fixed_minor.empty() && min_minor.empty() && max_minor.empty()) ||
           fixed_minor.count(currency);
  }
};

struct FeeRecipe {
  uint32_t version = 0;
  std::vector<FeeContributor> contributors;  // in evaluation order (bases before taxes on them)
  std::set<Channel> sales_tax_channels;      // the platform collects the order's sales tax there
  bool lost_dispute_reverses_fees = false;

  const FeeContributor* Find(const std::string& id) const;
};

// Parses and validates a recipe document. InvalidArgument naming the first problem:
// malformed JSON, unknown field values, negative or out-of-range rates, min > max,
// unknown base, account or currency, duplicate contributor ids, a tax base that is not an
// earlier contributor.
Result<FeeRecipe> ParseFeeRecipe(std::string_view json);

// The recipe shipped with the project (ledger/domain/default_fee_recipe.json).
const std::string& DefaultFeeRecipeJson();

// Resolves an account template for a merchant: "merchant:{merchant}:available" -> ...
std::string ResolveAccount(const std::string& account_template, const std::string& merchant_id);

}  // namespace ledger
