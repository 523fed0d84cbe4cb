// Requests and responses as plain values, so that routes are functions that tests call
// without a socket; the cpprestsdk adapter (http_server.cc) converts at the edge.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

namespace api {

class DeadlineTimer;
struct Response;

// Named limits of the HTTP front (each tested).
inline constexpr size_t kBodyBytesMax = 256 * 1024;
inline constexpr size_t kPathBytesMax = 2048;
// The query string after the '?', still percent-encoded (as sent, so the limit does not
// depend on how it is spelled): no route's parameters come near it.
inline constexpr size_t kQueryBytesMax = 2048;
inline constexpr size_t kHeaderBytesMax = 8192;
// A client's Idempotency-Key (the store takes up to 255, leaving room for the keys the API
// derives from a client's: "<batch key>:<i>", "<provider>:<event id>:<n>").
inline constexpr size_t kIdempotencyKeyHeaderBytesMax = 128;
// A batch's key, so that its items' derived keys stay within the header limit.
inline constexpr size_t kBatchIdempotencyKeyBytesMax = 100;
inline constexpr int kReadYourWritesWaitMs = 2000;  // bound on waiting for a read model
inline constexpr int kEntityTagWaitMs = 50;         // bound on waiting to give a read its ETag
inline constexpr int kWriteWaitMs = 10000;          // bound on waiting for a write's answer
inline constexpr int kRequestTimeoutS = 30;  // a request not received whole, or a silent connection, is cut off then

struct Request {
  std::string method;                         // "GET", "POST", ...
  // The request target as sent, percent-escapes and all: the router decodes it (DECISIONS
  // 95), so an id is read the same way whoever built the request (the front, a batch's
  // item, a test).
  std::string path;                           // "/v1/payments/p1/captures", no query
  std::string query_string;                   // after the '?' ("limit=5&cursor=..."), "" when none
  std::map<std::string, std::string> headers; // names lower-case
  std::string body;
  // Filled by the router (set before dispatch, they are replaced), decoded.
  std::map<std::string, std::string> query;   // from query_string ("limit" -> "5")
  std::map<std::string, std::string> params;  // from the path ("payment_id" -> "p1")
  // `path` as the router read it: each segment decoded, then only '%' and '/' escaped again
  // (%25, %2F), so every spelling of one path is one string (`/v1/payments/p%31/captures`
  // is `/v1/payments/p1/captures`) and a path sent without escapes is itself. What an
  // idempotent write's digest covers, so that a retry spelled otherwise is replayed.
  std::string canonical_path;
  // Set by POST /v1/batch on its items (never from the wire): the batch itself was counted
  // against the key's rate, so its items are not (else a batch could stop half-way at 429).
  bool inside_batch = false;
  // Set by POST /v1/batch on an item whose key it derived from the batch's (never from the
  // wire): the batch's fingerprint, part of the item's request digest, so the batch key
  // re-sent with other items is another request for every item, also those never run.
  std::string batch_fingerprint;
  // Set by POST /v1/batch (never from the wire): the route goes only as far as the
  // idempotency check and answers 422 idempotency-key-reused when its key is recorded
  // with another request, else 204 having submitted nothing (or the problem that refused
  // the request before that check).
  bool idempotency_probe = false;
  // Set by the HTTP front only (never from the wire, never on a batch's items): a route
  // may then return a deferred Response and give its answer later, once, through
  // `answer_later`, from whichever thread learns it, bounded by deadlines on `timer`
  // (a write waiting for Kafka and the read models holds no thread). Routes called
  // without them (tests, a batch's items) answer in their return value.
  std::function<void(Response)> answer_later;
  std::shared_ptr<DeadlineTimer> timer;

  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? std::string() : it->second;
  }
  std::string Query(const std::string& name) const {
    auto it = query.find(name);
    return it == query.end() ? std::string() : it->second;
  }
};

struct Response {
  int status = 200;
  std::string content_type = "application/json";
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  // The route answers later through Request::answer_later; nothing else here is used.
  bool deferred = false;
};

}  // namespace api
