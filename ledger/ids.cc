#include "ledger/ids.h"

#include <array>
#include <string>

namespace ledger {
namespace {

// Kinds of per-merchant streams: <kind>/<merchant>/<id>.
constexpr std::array<std::string_view, 9> kMerchantStreamKinds = {
    "store", "customer", "order", "payment", "dispute", "payout", "message", "provider-ref",
    "account"};
// Kinds of platform streams in shard 0: <kind>/<id>.
constexpr std::array<std::string_view, 6> kPlatformStreamKinds = {
    "key", "outage", "subscriber", "merchant", "writer", "digest"};
// Platform streams without an id.
constexpr std::array<std::string_view, 1> kPlatformSingletonStreams = {"fee-recipe"};

template <size_t N>
bool Contains(const std::array<std::string_view, N>& set, std::string_view v) {
  for (auto s : set)
    if (s == v) return true;
  return false;
}

}  // namespace

bool IsValidMerchantId(std::string_view id) {
  if (id.empty() || id.size() > kMerchantIdLengthMax) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

bool IsValidEntityId(std::string_view id) {
  if (id.empty() || id.size() > kEntityIdLengthMax) return false;
  for (char c : id) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == ':' || c == '-';
    if (!ok) return false;
  }
  return true;
}

Status ValidateStreamName(std::string_view stream) {
  if (stream.empty()) return Status::InvalidArgument("stream name is empty");
  if (Contains(kPlatformSingletonStreams, stream)) return Status::Ok();
  size_t first = stream.find('/');
  if (first == std::string_view::npos)
    return Status::InvalidArgument("stream name must be <kind>/<merchant>/<id> or <kind>/<id>");
  std::string_view kind = stream.substr(0, first);
  std::string_view rest = stream.substr(first + 1);
  if (Contains(kPlatformStreamKinds, kind)) {
    if (!IsValidEntityId(rest))
      return Status::InvalidArgument("platform stream id must match [A-Za-z0-9._:-]{1,64}");
    return Status::Ok();
  }
  if (!Contains(kMerchantStreamKinds, kind))
    return Status::InvalidArgument("unknown stream kind");
  size_t second = rest.find('/');
  if (second == std::string_view::npos)
    return Status::InvalidArgument("stream name must be <kind>/<merchant>/<id>");
  if (!IsValidMerchantId(rest.substr(0, second)))
    return Status::InvalidArgument("merchant id in stream must match [a-z0-9_]{1,32}");
  if (!IsValidEntityId(rest.substr(second + 1)))
    return Status::InvalidArgument("id in stream must match [A-Za-z0-9._:-]{1,64}");
  return Status::Ok();
}

Status ValidateIdempotencyKey(std::string_view key) {
  if (key.empty() || key.size() > kIdempotencyKeyLengthMax)
    return Status::InvalidArgument("idempotency key must be 1 to 255 characters");
  for (unsigned char c : key)
    if (c < 0x21 || c > 0x7e)
      return Status::InvalidArgument("idempotency key must be printable ASCII without spaces");
  return Status::Ok();
}

std::string ScopedSubscriberId(std::string_view owner_merchant_id, std::string_view chosen) {
  if (owner_merchant_id.empty()) return std::string(chosen);
  std::string scoped(owner_merchant_id);
  scoped += ':';
  scoped += chosen;
  return scoped;
}

std::string ChosenSubscriberId(std::string_view owner_merchant_id, std::string_view scoped) {
  // A platform subscriber is an admin's (unscoped) or an auditor's (scoped by the role).
  const std::string_view scope = owner_merchant_id.empty() ? kAuditorSubscriberScope : owner_merchant_id;
  if (scoped.size() > scope.size() && scoped.substr(0, scope.size()) == scope && scoped[scope.size()] == ':')
    return std::string(scoped.substr(scope.size() + 1));
  return std::string(scoped);
}

size_t SubscriberIdLengthMax(std::string_view owner_merchant_id) {
  if (owner_merchant_id.empty()) return kEntityIdLengthMax;
  return owner_merchant_id.size() + 1 >= kEntityIdLengthMax ? 0 : kEntityIdLengthMax - owner_merchant_id.size() - 1;
}

std::string AsciiLower(std::string_view text) {
  std::string out(text);
  for (char& c : out)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return out;
}

}  // namespace ledger
