// What a running ledger node owns. A writer: its shard's event store, the Kafka side (the
// embedded cluster when no --kafka is given, the publisher, the log reader tailing its own
// partition and keeping the lease) and the shard's read models. A projector
// (--role projector --shards N,M): per shard, its own copy of the log filled by the log
// reader and the read models over it. Standby and failover are the standby issue's.
#pragma once

#include <memory>

#include "api/api_context.h"
#include "api/node_options.h"
#include "ledger/event_store.h"

namespace projections {
class Projector;
}

namespace api {

class NodeRuntime {
 public:
  // Opens the store, starts Kafka publishing and the reader, and on an empty log writes
  // the shard's first batch, WriterPromoted(1) naming this node (answered once canonical).
  static ledger::Result<std::unique_ptr<NodeRuntime>> Start(const NodeOptions& options);
  ~NodeRuntime();

  // The writer's store, or a projector's first shard's copy.
  ledger::EventStore* store() const;
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
