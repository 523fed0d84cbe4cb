// An in-process cluster that speaks the Kafka protocol on 127.0.0.1 (librdkafka's mock
// cluster): the embedded default of DESIGN §6 and the body of `ledgerd dev-broker`.
// It keeps only a bounded window per partition and nothing across a restart (see
// ../shared/DEPENDENCIES.md); `replicated` then protects no more than the local disk.
//
// Thread-safety: the cluster runs on librdkafka's threads; the methods may be called from
// any thread.
#pragma once

#include <memory>
#include <string>

#include "ledger/status.h"

namespace ledger::kafka {

inline constexpr const char* kEventsTopic = "ledger.events";
// Customers' wrapped data keys (DESIGN §12), compacted on real clusters; one partition.
inline constexpr const char* kKeyringTopic = "ledger.keyring";
inline constexpr int kEmbeddedBrokers = 3;

class EmbeddedCluster {
 public:
  // Starts `brokers` brokers and creates `ledger.events` with `partitions` partitions and
  // `ledger.keyring` with one.
  static Result<std::unique_ptr<EmbeddedCluster>> Start(int brokers, int partitions);
  ~EmbeddedCluster();

  // "127.0.0.1:port,..." for clients.
  const std::string& bootstrap() const { return bootstrap_; }

  // Fault injection for tests: take a broker (1..brokers) down or up.
  Status SetBrokerDown(int broker_id);
  Status SetBrokerUp(int broker_id);
  // Fault injection for tests: the next `count` produce requests fail with Kafka error
  // `kafka_error` (e.g. 10, MESSAGE_TOO_LARGE: not retried, so the producer reports a
  // delivery error).
  Status FailNextProduces(size_t count, int kafka_error);

 private:
  EmbeddedCluster() = default;
  struct Handles;
  std::unique_ptr<Handles> h_;
  std::string bootstrap_;
};

// Writes `content` to `path` atomically (temporary file, fsync, rename), so a reader never
// sees half a bootstrap address.
Status WriteFileAtomically(const std::string& path, const std::string& content);

}  // namespace ledger::kafka
