// Subscribers of webhooks out (DESIGN §9): merchants for their disputes and outages,
// admins for the platform, auditors for digests. The secret is sealed with the node's
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

// The id a client chooses (DECISIONS 97): the entity id characters without ':', short
// enough that "<merchant>:<id>" is an id. A merchant learns its own maximum, nothing else.
std::optional<Response> CheckChosenId(const std::string& chosen, const std::string& owner) {
  const size_t max = ledger::SubscriberIdLengthMax(owner);
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
  if (chosen.size() > max)
    return refuse("at most " + std::to_string(max) + " characters" + (owner.empty() ? "" : " for this merchant"));
  return std::nullopt;
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
    if (auto bad = CheckChosenId(chosen, owner)) return *bad;
    cmd.subscriber_id = ledger::ScopedSubscriberId(owner, chosen);
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
    options.digest_body = digested.dump();
    return AnswerCommand(c, owner, cmd, Idempotency::kOptional, 201, [cmd, chosen, owner] {
      return Json{{"subscriber_id", chosen}, {"url", cmd.url}, {"topics", cmd.topics}, {"owner_merchant_id", owner}};
    }, options);
  }));

  router.Add("DELETE", "/v1/subscribers/{subscriber_id}",
             // Merchants remove their own; platform and auditors' subscribers are the admin's to remove.
             Guard(ctx, {Role::kMerchant, Role::kAdmin}, Body::kNone, [](Call& c) {
               const std::string chosen = c.request.params["subscriber_id"];
               const std::string owner = c.who.role == Role::kMerchant ? c.who.merchant_id : "";
               // A merchant removes "<merchant>:<id>"; the domain falls back to "<id>" for one
               // of its own added before ids were scoped. A scoped id too long to be one cannot
               // exist: the id goes as it is, and only the same merchant's "<id>" can match it.
               // No ':' check here: ids chosen before the rule may hold one.
               const std::string scoped = ledger::ScopedSubscriberId(owner, chosen);
               RemoveSubscriber cmd{ledger::IsValidEntityId(scoped) ? scoped : chosen};
               return AnswerCommand(c, owner, cmd, Idempotency::kOptional, 200,
                                 [chosen] { return Json{{"subscriber_id", chosen}, {"removed", true}}; });
             }));
}

}  // namespace api
