// Lists (DESIGN §9): pages over a stable key order with an opaque cursor (`cursor`,
// answered as `next_cursor`), a `limit` up to kListLimitMax, and text/csv when the caller's
// Accept prefers it (NegotiateListFormat).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "api/route_support.h"

namespace api {

inline constexpr size_t kListLimitDefault = 50;
inline constexpr size_t kListLimitMax = 500;
// The most rows one page reads when its list leaves some out (a filter): a page is full
// unless the list ends or this many rows were read for it (then it is short, with a cursor).
inline constexpr size_t kListScanRowsMax = 10000;
// The text is UTF-8 (JSON's), said so that a spreadsheet does not guess another charset.
inline constexpr const char* kCsvContentType = "text/csv; charset=utf-8";

enum class ListFormat { kJson, kCsv };

// What a list answers in for an Accept header ("" when absent), or nullopt when it accepts
// neither (406 not-acceptable; DECISIONS 95). The header is a list of media ranges, each
// with an optional weight q (default 1), matched case-insensitively; the most specific
// range that matches a type gives its weight (text/csv over text/* over */*), and a range
// that does not parse (`application/not-text/csv`) matches nothing. CSV when its weight
// is above 0 and above JSON's, or equal to it and the range that gave it comes earlier in
// the list (`text/csv, application/json`); otherwise JSON, unless a range gave JSON weight
// 0 (`application/json;q=0`), which is nullopt (406). So `*/*` is JSON, and so is an Accept
// naming neither (`text/csvx`, `text/html`). An absent or empty Accept is JSON.
std::optional<ListFormat> NegotiateListFormat(const std::string& accept);
// The same for a call, with the 406 not-acceptable answer in place of nullopt: what every
// route that answers JSON or CSV (the lists, GET /v1/statements) refuses alike. `what`
// names the answer in the problem's detail ("a list").
std::optional<Response> NegotiateFormat(const Call& call, const char* what, ListFormat* format);

// Lists the read model's entries under `prefix` (one merchant's, or every merchant's for an
// analyst), `shape` turning each entry into the listed item (null: leave it out). Items are
// counted after shaping: every page but the last holds `limit` items (unless
// kListScanRowsMax rows were read for it), and next_cursor is null only on the last.
Response ListPage(const Call& call, const projections::ProjectionStore& model, const std::string& prefix,
                  const std::function<Json(const std::string& key, const Json& value)>& shape);

// Rows as CSV: one column per top-level field (sorted), nested values as JSON text; a text
// cell beginning with = + - @ tab, carriage return or ' is written behind a ' (formulas);
// lines end in CRLF (RFC 4180).
std::string ToCsv(const Json& rows);
// The same with the columns named, in their order (a document's order, not the sorted
// one): a field not named is left out, a row without a named one has an empty cell.
std::string ToCsv(const Json& rows, const std::vector<std::string>& columns);

}  // namespace api
