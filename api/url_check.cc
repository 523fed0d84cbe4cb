#include "api/url_check.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

namespace api {

namespace {
bool PrivateV4(uint32_t host_order) {
  const uint8_t a = host_order >> 24, b = (host_order >> 16) & 0xff, c = (host_order >> 8) & 0xff;
  // IETF protocol assignments 192.0.0.0/24 and the documentation ranges 192.0.2.0/24,
  // 198.51.100.0/24, 203.0.113.0/24 (RFC 6890, 5737): nobody's public endpoint.
  const bool special = (a == 192 && b == 0 && (c == 0 || c == 2)) || (a == 198 && b == 51 && c == 100) ||
                       (a == 203 && b == 0 && c == 113);
  return a == 10 || a == 127 || a == 0 || (a == 172 && b >= 16 && b <= 31) || (a == 192 && b == 168) ||
         (a == 169 && b == 254) || (a == 100 && b >= 64 && b <= 127) || (a == 198 && (b == 18 || b == 19)) || a >= 224 ||
         special;
}

bool PrivateV6(const in6_addr& a) {
  const uint8_t* x = a.s6_addr;
  if (IN6_IS_ADDR_LOOPBACK(&a) || IN6_IS_ADDR_UNSPECIFIED(&a) || IN6_IS_ADDR_LINKLOCAL(&a) || IN6_IS_ADDR_MULTICAST(&a))
    return true;
  if ((x[0] & 0xfe) == 0xfc) return true;  // unique local fc00::/7
  if (x[0] == 0x20 && x[1] == 0x01 && x[2] == 0x0d && x[3] == 0xb8) return true;  // documentation 2001:db8::/32
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

// The URL's host, or "" with `why` set when the URL is not of the form CheckUrlForm takes.
std::string HostOf(const std::string& url, std::string* why) {
  for (unsigned char ch : url) {
    // Control characters (CR and LF split a request line), spaces and backslashes (which
    // URL parsers disagree about) have no place in a URL that is kept and used as is.
    if (ch <= 0x20 || ch == 0x7f || ch == '\\') {
      *why = "/url: must not contain control characters, spaces or backslashes";
      return "";
    }
  }
  *why = "/url: must be http(s)://host[:port]/path, without credentials";
  const size_t scheme = url.find("://");
  if (scheme == std::string::npos) return "";
  if (url.compare(0, scheme, "http") != 0 && url.compare(0, scheme, "https") != 0) return "";  // lower case, as delivered
  std::string rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (rest.find('@') != std::string::npos) return "";  // no credentials in subscriber URLs
  std::string host, port;
  bool has_port = false;
  if (!rest.empty() && rest.front() == '[') {
    const size_t close = rest.find(']');
    if (close == std::string::npos) return "";
    host = rest.substr(1, close - 1);
    const std::string after = rest.substr(close + 1);
    if (!after.empty() && after.front() != ':') return "";
    has_port = !after.empty();
    if (has_port) port = after.substr(1);
  } else {
    const size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    has_port = colon != std::string::npos;
    if (has_port) port = rest.substr(colon + 1);
  }
  // A port past 65535 was taken and wrapped around to another, real port when delivered;
  // 0, signs and a second colon ("80:80") are no ports either.
  if (has_port) {
    bool digits = !port.empty() && port.size() <= 5;
    uint32_t value = 0;
    for (char ch : port) {
      digits = digits && ch >= '0' && ch <= '9';
      if (digits) value = value * 10 + static_cast<uint32_t>(ch - '0');
    }
    if (!digits || value == 0 || value > 65535) {
      *why = "/url: the port must be a number from 1 to 65535";
      return "";
    }
  }
  if (!host.empty()) why->clear();
  return host;
}

}  // namespace

ledger::Status CheckUrlForm(const std::string& url) {
  std::string why;
  if (HostOf(url, &why).empty()) return ledger::Status::InvalidArgument(why);
  return ledger::Status::Ok();
}

ledger::Status CheckPublicUrl(const std::string& url) {
  std::string why;
  const std::string host = HostOf(url, &why);
  if (host.empty()) return ledger::Status::InvalidArgument(why);
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
