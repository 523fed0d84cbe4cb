// Reads (DESIGN §9) from the read models, each honouring min_position. A merchant reads its
// own tenant only; analysts name `merchant_id`; another tenant's ids answer 404, so ids do
// not leak.
#include "api/problem.h"
#include "api/route_support.h"
#include "api/routes.h"
#include "projections/queries.h"
#include "projections/read_model_store.h"

namespace api {

namespace {
// Runs a merchant-scoped read: min_position, the merchant named, then `read(merchant)`.
Response MerchantRead(Call& c, const std::function<ledger::Result<Json>(const std::string&)>& read) {
  if (auto wait = WaitForMinPosition(c)) return *wait;
  const std::string m = c.Merchant();
  if (m.empty()) return Problem(400, "invalid-field", "/merchant_id: name the merchant", R"({"pointer":"/merchant_id"})");
  auto r = read(m);
  if (!r.ok()) return ProblemFromStatus(r.status());
  return JsonResponse(200, *r);
}
}  // namespace

void AddReadRoutes(Router& router, const ApiContext& ctx) {
  const auto readers = {Role::kMerchant, Role::kAnalyst};

  router.Add("GET", "/v1/customers/{customer_id}", Guard(ctx, readers, Body::kNone, [](Call& c) {
    return MerchantRead(c, [&c](const std::string& m) {
      return projections::QueryCustomer(*ReadModel(c.ctx, "customers"), m, c.request.params["customer_id"]);
    });
  }));

  router.Add("GET", "/v1/orders/{order_id}", Guard(ctx, readers, Body::kNone, [](Call& c) {
    return MerchantRead(c, [&c](const std::string& m) -> ledger::Result<Json> {
      auto o = ReadModel(c.ctx, "customers")->Get("order/" + m + "/" + c.request.params["order_id"]);
      if (!o.ok()) return o.status();
      if (!o->has_value()) return ledger::Status::NotFound("no such order");
      return **o;
    });
  }));

  router.Add("GET", "/v1/stores/{store_id}", Guard(ctx, readers, Body::kNone, [](Call& c) {
    return MerchantRead(c, [&c](const std::string& m) {
      return projections::QueryStore(*ReadModel(c.ctx, "storefront"), m, c.request.params["store_id"]);
    });
  }));

  router.Add("GET", "/v1/balances", Guard(ctx, readers, Body::kNone, [](Call& c) {
    return MerchantRead(c, [&c](const std::string& m) -> ledger::Result<Json> {
      auto b = projections::QueryBalances(*ReadModel(c.ctx, "fees"), m);
      if (!b.ok()) return b.status();
      return Json{{"merchant_id", m}, {"balances", *b}};
    });
  }));

  router.Add("GET", "/v1/statements", Guard(ctx, readers, Body::kNone, [](Call& c) {
    return MerchantRead(c, [&c](const std::string& m) {
      const std::string currency = c.request.Query("currency").empty() ? "USD" : c.request.Query("currency");
      return projections::QueryStatement(*ReadModel(c.ctx, "fees"), m, currency, c.request.Query("from"),
                                         c.request.Query("to"));
    });
  }));

  router.Add("GET", "/v1/fees", Guard(ctx, readers, Body::kNone, [](Call& c) {
    if (auto wait = WaitForMinPosition(c)) return *wait;
    // Analysts may read every merchant's rows at once; a merchant only its own.
    const std::string m = c.Merchant();
    auto rows = projections::QueryFeesByDay(*ReadModel(c.ctx, "fees"), m, c.request.Query("from"), c.request.Query("to"));
    if (!rows.ok()) return ProblemFromStatus(rows.status());
    return JsonResponse(200, Json{{"rows", *rows}});
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
