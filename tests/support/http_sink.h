// A loopback HTTP server that records what it receives (webhook tests) and answers each
// request with the next status of a script (then 200). Thread-safe.
#pragma once

#include <atomic>
#include <deque>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace testing_support {

struct SinkRequest {
  std::string request_line;
  std::string headers;  // raw, lower-cased names
  std::string body;
};

class HttpSink {
 public:
  explicit HttpSink(std::vector<int> statuses = {});
  ~HttpSink();
  int port() const { return port_; }
  std::vector<SinkRequest> received() const;
  // Waits until at least `n` requests arrived; false on timeout.
  bool WaitFor(size_t n, int timeout_ms) const;

 private:
  void Serve();
  int fd_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::thread thread_;
  mutable std::mutex mu_;
  std::deque<int> statuses_;
  std::vector<SinkRequest> received_;
};

}  // namespace testing_support
