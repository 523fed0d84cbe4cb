#include "tests/support/http_sink.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>

namespace testing_support {

HttpSink::HttpSink(std::vector<int> statuses) : statuses_(statuses.begin(), statuses.end()) {
  fd_ = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  setsockopt(fd_, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = 0;
  bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t len = sizeof a;
  getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len);
  port_ = ntohs(a.sin_port);
  listen(fd_, 16);
  thread_ = std::thread([this] { Serve(); });
}

HttpSink::~HttpSink() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
  close(fd_);
}

void HttpSink::Serve() {
  while (!stop_.load()) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    int c = accept(fd_, nullptr, nullptr);
    if (c < 0) continue;
    std::string raw;
    char buf[4096];
    size_t body_len = 0, header_end = std::string::npos;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd q{c, POLLIN, 0};
      if (poll(&q, 1, 100) <= 0) continue;
      ssize_t n = read(c, buf, sizeof buf);
      if (n <= 0) break;
      raw.append(buf, static_cast<size_t>(n));
      if (header_end == std::string::npos && (header_end = raw.find("\r\n\r\n")) != std::string::npos) {
        std::string lower = raw.substr(0, header_end);
        std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char ch) { return std::tolower(ch); });
        const size_t cl = lower.find("content-length:");
        if (cl != std::string::npos) body_len = std::strtoull(lower.c_str() + cl + 15, nullptr, 10);
      }
      if (header_end != std::string::npos && raw.size() >= header_end + 4 + body_len) break;
    }
    SinkRequest r;
    if (header_end != std::string::npos) {
      const size_t line_end = raw.find("\r\n");
      r.request_line = raw.substr(0, line_end);
      r.headers = raw.substr(line_end + 2, header_end - line_end - 2);
      std::transform(r.headers.begin(), r.headers.end(), r.headers.begin(), [](unsigned char ch) { return std::tolower(ch); });
      r.body = raw.substr(header_end + 4, body_len);
    }
    int status = 200;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!statuses_.empty()) {
        status = statuses_.front();
        statuses_.pop_front();
      }
      received_.push_back(r);
    }
    const std::string reply = "HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    (void)!write(c, reply.data(), reply.size());
    close(c);
  }
}

std::vector<SinkRequest> HttpSink::received() const {
  std::lock_guard<std::mutex> lock(mu_);
  return received_;
}

bool HttpSink::WaitFor(size_t n, int timeout_ms) const {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  while (std::chrono::steady_clock::now() < deadline) {
    if (received().size() >= n) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return received().size() >= n;
}

}  // namespace testing_support
