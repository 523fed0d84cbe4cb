// What a running ledger node owns: its shard's event store and, for the writer, the Kafka
// side (the embedded cluster when no --kafka is given, the publisher, and the log reader
// tailing its own partition). Single-node writer only for now; standby and failover are
// the standby issue's.
#pragma once

#include <memory>

#include "api/node_options.h"
#include "ledger/event_store.h"

namespace api {

class NodeRuntime {
 public:
  // Opens the store, starts Kafka publishing and the reader, and on an empty log writes
  // the shard's first batch, WriterPromoted(1) naming this node (answered once canonical).
  static ledger::Result<std::unique_ptr<NodeRuntime>> Start(const NodeOptions& options);
  ~NodeRuntime();

  ledger::EventStore* store() const;
  const std::string& kafka_bootstrap() const;

 private:
  NodeRuntime();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace api
