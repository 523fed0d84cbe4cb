// The node's HTTP front (cpprestsdk lives in api/ only). For now it serves the health
// routes; the merchant, auditor and analyst routes arrive with the HTTP API issue.
// Errors are RFC 7807 problem+json (DESIGN §9).
#pragma once

#include <memory>
#include <string>

#include "ledger/event_store.h"

namespace projections {
class Projector;
}

namespace api {

class HttpServer {
 public:
  // `store` (and `projector`, which may be null) must outlive the server. Listens on
  // http://host:port once Start() succeeds.
  HttpServer(std::string host, int port, uint32_t shard, const ledger::EventStore* store,
             const projections::Projector* projector = nullptr);
  ~HttpServer();

  ledger::Status Start();
  void Stop();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace api
