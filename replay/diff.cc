// diff: the keys whose values differ between two projection directories, read model by
// read model, both sides walked in key order a page at a time (memory stays flat).
#include <cstdio>
#include <filesystem>

#include "projections/projections.h"
#include "projections/read_model_store.h"
#include "replay/replay.h"

namespace replay {

namespace {
constexpr size_t kPage = 4096;

using Page = std::vector<std::pair<std::string, projections::Json>>;

// A value as one line of JSON. A string that is not UTF-8 is shown with U+FFFD in its place
// (nlohmann's strict default throws there, and a report must never end the program).
std::string Shown(const projections::Json& value) {
  return value.dump(-1, ' ', false, projections::Json::error_handler_t::replace);
}

// Walks one side a page at a time.
class Cursor {
 public:
  explicit Cursor(const projections::ProjectionStore& store) : store_(store) {}
  ledger::Status Next() {
    if (i_ + 1 < page_.size()) {
      ++i_;
      return ledger::Status::Ok();
    }
    if (done_) {
      page_.clear();
      return ledger::Status::Ok();
    }
    const std::string after = page_.empty() ? last_ : page_.back().first;
    auto p = store_.Scan("", after, kPage);
    if (!p.ok()) return p.status();
    page_ = std::move(*p);
    i_ = 0;
    if (page_.size() < kPage) done_ = true;
    if (!page_.empty()) last_ = page_.back().first;
    return ledger::Status::Ok();
  }
  bool valid() const { return i_ < page_.size(); }
  const std::string& key() const { return page_[i_].first; }
  const projections::Json& value() const { return page_[i_].second; }

 private:
  const projections::ProjectionStore& store_;
  Page page_;
  size_t i_ = 0;
  bool done_ = false;
  std::string last_;
};
}  // namespace

std::string EscapeForLine(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const unsigned char byte = static_cast<unsigned char>(c);
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      default:
        if (byte >= 0x20 && byte <= 0x7e) {
          out += c;
        } else {
          char hex[5];  // "\xNN"
          std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned>(byte));
          out += hex;
        }
    }
  }
  return out;
}

ledger::Result<DiffReport> Diff(const std::string& left_dir, const std::string& right_dir,
                                const std::vector<std::string>& read_models, size_t limit, StopFlag stop) {
  namespace fs = std::filesystem;
  std::vector<std::string> names = read_models;
  DiffReport report;
  if (names.empty())
    for (const std::string& n : projections::ReadModelNames()) {
      const bool left = fs::exists(fs::path(left_dir) / n), right = fs::exists(fs::path(right_dir) / n);
      if (left && right) names.push_back(n);
      else if (left) report.only_left.push_back(n);
      else if (right) report.only_right.push_back(n);
    }
  if (names.empty()) return ledger::Status::InvalidArgument("the two directories hold no read model in common");
  report.compared = names;
  for (const std::string& name : names) {
    LEDGER_RETURN_IF_ERROR(CheckStop(stop));
    auto left = projections::ProjectionStore::Open((fs::path(left_dir) / name).string(), name, projections::StoreAccess::kReadOnly);
    if (!left.ok()) return left.status();
    auto right = projections::ProjectionStore::Open((fs::path(right_dir) / name).string(), name, projections::StoreAccess::kReadOnly);
    if (!right.ok()) return right.status();
    report.positions.push_back({name, (*left)->progress().position, (*right)->progress().position});
    Cursor l(**left), r(**right);
    LEDGER_RETURN_IF_ERROR(l.Next());
    LEDGER_RETURN_IF_ERROR(r.Next());
    while (l.valid() || r.valid()) {
      LEDGER_RETURN_IF_ERROR(CheckStop(stop));
      const int order = !l.valid() ? 1 : !r.valid() ? -1 : l.key().compare(r.key());
      if (order == 0 && l.value() == r.value()) {
        LEDGER_RETURN_IF_ERROR(l.Next());
        LEDGER_RETURN_IF_ERROR(r.Next());
        continue;
      }
      ++report.count;
      if (report.differences.size() < limit) {
        Difference d{name, order <= 0 ? l.key() : r.key(), "", ""};
        if (order <= 0) d.left = Shown(l.value());
        if (order >= 0) d.right = Shown(r.value());
        report.differences.push_back(std::move(d));
      }
      if (order <= 0) LEDGER_RETURN_IF_ERROR(l.Next());
      if (order >= 0) LEDGER_RETURN_IF_ERROR(r.Next());
    }
  }
  return report;
}

}  // namespace replay
