#include "api/problem.h"

#include <nlohmann/json.hpp>

#include "ledger/domain/decider.h"

namespace api {

Response Problem(int status, const std::string& code, const std::string& detail, const std::string& extra_json_members) {
  nlohmann::json body = {{"type", "urn:ledger:problem:" + code}, {"title", code}, {"status", status}, {"detail", detail}};
  if (!extra_json_members.empty()) {
    nlohmann::json extra = nlohmann::json::parse(extra_json_members, nullptr, false);
    if (extra.is_object())
      for (auto& [k, v] : extra.items()) body[k] = v;
  }
  Response r;
  r.status = status;
  r.content_type = "application/problem+json";
  r.body = body.dump();
  if (status == 503 || status == 429) r.headers.emplace_back("Retry-After", "1");
  return r;
}

Response ProblemFromStatus(const ledger::Status& s) {
  using ledger::Code;
  switch (s.code()) {
    case Code::kOk: return Problem(500, "internal", "an error without an error");
    case Code::kInvalidArgument: return Problem(400, "invalid-field", s.message());
    case Code::kNotFound: return Problem(404, "not-found", s.message());
    case Code::kVersionConflict: return Problem(409, "version-conflict", s.message());
    case Code::kIdempotencyKeyReused: return Problem(422, "idempotency-key-reused", s.message());
    case Code::kTooLarge: return Problem(413, "body-too-large", s.message());
    case Code::kRuleViolated: {
      const std::string rule = ledger::domain::RuleCode(s);
      // "payment-not-found" and the like: 404, the same answer whether the id does not
      // exist or belongs to another tenant, so ids do not leak.
      const std::string suffix = "-not-found";
      if (rule.size() > suffix.size() && rule.compare(rule.size() - suffix.size(), suffix.size(), suffix) == 0)
        return Problem(404, "not-found", s.message(), nlohmann::json{{"rule", rule}}.dump());
      return Problem(422, "rule-violated", s.message(), nlohmann::json{{"rule", rule}}.dump());
    }
    case Code::kUnavailable: return Problem(503, "kafka-unavailable", s.message());
    case Code::kNotWriter: return Problem(503, "not-writer", s.message());
    case Code::kShuttingDown: return Problem(503, "not-writer", "the node is shutting down");
    case Code::kCorruption:
    case Code::kIOError:
    case Code::kNotALedgerStore:
    case Code::kDiverged:
      // Details of a storage failure are for the operator's log, not the caller.
      return Problem(500, "internal", "the node cannot serve this request; the operator has been told");
  }
  return Problem(500, "internal", "unknown error");
}

}  // namespace api
