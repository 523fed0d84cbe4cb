// POST /v1/batch (DESIGN §9): items run in order through the same routes, with the
// caller's key; not atomic. Item i uses the idempotency key "<batch key>:<i>" unless it
// carries its own, so a retried batch replays the items that were done and runs the rest.
// The batch key re-sent with other items is refused whole (DECISIONS §91).
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "api/problem.h"
#include "api/route_support.h"
#include "api/routes.h"
#include "ledger/event_store.h"
#include "ledger/chain_hash.h"

namespace api {

inline constexpr size_t kBatchItemsMax = 100;

namespace {

// Fields of an item's body that their routes keep out of the log in the clear (a
// subscriber's secret, a customer's personal fields, a message's text: their digests hold
// keyed HMACs of them). Left out of the batch's fingerprint, which enters the log inside
// every derived-key item's request digest; each item's own digest still covers them.
constexpr const char* kUnfingerprinted[] = {"secret", "name", "email", "phone", "address", "body"};

// What makes the batch this batch: its items (method, path, own key, body but the fields
// above), as canonical JSON (sorted keys), hashed. Hex. Each item's path as the router read
// it (`paths`, the items' Request::canonical_path, "" for one it refuses: kept as sent), so
// the batch retried with its paths spelled with other escapes is the same batch, as each
// item is the same request (DECISIONS 100). A path sent without escapes is spelled the
// same either way: the fingerprints of batches recorded before are unchanged.
std::string BatchFingerprint(const Json& batch, const std::vector<std::string>& paths) {
  Json canonical = batch;
  Json& items = canonical["items"];
  for (size_t i = 0; i < items.size(); ++i) {
    Json& item = items[i];
    if (i < paths.size() && !paths[i].empty()) item["path"] = paths[i];
    if (item.contains("body"))
      for (const char* name : kUnfingerprinted) item["body"].erase(name);
  }
  return ledger::ToHex(ledger::Sha256Of(canonical.dump()));
}

// Item i as a request of the caller's: its own key, else "<batch key>:<i>" with the
// batch's fingerprint in its digest.
Request ItemRequest(const Call& c, const Json& item, size_t i, const std::string& batch_key,
                    const std::string& fingerprint) {
  Request r;
  r.inside_batch = true;
  r.method = item["method"].get<std::string>();
  r.path = item["path"].get<std::string>();
  r.headers["authorization"] = c.request.Header("authorization");
  if (item.contains("idempotency_key")) {
    r.headers["idempotency-key"] = item["idempotency_key"].get<std::string>();
  } else {
    r.headers["idempotency-key"] = batch_key + ":" + std::to_string(i);
    r.batch_fingerprint = fingerprint;
  }
  r.body = item.contains("body") ? item["body"].dump() : "{}";
  return r;
}

// A problem when item i is malformed; `keys` gathers the items' keys, which must differ
// (a second item with a key already used in the batch would only replay or clash).
std::optional<Response> CheckItem(const Json& item, size_t i, const std::string& batch_key, std::set<std::string>* keys) {
  if (!item.is_object()) return Problem(400, "invalid-field", "each item is an object", R"({"pointer":"/items"})");
  Fields f(item, "/items/" + std::to_string(i));
  const std::string method = f.Str("method"), path = f.Str("path");
  if (item.contains("idempotency_key") && !item["idempotency_key"].is_string())  // null included
    f.Refuse("idempotency_key", "must be a string");
  // Refused here rather than by the item's route, so a malformed batch runs nothing: an
  // empty key would run the item without one (a retry would run it again). No control
  // characters at all, as a header would have none (Str lets tab to carriage return by).
  const std::string own_key = f.Str("idempotency_key", false);
  if (f.ok() && item.contains("idempotency_key") &&
      (own_key.empty() || own_key.size() > kIdempotencyKeyHeaderBytesMax ||
       own_key.find_first_of("\t\n\v\f\r") != std::string::npos))
    f.Refuse("idempotency_key", "from 1 to 128 characters, without control characters");
  if (f.ok() && (method != "POST" && method != "PUT" && method != "DELETE")) f.Refuse("method", "POST, PUT or DELETE");
  if (f.ok() && (path.rfind("/v1/", 0) != 0 || path == "/v1/batch" || path.find('?') != std::string::npos))
    f.Refuse("path", "a /v1/ write route other than /v1/batch, without a query");
  if (f.ok() && item.contains("body") && !item["body"].is_object()) f.Refuse("body", "must be an object");
  if (!f.ok()) return f.Error();
  // Not f.Refuse: an item without its own key has none to point at, yet its derived key
  // may be another item's own.
  const std::string key = item.contains("idempotency_key") ? own_key : batch_key + ":" + std::to_string(i);
  if (!keys->insert(key).second) {
    const std::string pointer = "/items/" + std::to_string(i) + "/idempotency_key";
    return Problem(400, "invalid-field", pointer + ": another item of this batch has the key " + key,
                   Json{{"pointer", pointer}}.dump());
  }
  return std::nullopt;
}

}  // namespace

void AddBatchRoute(Router& router, const ApiContext& ctx) {
  const Router* routes = &router;
  router.Add("POST", "/v1/batch", Guard(ctx, {Role::kMerchant}, Body::kJson, [routes](Call& c) {
    // Never run as an item of another batch, however its path was spelled (checked above too).
    if (c.request.inside_batch)
      return Problem(400, "invalid-field", "/items: a batch cannot hold a batch", R"({"pointer":"/items"})");
    const std::string batch_key = c.request.Header("idempotency-key");
    if (batch_key.empty())
      return Problem(400, "idempotency-key-required", "a batch moves money: send an Idempotency-Key");
    if (batch_key.size() > kBatchIdempotencyKeyBytesMax)  // item keys "<batch key>:<i>" stay within the header limit
      return Problem(400, "invalid-field", "a batch's Idempotency-Key is at most 100 characters");
    // A batch names no single stream: If-Match is refused as on every such write (it was
    // ignored, and the items ran unconditionally).
    if (auto refused = RefuseIfMatch(c.request)) return *refused;
    if (!c.body.contains("items") || !c.body["items"].is_array())
      return Problem(400, "invalid-field", "/items: required: an array", R"({"pointer":"/items"})");
    const Json& items = c.body["items"];
    if (items.empty() || items.size() > kBatchItemsMax)
      return Problem(400, "invalid-field", "/items: from 1 to " + std::to_string(kBatchItemsMax) + " items",
                     R"({"pointer":"/items"})");
    // Check every item before running any, so a malformed batch runs nothing.
    std::set<std::string> keys;
    std::vector<std::string> paths;  // each item's, as the router reads it
    for (size_t i = 0; i < items.size(); ++i) {
      if (auto bad = CheckItem(items[i], i, batch_key, &keys)) return *bad;
      // The route the router will run, decoded: "/v1/%62atch" is /v1/batch (a batch inside a
      // batch would run past the item limit, its items outside the rate limit).
      Request target;
      target.method = items[i]["method"].get<std::string>();
      target.path = items[i]["path"].get<std::string>();
      Router::Lookup found = routes->Find(target);
      if (found.route != nullptr && found.route->pattern == "/v1/batch") {
        const std::string pointer = "/items/" + std::to_string(i) + "/path";
        return Problem(400, "invalid-field", pointer + ": a /v1/ write route other than /v1/batch, without a query",
                       Json{{"pointer", pointer}}.dump());
      }
      paths.push_back(std::move(found.canonical_path));
    }
    const std::string fingerprint = BatchFingerprint(c.body, paths);
    // The batch key re-sent with other items: every derived-key item's digest holds the
    // fingerprint, so each one recorded would be refused, but one never recorded (past the
    // first batch's end, or refused then) would run. Every derived-key item that is
    // recorded is probed (its route taken as far as its idempotency check, nothing
    // submitted): one recorded with another digest refuses the whole batch, and nothing
    // runs. A key never recorded needs no probe (one point read), so a first attempt runs
    // no route twice.
    for (size_t i = 0; i < items.size(); ++i) {
      if (items[i].contains("idempotency_key")) continue;
      if (c.ctx.store != nullptr) {
        auto recorded = c.ctx.store->LookupIdempotency(c.Merchant(), batch_key + ":" + std::to_string(i));
        if (recorded.ok() && !recorded->has_value()) continue;
      }
      Request probe = ItemRequest(c, items[i], i, batch_key, fingerprint);
      probe.idempotency_probe = true;
      Response probed = routes->Dispatch(probe);
      const Json problem = Json::parse(probed.body, nullptr, false);
      if (probed.status == 422 && problem.is_object() &&
          problem.value("type", "") == "urn:ledger:problem:idempotency-key-reused")
        return Problem(422, "idempotency-key-reused",
                       "this batch's Idempotency-Key was already used with other items; nothing was run");
      // Every derived-key item, not only the first: the first may have been refused the
      // first time (so never recorded) while later ones were.
    }
    Json results = Json::array();
    for (size_t i = 0; i < items.size(); ++i) {
      Request r = ItemRequest(c, items[i], i, batch_key, fingerprint);
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
