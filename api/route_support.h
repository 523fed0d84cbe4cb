// What every route does the same way: limits, authentication, roles, JSON bodies with
// field errors naming a JSON pointer, running a command through the sequencer with its
// idempotency key, waiting (bounded) for the read models, positions as shard:position.
#pragma once

#include <functional>
#include <initializer_list>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "api/api_context.h"
#include "api/auth.h"
#include "api/http_types.h"
#include "api/router.h"
#include "ledger/domain/commands.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace projections {
class ProjectionStore;
}

namespace api {

using Json = nlohmann::json;

// One authenticated call.
struct Call {
  const ApiContext& ctx;
  Request& request;
  Principal who;
  Json body;  // null for requests without a body
  // The shared Call itself (Guard makes each one shared): a write answering after its
  // route returned (AnswerCommand) keeps it, since its resource() refers to it.
  std::weak_ptr<Call> self;

  // The merchant a merchant-scoped call is about: the key's own merchant, or for analysts
  // and admins the `merchant_id` query parameter (or body field). "" when none was named.
  // (A merchant key naming another merchant never gets here: Guard answers 403.)
  std::string Merchant() const;
};

using CallHandler = std::function<Response(Call&)>;

enum class Body { kNone, kJson };

// Wraps a route: the body limit (413), Authorization (401), the roles allowed (403),
// the JSON body (400 malformed-json), a merchant key naming another merchant's
// `merchant_id` in the query or body (403).
Handler Guard(const ApiContext& ctx, std::initializer_list<Role> roles, Body body, CallHandler handler);
// Same, without a key (the public routes).
Handler Public(const ApiContext& ctx, CallHandler handler);

// Reads the fields of a JSON object, keeping the first error with its JSON pointer.
class Fields {
 public:
  // `prefix` is the pointer of `body` inside the request body ("/lines/2"), "" at the top.
  explicit Fields(const Json& body, std::string prefix = "") : body_(body), prefix_(std::move(prefix)) {}
  // Text without NUL or control characters (white space ones allowed: \t \n \v \f \r).
  std::string Str(const char* name, bool required = true);
  // The object at `name`; null when absent (or JSON null), and a failure when of another type.
  const Json* Object(const char* name);
  int64_t Int(const char* name, bool required = true);  // a JSON integer (no floats, no strings)
  std::vector<std::string> Strs(const char* name, bool required = true);
  const Json* Array(const char* name);                   // required array
  // Refuses a field this version does not take, naming why.
  void Refuse(const char* name, const char* why);
  bool ok() const { return error_.empty(); }
  Response Error() const;  // 400 invalid-field with the pointer

 private:
  void Fail(const std::string& pointer, const std::string& why);
  const Json& body_;
  std::string prefix_;
  std::string pointer_, error_;
};

// Whether the route needs an Idempotency-Key (it moves money or costs a fee).
enum class Idempotency { kOptional, kRequired };

struct CommandOptions {
  bool resource_needs_read_models = true;  // false: answer resource() even if they lag
  std::function<Json()> on_replay;         // the answer to an idempotent replay (default: resource())
  std::string digest_body;                 // replaces the body in the request digest (secrets)
  std::string idempotency_key;             // replaces the Idempotency-Key header (webhooks in)
  std::string stream;                      // the resource's stream: If-Match is taken (else 400)
};

// "<kind>/<merchant>/<id>": the stream of a merchant's resource.
std::string StreamName(const std::string& kind, const std::string& merchant, const std::string& id);
// Options of a write on an existing resource: If-Match names that stream's version.
CommandOptions Conditional(const std::string& stream);

// For a route that names no single stream: 400 invalid-field when the request carries an
// If-Match header, even an empty one (a condition must never be dropped silently); else
// nullopt.
std::optional<Response> RefuseIfMatch(const Request& request);
// The stream version an If-Match or ETag value names: "\"3\"" (as ETag gives it) or 3.
std::optional<uint64_t> ParseEntityTag(const std::string& value);
// Answers `read()` with ETag: the stream's version, read before the body (so a stale tag
// only ever conflicts) and given once the read models have reached the store's head at
// that moment; no ETag when the stream does not exist, the read models lag or read() fails.
Response WithEntityTag(const Call& call, const std::string& stream, const std::function<Response()>& read);

// Runs `command` for `merchant` ("" for platform commands), waiting at most kWriteWaitMs
// for its answer (then 503: the write may still land; the Idempotency-Key makes the retry
// safe). On success waits, at most kReadYourWritesWaitMs more, for the read models to
// reach the command's last position and answers `status` with `resource()` and
// X-Ledger-Position (without the resource when they do not); errors as problems.
Response RunCommand(Call& call, const std::string& merchant, ledger::domain::Command command,
                    Idempotency idempotency, int status, const std::function<Json()>& resource,
                    const CommandOptions& options = {});
// The same, for a route whose answer is the command's (its last statement): when the HTTP
// front can take an answer later (Request::answer_later), returns a deferred Response at
// once and answers from the thread that learns the outcome (the store's answer thread,
// the read models', or the deadline's), with the same bounds and the same answers as
// RunCommand; no thread waits. Otherwise it is RunCommand.
Response AnswerCommand(Call& call, const std::string& merchant, ledger::domain::Command command,
                       Idempotency idempotency, int status, std::function<Json()> resource,
                       const CommandOptions& options = {});

// For reads: honours `min_position` (a shard:position token), waiting up to
// kReadYourWritesWaitMs; a problem response when it is malformed or not reached.
std::optional<Response> WaitForMinPosition(const Call& call);

// The `limit` query parameter: *limit keeps its default when absent; a problem unless it
// is a decimal number from 1 to `max`.
std::optional<Response> ParseLimit(const Call& call, size_t max, size_t* limit);

// A read model of the node, or nullptr.
const projections::ProjectionStore* ReadModel(const ApiContext& ctx, const char* name);

// A dispute as GET /v1/disputes lists it (projections::QueryDispute), what the dispute
// writes answer (DESIGN §9: the resource as it stands after the command); {dispute_id}
// alone when the read models do not show it.
Json DisputeView(const ApiContext& ctx, const std::string& merchant, const std::string& dispute);

Response JsonResponse(int status, const Json& body);

}  // namespace api
