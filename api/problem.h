// Errors as RFC 7807 application/problem+json with type urn:ledger:problem:<code>
// (DESIGN §9). Every ledger Status becomes an HTTP answer here, in one place.
#pragma once

#include <string>

#include "api/http_types.h"
#include "ledger/status.h"

namespace api {

// A problem answer: `code` is the wire code ("invalid-field"); `detail` is fit for the
// caller (never a key, a secret or personal data); `extra` (a JSON object, may be empty)
// adds members such as "pointer" or "rule".
Response Problem(int status, const std::string& code, const std::string& detail,
                 const std::string& extra_json_members = "");

// The HTTP answer for a ledger error: rule violations keep their own rule code, not-writer
// and unavailable become 503 with Retry-After.
Response ProblemFromStatus(const ledger::Status& status);

}  // namespace api
