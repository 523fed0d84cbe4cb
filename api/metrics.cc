#include "api/metrics.h"

#include <algorithm>
#include <sstream>

#include "ledger/event_store.h"
#include "projections/projections.h"

namespace api {

void Metrics::ObserveRequest(const std::string& route, int status, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  requests_[{route, status}]++;
  Histogram& h = latency_[route];
  for (size_t i = 0; i < std::size(kLatencyBucketsS); ++i)
    if (seconds <= kLatencyBucketsS[i]) h.buckets[i]++;
  h.count++;
  h.sum_s += seconds;
}

namespace {
// Route patterns hold only [A-Za-z0-9/_{}.-] and a method; quotes and backslashes never.
std::string Label(const std::string& v) {
  std::string out;
  for (char c : v)
    if (c != '"' && c != '\\' && c != '\n') out.push_back(c);
  return out;
}
}  // namespace

std::string Metrics::Render(const ledger::EventStore* store, const projections::Projector* projector) const {
  std::ostringstream out;
  {
    std::lock_guard<std::mutex> lock(mu_);
    out << "# HELP ledger_http_requests_total HTTP requests by route and status.\n"
        << "# TYPE ledger_http_requests_total counter\n";
    for (const auto& [key, n] : requests_)
      out << "ledger_http_requests_total{route=\"" << Label(key.first) << "\",status=\"" << key.second << "\"} " << n
          << "\n";
    out << "# HELP ledger_http_request_seconds HTTP request latency by route.\n"
        << "# TYPE ledger_http_request_seconds histogram\n";
    for (const auto& [route, h] : latency_) {
      const std::string r = Label(route);
      for (size_t i = 0; i < std::size(kLatencyBucketsS); ++i)
        out << "ledger_http_request_seconds_bucket{route=\"" << r << "\",le=\"" << kLatencyBucketsS[i] << "\"} "
            << h.buckets[i] << "\n";
      out << "ledger_http_request_seconds_bucket{route=\"" << r << "\",le=\"+Inf\"} " << h.count << "\n"
          << "ledger_http_request_seconds_sum{route=\"" << r << "\"} " << h.sum_s << "\n"
          << "ledger_http_request_seconds_count{route=\"" << r << "\"} " << h.count << "\n";
    }
  }
  if (store != nullptr) {
    const uint64_t head = store->head().position.value();
    const uint64_t canonical = store->canonical_mark().position.value();
    const ledger::StoreStats st = store->stats();
    out << "# TYPE ledger_head_position gauge\nledger_head_position " << head << "\n"
        << "# TYPE ledger_canonical_position gauge\nledger_canonical_position " << canonical << "\n"
        << "# HELP ledger_publishing_lag_events Events stored and not yet known canonical.\n"
        << "# TYPE ledger_publishing_lag_events gauge\nledger_publishing_lag_events " << head - std::min(head, canonical)
        << "\n"
        << "# HELP ledger_append_batches_total Group commits (mean append batch = events / batches).\n"
        << "# TYPE ledger_append_batches_total counter\nledger_append_batches_total " << st.batches_committed << "\n"
        << "# TYPE ledger_append_events_total counter\nledger_append_events_total " << st.events_committed << "\n"
        << "# TYPE ledger_wal_syncs_total counter\nledger_wal_syncs_total " << st.wal_syncs << "\n"
        << "# TYPE ledger_commands_rejected_total counter\nledger_commands_rejected_total " << st.commands_rejected
        << "\n";
    if (projector != nullptr) {
      const uint64_t projected = projector->position().value();
      out << "# TYPE ledger_projection_position gauge\nledger_projection_position " << projected << "\n"
          << "# HELP ledger_projection_lag_events Canonical events not yet in every read model.\n"
          << "# TYPE ledger_projection_lag_events gauge\nledger_projection_lag_events "
          << canonical - std::min(canonical, projected) << "\n";
    }
  }
  return out.str();
}

}  // namespace api
