#include "api/list_support.h"

#include <set>

#include "api/problem.h"
#include "projections/read_model_store.h"

namespace api {

namespace {
std::string Hex(const std::string& s) {
  static const char* kHex = "0123456789abcdef";
  std::string out;
  for (unsigned char c : s) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

bool Unhex(const std::string& h, std::string* out) {
  if (h.size() % 2) return false;
  auto v = [](char c) { return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1; };
  out->clear();
  for (size_t i = 0; i < h.size(); i += 2) {
    const int a = v(h[i]), b = v(h[i + 1]);
    if (a < 0 || b < 0) return false;
    out->push_back(static_cast<char>(a * 16 + b));
  }
  return true;
}

std::string Cell(const Json& v) {
  std::string text = v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
  // A text cell a spreadsheet would run as a formula is written as text.
  if (v.is_string() && !text.empty() && (text[0] == '=' || text[0] == '+' || text[0] == '-' || text[0] == '@'))
    text.insert(0, "'");
  if (text.find_first_of(",\"\n\r") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) {
    if (c == '"') quoted.push_back('"');
    quoted.push_back(c);
  }
  return quoted + "\"";
}
}  // namespace

std::string ToCsv(const Json& rows) {
  std::set<std::string> columns;
  for (const Json& r : rows)
    for (const auto& [k, v] : r.items()) columns.insert(k);
  std::string out;
  bool first = true;
  for (const std::string& c : columns) {
    if (!first) out.push_back(',');
    out.append(Cell(c));
    first = false;
  }
  out.push_back('\n');
  for (const Json& r : rows) {
    first = true;
    for (const std::string& c : columns) {
      if (!first) out.push_back(',');
      if (r.contains(c)) out.append(Cell(r[c]));
      first = false;
    }
    out.push_back('\n');
  }
  return out;
}

Response ListPage(const Call& call, const projections::ProjectionStore& model, const std::string& prefix,
                  const std::function<Json(const std::string& key, const Json& value)>& shape) {
  if (auto wait = WaitForMinPosition(call)) return *wait;
  size_t limit = kListLimitDefault;
  if (!call.request.Query("limit").empty()) {
    char* end = nullptr;
    const std::string& l = call.request.Query("limit");
    const unsigned long long v = std::strtoull(l.c_str(), &end, 10);
    if (*end != '\0' || v == 0 || v > kListLimitMax)
      return Problem(400, "invalid-field", "limit is from 1 to " + std::to_string(kListLimitMax), R"({"pointer":"/limit"})");
    limit = static_cast<size_t>(v);
  }
  std::string after;
  if (!call.request.Query("cursor").empty() &&
      (!Unhex(call.request.Query("cursor"), &after) || after.compare(0, prefix.size(), prefix) != 0))
    return Problem(400, "invalid-field", "not a cursor of this list", R"({"pointer":"/cursor"})");
  auto rows = model.Scan(prefix, after, limit + 1);
  if (!rows.ok()) return ProblemFromStatus(rows.status());
  Json items = Json::array();
  std::string last;
  for (size_t i = 0; i < rows->size() && i < limit; ++i) {
    last = (*rows)[i].first;
    Json item = shape((*rows)[i].first, (*rows)[i].second);
    if (!item.is_null()) items.push_back(std::move(item));
  }
  const bool more = rows->size() > limit;
  if (call.request.Header("accept").find("text/csv") != std::string::npos) {
    Response r;
    r.content_type = "text/csv";
    r.body = ToCsv(items);
    if (more) r.headers.emplace_back("X-Next-Cursor", Hex(last));
    return r;
  }
  Json body = {{"items", items}};
  body["next_cursor"] = more ? Json(Hex(last)) : Json(nullptr);
  return JsonResponse(200, body);
}

}  // namespace api
