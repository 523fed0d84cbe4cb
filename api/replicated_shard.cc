#define _TURN_OFF_PLATFORM_STRING
#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp uses std::exchange unincluded
#include "api/replicated_shard.h"

#include <cpprest/http_client.h>
#include <openssl/rand.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <filesystem>
#include <future>
#include <map>
#include <sstream>
#include <thread>

#include "api/log_http_source.h"
#include "ledger/domain/decider.h"
#include "ledger/domain/sequencer.h"
#include "ledger/kafka/log_reader.h"
#include "ledger/kafka/publisher.h"
#include "ledger/kafka/topic_check.h"
#include "ledger/record_codec.h"
#include "ledger/thread_name.h"
#include "projections/projections.h"

namespace api {

namespace {

using Clock = std::chrono::steady_clock;

// How long a node started as writer (or a restarted standby) may take to read the
// partition to its end before deciding its role.
constexpr int kStartReadToEndMs = 15000;
// A promotion's own command: bounded, so that a standby cut off from Kafka gives up.
constexpr int kPromotionAnswerMinMs = 5000;
constexpr int64_t kSequencerRestartEveryMs = 1000;  // a failed sequencer is replaced at most this often
// After a planned demotion the node leaves the promotion to the chosen standby.
constexpr int kDemotedHoldOffFailovers = 3;
// A resolution submitted and not yet seen in the status read model is submitted again
// after this (its submit failed, or the read model lags).
constexpr int kNoticeResubmitAfterS = 10;

int64_t NowUs() {
  return std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string IsoTime(int64_t us) {
  const std::time_t t = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[40];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S", &tm);
  char out[48];
  std::snprintf(out, sizeof out, "%s.%03dZ", buf, static_cast<int>((us / 1000) % 1000));
  return out;
}

ledger::StoreOptions WriterStoreOptions(const NodeOptions& o) {
  ledger::StoreOptions so;
  so.path = (std::filesystem::path(o.data_dir) / ("shard-" + std::to_string(o.shard))).string();
  so.shard = ledger::ShardId(o.shard);
  so.node_id = o.node_id;
  // Every node of the shard may become its writer: the same ack level and lease for all.
  so.ack_level = o.ack_replicated ? ledger::AckLevel::kReplicated : ledger::AckLevel::kLocal;
  so.ack_requires_lease = true;
  return so;
}

// GET <url>/health/writer answered 200: the writer is alive and holds its lease.
class WriterProbe {
 public:
  bool Alive(const std::string& url, int timeout_ms) {
    try {
      if (url != url_) {
        web::http::client::http_client_config config;
        config.set_timeout(std::chrono::milliseconds(timeout_ms));
        client_ = std::make_unique<web::http::client::http_client>(url, config);
        url_ = url;
      }
      auto response = client_->request(web::http::methods::GET, "/health/writer");
      if (response.wait() != pplx::completed) return false;
      return response.get().status_code() == web::http::status_codes::OK;
    } catch (...) {  // refused, timed out, reset: no sign of life
      return false;
    }
  }

 private:
  std::string url_;
  std::unique_ptr<web::http::client::http_client> client_;
};

}  // namespace

struct ReplicatedShard::Impl {
  NodeOptions o;
  std::string bootstrap;
  bool embedded = false;
  std::unique_ptr<ledger::EventStore> store;
  std::unique_ptr<ledger::kafka::LogReader> reader;
  std::unique_ptr<ledger::kafka::Publisher> publisher;
  std::unique_ptr<projections::Projector> projector;
  std::shared_ptr<ledger::domain::Sequencer> sequencer;
  // Stopped sequencers the store may still owe answers (callbacks into them): kept until
  // they are settled (DropSettledRetired) or the store closes. GUARDED_BY(role_mu) once the
  // monitor runs.
  std::vector<std::shared_ptr<ledger::domain::Sequencer>> retired;
  std::atomic<size_t> retired_held{0};  // retired.size(), for /metrics
  WriterSlot slot;

  std::string writer_key;  // --writer-key-file's key (never logged)
  std::mutex role_mu;  // one role change at a time
  std::mutex reader_mu;  // swaps of `reader` and `publisher` (taken under role_mu), for /metrics
  std::atomic<bool> is_writer{false};
  std::atomic<bool> stop{false};
  std::mutex wake_mu;
  std::condition_variable wake;
  std::thread monitor;
  std::thread prober;

  // A standby's evidence that the writer lives (steady clock, ms since epoch).
  std::atomic<int64_t> last_health_ok_ms{0};
  int64_t last_batch_ms = 0;        // monitor only
  uint64_t last_canonical = 0;      // monitor only
  uint64_t last_epoch = UINT64_MAX;  // monitor only: the writer's address changes with the epoch
  std::atomic<int64_t> no_promotion_before_ms{0};

  // The failover notice this node published, resolved after --resolve-after-s.
  Clock::time_point reader_retry_at{};  // GUARDED_BY(role_mu)
  // Failover notices are resolved from the log's own record (ResolveNoticesWhenDue), so a
  // restart, a demotion or a failed submit does not leave one open for good.
  Clock::time_point writing_since{};      // GUARDED_BY(role_mu): when this node last became the writer
  Clock::time_point next_notice_check{};  // GUARDED_BY(role_mu)
  std::map<std::string, Clock::time_point> resolutions_sent;  // GUARDED_BY(role_mu): notice id -> last submit

  std::atomic<uint64_t> promotions{0}, promotions_lost{0}, rejoins{0}, quarantined_events{0}, sequencer_restarts{0};
  int64_t next_sequencer_start_ms = 0;  // monitor thread only

  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
  }
  ledger::kafka::ClientOptions Kafka() const { return {bootstrap, ledger::ShardId(o.shard), o.kafka_properties}; }

  ledger::Status StartReader() {
    // The lease is half of --failover-after-ms (DESIGN §6); a standby keeps it warm too, so
    // that it can acknowledge as soon as it is promoted.
    // With --writer-key-file, offsets that left Kafka are read from the writer's
    // GET /v1/log (else from the peers).
    std::unique_ptr<ledger::kafka::CatchUpSource> catch_up;
    if (!writer_key.empty())
      catch_up = LogHttpSource([this] { return CatchUpAddresses(); }, writer_key, o.shard);
    auto r = ledger::kafka::LogReader::Start(Kafka(), store.get(), o.failover_after_ms / 2, std::move(catch_up));
    if (!r.ok()) return r.status();
    std::lock_guard<std::mutex> lock(reader_mu);
    reader = std::move(r).value();
    return ledger::Status::Ok();
  }

  // A standby keeps its publisher running too (it has nothing to publish: its store holds
  // only canonical batches), so that a promotion finds the idempotent producer connected
  // with its producer id instead of waiting the best part of a second for one.
  ledger::Status StartPublisher() {
    if (publisher) return ledger::Status::Ok();
    auto p = ledger::kafka::Publisher::Start(Kafka(), store.get());
    if (!p.ok()) return p.status();
    std::lock_guard<std::mutex> lock(reader_mu);
    publisher = std::move(p).value();
    return ledger::Status::Ok();
  }

  // Where to catch up from: the writer, then the peers; never this node itself.
  std::vector<std::string> CatchUpAddresses() const {
    std::vector<std::string> out;
    auto add = [&](const std::string& url) {
      if (!url.empty() && url != o.advertise_url && std::find(out.begin(), out.end(), url) == out.end()) out.push_back(url);
    };
    add(CurrentWriterUrl());
    for (const std::string& p : o.peers) add(p);
    return out;
  }

  // The address of the writer named by the latest canonical WriterPromoted, else --writer.
  std::string CurrentWriterUrl() const {
    const ledger::CanonicalMark mark = store->canonical_mark();
    auto last = store->ReadStream("writer/" + std::to_string(o.shard), ledger::StreamVersion(0),
                                  ledger::ReadDirection::kBackward, 1);
    if (last.ok() && !last->empty() && last->front().position <= mark.position) {
      const ledger::schema::Event* ev = ledger::VerifyRecord(last->front().record);
      const auto* p = ev ? ev->body_as_WriterPromoted() : nullptr;
      if (p && p->advertise_url() && p->advertise_url()->size() > 0 && p->node_id() &&
          p->node_id()->str() != o.node_id)
        return p->advertise_url()->str();
    }
    if (!o.writer_url.empty()) return o.writer_url;
    return o.peers.empty() ? "" : o.peers.front();
  }

  // REQUIRES: role_mu held.
  ledger::Status BecomeWriter() {
    LEDGER_RETURN_IF_ERROR(StartPublisher());
    auto s = ledger::domain::Sequencer::Start(store.get(), ledger::ShardId(o.shard));
    if (!s.ok()) return s.status();
    sequencer = std::move(s).value();
    slot.set({sequencer, o.advertise_url});
    if (!is_writer.load()) writing_since = Clock::now();  // not a sequencer replaced while writing
    is_writer = true;
    return ledger::Status::Ok();
  }

  // Rejoins as a standby: stops writing, sets the local tail beyond the canonical log aside
  // (quarantine) and follows. REQUIRES: role_mu held.
  ledger::Status Rejoin(const std::string& why) {
    is_writer = false;
    slot.set({nullptr, CurrentWriterUrl()});
    if (sequencer) {
      sequencer->Stop();
      Retire(std::move(sequencer));
    }
    {  // taken out under the lock (/metrics reads them), destroyed after: a publisher's
       // flush and a reader's stop take seconds, and /metrics runs on the HTTP threads
      std::unique_ptr<ledger::kafka::LogReader> stopped_reader;        // destroyed last,
      std::unique_ptr<ledger::kafka::Publisher> stopped_publisher;  // as before: publisher first
      {
        std::lock_guard<std::mutex> lock(reader_mu);
        stopped_publisher = std::move(publisher);
        stopped_reader = std::move(reader);
      }
    }
    resolutions_sent.clear();
    ledger::Result<ledger::QuarantineReport> report = ledger::Status::Unavailable("");
    // Commands the stopped sequencer handed over are being written: wait for them.
    for (int i = 0; i < 2000; ++i) {
      report = store->RejoinAsFollower();
      if (report.ok() || report.status().code() != ledger::Code::kUnavailable) break;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    if (!report.ok()) return report.status();
    rejoins++;
    quarantined_events += report->events;
    if (report->events > 0) {
      std::string keys;
      for (const std::string& k : report->idempotency_keys) keys += (keys.empty() ? "" : ", ") + k;
      spdlog::warn("rejoined shard {} as a standby ({}): {} local events beyond the canonical log, positions {}..{}, "
                   "moved to quarantine (never deleted); idempotency keys of their commands: [{}]",
                   o.shard, why, report->events, report->first.value(), report->last.value(), keys);
    } else {
      spdlog::warn("rejoined shard {} as a standby ({}); nothing beyond the canonical log", o.shard, why);
    }
    LEDGER_RETURN_IF_ERROR(StartReader());
    LEDGER_RETURN_IF_ERROR(StartPublisher());  // after the quarantine: it publishes what lies beyond the mark
    last_batch_ms = NowMs();
    slot.set({nullptr, CurrentWriterUrl()});
    return ledger::Status::Ok();
  }

  // Steps 1-4 of DESIGN §8. `forced`: a planned promotion, which does not stand down when
  // the writer's batches still arrive. REQUIRES: role_mu held, not writing.
  ledger::Status TryPromote(int64_t detected_at_us, int64_t writer_last_seen_us, bool forced) {
    const ledger::Position before = store->canonical_mark().position;
    if (!reader) return ledger::Status::Unavailable("no log reader: the partition cannot be read to its end");
    LEDGER_RETURN_IF_ERROR(reader->ReadToEnd(std::max(o.failover_after_ms, 200)));  // step 1
    const ledger::CanonicalMark mark = store->canonical_mark();
    if (mark.position.value() == 0) return ledger::Status::Unavailable("the log is empty: nothing to take over");
    if (!forced && mark.position != before) {  // step 2: the writer lives
      spdlog::info("shard {}: the writer's batches still arrive; not promoting", o.shard);
      return ledger::Status::Ok();
    }
    const uint64_t epoch = mark.epoch.value() + 1;  // step 3
    LEDGER_RETURN_IF_ERROR(store->AttemptPromotion(ledger::Epoch(epoch)));
    if (auto p = StartPublisher(); !p.ok()) return Rejoin("the promotion could not publish: " + p.message());
    const int64_t takeover_us = NowUs();
    ledger::domain::PublishOutageNotice notice;
    notice.notice_id = "failover-shard-" + std::to_string(o.shard) + "-epoch-" + std::to_string(epoch);
    notice.component = "ledger-shard-" + std::to_string(o.shard);
    // Writes are accepted again when this is published: what remains is monitoring.
    notice.impact = forced ? "none" : "minor";
    notice.status = ledger::domain::OutageStatusInput::kMonitoring;
    notice.detected_at_us = detected_at_us;
    notice.started_at_us = writer_last_seen_us;
    notice.message = forced ? "Planned switch-over: node " + o.node_id + " took over writing shard " +
                                  std::to_string(o.shard) + " at " + IsoTime(takeover_us) + " (writer epoch " +
                                  std::to_string(epoch) + ")."
                            : "The writer of shard " + std::to_string(o.shard) + " (node " + mark.owner +
                                  ") was last seen at " + IsoTime(writer_last_seen_us) + "; node " + o.node_id +
                                  " detected the outage at " + IsoTime(detected_at_us) + " and took over at " +
                                  IsoTime(takeover_us) + " as writer epoch " + std::to_string(epoch) +
                                  ". Writes are accepted again; requests that got no answer can be retried "
                                  "with the same Idempotency-Key.";
    ledger::domain::DecideContext ctx;
    ctx.shard = ledger::ShardId(o.shard);
    unsigned char id[16];
    if (RAND_bytes(id, sizeof id) != 1) return Rejoin("the random source failed");
    std::memcpy(&ctx.command_id.hi, id, 8);
    std::memcpy(&ctx.command_id.lo, id + 8, 8);
    auto command = ledger::domain::Decide(
        ledger::domain::DomainState{}, ctx,
        ledger::domain::PromoteWriter{epoch, mark.epoch.value(), o.node_id, o.advertise_url, notice});
    if (!command.ok()) return Rejoin("the promotion command was refused: " + command.status().message());
    auto answer = std::make_shared<std::promise<ledger::Result<ledger::AppendResult>>>();
    auto future = answer->get_future();
    store->AppendAsync(std::move(command).value(),
                       [answer](ledger::Result<ledger::AppendResult> r) { answer->set_value(std::move(r)); });
    const int wait_ms = std::max(kPromotionAnswerMinMs, 4 * o.failover_after_ms);
    if (future.wait_for(std::chrono::milliseconds(wait_ms)) != std::future_status::ready)
      return Rejoin("the promotion was not known canonical in time");
    auto done = future.get();
    if (!done.ok()) {  // step 4: another batch became canonical in its place
      promotions_lost++;
      return Rejoin("the promotion lost: " + done.status().message());
    }
    // Under `local` the answer comes once the batch is on the local disk: writes are taken
    // only once it is canonical, owned by this node (step 4).
    const auto canonical_by = Clock::now() + std::chrono::milliseconds(wait_ms);
    while (!(store->canonical_mark().position >= done->first_position && store->canonical_mark().owner == o.node_id)) {
      if (!store->fenced().ok() || Clock::now() >= canonical_by) {
        promotions_lost++;
        return Rejoin("the promotion was not canonical in time");
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    LEDGER_RETURN_IF_ERROR(BecomeWriter());
    promotions++;
    spdlog::warn("shard {}: node {} is the writer now, epoch {} at position {} ({} ms after detection; promotion "
                 "batch canonical {} ms after the partition was read to its end)",
                 o.shard, o.node_id, epoch, done->first_position.value(), (NowUs() - detected_at_us) / 1000,
                 (NowUs() - takeover_us) / 1000);
    return ledger::Status::Ok();
  }

  // A reader that stopped for anything but a divergence (Kafka's window moved on and the
  // catch-up source did not answer, a broken batch) is started again after a pause: the
  // cause may pass, and a node whose reader is stopped neither follows nor keeps its lease.
  // REQUIRES: role_mu held.
  void RestartStoppedReader() {
    // No reader at all: a rejoin that failed half-way (it is retried here too).
    const ledger::Status stopped = reader ? reader->stats().stopped : ledger::Status::Unavailable("no log reader");
    if (stopped.ok() || stopped.code() == ledger::Code::kDiverged || Clock::now() < reader_retry_at) return;
    spdlog::warn("shard {}: the log reader stopped ({}); starting it again", o.shard, stopped.ToString());
    if (!reader && !is_writer.load()) {  // finish the rejoin: the tail may still need setting aside
      reader_retry_at = Clock::now() + std::chrono::seconds(2);
      if (auto s = Rejoin("retrying a rejoin"); !s.ok()) spdlog::error("shard {}: cannot rejoin: {}", o.shard, s.ToString());
      return;
    }
    reader_retry_at = Clock::now() + std::chrono::seconds(2);
    if (auto s = StartReader(); !s.ok()) spdlog::error("shard {}: cannot start the log reader: {}", o.shard, s.ToString());
  }

  // DESIGN §8: a failover's outage notice resolves by itself once the shard has been
  // written without interruption for --resolve-after-s. Found in the status read model (the
  // log's record), not remembered in memory: a writer that restarted, took over from a
  // demoted one, or whose earlier submit failed still resolves every open failover notice
  // of its shard (ids failover-shard-<N>-...), re-submitting one still open after
  // kNoticeResubmitAfterS. REQUIRES: role_mu held, writing.
  void ResolveNoticesWhenDue() {
    const Clock::time_point now = Clock::now();
    if (!sequencer || !projector || now < next_notice_check ||
        now - writing_since < std::chrono::seconds(o.resolve_after_s))
      return;
    next_notice_check = now + std::chrono::seconds(1);
    const projections::ProjectionStore* status = projector->read_model("status");
    if (status == nullptr) return;
    // The shard's component record lists its open incidents (whatever their number, none
    // resolved); of those, the failovers' own (ids failover-shard-<N>-...).
    const std::string component = "ledger-shard-" + std::to_string(o.shard);
    const std::string prefix = "failover-shard-" + std::to_string(o.shard) + "-";
    auto record = status->Get("component/" + component);
    if (!record.ok()) {
      spdlog::warn("shard {}: cannot read the outage notices to resolve: {}", o.shard, record.status().ToString());
      return;
    }
    if (!record->has_value()) return;
    const projections::Json open = (**record).value("open_incidents", projections::Json::object());
    uint64_t submitted = 0;
    for (const auto& [id, incident] : open.items()) {
      if (id.rfind(prefix, 0) != 0) continue;
      const auto sent = resolutions_sent.find(id);
      if (sent != resolutions_sent.end() && now - sent->second < std::chrono::seconds(kNoticeResubmitAfterS)) continue;
      resolutions_sent[id] = now;
      ledger::domain::CommandRequest r;
      r.command_id = {static_cast<uint64_t>(NowUs()), (uint64_t{7} << 32) | submitted++};
      r.command = ledger::domain::UpdateOutageNotice{
          id, ledger::domain::OutageStatusInput::kResolved,
          "Resolved: node " + o.node_id + " has written shard " + std::to_string(o.shard) +
              " without interruption for " + std::to_string(o.resolve_after_s) + " s since the failover.",
          ""};
      sequencer->Submit(std::move(r), [id](ledger::Result<ledger::domain::CommandResult> res) {
        if (res.ok()) spdlog::info("outage notice {} resolved", id);
        else spdlog::warn("outage notice {} could not be resolved (tried again later): {}", id, res.status().ToString());
      });
    }
  }

  // Keeps a stopped sequencer until the store has answered everything it handed over (the
  // store calls into it until then). Leaves `sequencer` null. REQUIRES: role_mu held.
  void Retire(std::shared_ptr<ledger::domain::Sequencer> stopped) {
    if (stopped) retired.push_back(std::move(stopped));
    sequencer.reset();
    retired_held = retired.size();
  }
  // Lets go of the retired sequencers the store owes nothing more: without this a writer
  // whose store keeps failing would keep one folded state per replacement (one a second)
  // until it stopped. One still shared (a route holding it) lives until that route lets go.
  // REQUIRES: role_mu held.
  void DropSettledRetired() {
    std::erase_if(retired, [](const std::shared_ptr<ledger::domain::Sequencer>& s) { return s->settled(); });
    retired_held = retired.size();
  }

  void MonitorLoop() {
    const int tick_ms = std::clamp(o.failover_after_ms / 20, 5, 50);
    last_batch_ms = NowMs();
    while (!stop.load()) {
      {
        std::unique_lock<std::mutex> lock(wake_mu);
        wake.wait_for(lock, std::chrono::milliseconds(tick_ms), [&] { return stop.load(); });
      }
      if (stop.load()) return;
      std::lock_guard<std::mutex> role(role_mu);
      DropSettledRetired();
      RestartStoppedReader();
      if (is_writer.load()) {
        const ledger::Status fenced = store->fenced();
        const ledger::Status reading = reader ? reader->stats().stopped : ledger::Status::Ok();
        if (!fenced.ok() || reading.code() == ledger::Code::kDiverged) {
          spdlog::warn("shard {}: this writer was deposed ({}); rejoining as a standby", o.shard,
                       (!fenced.ok() ? fenced : reading).message());
          if (auto s = Rejoin("deposed"); !s.ok()) spdlog::error("shard {}: cannot rejoin: {}", o.shard, s.ToString());
          continue;
        }
        // No sequencer (a demotion that timed out could not start one) or a failed one (the
        // store refused a command it had folded): a new one folds the log again, as a
        // restart would, at most once a second.
        if ((!sequencer || sequencer->failed()) && NowMs() >= next_sequencer_start_ms) {
          next_sequencer_start_ms = NowMs() + kSequencerRestartEveryMs;
          if (sequencer) {
            spdlog::warn("shard {}: the sequencer stopped after a failed append; starting a new one", o.shard);
            slot.set({nullptr, ""});
            sequencer->Stop();
            Retire(std::move(sequencer));
            sequencer_restarts++;
          }
          if (auto s = BecomeWriter(); !s.ok())
            spdlog::error("shard {}: writing, but cannot start deciding: {}", o.shard, s.ToString());
          continue;
        }
        ResolveNoticesWhenDue();
        continue;
      }
      const ledger::CanonicalMark mark = store->canonical_mark();
      const uint64_t canonical = mark.position.value();
      if (canonical != last_canonical) {
        last_canonical = canonical;
        last_batch_ms = NowMs();
      }
      if (mark.epoch.value() != last_epoch) {  // a new writer: its address (one read, not one per batch)
        last_epoch = mark.epoch.value();
        if (const std::string url = CurrentWriterUrl(); url != slot.get().writer_url) slot.set({nullptr, url});
      }
      const int64_t now_ms = NowMs();
      const int64_t last_seen_ms = std::max(last_batch_ms, last_health_ok_ms.load());
      if (canonical == 0 || now_ms - last_seen_ms < o.failover_after_ms || now_ms < no_promotion_before_ms.load())
        continue;
      const int64_t detected_us = NowUs();
      const int64_t last_seen_us = detected_us - (now_ms - last_seen_ms) * 1000;
      spdlog::warn("shard {}: no sign of the writer for {} ms; promoting", o.shard, now_ms - last_seen_ms);
      if (auto s = TryPromote(detected_us, last_seen_us, /*forced=*/false); !s.ok())
        spdlog::warn("shard {}: promotion did not complete: {}", o.shard, s.ToString());
      last_batch_ms = NowMs();  // a failed or stood-down attempt waits a full period again
    }
  }

  void ProbeLoop() {
    WriterProbe probe;
    const int period_ms = std::clamp(o.failover_after_ms / 5, 10, 250);
    while (!stop.load()) {
      const auto started = Clock::now();
      if (!is_writer.load()) {
        const std::string url = slot.get().writer_url;
        if (!url.empty() && probe.Alive(url, std::max(10, o.failover_after_ms / 2))) last_health_ok_ms = NowMs();
      }
      std::unique_lock<std::mutex> lock(wake_mu);
      wake.wait_until(lock, started + std::chrono::milliseconds(period_ms), [&] { return stop.load(); });
    }
  }

  ~Impl() {
    {
      std::lock_guard<std::mutex> lock(wake_mu);
      stop = true;
    }
    wake.notify_all();
    if (monitor.joinable()) monitor.join();
    if (prober.joinable()) prober.join();
    slot.set({});
    // The sequencer stops deciding first; the store's last answers still call into it
    // while the store closes, so the objects go last.
    if (sequencer) sequencer->Stop();
    projector.reset();
    reader.reset();
    publisher.reset();
    store.reset();
    sequencer.reset();
    retired.clear();
    retired_held = 0;
  }
};

ReplicatedShard::ReplicatedShard() : impl_(new Impl()) {}
ReplicatedShard::~ReplicatedShard() = default;
ledger::EventStore* ReplicatedShard::store() const { return impl_->store.get(); }
const projections::Projector* ReplicatedShard::projector() const { return impl_->projector.get(); }
const WriterSlot* ReplicatedShard::writer() const { return &impl_->slot; }
bool ReplicatedShard::writing() const { return impl_->is_writer.load(); }

ledger::Result<std::unique_ptr<ReplicatedShard>> ReplicatedShard::Start(
    const NodeOptions& o, const std::string& bootstrap, bool embedded, const std::function<ledger::Status()>& before_genesis,
    const StoreWrapper& wrap_store) {
  std::unique_ptr<ReplicatedShard> shard(new ReplicatedShard());
  Impl& im = *shard->impl_;
  im.o = o;
  im.bootstrap = bootstrap;
  im.embedded = embedded;
  if (!o.writer_key_file.empty()) {
    auto key = ReadKeyFile(o.writer_key_file);
    if (!key.ok()) return ledger::Status::InvalidArgument("--writer-key-file: " + key.status().message());
    im.writer_key = std::move(key).value();
  }
  auto store = ledger::EventStore::Open(WriterStoreOptions(o));
  if (!store.ok()) return store.status();
  im.store = wrap_store ? wrap_store(std::move(store).value()) : std::move(store).value();
  if (embedded) {
    // Every start is a new, empty topic: the log goes on from this store's own head.
    if (im.store->head().position.value() > 0)
      LEDGER_RETURN_IF_ERROR(im.store->StartNewKafkaIncarnation(im.store->writer_epoch(), o.node_id));
  } else {  // an external cluster: did the topic go back? (DESIGN §6)
    auto check = ledger::kafka::CheckTopic(im.Kafka(), im.store.get(),
                                           o.role == NodeRole::kWriter && o.accept_new_topic, o.node_id);
    if (!check.ok()) return check.status();
    if (check->went_back)
      spdlog::warn("ledger.events went back; going on from this store's head (position {}) in a new incarnation",
                   im.store->head().position.value());
  }
  LEDGER_RETURN_IF_ERROR(im.StartReader());
  projections::ProjectorOptions po;
  po.dir = (std::filesystem::path(o.data_dir) / "projections" / ("shard-" + std::to_string(o.shard))).string();
  auto projector = projections::Projector::Open(po);
  if (!projector.ok()) return projector.status();
  im.projector = std::move(projector).value();
  for (const std::string& name : im.projector->read_models_rebuilding())
    spdlog::warn("shard {}: read model {} was written by an older build in another layout: rebuilding it from position 1",
                 o.shard, name);
  im.projector->Follow(im.store.get());

  std::lock_guard<std::mutex> role(im.role_mu);
  bool write = embedded;
  if (!embedded) {
    // Step 1 before anything is decided or set aside: canonical events not yet confirmed
    // here must be confirmed, never quarantined.
    const ledger::Status read = im.reader->ReadToEnd(kStartReadToEndMs);
    if (!read.ok() && read.code() != ledger::Code::kDiverged)
      spdlog::warn("shard {}: could not read the partition to its end at start: {}", o.shard, read.ToString());
    const ledger::CanonicalMark mark = im.store->canonical_mark();
    const bool empty_log = mark.position.value() == 0 && im.store->head().position.value() == 0;
    const bool named = mark.owner == o.node_id && im.store->writer_epoch().value() > 0 && im.store->fenced().ok() &&
                       read.code() != ledger::Code::kDiverged;
    const bool has_local_tail = im.store->head().position.value() > mark.position.value();
    if (o.role == NodeRole::kWriter) {
      write = read.ok() && (empty_log || named);
      if (!write && !read.ok() && read.code() != ledger::Code::kDiverged)
        return ledger::Status::Unavailable("cannot tell whether this node still writes shard " +
                                           std::to_string(o.shard) + ": " + read.message());
    }
    if (!write && (im.store->writer_epoch().value() > 0 || has_local_tail || !im.store->fenced().ok())) {
      // DESIGN §8: the partition is read to its end before anything is set aside. The
      // stored mark may lag what is canonical (it is written without a sync), so a tail
      // quarantined without step 1 could hold canonical, acknowledged events.
      if (!read.ok() && read.code() != ledger::Code::kDiverged)
        return ledger::Status::Unavailable("cannot read shard " + std::to_string(o.shard) +
                                           "'s partition to its end before setting this node's tail aside: " +
                                           read.message());
      spdlog::warn("shard {}: the latest canonical WriterPromoted names node {}, not this one: starting as a standby",
                   o.shard, mark.owner);
      LEDGER_RETURN_IF_ERROR(im.Rejoin("deposed while away"));
    }
  }
  if (write && im.store->head().position.value() == 0) {
    LEDGER_RETURN_IF_ERROR(before_genesis());
    LEDGER_RETURN_IF_ERROR(im.store->SetWriterEpoch(ledger::Epoch(1)));
    // The publisher must run for the batch to become canonical (the sequencer starts after:
    // nothing may come before this batch).
    LEDGER_RETURN_IF_ERROR(im.StartPublisher());
    ledger::domain::DecideContext ctx;
    ctx.shard = ledger::ShardId(o.shard);
    ctx.command_id = {0, 1};
    auto genesis = ledger::domain::Decide(ledger::domain::DomainState{}, ctx,
                                          ledger::domain::PromoteWriter{1, 0, o.node_id, o.advertise_url, std::nullopt});
    if (!genesis.ok()) return genesis.status();
    auto r = im.store->Append(std::move(genesis).value());
    if (!r.ok()) return r.status();
    spdlog::info("new shard {}: WriterPromoted(1) for node {} at position {}", o.shard, o.node_id,
                 r->first_position.value());
  }
  if (write) {
    LEDGER_RETURN_IF_ERROR(im.BecomeWriter());
  } else {
    LEDGER_RETURN_IF_ERROR(im.StartPublisher());
    im.slot.set({nullptr, im.CurrentWriterUrl()});
  }
  im.monitor = std::thread([&im] {
    ledger::NameThisThread("shard-monitor");
    im.MonitorLoop();
  });
  if (!embedded)
    im.prober = std::thread([&im] {
      ledger::NameThisThread("shard-probe");
      im.ProbeLoop();
    });
  return shard;
}

ledger::Status ReplicatedShard::Promote() {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> role(im.role_mu);
  if (im.is_writer.load()) return ledger::Status::Ok();  // already
  if (im.embedded) return ledger::Status::InvalidArgument("a node on its own embedded cluster is always the writer");
  const int64_t now = NowUs();
  LEDGER_RETURN_IF_ERROR(im.TryPromote(now, now, /*forced=*/true));
  if (!im.is_writer.load()) return ledger::Status::Unavailable("another node's batch became canonical first");
  return ledger::Status::Ok();
}

ledger::Status ReplicatedShard::Demote() {
  Impl& im = *impl_;
  std::lock_guard<std::mutex> role(im.role_mu);
  if (!im.is_writer.load()) return ledger::Status::Ok();
  if (im.embedded) return ledger::Status::InvalidArgument("a node on its own embedded cluster cannot hand over");
  // Stop taking writes, then let everything written become canonical before following.
  im.slot.set({nullptr, ""});
  // None when an earlier demotion timed out and no new sequencer could start.
  if (im.sequencer) im.sequencer->Stop();
  const auto deadline = Clock::now() + std::chrono::milliseconds(std::max(kPromotionAnswerMinMs, 4 * im.o.failover_after_ms));
  while (!(im.store->idle() && im.store->canonical_mark().position >= im.store->head().position) &&
         Clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  if (!(im.store->idle() && im.store->canonical_mark().position >= im.store->head().position)) {
    // Not all of it canonical in time: setting it aside could drop writes acknowledged under
    // `local`. Go on writing and say so.
    im.Retire(std::move(im.sequencer));  // stopped; the store may still answer into it
    im.writing_since = Clock::now();  // writes were refused meanwhile: the stable period starts again
    if (auto s = im.BecomeWriter(); !s.ok()) return s;
    return ledger::Status::Unavailable("the writer's last writes did not become canonical in time; it goes on writing");
  }
  im.no_promotion_before_ms = Impl::NowMs() + kDemotedHoldOffFailovers * im.o.failover_after_ms;
  return im.Rejoin("planned demotion");
}

std::string ReplicatedShard::Metrics() const {
  Impl& im = *impl_;
  std::ostringstream out;
  out << "# HELP ledger_writer Whether this node writes its shard now (1) or follows (0).\n"
      << "# TYPE ledger_writer gauge\nledger_writer " << (im.is_writer.load() ? 1 : 0) << "\n"
      << "# HELP ledger_promotions_total Promotions of this node that became canonical.\n"
      << "# TYPE ledger_promotions_total counter\nledger_promotions_total " << im.promotions.load() << "\n"
      << "# HELP ledger_promotions_lost_total Promotion attempts another node's batch won.\n"
      << "# TYPE ledger_promotions_lost_total counter\nledger_promotions_lost_total " << im.promotions_lost.load() << "\n"
      << "# HELP ledger_rejoins_total Times this node rejoined its shard as a standby.\n"
      << "# TYPE ledger_rejoins_total counter\nledger_rejoins_total " << im.rejoins.load() << "\n"
      << "# HELP ledger_sequencer_restarts_total Sequencers replaced after a failed append (the log folded again).\n"
      << "# TYPE ledger_sequencer_restarts_total counter\nledger_sequencer_restarts_total " << im.sequencer_restarts.load()
      << "\n"
      << "# HELP ledger_sequencers_retired Stopped sequencers still held: the store owes them answers.\n"
      << "# TYPE ledger_sequencers_retired gauge\nledger_sequencers_retired " << im.retired_held.load() << "\n"
      << "# HELP ledger_quarantined_events_total Local events set aside in quarantine on rejoining.\n"
      << "# TYPE ledger_quarantined_events_total counter\nledger_quarantined_events_total "
      << im.quarantined_events.load() << "\n";
  std::lock_guard<std::mutex> lock(im.reader_mu);
  if (im.publisher) {
    // How batches became canonical: by their delivery report (the fast path) or by the
    // reader, and what publishing cost in resends after delivery errors.
    const auto p = im.publisher->stats();
    out << "# HELP ledger_publish_messages_total Batches handed to the Kafka producer, resends included.\n"
        << "# TYPE ledger_publish_messages_total counter\nledger_publish_messages_total " << p.published << "\n"
        << "# HELP ledger_publish_delivery_errors_total Delivery reports with an error.\n"
        << "# TYPE ledger_publish_delivery_errors_total counter\nledger_publish_delivery_errors_total "
        << p.delivery_errors << "\n"
        << "# HELP ledger_publish_republish_rounds_total Republishing rounds after delivery errors.\n"
        << "# TYPE ledger_publish_republish_rounds_total counter\nledger_publish_republish_rounds_total "
        << p.republish_rounds << "\n"
        << "# HELP ledger_publish_fast_path_total Batches known canonical from their own delivery report.\n"
        << "# TYPE ledger_publish_fast_path_total counter\nledger_publish_fast_path_total " << p.fast_path_confirmed
        << "\n";
  }
  // The follow lag of this node's reader (a standby's lag behind its writer).
  if (!im.reader) return out.str();
  const auto stats = im.reader->stats();
  out << "# HELP ledger_follow_lag_seconds From the writer deciding a batch to this node's reader applying it.\n"
      << "# TYPE ledger_follow_lag_seconds histogram\n";
  uint64_t cumulative = 0;
  for (size_t i = 0; i < std::size(ledger::kafka::kLagBucketsMs); ++i) {
    cumulative += stats.lag_buckets[i];
    out << "ledger_follow_lag_seconds_bucket{le=\"" << ledger::kafka::kLagBucketsMs[i] / 1000.0 << "\"} " << cumulative
        << "\n";
  }
  cumulative += stats.lag_buckets.back();
  out << "ledger_follow_lag_seconds_bucket{le=\"+Inf\"} " << cumulative << "\n"
      << "ledger_follow_lag_seconds_sum " << stats.lag_sum_s << "\nledger_follow_lag_seconds_count " << cumulative << "\n";
  return out.str();
}

}  // namespace api
