// Admin routes (DESIGN §9): keys, outage notices, dispute resolutions.
#include "api/problem.h"
#include "api/route_support.h"
#include "ledger/event_store.h"
#include "ledger/ids.h"
#include "api/routes.h"
#include "projections/queries.h"
#include "projections/read_model_store.h"

namespace api {

using namespace ledger::domain;

namespace {
bool ParseStatus(const std::string& s, OutageStatusInput* out) {
  static const std::pair<const char*, OutageStatusInput> kNames[] = {{"investigating", OutageStatusInput::kInvestigating},
                                                                     {"identified", OutageStatusInput::kIdentified},
                                                                     {"monitoring", OutageStatusInput::kMonitoring},
                                                                     {"resolved", OutageStatusInput::kResolved}};
  for (const auto& [name, v] : kNames)
    if (s == name) {
      *out = v;
      return true;
    }
  return false;
}

// The body's `status` (an outage's), refused unless one of the four names.
void StatusField(Fields& f, bool required, OutageStatusInput* out) {
  const std::string status = f.Str("status", required);
  if (f.ok() && !status.empty() && !ParseStatus(status, out))
    f.Refuse("status", "one of investigating, identified, monitoring, resolved");
}

Json IncidentView(const ApiContext& ctx, const std::string& id) {
  const auto* status = ReadModel(ctx, "status");
  if (status == nullptr) return Json::object();
  auto i = status->Get("incident/" + id);
  return i.ok() && i->has_value() ? **i : Json::object();
}
}  // namespace

void AddAdminRoutes(Router& router, const ApiContext& ctx) {
  // The key is in this answer and nowhere else: the log and the read models hold its hash.
  router.Add("POST", "/v1/keys", Guard(ctx, {Role::kAdmin}, Body::kJson, [](Call& c) {
    Fields f(c.body);
    const std::string role_name = f.Str("role");
    const std::string merchant = f.Str("merchant_id", false);
    Role role = Role::kMerchant;
    if (f.ok() && !ParseRole(role_name, &role)) f.Refuse("role", "one of merchant, auditor, analyst, admin, replicator");
    // A merchant key's id in the wrong form is told as such: the domain's one check ("a
    // merchant key names one merchant id; other roles name none") hid the reason. The
    // pattern is ledger/ids.h's merchant id, in the words the domain uses for it.
    if (f.ok() && role == Role::kMerchant && !merchant.empty() && !ledger::IsValidMerchantId(merchant))
      f.Refuse("merchant_id", "must match [a-z0-9_]{1,32}");
    if (!f.ok()) return f.Error();
    auto key = DrawKey();
    if (!key.ok()) return ProblemFromStatus(key.status());
    IssueKey cmd{key->key_id, key->hash, static_cast<KeyRoleInput>(static_cast<int>(role)), merchant};
    const NewKey issued = *key;
    CommandOptions options;
    // The key is answered even if the read models lag: this answer is its only copy.
    options.resource_needs_read_models = false;
    // A replay must not answer the key drawn for the retry (it was never issued), and the
    // first one cannot be shown again.
    options.on_replay = [] {
      return Json{{"note", "this Idempotency-Key already issued a key; a key is shown only once: revoke it and "
                           "issue another if it was lost"}};
    };
    return AnswerCommand(c, "", cmd, Idempotency::kOptional, 201, [issued, role_name, merchant] {
      return Json{{"key_id", issued.key_id}, {"key", issued.key}, {"role", role_name}, {"merchant_id", merchant}};
    }, options);
  }));

  // Planned switch-overs (DESIGN §8): demote the writer, then promote the chosen standby.
  const auto switch_over = [](Call& c, bool promote) {
    if (c.ctx.roles == nullptr)
      return Problem(409, "not-supported", "this node does not take part in its shard's failover (a projector)");
    const ledger::Status s = promote ? c.ctx.roles->Promote() : c.ctx.roles->Demote();
    if (!s.ok()) return ProblemFromStatus(s);
    const bool writing = c.ctx.sequencer() != nullptr;
    return JsonResponse(200, Json{{"node_id", c.ctx.node_id},
                                  {"writer", writing},
                                  {"epoch", c.ctx.store->writer_epoch().value()},
                                  {"canonical_owner", c.ctx.store->canonical_mark().owner}});
  };
  router.Add("POST", "/v1/admin/promote", Guard(ctx, {Role::kAdmin}, Body::kNone, [switch_over](Call& c) {
    return switch_over(c, true);
  }));
  router.Add("POST", "/v1/admin/demote", Guard(ctx, {Role::kAdmin}, Body::kNone, [switch_over](Call& c) {
    return switch_over(c, false);
  }));

  router.Add("GET", "/v1/keys", Guard(ctx, {Role::kAdmin}, Body::kNone, [](Call& c) {
    auto rows = ReadModel(c.ctx, "access")->Scan("key_id/", "", projections::kQueryRowsMax);
    if (!rows.ok()) return ProblemFromStatus(rows.status());
    Json keys = Json::array();
    for (auto& [k, v] : *rows) {
      Json item = {{"key_id", k.substr(std::string("key_id/").size())}, {"role", v["role"]},
                   {"merchant_id", v["merchant_id"]}, {"issued_at_us", v["issued_at_us"]}};
      if (v.contains("revoked_at_us")) item["revoked_at_us"] = v["revoked_at_us"];
      keys.push_back(item);  // never the hash, never the key
    }
    return JsonResponse(200, Json{{"keys", keys}});
  }));

  router.Add("DELETE", "/v1/keys/{key_id}", Guard(ctx, {Role::kAdmin}, Body::kNone, [](Call& c) {
    RevokeKey cmd{c.request.params["key_id"]};
    return AnswerCommand(c, "", cmd, Idempotency::kOptional, 200,
                      [cmd] { return Json{{"key_id", cmd.key_id}, {"revoked", true}}; });
  }));

  // A new fee recipe version: the body is the recipe document itself (ledger/domain/FEE_RECIPE.md).
  router.Add("POST", "/v1/fee-recipes", Guard(ctx, {Role::kAdmin}, Body::kJson, [](Call& c) {
    PublishFeeRecipe cmd{c.request.body};
    return AnswerCommand(c, "", cmd, Idempotency::kOptional, 201, [&c] {
      auto rows = ReadModel(c.ctx, "fees")->Scan("recipe/", "", SIZE_MAX);
      return rows.ok() && !rows->empty() ? rows->back().second : Json::object();
    });
  }));

  router.Add("POST", "/v1/outages", Guard(ctx, {Role::kAdmin}, Body::kJson, [](Call& c) {
    Fields f(c.body);
    PublishOutageNotice cmd;
    cmd.notice_id = f.Str("notice_id");
    cmd.component = f.Str("component");
    cmd.impact = f.Str("impact");
    cmd.message = f.Str("message", false);
    StatusField(f, /*required=*/false, &cmd.status);
    cmd.detected_at_us = f.Int("detected_at_us", false);
    cmd.started_at_us = f.Int("started_at_us", false);
    if (!f.ok()) return f.Error();
    return AnswerCommand(c, "", cmd, Idempotency::kOptional, 201, [&c, cmd] { return IncidentView(c.ctx, cmd.notice_id); });
  }));

  router.Add("POST", "/v1/outages/{notice_id}/updates", Guard(ctx, {Role::kAdmin}, Body::kJson, [](Call& c) {
    Fields f(c.body);
    UpdateOutageNotice cmd;
    cmd.notice_id = c.request.params["notice_id"];
    StatusField(f, /*required=*/true, &cmd.status);
    cmd.message = f.Str("message", false);
    cmd.impact = f.Str("impact", false);
    if (!f.ok()) return f.Error();
    return AnswerCommand(c, "", cmd, Idempotency::kOptional, 200, [&c, cmd] { return IncidentView(c.ctx, cmd.notice_id); });
  }));

  router.Add("POST", "/v1/disputes/{dispute_id}/resolve", Guard(ctx, {Role::kAdmin}, Body::kJson, [](Call& c) {
    Fields f(c.body);
    const std::string outcome = f.Str("outcome");
    if (f.ok() && outcome != "won" && outcome != "lost") f.Refuse("outcome", "won or lost");
    const std::string m = c.Merchant();
    if (f.ok() && m.empty()) return Problem(400, "invalid-field", "/merchant_id: required", R"({"pointer":"/merchant_id"})");
    if (!f.ok()) return f.Error();
    ResolveDispute cmd{c.request.params["dispute_id"],
                       outcome == "won" ? DisputeOutcomeInput::kWon : DisputeOutcomeInput::kLost};
    // The dispute as GET /v1/disputes lists it, except that `outcome` stays the word this
    // route always answered ("won", "lost"), where the read model says "Won", "Lost".
    return AnswerCommand(
        c, m, cmd, Idempotency::kRequired, 200,
        [&c, m, cmd, outcome] {
          Json d = DisputeView(c.ctx, m, cmd.dispute_id);
          d["outcome"] = outcome;
          return d;
        },
        Conditional(StreamName("dispute", m, cmd.dispute_id)));
  }));
}

}  // namespace api
