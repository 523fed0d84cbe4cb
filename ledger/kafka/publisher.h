// The writer's publisher (DESIGN §6): every committed batch becomes one Kafka message on
// the shard's partition, byte-identical to the stored batch, in position order, from an
// idempotent producer with acks=all and message.timeout.ms=0 (librdkafka never drops a
// message and leaves a gap; this publisher's own window is what is bounded).
//
// It publishes from the first batch beyond the store's canonical mark, so after a restart
// it resumes at the first batch not known canonical; resends are harmless because every
// reader applies the canonical rule. At most kPublishAheadBatchesMax batches are published
// beyond the canonical mark, so its own resends cannot push readers' offsets out of Kafka's
// window. After a delivery error it waits until nothing is in flight and republishes from
// the first batch not known canonical.
//
// The fast path (DESIGN §6): a delivery report may settle a batch without waiting for the
// reader. Batch k is canonical when the store's canonical mark ends right before it at
// offset o, k landed at o + 1, its epoch is the mark's epoch and this node owns it, and no
// delivery error has happened since k was sent; otherwise k waits for the reader. (Kafka
// assigned o + 1 to k, so nothing lies between: reading the partition, the canonical rule
// would accept k at exactly that place.) Whoever confirms first, the other's confirmation
// of the same bytes changes nothing.
//
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/kafka/client_options.h"

namespace ledger::kafka {

inline constexpr size_t kPublishAheadBatchesMax = 256;
// The publisher sleeps in librdkafka's poll, woken by a delivery report, by the store when
// a batch it waits for is committed or the canonical mark it waits for moves (a log
// watcher), or at stop; this bound is only a safety net.
inline constexpr int kPublishWaitMaxMs = 100;

using PublisherOptions = ClientOptions;

class Publisher {
 public:
  static Result<std::unique_ptr<Publisher>> Start(const PublisherOptions& options, EventStore* store);
  ~Publisher();

  struct Stats {
    uint64_t published = 0;        // messages produced (resends included)
    uint64_t delivered = 0;        // delivery reports without error
    uint64_t delivery_errors = 0;
    uint64_t republish_rounds = 0;
    Position published_through;    // last position handed to the producer
    uint64_t fast_path_confirmed = 0;        // batches settled by their delivery report
    uint64_t fast_path_after_error = 0;      // reports left to the reader: an error came first
    uint64_t sleeps_to_bound = 0;  // sleeps nothing ended before kPublishWaitMaxMs (idle, or a lost wake)
  };
  Stats stats() const;

 private:
  Publisher() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger::kafka
