// Webhooks in (DESIGN §9): one endpoint per merchant and provider. A request is verified
// first, with what the merchant configured (PUT /v1/merchant; a standby has it too, it is
// an event), and only then read: a bad signature is 401 and writes nothing. A verified
// event is a fact, recorded under the idempotency key "<provider>:<event id>[:<step>]"
// whose request digest is the event id alone, so a redelivery (same id) answers 200 and
// changes nothing. Mapping in api/provider_events.h, decisions in DECISIONS.md §51 (and
// §112: eBay account deletions erase the buyer).
#include <spdlog/spdlog.h>

#include <optional>
#include <variant>

#include "api/personal.h"
#include "api/problem.h"
#include "api/provider_events.h"
#include "api/provider_signatures.h"
#include "api/route_support.h"
#include "api/routes.h"
#include "ledger/clock.h"
#include "ledger/ids.h"
#include "ledger/keyring.h"
#include "projections/read_model_store.h"

namespace api {

namespace {

constexpr int64_t kPayPalTransmissionSkewS = 300;  // how old (or early) a PayPal delivery may be

// The merchant's configuration, or null when none (or no such merchant).
Json MerchantConfig(const ApiContext& ctx, const std::string& merchant) {
  if (!ledger::IsValidMerchantId(merchant)) return nullptr;
  const auto* storefront = ReadModel(ctx, "storefront");
  if (storefront == nullptr) return nullptr;
  auto v = storefront->Get("merchant/" + merchant);
  return v.ok() && v->has_value() ? **v : Json(nullptr);
}

std::string ConfigText(const Json& config, const char* provider, const char* field) {
  if (!config.is_object() || !config.contains(provider) || !config[provider].is_object()) return "";
  return config[provider].value(field, "");
}

Response Unverified(const std::string& why) {
  return Problem(401, "unauthenticated", why);
}

// Without a keyring no buyer's pseudonym can be derived: 503, nothing recorded, and the
// provider retries (another node, or this one once started with its secrets key).
Response NoKeyring() {
  return Problem(503, "not-configured",
                 "marketplace buyers are personal data, stored sealed, and this node has no keyring: start it with "
                 "--secrets-key-file");
}

Response NotRecorded(const ProviderEvent& event, const std::string& why) {
  return JsonResponse(200, Json{{"event_id", event.event_id}, {"event_type", event.event_type}, {"recorded", false},
                                {"reason", why}});
}

// Whether `r` is the problem a rule violation named `rule` answers.
bool IsRuleProblem(const Response& r, const std::string& rule) {
  if (r.status < 400) return false;
  const Json body = Json::parse(r.body, nullptr, /*allow_exceptions=*/false);
  return body.is_object() && body.value("rule", "") == rule;
}

// A marketplace buyer's handle is personal data (DESIGN §12): the customer id becomes a
// keyed pseudonym of it ("<provider>:" + 32 hex digits, the same on every node of the
// shard), and the handle is sealed as the customer's name under their data key, so an
// erasure leaves nothing readable. A buyer erased before: the order is recorded (money
// moved) without the handle. Without a keyring nothing is recorded (503; the provider
// retries). Nothing here ever names the handle in an error.
std::optional<Response> AssignMarketplaceBuyer(Call& c, const std::string& merchant, const std::string& provider,
                                               ProviderEvent& event) {
  for (ledger::domain::Command& command : event.commands) {
    auto* order = std::get_if<ledger::domain::RecordProviderOrder>(&command);
    if (order == nullptr || !order->buyer) continue;
    if (c.ctx.keyring == nullptr) return NoKeyring();
    order->order.customer_id = provider + ":" + c.ctx.keyring->Pseudonym(merchant, order->buyer->name);
    auto key = c.ctx.keyring->KeyFor(merchant, order->order.customer_id);
    if (!key.ok() && key.status().code() == ledger::Code::kInvalidArgument) {
      order->buyer.reset();  // erased: the handle is not taken again
      continue;
    }
    if (!key.ok()) return KeyringUnreadable(key.status());
    order->buyer->key_id = key->key_id;
    order->buyer->data_key = key->key;
  }
  return std::nullopt;
}

// Runs the event's commands in order; the answer is the last one's (or the first error).
Response Record(Call& c, const std::string& merchant, const std::string& provider, const ProviderEvent& event) {
  if (event.commands.empty()) return NotRecorded(event, event.ignored);
  Response last;
  for (size_t i = 0; i < event.commands.size(); ++i) {
    CommandOptions options;
    options.idempotency_key = provider + ":" + event.event_id;
    if (i > 0) options.idempotency_key.append(":").append(std::to_string(i));
    options.digest_body = provider + " event " + event.event_id;
    options.resource_needs_read_models = false;
    const auto resource = [&event] {
      return Json{{"event_id", event.event_id}, {"event_type", event.event_type}, {"recorded", true}};
    };
    options.on_replay = [&event] {
      return Json{{"event_id", event.event_id}, {"event_type", event.event_type}, {"recorded", false},
                  {"reason", "already recorded"}};
    };
    last = RunCommand(c, merchant, event.commands[i], Idempotency::kOptional, 200, resource, options);
    if (last.status >= 300) return last;
  }
  return last;
}

// A marketplace's account deletion (DECISIONS §112): the buyer's account is gone and their
// data must go. Their customer is the one their orders named (the same pseudonym), erased
// as POST /v1/customers/{id}/erase does: EraseCustomer as a fact under the notification's
// idempotency key, then the data key destroyed. The provider sends deletions to every
// seller, so a buyer this merchant never had is 200, nothing recorded (a 404 would be
// retried for days). Nothing here names the handle.
Response EraseMarketplaceBuyer(Call& c, const std::string& merchant, const std::string& provider, ProviderEvent event) {
  if (c.ctx.keyring == nullptr) return NoKeyring();
  const std::string customer = provider + ":" + c.ctx.keyring->Pseudonym(merchant, event.erased_buyer);
  event.erased_buyer.clear();  // from here on only the pseudonym travels
  auto key_id = c.ctx.keyring->KeyIdOf(merchant, customer);
  if (!key_id.ok()) return KeyringUnreadable(key_id.status());
  // A destroyed key means CustomerErased is durable (keys go only after it): nothing new,
  // and "recorded" stays true to what was written.
  if (key_id->has_value() && c.ctx.keyring->Destroyed(**key_id))
    return NotRecorded(event, "the buyer's personal data is erased already");
  event.commands.push_back(ledger::domain::EraseCustomer{customer, key_id->value_or(0)});
  Response r = Record(c, merchant, provider, event);
  if (IsRuleProblem(r, "customer-not-found")) return NotRecorded(event, "no customer of this buyer at this merchant");
  if (r.status != 200) return r;
  // Also on a redelivery: a key left by an earlier attempt that failed below goes now.
  if (auto s = c.ctx.keyring->DestroyCustomer(merchant, customer); !s.ok()) {
    spdlog::error("erasure (marketplace account deletion): {}", s.ToString());
    return Problem(500, "internal", "the erasure is recorded but the key could not be destroyed yet; send it again");
  }
  return r;
}

Response BadBody(const ledger::Status& s) {
  const std::string& m = s.message();
  const std::string pointer = !m.empty() && m[0] == '/' ? m.substr(0, m.find(':')) : "";
  return Problem(400, "invalid-field", m, Json{{"pointer", pointer}}.dump());
}

}  // namespace

void AddWebhookInRoutes(Router& router, const ApiContext& ctx) {
  router.Add("POST", "/v1/webhooks/paypal/{merchant_id}", Public(ctx, [](Call& c) {
    const std::string merchant = c.request.params.at("merchant_id");
    const Json config = MerchantConfig(c.ctx, merchant);
    const std::string webhook_id = ConfigText(config, "paypal", "webhook_id");
    const std::string cert = ConfigText(config, "paypal", "cert_pem");
    if (webhook_id.empty() || cert.empty()) return Unverified("no PayPal webhook is configured for this merchant");
    const std::string algo = c.request.Header("paypal-auth-algo");
    if (!algo.empty() && algo != "SHA256withRSA") return Unverified("PAYPAL-AUTH-ALGO must be SHA256withRSA");
    const std::string id = c.request.Header("paypal-transmission-id");
    const std::string time = c.request.Header("paypal-transmission-time");
    const std::string sig = c.request.Header("paypal-transmission-sig");
    if (id.empty() || time.empty() || sig.empty())
      return Unverified("PAYPAL-TRANSMISSION-ID, -TIME and -SIG are required");
    // CRC-32 is no cryptographic hash: a captured delivery's headers could carry another body
    // of the same CRC. Old deliveries are refused; DECISIONS §51 says what remains.
    // RFC 3339 with any offset (PayPal's form), compared in UTC; the signed string keeps
    // the header's text as sent.
    auto sent_at = ledger::ParseRfc3339TimestampUs(time);
    const int64_t now_us = ledger::SystemClock()->NowMicros();
    if (!sent_at.ok() || *sent_at < now_us - kPayPalTransmissionSkewS * 1000000LL ||
        *sent_at > now_us + kPayPalTransmissionSkewS * 1000000LL)
      return Unverified("PAYPAL-TRANSMISSION-TIME is not within " + std::to_string(kPayPalTransmissionSkewS) + " s of now");
    // The certificate is the merchant's configured one; PAYPAL-CERT-URL is never fetched.
    const ledger::Status verified =
        VerifyPayPalSignature(cert, PayPalSignedString(id, time, webhook_id, c.request.body), sig);
    if (!verified.ok()) return Unverified("the PayPal transmission signature does not verify: " + verified.message());
    const Json body = Json::parse(c.request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) return Problem(400, "malformed-json", "the body must be one JSON object");
    auto event = ReadPayPalEvent(body);
    if (!event.ok()) return BadBody(event.status());
    return Record(c, merchant, "paypal", *event);
  }));

  router.Add("POST", "/v1/webhooks/ebay/{merchant_id}", Public(ctx, [](Call& c) {
    const std::string merchant = c.request.params.at("merchant_id");
    const Json config = MerchantConfig(c.ctx, merchant);
    const std::string key = ConfigText(config, "ebay", "public_key");
    const std::string store = ConfigText(config, "ebay", "store_id");
    const std::string seller = ConfigText(config, "ebay", "seller_id");
    if (key.empty() || store.empty() || seller.empty())
      return Unverified("no eBay public key, seller and store are configured for this merchant");
    const std::string header = c.request.Header("x-ebay-signature");
    if (header.empty()) return Unverified("X-EBAY-SIGNATURE is required");
    const ledger::Status verified = VerifyEbaySignature(key, header, c.request.body);
    if (!verified.ok()) return Unverified("the eBay signature does not verify: " + verified.message());
    const Json body = Json::parse(c.request.body, nullptr, /*allow_exceptions=*/false);
    if (body.is_discarded() || !body.is_object()) return Problem(400, "malformed-json", "the body must be one JSON object");
    // eBay signs every seller's notifications with its own key: the signature says "from
    // eBay", the seller says "for this merchant". Another seller's is refused, unread.
    const Json::json_pointer seller_at("/notification/data/sellerId");
    if (body.contains(seller_at) && !(body.at(seller_at).is_string() && body.at(seller_at).get<std::string>() == seller))
      return Unverified("the notification is for another eBay seller");
    auto event = ReadEbayNotification(body, store);
    if (!event.ok()) return BadBody(event.status());
    if (!event->erased_buyer.empty()) return EraseMarketplaceBuyer(c, merchant, "ebay", *event);
    if (auto refused = AssignMarketplaceBuyer(c, merchant, "ebay", *event)) return *refused;
    return Record(c, merchant, "ebay", *event);
  }));
}

}  // namespace api
