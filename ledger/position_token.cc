#include "ledger/position_token.h"

#include <charconv>

namespace ledger {

std::string PositionToken(ShardId shard, Position position) {
  return std::to_string(shard.value()).append(":").append(std::to_string(position.value()));
}

namespace {
template <typename T>
bool ParseDecimal(std::string_view s, T* out) {
  if (s.empty() || s.size() > 20) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  auto [ptr, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && ptr == s.data() + s.size();
}
}  // namespace

Result<ShardPosition> ParsePositionToken(std::string_view token) {
  const size_t colon = token.find(':');
  uint32_t shard = 0;
  uint64_t position = 0;
  if (colon == std::string_view::npos || !ParseDecimal(token.substr(0, colon), &shard) ||
      !ParseDecimal(token.substr(colon + 1), &position))
    return Status::InvalidArgument("a position is a token shard:position, e.g. 0:42");
  return ShardPosition{ShardId(shard), Position(position)};
}

}  // namespace ledger
