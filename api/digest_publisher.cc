#include "api/digest_publisher.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <condition_variable>
#include <future>
#include <memory>
#include <mutex>
#include <thread>

#include "ledger/domain/sequencer.h"
#include "ledger/record_codec.h"
#include "ledger/thread_name.h"
#include "schemas/ledger_generated.h"

namespace api {

struct DigestPublisher::Impl {
  const ApiContext& ctx;
  DigestPublisherOptions options;
  std::mutex mu;
  std::condition_variable cv;
  bool stop = false;  // GUARDED_BY(mu)
  std::thread thread;

  // True when every event in (covered, at] is a digest or a delivery record: what a digest
  // and its webhooks write about themselves. Without this an idle log would get a digest
  // every period (each delivery of the last digest moving the log on).
  bool OnlyBookkeepingSince(uint64_t covered, uint64_t at) const {
    constexpr uint64_t kLookMax = 64;
    if (covered == 0 || at - covered > kLookMax) return false;
    auto events = ctx.store->ReadRange(ledger::Position(covered + 1), at - covered);
    if (!events.ok()) return false;
    for (const ledger::StoredEvent& e : *events) {
      const auto* ev = ledger::VerifyRecord(e.record);
      if (ev == nullptr) return false;
      const auto type = ev->body_type();
      if (type != ledger::schema::EventBody::DigestPublished && type != ledger::schema::EventBody::NotificationDelivered &&
          type != ledger::schema::EventBody::NotificationFailed)
        return false;
    }
    return true;
  }

  void Run() {
    using Clock = std::chrono::steady_clock;
    auto last_at = Clock::now();
    uint64_t covered = 0;       // the position the last digest named
    uint64_t own_position = 0;  // where that digest's own event landed
    auto retry_at = Clock::now();  // after a failure, not before kRetryAfterFailureS
    constexpr int kRetryAfterFailureS = 5;
    for (;;) {
      {
        std::unique_lock<std::mutex> lock(mu);
        if (cv.wait_for(lock, std::chrono::milliseconds(200), [this] { return stop; })) return;
      }
      const ledger::CanonicalMark mark = ctx.store->canonical_mark();
      const uint64_t at = mark.position.value();
      // Nothing new but, at most, our own last digest: that one already covers the log.
      if (at == 0 || at <= covered || at == own_position || Clock::now() < retry_at) continue;
      if (OnlyBookkeepingSince(covered, at)) continue;
      const bool due_by_time = Clock::now() - last_at >= std::chrono::seconds(options.every_s);
      const bool due_by_events = at - covered >= options.every_events;
      if (!due_by_time && !due_by_events) continue;
      ledger::domain::CommandRequest r;
      r.command_id = {static_cast<uint64_t>(Clock::now().time_since_epoch().count()), at};
      r.command = ledger::domain::PublishDigest{at, mark.hash};
      // Bounded waits, so a stop is never held up by Kafka or the lease being away.
      const auto sequencer = ctx.sequencer();
      if (sequencer == nullptr) continue;  // not the writer (now)
      auto future = sequencer->SubmitForFuture(std::move(r));
      while (future.wait_for(std::chrono::milliseconds(200)) != std::future_status::ready) {
        std::lock_guard<std::mutex> lock(mu);
        if (stop) return;
      }
      auto done = future.get();
      last_at = Clock::now();
      if (!done.ok()) {
        // Kafka or the lease may be away: the next attempt comes with the next period.
        spdlog::warn("digest at position {} not published: {}", at, done.status().ToString());
        retry_at = Clock::now() + std::chrono::seconds(kRetryAfterFailureS);
        continue;
      }
      covered = at;
      own_position = done->first_position.value();
    }
  }
};

DigestPublisher::DigestPublisher(const ApiContext& ctx, DigestPublisherOptions options)
    : impl_(new Impl{ctx, options, {}, {}, false, {}}) {
  impl_->thread = std::thread([impl = impl_.get()] {
    ledger::NameThisThread("digest-publish");
    impl->Run();
  });
}

DigestPublisher::~DigestPublisher() {
  {
    std::lock_guard<std::mutex> lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->cv.notify_all();
  if (impl_->thread.joinable()) impl_->thread.join();
}

}  // namespace api
