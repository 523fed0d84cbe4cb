// Subscribers of webhooks out (DESIGN §9): merchants for their disputes and outages,
// admins for the platform, auditors for digests; each removes its own (an admin any of the
// platform's, auditors' included). The secret is sealed with the node's
// secrets key before it enters the log and is never answered or listed. URLs that resolve
// to private, loopback, link-local or other special-purpose addresses are refused unless
// the node runs with --allow-private-webhooks (tests); a URL of no valid form always is.
#include <algorithm>
#include <optional>
#include <string>

#include "api/problem.h"
#include "api/route_support.h"
#include "api/routes.h"
#include "api/url_check.h"
#include "ledger/ids.h"
#include "ledger/seal.h"

namespace api {

using namespace ledger::domain;

namespace {

// Where the caller's subscriber ids live (DECISIONS 97, 108): its merchant's "<merchant>:",
// the auditors' "Auditors:" (so an auditor removes only what auditors added), or none for
// an admin (the platform's own).
std::string SubscriberScope(const Principal& who) {
  if (who.role == Role::kMerchant) return who.merchant_id;
  if (who.role == Role::kAuditor) return std::string(ledger::kAuditorSubscriberScope);
  return "";
}

// The id a client chooses (DECISIONS 97): the entity id characters without ':', short
// enough that "<scope>:<id>" is an id. A merchant learns its own maximum, nothing else.
std::optional<Response> CheckChosenId(const std::string& chosen, const std::string& scope) {
  const size_t max = ledger::SubscriberIdLengthMax(scope);
  const auto refuse = [](const std::string& why) {
    return Problem(400, "invalid-field", "/subscriber_id: " + why, R"({"pointer":"/subscriber_id"})");
  };
  if (chosen.find(':') != std::string::npos)
    return refuse("must not contain ':' (a merchant's subscriber id is scoped to the merchant)");
  const bool chars_ok = !chosen.empty() && std::all_of(chosen.begin(), chosen.end(), [](char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' ||
           ch == '-';
  });
  if (!chars_ok) return refuse("must match [A-Za-z0-9._-]{1," + std::to_string(max) + "}");
  if (chosen.size() > max) {
    const bool auditors = scope == ledger::kAuditorSubscriberScope;
    const std::string whose = scope.empty() ? "" : auditors ? " for an auditor" : " for this merchant";
    return refuse("at most " + std::to_string(max) + " characters" + whose);
  }
  return std::nullopt;
}

// The same answer as the domain's for a subscriber that is not the caller's to remove.
Response NoSuchSubscriber() {
  return ProblemFromStatus(ledger::Status::RuleViolated("subscriber-not-found: no such subscriber"));
}

}  // namespace


void AddSubscriberRoutes(Router& router, const ApiContext& ctx) {
  router.Add("POST", "/v1/subscribers", Guard(ctx, {Role::kMerchant, Role::kAdmin, Role::kAuditor}, Body::kJson, [](Call& c) {
    Fields f(c.body);
    AddSubscriber cmd;
    const std::string chosen = f.Str("subscriber_id");
    cmd.url = f.Str("url");
    const std::string secret = f.Str("secret");
    cmd.topics = f.Strs("topics");
    if (f.ok() && (secret.size() < 16 || secret.size() > 256)) f.Refuse("secret", "from 16 to 256 characters");
    // Sixteen spaces are sixteen characters but no secret: anyone could sign notifications
    // that the subscriber would take for the node's.
    if (f.ok() && secret.find_first_not_of(" \t\n\v\f\r") == std::string::npos)
      f.Refuse("secret", "must not be only white space");
    for (size_t i = 0; f.ok() && i < cmd.topics.size(); ++i) {
      const std::string& t = cmd.topics[i];
      const bool allowed = c.who.role == Role::kAdmin ||
                           (c.who.role == Role::kAuditor ? t == "digests" : t != "digests");
      if (!allowed) f.Refuse("topics", "this role cannot subscribe to that topic");
    }
    if (!f.ok()) return f.Error();
    const std::string owner = c.who.role == Role::kMerchant ? c.who.merchant_id : "";
    const std::string scope = SubscriberScope(c.who);
    if (auto bad = CheckChosenId(chosen, scope)) return *bad;
    cmd.subscriber_id = ledger::ScopedSubscriberId(scope, chosen);
    // The form always (a URL is kept for good); the addresses unless private ones are allowed.
    if (ledger::Status url = c.ctx.allow_private_webhooks ? CheckUrlForm(cmd.url) : CheckPublicUrl(cmd.url); !url.ok())
      return Problem(400, "invalid-field", url.message(), R"({"pointer":"/url"})");
    if (c.ctx.secrets_key == nullptr)
      return Problem(503, "not-writer", "this node has no secrets key (--secrets-key-file): it cannot take secrets");
    // Bound to the subscriber's id, so a sealed secret cannot be moved to another one.
    auto sealed = ledger::Seal(*c.ctx.secrets_key, secret, "subscriber/" + cmd.subscriber_id);
    if (!sealed.ok()) return ProblemFromStatus(sealed.status());
    cmd.secret_sealed = *sealed;
    // The request digest goes into the log: it covers the secret only through an HMAC under
    // the secrets key, so the log gives nobody a hash to test guesses against.
    CommandOptions options;
    Json digested = c.body;
    digested["secret"] = ledger::ToHex(ledger::HmacSha256(*c.ctx.secrets_key, secret));
    // The id as scoped: an admin's and an auditor's requests share one idempotency namespace
    // (both are the platform's) but name different subscribers with the same body.
    if (owner.empty()) digested["scoped_subscriber_id"] = cmd.subscriber_id;
    options.digest_body = digested.dump();
    return AnswerCommand(c, owner, cmd, Idempotency::kOptional, 201, [cmd, chosen, owner] {
      return Json{{"subscriber_id", chosen}, {"url", cmd.url}, {"topics", cmd.topics}, {"owner_merchant_id", owner}};
    }, options);
  }));

  router.Add("DELETE", "/v1/subscribers/{subscriber_id}",
             // Merchants remove their own, auditors the auditors' (DECISIONS 108); an admin
             // any of the platform's, an auditor's by its whole id "Auditors:<id>".
             Guard(ctx, {Role::kMerchant, Role::kAdmin, Role::kAuditor}, Body::kNone, [](Call& c) {
               const std::string chosen = c.request.params["subscriber_id"];
               const std::string owner = c.who.role == Role::kMerchant ? c.who.merchant_id : "";
               const std::string scope = SubscriberScope(c.who);
               // A merchant removes "<merchant>:<id>"; the domain falls back to "<id>" for one
               // of its own added before ids were scoped. A scoped id too long to be one cannot
               // exist: the id goes as it is, and only the same merchant's "<id>" can match it.
               // No ':' check here: ids chosen before the rule may hold one.
               const std::string scoped = ledger::ScopedSubscriberId(scope, chosen);
               // An auditor's command runs as the platform's, where an unscoped id would reach
               // an admin's subscriber: an auditor names only "Auditors:<id>", and one that cannot
               // be an id is none.
               if (c.who.role == Role::kAuditor && !ledger::IsValidEntityId(scoped)) return NoSuchSubscriber();
               RemoveSubscriber cmd{ledger::IsValidEntityId(scoped) ? scoped : chosen};
               // The id as scoped in the digest: an admin's and an auditor's DELETE of the same
               // path share the platform's idempotency namespace but remove different ones.
               CommandOptions options;
               if (owner.empty()) options.digest_body = Json{{"scoped_subscriber_id", cmd.subscriber_id}}.dump();
               return AnswerCommand(c, owner, cmd, Idempotency::kOptional, 200,
                                 [chosen] { return Json{{"subscriber_id", chosen}, {"removed", true}}; }, options);
             }));
}

}  // namespace api
