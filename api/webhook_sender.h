// Webhooks out (DESIGN §9): every subscriber receives the canonical events of its topics
// (outages, outages:<component>, disputes of its own merchant, digests), in log order, as
// a POST signed with HMAC-SHA256 over "<timestamp>.<body>" under its secret
// (X-Ledger-Timestamp, X-Ledger-Signature: v1=<hex>). Every attempt is recorded as an event
// (NotificationDelivered, NotificationFailed with will_retry); a failure is retried with
// backoff (1, 2, 4 … 60 s) up to kWebhookAttemptsMax, and a subscriber's later
// notifications wait for the one before (order kept). Where a subscriber stands is read
// back from the status read model, so a restart goes on where the log says.
// Runs on the writer only (it records events). Thread-safe; one thread of its own, so a
// slow subscriber (up to kWebhookTimeoutMs per attempt) delays the others' deliveries.
// Every kWebhookPollMs a round passes over the subscribers, one notification each per pass,
// up to 32 passes or 1 s; the log is read once per pass for all of them.
#pragma once

#include <memory>

#include "api/api_context.h"

namespace api {

inline constexpr int kWebhookAttemptsMax = 6;
inline constexpr int kWebhookTimeoutMs = 5000;
inline constexpr int kWebhookPollMs = 100;
inline constexpr int kWebhookBackoffFirstMs = 1000;  // then doubling, up to kWebhookBackoffMaxMs
inline constexpr int kWebhookBackoffMaxMs = 60000;

struct WebhookSenderOptions {
  int attempts_max = kWebhookAttemptsMax;
  int backoff_first_ms = kWebhookBackoffFirstMs;  // tests shorten it
};

class WebhookSender {
 public:
  // `ctx` (store, sequencer, projector, secrets key) must outlive the sender.
  explicit WebhookSender(const ApiContext& ctx, WebhookSenderOptions options = {});
  ~WebhookSender();  // stops and joins

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace api
