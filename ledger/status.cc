#include "ledger/status.h"

#include <cstdio>
#include <cstdlib>

namespace ledger {

std::string_view CodeName(Code code) {
  switch (code) {
    case Code::kOk: return "ok";
    case Code::kInvalidArgument: return "invalid-argument";
    case Code::kNotFound: return "not-found";
    case Code::kVersionConflict: return "version-conflict";
    case Code::kIdempotencyKeyReused: return "idempotency-key-reused";
    case Code::kTooLarge: return "too-large";
    case Code::kRuleViolated: return "rule-violated";
    case Code::kUnavailable: return "unavailable";
    case Code::kCorruption: return "corruption";
    case Code::kIOError: return "io-error";
    case Code::kNotALedgerStore: return "not-a-ledger-store";
    case Code::kShuttingDown: return "shutting-down";
    case Code::kDiverged: return "diverged";
    case Code::kNotWriter: return "not-writer";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  std::string out(CodeName(code_));
  out += ": ";
  out += message_;
  return out;
}

namespace internal {
void InvariantFailed(const char* cond, const char* file, int line) {
  std::fprintf(stderr, "invariant failed: %s at %s:%d\n", cond, file, line);
  std::fflush(stderr);
  std::abort();
}
}  // namespace internal

}  // namespace ledger
