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
  ledger::kafka::LogReader::Stats read;
  {
    // With a lease the reader asks Kafka for the partition's end and renews only once it
    // has read up to it: the first renewal says the copy holds the log as of then.
    constexpr int kLeaseMs = 2000;
    auto reader = ledger::kafka::LogReader::Start({source.bootstrap, ledger::ShardId(source.shard), source.properties},
                                                  store->get(), kLeaseMs);
    if (!reader.ok()) return reader.status();
    const auto started = std::chrono::steady_clock::now();
    const auto answer_deadline = started + std::chrono::milliseconds(source.answer_timeout_ms);
    const auto deadline = started + std::chrono::seconds(source.timeout_s);
    for (;;) {
      LEDGER_RETURN_IF_ERROR(CheckStop(source.stop));
      read = (*reader)->stats();
      if (!read.stopped.ok()) return read.stopped;
      if (read.lease_renewals > 0) break;
      const auto now = std::chrono::steady_clock::now();
      // librdkafka retries an unreachable bootstrap for ever: the lease's end-offset
      // question is the first thing only a broker can answer.
      if (read.end_offset < 0 && now > answer_deadline)
        return ledger::Status::Unavailable("no Kafka broker at " + source.bootstrap + " answered within " +
                                           std::to_string(source.answer_timeout_ms) + " ms");
      if (now > deadline)
        return ledger::Status::Unavailable("Kafka's partition was not read to its end within " +
                                           std::to_string(source.timeout_s) + " s");
      if (progress) progress((*store)->head().position.value(), 0);
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }  // the reader stops here; the copy stays
  // The reader skips a batch that does not continue its chain (a duplicate, another
  // writer's), so a partition whose first batch starts after position 1 leaves the copy
  // empty, and an empty copy verifies as intact. The topic held events: say which.
  if ((*store)->head().position.value() == 0 && read.last_read.value() > 0) {
    const std::string held = std::to_string(read.first_read.value()) + ".." + std::to_string(read.last_read.value());
    if (read.first_read.value() > 1)
      return ledger::Status::Corruption("the topic does not begin at position 1 (it holds positions " + held +
                                        "), so the chain cannot be verified from genesis");
    return ledger::Status::Corruption("none of the topic's batches (positions " + held +
                                      ") continues the chain from genesis");
  }
  return store;
}

}  // namespace replay
