// What a running ledger node owns. A writer or a standby: its shard (replicated_shard.h:
// the event store, the Kafka side, the read models, and the moves between the two roles),
// plus the embedded Kafka-protocol cluster when no --kafka is given. A projector
// (--role projector --shards N,M): per shard, its own copy of the log filled by the log
// reader and the read models over it.
#pragma once

#include <memory>

#include "api/api_context.h"
#include "api/node_options.h"
#include "ledger/event_store.h"

namespace projections {
class Projector;
}

namespace api {

class ReplicatedShard;

class NodeRuntime {
 public:
  // Opens the store, starts the reader (and, for the writer, publishing), and on an empty
  // log writes the shard's first batch, WriterPromoted(1) naming this node.
  static ledger::Result<std::unique_ptr<NodeRuntime>> Start(const NodeOptions& options);
  ~NodeRuntime();

  // The writer's or standby's store, or a projector's first shard's copy.
  ledger::EventStore* store() const;
  // The writer's or standby's shard; null on a projector.
  ReplicatedShard* replicated() const;
  // The read models of that shard.
  const projections::Projector* projector() const;
  // What the HTTP routes work with (valid while the runtime lives).
  ApiContext api_context(const NodeOptions& options) const;
  const std::string& kafka_bootstrap() const;

 private:
  NodeRuntime();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace api
