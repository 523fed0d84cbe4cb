// What the routes of one node work with. Pointers are not owned. Whether the node writes
// changes while it runs (a standby promotes, a writer is fenced): the routes ask `writer`
// on every request; with no sequencer there, writes answer 503 not-writer.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include "ledger/status.h"

namespace ledger {
class EventStore;
class Keyring;
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

// Who writes the shard, as this node sees it. Thread-safe.
class WriterSlot {
 public:
  struct View {
    std::shared_ptr<ledger::domain::Sequencer> sequencer;  // set while this node writes
    std::string writer_url;  // where writes go when it does not ("" unknown)
  };
  View get() const {
    std::lock_guard<std::mutex> lock(mu_);
    return view_;
  }
  void set(View v) {
    std::lock_guard<std::mutex> lock(mu_);
    view_ = std::move(v);
  }

 private:
  mutable std::mutex mu_;
  View view_;
};

// Planned switch-overs (admin routes); implemented by the node's shard.
class RoleControl {
 public:
  virtual ~RoleControl() = default;
  virtual ledger::Status Promote() = 0;
  virtual ledger::Status Demote() = 0;
};

struct ApiContext {
  ledger::EventStore* store = nullptr;
  const WriterSlot* writer = nullptr;  // null: never writes (a projector)
  std::shared_ptr<ledger::domain::Sequencer> sequencer() const {
    return writer == nullptr ? nullptr : writer->get().sequencer;
  }
  const projections::Projector* projector = nullptr;
  uint32_t shard = 0;
  std::string node_id;
  RateLimiter* rate_limiter = nullptr;  // null: no limit (tests of other things)
  const std::array<uint8_t, 32>* secrets_key = nullptr;  // null: secrets cannot be taken
  bool allow_private_webhooks = false;
  RoleControl* roles = nullptr;  // null: no switch-overs (a projector, tests)
  ledger::Keyring* keyring = nullptr;  // null: personal fields are refused (no --secrets-key-file)
};

}  // namespace api
