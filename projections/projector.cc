#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <latch>
#include <thread>

#include "ledger/record_codec.h"
#include "ledger/worker_pool.h"
#include "projections/projection.h"
#include "projections/projections.h"

namespace projections {

using ledger::Position;
using ledger::Status;

const std::vector<std::string>& ReadModelNames() {
  static const std::vector<std::string> names = {"customers", "fees", "storefront", "status", "access"};
  return names;
}

namespace {
std::unique_ptr<Projection> MakeProjection(const std::string& name) {
  if (name == "customers") return MakeCustomerView();
  if (name == "fees") return MakeFeesView();
  if (name == "storefront") return MakeStorefrontView();
  if (name == "status") return MakeStatusView();
  if (name == "access") return MakeAccessView();
  return nullptr;
}

// A span at least this long (a rebuild, a catch-up; never a live batch of a few events) is
// applied by the read models in parallel, while the next span is read on another thread,
// which also frees the span's spent values.
constexpr size_t kLongSpanEventsMin = 1024;

// One commit's worth of the source: events (from, to], ending on a batch boundary when it
// can, and the Kafka offset of the last whole batch in it (-1: keep the one before).
struct Span {
  Position to;
  int64_t kafka_offset = -1;
};
}  // namespace

struct Projector::Impl {
  ProjectorOptions options;
  struct Model {
    std::unique_ptr<Projection> rule;
    std::unique_ptr<ProjectionStore> store;
  };
  std::vector<Model> models;

  mutable std::mutex mu;
  mutable std::condition_variable progressed;
  ProjectorStats stats;  // GUARDED_BY(mu)
  Position position;     // GUARDED_BY(mu)

  std::atomic<bool> stop{false};
  std::thread follower;
  const std::shared_ptr<PositionWatch> watch = std::make_shared<PositionWatch>();

  // A span's events, read and verified once for every read model. Two of them, kept from
  // span to span (one thread applies spans at a time: CatchUp or the follower), so nothing
  // is allocated per event or per span: while the read models apply `current`, a long
  // catch-up reads the next span into `ahead`.
  struct SpanEvents {
    Position from_after;
    Span span;
    bool ready = false;  // `ahead` holds the span after `from_after`, read without error
    std::vector<ledger::EventChunk> chunks;
    std::vector<Position> positions;
    std::vector<const ledger::schema::Event*> events;
  };
  SpanEvents current, ahead;
  // A long span's committed txns, one per read model: freeing their values takes a
  // catch-up's applying thread a tenth of its time, so the reading thread does it during
  // the next span (`freeing`: those it frees now).
  std::vector<std::unique_ptr<StateTxn>> spent_txns, freeing;
  // A long span's other threads (the read-ahead, and every read model but the first),
  // started at the first long span and kept: threads started and ended per span cost a
  // rebuild of all five read models about 3% of its time, most of it in the allocator
  // handing back each ending thread's cached memory. Declared last: destroyed first.
  std::unique_ptr<ledger::WorkerPool> span_workers;

  ~Impl() {
    stop = true;
    if (follower.joinable()) follower.join();
    watch->Close();
  }

  // Runs `job` on a span worker. Jobs never wait for each other, so any number of them
  // completes whatever the pool's size.
  void RunOnSpanWorker(std::function<void()> job) {
    if (!span_workers) span_workers = std::make_unique<ledger::WorkerPool>(models.size(), 2 * models.size());
    const bool posted = span_workers->Post(std::move(job));
    LEDGER_INVARIANT(posted);  // at most models.size() jobs at a time, and never stopping here
  }

  Position Bound(const ledger::EventStore& source) const {
    return options.bound == SourceBound::kHead ? source.head().position : source.canonical_mark().position;
  }

  ledger::Result<Span> NextSpan(const ledger::EventStore& source, Position from_after, Position target) const {
    Span span{from_after, -1};
    auto infos = source.ReadBatchInfos(from_after.next(), 256);
    if (!infos.ok()) return infos.status();
    if (infos->empty() || infos->front().first > from_after.next()) {
      // Resuming inside a batch (after an as-of catch-up): finish that batch first.
      const Position batch_end = infos->empty() ? target : Position(infos->front().first.value() - 1);
      span.to = std::min(target, batch_end);
      return span;
    }
    for (const ledger::BatchInfo& b : *infos) {
      if (b.first > target) break;
      if (b.last > target) {
        span.to = target;  // an as-of bound inside a batch
        break;
      }
      span.to = b.last;
      span.kafka_offset = b.kafka_offset;
      if (span.to.value() - from_after.value() >= options.apply_events_max) break;
    }
    return span;
  }

  // Reads the span's events into *out and verifies every record.
  static Status ReadSpan(const ledger::EventStore& source, Position from_after, const Span& span, SpanEvents* out) {
    out->from_after = from_after;
    out->span = span;
    out->ready = false;
    out->positions.clear();
    out->events.clear();
    size_t chunks_used = 0;
    // Room for every chunk first: `events` points into their records, which must not move.
    out->chunks.reserve((span.to.value() - from_after.value() + ledger::kReadEventsMax - 1) / ledger::kReadEventsMax);
    for (uint64_t next = from_after.value() + 1; next <= span.to.value();) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(span.to.value() - next + 1, ledger::kReadEventsMax));
      if (chunks_used == out->chunks.size()) out->chunks.emplace_back();
      ledger::EventChunk& chunk = out->chunks[chunks_used++];
      LEDGER_RETURN_IF_ERROR(source.ScanRangeInto(Position(next), want, &chunk));
      if (chunk.size() != want || chunk.positions.front() != Position(next))
        return Status::Corruption("the source is missing events from position " + std::to_string(next));
      for (size_t i = 0; i < chunk.size(); ++i) {
        const ledger::schema::Event* e = ledger::VerifyRecord(chunk.record(i));
        if (e == nullptr || e->position() != chunk.positions[i].value())
          return Status::Corruption("unreadable event at position " + std::to_string(chunk.positions[i].value()));
        out->positions.push_back(chunk.positions[i]);
        out->events.push_back(e);
      }
      next += want;
    }
    out->ready = true;
    return Status::Ok();
  }

  Status ApplySpan(const SpanEvents& read) {
    const Position from_after = read.from_after;
    const Span& span = read.span;
    const std::vector<Position>& positions = read.positions;
    const std::vector<const ledger::schema::Event*>& decoded = read.events;
    // Each read model applies and commits on its own thread when the span is large enough
    // to pay for it (a rebuild, a catch-up); a live batch of a few events stays on this one.
    const bool long_span = decoded.size() >= kLongSpanEventsMin;
    std::vector<Status> results(models.size());
    auto apply_model = [&](size_t i) {
      Model& m = models[i];
      const Position at = m.store->progress().position;
      if (span.to <= at) return;  // this model committed the span before a crash
      auto txn = std::make_unique<StateTxn>(m.store.get());
      for (size_t k = 0; k < decoded.size(); ++k) {
        if (positions[k] <= at) continue;
        Status s = m.rule->Apply(*decoded[k], *txn);
        if (!s.ok()) {
          results[i] = Status::Corruption(m.rule->name() + " cannot apply position " +
                                          std::to_string(positions[k].value()) + ": " + s.message());
          return;
        }
      }
      const int64_t offset = span.kafka_offset >= 0 ? span.kafka_offset : m.store->progress().kafka_offset;
      results[i] = m.store->Commit(*txn, span.to, offset);
      if (long_span) spent_txns[i] = std::move(txn);
    };
    spent_txns.resize(models.size());
    if (long_span && models.size() > 1) {
      std::latch applied(static_cast<std::ptrdiff_t>(models.size() - 1));
      for (size_t i = 1; i < models.size(); ++i)
        RunOnSpanWorker([&apply_model, &applied, i] {
          apply_model(i);
          applied.count_down();
        });
      apply_model(0);
      applied.wait();
    } else {
      for (size_t i = 0; i < models.size(); ++i) apply_model(i);
    }
    for (const Status& s : results) LEDGER_RETURN_IF_ERROR(s);
    {
      std::lock_guard<std::mutex> lock(mu);
      position = span.to;
      stats.commits++;
      stats.events_applied += span.to.value() - from_after.value();
    }
    progressed.notify_all();
    watch->Advance(span.to);
    return Status::Ok();
  }

  // One step: applies one span if there is one. Sets *idle when there was nothing to do.
  Status Step(const ledger::EventStore& source, Position until, bool* idle) {
    const Position bound = Bound(source);
    Position from_after;
    {
      std::lock_guard<std::mutex> lock(mu);
      stats.source_position = bound;
      from_after = position;
    }
    const Position target = std::min(bound, until);
    *idle = target <= from_after;
    if (*idle) return Status::Ok();
    if (ahead.ready && ahead.from_after == from_after && ahead.span.to <= target) {
      std::swap(current, ahead);
    } else {
      auto span = NextSpan(source, from_after, target);
      if (!span.ok()) return span.status();
      LEDGER_RETURN_IF_ERROR(ReadSpan(source, from_after, *span, &current));
    }
    ahead.ready = false;
    LEDGER_INVARIANT(current.span.to > from_after);
    // A catch-up or rebuild (long spans) reads the next span while this one is applied; a
    // read that fails is dropped, and the span read again when its turn comes.
    freeing = std::move(spent_txns);
    spent_txns.clear();
    const bool read_ahead = current.events.size() >= kLongSpanEventsMin && current.span.to < target;
    std::latch read(read_ahead ? 1 : 0);
    if (read_ahead) {
      RunOnSpanWorker([this, &source, target, &read] {
        freeing.clear();
        auto next = NextSpan(source, current.span.to, target);
        if (next.ok() && next->to > current.span.to) (void)ReadSpan(source, current.span.to, *next, &ahead);
        read.count_down();
      });
    } else {
      freeing.clear();
    }
    Status s = ApplySpan(current);
    read.wait();
    return s;
  }
};

Projector::~Projector() = default;

ledger::Result<std::unique_ptr<Projector>> Projector::Open(const ProjectorOptions& options) {
  std::unique_ptr<Projector> p(new Projector());
  p->impl_ = std::make_unique<Impl>();
  Impl& im = *p->impl_;
  im.options = options;
  const std::vector<std::string>& names = options.read_models.empty() ? ReadModelNames() : options.read_models;
  std::error_code ec;
  std::filesystem::create_directories(options.dir, ec);
  if (ec) return Status::IOError("cannot create the projections directory: " + ec.message());
  bool first = true;
  for (const std::string& name : names) {
    auto rule = MakeProjection(name);
    if (!rule) return Status::InvalidArgument("no read model named '" + name + "'");
    auto store = ProjectionStore::Open((std::filesystem::path(options.dir) / name).string(), name);
    if (!store.ok()) return store.status();
    const Position at = (*store)->progress().position;
    if (first || at < im.position) im.position = at;
    first = false;
    im.models.push_back({std::move(rule), std::move(store).value()});
  }
  im.watch->Advance(im.position);
  return p;
}

Status Projector::CatchUp(const ledger::EventStore& source, Position until) {
  for (;;) {
    bool idle = false;
    LEDGER_RETURN_IF_ERROR(impl_->Step(source, until, &idle));
    if (idle) return Status::Ok();
  }
}

void Projector::Follow(const ledger::EventStore* source) {
  LEDGER_INVARIANT(!impl_->follower.joinable());
  impl_->follower = std::thread([this, source] {
    Impl& im = *impl_;
    while (!im.stop) {
      bool idle = false;
      Status s = im.Step(*source, Position(UINT64_MAX), &idle);
      if (!s.ok()) {
        {
          std::lock_guard<std::mutex> lock(im.mu);
          im.stats.stopped = s;
        }
        im.progressed.notify_all();
        im.watch->Close();  // nothing past here will be applied
        return;
      }
      if (idle) {
        Position seen;
        {
          std::lock_guard<std::mutex> lock(im.mu);
          seen = im.stats.source_position;
        }
        source->WaitForLogPast(seen, im.options.bound == SourceBound::kCanonicalMark, kFollowWaitMaxMs);
      }
    }
  });
}

Position Projector::position() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->position;
}

bool Projector::WaitFor(Position position, int timeout_ms) const {
  std::unique_lock<std::mutex> lock(impl_->mu);
  return impl_->progressed.wait_for(lock, std::chrono::milliseconds(timeout_ms), [&] {
    return impl_->position >= position || !impl_->stats.stopped.ok();
  }) && impl_->position >= position;
}

std::shared_ptr<PositionWatch> Projector::position_watch() const { return impl_->watch; }

ProjectorStats Projector::stats() const {
  std::lock_guard<std::mutex> lock(impl_->mu);
  return impl_->stats;
}

const ProjectionStore* Projector::read_model(std::string_view name) const {
  for (const auto& m : impl_->models)
    if (m.rule->name() == name) return m.store.get();
  return nullptr;
}

}  // namespace projections
