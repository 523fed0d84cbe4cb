#include "ledger/kafka/log_reader.h"

#include <librdkafka/rdkafka.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "ledger/kafka/canonical_rule.h"
#include "ledger/kafka/embedded_cluster.h"
#include "ledger/thread_name.h"

namespace ledger::kafka {

inline constexpr int kPollTimeoutMs = 100;

struct LogReader::Impl {
  LogReaderOptions options;
  EventStore* store = nullptr;
  rd_kafka_t* consumer = nullptr;
  std::thread thread;
  std::thread lease_thread;
  int lease_ms = 0;
  std::unique_ptr<CatchUpSource> catch_up;
  std::atomic<bool> stop{false};
  std::atomic<int64_t> next_offset{0};  // the offset after the last message read
  mutable std::mutex mu;
  mutable std::condition_variable cv;
  // The lease's sleep between renewals: notified only at stop, not by every message read
  // as `cv` is (that woke the lease thread twice per message for nothing).
  std::condition_variable lease_sleep_cv;
  Stats stats;  // GUARDED_BY(mu)

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(mu);
      stop = true;
      cv.notify_all();
      lease_sleep_cv.notify_all();
    }
    if (catch_up) catch_up->Cancel();  // a catch-up in progress must not hold up the join
    if (thread.joinable()) thread.join();
    if (lease_thread.joinable()) lease_thread.join();
    if (consumer) {
      rd_kafka_consumer_close(consumer);
      rd_kafka_destroy(consumer);
    }
  }

  void Stop(Status why) {
    std::lock_guard<std::mutex> lock(mu);
    if (stats.stopped.ok()) stats.stopped = std::move(why);
    cv.notify_all();
  }

  // One message: judge it, append it when canonical.
  Status Handle(const rd_kafka_message_t* m, CanonicalHead& head) {
    std::string_view bytes(static_cast<const char*>(m->payload), m->len);
    auto facts = FactsOf(bytes);
    if (!facts.ok())
      return Status::Corruption("batch at offset " + std::to_string(m->offset) + ": " + facts.status().message());
    {
      std::lock_guard<std::mutex> lock(mu);
      if (stats.first_read.value() == 0) stats.first_read = facts->first;
      if (facts->last > stats.last_read) stats.last_read = facts->last;
    }
    const Verdict v = Judge(head, *facts);
    if (v != Verdict::kCanonical) {
      std::lock_guard<std::mutex> lock(mu);
      stats.skipped[std::string(VerdictName(v))]++;
      return Status::Ok();
    }
    CanonicalHead next = Advance(head, *facts, m->offset);
    CanonicalMark mark{next.position, next.hash, next.epoch, next.owner, next.offset};
    // Unavailable: a command of this node (a promotion attempt) is being appended; once it
    // is durable the batch is judged against it (same bytes: confirmed; else Diverged).
    Status appended = store->AppendCanonicalBatch(bytes, mark);
    while (appended.code() == Code::kUnavailable && !stop.load()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      appended = store->AppendCanonicalBatch(bytes, mark);
    }
    LEDGER_RETURN_IF_ERROR(appended);
    head = next;
    const double lag_ms =
        std::max<double>(0, static_cast<double>(std::chrono::duration_cast<std::chrono::microseconds>(
                                                    std::chrono::system_clock::now().time_since_epoch())
                                                    .count() -
                                                facts->last_recorded_at_us) /
                                1000.0);
    std::lock_guard<std::mutex> lock(mu);
    stats.canonical++;
    size_t bucket = 0;
    while (bucket < std::size(kLagBucketsMs) && lag_ms > kLagBucketsMs[bucket]) ++bucket;
    stats.lag_buckets[bucket]++;
    stats.lag_sum_s += lag_ms / 1000.0;
    cv.notify_all();
    return Status::Ok();
  }

  void Run(CanonicalHead head) {
    while (!stop.load()) {
      rd_kafka_message_t* m = rd_kafka_consumer_poll(consumer, kPollTimeoutMs);
      if (m == nullptr) continue;
      Status s;
      if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
        s = Handle(m, head);
        if (s.ok()) {  // a message that stopped the reader is not "read": no lease from it
          std::lock_guard<std::mutex> lock(mu);
          next_offset = m->offset + 1;
          cv.notify_all();
        }
      } else if (m->err == RD_KAFKA_RESP_ERR__AUTO_OFFSET_RESET || m->err == RD_KAFKA_RESP_ERR_OFFSET_OUT_OF_RANGE) {
        s = catch_up != nullptr ? CatchUp(head)
                                     : Status::Unavailable("offsets after " + std::to_string(head.offset) +
                                                           " are gone from Kafka; catch up from a store that holds them");
      }  // other errors are transient: librdkafka retries by itself
      rd_kafka_message_destroy(m);
      if (!s.ok()) {
        Stop(s);
        return;
      }
    }
  }

  // Offsets after the head have left Kafka: take the canonical batches from the catch-up
  // source (judged by the same rule, so a source's non-canonical batch is never taken),
  // then follow Kafka again from the last one's offset + 1: no gap and no repeat at the
  // switch. Unavailable when the source cannot close the gap either.
  Status CatchUp(CanonicalHead& head) {
    const int64_t before = head.offset;
    for (bool progressed = true; progressed && !stop.load();) {
      progressed = false;
      auto batches = catch_up->ReadCanonical(head.position.next(), 64);
      if (!batches.ok()) return batches.status();
      for (const CatchUpSource::Batch& b : *batches) {
        if (b.kafka_offset < 0 || b.kafka_offset <= head.offset) break;
        auto facts = FactsOf(b.bytes);
        if (!facts.ok()) return facts.status();
        if (Judge(head, *facts) != Verdict::kCanonical) break;
        CanonicalHead next = Advance(head, *facts, b.kafka_offset);
        LEDGER_RETURN_IF_ERROR(store->AppendCanonicalBatch(
            b.bytes, CanonicalMark{next.position, next.hash, next.epoch, next.owner, next.offset}));
        head = next;
        progressed = true;
        std::lock_guard<std::mutex> lock(mu);
        stats.canonical++;
        stats.caught_up_from_store++;
        cv.notify_all();
      }
    }
    if (head.offset == before)
      return Status::Unavailable("offsets after " + std::to_string(head.offset) +
                                 " are gone from Kafka and the catch-up source does not hold them either");
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, kEventsTopic, static_cast<int32_t>(options.shard.value()))->offset =
        head.offset + 1;
    rd_kafka_resp_err_t e = rd_kafka_assign(consumer, parts);
    rd_kafka_topic_partition_list_destroy(parts);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Unavailable(std::string("cannot reassign: ") + rd_kafka_err2str(e));
    std::lock_guard<std::mutex> lock(mu);
    next_offset = head.offset + 1;
    return Status::Ok();
  }

  // The partition's end offset as Kafka reports it now, waiting at most timeout_ms. Not
  // rd_kafka_query_watermark_offsets: in librdkafka before 2.3.0 (Debian 12 has 2.0.2) it
  // waits for ever while the partition's broker is down (librdkafka #2588, fixed by #4460),
  // which held this thread, and a node stopping during a Kafka outage joins it. A
  // ListOffsets for "latest" through rd_kafka_offsets_for_times asks the same question
  // (the same request and isolation level) and gives up at its timeout.
  rd_kafka_resp_err_t QueryEndOffset(int timeout_ms, int64_t* end) {
    rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(parts, kEventsTopic, static_cast<int32_t>(options.shard.value()))->offset =
        RD_KAFKA_OFFSET_END;  // as a timestamp: the latest offset
    rd_kafka_resp_err_t e = rd_kafka_offsets_for_times(consumer, parts, timeout_ms);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR) e = parts->elems[0].err;
    *end = parts->elems[0].offset;
    rd_kafka_topic_partition_list_destroy(parts);
    if (e == RD_KAFKA_RESP_ERR_NO_ERROR && *end < 0) e = RD_KAFKA_RESP_ERR__BAD_MSG;  // no offset: not an answer
    return e;
  }

  // The lease (DESIGN §6): renewed only after reading to an end Kafka reported.
  void KeepLease() {
    const auto lease = std::chrono::milliseconds(lease_ms);
    const auto period = std::chrono::milliseconds(std::max(1, lease_ms / 4));
    while (!stop.load()) {
      const auto asked_at = std::chrono::steady_clock::now();
      int64_t high = 0;
      rd_kafka_resp_err_t e = QueryEndOffset(lease_ms, &high);
      std::unique_lock<std::mutex> lock(mu);
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) stats.end_offset = high;
      if (e == RD_KAFKA_RESP_ERR_NO_ERROR) {
        const bool read_to_end = cv.wait_until(lock, asked_at + lease, [&] {
          return next_offset.load() >= high || stop.load() || !stats.stopped.ok();
        });
        if (read_to_end && next_offset.load() >= high && stats.stopped.ok() && !stop.load()) {
          stats.lease_renewals++;
          lock.unlock();
          store->RenewLease(asked_at + lease);
          lock.lock();
        }
      }
      lease_sleep_cv.wait_until(lock, asked_at + period, [&] { return stop.load(); });
    }
  }
};

namespace {
class StoreSource final : public CatchUpSource {
 public:
  explicit StoreSource(const EventStore* store) : store_(store) {}
  Result<std::vector<Batch>> ReadCanonical(Position from, size_t limit) override {
    const Position bound = store_->canonical_mark().position;
    for (;;) {
      auto infos = store_->ReadBatchInfos(from, limit);
      auto batches = store_->ReadBatches(from, limit);
      if (!infos.ok()) return infos.status();
      if (!batches.ok()) return batches.status();
      if (batches->size() != infos->size()) continue;  // the store grew between the two reads: read again
      std::vector<Batch> out;
      for (size_t i = 0; i < batches->size() && (*infos)[i].last <= bound; ++i)
        out.push_back({std::move((*batches)[i]), (*infos)[i].kafka_offset});
      return out;
    }
  }

 private:
  const EventStore* store_;
};
}  // namespace

std::unique_ptr<CatchUpSource> StoreCatchUpSource(const EventStore* store) { return std::make_unique<StoreSource>(store); }

Result<std::unique_ptr<LogReader>> LogReader::Start(const LogReaderOptions& options, EventStore* store, int lease_ms,
                                                    std::unique_ptr<CatchUpSource> catch_up) {
  std::unique_ptr<LogReader> r(new LogReader());
  r->impl_ = std::make_unique<Impl>();
  Impl& im = *r->impl_;
  im.options = options;
  im.store = store;
  // Offsets live with the store, never in Kafka; a missing offset is an error, not a jump.
  auto conf = MakeClientConfig(options, {{"group.id", "ledger-log-reader"},
                                         {"enable.auto.commit", "false"},
                                         {"enable.auto.offset.store", "false"},
                                         {"auto.offset.reset", "error"},
                                         // Acknowledgements under `replicated` wait for this
                                         // reader: a broker must not hold a fetch for 500 ms.
                                         {"fetch.wait.max.ms", "5"}});
  if (!conf.ok()) return conf.status();
  char err[512];
  im.consumer = rd_kafka_new(RD_KAFKA_CONSUMER, *conf, err, sizeof err);
  if (im.consumer == nullptr) return Status::Unavailable(std::string("cannot start the log reader: ") + err);
  const CanonicalMark mark = store->canonical_mark();
  CanonicalHead head{mark.position, mark.hash, mark.epoch, mark.owner, mark.offset};
  rd_kafka_topic_partition_list_t* parts = rd_kafka_topic_partition_list_new(1);
  im.next_offset = mark.offset >= 0 ? mark.offset + 1 : 0;
  im.lease_ms = lease_ms;
  im.catch_up = std::move(catch_up);
  // A reader with no offset yet starts at offset 0, not at "the beginning": if offset 0 has
  // left Kafka, that is a gap to report, never a place to start from.
  rd_kafka_topic_partition_list_add(parts, kEventsTopic, static_cast<int32_t>(options.shard.value()))->offset =
      mark.offset + 1;
  rd_kafka_resp_err_t e = rd_kafka_assign(im.consumer, parts);  // assign(): the partition never moves away
  rd_kafka_topic_partition_list_destroy(parts);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::Unavailable(std::string("cannot assign the partition: ") + rd_kafka_err2str(e));
  im.thread = std::thread([&im, head] {
    NameThisThread("log-reader");
    im.Run(head);
  });
  if (lease_ms > 0)
    im.lease_thread = std::thread([&im] {
      NameThisThread("log-lease");
      im.KeepLease();
    });
  return r;
}

LogReader::~LogReader() = default;

LogReader::Stats LogReader::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

Status LogReader::ReadToEnd(int timeout_ms) const {
  Impl& im = *impl_;
  int64_t high = 0;
  // Not rd_kafka_query_watermark_offsets (see QueryEndOffset): a standby reads to the end
  // when its writer went silent, often a broker outage, holding the shard's role lock.
  rd_kafka_resp_err_t e = im.QueryEndOffset(timeout_ms, &high);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::Unavailable(std::string("cannot ask Kafka for the partition's end: ") + rd_kafka_err2str(e));
  std::unique_lock<std::mutex> lock(im.mu);
  const bool done = im.cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return im.next_offset.load() >= high || !im.stats.stopped.ok() || im.stop.load();
  });
  if (!im.stats.stopped.ok()) return im.stats.stopped;
  if (!done) return Status::Unavailable("the partition was not read to its end in time");
  return Status::Ok();
}

bool LogReader::WaitFor(Position position, int timeout_ms) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->cv.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return impl_->store->canonical_mark().position.value() >= position.value() || !impl_->stats.stopped.ok();
  }) && impl_->stats.stopped.ok();
}

}  // namespace ledger::kafka
