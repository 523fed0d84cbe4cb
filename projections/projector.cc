#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <thread>

#include "ledger/record_codec.h"
#include "projections/projection.h"
#include "projections/projections.h"

namespace projections {

using ledger::Position;
using ledger::Status;

const std::vector<std::string>& ReadModelNames() {
  static const std::vector<std::string> names = {"customers", "fees", "storefront", "status"};
  return names;
}

namespace {
std::unique_ptr<Projection> MakeProjection(const std::string& name) {
  if (name == "customers") return MakeCustomerView();
  if (name == "fees") return MakeFeesView();
  if (name == "storefront") return MakeStorefrontView();
  if (name == "status") return MakeStatusView();
  return nullptr;
}

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

  ~Impl() {
    stop = true;
    if (follower.joinable()) follower.join();
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

  Status ApplySpan(const ledger::EventStore& source, Position from_after, const Span& span) {
    std::vector<StateTxn> txns;
    for (const Model& m : models) txns.emplace_back(m.store.get());
    std::vector<Position> model_positions;
    for (const Model& m : models) model_positions.push_back(m.store->progress().position);
    uint64_t next = from_after.value() + 1;
    while (next <= span.to.value()) {
      const size_t want = static_cast<size_t>(std::min<uint64_t>(span.to.value() - next + 1, ledger::kReadEventsMax));
      auto events = source.ReadRange(Position(next), want);
      if (!events.ok()) return events.status();
      if (events->size() != want)
        return Status::Corruption("the source is missing events from position " + std::to_string(next));
      for (const ledger::StoredEvent& se : *events) {
        const ledger::schema::Event* e = ledger::VerifyRecord(se.record);
        if (e == nullptr || e->position() != se.position.value())
          return Status::Corruption("unreadable event at position " + std::to_string(se.position.value()));
        for (size_t i = 0; i < models.size(); ++i) {
          if (se.position <= model_positions[i]) continue;  // this model committed it before a crash
          Status s = models[i].rule->Apply(*e, txns[i]);
          if (!s.ok())
            return Status::Corruption(models[i].rule->name() + " cannot apply position " +
                                      std::to_string(se.position.value()) + ": " + s.message());
        }
      }
      next += want;
    }
    for (size_t i = 0; i < models.size(); ++i) {
      if (span.to <= model_positions[i]) continue;
      int64_t offset = span.kafka_offset >= 0 ? span.kafka_offset : models[i].store->progress().kafka_offset;
      LEDGER_RETURN_IF_ERROR(models[i].store->Commit(txns[i], span.to, offset));
    }
    {
      std::lock_guard<std::mutex> lock(mu);
      position = span.to;
      stats.commits++;
      stats.events_applied += span.to.value() - from_after.value();
    }
    progressed.notify_all();
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
    auto span = NextSpan(source, from_after, target);
    if (!span.ok()) return span.status();
    LEDGER_INVARIANT(span->to > from_after);
    return ApplySpan(source, from_after, *span);
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
        return;
      }
      if (idle) std::this_thread::sleep_for(std::chrono::milliseconds(kFollowPollMs));
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
