#include "api/router.h"

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string_view>

#include "api/problem.h"
#include "ledger/types.h"

namespace api {

namespace {
// Raw segments: split before decoding, so a %2F never splits a segment.
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

// Well-formed UTF-8 (no overlong forms, surrogates or code points past U+10FFFF), as JSON
// needs it: a route echoing such text into its answer would otherwise fail to write it.
bool IsUtf8(std::string_view s) {
  static constexpr uint32_t kLeast[] = {0, 0x80, 0x800, 0x10000};  // by continuation bytes
  for (size_t i = 0; i < s.size();) {
    const auto lead = static_cast<unsigned char>(s[i]);
    if (lead < 0x80) {
      ++i;
      continue;
    }
    const size_t more = (lead & 0xE0) == 0xC0 ? 1 : (lead & 0xF0) == 0xE0 ? 2 : (lead & 0xF8) == 0xF0 ? 3 : 0;
    if (more == 0) return false;  // a continuation byte first, or no UTF-8 lead byte at all
    uint32_t cp = lead & (0x3F >> more);
    if (i + more >= s.size()) return false;
    for (size_t k = 1; k <= more; ++k) {
      const auto next = static_cast<unsigned char>(s[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      cp = (cp << 6) | (next & 0x3F);
    }
    if (cp < kLeast[more] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return false;
    i += more + 1;
  }
  return true;
}

// Percent-decodes `text` (RFC 3986; '+' stays '+', so a time's offset survives): null, or
// why it is refused. An escape is '%' and two hex digits; decoded, the text is UTF-8
// without control characters (C0, DEL), which no id, position, cursor or time has and
// which would only hide what a log line or an auditor shows.
const char* Decode(std::string_view text, std::string* out) {
  out->clear();
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '%') {
      out->push_back(text[i]);
      continue;
    }
    std::string byte;
    if (i + 2 >= text.size() || !ledger::FromHex(text.substr(i + 1, 2), &byte))
      return "has a '%' that is not followed by two hex digits";
    out->append(byte);
    i += 2;
  }
  for (unsigned char ch : *out)
    if (ch < 0x20 || ch == 0x7f) return "holds a control character";
  if (!IsUtf8(*out)) return "is not UTF-8";
  return nullptr;
}

// A decoded segment spelled back for Request::canonical_path: '%' and '/' escaped, nothing
// else, so the segments joined by '/' read back as these segments only, and a segment that
// was sent without escapes (it then holds neither) is spelled as it was sent: the digests
// of requests recorded before there was a canonical path stay what they were.
void AppendCanonicalSegment(std::string_view decoded, std::string* out) {
  for (char ch : decoded) {
    if (ch == '%') out->append("%25");
    else if (ch == '/') out->append("%2F");
    else out->push_back(ch);
  }
}

// A JSON pointer's reference token for `name` (RFC 6901).
std::string PointerTo(const std::string& name) {
  std::string out = "/";
  for (char ch : name) {
    if (ch == '~') out.append("~0");
    else if (ch == '/') out.append("~1");
    else out.push_back(ch);
  }
  return out;
}

// The query string as decoded names and values. A name given twice is refused rather than
// one of its values kept: `limit=5&limit=500` may mean either, and a check that reads the
// first while the route reads the last is how a filter gets bypassed. A name is compared
// decoded (`limit` and `%6Cimit` are the same name); a parameter without a name is
// refused, one without '=' has the empty value.
std::optional<Response> ParseQuery(std::string_view raw, std::map<std::string, std::string>* query) {
  query->clear();
  size_t start = 0;
  while (start <= raw.size()) {
    size_t amp = raw.find('&', start);
    if (amp == std::string_view::npos) amp = raw.size();
    const std::string_view pair = raw.substr(start, amp - start);
    start = amp + 1;
    if (pair.empty()) continue;  // "a=1&&b=2", a trailing '&'
    const size_t eq = pair.find('=');
    std::string name, value;
    const char* why = Decode(pair.substr(0, eq), &name);
    if (why == nullptr && eq != std::string_view::npos) why = Decode(pair.substr(eq + 1), &value);
    // The text itself is not echoed: it may not be UTF-8, which a problem's JSON cannot hold.
    if (why != nullptr) return Problem(400, "invalid-field", std::string("a query parameter ") + why);
    if (name.empty()) return Problem(400, "invalid-field", "a query parameter has no name");
    if (!query->emplace(name, std::move(value)).second)
      return Problem(400, "invalid-field", "the query parameter " + name + " is given more than once",
                     nlohmann::json{{"pointer", PointerTo(name)}}.dump());
  }
  return std::nullopt;
}
}  // namespace

void Router::Add(const std::string& method, const std::string& pattern, Handler handler, Runs runs, Slash slash) {
  routes_.push_back({method, pattern, Split(pattern), std::move(handler), runs, slash});
}

Runs Router::HowRuns(const Lookup& lookup) { return lookup.route == nullptr ? Runs::kWorker : lookup.route->runs; }

Router::Lookup Router::Find(const Request& request) const {
  Lookup found;
  if (request.path.empty() || request.path.front() != '/') return found;
  std::vector<std::string> path = Split(request.path);
  for (std::string& segment : path) {
    std::string decoded;
    if (const char* why = Decode(segment, &decoded)) {
      found.refused = std::string("a path segment ") + why;
      found.canonical_path.clear();
      return found;
    }
    segment = std::move(decoded);
    found.canonical_path.push_back('/');
    AppendCanonicalSegment(segment, &found.canonical_path);
  }
  for (const Route& r : routes_) {
    if (!Match(r, path, &found.params)) continue;
    found.path_known = true;
    if (r.method == request.method) {
      found.route = &r;
      if (r.slash == Slash::kRefused)
        for (const auto& [name, value] : found.params)
          if (value.find('/') != std::string::npos) found.refused = "the path parameter " + name + " must not hold '/'";
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
  if (!lookup.refused.empty()) return Problem(400, "invalid-field", lookup.refused);
  if (lookup.route == nullptr) {
    if (lookup.path_known) return Problem(405, "method-not-allowed", "method not allowed on this route");
    return Problem(404, "not-found", "no such route");
  }
  if (matched != nullptr) *matched = lookup.route->method + " " + lookup.route->pattern;
  if (auto bad = ParseQuery(request.query_string, &request.query)) return *bad;
  request.params = std::move(lookup.params);
  request.canonical_path = std::move(lookup.canonical_path);
  return lookup.route->handler(request);
}

std::vector<std::string> Router::Routes() const {
  std::vector<std::string> out;
  for (const Route& r : routes_) out.push_back(r.method + " " + r.pattern);
  return out;
}

}  // namespace api
