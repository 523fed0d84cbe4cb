#include "ledger/domain/fee_recipe.h"

#include <nlohmann/json.hpp>

#include "ledger/domain/money.h"
#include "ledger/ids.h"

namespace ledger {
namespace {

using json = nlohmann::json;

constexpr int64_t kBasisPointsMax = 10000;
constexpr size_t kContributorsMax = 32;

Status Bad(const std::string& where, const std::string& what) {
  return Status::InvalidArgument("fee recipe: " + where + ": " + what);
}

Status CheckKeys(const json& obj, const std::set<std::string>& allowed, const std::string& where) {
  for (auto it = obj.begin(); it != obj.end(); ++it)
    if (!allowed.count(it.key())) return Bad(where, "unknown field '" + it.key() + "'");
  return Status::Ok();
}

Result<std::map<std::string, int64_t>> ParseAmounts(const json& obj, const std::string& where) {
  std::map<std::string, int64_t> out;
  if (!obj.is_object()) return Bad(where, "must be an object of currency -> minor units");
  for (auto it = obj.begin(); it != obj.end(); ++it) {
    if (!FindCurrency(it.key()).ok()) return Bad(where, "unknown currency '" + it.key() + "'");
    if (!it.value().is_number_integer()) return Bad(where + "." + it.key(), "must be an integer");
    int64_t v = it.value().get<int64_t>();
    if (v < 0) return Bad(where + "." + it.key(), "must not be negative");
    out[it.key()] = v;
  }
  return out;
}

Result<FeeEvent> ParseFeeEvent(const std::string& s) {
  if (s == "capture") return FeeEvent::kCapture;
  if (s == "refund") return FeeEvent::kRefund;
  if (s == "dispute_open") return FeeEvent::kDisputeOpen;
  if (s == "dispute_resolve") return FeeEvent::kDisputeResolve;
  if (s == "message") return FeeEvent::kMessage;
  return Status::InvalidArgument("unknown event kind '" + s + "'");
}

bool IsKnownAccount(const std::string& account, const std::string& contributor_id) {
  return account == "merchant:{merchant}:available" || account == "merchant:{merchant}:reserve" ||
         account == "platform:fees:" + contributor_id || account == "tax:payable:fees" ||
         account == "tax:payable:sales";
}

Result<FeeContributor> ParseContributor(const json& j, size_t index) {
  const std::string where = "contributors[" + std::to_string(index) + "]";
  if (!j.is_object()) return Bad(where, "must be an object");
  LEDGER_RETURN_IF_ERROR(CheckKeys(
      j, {"id", "kind", "base", "base_contributors", "basis_points", "fixed", "min", "max",
          "channels", "applies_to", "payer", "payee", "refund_reverses", "returned_on_dispute_win"},
      where));
  FeeContributor c;
  if (!j.contains("id") || !j["id"].is_string() || !IsValidMerchantId(j["id"].get<std::string>()))
    return Bad(where + ".id", "must match [a-z0-9_]{1,32}");
  c.id = j["id"].get<std::string>();
  const std::string at = "contributor '" + c.id + "'";
  const std::string kind = j.value("kind", "fee");
  if (kind == "fee") c.kind = FeeKind::kFee;
  else if (kind == "tax") c.kind = FeeKind::kTax;
  else return Bad(at, "kind must be fee or tax");
  const std::string base = j.value("base", "gross");
  if (base == "gross") c.base = FeeBaseKind::kGross;
  else if (base == "gross_ex_tax_shipping") c.base = FeeBaseKind::kGrossExTaxShipping;
  else if (base == "fees") c.base = FeeBaseKind::kFees;
  else return Bad(at, "unknown base '" + base + "'");
  if (j.contains("base_contributors")) {
    if (!j["base_contributors"].is_array()) return Bad(at, "base_contributors must be a list");
    for (const auto& b : j["base_contributors"]) {
      if (!b.is_string()) return Bad(at, "base_contributors must be names");
      c.base_contributors.push_back(b.get<std::string>());
    }
  }
  if (c.base == FeeBaseKind::kFees && c.base_contributors.empty())
    return Bad(at, "base fees needs base_contributors");
  if (c.base != FeeBaseKind::kFees && !c.base_contributors.empty())
    return Bad(at, "base_contributors only go with base fees");
  if (j.contains("basis_points")) {
    if (!j["basis_points"].is_number_integer()) return Bad(at, "basis_points must be an integer");
    c.basis_points = j["basis_points"].get<int64_t>();
  }
  if (c.basis_points < 0 || c.basis_points > kBasisPointsMax)
    return Bad(at, "basis_points must be 0 to 10000");
  for (const char* field : {"fixed", "min", "max"}) {
    if (!j.contains(field)) continue;
    auto amounts = ParseAmounts(j[field], at + "." + field);
    if (!amounts.ok()) return amounts.status();
    (std::string(field) == "fixed" ? c.fixed_minor : std::string(field) == "min" ? c.min_minor : c.max_minor) = *amounts;
  }
  for (const auto& [cur, mn] : c.min_minor)
    if (auto mx = c.max_minor.find(cur); mx != c.max_minor.end() && mn > mx->second)
      return Bad(at, "min is above max for " + cur);
  if (j.contains("channels")) {
    if (!j["channels"].is_array()) return Bad(at, "channels must be a list");
    for (const auto& ch : j["channels"]) {
      auto parsed = ch.is_string() ? ParseChannel(ch.get<std::string>()) : Result<Channel>(Status::InvalidArgument("x"));
      if (!parsed.ok()) return Bad(at, "channels must be web, marketplace or mall");
      c.channels.insert(*parsed);
    }
  }
  if (!j.contains("applies_to") || !j["applies_to"].is_array() || j["applies_to"].empty())
    return Bad(at, "applies_to must list at least one event kind");
  for (const auto& e : j["applies_to"]) {
    auto parsed = e.is_string() ? ParseFeeEvent(e.get<std::string>()) : Result<FeeEvent>(Status::InvalidArgument("x"));
    if (!parsed.ok())
      return Bad(at, "applies_to takes capture, refund, dispute_open, dispute_resolve, message");
    c.applies_to.insert(*parsed);
  }
  c.payer_account = j.value("payer", "merchant:{merchant}:available");
  c.payee_account = j.value("payee", c.kind == FeeKind::kTax ? "tax:payable:fees" : "platform:fees:" + c.id);
  if (!IsKnownAccount(c.payer_account, c.id)) return Bad(at, "unknown payer account");
  if (!IsKnownAccount(c.payee_account, c.id)) return Bad(at, "unknown payee account");
  if (c.kind == FeeKind::kTax && c.payee_account != "tax:payable:fees")
    return Bad(at, "a tax on fees is credited to tax:payable:fees");
  const std::string reverses = j.value("refund_reverses", "neither");
  if (reverses == "neither") c.refund_reverses = RefundReverses::kNeither;
  else if (reverses == "percentage") c.refund_reverses = RefundReverses::kPercentage;
  else if (reverses == "fixed") c.refund_reverses = RefundReverses::kFixed;
  else if (reverses == "both") c.refund_reverses = RefundReverses::kBoth;
  else return Bad(at, "refund_reverses must be neither, percentage, fixed or both");
  if (j.contains("returned_on_dispute_win")) {
    if (!j["returned_on_dispute_win"].is_boolean()) return Bad(at, "returned_on_dispute_win must be true or false");
    c.returned_on_dispute_win = j["returned_on_dispute_win"].get<bool>();
  }
  return c;
}

}  // namespace

Result<Channel> ParseChannel(std::string_view s) {
  if (s == "web") return Channel::kWeb;
  if (s == "marketplace") return Channel::kMarketplace;
  if (s == "mall") return Channel::kMall;
  return Status::InvalidArgument("channel must be web, marketplace or mall");
}

std::string_view ChannelName(Channel c) {
  switch (c) {
    case Channel::kWeb: return "web";
    case Channel::kMarketplace: return "marketplace";
    case Channel::kMall: return "mall";
  }
  return "unknown";
}

const FeeContributor* FeeRecipe::Find(const std::string& id) const {
  for (const auto& c : contributors)
    if (c.id == id) return &c;
  return nullptr;
}

Result<FeeRecipe> ParseFeeRecipe(std::string_view text) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("fee recipe: malformed JSON");
  if (!j.is_object()) return Bad("document", "must be an object");
  LEDGER_RETURN_IF_ERROR(CheckKeys(
      j, {"version", "contributors", "sales_tax_channels", "lost_dispute_reverses_fees", "description"},
      "document"));
  FeeRecipe r;
  if (!j.contains("version") || !j["version"].is_number_unsigned() || j["version"].get<uint64_t>() == 0 ||
      j["version"].get<uint64_t>() > UINT32_MAX)
    return Bad("version", "must be a positive integer");
  r.version = static_cast<uint32_t>(j["version"].get<uint64_t>());
  if (!j.contains("contributors") || !j["contributors"].is_array())
    return Bad("contributors", "must be a list");
  if (j["contributors"].size() > kContributorsMax) return Bad("contributors", "at most 32");
  for (size_t i = 0; i < j["contributors"].size(); ++i) {
    auto c = ParseContributor(j["contributors"][i], i);
    if (!c.ok()) return c.status();
    if (r.Find(c->id) != nullptr) return Bad("contributor '" + c->id + "'", "duplicate id");
    for (const auto& b : c->base_contributors) {
      const FeeContributor* base = r.Find(b);
      if (base == nullptr)
        return Bad("contributor '" + c->id + "'", "base contributor '" + b + "' must be listed before it");
      if (base->kind != FeeKind::kFee) return Bad("contributor '" + c->id + "'", "a tax cannot be the base of a tax");
    }
    r.contributors.push_back(std::move(c).value());
  }
  if (j.contains("sales_tax_channels")) {
    if (!j["sales_tax_channels"].is_array()) return Bad("sales_tax_channels", "must be a list");
    for (const auto& ch : j["sales_tax_channels"]) {
      auto parsed = ch.is_string() ? ParseChannel(ch.get<std::string>()) : Result<Channel>(Status::InvalidArgument("x"));
      if (!parsed.ok()) return Bad("sales_tax_channels", "must be web, marketplace or mall");
      r.sales_tax_channels.insert(*parsed);
    }
  }
  if (j.contains("lost_dispute_reverses_fees")) {
    if (!j["lost_dispute_reverses_fees"].is_boolean()) return Bad("lost_dispute_reverses_fees", "must be true or false");
    r.lost_dispute_reverses_fees = j["lost_dispute_reverses_fees"].get<bool>();
  }
  return r;
}

std::string ResolveAccount(const std::string& account_template, const std::string& merchant_id) {
  static const std::string kPlaceholder = "{merchant}";
  std::string out = account_template;
  if (auto at = out.find(kPlaceholder); at != std::string::npos) out.replace(at, kPlaceholder.size(), merchant_id);
  return out;
}

}  // namespace ledger
