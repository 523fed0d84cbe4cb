// Routes: method + path pattern ("/v1/payments/{payment_id}/captures") -> handler.
// The router reads the request target as sent (DECISIONS 95): it splits the path at '/'
// and then percent-decodes each segment, and decodes the query's names and values; a
// malformed escape, decoded text that is not UTF-8 or holds a control character, and a
// query parameter named twice are 400 invalid-field. The decoded path, spelled one way
// (Request::canonical_path), is what an idempotent write's digest covers (DECISIONS 100).
// Thread-safe for lookups once built.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <vector>

#include "api/http_types.h"

namespace api {

using Handler = std::function<Response(Request&)>;

// Where the HTTP front may run a route. kInline: on the thread that received the request
// (cpprestsdk's, which also does the sockets' I/O), for a route that never waits on
// another thread: it reads, decides, and either answers or submits a write that answers
// later (AnswerCommand). kWorker: on a worker of the front's own, for a route that may
// wait (bounded) for the sequencer, Kafka or the read models.
enum class Runs { kWorker, kInline };

// Whether a path parameter may hold a '/', sent as %2F inside its one segment. Ids never
// do (ledger/ids.h), and a read model's key built from one must not reach past it, so a
// decoded '/' is refused (400) unless the route names something else (a stream's name).
enum class Slash { kRefused, kInParameter };

class Router {
 public:
  void Add(const std::string& method, const std::string& pattern, Handler handler, Runs runs = Runs::kWorker,
           Slash slash = Slash::kRefused);

  struct Route;
  // The route matching a request, looked up once for both questions below.
  struct Lookup {
    const Route* route = nullptr;  // nullptr: none for this method and path
    bool path_known = false;       // some route (of another method) has the path
    std::map<std::string, std::string> params;  // decoded
    std::string refused;           // why the path is malformed (answered 400), "" when it is not
    std::string canonical_path;    // the path decoded, as Request::canonical_path ("" when a segment is malformed)
  };
  Lookup Find(const Request& request) const;

  // How the route matching the request runs (kWorker when none matches).
  static Runs HowRuns(const Lookup& lookup);
  Runs HowRuns(const Request& request) const { return HowRuns(Find(request)); }

  // The handler for the request (filling request.params, request.query and
  // request.canonical_path), or a 400 (a malformed path or query), 404 or 405 problem.
  // `*matched` (if given) becomes "METHOD /pattern", or "unmatched".
  Response Dispatch(Request& request, Lookup lookup, std::string* matched = nullptr) const;
  Response Dispatch(Request& request, std::string* matched = nullptr) const {
    return Dispatch(request, Find(request), matched);
  }

  // "GET /v1/stores/{store_id}" for every route, for the OpenAPI check.
  std::vector<std::string> Routes() const;

 private:
  static bool Match(const Route& r, const std::vector<std::string>& path, std::map<std::string, std::string>* params);
  std::vector<Route> routes_;
};

struct Router::Route {
  std::string method;
  std::string pattern;
  std::vector<std::string> segments;
  Handler handler;
  Runs runs = Runs::kWorker;
  Slash slash = Slash::kRefused;
};

}  // namespace api
