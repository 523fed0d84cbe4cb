// One shard kept by a writer or a hot standby (DESIGN §8), and the moves between the two.
//
// Both roles hold the same things: the shard's event store, the log reader tailing the
// partition (it keeps the lease), and the read models. A writer adds the publisher and the
// sequencer. A monitor thread watches:
//  - as a standby, the writer's signs of life: a 200 from its /health/writer (probed) or a
//    new canonical batch. After --failover-after-ms with neither it promotes: reads the
//    partition to its end (a batch that arrived meanwhile means the writer lives: it goes
//    on following), then appends WriterPromoted(highest epoch + 1, its id and address)
//    with the failover's outage notice as one command; once that batch is canonical it
//    writes; if another batch took its place it rejoins as a standby;
//  - as a writer, fencing: a canonical batch not its own (its reader tails its own
//    partition, so an idle writer notices too). It then rejoins: local events beyond the
//    canonical log go to quarantine (reported in the log and on /metrics), and it follows.
//    A failover's outage notice is resolved after --resolve-after-s without another one.
// A node started as writer reads the partition to its end first and writes only when the
// latest canonical WriterPromoted names it (or the log is empty); otherwise it follows.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "api/api_context.h"
#include "api/node_options.h"
#include "ledger/event_store.h"

namespace projections {
class Projector;
}

namespace api {

class ReplicatedShard : public RoleControl {
 public:
  // `bootstrap` is the Kafka cluster; `embedded` when it is this process's own (then the
  // node is the writer by construction and the topic starts empty: a new incarnation).
  // On an empty log the writer first calls `before_genesis` (the first admin key is drawn
  // there), then writes the shard's first batch, WriterPromoted(1) naming this node.
  //
  // `wrap_store`, for tests: given the opened event store, returns the one the shard uses
  // (a wrapper injecting faults, such as a write that fails inside a running node).
  using StoreWrapper = std::function<std::unique_ptr<ledger::EventStore>(std::unique_ptr<ledger::EventStore>)>;
  static ledger::Result<std::unique_ptr<ReplicatedShard>> Start(const NodeOptions& options, const std::string& bootstrap,
                                                                bool embedded,
                                                                const std::function<ledger::Status()>& before_genesis,
                                                                const StoreWrapper& wrap_store = nullptr);
  ~ReplicatedShard() override;

  ledger::EventStore* store() const;
  const projections::Projector* projector() const;
  const WriterSlot* writer() const;
  bool writing() const;

  // Planned switch-overs (POST /v1/admin/promote, /v1/admin/demote).
  // Promote: a standby promotes now, without waiting for the writer to fall silent (the
  // canonical rule keeps it safe; the old writer is fenced). Demote: the writer stops
  // taking writes, waits until all it wrote is canonical, and follows; it does not
  // promote itself for a while, so that the standby chosen for the switch takes over.
  ledger::Status Promote() override;
  ledger::Status Demote() override;

  // Prometheus lines: role, promotions, rejoins, quarantined events.
  std::string Metrics() const;

 private:
  ReplicatedShard();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace api
