// Where webhooks may go: http(s) URLs whose host resolves only to public addresses (not
// private, loopback, link-local, shared, benchmark or multicast ranges, nor IPv4 inside
// IPv6 in those ranges). Checked when a subscriber is added and again before each
// connection, since DNS answers change.
#pragma once

#include <string>

#include "ledger/status.h"

namespace api {

// OK, or InvalidArgument "/url: ..." naming why.
ledger::Status CheckPublicUrl(const std::string& url);

}  // namespace api
