// Cuts off HTTP connections that stall. cpprestsdk's listener takes a timeout but does not
// enforce it (measured: a client that sends half a request, or nothing, keeps its socket
// open for as long as it likes), so a few hundred silent clients could take every file
// descriptor the node has. This watches the node's accepted HTTP sockets from the outside
// (the kernel's TCP counters of each socket, once a second) and ends a connection when:
//   - the client has sent bytes that got no answer for `timeout_ms` (a request not received
//     whole in time, however slowly it trickles in): a 408 problem+json, then the socket is
//     shut down;
//   - nothing moved either way for `timeout_ms` (an idle keep-alive connection, or one that
//     never sent anything): shut down without a word;
//   - the client has sent more unanswered bytes than any request within the node's limits
//     can take (kRequestWireBytesMax: a 50 MB request line or a chunked body of hundreds of
//     MB, which cpprestsdk reads whole before any limit of ours is checked, and which
//     cost the node hundreds of MB): a 413 problem+json, then the socket is shut down.
//     Checked every 100 ms at most, so little more than that gets in.
// Shutting a socket down (never closing it: the descriptor stays cpprestsdk's) makes its
// pending read end, and cpprestsdk closes the connection itself. Routes answer within the
// default timeout (a write waits at most kWriteWaitMs), so a request being answered is not
// cut off; a timeout set below that (tests) can cut a slow write's answer, and an admin's
// planned promotion may take longer (DECISIONS 87). Linux only (/proc/self/fd, TCP_INFO;
// a kernel without tcpi_bytes_received leaves every connection alone).
//
// Thread-safety: one thread of its own; the methods may be called from any thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>

#include "api/http_types.h"

namespace api {

// The most bytes one request within the limits can take on the wire (request line with its
// path and query string, headers and body at their limits, chunked framing included), with
// room to spare.
inline constexpr uint64_t kRequestWireBytesMax =
    2 * (kPathBytesMax + kQueryBytesMax + kHeaderBytesMax + kBodyBytesMax) + 64 * 1024;

class StalledConnectionCutter {
 public:
  // Watches accepted TCP sockets whose local port is `port`.
  StalledConnectionCutter(int port, int timeout_ms);
  ~StalledConnectionCutter();  // stops the thread
  StalledConnectionCutter(const StalledConnectionCutter&) = delete;
  StalledConnectionCutter& operator=(const StalledConnectionCutter&) = delete;

  // Connections ended so far: with a 408 (an unanswered request), idle ones, and with a
  // 413 (too many bytes for one request).
  uint64_t cut_requests() const { return cut_requests_.load(); }
  uint64_t cut_idle() const { return cut_idle_.load(); }
  uint64_t cut_too_large() const { return cut_too_large_.load(); }

 private:
  void Loop();

  const int port_;
  const int timeout_ms_;
  std::atomic<uint64_t> cut_requests_{0};
  std::atomic<uint64_t> cut_idle_{0};
  std::atomic<uint64_t> cut_too_large_{0};
  std::mutex mu_;
  std::condition_variable wake_;
  bool stop_ = false;  // GUARDED_BY(mu_)
  std::thread thread_;
};

}  // namespace api
