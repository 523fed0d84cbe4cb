// POST /v1/batch (DESIGN §9): items run in order through the same routes, with the
// caller's key; not atomic. Item i uses the idempotency key "<batch key>:<i>" unless it
// carries its own, so a retried batch replays the items that were done and runs the rest.
#include "api/problem.h"
#include "api/route_support.h"
#include "api/routes.h"

namespace api {

inline constexpr size_t kBatchItemsMax = 100;

void AddBatchRoute(Router& router, const ApiContext& ctx) {
  const Router* routes = &router;
  router.Add("POST", "/v1/batch", Guard(ctx, {Role::kMerchant}, Body::kJson, [routes](Call& c) {
    const std::string batch_key = c.request.Header("idempotency-key");
    if (batch_key.empty())
      return Problem(400, "idempotency-key-required", "a batch moves money: send an Idempotency-Key");
    if (batch_key.size() > kBatchIdempotencyKeyBytesMax)  // item keys "<batch key>:<i>" stay within the header limit
      return Problem(400, "invalid-field", "a batch's Idempotency-Key is at most 100 characters");
    if (!c.body.contains("items") || !c.body["items"].is_array())
      return Problem(400, "invalid-field", "/items: required: an array", R"({"pointer":"/items"})");
    const Json& items = c.body["items"];
    if (items.empty() || items.size() > kBatchItemsMax)
      return Problem(400, "invalid-field", "/items: from 1 to " + std::to_string(kBatchItemsMax) + " items",
                     R"({"pointer":"/items"})");
    // Check every item before running any, so a malformed batch runs nothing.
    for (size_t i = 0; i < items.size(); ++i) {
      if (!items[i].is_object()) return Problem(400, "invalid-field", "each item is an object", R"({"pointer":"/items"})");
      Fields f(items[i], "/items/" + std::to_string(i));
      const std::string method = f.Str("method"), path = f.Str("path");
      if (items[i].contains("idempotency_key") && !items[i]["idempotency_key"].is_string())  // null included
        f.Refuse("idempotency_key", "must be a string");
      if (f.ok() && (method != "POST" && method != "PUT" && method != "DELETE")) f.Refuse("method", "POST, PUT or DELETE");
      if (f.ok() && (path.rfind("/v1/", 0) != 0 || path == "/v1/batch" || path.find('?') != std::string::npos))
        f.Refuse("path", "a /v1/ write route other than /v1/batch, without a query");
      if (f.ok() && items[i].contains("body") && !items[i]["body"].is_object()) f.Refuse("body", "must be an object");
      if (!f.ok()) return f.Error();
    }
    Json results = Json::array();
    for (size_t i = 0; i < items.size(); ++i) {
      Request r;
      r.inside_batch = true;
      r.method = items[i]["method"].get<std::string>();
      r.path = items[i]["path"].get<std::string>();
      r.headers["authorization"] = c.request.Header("authorization");
      r.headers["idempotency-key"] = items[i].contains("idempotency_key")
                                         ? items[i]["idempotency_key"].get<std::string>()
                                         : batch_key + ":" + std::to_string(i);
      r.body = items[i].contains("body") ? items[i]["body"].dump() : "{}";
      Response answer = routes->Dispatch(r);
      Json item = {{"status", answer.status}};
      Json body = Json::parse(answer.body, nullptr, false);
      item["body"] = body.is_discarded() ? Json(answer.body) : body;
      for (const auto& [k, v] : answer.headers)
        if (k == "X-Ledger-Position") item["position"] = v;
      results.push_back(std::move(item));
    }
    return JsonResponse(200, Json{{"results", results}});
  }));
}

}  // namespace api
