#include "api/list_support.h"

#include <set>
#include <string_view>
#include <vector>

#include "api/problem.h"
#include "ledger/ids.h"
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

// One media range of an Accept header ("text/csv;q=0.5"), lower case.
struct MediaRange {
  std::string type, subtype;  // "*" for a wildcard
  int weight = 1000;          // q in thousandths
};

std::string_view Trim(std::string_view s) {
  const size_t first = s.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(" \t") - first + 1);
}

// An RFC 9110 token (a type, a subtype, a parameter's name).
bool IsToken(std::string_view s) {
  constexpr std::string_view kSymbols = "!#$%&'*+-.^_`|~";
  if (s.empty()) return false;
  for (char ch : s) {
    const bool alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    if (!alnum && kSymbols.find(ch) == std::string_view::npos) return false;
  }
  return true;
}

// The pieces of `text` between `separator`s outside quoted strings (a parameter's quoted
// value may hold a comma or a semicolon).
std::vector<std::string_view> SplitOutsideQuotes(std::string_view text, char separator) {
  std::vector<std::string_view> out;
  bool quoted = false;
  size_t start = 0;
  for (size_t i = 0; i < text.size(); ++i) {
    if (quoted && text[i] == '\\') {
      ++i;  // the escaped character, whatever it is
    } else if (text[i] == '"') {
      quoted = !quoted;
    } else if (!quoted && text[i] == separator) {
      out.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(text.substr(start));
  return out;
}

// A weight ("0", "0.5", "1.000": RFC 9110 §12.4.2) in thousandths, or -1.
int ParseWeight(std::string_view v) {
  if (v.empty() || (v[0] != '0' && v[0] != '1') || (v.size() > 1 && (v[1] != '.' || v.size() > 5))) return -1;
  int weight = (v[0] - '0') * 1000;
  int scale = 100;
  for (size_t i = 2; i < v.size(); ++i, scale /= 10) {
    if (v[i] < '0' || v[i] > '9') return -1;
    weight += (v[i] - '0') * scale;
  }
  return weight > 1000 ? -1 : weight;
}

// One element of an Accept header, or nullopt when it does not parse. Parameters other
// than q are not matched on; those after q are accept extensions.
std::optional<MediaRange> ParseRange(std::string_view element) {
  const std::vector<std::string_view> parts = SplitOutsideQuotes(element, ';');
  const std::string_view range = Trim(parts[0]);
  const size_t slash = range.find('/');
  if (slash == std::string_view::npos) return std::nullopt;
  MediaRange r;
  r.type = ledger::AsciiLower(range.substr(0, slash));
  r.subtype = ledger::AsciiLower(range.substr(slash + 1));
  if (!IsToken(r.type) || !IsToken(r.subtype) || (r.type == "*" && r.subtype != "*")) return std::nullopt;
  for (size_t i = 1; i < parts.size(); ++i) {
    const std::string_view parameter = Trim(parts[i]);
    const size_t eq = parameter.find('=');
    if (eq == std::string_view::npos || !IsToken(Trim(parameter.substr(0, eq)))) return std::nullopt;
    if (ledger::AsciiLower(Trim(parameter.substr(0, eq))) != "q") continue;
    r.weight = ParseWeight(Trim(parameter.substr(eq + 1)));
    if (r.weight < 0) return std::nullopt;
    break;
  }
  return r;
}

// What `ranges` grant type/subtype: the weight of the most specific range matching it (the
// first of equals) and that range's place in the list; weight -1 when none matches.
struct Grant {
  int weight = -1;
  int specificity = -1;  // 0 */*, 1 type/*, 2 type/subtype
  size_t index = 0;
};

Grant Granted(const std::vector<MediaRange>& ranges, std::string_view type, std::string_view subtype) {
  Grant best;
  for (size_t i = 0; i < ranges.size(); ++i) {
    const MediaRange& r = ranges[i];
    int specificity = -1;
    if (r.type == "*") specificity = 0;  // "*/*": ParseRange takes no "*/json"
    else if (r.type == type && r.subtype == "*") specificity = 1;
    else if (r.type == type && r.subtype == subtype) specificity = 2;
    if (specificity > best.specificity) best = {r.weight, specificity, i};
  }
  return best;
}
}  // namespace

std::optional<ListFormat> NegotiateListFormat(const std::string& accept) {
  if (Trim(accept).empty()) return ListFormat::kJson;
  std::vector<MediaRange> ranges;
  for (std::string_view element : SplitOutsideQuotes(accept, ','))
    if (auto range = ParseRange(element)) ranges.push_back(std::move(*range));
  const Grant json = Granted(ranges, "application", "json");
  const Grant csv = Granted(ranges, "text", "csv");
  if (csv.weight > 0 && (csv.weight > json.weight || (csv.weight == json.weight && csv.index < json.index)))
    return ListFormat::kCsv;
  if (json.weight > 0) return ListFormat::kJson;
  // JSON refused outright (q=0) and CSV not acceptable: nothing to answer with. Otherwise
  // JSON, as before Accept was parsed: an Accept that names neither (text/html,
  // application/problem+json) is disregarded, as RFC 9110 §12.5.1 allows, rather than
  // breaking clients that send one.
  if (json.weight == 0) return std::nullopt;
  return ListFormat::kJson;
}

std::optional<Response> NegotiateFormat(const Call& call, const char* what, ListFormat* format) {
  const std::optional<ListFormat> negotiated = NegotiateListFormat(call.request.Header("accept"));
  if (!negotiated)
    return Problem(406, "not-acceptable",
                   std::string(what) + " is answered as application/json or text/csv; Accept allows neither");
  *format = *negotiated;
  return std::nullopt;
}

std::string ToCsv(const Json& rows) {
  std::set<std::string> columns;
  for (const Json& r : rows)
    for (const auto& [k, v] : r.items()) columns.insert(k);
  return ToCsv(rows, std::vector<std::string>(columns.begin(), columns.end()));
}

// Lines end in CRLF, as RFC 4180 (which registers text/csv) has them.
std::string ToCsv(const Json& rows, const std::vector<std::string>& columns) {
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

namespace {
// One page's items: those `shape` keeps of the rows under `prefix` after `after`, up to
// `limit`, counted after shaping, so a list that leaves rows out (a status filter) still
// fills every page but the last. `last_key` is where the next page starts; `more` says
// whether one does.
struct PageItems {
  Json items = Json::array();
  std::string last_key;
  bool more = false;
};

ledger::Result<PageItems> CollectPage(const projections::ProjectionStore& model, const std::string& prefix,
                                      const std::string& after, size_t limit,
                                      const std::function<Json(const std::string& key, const Json& value)>& shape) {
  PageItems page;
  page.last_key = after;
  size_t rows_read = 0;
  for (;;) {
    const size_t chunk = limit + 1;
    auto rows = model.Scan(prefix, page.last_key, chunk);
    if (!rows.ok()) return rows.status();
    for (const auto& [key, value] : *rows) {
      Json item = shape(key, value);
      if (!item.is_null()) {
        // A kept item past a full page: there is a next page, and it starts with this row.
        if (page.items.size() == limit) {
          page.more = true;
          return page;
        }
        page.items.push_back(std::move(item));
      }
      page.last_key = key;
      // Bounded work per request: past the budget the page ends short, with a cursor where
      // the reading stopped, rather than read a whole tenant's rows to fill it.
      if (++rows_read >= kListScanRowsMax) {
        page.more = true;
        return page;
      }
    }
    if (rows->size() < chunk) return page;  // the end of the list
  }
}
}  // namespace

Response ListPage(const Call& call, const projections::ProjectionStore& model, const std::string& prefix,
                  const std::function<Json(const std::string& key, const Json& value)>& shape) {
  ListFormat format = ListFormat::kJson;
  if (auto refused = NegotiateFormat(call, "a list", &format)) return *refused;
  if (auto wait = WaitForMinPosition(call)) return *wait;
  size_t limit = kListLimitDefault;
  if (auto bad = ParseLimit(call, kListLimitMax, &limit)) return *bad;
  std::string after;
  if (!call.request.Query("cursor").empty() &&
      (!ledger::FromHex(call.request.Query("cursor"), &after) || after.compare(0, prefix.size(), prefix) != 0))
    return Problem(400, "invalid-field", "not a cursor of this list", R"({"pointer":"/cursor"})");
  auto page = CollectPage(model, prefix, after, limit, shape);
  if (!page.ok()) return ProblemFromStatus(page.status());
  if (format == ListFormat::kCsv) {
    Response r;
    r.content_type = kCsvContentType;
    r.body = ToCsv(page->items);
    if (page->more) r.headers.emplace_back("X-Next-Cursor", ledger::ToHex(page->last_key));
    return r;
  }
  Json body = {{"items", page->items}};
  body["next_cursor"] = page->more ? Json(ledger::ToHex(page->last_key)) : Json(nullptr);
  return JsonResponse(200, body);
}

}  // namespace api
