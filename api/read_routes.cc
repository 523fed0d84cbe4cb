// Reads (DESIGN §9) from the read models, each honouring min_position. A merchant reads its
// own tenant only; analysts name `merchant_id`; another tenant's ids answer 404, so ids do
// not leak.
#include <algorithm>
#include <optional>
#include <vector>

#include "api/list_support.h"
#include "api/personal.h"
#include "api/problem.h"
#include "api/route_support.h"
#include "api/routes.h"
#include "ledger/clock.h"
#include "projections/queries.h"
#include "projections/read_model_store.h"

namespace api {

namespace {
// Runs a merchant-scoped read: min_position, the merchant named, then `read(merchant)`.
// With a stream kind (a single resource named by the path parameter `id_param`), the
// answer carries that stream's version as its ETag.
Response MerchantRead(Call& c, const std::function<ledger::Result<Json>(const std::string&)>& read,
                      const char* stream_kind = nullptr, const char* id_param = nullptr) {
  if (auto wait = WaitForMinPosition(c)) return *wait;
  const std::string m = c.Merchant();
  if (m.empty()) return Problem(400, "invalid-field", "/merchant_id: name the merchant", R"({"pointer":"/merchant_id"})");
  const auto answer = [&]() -> Response {
    auto r = read(m);
    if (!r.ok()) return ProblemFromStatus(r.status());
    return JsonResponse(200, *r);
  };
  if (stream_kind == nullptr) return answer();
  return WithEntityTag(c, StreamName(stream_kind, m, c.request.params[id_param]), answer);
}

// A payment's entry in `holder` (its order, or the unmatched record of a payment the
// ledger never authorized, which has the order's shape) with its captures, refunds and
// disputes, which the holder keeps for all its payments together.
Json PaymentIn(const Json& holder, const std::string& pay) {
  const Json payments = holder.value("payments", Json::object());
  Json p = payments.contains(pay) ? payments[pay] : Json::object();
  p["payment_id"] = pay;
  p["captures"] = Json::array();
  p["refunds"] = Json::array();
  p["disputes"] = Json::array();
  for (const char* list : {"captures", "refunds"}) {
    const Json entries = holder.value(list, Json::array());  // named: iterating a temporary dangles
    for (const Json& x : entries)
      if (x.value("payment_id", "") == pay) p[list].push_back(x);
  }
  const Json disputes = holder.value("disputes", Json::object());
  for (const auto& [id, d] : disputes.items())
    if (d.value("payment_id", "") == pay) {
      Json item = d;
      item["dispute_id"] = id;
      p["disputes"].push_back(std::move(item));
    }
  return p;
}

// A payment a provider reported that the ledger never authorized: its captures, refunds
// and disputes are recorded (money moved) under unmatched/<merchant>/<payment>, with no
// order, and are read from there, marked so (DECISIONS 109). 404 when there is none.
ledger::Result<Json> UnmatchedPayment(const projections::ProjectionStore& customers, const std::string& m,
                                      const std::string& pay) {
  auto unmatched = customers.Get("unmatched/" + m + "/" + pay);
  if (!unmatched.ok()) return unmatched.status();
  if (!unmatched->has_value()) return ledger::Status::NotFound("no such payment");
  Json p = PaymentIn(**unmatched, pay);
  p["order_id"] = nullptr;
  p["unmatched"] = true;
  return p;
}

// The dispute a key of the customers read model's dispute index names
// ("dispute/<merchant>/<dispute>"; ids hold no '/').
ledger::Result<Json> DisputeOfIndexKey(const projections::ProjectionStore& customers, const std::string& key) {
  const std::string prefix = "dispute/";
  const size_t slash = key.find('/', prefix.size());
  if (key.compare(0, prefix.size(), prefix) != 0 || slash == std::string::npos)
    return ledger::Status::NotFound("not a dispute's key");
  return projections::QueryDispute(customers, key.substr(prefix.size(), slash - prefix.size()), key.substr(slash + 1));
}

// A query parameter's 400 invalid-field, its pointer the parameter's name (as /limit,
// /cursor and /min_position have it), so a client is told which one to mend.
Response BadParameter(const std::string& name, const std::string& why) {
  return Problem(400, "invalid-field", why, Json{{"pointer", "/" + name}}.dump());
}

// A calendar day written YYYY-MM-DD, as the read models' UTC days: the timestamp parser
// checks the digits and the day of the month (2026-02-30 would roll over: refused).
bool IsCalendarDay(const std::string& text) {
  return text.size() == 10 && ledger::ParseUtcTimestampUs(text + "T00:00:00Z").ok();
}

// The period of a statement or of fee rows: `from` and `to` calendar days, `to` not
// before `from`. Checked here although the query checks it too, since the query's error
// cannot say which parameter was wrong and the problem must point at it.
std::optional<Response> CheckPeriod(const Call& c) {
  for (const char* name : {"from", "to"})
    if (!IsCalendarDay(c.request.Query(name)))
      return BadParameter(name, std::string(name) + " is a calendar day written YYYY-MM-DD");
  if (c.request.Query("to") < c.request.Query("from")) return BadParameter("to", "the period ends before it starts");
  return std::nullopt;
}

// An ISO 4217 code's form, three capital letters. Whether the code is priced is the
// domain's question: a statement in a currency with no postings is an empty one.
bool IsCurrencyCode(const std::string& code) {
  return code.size() == 3 && std::all_of(code.begin(), code.end(), [](char ch) { return ch >= 'A' && ch <= 'Z'; });
}

// The statement's currency: `currency` when given, else the merchant's settlement currency
// as configured (PUT /v1/merchant), read where GET /v1/merchant reads it. A fixed default
// (USD) gave a merchant settling in another currency an empty statement that looked like
// its own. A merchant with none configured must name one.
std::optional<Response> StatementCurrency(const Call& c, const std::string& merchant, std::string* currency) {
  *currency = c.request.Query("currency");
  if (!currency->empty()) {
    if (!IsCurrencyCode(*currency)) return BadParameter("currency", "currency is an ISO-4217 code such as USD");
    return std::nullopt;
  }
  auto config = ReadModel(c.ctx, "storefront")->Get("merchant/" + merchant);
  if (!config.ok()) return ProblemFromStatus(config.status());
  if (config->has_value()) *currency = (**config).value("settlement_currency", std::string());
  if (currency->empty()) return BadParameter("currency", "give a currency: this merchant has no settlement currency");
  return std::nullopt;
}

// A statement's CSV columns, in this order: the statement's own fields, then one account's
// figures. Named rather than sorted, so a spreadsheet reads them as the JSON has them.
const std::vector<std::string>& StatementColumns() {
  static const std::vector<std::string> kColumns = {
      "merchant_id",   "currency",     "from_day", "to_day",        "account",   "opening_minor",
      "credits_minor", "debits_minor", "postings", "closing_minor", "overflowed"};
  return kColumns;
}

// A statement as CSV rows, one per account (in the JSON's account order). `overflowed` is
// the account's own flag when the query gives one (a figure past the int64 range), else
// false: every row has every column.
Json StatementRows(const Json& statement) {
  Json rows = Json::array();
  for (const auto& [account, figures] : statement.at("accounts").items()) {
    Json row = {{"merchant_id", statement.at("merchant_id")}, {"currency", statement.at("currency")},
                {"from_day", statement.at("from_day")},       {"to_day", statement.at("to_day")},
                {"account", account}};
    for (const char* figure : {"opening_minor", "credits_minor", "debits_minor", "postings", "closing_minor"})
      row[figure] = figures.contains(figure) ? figures.at(figure) : Json();
    const bool overflowed = figures.contains("overflowed") && figures.at("overflowed").is_boolean() &&
                            figures.at("overflowed").get<bool>();
    row["overflowed"] = overflowed;
    rows.push_back(std::move(row));
  }
  return rows;
}

// `group_by`: a comma-separated set of day, contributor and merchant (DESIGN §7: per merchant,
// UTC day and contributor, combinable; analysts also by merchant); absent, all three (one row
// per merchant, day, contributor and currency). Each named once.
std::optional<Response> ParseFeeGrouping(const Call& c, projections::FeeGrouping* by) {
  const std::string text = c.request.Query("group_by");
  if (text.empty()) return std::nullopt;
  *by = projections::FeeGrouping{false, false, false};
  size_t start = 0;
  for (;;) {
    const size_t comma = text.find(',', start);
    const std::string name = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    bool* dimension = name == "day" ? &by->day : name == "contributor" ? &by->contributor
                                                 : name == "merchant"  ? &by->merchant
                                                                       : nullptr;
    if (dimension == nullptr || *dimension)
      return BadParameter("group_by", "group_by is a list of day, contributor and merchant, each at most once");
    *dimension = true;
    if (comma == std::string::npos) return std::nullopt;
    start = comma + 1;
  }
}

// GET /v1/fees (DESIGN §7, §9): fee aggregates over the UTC days [from, to], grouped as
// `group_by` says, as JSON ({rows}) or, when Accept prefers it, CSV (one row per group).
Response FeeAggregates(Call& c) {
  ListFormat format = ListFormat::kJson;
  if (auto refused = NegotiateFormat(c, "fee aggregates", &format)) return *refused;
  if (auto wait = WaitForMinPosition(c)) return *wait;
  if (auto bad = CheckPeriod(c)) return *bad;
  projections::FeeGrouping by;
  if (auto bad = ParseFeeGrouping(c, &by)) return *bad;
  // Analysts may read every merchant's rows at once; a merchant only its own.
  const std::string m = c.Merchant();
  auto rows =
      projections::QueryFeesByDay(*ReadModel(c.ctx, "fees"), m, c.request.Query("from"), c.request.Query("to"), by);
  if (!rows.ok()) return ProblemFromStatus(rows.status());
  if (format == ListFormat::kJson) return JsonResponse(200, Json{{"rows", *rows}});
  std::vector<std::string> columns;
  if (by.merchant) columns.push_back("merchant_id");
  if (by.day) columns.push_back("day");
  if (by.contributor) columns.insert(columns.end(), {"contributor", "kind"});
  columns.insert(columns.end(), {"currency", "charged_minor", "reversed_minor", "net_minor", "overflowed"});
  Response r;
  r.content_type = kCsvContentType;
  r.body = ToCsv(*rows, columns);
  return r;
}

// GET /v1/statements (DESIGN §7, §9): per account of the merchant, opening + credits -
// debits = closing over the UTC days [from, to], as JSON or, when Accept prefers it (the
// lists' negotiation, DECISIONS 95 (3)), as CSV through the lists' writer.
Response Statement(Call& c) {
  ListFormat format = ListFormat::kJson;
  if (auto refused = NegotiateFormat(c, "a statement", &format)) return *refused;
  if (auto wait = WaitForMinPosition(c)) return *wait;
  const std::string m = c.Merchant();
  if (m.empty()) return Problem(400, "invalid-field", "/merchant_id: name the merchant", R"({"pointer":"/merchant_id"})");
  if (auto bad = CheckPeriod(c)) return *bad;
  std::string currency;
  if (auto bad = StatementCurrency(c, m, &currency)) return *bad;
  auto statement = projections::QueryStatement(*ReadModel(c.ctx, "fees"), m, currency, c.request.Query("from"),
                                               c.request.Query("to"));
  if (!statement.ok()) return ProblemFromStatus(statement.status());
  if (format == ListFormat::kJson) return JsonResponse(200, *statement);
  Response r;
  r.content_type = kCsvContentType;
  r.body = ToCsv(StatementRows(*statement), StatementColumns());
  return r;
}
}  // namespace

void AddReadRoutes(Router& router, const ApiContext& ctx) {
  const auto readers = {Role::kMerchant, Role::kAnalyst};

  router.Add("GET", "/v1/customers/{customer_id}", Guard(ctx, readers, Body::kNone, [](Call& c) {
    return MerchantRead(c, [&c](const std::string& m) {
      auto v = projections::QueryCustomer(*ReadModel(c.ctx, "customers"), m, c.request.params["customer_id"]);
      if (!v.ok()) return v;
      return ledger::Result<Json>(OpenCustomer(c, std::move(v).value()));
    }, "customer", "customer_id");
  }));

  router.Add("GET", "/v1/orders/{order_id}", Guard(ctx, readers, Body::kNone, [](Call& c) {
    return MerchantRead(c, [&c](const std::string& m) -> ledger::Result<Json> {
      auto o = ReadModel(c.ctx, "customers")->Get("order/" + m + "/" + c.request.params["order_id"]);
      if (!o.ok()) return o.status();
      if (!o->has_value()) return ledger::Status::NotFound("no such order");
      return **o;
    }, "order", "order_id");
  }));

  // The order's fee breakdown (DESIGN §9): its captures from the fees read model, totals per
  // currency. The order exists when the customer view holds it, as for the order itself
  // (another tenant's order is 404 like any unknown one); one without captures answers
  // empty lists. The ETag is the order's stream version, as GET /v1/orders/{order_id}'s.
  router.Add("GET", "/v1/orders/{order_id}/fees", Guard(ctx, readers, Body::kNone, [](Call& c) {
    return MerchantRead(c, [&c](const std::string& m) -> ledger::Result<Json> {
      const std::string order = c.request.params["order_id"];
      auto o = ReadModel(c.ctx, "customers")->Get("order/" + m + "/" + order);
      if (!o.ok()) return o.status();
      if (!o->has_value()) return ledger::Status::NotFound("no such order");
      auto fees = projections::QueryOrderFees(*ReadModel(c.ctx, "fees"), m, order);
      if (!fees.ok()) return fees.status();
      Json out = std::move(fees).value();
      out["merchant_id"] = m;
      return out;
    }, "order", "order_id");
  }));

  router.Add("GET", "/v1/stores/{store_id}", Guard(ctx, readers, Body::kNone, [](Call& c) {
    return MerchantRead(c, [&c](const std::string& m) {
      return projections::QueryStore(*ReadModel(c.ctx, "storefront"), m, c.request.params["store_id"]);
    }, "store", "store_id");
  }));

  router.Add("GET", "/v1/balances", Guard(ctx, readers, Body::kNone, [](Call& c) {
    return MerchantRead(c, [&c](const std::string& m) -> ledger::Result<Json> {
      auto b = projections::QueryBalances(*ReadModel(c.ctx, "fees"), m);
      if (!b.ok()) return b.status();
      // {merchant_id, balances: {account: {currency: minor}}, overflowed: [{account, currency}]}
      Json out = std::move(b).value();
      out["merchant_id"] = m;
      return out;
    });
  }));

  router.Add("GET", "/v1/statements", Guard(ctx, readers, Body::kNone, Statement));

  router.Add("GET", "/v1/fees", Guard(ctx, readers, Body::kNone, FeeAggregates));

  // Lists: a merchant its own; an analyst every merchant's, or one with merchant_id.
  router.Add("GET", "/v1/stores", Guard(ctx, readers, Body::kNone, [](Call& c) {
    const std::string m = c.Merchant();
    return ListPage(c, *ReadModel(c.ctx, "storefront"), m.empty() ? "store/" : "store/" + m + "/",
                    [](const std::string&, const Json& v) {
                      Json item = v;
                      item.erase("sku_quantity");
                      return item;
                    });
  }));

  router.Add("GET", "/v1/customers", Guard(ctx, readers, Body::kNone, [](Call& c) {
    const std::string m = c.Merchant();
    return ListPage(c, *ReadModel(c.ctx, "customers"), m.empty() ? "customer/" : "customer/" + m + "/",
                    [](const std::string& key, const Json& v) {
                      Json item = v;
                      item["merchant_id"] = key.substr(9, key.find('/', 9) - 9);
                      item.erase("profile");  // personal fields only on the customer's own view
                      return item;
                    });
  }));

  // Disputes as QueryDispute shows them (what the dispute writes answer), filtered by status
  // before the page is counted. A merchant its own; an analyst every merchant's, or one
  // with merchant_id, as the other lists.
  router.Add("GET", "/v1/disputes", Guard(ctx, readers, Body::kNone, [](Call& c) {
    const std::string status = c.request.Query("status");
    if (!status.empty() && status != "open" && status != "resolved")
      return Problem(400, "invalid-field", "status is open or resolved", R"({"pointer":"/status"})");
    const std::string m = c.Merchant();
    const projections::ProjectionStore& customers = *ReadModel(c.ctx, "customers");
    return ListPage(c, customers, m.empty() ? "dispute/" : "dispute/" + m + "/",
                    [&](const std::string& key, const Json&) -> Json {
                      auto d = DisputeOfIndexKey(customers, key);
                      if (!d.ok()) return nullptr;
                      // Open until resolved: evidence submitted is still open.
                      const bool open = d->value("status", "") != "resolved";
                      if ((status == "open" && !open) || (status == "resolved" && open)) return nullptr;
                      return std::move(d).value();
                    });
  }));

  router.Add("GET", "/v1/payments/{payment_id}", Guard(ctx, readers, Body::kNone, [](Call& c) {
    return MerchantRead(c, [&c](const std::string& m) -> ledger::Result<Json> {
      const std::string pay = c.request.params["payment_id"];
      const projections::ProjectionStore& customers = *ReadModel(c.ctx, "customers");
      auto link = customers.Get("payment/" + m + "/" + pay);
      if (!link.ok()) return link.status();
      if (!link->has_value()) return UnmatchedPayment(customers, m, pay);
      auto order = customers.Get("order/" + m + "/" + (**link)["order_id"].get<std::string>());
      if (!order.ok()) return order.status();
      if (!order->has_value()) return ledger::Status::NotFound("no such payment");
      const Json& o = **order;
      if (!o.contains("payments") || !o["payments"].contains(pay)) return ledger::Status::NotFound("no such payment");
      Json p = PaymentIn(o, pay);
      p["order_id"] = o["order_id"];
      p["unmatched"] = false;
      return p;
    }, "payment", "payment_id");
  }));

  router.Add("GET", "/v1/merchant", Guard(ctx, {Role::kMerchant, Role::kAdmin}, Body::kNone, [](Call& c) {
    return MerchantRead(c, [&c](const std::string& m) -> ledger::Result<Json> {
      auto v = ReadModel(c.ctx, "storefront")->Get("merchant/" + m);
      if (!v.ok()) return v.status();
      if (!v->has_value()) return ledger::Status::NotFound("the merchant is not configured");
      return **v;
    });
  }));

  router.Add("GET", "/v1/payouts", Guard(ctx, {Role::kMerchant}, Body::kNone, [](Call& c) {
    return ListPage(c, *ReadModel(c.ctx, "fees"), "payout/" + c.Merchant() + "/",
                    [](const std::string&, const Json& v) { return v; });
  }));

  // Any key reads the recipes (DESIGN §9).
  router.Add("GET", "/v1/fee-recipes",
             Guard(ctx, {Role::kMerchant, Role::kAuditor, Role::kAnalyst, Role::kAdmin, Role::kReplicator}, Body::kNone,
                   [](Call& c) {
                     return ListPage(c, *ReadModel(c.ctx, "fees"), "recipe/", [](const std::string&, const Json& v) {
                       Json item = v;
                       Json parsed = Json::parse(v["document"].get<std::string>(), nullptr, false);
                       if (!parsed.is_discarded()) item["document"] = parsed;
                       return item;
                     });
                   }));

  router.Add("GET", "/v1/mall", Public(ctx, [](Call& c) {
    const std::string q = c.request.Query("q"), sku = c.request.Query("sku");
    auto rows = projections::QueryMall(*ReadModel(c.ctx, "storefront"), sku, sku.empty() ? q : "", 100);
    if (!rows.ok()) return ProblemFromStatus(rows.status());
    return JsonResponse(200, Json{{"listings", *rows}});
  }));

  router.Add("GET", "/v1/openapi.json", Public(ctx, [](Call&) {
    Response r;
    r.body = OpenApiDocument();
    return r;
  }));

  router.Add("GET", "/v1/status", Public(ctx, [](Call& c) {
    auto page = projections::QueryStatusPage(*ReadModel(c.ctx, "status"));
    if (!page.ok()) return ProblemFromStatus(page.status());
    return JsonResponse(200, *page);
  }));
}

}  // namespace api
