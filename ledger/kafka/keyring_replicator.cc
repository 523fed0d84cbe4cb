#include "ledger/kafka/keyring_replicator.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <mutex>
#include <thread>

#include "ledger/kafka/embedded_cluster.h"
#include "ledger/thread_name.h"

namespace ledger::kafka {

struct KeyringReplicator::Impl {
  Keyring* keyring = nullptr;
  rd_kafka_t* producer = nullptr;
  rd_kafka_t* consumer = nullptr;
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<uint64_t> applied{0};
  std::mutex publish_mu;  // one record in flight at a time

  ~Impl() {
    stop = true;
    if (thread.joinable()) thread.join();
    if (consumer) {
      rd_kafka_consumer_close(consumer);
      rd_kafka_destroy(consumer);
    }
    if (producer) {
      rd_kafka_flush(producer, 1000);
      rd_kafka_destroy(producer);
    }
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void*) {
    *static_cast<rd_kafka_resp_err_t*>(m->_private) = m->err;
  }

  void Follow() {
    while (!stop.load()) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, 100);
      if (m == nullptr) continue;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const std::string_view key(static_cast<const char*>(m->key), m->key_len);
        const std::string_view value(static_cast<const char*>(m->payload), m->len);
        auto record = DecodeKeyringRecord(key, m->payload == nullptr ? nullptr : &value);
        // A damaged record is skipped: it cannot be a key any event was sealed under,
        // since the writer's own keyring took it from the same bytes.
        if (record.ok() && keyring->Apply(*record).ok()) applied.fetch_add(1);
      }
      rd_kafka_message_destroy(m);
    }
  }
};

Result<std::unique_ptr<KeyringReplicator>> KeyringReplicator::Start(const ClientOptions& options, Keyring* keyring,
                                                                    int publish_timeout_ms) {
  std::unique_ptr<KeyringReplicator> r(new KeyringReplicator());
  r->impl_ = std::make_unique<Impl>();
  Impl& im = *r->impl_;
  im.keyring = keyring;
  char err[512];
  auto pconf = MakeClientConfig(options, {{"enable.idempotence", "true"},
                                          {"acks", "all"},
                                          {"linger.ms", "0"},
                                          {"message.timeout.ms", std::to_string(publish_timeout_ms)}});
  if (!pconf.ok()) return pconf.status();
  rd_kafka_conf_set_dr_msg_cb(*pconf, &Impl::OnDelivery);
  im.producer = rd_kafka_new(RD_KAFKA_PRODUCER, *pconf, err, sizeof err);
  if (im.producer == nullptr) return Status::Unavailable(std::string("cannot start the keyring publisher: ") + err);
  auto cconf = MakeClientConfig(options, {{"group.id", "ledger-keyring"},
                                          {"enable.auto.commit", "false"},
                                          {"enable.auto.offset.store", "false"},
                                          {"fetch.wait.max.ms", "50"}});
  if (!cconf.ok()) return cconf.status();
  im.consumer = rd_kafka_new(RD_KAFKA_CONSUMER, *cconf, err, sizeof err);
  if (im.consumer == nullptr) return Status::Unavailable(std::string("cannot start the keyring follower: ") + err);
  // The whole topic at every start: applying it is idempotent, and it is compacted.
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  rd_kafka_topic_partition_list_add(parts, kKeyringTopic, 0)->offset = RD_KAFKA_OFFSET_BEGINNING;
  rd_kafka_resp_err_t e = rd_kafka_assign(im.consumer, parts);
  rd_kafka_topic_partition_list_destroy(parts);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::Unavailable(std::string("cannot assign ") + kKeyringTopic + ": " + rd_kafka_err2str(e));
  im.thread = std::thread([&im] {
    NameThisThread("keyring-follow");
    im.Follow();
  });
  KeyringReplicator* self = r.get();
  keyring->SetReplication([self](const KeyringRecord& rec) { return self->Publish(rec); });
  return r;
}

KeyringReplicator::~KeyringReplicator() {
  if (impl_ && impl_->keyring) impl_->keyring->SetReplication(nullptr);
}

Status KeyringReplicator::Publish(const KeyringRecord& record) {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> lock(im.publish_mu);
  const std::string key = EncodeKeyringKey(record.key_id);
  const std::string value = EncodeKeyringValue(record);
  rd_kafka_resp_err_t delivered = RD_KAFKA_RESP_ERR__IN_PROGRESS;
  rd_kafka_resp_err_t e = rd_kafka_producev(
      im.producer, RD_KAFKA_V_TOPIC(kKeyringTopic), RD_KAFKA_V_PARTITION(0),
      RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
      // A tombstone is a null value (compaction then drops the key for good).
      RD_KAFKA_V_VALUE(record.tombstone ? nullptr : const_cast<char*>(value.data()), record.tombstone ? 0 : value.size()),
      RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_OPAQUE(&delivered), RD_KAFKA_V_END);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::Unavailable(std::string("cannot publish to the keyring topic: ") + rd_kafka_err2str(e));
  // Bounded by message.timeout.ms: the report always comes.
  while (delivered == RD_KAFKA_RESP_ERR__IN_PROGRESS) rd_kafka_poll(im.producer, 10);
  if (delivered != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::Unavailable(std::string("the keyring topic did not take the record: ") + rd_kafka_err2str(delivered));
  return Status::Ok();
}

uint64_t KeyringReplicator::applied() const { return impl_->applied.load(); }

}  // namespace ledger::kafka
