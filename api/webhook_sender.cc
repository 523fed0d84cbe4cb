#define _TURN_OFF_PLATFORM_STRING  // cpprestsdk's U() macro breaks fmt headers
#include "api/webhook_sender.h"

#include <cpprest/http_client.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/log_windows.h"
#include "api/url_check.h"
#include "ledger/chain_hash.h"
#include "ledger/domain/sequencer.h"
#include "ledger/event_store.h"
#include "ledger/ids.h"
#include "ledger/position_token.h"
#include "ledger/record_codec.h"
#include "ledger/seal.h"
#include "ledger/thread_name.h"
#include "projections/projections.h"

namespace api {

using Json = nlohmann::json;
using ledger::schema::EventBody;

namespace {
std::string Str(const flatbuffers::String* s) { return s ? s->str() : ""; }

// The topic of `e` that `topics` subscribes to, "" when none. `incident_component` finds
// the component of an updated notice.
std::string MatchTopic(const ledger::schema::Event& e, const Json& topics, const std::string& owner,
                       const std::function<std::string(const std::string&)>& incident_component) {
  std::string component;
  switch (e.body_type()) {
    case EventBody::OutageNoticePublished: component = Str(e.body_as_OutageNoticePublished()->component()); break;
    case EventBody::OutageNoticeUpdated: component = incident_component(Str(e.body_as_OutageNoticeUpdated()->notice_id())); break;
    case EventBody::DisputeOpened:
    case EventBody::DisputeResolved:
      for (const Json& t : topics)
        if (t == "disputes" && !owner.empty() && Str(e.tenant()) == owner) return "disputes";
      return "";
    case EventBody::DigestPublished:
      for (const Json& t : topics)
        if (t == "digests") return "digests";
      return "";
    default: return "";
  }
  for (const Json& t : topics)
    if (t == "outages" || t == "outages:" + component) return t.get<std::string>();
  return "";
}

Json Payload(const ledger::schema::Event& e, const std::string& topic, uint32_t shard, const Json& incident) {
  Json event = {{"type", ledger::schema::EnumNameEventBody(e.body_type())}, {"recorded_at_us", e.recorded_at_us()}};
  switch (e.body_type()) {
    case EventBody::OutageNoticePublished:
    case EventBody::OutageNoticeUpdated: event["incident"] = incident; break;
    case EventBody::DisputeOpened:
      event["dispute_id"] = Str(e.body_as_DisputeOpened()->dispute_id());
      event["payment_id"] = Str(e.body_as_DisputeOpened()->payment_id());
      event["evidence_due_at_us"] = e.body_as_DisputeOpened()->evidence_due_at_us();
      break;
    case EventBody::DisputeResolved:
      event["dispute_id"] = Str(e.body_as_DisputeResolved()->dispute_id());
      event["outcome"] = ledger::schema::EnumNameDisputeOutcome(e.body_as_DisputeResolved()->outcome());
      break;
    case EventBody::DigestPublished:
      event["digest_position"] = e.body_as_DigestPublished()->position();
      if (e.body_as_DigestPublished()->hash()) event["hash"] = ledger::ToHex(ledger::FromSchema(e.body_as_DigestPublished()->hash()));
      break;
    default: break;
  }
  return {{"topic", topic}, {"position", ledger::PositionToken(ledger::ShardId(shard), ledger::Position(e.position()))},
          {"event", event}};
}
}  // namespace

struct WebhookSender::Impl {
  const ApiContext& ctx;
  std::atomic<bool> stop{false};
  std::mutex mu;
  std::condition_variable cv;
  std::thread thread;
  struct Progress {
    uint64_t scanned_through = 0;  // nothing for it up to here (in memory)
    uint32_t attempt = 0;          // attempts at the notification now due
    std::chrono::steady_clock::time_point next_attempt{};
  };
  std::map<std::string, Progress> progress;  // by subscriber id; sender thread only

  WebhookSenderOptions options;
  Impl(const ApiContext& c, WebhookSenderOptions o) : ctx(c), options(o) {}

  void Loop() {
    while (!stop.load()) {
      Round();
      std::unique_lock<std::mutex> lock(mu);
      cv.wait_for(lock, std::chrono::milliseconds(kWebhookPollMs), [&] { return stop.load(); });
    }
  }

  // The log is read once per pass for every subscriber (a window shared while their
  // positions fall in it). A round makes passes over the subscribers, one notification to
  // each per pass (so a slow subscriber delays the others by one attempt, not by many), up
  // to kPassesPerRound or kRoundBudgetMs: a busy merchant's notifications, or a long
  // stretch of events no subscriber wants, no longer outrun the sender.
  static constexpr uint64_t kWindowEvents = 4096;
  static constexpr int kPassesPerRound = 32;
  static constexpr int kRoundBudgetMs = 1000;
  static constexpr int kWindowsPerServe = 4;  // a long backlog is scanned over several passes
  // Windows kept in a round (see log_windows.h).
  static constexpr size_t kWindowsKept = 4;

  void Round() {
    // Only the writer records attempts (a standby's sender waits for a promotion).
    if (ctx.secrets_key == nullptr || ctx.sequencer() == nullptr || ctx.projector == nullptr) return;
    const auto* status = ctx.projector->read_model("status");
    auto subscribers = status->Scan("subscriber/", "", 10000);
    if (!subscribers.ok()) return;
    // Only what every read model has: the incident a notice shows is then current.
    const uint64_t bound = std::min(ctx.store->canonical_mark().position.value(), ctx.projector->position().value());
    LogWindows windows(kWindowsKept, kWindowEvents, [this](ledger::Position from, size_t limit) {
      return ctx.store->ReadRange(from, limit);
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kRoundBudgetMs);
    for (int pass = 0; pass < kPassesPerRound && std::chrono::steady_clock::now() < deadline; ++pass) {
      bool progressed = false;
      for (const auto& [key, sub] : *subscribers) {
        if (stop.load()) return;
        progressed |= Serve(key.substr(std::string("subscriber/").size()), sub, bound, *status, windows);
      }
      if (!progressed) return;
    }
  }

  // At most one notification; true when it settled one or scanned past events (there may
  // be more for it in this round).
  bool Serve(const std::string& id, const Json& sub, uint64_t bound, const projections::ProjectionStore& status,
             LogWindows& windows) {
    Progress& p = progress[id];
    const uint64_t settled = sub.value("settled_through", uint64_t{0});
    const std::string owner = sub.value("owner_merchant_id", "");
    auto component = [&](const std::string& notice) {
      auto inc = status.Get("incident/" + notice);
      return inc.ok() && inc->has_value() ? (**inc)["component"].get<std::string>() : std::string();
    };
    const uint64_t scanned_before = p.scanned_through;
    for (int read = 0; read < kWindowsPerServe && !stop.load(); ++read) {
      const uint64_t from = std::max(settled, p.scanned_through) + 1;
      if (from > bound || std::chrono::steady_clock::now() < p.next_attempt) break;
      size_t skip = 0;
      const auto* events = windows.Read(from, bound, &skip);
      if (events == nullptr) return false;
      const ledger::StoredEvent* due = nullptr;
      const ledger::schema::Event* due_event = nullptr;
      std::string topic;
      for (size_t i = skip; i < events->size() && due == nullptr; ++i) {
        const ledger::StoredEvent& se = (*events)[i];  // windows end at the round's bound
        const auto* e = ledger::VerifyRecord(se.record);
        if (e == nullptr) return false;
        topic = MatchTopic(*e, sub["topics"], owner, component);
        if (topic.empty()) {
          p.scanned_through = se.position.value();
          continue;
        }
        due = &se;
        due_event = e;
      }
      if (due == nullptr) {
        if (events->size() <= skip) break;  // nothing new in the log
        continue;                           // the window held nothing for it: the next one
      }
      Json incident = Json::object();
      if (due_event->body_type() == EventBody::OutageNoticePublished ||
          due_event->body_type() == EventBody::OutageNoticeUpdated) {
        const std::string notice = due_event->body_type() == EventBody::OutageNoticePublished
                                       ? Str(due_event->body_as_OutageNoticePublished()->notice_id())
                                       : Str(due_event->body_as_OutageNoticeUpdated()->notice_id());
        auto inc = status.Get("incident/" + notice);
        if (inc.ok() && inc->has_value()) incident = **inc;
      }
      const uint64_t before = p.scanned_through;
      Attempt(id, sub, *due_event, topic, incident, p);
      return p.scanned_through != before;  // not settled: a retry later (order kept)
    }
    return p.scanned_through != scanned_before;
  }

  void Attempt(const std::string& id, const Json& sub, const ledger::schema::Event& e, const std::string& topic,
               const Json& incident, Progress& p) {
    const uint64_t subject = e.position();
    // The subscriber is told the id its owner chose, not "<merchant>:<id>" (DECISIONS 97);
    // everything kept here (progress, the seal binding, the recorded attempt) uses `id`.
    const std::string notification_id =
        ledger::ChosenSubscriberId(sub.value("owner_merchant_id", ""), id) + ":" + std::to_string(subject);
    Json payload = Payload(e, topic, ctx.shard, incident);
    payload["notification_id"] = notification_id;
    const std::string body = payload.dump();
    const std::string url = sub["url"].get<std::string>();
    p.attempt++;
    int http_status = 0;
    std::string reason;
    std::string sealed;
    ledger::FromHex(sub.value("secret_sealed_hex", ""), &sealed);  // damaged hex fails to unseal below
    auto secret = ledger::Unseal(*ctx.secrets_key, sealed, "subscriber/" + id);
    if (!secret.ok()) {
      reason = "the secret does not open with this node's secrets key";
    } else if (ledger::Status url_ok = ctx.allow_private_webhooks ? CheckUrlForm(url) : CheckPublicUrl(url); !url_ok.ok()) {
      reason = url_ok.message();
    } else {
      const std::string ts = std::to_string(std::chrono::duration_cast<std::chrono::seconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
      // HMAC-SHA256 under the subscriber's own secret over "<timestamp>.<body>".
      const std::string signature = "v1=" + ledger::ToHex(ledger::HmacSha256(std::string_view(*secret), ts + "." + body));
      try {
        web::http::client::http_client_config config;
        config.set_timeout(std::chrono::milliseconds(kWebhookTimeoutMs));
        web::http::client::http_client client(url, config);
        web::http::http_request req(web::http::methods::POST);
        req.headers().add("X-Ledger-Timestamp", ts);
        req.headers().add("X-Ledger-Signature", signature);
        req.headers().add("X-Ledger-Notification-Id", notification_id);
        req.set_body(body, "application/json");
        auto resp = client.request(req).get();
        http_status = resp.status_code();
        if (http_status < 200 || http_status >= 300) reason = "the subscriber answered " + std::to_string(http_status);
      } catch (const std::exception&) {
        reason = "no answer from the subscriber's URL";  // no detail: it could name internals
      }
    }
    const bool delivered = reason.empty();
    ledger::domain::RecordNotification rec;
    rec.subscriber_id = id;
    rec.notification_id = notification_id;
    rec.subject_position = subject;
    rec.attempt = p.attempt;
    rec.delivered = delivered;
    rec.http_status = static_cast<uint32_t>(http_status);
    rec.reason = reason;
    rec.will_retry = !delivered && p.attempt < static_cast<uint32_t>(options.attempts_max);
    const auto backoff = std::chrono::milliseconds(
        std::min<int64_t>(kWebhookBackoffMaxMs, int64_t{options.backoff_first_ms} << std::min<uint32_t>(p.attempt - 1, 16)));
    rec.next_attempt_at_us = rec.will_retry ? std::chrono::duration_cast<std::chrono::microseconds>(
                                                  (std::chrono::system_clock::now() + backoff).time_since_epoch())
                                                  .count()
                                            : 0;
    ledger::domain::CommandRequest r;
    r.merchant_id = sub.value("owner_merchant_id", "");
    r.command_id = {subject, p.attempt};
    r.command = rec;
    const auto sequencer = ctx.sequencer();
    if (sequencer == nullptr) return;  // deposed meanwhile: the next writer delivers
    auto done = sequencer->Execute(std::move(r));
    if (!done.ok()) {
      // Not recorded (a deposed writer, Kafka away): try again later, without flooding the log.
      spdlog::warn("webhook {}: could not record the attempt: {}", notification_id, done.status().ToString());
      p.next_attempt = std::chrono::steady_clock::now() + std::chrono::seconds(5);
      return;
    }
    if (delivered || !rec.will_retry) {
      p.attempt = 0;
      p.scanned_through = subject;  // settled; the read model will say so too
      p.next_attempt = {};
    } else {
      p.next_attempt = std::chrono::steady_clock::now() + backoff;
    }
  }
};

WebhookSender::WebhookSender(const ApiContext& ctx, WebhookSenderOptions options)
    : impl_(std::make_unique<Impl>(ctx, options)) {
  impl_->thread = std::thread([this] {
    ledger::NameThisThread("webhook-send");
    impl_->Loop();
  });
}

WebhookSender::~WebhookSender() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace api
