// The keyring's replication (DESIGN §12): new wrapped data keys and tombstones go to the
// compacted topic `ledger.keyring` (one partition, key = key id) before they take effect
// on the node that made them, and every node applies the whole topic, from its beginning,
// to its own keyring. A standby that takes over can therefore open every customer the
// writer could, and an erasure reaches every node. The wrapped keys open only with the
// secrets key the nodes share; no raw key ever reaches Kafka.
// Thread-safety: all methods may be called from any thread.
#pragma once

#include <memory>

#include "ledger/kafka/client_options.h"
#include "ledger/keyring.h"

namespace ledger::kafka {

inline constexpr int kKeyringPublishTimeoutMs = 10000;

class KeyringReplicator {
 public:
  // Starts following the topic into `keyring` and makes the keyring publish through it
  // (Keyring::SetReplication). `keyring` must outlive the replicator.
  static Result<std::unique_ptr<KeyringReplicator>> Start(const ClientOptions& options, Keyring* keyring,
                                                          int publish_timeout_ms = kKeyringPublishTimeoutMs);
  ~KeyringReplicator();  // detaches from the keyring, then stops

  // Produces one record and waits until it is acknowledged by all in-sync replicas.
  // Unavailable when Kafka does not acknowledge within the publish timeout.
  Status Publish(const KeyringRecord& record);

  // Records applied from the topic so far (tests).
  uint64_t applied() const;

 private:
  KeyringReplicator() = default;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace ledger::kafka
