// Subscribers of webhooks out (DESIGN §9): merchants for their disputes and outages,
// admins for the platform, auditors for digests. The secret is sealed with the node's
// secrets key before it enters the log and is never answered or listed. URLs that resolve
// to private, loopback, link-local or other special-purpose addresses are refused unless
// the node runs with --allow-private-webhooks (tests); a URL of no valid form always is.
#include "api/problem.h"
#include "api/route_support.h"
#include "api/routes.h"
#include "api/url_check.h"
#include "ledger/seal.h"

namespace api {

using namespace ledger::domain;


void AddSubscriberRoutes(Router& router, const ApiContext& ctx) {
  router.Add("POST", "/v1/subscribers", Guard(ctx, {Role::kMerchant, Role::kAdmin, Role::kAuditor}, Body::kJson, [](Call& c) {
    Fields f(c.body);
    AddSubscriber cmd;
    cmd.subscriber_id = f.Str("subscriber_id");
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
    // The form always (a URL is kept for good); the addresses unless private ones are allowed.
    if (ledger::Status url = c.ctx.allow_private_webhooks ? CheckUrlForm(cmd.url) : CheckPublicUrl(cmd.url); !url.ok())
      return Problem(400, "invalid-field", url.message(), R"({"pointer":"/url"})");
    if (c.ctx.secrets_key == nullptr)
      return Problem(503, "not-writer", "this node has no secrets key (--secrets-key-file): it cannot take secrets");
    // Bound to the subscriber's id, so a sealed secret cannot be moved to another one.
    auto sealed = ledger::Seal(*c.ctx.secrets_key, secret, "subscriber/" + cmd.subscriber_id);
    if (!sealed.ok()) return ProblemFromStatus(sealed.status());
    cmd.secret_sealed = *sealed;
    const std::string owner = c.who.role == Role::kMerchant ? c.who.merchant_id : "";
    // The request digest goes into the log: it covers the secret only through an HMAC under
    // the secrets key, so the log gives nobody a hash to test guesses against.
    CommandOptions options;
    Json digested = c.body;
    digested["secret"] = ledger::ToHex(ledger::HmacSha256(*c.ctx.secrets_key, secret));
    options.digest_body = digested.dump();
    return AnswerCommand(c, owner, cmd, Idempotency::kOptional, 201, [cmd, owner] {
      return Json{{"subscriber_id", cmd.subscriber_id}, {"url", cmd.url}, {"topics", cmd.topics}, {"owner_merchant_id", owner}};
    }, options);
  }));

  router.Add("DELETE", "/v1/subscribers/{subscriber_id}",
             // Merchants remove their own; platform and auditors' subscribers are the admin's to remove.
             Guard(ctx, {Role::kMerchant, Role::kAdmin}, Body::kNone, [](Call& c) {
               RemoveSubscriber cmd{c.request.params["subscriber_id"]};
               const std::string owner = c.who.role == Role::kMerchant ? c.who.merchant_id : "";
               return AnswerCommand(c, owner, cmd, Idempotency::kOptional, 200,
                                 [cmd] { return Json{{"subscriber_id", cmd.subscriber_id}, {"removed", true}}; });
             }));
}

}  // namespace api
