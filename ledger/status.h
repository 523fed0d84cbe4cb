// Status and Result<T>: how errors cross module boundaries, as values, never exceptions.
//
// A Status carries a stable Code (what the caller should do) and a message fit for a
// merchant or an operator. Messages never contain keys, secrets or personal data.
// The API maps Codes to HTTP statuses in one switch (api/), so codes are a contract:
// add new ones, never renumber or rename them.
#pragma once

#include <cassert>
#include <string>
#include <string_view>
#include <utility>
#include <variant>

namespace ledger {

enum class Code {
  kOk = 0,
  kInvalidArgument,       // malformed input: retrying the same call cannot succeed
  kNotFound,
  kVersionConflict,       // expected stream version did not match: re-read and retry
  kIdempotencyKeyReused,  // same idempotency key, different request
  kTooLarge,              // record, command or batch over its named limit
  kRuleViolated,          // a domain rule: do not retry
  kUnavailable,           // transient (queue full, Kafka down): retry the same call later
  kCorruption,            // stored bytes fail a check: stop and alert
  kIOError,               // the disk failed us: the store stops accepting writes
  kNotALedgerStore,       // a directory that is not (or not this) ledger store
  kShuttingDown,
  kDiverged,              // local events beyond the canonical log differ from it (rejoin)
  kNotWriter,             // this node is not (or no longer) the shard's writer: go to it
};

// Stable, wire-visible name of a code ("version-conflict").
std::string_view CodeName(Code code);

class [[nodiscard]] Status {
 public:
  Status() = default;
  Status(Code code, std::string message) : code_(code), message_(std::move(message)) {}

  static Status Ok() { return Status(); }
  static Status InvalidArgument(std::string m) { return {Code::kInvalidArgument, std::move(m)}; }
  static Status NotFound(std::string m) { return {Code::kNotFound, std::move(m)}; }
  static Status VersionConflict(std::string m) { return {Code::kVersionConflict, std::move(m)}; }
  static Status IdempotencyKeyReused(std::string m) {
    return {Code::kIdempotencyKeyReused, std::move(m)};
  }
  static Status TooLarge(std::string m) { return {Code::kTooLarge, std::move(m)}; }
  static Status RuleViolated(std::string m) { return {Code::kRuleViolated, std::move(m)}; }
  static Status Unavailable(std::string m) { return {Code::kUnavailable, std::move(m)}; }
  static Status Corruption(std::string m) { return {Code::kCorruption, std::move(m)}; }
  static Status IOError(std::string m) { return {Code::kIOError, std::move(m)}; }
  static Status NotALedgerStore(std::string m) { return {Code::kNotALedgerStore, std::move(m)}; }
  static Status ShuttingDown(std::string m) { return {Code::kShuttingDown, std::move(m)}; }
  static Status Diverged(std::string m) { return {Code::kDiverged, std::move(m)}; }
  static Status NotWriter(std::string m) { return {Code::kNotWriter, std::move(m)}; }

  bool ok() const { return code_ == Code::kOk; }
  Code code() const { return code_; }
  const std::string& message() const { return message_; }
  std::string ToString() const;

  // For call sites that deliberately drop a status; reviewers can grep for it.
  void IgnoreError() const {}

 private:
  Code code_ = Code::kOk;
  std::string message_;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Status status) : v_(std::move(status)) {  // NOLINT
    assert(!std::get<Status>(v_).ok() && "Result built from an OK status has no value");
  }

  bool ok() const { return std::holds_alternative<T>(v_); }
  const Status& status() const {
    static const Status kOk;
    return ok() ? kOk : std::get<Status>(v_);
  }
  T& value() & {
    assert(ok());
    return std::get<T>(v_);
  }
  const T& value() const& {
    assert(ok());
    return std::get<T>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<T>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }

 private:
  std::variant<T, Status> v_;
};

}  // namespace ledger

#define LEDGER_RETURN_IF_ERROR(expr)       \
  do {                                     \
    ::ledger::Status _st = (expr);         \
    if (!_st.ok()) return _st;             \
  } while (0)

// Invariants: kept on in release builds (CMake strips -DNDEBUG). A broken invariant is a
// programmer error, never an operating error; it aborts with the condition and location.
#define LEDGER_INVARIANT(cond)                                                   \
  do {                                                                           \
    if (!(cond)) ::ledger::internal::InvariantFailed(#cond, __FILE__, __LINE__); \
  } while (0)

namespace ledger::internal {
[[noreturn]] void InvariantFailed(const char* cond, const char* file, int line);
}  // namespace ledger::internal
