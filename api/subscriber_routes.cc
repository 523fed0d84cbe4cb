// Subscribers of webhooks out (DESIGN §9): merchants for their disputes and outages,
// admins for the platform, auditors for digests. The secret is sealed with the node's
// secrets key before it enters the log and is never answered or listed. URLs that resolve
// to private, loopback or link-local addresses are refused unless the node runs with
// --allow-private-webhooks (tests).
#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include "api/problem.h"
#include "api/route_support.h"
#include "api/routes.h"
#include "ledger/seal.h"

namespace api {

using namespace ledger::domain;

namespace {

bool PrivateV4(uint32_t host_order) {
  const uint8_t a = host_order >> 24, b = (host_order >> 16) & 0xff;
  return a == 10 || a == 127 || a == 0 || (a == 172 && b >= 16 && b <= 31) || (a == 192 && b == 168) ||
         (a == 169 && b == 254) || (a == 100 && b >= 64 && b <= 127) || (a == 198 && (b == 18 || b == 19)) || a >= 224;
}

bool PrivateV6(const in6_addr& a) {
  const uint8_t* x = a.s6_addr;
  if (IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LINKLOCAL(&a) || IN6_IS_ADDR_MULTICAST(&a))
    return true;
  if ((x[0] & 0xfe) == 0xfc) return true;  // unique local fc00::/7
  auto embedded_v4 = [&](size_t at) {
    uint32_t v4;
    std::memcpy(&v4, x + at, 4);
    return PrivateV4(ntohl(v4));
  };
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  static const uint8_t kCompat[12] = {};
  // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96), compatible (::/96), 6to4 (2002::/16).
  if (IN6_IS_ADDR_V4MAPPED(&a) || std::memcmp(x, kNat64, 12) == 0 || std::memcmp(x, kCompat, 12) == 0)
    return embedded_v4(12);
  if (x[0] == 0x20 && x[1] == 0x02) return embedded_v4(2);
  return false;
}

// The URL's host, or "" when the URL is not http(s)://host[:port][/...].
std::string HostOf(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (rest.find('@') != std::string::npos) return "";  // no credentials in subscriber URLs
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    return close == std::string::npos ? "" : rest.substr(1, close - 1);
  }
  return rest.substr(0, rest.find(':'));
}

// OK when every address the host resolves to is public.
ledger::Status CheckPublicUrl(const std::string& url) {
  const std::string host = HostOf(url);
  if (host.empty()) return ledger::Status::InvalidArgument("/url: must be http(s)://host[:port]/path, without credentials");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr)
    return ledger::Status::InvalidArgument("/url: the host does not resolve");
  bool is_private = false;
  for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
    if (p->ai_family == AF_INET)
      is_private |= PrivateV4(ntohl(reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr.s_addr));
    else if (p->ai_family == AF_INET6)
      is_private |= PrivateV6(reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr);
  }
  freeaddrinfo(res);
  if (is_private)
    return ledger::Status::InvalidArgument("/url: resolves to a private, loopback or link-local address");
  return ledger::Status::Ok();
}

}  // namespace

void AddSubscriberRoutes(Router& router, const ApiContext& ctx) {
  router.Add("POST", "/v1/subscribers", Guard(ctx, {Role::kMerchant, Role::kAdmin, Role::kAuditor}, Body::kJson, [](Call& c) {
    Fields f(c.body);
    AddSubscriber cmd;
    cmd.subscriber_id = f.Str("subscriber_id");
    cmd.url = f.Str("url");
    const std::string secret = f.Str("secret");
    cmd.topics = f.Strs("topics");
    if (f.ok() && (secret.size() < 16 || secret.size() > 256)) f.Refuse("secret", "from 16 to 256 characters");
    for (size_t i = 0; f.ok() && i < cmd.topics.size(); ++i) {
      const std::string& t = cmd.topics[i];
      const bool allowed = c.who.role == Role::kAdmin ||
                           (c.who.role == Role::kAuditor ? t == "digests" : t != "digests");
      if (!allowed) f.Refuse("topics", "this role cannot subscribe to that topic");
    }
    if (!f.ok()) return f.Error();
    if (!c.ctx.allow_private_webhooks) {
      ledger::Status url = CheckPublicUrl(cmd.url);
      if (!url.ok()) return Problem(400, "invalid-field", url.message(), R"({"pointer":"/url"})");
    }
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
    return RunCommand(c, owner, cmd, Idempotency::kOptional, 201, [cmd, owner] {
      return Json{{"subscriber_id", cmd.subscriber_id}, {"url", cmd.url}, {"topics", cmd.topics}, {"owner_merchant_id", owner}};
    }, options);
  }));

  router.Add("DELETE", "/v1/subscribers/{subscriber_id}",
             // Merchants remove their own; platform and auditors' subscribers are the admin's to remove.
             Guard(ctx, {Role::kMerchant, Role::kAdmin}, Body::kNone, [](Call& c) {
               RemoveSubscriber cmd{c.request.params["subscriber_id"]};
               const std::string owner = c.who.role == Role::kMerchant ? c.who.merchant_id : "";
               return RunCommand(c, owner, cmd, Idempotency::kOptional, 200,
                                 [cmd] { return Json{{"subscriber_id", cmd.subscriber_id}, {"removed", true}}; });
             }));
}

}  // namespace api
