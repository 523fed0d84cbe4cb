#include "api/route_support.h"

#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>

#include "api/deadline_timer.h"
#include "api/problem.h"
#include "api/rate_limit.h"
#include "ledger/chain_hash.h"
#include "ledger/event_store.h"
#include "ledger/domain/sequencer.h"
#include "ledger/position_token.h"
#include "projections/projections.h"
#include "projections/queries.h"

namespace api {

std::string Call::Merchant() const {
  if (who.role == Role::kMerchant) return who.merchant_id;
  std::string m = request.Query("merchant_id");
  if (m.empty() && body.is_object() && body.contains("merchant_id") && body["merchant_id"].is_string())
    m = body["merchant_id"].get<std::string>();
  return m;
}

Response JsonResponse(int status, const Json& body) {
  Response r;
  r.status = status;
  r.body = body.dump();
  return r;
}

namespace {
// Whether a merchant key's request names a merchant other than its own (`merchant_id` in
// the query or the body), which Call::Merchant() would otherwise pass over in silence,
// answering the key's own tenant as if it were the one asked for.
bool NamesAnotherMerchant(const Request& request, const Json& body, const std::string& own) {
  const std::string query = request.Query("merchant_id");
  if (!query.empty() && query != own) return true;
  if (!body.is_object()) return false;
  const auto named = body.find("merchant_id");
  return named != body.end() && named->is_string() && !named->get_ref<const std::string&>().empty() &&
         named->get_ref<const std::string&>() != own;
}

Response Wrapped(const ApiContext& ctx, Request& request, std::optional<std::vector<Role>> roles, Body body,
                 const CallHandler& handler) {
  if (request.body.size() > kBodyBytesMax)
    return Problem(413, "body-too-large", "the body is over " + std::to_string(kBodyBytesMax) + " bytes");
  if (ctx.projector == nullptr) return Problem(503, "projection-lagging", "this node serves no read models yet");
  Principal who;
  if (roles) {
    auto p = Authenticate(ctx, request);
    if (!p.ok()) {
      if (p.status().code() == ledger::Code::kNotFound)
        return Problem(401, "unauthenticated", "a valid key is needed: Authorization: Bearer <key>");
      return ProblemFromStatus(p.status());
    }
    who = *p;
    if (ctx.rate_limiter != nullptr && !request.inside_batch && !ctx.rate_limiter->Allow(who.key_id))
      return Problem(429, "rate-limited", "over " + std::to_string(static_cast<int>(ctx.rate_limiter->per_second())) +
                                              " requests per second for this key");
    bool allowed = false;
    for (Role r : *roles) allowed = allowed || r == who.role;
    if (!allowed) return Problem(403, "forbidden", std::string("the ") + RoleName(who.role) + " role cannot do this");
  }
  Json parsed;
  if (body == Body::kJson) {
    parsed = Json::parse(request.body, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || !parsed.is_object())
      return Problem(400, "malformed-json", "the body must be one JSON object");
  }
  // Another tenant named outright is 403 whether or not that merchant exists (so it tells
  // nothing), on every route; its ids probed through the key's own tenant stay 404.
  if (roles && who.role == Role::kMerchant && NamesAnotherMerchant(request, parsed, who.merchant_id))
    return Problem(403, "forbidden", "a merchant key reads and writes its own merchant only: merchant_id names another");
  auto call = std::make_shared<Call>(Call{ctx, request, who, std::move(parsed), {}});
  call->self = call;
  return handler(*call);
}
}  // namespace

Handler Guard(const ApiContext& ctx, std::initializer_list<Role> roles, Body body, CallHandler handler) {
  std::vector<Role> allowed(roles);
  return [&ctx, allowed, body, handler](Request& r) { return Wrapped(ctx, r, allowed, body, handler); };
}

Handler Public(const ApiContext& ctx, CallHandler handler) {
  return [&ctx, handler](Request& r) { return Wrapped(ctx, r, std::nullopt, Body::kNone, handler); };
}

// ---- Fields ----

namespace {
// Why a text field is refused, or null. NUL and the other control characters but the
// white space ones (tab, line feed, vertical tab, form feed, carriage return): the log's
// strings end at a NUL (FlatBuffers and C APIs would keep "evil" of "evil\u0000@x.com",
// past every check of the whole), and the others only hide what a merchant or an auditor
// reads.
const char* TextRefusal(const std::string& text) {
  for (unsigned char ch : text) {
    if (ch == 0) return "must not contain NUL characters";
    if ((ch < 0x20 && !(ch >= '\t' && ch <= '\r')) || ch == 0x7f) return "must not contain control characters";
  }
  return nullptr;
}
}  // namespace

void Fields::Fail(const std::string& pointer, const std::string& why) {
  if (!error_.empty()) return;
  pointer_ = prefix_ + pointer;
  error_ = why;
}

std::string Fields::Str(const char* name, bool required) {
  const std::string p = std::string("/") + name;
  if (!body_.contains(name) || body_[name].is_null()) {
    if (required) Fail(p, "required");
    return "";
  }
  if (!body_[name].is_string()) {
    Fail(p, "must be a string");
    return "";
  }
  const std::string& text = body_[name].get_ref<const std::string&>();
  if (const char* why = TextRefusal(text)) {
    Fail(p, why);
    return "";
  }
  return text;
}

const Json* Fields::Object(const char* name) {
  if (!body_.contains(name) || body_[name].is_null()) return nullptr;
  if (!body_[name].is_object()) {
    Fail(std::string("/") + name, "must be an object");
    return nullptr;
  }
  return &body_[name];
}

int64_t Fields::Int(const char* name, bool required) {
  const std::string p = std::string("/") + name;
  if (!body_.contains(name) || body_[name].is_null()) {
    if (required) Fail(p, "required");
    return 0;
  }
  const Json& v = body_[name];
  if (v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
    Fail(p, "too large");
    return 0;
  }
  if (!v.is_number_integer()) {
    Fail(p, "must be an integer (amounts are minor units)");
    return 0;
  }
  return v.get<int64_t>();
}

std::vector<std::string> Fields::Strs(const char* name, bool required) {
  std::vector<std::string> out;
  const std::string p = std::string("/") + name;
  if (!body_.contains(name)) {
    if (required) Fail(p, "required");
    return out;
  }
  if (!body_[name].is_array()) {
    Fail(p, "must be an array of strings");
    return out;
  }
  for (size_t i = 0; i < body_[name].size(); ++i) {
    if (!body_[name][i].is_string()) {
      Fail(p + "/" + std::to_string(i), "must be a string");
      return {};
    }
    if (const char* why = TextRefusal(body_[name][i].get_ref<const std::string&>())) {
      Fail(p + "/" + std::to_string(i), why);
      return {};
    }
    out.push_back(body_[name][i].get<std::string>());
  }
  return out;
}

const Json* Fields::Array(const char* name) {
  if (!body_.contains(name) || !body_[name].is_array()) {
    Fail(std::string("/") + name, "required: an array");
    return nullptr;
  }
  return &body_[name];
}

void Fields::Refuse(const char* name, const char* why) {
  if (body_.contains(name)) Fail(std::string("/") + name, why);
}

Response Fields::Error() const {
  return Problem(400, "invalid-field", pointer_ + ": " + error_, Json{{"pointer", pointer_}}.dump());
}

// ---- commands ----

namespace {
// Rule and field errors from the decider carry their pointer first ("/amount: ...").
Response CommandProblem(const ledger::Status& s) {
  if (s.code() == ledger::Code::kInvalidArgument && !s.message().empty() && s.message()[0] == '/') {
    const std::string pointer = s.message().substr(0, s.message().find(':'));
    return Problem(400, "invalid-field", s.message(), Json{{"pointer", pointer}}.dump());
  }
  return ProblemFromStatus(s);
}

// A write's answer and whether the read models reached it, filled on other threads.
struct WriteWait {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<ledger::Result<ledger::domain::CommandResult>> answer;  // GUARDED_BY(mu)
  std::chrono::steady_clock::time_point answered_at;                     // GUARDED_BY(mu)
  bool settled = false;  // answered, and visibility decided or not asked; GUARDED_BY(mu)
  bool visible = false;  // GUARDED_BY(mu)
  // A deferred answer (AnswerCommand) only: called (outside `mu`) when the answer comes,
  // with whether the read models were asked to tell its visibility, and when it settles.
  std::function<void(bool watched)> on_answered;
  std::function<void()> on_settled;
};

// The last position a command wrote (its first when it wrote nothing new).
ledger::Position LastPosition(const ledger::domain::CommandResult& r) {
  return ledger::Position(r.first_position.value() + (r.event_count > 0 ? r.event_count - 1 : 0));
}

// A batch's probe (Request::idempotency_probe) of a prepared request: 422 when its key is
// recorded with another digest (as the sequencer would answer), else 204. Reads the store
// only: a key still in flight is the sequencer's to judge when the item runs.
Response ProbeIdempotency(const Call& call, const ledger::domain::CommandRequest& r) {
  if (!r.idempotency_key.empty() && call.ctx.store != nullptr) {
    auto found = call.ctx.store->LookupIdempotency(r.merchant_id, r.idempotency_key);
    if (!found.ok()) return ProblemFromStatus(found.status());
    if (found->has_value() && (*found)->request_digest != r.request_digest)
      return ProblemFromStatus(
          ledger::Status::IdempotencyKeyReused("this idempotency key was already used with a different request"));
  }
  Response clear;
  clear.status = 204;
  return clear;
}

// The checks before a command is submitted, and its request: a problem when refused.
std::optional<Response> Prepare(Call& call, const std::string& merchant, ledger::domain::Command command,
                                Idempotency idempotency, const CommandOptions& options, WriterSlot::View* writer,
                                ledger::domain::CommandRequest* r) {
  *writer = call.ctx.writer == nullptr ? WriterSlot::View{} : call.ctx.writer->get();
  if (writer->sequencer == nullptr) {
    Response p = Problem(503, "not-writer", "this node does not take writes; send them to the shard's writer",
                         writer->writer_url.empty() ? "" : Json{{"writer", writer->writer_url}}.dump());
    if (!writer->writer_url.empty()) p.headers.emplace_back("Location", writer->writer_url);  // Retry-After: Problem's
    return p;
  }
  const std::string key =
      options.idempotency_key.empty() ? call.request.Header("idempotency-key") : options.idempotency_key;
  if (key.empty() && idempotency == Idempotency::kRequired)
    return Problem(400, "idempotency-key-required", "this request moves money or costs a fee: send an Idempotency-Key");
  if (key.size() > kIdempotencyKeyHeaderBytesMax)
    return Problem(400, "invalid-field",
                   "Idempotency-Key is over " + std::to_string(kIdempotencyKeyHeaderBytesMax) + " characters");
  r->merchant_id = merchant;
  r->idempotency_key = key;
  // The same key with another request (method, path or body) is a different request; for
  // a batch's item with a derived key, also with another batch around it. The path as the
  // router read it (Request::canonical_path), not as sent: a retry spelling it with other
  // escapes is the same request, replayed (DECISIONS 100). A path sent without escapes is
  // spelled the same either way, so digests recorded before stay valid.
  const std::string& digested = options.digest_body.empty() ? call.request.body : options.digest_body;
  std::string fingerprinted = call.request.method + " " + call.request.canonical_path + "\n" + digested;
  if (!call.request.batch_fingerprint.empty()) fingerprinted.append("\nbatch ").append(call.request.batch_fingerprint);
  r->request_digest = ledger::Sha256Of(fingerprinted);
  if (call.request.idempotency_probe) return ProbeIdempotency(call, *r);
  unsigned char id[16];
  if (RAND_bytes(id, sizeof id) != 1) return Problem(500, "internal", "the random source failed");
  std::memcpy(&r->command_id.hi, id, 8);
  std::memcpy(&r->command_id.lo, id + 8, 8);
  r->command = std::move(command);
  // Present, even empty ("If-Match:", or white space the front may trim to ""): an empty
  // condition taken for none ran a conditional write unconditionally. ParseEntityTag
  // refuses "" and white space.
  if (auto if_match = call.request.headers.find("if-match"); if_match != call.request.headers.end()) {
    if (options.stream.empty()) return RefuseIfMatch(call.request);
    const auto version = ParseEntityTag(if_match->second);
    if (!version) return Problem(400, "invalid-field", "If-Match must be a stream version as the resource's ETag gives it",
                                 R"({"pointer":"/headers/if-match"})");
    r->condition = ledger::domain::StreamCondition{options.stream, ledger::StreamVersion(*version)};
  }
  return std::nullopt;
}

// Submits: the answer's callback (on the store's answer thread) asks the read models'
// watch to tell once the write is visible, so whoever waits for both is told once.
void Submit(const Call& call, const WriterSlot::View& writer, ledger::domain::CommandRequest r,
            const std::shared_ptr<WriteWait>& wait) {
  std::shared_ptr<projections::PositionWatch> watch =
      call.ctx.projector != nullptr ? call.ctx.projector->position_watch() : nullptr;
  writer.sequencer->Submit(std::move(r), [wait, watch](ledger::Result<ledger::domain::CommandResult> answer) {
    const bool watched = answer.ok() && watch != nullptr;
    const ledger::Position last = answer.ok() ? LastPosition(*answer) : ledger::Position();
    {
      std::lock_guard<std::mutex> lock(wait->mu);
      wait->answer = std::move(answer);
      wait->answered_at = std::chrono::steady_clock::now();
      wait->settled = !watched;
    }
    if (wait->on_answered) wait->on_answered(watched);
    if (!watched) {
      wait->cv.notify_one();
      if (wait->on_settled) wait->on_settled();
      return;
    }
    watch->When(last, [wait](bool reached) {
      {
        std::lock_guard<std::mutex> lock(wait->mu);
        wait->visible = reached;
        wait->settled = true;
      }
      wait->cv.notify_one();
      if (wait->on_settled) wait->on_settled();
    });
  });
}

// The answer to a write: `answer` absent when it did not come in time.
Response Compose(const Call& call, const std::optional<ledger::Result<ledger::domain::CommandResult>>& answer,
                 bool visible, int status, const std::function<Json()>& resource, const CommandOptions& options) {
  if (!answer)
    return Problem(503, "kafka-unavailable",
                   "the write was not confirmed in time; it may still land: retry with the same Idempotency-Key");
  const ledger::Result<ledger::domain::CommandResult>& done = *answer;
  if (!done.ok()) return CommandProblem(done.status());
  const uint64_t last = LastPosition(*done).value();
  // A replay's body is the resource as the read models show it now, not the first answer's
  // body (which is not kept: the store keeps a key's positions, and the read models are not
  // versioned). So it says which state it shows: the read models' position, read before
  // the resource, which the body reflects at least (DECISIONS 103).
  std::optional<ledger::Position> read_at;
  Json body;
  if (done->replayed && options.on_replay) {
    body = options.on_replay();
  } else if (visible || !options.resource_needs_read_models) {
    if (done->replayed && call.ctx.projector != nullptr) read_at = call.ctx.projector->position();
    body = resource();
  } else {
    body = Json{{"note", "the read models have not reached this write yet; read it with min_position"}};
  }
  Response resp = JsonResponse(done->replayed ? 200 : status, body);
  resp.headers.emplace_back("X-Ledger-Position", ledger::PositionToken(ledger::ShardId(call.ctx.shard), ledger::Position(last)));
  if (done->replayed) resp.headers.emplace_back("Idempotent-Replayed", "true");
  if (read_at)
    resp.headers.emplace_back("X-Ledger-Read-Position", ledger::PositionToken(ledger::ShardId(call.ctx.shard), *read_at));
  return resp;
}

// A write answering later: what it answers with, and the deadline bounding it.
struct DeferredWrite {
  std::shared_ptr<WriteWait> wait;
  std::shared_ptr<Call> call;  // kept: the route's resource() refers to it (and it to the request)
  int status = 200;
  std::function<Json()> resource;
  CommandOptions options;
  std::function<void(Response)> answer_later;
  std::shared_ptr<DeadlineTimer> timer;
  std::mutex mu;
  DeadlineTimer::Ticket deadline;  // GUARDED_BY(mu)
  bool finished = false;           // answered (by the outcome or a deadline); GUARDED_BY(mu)
};

// Answers once, with what is known now: whichever of the outcome and the deadline comes
// first answers, the other finds it done.
void Finish(const std::shared_ptr<DeferredWrite>& d) {
  DeadlineTimer::Ticket deadline;
  {
    std::lock_guard<std::mutex> lock(d->mu);
    if (d->finished) return;
    d->finished = true;
    deadline = d->deadline;
  }
  d->timer->Cancel(deadline);
  std::optional<ledger::Result<ledger::domain::CommandResult>> answer;
  bool visible = false;
  {
    std::lock_guard<std::mutex> lock(d->wait->mu);
    answer = d->wait->answer;
    visible = d->wait->visible;
  }
  // On the store's, the read models' or the timer's thread, where nothing may throw (the
  // front's Dispatch catches what a route throws; this is the same guard for the rest).
  Response r;
  try {
    r = Compose(*d->call, answer, visible, d->status, d->resource, d->options);
  } catch (const std::exception&) {
    spdlog::error("a write's answer threw after its command ran");  // nothing of the request
    r = Problem(500, "internal", "the write ran but its answer could not be made; read the resource");
  }
  d->answer_later(std::move(r));
  d->answer_later = nullptr;  // lets go of the request now
}

// Moves the deadline (unless the write is answered already). Not under `mu`: a stopped
// timer runs the job (Finish) at once.
void SetDeadline(const std::shared_ptr<DeferredWrite>& d, std::chrono::steady_clock::time_point when) {
  DeadlineTimer::Ticket old;
  {
    std::lock_guard<std::mutex> lock(d->mu);
    if (d->finished) return;
    old = d->deadline;
  }
  d->timer->Cancel(old);
  const DeadlineTimer::Ticket ticket = d->timer->At(when, [d] { Finish(d); });
  std::lock_guard<std::mutex> lock(d->mu);
  d->deadline = ticket;
}
}  // namespace

Response RunCommand(Call& call, const std::string& merchant, ledger::domain::Command command,
                    Idempotency idempotency, int status, const std::function<Json()>& resource,
                    const CommandOptions& options) {
  WriterSlot::View writer;
  ledger::domain::CommandRequest r;
  if (auto refused = Prepare(call, merchant, std::move(command), idempotency, options, &writer, &r)) return *refused;
  auto wait = std::make_shared<WriteWait>();
  Submit(call, writer, std::move(r), wait);
  // Bounded: the answer may wait for Kafka (replicated) or for the lease, and visibility
  // for the read models.
  std::unique_lock<std::mutex> lock(wait->mu);
  wait->cv.wait_for(lock, std::chrono::milliseconds(kWriteWaitMs), [&] { return wait->answer.has_value(); });
  if (wait->answer)
    wait->cv.wait_until(lock, wait->answered_at + std::chrono::milliseconds(kReadYourWritesWaitMs),
                        [&] { return wait->settled; });
  const std::optional<ledger::Result<ledger::domain::CommandResult>> answer = std::move(wait->answer);
  const bool visible = wait->visible;
  lock.unlock();
  return Compose(call, answer, visible, status, resource, options);
}

Response AnswerCommand(Call& call, const std::string& merchant, ledger::domain::Command command,
                       Idempotency idempotency, int status, std::function<Json()> resource,
                       const CommandOptions& options) {
  std::shared_ptr<Call> keep = call.self.lock();
  if (!call.request.answer_later || !call.request.timer || keep == nullptr)
    return RunCommand(call, merchant, std::move(command), idempotency, status, resource, options);
  WriterSlot::View writer;
  ledger::domain::CommandRequest r;
  if (auto refused = Prepare(call, merchant, std::move(command), idempotency, options, &writer, &r)) return *refused;
  auto d = std::make_shared<DeferredWrite>();
  d->wait = std::make_shared<WriteWait>();
  d->call = std::move(keep);
  d->status = status;
  d->resource = std::move(resource);
  d->options = options;
  d->answer_later = call.request.answer_later;
  d->timer = call.request.timer;
  // The same bounds as RunCommand's: kWriteWaitMs for the answer, then
  // kReadYourWritesWaitMs from it for the read models. The pending deadline's job is what
  // holds the DeferredWrite; the wait's hooks (held by the store's and the watch's
  // callbacks) only reach it while it is unanswered.
  std::weak_ptr<DeferredWrite> weak = d;
  d->wait->on_answered = [weak](bool watched) {
    if (auto d = weak.lock(); d && watched)
      SetDeadline(d, std::chrono::steady_clock::now() + std::chrono::milliseconds(kReadYourWritesWaitMs));
  };
  d->wait->on_settled = [weak] {
    if (auto d = weak.lock()) Finish(d);
  };
  SetDeadline(d, std::chrono::steady_clock::now() + std::chrono::milliseconds(kWriteWaitMs));
  Submit(call, writer, std::move(r), d->wait);
  Response deferred;
  deferred.deferred = true;
  return deferred;
}

std::string StreamName(const std::string& kind, const std::string& merchant, const std::string& id) {
  std::string out = kind;
  out.append("/").append(merchant).append("/").append(id);
  return out;
}

CommandOptions Conditional(const std::string& stream) {
  CommandOptions o;
  o.stream = stream;
  return o;
}

std::optional<Response> RefuseIfMatch(const Request& request) {
  if (request.headers.count("if-match") == 0) return std::nullopt;
  return Problem(400, "invalid-field", "this route takes no If-Match", R"({"pointer":"/headers/if-match"})");
}

std::optional<uint64_t> ParseEntityTag(const std::string& value) {
  std::string_view v = value;
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  if (v.empty() || v.size() > 19) return std::nullopt;
  uint64_t n = 0;
  for (char ch : v) {
    if (ch < '0' || ch > '9') return std::nullopt;
    n = n * 10 + static_cast<uint64_t>(ch - '0');
  }
  return n;
}

Response WithEntityTag(const Call& call, const std::string& stream, const std::function<Response()>& read) {
  std::optional<uint64_t> version;
  if (call.ctx.store != nullptr && call.ctx.projector != nullptr) {
    auto head = call.ctx.store->StreamHead(stream);
    const ledger::Position through = call.ctx.store->head().position;
    // Briefly: on a writer the read models follow the canonical mark, which may lag the
    // head for as long as Kafka does; then the answer goes without a tag rather than late.
    if (head.ok() && head->value() > 0 && call.ctx.projector->WaitFor(through, kEntityTagWaitMs)) version = head->value();
  }
  Response r = read();
  if (version && r.status == 200) {
    std::string tag = "\"";
    tag.append(std::to_string(*version)).append("\"");
    r.headers.emplace_back("ETag", std::move(tag));
  }
  return r;
}

std::optional<Response> WaitForMinPosition(const Call& call) {
  const std::string token = call.request.Query("min_position");
  if (token.empty()) return std::nullopt;
  auto p = ledger::ParsePositionToken(token);
  if (!p.ok()) return Problem(400, "invalid-field", p.status().message(), Json{{"pointer", "/min_position"}}.dump());
  if (p->shard.value() != call.ctx.shard) return Problem(400, "invalid-field", "min_position names another shard");
  if (call.ctx.projector == nullptr || !call.ctx.projector->WaitFor(p->position, kReadYourWritesWaitMs))
    return Problem(503, "projection-lagging", "the read models have not reached " + token + " yet");
  return std::nullopt;
}

std::optional<Response> ParseLimit(const Call& call, size_t max, size_t* limit) {
  const std::string v = call.request.Query("limit");
  if (v.empty()) return std::nullopt;
  size_t n = 0;
  bool ok = v.size() <= 9;
  for (char ch : v) {
    ok = ok && ch >= '0' && ch <= '9';
    if (ok) n = n * 10 + static_cast<size_t>(ch - '0');
  }
  if (!ok || n == 0 || n > max)
    return Problem(400, "invalid-field", "limit is a number from 1 to " + std::to_string(max), R"({"pointer":"/limit"})");
  *limit = n;
  return std::nullopt;
}

const projections::ProjectionStore* ReadModel(const ApiContext& ctx, const char* name) {
  return ctx.projector ? ctx.projector->read_model(name) : nullptr;
}

Json DisputeView(const ApiContext& ctx, const std::string& merchant, const std::string& dispute) {
  const projections::ProjectionStore* customers = ReadModel(ctx, "customers");
  if (customers == nullptr) return Json{{"dispute_id", dispute}};
  auto d = projections::QueryDispute(*customers, merchant, dispute);
  return d.ok() ? std::move(d).value() : Json{{"dispute_id", dispute}};
}

}  // namespace api
