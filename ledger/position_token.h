// Positions as clients see them: "shard:position" tokens (DESIGN §7), so that sharding
// never changes the contract. Pure functions.
#pragma once

#include <string>
#include <string_view>

#include "ledger/status.h"
#include "ledger/types.h"

namespace ledger {

struct ShardPosition {
  ShardId shard{0};
  Position position;
};

std::string PositionToken(ShardId shard, Position position);
// Errors: InvalidArgument unless `token` is <decimal shard>:<decimal position>, each fitting
// its type, with nothing else around them.
Result<ShardPosition> ParsePositionToken(std::string_view token);

}  // namespace ledger
