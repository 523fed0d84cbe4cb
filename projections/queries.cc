#include "projections/queries.h"

#include "ledger/ids.h"
#include "projections/fees_keys.h"

#include <algorithm>
#include <cctype>
#include <map>

namespace projections {

using ledger::Result;
using ledger::Status;

namespace {
// A calendar day written YYYY-MM-DD (proleptic Gregorian, as the read models' UTC days).
bool IsDay(const std::string& d) {
  if (d.size() != 10 || d[4] != '-' || d[7] != '-') return false;
  for (size_t i : {0, 1, 2, 3, 5, 6, 8, 9})
    if (!std::isdigit(static_cast<unsigned char>(d[i]))) return false;
  const int year = std::stoi(d.substr(0, 4)), month = std::stoi(d.substr(5, 2)), day = std::stoi(d.substr(8, 2));
  if (month < 1 || month > 12 || day < 1) return false;
  static constexpr int kDaysInMonth[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  const bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  return day <= kDaysInMonth[month - 1] + (month == 2 && leap ? 1 : 0);
}

Status CheckDays(const std::string& from_day, const std::string& to_day) {
  if (!IsDay(from_day) || !IsDay(to_day))
    return Status::InvalidArgument("days are calendar days written YYYY-MM-DD");
  if (from_day > to_day) return Status::InvalidArgument("the period ends before it starts");
  return Status::Ok();
}

// The last '/'-separated component of a key.
std::string LastPart(const std::string& key) { return key.substr(key.rfind('/') + 1); }

// [a_from, a_to) and [b_from, b_to) overlap; a missing end is open (still going on).
bool Overlaps(const Json& a_from, const Json* a_to, const Json& b_from, const Json* b_to) {
  const int64_t af = a_from.get<int64_t>(), bf = b_from.get<int64_t>();
  const bool a_before_b_ends = b_to == nullptr || af <= b_to->get<int64_t>();
  const bool b_before_a_ends = a_to == nullptr || bf <= a_to->get<int64_t>();
  return a_before_b_ends && b_before_a_ends;
}

const Json* Field(const Json& j, const char* name) { return j.contains(name) ? &j[name] : nullptr; }

// The integer at j[name]; 0 when absent or of another kind (read, never thrown over).
int64_t IntegerAt(const Json& j, const char* name) {
  if (!j.is_object()) return 0;
  const auto it = j.find(name);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

// The text at j[name]; "" when absent or of another kind.
std::string TextAt(const Json& j, const char* name) {
  if (!j.is_object()) return "";
  const auto it = j.find(name);
  return it != j.end() && it->is_string() ? it->get<std::string>() : "";
}

// A stored value the rule flagged: one of its sums reached the int64 bound (DECISIONS 49).
bool SaysOverflowed(const Json& v) {
  if (!v.is_object()) return false;
  const auto it = v.find("overflowed");
  return it != v.end() && it->is_boolean() && it->get<bool>();
}

// *total -= delta within int64, as AddWithinInt64 adds (record_value.h): a difference
// past int64 stays at the bound and the result is false.
bool SubtractWithinInt64(int64_t* total, int64_t delta) {
  if (!__builtin_sub_overflow(*total, delta, total)) return true;
  *total = delta < 0 ? INT64_MAX : INT64_MIN;
  return false;
}

// Adds `delta` to the integer at total[name] (from 0) within int64; false at the bound.
bool AddToTotal(Json& total, const char* name, int64_t delta) {
  int64_t sum = IntegerAt(total, name);
  const bool exact = AddWithinInt64(&sum, delta);
  total[name] = sum;
  return exact;
}

// A currency's totals before any capture is added: every field there, so the shape
// never depends on what the captures hold.
Json EmptyOrderTotal() {
  return {{"captures", 0},       {"contributors", Json::object()},     {"gross_minor", 0},
          {"merchant_net_at_capture_minor", 0}, {"merchant_net_minor", 0}, {"refunded_minor", 0},
          {"sales_tax_minor", 0}, {"tax_minor", 0}};
}

// Adds one capture record to its currency's totals: false when a sum reached the bound or
// the record (or one of its contributors) says one of its own did.
bool AddCaptureToTotal(const Json& capture, Json& total) {
  bool exact = !SaysOverflowed(capture);
  exact = AddToTotal(total, "captures", 1) && exact;
  for (const char* name : {"gross_minor", "merchant_net_at_capture_minor", "merchant_net_minor", "refunded_minor",
                           "sales_tax_minor", "tax_minor"})
    exact = AddToTotal(total, name, IntegerAt(capture, name)) && exact;
  const auto contributors = capture.find("contributors");
  if (contributors == capture.end() || !contributors->is_object()) return exact;
  for (const auto& [name, c] : contributors->items()) {
    Json& sum = total["contributors"][name];
    if (sum.is_null()) sum = {{"charged_minor", 0}, {"kind", TextAt(c, "kind")}, {"reversed_minor", 0}};
    exact = AddToTotal(sum, "charged_minor", IntegerAt(c, "charged_minor")) && exact;
    exact = AddToTotal(sum, "reversed_minor", IntegerAt(c, "reversed_minor")) && exact;
    exact = exact && !SaysOverflowed(c);
  }
  return exact;
}

// One account's statement while its days are summed.
struct StatementSums {
  int64_t opening_minor = 0, credits_minor = 0, debits_minor = 0, postings = 0;
  bool overflowed = false;
};

// Adds one day record of an account: a day before the period to the opening balance, a
// day inside it to the period's credits, debits and postings, a later day to nothing.
// Each sum stays within int64; reaching the bound, or a record that says it reached it,
// marks the account.
void AddStatementDay(const std::string& day, const Json& v, const std::string& from_day, const std::string& to_day,
                     StatementSums* a) {
  if (day > to_day) return;
  const int64_t credits = IntegerAt(v, "credits_minor"), debits = IntegerAt(v, "debits_minor");
  bool exact = !SaysOverflowed(v);
  if (day < from_day) {
    int64_t day_net = credits;  // the day's own net first: credits and debits may each be huge
    exact = SubtractWithinInt64(&day_net, debits) && exact;
    exact = AddWithinInt64(&a->opening_minor, day_net) && exact;
  } else {
    exact = AddWithinInt64(&a->credits_minor, credits) && exact;
    exact = AddWithinInt64(&a->debits_minor, debits) && exact;
    exact = AddWithinInt64(&a->postings, IntegerAt(v, "postings")) && exact;
  }
  if (!exact) a->overflowed = true;
}

// The account's statement: its sums and closing = opening + credits - debits, checked.
Json StatementAccount(const StatementSums& a) {
  int64_t period_net = a.credits_minor, closing = a.opening_minor;
  bool exact = SubtractWithinInt64(&period_net, a.debits_minor);
  exact = AddWithinInt64(&closing, period_net) && exact;
  Json out = {{"opening_minor", a.opening_minor}, {"credits_minor", a.credits_minor}, {"debits_minor", a.debits_minor},
              {"postings", a.postings},           {"closing_minor", closing}};
  if (a.overflowed || !exact) out["overflowed"] = true;
  return out;
}
}  // namespace

Result<Json> QueryCustomer(const ProjectionStore& customers, const std::string& merchant,
                           const std::string& customer) {
  auto c = customers.Get("customer/" + merchant + "/" + customer);
  if (!c.ok()) return c.status();
  if (!c->has_value()) return Status::NotFound("no such customer");
  Json out = **c;
  const std::string own = merchant + "/" + customer + "/";
  auto order_keys = customers.Scan("customer_order/" + own, "", SIZE_MAX);
  if (!order_keys.ok()) return order_keys.status();
  std::vector<std::pair<int64_t, std::string>> placed;  // oldest first
  for (const auto& [key, v] : *order_keys) placed.emplace_back(v["placed_at_us"].get<int64_t>(), LastPart(key));
  std::sort(placed.begin(), placed.end());
  Json orders = Json::array();
  for (const auto& [at, id] : placed) {
    auto o = customers.Get("order/" + merchant + "/" + id);
    if (!o.ok()) return o.status();
    if (o->has_value()) orders.push_back(**o);
  }
  out["orders"] = orders;
  auto messages = customers.Scan("customer_message/" + own, "", SIZE_MAX);
  if (!messages.ok()) return messages.status();
  std::vector<Json> list;
  for (auto& [key, msg] : *messages) {
    if (out.value("erased", false)) msg.erase("body");  // erased: personal fields never shown
    list.push_back(std::move(msg));
  }
  std::sort(list.begin(), list.end(), [](const Json& a, const Json& b) {
    return a["recorded_at_us"] != b["recorded_at_us"] ? a["recorded_at_us"] < b["recorded_at_us"]
                                                      : a["message_id"] < b["message_id"];
  });
  out["messages"] = list;
  auto notices = customers.Scan("notice/", "", SIZE_MAX);
  if (!notices.ok()) return notices.status();
  Json touched = Json::array();
  for (const auto& [key, n] : *notices) {
    for (const Json& o : orders)
      if (Overlaps(n["opened_at_us"], Field(n, "resolved_at_us"), o["placed_at_us"], Field(o, "closed_at_us"))) {
        touched.push_back(n);
        break;
      }
  }
  out["outage_notices"] = touched;
  if (!out.contains("lifetime_value_minor")) out["lifetime_value_minor"] = Json::object();
  return out;
}

Result<Json> QueryDispute(const ProjectionStore& customers, const std::string& merchant, const std::string& dispute) {
  // The index names the record that holds the dispute: its order, or for a provider's
  // dispute on a payment never authorized here (order id ""), that payment's unmatched record.
  auto index = customers.Get("dispute/" + merchant + "/" + dispute);
  if (!index.ok()) return index.status();
  if (!index->has_value()) return Status::NotFound("no such dispute");
  const std::string order_id = (**index).value("order_id", "");
  const std::string holder = order_id.empty() ? "unmatched/" + merchant + "/" + (**index).value("payment_id", "")
                                              : "order/" + merchant + "/" + order_id;
  auto record = customers.Get(holder);
  if (!record.ok()) return record.status();
  if (!record->has_value()) return Status::NotFound("no such dispute");
  const Json& held = **record;
  const auto disputes = held.find("disputes");
  if (disputes == held.end() || !disputes->is_object() || !disputes->contains(dispute))
    return Status::NotFound("no such dispute");
  Json out = disputes->at(dispute);
  out["dispute_id"] = dispute;
  out["order_id"] = order_id;
  out["merchant_id"] = merchant;
  return out;
}

Result<Json> QueryBalances(const ProjectionStore& fees, const std::string& merchant) {
  auto rows = fees.Scan("balance/merchant:" + merchant + ":", "", SIZE_MAX);
  if (!rows.ok()) return rows.status();
  Json balances = Json::object(), overflowed = Json::array();
  for (const auto& [key, v] : *rows) {
    const std::string rest = key.substr(std::string("balance/").size());
    const size_t slash = rest.rfind('/');
    const std::string account = rest.substr(0, slash), currency = rest.substr(slash + 1);
    balances[account][currency] = IntegerAt(v, "balance_minor");
    if (SaysOverflowed(v)) overflowed.push_back(Json{{"account", account}, {"currency", currency}});
  }
  return Json{{"balances", std::move(balances)}, {"overflowed", std::move(overflowed)}};
}

Result<Json> QueryCaptureFees(const ProjectionStore& fees, const std::string& merchant, const std::string& order,
                              const std::string& payment, const std::string& capture) {
  auto c = fees.Get(FeesCaptureKey(merchant, order, payment, capture));
  if (!c.ok()) return c.status();
  if (!c->has_value()) return Status::NotFound("no such capture");
  return **c;
}

Result<Json> QueryOrderFees(const ProjectionStore& fees, const std::string& merchant, const std::string& order) {
  // An empty id or one holding '/' would make the prefix reach other orders' captures.
  if (!ledger::IsValidEntityId(order)) return Status::NotFound("no such order");
  auto rows = fees.Scan(FeesOrderCapturesPrefix(merchant, order), "", SIZE_MAX);
  if (!rows.ok()) return rows.status();
  Json captures = Json::array(), totals = Json::object();
  for (auto& [key, capture] : *rows) {
    Json& total = totals[TextAt(capture, "currency")];  // currencies are never summed together
    if (total.is_null()) total = EmptyOrderTotal();
    if (!AddCaptureToTotal(capture, total)) total["overflowed"] = true;
    captures.push_back(std::move(capture));
  }
  return Json{{"order_id", order}, {"captures", std::move(captures)}, {"totals", std::move(totals)}};
}

Result<Json> QueryStatement(const ProjectionStore& fees, const std::string& merchant, const std::string& currency,
                            const std::string& from_day, const std::string& to_day) {
  LEDGER_RETURN_IF_ERROR(CheckDays(from_day, to_day));
  auto rows = fees.Scan("statement/" + merchant + "/" + currency + "/", "", SIZE_MAX);
  if (!rows.ok()) return rows.status();
  std::map<std::string, StatementSums> sums;  // by account; every account shown, even one quiet until to_day
  for (const auto& [key, v] : *rows) {
    const std::string day = LastPart(key);
    const std::string head = key.substr(0, key.size() - day.size() - 1);
    AddStatementDay(day, v, from_day, to_day, &sums[LastPart(head)]);
  }
  Json accounts = Json::object();
  for (const auto& [account, a] : sums) accounts[account] = StatementAccount(a);
  return Json{{"merchant_id", merchant}, {"currency", currency}, {"from_day", from_day},
              {"to_day", to_day},        {"accounts", accounts}};
}

Result<Json> QueryFeesByDay(const ProjectionStore& fees, const std::string& merchant, const std::string& from_day,
                            const std::string& to_day, FeeGrouping by) {
  LEDGER_RETURN_IF_ERROR(CheckDays(from_day, to_day));
  auto rows = fees.Scan(merchant.empty() ? "day/" : "day/" + merchant + "/", "", SIZE_MAX);
  if (!rows.ok()) return rows.status();
  // One group per (merchant?, day?, contributor?, currency), in that order: the keys' own
  // order when nothing is left out.
  struct Group {
    Json row;
    int64_t charged = 0, reversed = 0, net = 0;
    bool overflowed = false;
  };
  std::map<std::vector<std::string>, Group> groups;
  for (const auto& [key, v] : *rows) {
    // day/<merchant>/<day>/<contributor>/<currency>
    std::vector<std::string> parts;
    size_t start = 0;
    for (size_t slash; (slash = key.find('/', start)) != std::string::npos; start = slash + 1)
      parts.push_back(key.substr(start, slash - start));
    parts.push_back(key.substr(start));
    if (parts.size() != 5) return Status::Corruption("malformed fees-by-day key");
    if (parts[2] < from_day || parts[2] > to_day) continue;
    std::vector<std::string> id;
    Json row = Json::object();
    const auto keep = [&](const char* field, const std::string& value) {
      id.push_back(value);
      row[field] = value;
    };
    if (by.merchant) keep("merchant_id", parts[1]);
    if (by.day) keep("day", parts[2]);
    if (by.contributor) {
      keep("contributor", parts[3]);
      row["kind"] = v.value("kind", std::string());
    }
    keep("currency", parts[4]);
    Group& g = groups[id];
    if (g.row.is_null()) g.row = std::move(row);
    g.overflowed |= !AddWithinInt64(&g.charged, v.value("charged_minor", int64_t{0}));
    g.overflowed |= !AddWithinInt64(&g.reversed, v.value("reversed_minor", int64_t{0}));
    g.overflowed |= !AddWithinInt64(&g.net, v.value("net_minor", int64_t{0}));
    g.overflowed |= v.value("overflowed", false);
  }
  Json out = Json::array();
  for (auto& [id, g] : groups) {
    g.row["charged_minor"] = g.charged;
    g.row["reversed_minor"] = g.reversed;
    g.row["net_minor"] = g.net;
    g.row["overflowed"] = g.overflowed;
    out.push_back(std::move(g.row));
  }
  return out;
}

Result<Json> QueryPlatformRevenue(const ProjectionStore& fees) {
  auto rows = fees.Scan("revenue/", "", SIZE_MAX);
  if (!rows.ok()) return rows.status();
  Json out = Json::object();
  for (const auto& [key, v] : *rows) {
    const std::string rest = key.substr(std::string("revenue/").size());
    const size_t slash = rest.rfind('/');
    out[rest.substr(0, slash)][rest.substr(slash + 1)] = v["net_minor"];
  }
  return out;
}

Result<Json> QueryStore(const ProjectionStore& storefront, const std::string& merchant, const std::string& store) {
  auto s = storefront.Get("store/" + merchant + "/" + store);
  if (!s.ok()) return s.status();
  if (!s->has_value()) return Status::NotFound("no such store");
  Json out = **s;
  auto listings = storefront.Scan("listing/" + merchant + "/" + store + "/", "", SIZE_MAX);
  if (!listings.ok()) return listings.status();
  out["listings"] = Json::array();
  for (const auto& [key, l] : *listings) out["listings"].push_back(l);
  std::vector<std::pair<int64_t, std::string>> skus;
  for (const auto& [sku, q] : out["sku_quantity"].items()) skus.emplace_back(q.get<int64_t>(), sku);
  // Highest quantity first; ties by sku, so the answer never depends on map order.
  std::sort(skus.begin(), skus.end(), [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  });
  out["top_skus"] = Json::array();
  for (size_t i = 0; i < skus.size() && i < 10; ++i)
    out["top_skus"].push_back({{"sku", skus[i].second}, {"quantity", skus[i].first}});
  out.erase("sku_quantity");
  return out;
}

Result<Json> QueryMall(const ProjectionStore& storefront, const std::string& sku_prefix, const std::string& title_prefix,
                       size_t limit) {
  if (sku_prefix.empty() == title_prefix.empty())
    return Status::InvalidArgument("search the mall by a sku prefix or a title prefix");
  std::string prefix;
  if (!sku_prefix.empty()) {
    prefix = "mall/sku/" + sku_prefix;
  } else {
    prefix = "mall/title/" + ledger::AsciiLower(title_prefix);
  }
  auto rows = storefront.Scan(prefix, "", std::min(limit, kQueryRowsMax));
  if (!rows.ok()) return rows.status();
  Json out = Json::array();
  for (const auto& [key, l] : *rows) out.push_back(l);
  return out;
}

Result<Json> QueryStatusPage(const ProjectionStore& status) {
  auto components = status.Scan("component/", "", SIZE_MAX);
  if (!components.ok()) return components.status();
  auto incidents = status.Scan("incident/", "", SIZE_MAX);
  if (!incidents.ok()) return incidents.status();
  Json out = {{"components", Json::array()}, {"incidents", Json::array()}};
  for (const auto& [key, c] : *components)
    out["components"].push_back({{"component", c["component"]}, {"status", c["status"]}});
  std::vector<Json> list;
  for (const auto& [key, i] : *incidents) list.push_back(i);
  std::sort(list.begin(), list.end(), [](const Json& a, const Json& b) {
    return a["published_at_us"].get<int64_t>() != b["published_at_us"].get<int64_t>()
               ? a["published_at_us"].get<int64_t>() > b["published_at_us"].get<int64_t>()
               : a["notice_id"].get<std::string>() < b["notice_id"].get<std::string>();
  });
  for (Json& i : list) out["incidents"].push_back(std::move(i));
  out["overall"] = "operational";
  for (const Json& c : out["components"])
    if (c["status"] != "operational") out["overall"] = "degraded";
  return out;
}

}  // namespace projections
