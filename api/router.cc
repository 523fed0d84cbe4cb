#include "api/router.h"

#include "api/problem.h"

namespace api {

namespace {
std::vector<std::string> Split(const std::string& path) {
  std::vector<std::string> out;
  size_t start = 1;  // paths start with '/'
  while (start <= path.size()) {
    size_t slash = path.find('/', start);
    if (slash == std::string::npos) slash = path.size();
    out.push_back(path.substr(start, slash - start));
    start = slash + 1;
  }
  return out;
}
}  // namespace

void Router::Add(const std::string& method, const std::string& pattern, Handler handler, Runs runs) {
  routes_.push_back({method, pattern, Split(pattern), std::move(handler), runs});
}

Runs Router::HowRuns(const Lookup& lookup) { return lookup.route == nullptr ? Runs::kWorker : lookup.route->runs; }

Router::Lookup Router::Find(const Request& request) const {
  Lookup found;
  if (request.path.empty() || request.path.front() != '/') return found;
  const std::vector<std::string> path = Split(request.path);
  for (const Route& r : routes_) {
    if (!Match(r, path, &found.params)) continue;
    found.path_known = true;
    if (r.method == request.method) {
      found.route = &r;
      return found;
    }
  }
  found.params.clear();
  return found;
}

bool Router::Match(const Route& r, const std::vector<std::string>& path, std::map<std::string, std::string>* params) {
  if (r.segments.size() != path.size()) return false;
  std::map<std::string, std::string> found;
  for (size_t i = 0; i < path.size(); ++i) {
    const std::string& want = r.segments[i];
    if (want.size() > 2 && want.front() == '{' && want.back() == '}') {
      if (path[i].empty()) return false;
      found[want.substr(1, want.size() - 2)] = path[i];
    } else if (want != path[i]) {
      return false;
    }
  }
  *params = std::move(found);
  return true;
}

Response Router::Dispatch(Request& request, Lookup lookup, std::string* matched) const {
  if (matched != nullptr) *matched = "unmatched";
  if (lookup.route == nullptr) {
    if (lookup.path_known) return Problem(405, "method-not-allowed", "method not allowed on this route");
    return Problem(404, "not-found", "no such route");
  }
  request.params = std::move(lookup.params);
  if (matched != nullptr) *matched = lookup.route->method + " " + lookup.route->pattern;
  return lookup.route->handler(request);
}

std::vector<std::string> Router::Routes() const {
  std::vector<std::string> out;
  for (const Route& r : routes_) out.push_back(r.method + " " + r.pattern);
  return out;
}

}  // namespace api
