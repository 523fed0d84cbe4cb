// Routes: method + path pattern ("/v1/payments/{payment_id}/captures") -> handler.
// Thread-safe for lookups once built.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "api/http_types.h"

namespace api {

using Handler = std::function<Response(Request&)>;

class Router {
 public:
  void Add(const std::string& method, const std::string& pattern, Handler handler);

  // The handler for the request (filling request.params), or a 404 / 405 problem.
  // `*matched` (if given) becomes "METHOD /pattern", or "unmatched".
  Response Dispatch(Request& request, std::string* matched = nullptr) const;

  // "GET /v1/stores/{store_id}" for every route, for the OpenAPI check.
  std::vector<std::string> Routes() const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;
    Handler handler;
  };
  static bool Match(const Route& r, const std::vector<std::string>& path, std::map<std::string, std::string>* params);
  std::vector<Route> routes_;
};

}  // namespace api
