// Where webhooks may go: http(s) URLs whose host resolves only to public addresses (not
// private, loopback, link-local, shared, benchmark, documentation, IETF protocol
// assignment or multicast ranges, nor IPv4 inside IPv6 in those ranges). Checked when a
// subscriber is added and again before each connection, since DNS answers change.
#pragma once

#include <string>

#include "ledger/status.h"

namespace api {

// The URL's form alone: http(s)://host[:port][/...], no credentials, a port of 1 to 65535
// in decimal digits when one is given, and no control character, space or backslash
// anywhere (the URL is stored for good in the log and used as is when delivering).
// OK, or InvalidArgument "/url: ..." naming why. Checked even with --allow-private-webhooks.
ledger::Status CheckUrlForm(const std::string& url);

// CheckUrlForm, then every address the host resolves to must be public.
// OK, or InvalidArgument "/url: ..." naming why.
ledger::Status CheckPublicUrl(const std::string& url);

}  // namespace api
