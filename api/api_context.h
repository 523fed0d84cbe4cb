// What the routes of one node work with. Pointers are not owned; `sequencer` is null on a
// node that does not write (a projector), where writes answer 503 not-writer.
#pragma once

#include <array>
#include <cstdint>
#include <string>

namespace ledger {
class EventStore;
namespace domain {
class Sequencer;
}
}  // namespace ledger
namespace projections {
class Projector;
}

namespace api {

class RateLimiter;
class Metrics;

struct ApiContext {
  ledger::EventStore* store = nullptr;
  ledger::domain::Sequencer* sequencer = nullptr;
  const projections::Projector* projector = nullptr;
  uint32_t shard = 0;
  std::string node_id;
  RateLimiter* rate_limiter = nullptr;  // null: no limit (tests of other things)
  const std::array<uint8_t, 32>* secrets_key = nullptr;  // null: secrets cannot be taken
  bool allow_private_webhooks = false;
  std::string writer_url;  // a standby's writer: named in its 503 not-writer answers
};

}  // namespace api
