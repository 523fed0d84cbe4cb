#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <filesystem>
#include <thread>

#include "ledger/file_sync.h"
#include "ledger/record_codec.h"
#include "ledger/thread_name.h"
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

// A span at least this long (a rebuild, a catch-up; never a live batch of a few events)
// starts a catch-up: the read models apply spans on threads of their own, while the next
// spans are read on this one (Impl::ApplyLongSpans).
constexpr size_t kLongSpanEventsMin = 1024;
// Spans a catch-up holds at once: the one the slowest read model applies, the ones quicker
// models apply ahead of it, and the one being read.
constexpr size_t kSpansInFlight = 3;
// Batch extents read at a time while finding where a span ends.
constexpr size_t kBatchInfosPerRead = 256;

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
  std::vector<std::string> layouts_rebuilt;  // read models found in another layout at Open

  mutable std::mutex mu;
  ProjectorStats stats;  // GUARDED_BY(mu)
  Position position;     // GUARDED_BY(mu)

  std::atomic<bool> stop{false};
  std::thread follower;
  const std::shared_ptr<PositionWatch> watch = std::make_shared<PositionWatch>();

  // A span's events, read and verified once for every read model. A catch-up keeps up to
  // kSpansInFlight of them (slots kept from span to span, so nothing is allocated per
  // event or per span); a live batch uses the first.
  struct SpanEvents {
    Position from_after;
    Span span;
    std::vector<ledger::EventChunk> chunks;
    std::vector<Position> positions;
    std::vector<const ledger::schema::Event*> events;
  };
  std::array<SpanEvents, kSpansInFlight> slots;
  // A catch-up's threads, one per read model, started at the first long span and kept:
  // threads started and ended per span cost a rebuild of all five read models about 3% of
  // its time, most of it in the allocator handing back each ending thread's cached memory.
  // Declared last: destroyed first.
  std::unique_ptr<ledger::WorkerPool> span_workers;

  ~Impl() {
    stop = true;
    if (follower.joinable()) follower.join();
    watch->Close();
  }

  // Runs `job` on a span worker: at most one job per read model at a time.
  void RunOnSpanWorker(std::function<void()> job) {
    if (!span_workers) span_workers = std::make_unique<ledger::WorkerPool>(models.size(), models.size(), "catch-up");
    const bool posted = span_workers->Post(std::move(job));
    LEDGER_INVARIANT(posted);  // at most models.size() jobs at a time, and never stopping here
  }

  Position Bound(const ledger::EventStore& source) const {
    return options.bound == SourceBound::kHead ? source.head().position : source.canonical_mark().position;
  }

  ledger::Result<Span> NextSpan(const ledger::EventStore& source, Position from_after, Position target) const {
    Span span{from_after, -1};
    auto infos = source.ReadBatchInfos(from_after.next(), kBatchInfosPerRead);
    if (!infos.ok()) return infos.status();
    if (infos->empty() || infos->front().first > from_after.next()) {
      // Resuming inside a batch (after an as-of catch-up): finish that batch first.
      const Position batch_end = infos->empty() ? target : Position(infos->front().first.value() - 1);
      span.to = std::min(target, batch_end);
      return span;
    }
    // As many batches as make apply_events_max events: a log of small batches (a command
    // each, at light load) reads several pages of their extents.
    for (;;) {
      for (const ledger::BatchInfo& b : *infos) {
        if (b.first > target) return span;
        if (b.last > target) {
          span.to = target;  // an as-of bound inside a batch
          return span;
        }
        span.to = b.last;
        span.kafka_offset = b.kafka_offset;
        if (span.to.value() - from_after.value() >= options.apply_events_max) return span;
      }
      if (infos->size() < kBatchInfosPerRead) return span;  // the last batch of the log
      infos = source.ReadBatchInfos(span.to.next(), kBatchInfosPerRead);
      if (!infos.ok()) return infos.status();
      if (infos->empty() || infos->front().first != span.to.next()) return span;
    }
  }

  // Reads the span's events into *out and verifies every record.
  static Status ReadSpan(const ledger::EventStore& source, Position from_after, const Span& span, SpanEvents* out) {
    out->from_after = from_after;
    out->span = span;
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
    return Status::Ok();
  }

  // Applies the span to one read model and commits it, unless the model holds it already
  // (it committed past the span's start before a crash). *spent: the committed txn, whose
  // values the caller frees where it costs least.
  static Status ApplyToModel(Model& m, const SpanEvents& read, std::unique_ptr<StateTxn>* spent) {
    const Position at = m.store->progress().position;
    if (read.span.to <= at) return Status::Ok();
    auto txn = std::make_unique<StateTxn>(m.store.get());
    for (size_t k = 0; k < read.events.size(); ++k) {
      if (read.positions[k] <= at) continue;
      Status s;
      try {
        s = m.rule->Apply(*read.events[k], *txn);
      } catch (const std::exception& e) {  // nlohmann on a stored value of the wrong type; bad_alloc
        s = Status::Corruption(e.what());
      }
      if (!s.ok())
        return Status::Corruption(m.rule->name() + " cannot apply position " + std::to_string(read.positions[k].value()) +
                                  ": " + s.message());
    }
    const int64_t offset = read.span.kafka_offset >= 0 ? read.span.kafka_offset : m.store->progress().kafka_offset;
    Status s = m.store->Commit(*txn, read.span.to, offset);
    *spent = std::move(txn);
    return s;
  }

  // Every read model holds the span (from_after, to]: the projector's position moves there.
  // Waiters are told afterwards (Announce), outside any lock a catch-up holds.
  void Applied(Position from_after, Position to, bool catch_up) {
    std::lock_guard<std::mutex> lock(mu);
    LEDGER_INVARIANT(to > position);
    position = to;
    stats.commits++;
    if (catch_up) stats.catch_up_commits++;
    stats.events_applied += to.value() - from_after.value();
  }
  // Wakes WaitFor's callers and runs the watch's callbacks (an HTTP write's answer) up to `to`.
  void Announce(Position to) { watch->Advance(to); }

  // A live batch of a few events: every read model on this thread, one after the other.
  Status ApplyShortSpan(const SpanEvents& read) {
    for (Model& m : models) {
      std::unique_ptr<StateTxn> spent;
      LEDGER_RETURN_IF_ERROR(ApplyToModel(m, read, &spent));
    }
    Applied(read.from_after, read.span.to, /*catch_up=*/false);
    Announce(read.span.to);
    return Status::Ok();
  }

  // A catch-up or a rebuild, from the span in slots[0] up to `target`: each read model
  // applies the spans in order on a thread of its own, as fast as it goes, while this
  // thread reads the next spans (up to kSpansInFlight spans are held) and frees the
  // models' spent txns (a tenth of an applying thread's time). A model that is quicker
  // than another is never held at a per-span barrier: with spans applied in lock step, the
  // slowest read model ran alone at the end of every span, and a rebuild of all five left
  // a fifth of two cores idle. The projector's position is the last span every model holds.
  Status ApplyLongSpans(const ledger::EventStore& source, Position target) {
    struct Shared {
      std::mutex mu;
      std::condition_variable cv;
      std::deque<SpanEvents*> ready;     // read, not yet applied by every model, in log order
      std::deque<size_t> models_to_go;   // for each of `ready`: models yet to apply it
      uint64_t first_index = 0;          // the span index of ready.front()
      std::vector<SpanEvents*> free_slots;
      bool reading_done = false;
      size_t models_running = 0;
      Status error;                      // the first; stops every thread
      std::vector<std::unique_ptr<StateTxn>> spent;
    } sh;
    sh.ready.push_back(&slots[0]);
    sh.models_to_go.push_back(models.size());
    for (size_t i = 1; i < slots.size(); ++i) sh.free_slots.push_back(&slots[i]);
    sh.models_running = models.size();

    for (size_t i = 0; i < models.size(); ++i) {
      RunOnSpanWorker([this, &sh, i] {
        for (uint64_t index = 0;; ++index) {
          SpanEvents* read = nullptr;
          {
            std::unique_lock<std::mutex> lock(sh.mu);
            sh.cv.wait(lock, [&] {
              return !sh.error.ok() || index < sh.first_index + sh.ready.size() || sh.reading_done;
            });
            if (!sh.error.ok() || index >= sh.first_index + sh.ready.size()) break;
            read = sh.ready[index - sh.first_index];
          }
          std::unique_ptr<StateTxn> spent;
          const Status s = ApplyToModel(models[i], *read, &spent);
          Position applied_to;  // announced once the lock is let go
          {
            std::lock_guard<std::mutex> lock(sh.mu);
            if (spent) sh.spent.push_back(std::move(spent));
            if (!s.ok()) {
              if (sh.error.ok()) sh.error = s;
            } else {
              --sh.models_to_go[index - sh.first_index];
              // Spans every model holds are done, in order: this thread moves the position.
              while (!sh.ready.empty() && sh.models_to_go.front() == 0) {
                Applied(sh.ready.front()->from_after, sh.ready.front()->span.to, /*catch_up=*/true);
                applied_to = sh.ready.front()->span.to;
                sh.free_slots.push_back(sh.ready.front());
                sh.ready.pop_front();
                sh.models_to_go.pop_front();
                ++sh.first_index;
              }
            }
          }
          sh.cv.notify_all();
          // Two models' threads may announce out of order: the watch keeps the highest.
          if (applied_to.value() > 0) Announce(applied_to);
          if (!s.ok()) break;
        }
        // Notified under the lock: once the count is 0 the reading thread returns, and `sh`
        // (on its stack) is gone.
        std::lock_guard<std::mutex> lock(sh.mu);
        --sh.models_running;
        sh.cv.notify_all();
      });
    }

    // This thread: reads spans ahead and frees spent txns until the models are done.
    Position read_to = slots[0].span.to;
    for (;;) {
      std::vector<std::unique_ptr<StateTxn>> to_free;
      SpanEvents* slot = nullptr;
      {
        std::unique_lock<std::mutex> lock(sh.mu);
        const auto can_read = [&] { return !sh.reading_done && sh.error.ok() && !sh.free_slots.empty(); };
        // (Models stop only on an error or once reading is done and every span applied.)
        sh.cv.wait(lock, [&] { return !sh.spent.empty() || sh.models_running == 0 || can_read(); });
        to_free.swap(sh.spent);
        if (sh.models_running == 0 && to_free.empty()) break;
        if (can_read()) {
          slot = sh.free_slots.back();
          sh.free_slots.pop_back();
        }
      }
      to_free.clear();  // outside the lock
      if (slot == nullptr) continue;
      bool read = false;
      if (!stop && read_to < target) {
        // A read that fails ends this catch-up where it is, with what was read applied:
        // the next Step reads that span again on its own and returns the error if it
        // stays (a failed read-ahead must not stop a follower for good).
        try {
          auto next = NextSpan(source, read_to, target);
          read = next.ok() && ReadSpan(source, read_to, *next, slot).ok();
        } catch (const std::exception&) {  // bad_alloc: `sh` must outlive the models' jobs
          read = false;
        }
        if (read) {
          LEDGER_INVARIANT(slot->span.to > read_to);
          read_to = slot->span.to;
        }
      }
      {
        std::lock_guard<std::mutex> lock(sh.mu);
        if (read) {
          sh.ready.push_back(slot);
          sh.models_to_go.push_back(models.size());
        } else {
          sh.free_slots.push_back(slot);
          sh.reading_done = true;  // the target, a stop, or a failed read
        }
      }
      sh.cv.notify_all();
    }
    std::lock_guard<std::mutex> lock(sh.mu);
    return sh.error;
  }

  // One step: applies the spans up to the bound if there are any (a live batch, or a whole
  // catch-up). Sets *idle when there was nothing to do.
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
    auto span = NextSpan(source, from_after, target);
    if (!span.ok()) return span.status();
    LEDGER_RETURN_IF_ERROR(ReadSpan(source, from_after, *span, &slots[0]));
    LEDGER_INVARIANT(slots[0].span.to > from_after);
    if (slots[0].events.size() < kLongSpanEventsMin) return ApplyShortSpan(slots[0]);
    return ApplyLongSpans(source, target);
  }
};

Projector::~Projector() = default;

namespace {

// The names a dropped store of read model `name` goes by until it is removed.
std::string DroppedPrefix(const std::string& name) { return name + ".dropped-layout-"; }

// Sets the store at `path` aside in one step (a rename, atomic on its filesystem, made
// durable by syncing the directory), so that a crash while it is being removed leaves
// either the old store whole or a new one beside a leftover that the next Open removes,
// never a half-deleted store that would not open. A store reached through a symlink is
// left to the operator: renaming the link would orphan its target.
Status DropStore(const std::string& path, const std::string& name, uint32_t layout) {
  std::error_code ec;
  if (std::filesystem::is_symlink(path, ec))
    return Status::IOError("the read model '" + name + "' is of an older layout and is reached through a "
                                      "symlink: remove it (or rebuild it with ledger-replay) by hand");
  const std::filesystem::path aside = std::filesystem::path(path).parent_path() / (DroppedPrefix(name) + std::to_string(layout));
  std::filesystem::remove_all(aside, ec);  // an earlier drop's leftover of the same layout
  std::filesystem::rename(path, aside, ec);
  if (ec) return Status::IOError("cannot set aside the read model '" + name + "' of an older layout: " + ec.message());
  ledger::SyncParentDirectory(path);
  return Status::Ok();
}

// Removes what DropStore set aside (best effort: a leftover is harmless, and removed at
// the next Open).
void RemoveDroppedStores(const std::string& dir, const std::string& name) {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec))
    if (entry.path().filename().string().rfind(DroppedPrefix(name), 0) == 0) std::filesystem::remove_all(entry.path(), ec);
}

}  // namespace

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
    const std::string path = (std::filesystem::path(options.dir) / name).string();
    if (options.store_access != StoreAccess::kReadOnly) RemoveDroppedStores(options.dir, name);
    auto store = ProjectionStore::Open(path, name, options.store_access, rule->layout_version());
    if (!store.ok()) return store.status();
    if ((*store)->layout_version() != rule->layout_version() && options.store_access != StoreAccess::kReadOnly) {
      // Written by a rule of another layout (an older build): its keys would mix with the
      // new ones (a fact recorded under the old key is not found under the new one). The
      // store is only ever derived from the log, so it is dropped and rebuilt from
      // position 1; the other read models resume where they were.
      LEDGER_RETURN_IF_ERROR(DropStore(path, name, (*store)->layout_version()));
      store->reset();  // after the rename: its lock kept other openers out until then
      store = ProjectionStore::Open(path, name, options.store_access, rule->layout_version());
      if (!store.ok()) return store.status();
      RemoveDroppedStores(options.dir, name);
      im.layouts_rebuilt.push_back(name);
    }
    const Position at = (*store)->progress().position;
    if (first || at < im.position) im.position = at;
    first = false;
    im.models.push_back({std::move(rule), std::move(store).value()});
  }
  im.watch->Advance(im.position);
  return p;
}

const std::vector<std::string>& Projector::read_models_rebuilding() const { return impl_->layouts_rebuilt; }

Status Projector::Flush() {
  for (Impl::Model& m : impl_->models) LEDGER_RETURN_IF_ERROR(m.store->Flush());
  return Status::Ok();
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
    ledger::NameThisThread("projector");
    Impl& im = *impl_;
    while (!im.stop) {
      bool idle = false;
      Status s = im.Step(*source, Position(UINT64_MAX), &idle);
      if (!s.ok()) {
        {
          std::lock_guard<std::mutex> lock(im.mu);
          im.stats.stopped = s;
        }
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
  return impl_->watch->WaitFor(position, timeout_ms);
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
