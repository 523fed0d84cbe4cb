#include "api/list_support.h"

#include <set>
#include <string_view>

#include "api/problem.h"
#include "projections/read_model_store.h"

namespace api {

namespace {
// The first characters that get a quote in front (DECISIONS §91).
constexpr char kCsvPrefixed[] = "=+-@\t\r'";

std::string Cell(const Json& v) {
  std::string text = v.is_string() ? v.get<std::string>() : v.is_null() ? "" : v.dump();
  // A text cell a spreadsheet would run as a formula (also after a leading tab or carriage
  // return, which spreadsheets skip) is written as text behind a quote. A text that really
  // begins with that quote gets one too, so a leading quote is always the added one and
  // "'=x" (written "''=x") stays apart from "=x" (written "'=x").
  if (v.is_string() && !text.empty() && std::string_view(kCsvPrefixed).find(text[0]) != std::string_view::npos)
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

// Lines end in CRLF, as RFC 4180 (which registers text/csv) has them.
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
  out.append("\r\n");
  for (const Json& r : rows) {
    first = true;
    for (const std::string& c : columns) {
      if (!first) out.push_back(',');
      if (r.contains(c)) out.append(Cell(r[c]));
      first = false;
    }
    out.append("\r\n");
  }
  return out;
}

Response ListPage(const Call& call, const projections::ProjectionStore& model, const std::string& prefix,
                  const std::function<Json(const std::string& key, const Json& value)>& shape) {
  if (auto wait = WaitForMinPosition(call)) return *wait;
  size_t limit = kListLimitDefault;
  if (auto bad = ParseLimit(call, kListLimitMax, &limit)) return *bad;
  std::string after;
  if (!call.request.Query("cursor").empty() &&
      (!ledger::FromHex(call.request.Query("cursor"), &after) || after.compare(0, prefix.size(), prefix) != 0))
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
    r.content_type = kCsvContentType;
    r.body = ToCsv(items);
    if (more) r.headers.emplace_back("X-Next-Cursor", ledger::ToHex(last));
    return r;
  }
  Json body = {{"items", items}};
  body["next_cursor"] = more ? Json(ledger::ToHex(last)) : Json(nullptr);
  return JsonResponse(200, body);
}

}  // namespace api
