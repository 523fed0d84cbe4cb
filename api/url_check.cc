#include "api/url_check.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstring>

namespace api {

namespace {
bool PrivateV4(uint32_t host_order) {
  const uint8_t a = host_order >> 24, b = (host_order >> 16) & 0xff;
  return a == 10 || a == 127 || a == 0 || (a == 172 && b >= 16 && b <= 31) || (a == 192 && b == 168) ||
         (a == 169 && b == 254) || (a == 100 && b >= 64 && b <= 127) || (a == 198 && (b == 18 || b == 19)) || a >= 224;
}

bool PrivateV6(const in6_addr& a) {
  const uint8_t* x = a.s6_addr;
  if (IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LINKLOCAL(&a) || IN6_IS_ADDR_MULTICAST(&a))
    return true;
  if ((x[0] & 0xfe) == 0xfc) return true;  // unique local fc00::/7
  auto embedded_v4 = [&](size_t at) {
    uint32_t v4;
    std::memcpy(&v4, x + at, 4);
    return PrivateV4(ntohl(v4));
  };
  static const uint8_t kNat64[12] = {0, 0x64, 0xff, 0x9b, 0, 0, 0, 0, 0, 0, 0, 0};
  static const uint8_t kCompat[12] = {};
  // IPv4 inside IPv6: mapped (::ffff:a.b.c.d), NAT64 (64:ff9b::/96), compatible (::/96), 6to4 (2002::/16).
  if (IN6_IS_ADDR_V4MAPPED(&a) || std::memcmp(x, kNat64, 12) == 0 || std::memcmp(x, kCompat, 12) == 0)
    return embedded_v4(12);
  if (x[0] == 0x20 && x[1] == 0x02) return embedded_v4(2);
  return false;
}

// The URL's host, or "" when the URL is not http(s)://host[:port][/...].
std::string HostOf(const std::string& url) {
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (rest.find('@') != std::string::npos) return "";  // no credentials in subscriber URLs
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    return close == std::string::npos ? "" : rest.substr(1, close - 1);
  }
  return rest.substr(0, rest.find(':'));
}

}  // namespace

ledger::Status CheckPublicUrl(const std::string& url) {
  const std::string host = HostOf(url);
  if (host.empty()) return ledger::Status::InvalidArgument("/url: must be http(s)://host[:port]/path, without credentials");
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (getaddrinfo(host.c_str(), nullptr, &hints, &res) != 0 || res == nullptr)
    return ledger::Status::InvalidArgument("/url: the host does not resolve");
  bool is_private = false;
  for (addrinfo* p = res; p != nullptr; p = p->ai_next) {
    if (p->ai_family == AF_INET)
      is_private |= PrivateV4(ntohl(reinterpret_cast<sockaddr_in*>(p->ai_addr)->sin_addr.s_addr));
    else if (p->ai_family == AF_INET6)
      is_private |= PrivateV6(reinterpret_cast<sockaddr_in6*>(p->ai_addr)->sin6_addr);
  }
  freeaddrinfo(res);
  if (is_private)
    return ledger::Status::InvalidArgument("/url: resolves to a private, loopback or link-local address");
  return ledger::Status::Ok();
}


}  // namespace api
