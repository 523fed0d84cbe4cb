#include "replay/replay.h"

#include <chrono>
#include <thread>

#include "ledger/kafka/log_reader.h"

namespace replay {

ledger::Result<std::unique_ptr<ledger::EventStore>> OpenForReplay(const std::string& store_dir, const std::string& scratch_dir,
                                                                  uint32_t shard) {
  ledger::StoreOptions o;
  o.path = store_dir;
  o.shard = ledger::ShardId(shard);
  o.create_if_missing = false;
  o.secondary_path = scratch_dir;
  return ledger::EventStore::Open(o);
}

ledger::Result<std::unique_ptr<ledger::EventStore>> CopyFromKafka(const KafkaSource& source, const std::string& scratch_dir,
                                                                  const Progress& progress) {
  ledger::StoreOptions o;
  o.path = scratch_dir + "/kafka-copy";
  o.shard = ledger::ShardId(source.shard);
  o.node_id = "ledger-replay";
  auto store = ledger::EventStore::Open(o);
  if (!store.ok()) return store.status();
  {
    // With a lease the reader asks Kafka for the partition's end and renews only once it
    // has read up to it: the first renewal says the copy holds the log as of then.
    constexpr int kLeaseMs = 2000;
    auto reader = ledger::kafka::LogReader::Start({source.bootstrap, ledger::ShardId(source.shard), source.properties},
                                                  store->get(), kLeaseMs);
    if (!reader.ok()) return reader.status();
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(source.timeout_s);
    for (;;) {
      const auto stats = (*reader)->stats();
      if (!stats.stopped.ok()) return stats.stopped;
      if (stats.lease_renewals > 0) break;
      if (std::chrono::steady_clock::now() > deadline)
        return ledger::Status::Unavailable("Kafka's partition was not read to its end within " +
                                           std::to_string(source.timeout_s) + " s");
      if (progress) progress((*store)->head().position.value(), 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }  // the reader stops here; the copy stays
  return store;
}

}  // namespace replay
