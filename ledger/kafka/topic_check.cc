#include "ledger/kafka/topic_check.h"

#include <librdkafka/rdkafka.h>

#include <memory>

#include "ledger/kafka/embedded_cluster.h"

namespace ledger::kafka {

Result<TopicCheck> CheckTopic(const ClientOptions& options, EventStore* store, bool accept_new_topic,
                              const std::string& owner) {
  auto conf = MakeClientConfig(options, {});
  if (!conf.ok()) return conf.status();
  char err[512];
  std::unique_ptr<rd_kafka_t, decltype(&rd_kafka_destroy)> client(
      rd_kafka_new(RD_KAFKA_PRODUCER, *conf, err, sizeof err), &rd_kafka_destroy);
  if (!client) return Status::Unavailable(std::string("cannot start a Kafka client: ") + err);
  TopicCheck check;
  char* id = rd_kafka_clusterid(client.get(), kTopicCheckTimeoutMs);
  if (id == nullptr) return Status::Unavailable("Kafka did not say its cluster id in time");
  check.cluster_id = id;
  rd_kafka_mem_free(client.get(), id);
  int64_t low = 0;
  rd_kafka_resp_err_t e = rd_kafka_query_watermark_offsets(client.get(), kEventsTopic,
                                                           static_cast<int32_t>(options.shard.value()), &low,
                                                           &check.end_offset, kTopicCheckTimeoutMs);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::Unavailable(std::string("cannot read the end of ledger.events: ") + rd_kafka_err2str(e));

  const std::string known = store->kafka_cluster_id();
  const CanonicalMark mark = store->canonical_mark();
  const bool other_cluster = !known.empty() && known != check.cluster_id;
  const bool shorter = mark.offset >= 0 && check.end_offset <= mark.offset;
  check.went_back = other_cluster || shorter;
  if (check.went_back) {
    const std::string why = other_cluster ? "the Kafka cluster id changed"
                                          : "the partition ends at offset " + std::to_string(check.end_offset) +
                                                ", before the canonical head's offset " + std::to_string(mark.offset);
    if (!accept_new_topic)
      return Status::InvalidArgument("ledger.events went back (" + why +
                                     "): it was recreated or is another cluster's. Start with --accept-new-topic to "
                                     "go on from this store's head in a new incarnation of the topic");
    LEDGER_RETURN_IF_ERROR(store->StartNewKafkaIncarnation(store->writer_epoch(), owner));
  }
  LEDGER_RETURN_IF_ERROR(store->SetKafkaClusterId(check.cluster_id));
  return check;
}

}  // namespace ledger::kafka
