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
// Not yet here (issue 4): acknowledging callers only once canonical (the `replicated` ack
// level), the fast path, the lease. Thread-safety: all methods may be called from any
// thread.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ledger/event_store.h"
#include "ledger/kafka/client_options.h"

namespace ledger::kafka {

inline constexpr size_t kPublishAheadBatchesMax = 256;
inline constexpr int kPublishIdleWaitMs = 1;

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
  };
  Stats stats() const;

 private:
  Publisher() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger::kafka
