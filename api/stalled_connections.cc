#include "api/stalled_connections.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <fcntl.h>
#include <linux/tcp.h>  // struct tcp_info with tcpi_bytes_received and tcpi_bytes_acked
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdlib>
#include <iterator>
#include <string>
#include <unordered_map>

#include "api/problem.h"
#include "ledger/thread_name.h"

namespace api {
namespace {

using Clock = std::chrono::steady_clock;

// The kernel's TCP states (include/net/tcp_states.h); <netinet/tcp.h>, which names them,
// cannot be included with <linux/tcp.h>.
constexpr uint8_t kTcpEstablished = 1;
constexpr uint8_t kTcpCloseWait = 8;

// What a scan remembers of a connection between scans (keyed by the socket's inode, which
// names the socket itself, whatever descriptor number it has).
struct Tracked {
  uint64_t received = 0;          // bytes from the client, at the last scan
  uint64_t acked = 0;             // bytes to the client the client has acknowledged, ditto
  uint64_t received_answered = 0;  // bytes from the client when the node last sent something
  Clock::time_point moved;        // when either count last changed (or first seen)
  Clock::time_point unanswered_since{};  // the client's first byte since the node last sent; {} if none
  bool seen = false;              // in the current scan
};

// The accepted TCP socket at `fd` if its local port is `port`, with its kernel counters.
bool HttpConnection(int fd, int port, struct stat* st, tcp_info* info) {
  if (fstat(fd, st) != 0 || !S_ISSOCK(st->st_mode)) return false;
  int value = 0;
  socklen_t len = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &value, &len) != 0 || value != 0) return false;  // a listener
  len = sizeof value;
  if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &value, &len) != 0 || value != SOCK_STREAM) return false;
  sockaddr_storage local{};
  len = sizeof local;
  if (getsockname(fd, reinterpret_cast<sockaddr*>(&local), &len) != 0) return false;
  int local_port = -1;
  if (local.ss_family == AF_INET) local_port = ntohs(reinterpret_cast<sockaddr_in*>(&local)->sin_port);
  if (local.ss_family == AF_INET6) local_port = ntohs(reinterpret_cast<sockaddr_in6*>(&local)->sin6_port);
  if (local_port != port) return false;
  len = sizeof *info;
  *info = tcp_info{};
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, info, &len) != 0) return false;
  // An older kernel's shorter tcp_info has no byte counts: every connection would look idle.
  if (len < offsetof(tcp_info, tcpi_bytes_received) + sizeof info->tcpi_bytes_received) return false;
  return info->tcpi_state == kTcpEstablished || info->tcpi_state == kTcpCloseWait;
}

// Ends the connection of socket `inode`, now at `fd`: a descriptor of our own for it (dup),
// checked to be that very socket, so a descriptor number reused meanwhile is never touched.
// With `answer`, writes it first (nothing else writes to a connection whose request has not
// arrived whole).
void Cut(int fd, ino_t inode, const std::string* answer) {
  const int own = fcntl(fd, F_DUPFD_CLOEXEC, 0);
  if (own < 0) return;
  struct stat st {};
  if (fstat(own, &st) == 0 && st.st_ino == inode) {
    if (answer != nullptr) (void)send(own, answer->data(), answer->size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    shutdown(own, SHUT_RDWR);
  }
  close(own);
}

// A whole HTTP answer with problem `p`, closing the connection.
std::string RawAnswer(const char* status_line, const Response& p) {
  return std::string(status_line) + "\r\nContent-Type: " + p.content_type +
         "\r\nConnection: close\r\nContent-Length: " + std::to_string(p.body.size()) + "\r\n\r\n" + p.body;
}

}  // namespace

StalledConnectionCutter::StalledConnectionCutter(int port, int timeout_ms) : port_(port), timeout_ms_(timeout_ms) {
  thread_ = std::thread([this] {
    ledger::NameThisThread("http-stalls");
    Loop();
  });
}

StalledConnectionCutter::~StalledConnectionCutter() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void StalledConnectionCutter::Loop() {
  const std::string timed_out = RawAnswer(
      "HTTP/1.1 408 Request Timeout",
      Problem(408, "request-timeout", "the request was not received whole within " + std::to_string(timeout_ms_) + " ms"));
  const std::string too_large = RawAnswer(
      "HTTP/1.1 413 Payload Too Large",
      Problem(413, "body-too-large",
              "the request is over " + std::to_string(kRequestWireBytesMax) + " bytes (the body may have " +
                  std::to_string(kBodyBytesMax) + ", the headers " + std::to_string(kHeaderBytesMax) + ")"));
  const auto timeout = std::chrono::milliseconds(timeout_ms_);
  // A tenth of the timeout, at most 100 ms (an oversized request is cut early) and at
  // least 50 ms: a stalled connection is cut between 1.0 and 1.1 timeouts after it stalled.
  const auto period = std::chrono::milliseconds(std::clamp(timeout_ms_ / 10, 50, 100));
  std::unordered_map<ino_t, Tracked> tracked;
  for (;;) {
    {
      std::unique_lock<std::mutex> lock(mu_);
      if (wake_.wait_for(lock, period, [&] { return stop_; })) return;
    }
    DIR* dir = opendir("/proc/self/fd");
    if (dir == nullptr) continue;
    const Clock::time_point now = Clock::now();
    for (auto& [inode, t] : tracked) t.seen = false;
    while (const dirent* entry = readdir(dir)) {
      char* end = nullptr;
      const long fd = std::strtol(entry->d_name, &end, 10);
      if (end == entry->d_name || *end != '\0' || fd == dirfd(dir)) continue;
      struct stat st {};
      tcp_info info{};
      if (!HttpConnection(static_cast<int>(fd), port_, &st, &info)) continue;
      auto [it, fresh] = tracked.try_emplace(st.st_ino);
      Tracked& t = it->second;
      t.seen = true;
      if (fresh) {  // a new connection (or one first seen now): its counts start here
        t.moved = now;
        t.received = info.tcpi_bytes_received;
        t.acked = info.tcpi_bytes_acked;
        // Nothing sent to it yet: whatever it sent is unanswered.
        t.received_answered = t.acked > 0 ? t.received : 0;
        if (t.received > t.received_answered) t.unanswered_since = now;
      } else {
        if (info.tcpi_bytes_received != t.received || info.tcpi_bytes_acked != t.acked) t.moved = now;
        if (info.tcpi_bytes_acked != t.acked) {  // the node answered: what came before is answered
          t.received_answered = info.tcpi_bytes_received;
          t.unanswered_since = {};
        } else if (info.tcpi_bytes_received > t.received_answered && t.unanswered_since == Clock::time_point{}) {
          t.unanswered_since = now;
        }
        t.received = info.tcpi_bytes_received;
        t.acked = info.tcpi_bytes_acked;
      }
      if (t.received - t.received_answered > kRequestWireBytesMax) {
        Cut(static_cast<int>(fd), st.st_ino, &too_large);
        cut_too_large_++;
        tracked.erase(it);
      } else if (t.unanswered_since != Clock::time_point{} && now - t.unanswered_since >= timeout) {
        Cut(static_cast<int>(fd), st.st_ino, &timed_out);
        cut_requests_++;
        tracked.erase(it);
      } else if (now - t.moved >= timeout) {
        Cut(static_cast<int>(fd), st.st_ino, nullptr);
        cut_idle_++;
        tracked.erase(it);
      }
    }
    closedir(dir);
    for (auto it = tracked.begin(); it != tracked.end();)  // closed since
      it = it->second.seen ? std::next(it) : tracked.erase(it);
  }
}

}  // namespace api
