// /metrics in Prometheus text format: requests by route (the pattern, never the path, so
// no id reaches a label) and status, latency histograms by route, and the node's gauges
// (head, canonical and projection positions, publishing and projection lag, the store's
// commit counters, from which the mean append batch size follows). Thread-safe.
#pragma once

#include <map>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

namespace ledger {
class EventStore;
}
namespace projections {
class Projector;
}

namespace api {

inline constexpr double kLatencyBucketsS[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};

class Metrics {
 public:
  void ObserveRequest(const std::string& route, int status, double seconds);
  std::string Render(const ledger::EventStore* store, const projections::Projector* projector) const;

 private:
  struct Histogram {
    std::vector<uint64_t> buckets = std::vector<uint64_t>(std::size(kLatencyBucketsS), 0);
    uint64_t count = 0;
    double sum_s = 0;
  };
  mutable std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // GUARDED_BY(mu_)
  std::map<std::string, Histogram> latency_;                  // GUARDED_BY(mu_)
};

}  // namespace api
