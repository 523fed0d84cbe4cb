#include "ledger/kafka/publisher.h"

#include <librdkafka/rdkafka.h>

#include <atomic>
#include <chrono>
#include <deque>
#include <mutex>
#include <thread>

#include "ledger/kafka/canonical_rule.h"
#include "ledger/kafka/embedded_cluster.h"
#include "ledger/thread_name.h"

namespace ledger::kafka {

struct Publisher::Impl {
  PublisherOptions options;
  EventStore* store = nullptr;
  rd_kafka_t* producer = nullptr;
  rd_kafka_queue_t* reports = nullptr;  // the producer's main queue, which poll serves
  uint64_t watcher_id = 0;
  // What the sleeping publisher waits for (0: not that; both are positions after one it
  // has seen, so never 0 when set): the head, or the canonical mark, reaching this
  // position. Set before it looks a last time, then sleeps.
  std::atomic<uint64_t> wake_at_head{0};
  std::atomic<uint64_t> wake_at_canonical{0};
  std::thread thread;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> in_flight{0};
  std::atomic<uint64_t> errors_since_round{0};
  std::atomic<uint64_t> error_generation{0};  // delivery errors ever; sent with each message
  mutable std::mutex mu;
  Stats stats;  // GUARDED_BY(mu)

  ~Impl() {
    if (watcher_id != 0) store->RemoveLogWatcher(watcher_id);
    stop = true;
    if (reports != nullptr) rd_kafka_queue_yield(reports);
    if (thread.joinable()) thread.join();
    if (reports != nullptr) rd_kafka_queue_destroy(reports);
    if (producer) {
      rd_kafka_flush(producer, 1000);
      rd_kafka_destroy(producer);
    }
  }

  static void OnDelivery(rd_kafka_t*, const rd_kafka_message_t* m, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    self->in_flight.fetch_sub(1);
    if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
      self->error_generation.fetch_add(1);
      self->errors_since_round.fetch_add(1);
      std::lock_guard<std::mutex> lock(self->mu);
      self->stats.delivery_errors++;
      return;
    }
    {
      std::lock_guard<std::mutex> lock(self->mu);
      self->stats.delivered++;
    }
    const auto sent_in_generation = reinterpret_cast<uintptr_t>(m->_private);
    if (sent_in_generation != self->error_generation.load()) {
      std::lock_guard<std::mutex> lock(self->mu);
      self->stats.fast_path_after_error++;
      return;
    }
    self->FastPath(std::string_view(static_cast<const char*>(m->payload), m->len), m->offset);
  }

  // Settles a delivered batch when the fast path's conditions hold (see publisher.h).
  void FastPath(std::string_view bytes, int64_t offset) {
    const CanonicalMark mark = store->canonical_mark();
    auto facts = FactsOf(bytes);
    if (!facts.ok() || facts->first != mark.position.next() || offset != mark.offset + 1 ||
        facts->epoch != mark.epoch || facts->node_id != mark.owner || facts->previous_hash != mark.hash)
      return;  // the reader decides
    const CanonicalMark after{facts->last, facts->last_hash, mark.epoch, mark.owner, offset};
    if (!store->AppendCanonicalBatch(bytes, after).ok()) return;  // the reader will say why
    std::lock_guard<std::mutex> lock(mu);
    stats.fast_path_confirmed++;
  }

  // Produces one batch; false when the producer's queue is full (try again later).
  bool Produce(const std::string& bytes) {
    const std::string key = std::to_string(options.shard.value());
    rd_kafka_resp_err_t e = rd_kafka_producev(
        producer, RD_KAFKA_V_TOPIC(kEventsTopic), RD_KAFKA_V_PARTITION(static_cast<int32_t>(options.shard.value())),
        RD_KAFKA_V_KEY(const_cast<char*>(key.data()), key.size()),
        RD_KAFKA_V_VALUE(const_cast<char*>(bytes.data()), bytes.size()), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
        // The error generation it was sent in: the fast path needs none since.
        RD_KAFKA_V_OPAQUE(reinterpret_cast<void*>(static_cast<uintptr_t>(error_generation.load()))), RD_KAFKA_V_END);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return false;
    in_flight.fetch_add(1);
    std::lock_guard<std::mutex> lock(mu);
    stats.published++;
    return true;
  }

  void Run() {
    // Connect now: the idempotent producer gets its producer id once a broker is up, which
    // took the best part of a second on the first produce. A standby's publisher, which has
    // nothing to publish until a promotion, is then ready for it.
    {
      rd_kafka_topic_t* topic = rd_kafka_topic_new(producer, kEventsTopic, nullptr);
      const rd_kafka_metadata_t* md = nullptr;
      if (topic != nullptr && rd_kafka_metadata(producer, 0, topic, &md, 2000) == RD_KAFKA_RESP_ERR_NO_ERROR)
        rd_kafka_metadata_destroy(md);
      if (topic != nullptr) rd_kafka_topic_destroy(topic);
    }
    Position next = store->canonical_mark().position.next();  // first batch not known canonical
    while (!stop.load()) {
      rd_kafka_poll(producer, 0);  // delivery reports
      if (errors_since_round.load() > 0) {
        // Republish in order from the first batch not known canonical, once nothing is in
        // flight, so no later batch can land ahead of an earlier one that failed.
        if (in_flight.load() > 0) {
          if (!stop.load()) rd_kafka_poll(producer, kPublishWaitMaxMs);  // each report ends the wait
          continue;
        }
        errors_since_round = 0;
        next = store->canonical_mark().position.next();
        published_lasts_.clear();
        std::lock_guard<std::mutex> lock(mu);
        stats.republish_rounds++;
      }
      const uint64_t canonical = store->canonical_mark().position.value();
      bool progressed = false;
      bool capped = false;   // stopped by kPublishAheadBatchesMax
      bool blocked = false;  // stopped by the producer's full queue or a batch it cannot read
      // Nothing new committed: wait, without touching the batch index.
      const bool committed_more = store->head().position.value() >= next.value();
      auto batches = committed_more ? store->ReadBatches(next, 64)
                                    : Result<std::vector<std::string>>(std::vector<std::string>{});
      // A head past `next` with no batch starting there is not "nothing new": waiting for
      // the head to reach `next` would return at once, round after round.
      blocked = !batches.ok() || (committed_more && batches->empty());
      if (batches.ok()) {
        for (const std::string& b : *batches) {
          auto facts = FactsOf(b);
          if (!facts.ok()) {  // the store is checked at open and on every read; stop here
            blocked = true;
            break;
          }
          // Canonical already: a batch a follower appended (a standby's publisher has only
          // these), never one to publish again.
          if (facts->last.value() <= store->canonical_mark().position.value()) {
            next = facts->last.next();
            progressed = true;
            continue;
          }
          // Bound what is published beyond the canonical mark (DESIGN §6, republishing).
          if (PublishedAhead(canonical) >= kPublishAheadBatchesMax) {
            capped = true;
            break;
          }
          if (!Produce(b)) {
            blocked = true;
            break;
          }
          next = facts->last.next();
          published_lasts_.push_back(facts->last.value());
          std::lock_guard<std::mutex> lock(mu);
          stats.published_through = facts->last;
          progressed = true;
        }
      }
      if (!progressed) Sleep(next, capped, blocked, canonical);
    }
  }

  // Sleeps until what stopped a round that published nothing may have changed: the head
  // reaching `next` (nothing new), the canonical mark passing `canonical` (`capped`), a
  // delivery report (`blocked`: the producer's queue was full) or the bound (`blocked`: a
  // batch that could not be read, or none starting at `next`; tried again). A delivery
  // report, which the fast path may settle, and stop end any of these.
  void Sleep(Position next, bool capped, bool blocked, uint64_t canonical) {
    if (stop.load()) return;  // the stop's yield may have been taken by the round's poll(0)
    if (blocked) {
      rd_kafka_poll(producer, kPublishWaitMaxMs);
      return;
    }
    wake_at_head = capped ? 0 : next.value();
    wake_at_canonical = capped ? canonical + 1 : 0;
    // A move between this round's reads and the lines above found no one waiting: look again.
    const bool moved = capped ? store->canonical_mark().position.value() > canonical
                              : store->head().position.value() >= next.value();
    if (!moved) {
      const auto start = std::chrono::steady_clock::now();
      if (rd_kafka_poll(producer, kPublishWaitMaxMs) == 0 &&
          std::chrono::steady_clock::now() - start >= std::chrono::milliseconds(kPublishWaitMaxMs)) {
        std::lock_guard<std::mutex> lock(mu);
        stats.sleeps_to_bound++;
      }
    }
    wake_at_head = 0;
    wake_at_canonical = 0;
  }

  // The log watcher (store's moving thread): wakes the publisher if it waits for this move.
  void OnLogMoved(Position head, Position canonical) {
    const uint64_t at_head = wake_at_head.load();
    const uint64_t at_canonical = wake_at_canonical.load();
    if ((at_head != 0 && head.value() >= at_head) || (at_canonical != 0 && canonical.value() >= at_canonical))
      rd_kafka_queue_yield(reports);
  }

  // Batches handed to the producer that are not yet known canonical.
  size_t PublishedAhead(uint64_t canonical) {
    while (!published_lasts_.empty() && published_lasts_.front() <= canonical) published_lasts_.pop_front();
    return published_lasts_.size();
  }
  std::deque<uint64_t> published_lasts_;  // publisher thread only
};

Result<std::unique_ptr<Publisher>> Publisher::Start(const PublisherOptions& options, EventStore* store) {
  std::unique_ptr<Publisher> p(new Publisher());
  p->impl_ = std::make_unique<Impl>();
  Impl& im = *p->impl_;
  im.options = options;
  im.store = store;
  // Set explicitly where used: idempotent, acks=all, never time a message out.
  auto conf = MakeClientConfig(options, {{"enable.idempotence", "true"},
                                         {"acks", "all"},
                                         {"message.timeout.ms", "0"},
                                         {"linger.ms", "0"}});
  if (!conf.ok()) return conf.status();
  rd_kafka_conf_set_opaque(*conf, &im);
  rd_kafka_conf_set_dr_msg_cb(*conf, &Impl::OnDelivery);
  char err[512];
  im.producer = rd_kafka_new(RD_KAFKA_PRODUCER, *conf, err, sizeof err);
  if (im.producer == nullptr) return Status::Unavailable(std::string("cannot start the publisher: ") + err);
  im.reports = rd_kafka_queue_get_main(im.producer);
  im.watcher_id = store->AddLogWatcher([&im](Position head, Position canonical) { im.OnLogMoved(head, canonical); });
  im.thread = std::thread([&im] {
    NameThisThread("publisher");
    im.Run();
  });
  return p;
}

Publisher::~Publisher() = default;

Publisher::Stats Publisher::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

}  // namespace ledger::kafka
