// The node's HTTP front (cpprestsdk lives in api/ only): the health routes, and every other
// path through the router (routes.h), converting cpprestsdk requests to plain Request values
// at this edge. Limits on path, query string, headers and body are enforced here before a
// route runs, and a request whose body could be framed two ways is refused (and its
// connection closed) before anything else, on every path (DECISIONS 100).
// Errors are RFC 7807 problem+json (DESIGN §9).
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/router.h"
#include "ledger/event_store.h"

namespace projections {
class Projector;
}

namespace api {

class HttpServer {
 public:
  // `store` (and `projector`, which may be null) must outlive the server. Listens on
  // http://host:port once Start() succeeds.
  // `router` (may be null: health routes only) serves every other path.
  HttpServer(std::string host, int port, uint32_t shard, const ledger::EventStore* store,
             const projections::Projector* projector = nullptr, const Router* router = nullptr,
             std::string node_id = "");
  ~HttpServer();

  // More Prometheus lines for /metrics (call before Start).
  void SetExtraMetrics(std::function<std::string()> render);
  // How long a request may take to arrive whole, and a connection may stay silent, before
  // the node ends it (default kRequestTimeoutS; call before Start).
  void SetRequestTimeoutMs(int timeout_ms);

  ledger::Status Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace api
