#define _TURN_OFF_PLATFORM_STRING  // cpprestsdk's U() macro breaks fmt and gtest headers
#include "api/http_server.h"

#include <cpprest/http_listener.h>
#include <cpprest/json.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <system_error>

#include "api/deadline_timer.h"
#include "api/stalled_connections.h"
#include "api/metrics.h"
#include "api/problem.h"
#include "ledger/position_token.h"
#include "projections/projections.h"
#include "ledger/ids.h"
#include "ledger/worker_pool.h"

namespace api {
namespace http = web::http;

// A count to wait on.
struct InFlight {
  std::mutex mu;
  std::condition_variable cv;
  int count = 0;  // GUARDED_BY(mu)
  void Add(int n) {
    std::lock_guard<std::mutex> lock(mu);
    count += n;
    if (count == 0) cv.notify_all();
  }
  // True when none is left within timeout_ms.
  bool WaitNone(int timeout_ms) {
    std::unique_lock<std::mutex> lock(mu);
    return cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] { return count == 0; });
  }
};

struct HttpServer::Impl {
  std::string url;
  uint32_t shard = 0;
  const ledger::EventStore* store = nullptr;
  const projections::Projector* projector = nullptr;  // may be null
  const Router* router = nullptr;                      // may be null
  std::string node_id;
  std::unique_ptr<http::experimental::listener::http_listener> listener;
  // Shared with the answers of writes that answer after their route returned (from the
  // store's, the read models' or the timer's thread), which may outlive the server.
  std::shared_ptr<Metrics> metrics = std::make_shared<Metrics>();
  std::function<std::string()> extra_metrics;
  std::unique_ptr<ledger::WorkerPool> workers;
  std::shared_ptr<DeadlineTimer> timer;  // bounds those answers
  // Routes' answers handed to cpprestsdk and not yet written: Stop lets them go out
  // before it closes the listener (which drops what is still unwritten).
  std::shared_ptr<InFlight> replies = std::make_shared<InFlight>();
  int port = 0;
  int request_timeout_ms = kRequestTimeoutS * 1000;
  std::unique_ptr<StalledConnectionCutter> stalls;  // what cpprestsdk's own timeout does not do
};

namespace {

// Routes run on a pool of their own (ledger::WorkerPool): they may wait, bounded, for the
// sequencer, Kafka or the read models, and cpprestsdk's own pool also does the sockets'
// I/O, so blocking it stalls every connection (measured: 32 connections of wrk and no
// request answered).
constexpr size_t kHttpWorkers = 64;      // routes running at once
constexpr size_t kHttpQueuedMax = 4096;  // requests waiting for a worker; beyond: 503
constexpr int kStopAnswersWaitMs = 2000;  // Stop waits this long for answers to be written

void ReplyProblem(const http::http_request& req, http::status_code status, const std::string& code,
                  const std::string& title) {
  web::json::value body;
  body["type"] = web::json::value::string("urn:ledger:problem:" + code);
  body["title"] = web::json::value::string(title);
  body["status"] = web::json::value::number(status);
  http::http_response resp(status);
  resp.set_body(body.serialize(), "application/problem+json");
  req.reply(resp).then([](pplx::task<void> t) {
    try { t.get(); } catch (...) {}  // the client went away: nothing to do
  });
}

void ReplyJson(const http::http_request& req, http::status_code status, const web::json::value& v) {
  http::http_response resp(status);
  resp.set_body(v.serialize(), "application/json");
  req.reply(resp).then([](pplx::task<void> t) {
    try { t.get(); } catch (...) {}
  });
}

// Also runs on threads that must not throw (a write answered later: the store's, the read
// models' or the timer's), so nothing leaves it. `replies` (may be null) counts the
// answer until it is written.
void Send(const http::http_request& req, const Response& r, const std::shared_ptr<InFlight>& replies = nullptr) {
  if (replies) replies->Add(1);
  try {
    http::http_response resp(static_cast<http::status_code>(r.status));
    resp.headers().set_content_type(r.content_type);
    for (const auto& [k, v] : r.headers) resp.headers().add(k, v);
    resp.set_body(r.body, r.content_type);
    req.reply(resp).then([replies](pplx::task<void> t) {
      try {
        t.get();
      } catch (const std::exception&) {  // the client went away: nothing to answer
      }
      if (replies) replies->Add(-1);
    });
  } catch (const std::exception& e) {  // the listener closed under it
    spdlog::warn("an answer could not be sent: {}", e.what());
    if (replies) replies->Add(-1);
  }
}

// ---- framing ----
// cpprestsdk's listener frames a request's body by its own reading of the headers: chunked
// when Transfer-Encoding holds "chunked" anywhere ("chunked, gzip" too), else as many
// bytes as the last Content-Length line says (it keeps only the last of several lines, so
// two lines cannot be told apart here; "5, 7" on one line it reads as no body), else none.
// A proxy in front that frames the same bytes another way sees a request where the node
// sees a body, or the reverse: request smuggling (RFC 9112 §6.1, §6.3, §11.2). Framing
// that can be read two ways is refused, on every path, before anything else is done.

// Exactly one run of decimal digits that fits 64 bits (from_chars takes no sign, space or
// list): what cpprestsdk reads as the body's length. One that does not fit it reads as 0.
bool IsOneLength(const std::string& value) {
  uint64_t length = 0;
  const char* end = value.data() + value.size();
  const auto [at, ec] = std::from_chars(value.data(), end, length);
  return !value.empty() && ec == std::errc() && at == end;
}

// "chunked" in any case, white space around it allowed: the one transfer coding the node
// reads. A list ("chunked, gzip", or "chunked, chunked" from two lines) is not.
bool IsChunkedOnly(const std::string& value) {
  const size_t first = value.find_first_not_of(" \t");
  if (first == std::string::npos) return false;
  const size_t last = value.find_last_not_of(" \t");
  return ledger::AsciiLower(std::string_view(value).substr(first, last - first + 1)) == "chunked";
}

// Why the request's body could be framed two ways, or nullptr. The text names the rule,
// never the header's value.
const char* AmbiguousFraming(const http::http_headers& headers) {
  const auto length = headers.find(http::header_names::content_length);
  const auto coding = headers.find(http::header_names::transfer_encoding);
  if (length != headers.end() && coding != headers.end())
    return "a request may not have both Content-Length and Transfer-Encoding";
  if (length != headers.end() && !IsOneLength(length->second)) return "Content-Length must be one decimal number";
  if (coding != headers.end() && !IsChunkedOnly(coding->second))
    return "Transfer-Encoding must be chunked, the only transfer coding the node reads";
  return nullptr;
}

// The answer to a request refused for its framing. What follows it on the connection was
// framed by a guess and must not be read as the next request, so the connection is closed:
// cpprestsdk's listener (2.10, http_server_asio.cpp) marks a connection to be closed when
// the answer it writes carries `Connection: close` (serialize_headers), and once that
// answer is written (only after the request's body was read as it frames it) it shuts the
// socket down and closes it (handle_response_written, finish_request_response) instead of
// reading another request. Checked over a socket by
// HttpApi.AmbiguousFramingIsRefusedAndTheConnectionClosed.
Response RefuseFraming(const char* why) {
  Response refused = Problem(400, "invalid-field", why);
  refused.headers.emplace_back("Connection", "close");
  return refused;
}

// Converts at the edge, before the body is read: limits first (nothing is read past them).
// A problem when the request is refused, else nullopt and `r` holds all but the body.
std::optional<Response> Convert(const http::http_request& req, Request* r) {
  r->method = req.method();
  r->path = req.relative_uri().path();  // encoded, as the query below
  if (r->path.size() > kPathBytesMax) return Problem(400, "invalid-field", "the path is too long");
  // Still encoded: the router decodes it (cpprestsdk's split_query kept the last of a
  // repeated name and split at ';' too). Its limit is on it as sent, as the path's is.
  r->query_string = req.relative_uri().query();
  if (r->query_string.size() > kQueryBytesMax) return Problem(400, "invalid-field", "the query string is too long");
  size_t header_bytes = 0;
  for (const auto& [k, v] : req.headers()) {
    header_bytes += k.size() + v.size();
    r->headers[ledger::AsciiLower(k)] = v;
  }
  if (header_bytes > kHeaderBytesMax) return Problem(400, "invalid-field", "the headers are too large");
  if (req.headers().content_length() > kBodyBytesMax)
    return Problem(413, "body-too-large", "the body is over " + std::to_string(kBodyBytesMax) + " bytes");
  return std::nullopt;
}

Response Dispatch(const Router& router, Request& r, Router::Lookup lookup, std::string* route) {
  try {
    return router.Dispatch(r, std::move(lookup), route);
  } catch (const std::exception&) {  // a library threw on input a route did not expect
    spdlog::error("a route threw on {} {}", r.method, *route);  // the pattern, never the path or body
    return Problem(500, "internal", "the node could not handle this request");
  }
}

}  // namespace

HttpServer::HttpServer(std::string host, int port, uint32_t shard, const ledger::EventStore* store,
                       const projections::Projector* projector, const Router* router, std::string node_id)
    : impl_(new Impl()) {
  impl_->url = "http://" + host + ":" + std::to_string(port);
  impl_->shard = shard;
  impl_->store = store;
  impl_->projector = projector;
  impl_->router = router;
  impl_->node_id = std::move(node_id);
  impl_->port = port;
}

HttpServer::~HttpServer() { Stop(); }

void HttpServer::SetExtraMetrics(std::function<std::string()> render) { impl_->extra_metrics = std::move(render); }

void HttpServer::SetRequestTimeoutMs(int timeout_ms) { impl_->request_timeout_ms = timeout_ms; }

ledger::Status HttpServer::Start() {
  impl_->workers = std::make_unique<ledger::WorkerPool>(kHttpWorkers, kHttpQueuedMax, "http-route");
  impl_->timer = std::make_shared<DeadlineTimer>();
  try {
    http::experimental::listener::http_listener_config config;
    // Set, though cpprestsdk's listener does not enforce it: StalledConnectionCutter does.
    config.set_timeout(std::chrono::seconds(std::max(1, impl_->request_timeout_ms / 1000)));
    impl_->listener = std::make_unique<http::experimental::listener::http_listener>(impl_->url, config);
    Impl* impl = impl_.get();
    const auto handle = [impl](http::http_request req) {
      if (const char* why = AmbiguousFraming(req.headers())) {  // first: on every path
        const Response refused = RefuseFraming(why);
        impl->metrics->ObserveRequest("unmatched", refused.status, 0.0);
        Send(req, refused, impl->replies);
        return;
      }
      const std::string path = req.relative_uri().path();
      if (path == "/metrics" && req.method() == http::methods::GET) {
        Response m;
        m.content_type = "text/plain; version=0.0.4";
        m.body = impl->metrics->Render(impl->store, impl->projector);
        if (impl->extra_metrics) m.body += impl->extra_metrics();
        if (const StalledConnectionCutter* stalls = impl->stalls.get()) {
          m.body += "# HELP ledger_http_connections_cut_total Connections the node ended: a request not received "
                    "whole in time (request-timeout, answered 408), nothing sent either way for as long (idle), or more bytes than a request may have (too-large, answered 413).\n"
                    "# TYPE ledger_http_connections_cut_total counter\n"
                    "ledger_http_connections_cut_total{reason=\"request-timeout\"} " +
                    std::to_string(stalls->cut_requests()) + "\nledger_http_connections_cut_total{reason=\"idle\"} " +
                    std::to_string(stalls->cut_idle()) + "\nledger_http_connections_cut_total{reason=\"too-large\"} " +
                    std::to_string(stalls->cut_too_large()) + "\n";
        }
        Send(req, m);
        return;
      }
      if (path == "/health/writer" && req.method() == http::methods::GET) {
        // 200 while this node writes its shard and holds its lease (DESIGN §8); 503 when it
        // is not (or no longer) the writer, or is cut off from Kafka.
        web::json::value v;
        const ledger::Status fenced = impl->store->fenced();
        // A store that failed a write refuses every append until it is reopened: a writer
        // that cannot write, for the standby to replace (not a queue that is full for now).
        const bool store_failed = impl->store->ReadyToAppend().code() == ledger::Code::kIOError;
        const bool writer = impl->store->writer_epoch().value() > 0 && fenced.ok() && !store_failed &&
                            impl->store->canonical_mark().owner == impl->node_id && impl->store->lease_valid();
        v["writer"] = web::json::value::boolean(writer);
        v["epoch"] = web::json::value::number(impl->store->writer_epoch().value());
        v["canonical_owner"] = web::json::value::string(impl->store->canonical_mark().owner);
        if (!writer) {
          ReplyProblem(req, http::status_codes::ServiceUnavailable, "not-writer",
                       !fenced.ok()    ? "this node was deposed by a higher epoch"
                       : store_failed ? "this writer's event store failed a write and takes no more appends"
                       : impl->store->writer_epoch().value() > 0 && impl->store->canonical_mark().owner == impl->node_id
                           ? "this writer's lease has lapsed: it cannot reach Kafka"
                           : "this node is not the shard's writer");
          return;
        }
        ReplyJson(req, http::status_codes::OK, v);
        return;
      }
      const bool known = path == "/health/live" || path == "/health/ready";
      if (!known) {
        if (impl->router == nullptr) {
          ReplyProblem(req, http::status_codes::NotFound, "not-found", "no such route");
          return;
        }
        const auto started = std::chrono::steady_clock::now();
        auto r = std::make_shared<Request>();
        auto refused = Convert(req, r.get());
        const auto finish = [metrics = impl->metrics, replies = impl->replies, req, started](const std::string& route,
                                                                                          const Response& resp) {
          metrics->ObserveRequest(route, resp.status,
                                  std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
          Send(req, resp, replies);
        };
        if (refused) {
          finish("unmatched", *refused);
          return;
        }
        // The body arrives on cpprestsdk's threads; a route that may wait (bounded) for the
        // sequencer, Kafka or the read models runs on a worker.
        req.extract_vector().then([impl, r, finish](pplx::task<std::vector<unsigned char>> body) {
          try {
            const std::vector<unsigned char> bytes = body.get();
            if (bytes.size() > kBodyBytesMax) {
              finish("unmatched", Problem(413, "body-too-large", "the body is over " + std::to_string(kBodyBytesMax) + " bytes"));
              return;
            }
            r->body.assign(bytes.begin(), bytes.end());
          } catch (const std::exception&) {
            finish("unmatched", Problem(400, "malformed-json", "the request could not be read"));
            return;
          }
          // The route is looked up once: how it runs, then what runs.
          auto lookup = std::make_shared<Router::Lookup>(impl->router->Find(*r));
          const auto run = [impl, r, finish, lookup] {
            // A write may answer after its route returns (Request::answer_later), holding
            // no thread while it waits for Kafka and the read models.
            auto route = std::make_shared<std::string>("unmatched");
            r->timer = impl->timer;
            r->answer_later = [r, route, finish](Response resp) { finish(*route, resp); };
            Response resp = Dispatch(*impl->router, *r, std::move(*lookup), route.get());
            r->answer_later = nullptr;  // (a deferred answer holds its own copy, and with it `r`)
            if (!resp.deferred) finish(*route, resp);
          };
          // A route that never waits runs here, saving a hand-off to a worker (Router's Runs).
          if (Router::HowRuns(*lookup) == Runs::kInline) {
            run();
            return;
          }
          if (!impl->workers->Post(run)) {
            finish("unmatched", Problem(503, "overloaded", "the node has too many requests waiting; retry shortly"));
          }
        });
        return;
      }
      if (req.method() != http::methods::GET) {
        ReplyProblem(req, http::status_codes::MethodNotAllowed, "method-not-allowed",
                     "method not allowed on this route");
        return;
      }
      if (path == "/health/live") {
        web::json::value v;
        v["status"] = web::json::value::string("live");
        ReplyJson(req, http::status_codes::OK, v);
      } else if (path == "/health/ready") {
        web::json::value v;
        v["status"] = web::json::value::string("ready");
        // Positions are shard:position tokens everywhere a client sees one (DESIGN §7).
        const ledger::ShardId shard(impl->shard);
        const uint64_t head = impl->store->head().position.value();
        const uint64_t canonical = impl->store->canonical_mark().position.value();
        v["head_position"] = web::json::value::string(ledger::PositionToken(shard, ledger::Position(head)));
        v["canonical_position"] = web::json::value::string(ledger::PositionToken(shard, ledger::Position(canonical)));
        // Publishing lag: events stored here and not yet known canonical (DESIGN §6).
        v["publishing_lag_events"] = web::json::value::number(head - std::min(head, canonical));
        if (impl->projector != nullptr) {
          const uint64_t projected = impl->projector->position().value();
          v["projection_position"] = web::json::value::string(ledger::PositionToken(shard, ledger::Position(projected)));
          v["projection_lag_events"] = web::json::value::number(canonical - std::min(canonical, projected));
        }
        ReplyJson(req, http::status_codes::OK, v);
      } else {
        ReplyProblem(req, http::status_codes::NotFound, "not-found", "no such route");
      }
    };
    impl_->listener->support(handle);
    // cpprestsdk answers TRACE and OPTIONS itself unless a handler of their own is set:
    // TRACE by echoing the request, Authorization header and key included. They go
    // through the routes like any method, which refuse them (405).
    impl_->listener->support(http::methods::TRCE, handle);
    impl_->listener->support(http::methods::OPTIONS, handle);
    impl_->listener->open().wait();
    if (impl_->port > 0) impl_->stalls = std::make_unique<StalledConnectionCutter>(impl_->port, impl_->request_timeout_ms);
  } catch (const std::exception& e) {
    return ledger::Status::IOError(std::string("cannot listen on ") + impl_->url + ": " + e.what());
  }
  return ledger::Status::Ok();
}

void HttpServer::Stop() {
  if (!impl_->listener) return;
  impl_->stalls.reset();
  // Writes still waiting answer now, while their connections are open (the answer says
  // the write was not confirmed in time; a retry with its Idempotency-Key is safe), and
  // any a route defers from here on answers at once.
  impl_->timer->Stop();
  if (!impl_->replies->WaitNone(kStopAnswersWaitMs))
    spdlog::warn("stopping with answers not yet written");
  try {
    impl_->listener->close().wait();
  } catch (const std::exception& e) {
    spdlog::warn("closing the HTTP listener: {}", e.what());
  }
  impl_->listener.reset();
  if (impl_->workers) impl_->workers->Stop();  // the routes' last answers, then the threads
}

}  // namespace api
