// rebuild: one read model from position 1 to the as-of position, into a new directory, by
// the projector's own code (so its digest is comparable with the live one's, DESIGN §7),
// which appears under --out only once it is whole (replay/out_file.h). The as-of position
// is at most the store's canonical mark unless every stored event is asked for (BoundOf).
#include <algorithm>
#include <chrono>
#include <filesystem>

#include "ledger/record_codec.h"
#include "projections/projections.h"
#include "replay/out_file.h"
#include "replay/replay.h"
#include "schemas/ledger_generated.h"

namespace replay {

namespace {

// A command's events are written together (verify checks "whole commands" by the same
// fields), so a state as of a position inside one never existed: refused, naming the
// position that ends it. Position 0 (the empty log) ends nothing and is always a state.
ledger::Status CheckEndsACommand(const ledger::EventStore& store, ledger::Position at) {
  if (at.value() == 0) return ledger::Status::Ok();
  ledger::StoredEvent stored;
  auto read = ReadEventAt(store, at, &stored);
  if (!read.ok()) return read.status();
  const ledger::schema::Event* e = *read;
  const uint64_t last = e->command_first_position() + e->command_event_count() - 1;
  if (e->command_event_count() == 0 || last <= at.value()) return ledger::Status::Ok();
  return ledger::Status::InvalidArgument("position " + std::to_string(at.value()) + " is inside a command that ends at " +
                                         std::to_string(last) + "; rebuild as of " + std::to_string(last));
}

// The read model as of `until`, rebuilt into the new directory `dir`. The projector is
// closed on return, so that its stores' files are whole before they are synced and renamed.
ledger::Result<RebuildReport> RebuildInto(const ledger::EventStore& store, const RebuildOptions& options,
                                          ledger::Position until, const std::string& dir) {
  projections::ProjectorOptions po;
  po.dir = dir;
  po.read_models = {options.projection};
  // The projector's own bound agrees with `until` (Rebuild caps it by BoundOf): never past
  // the canonical mark unless every stored event was asked for (DESIGN §6).
  po.bound = options.through == Through::kHead ? projections::SourceBound::kHead
                                               : projections::SourceBound::kCanonicalMark;
  // A new directory that no one else sees until it is whole: a rebuild that fails is run
  // again from the start, so its commits need no write-ahead log, only the flush at the end.
  po.store_access = projections::StoreAccess::kWriteUnlogged;
  auto projector = projections::Projector::Open(po);
  if (!projector.ok()) return projector.status();
  const auto started = std::chrono::steady_clock::now();
  // In steps, for the progress bar and a stop; the state and its digest do not depend on
  // the steps.
  constexpr uint64_t kStep = 200000;
  for (uint64_t at = 0; at < until.value();) {
    LEDGER_RETURN_IF_ERROR(CheckStop(options.stop));
    at = std::min(until.value(), at + kStep);
    LEDGER_RETURN_IF_ERROR((*projector)->CatchUp(store, ledger::Position(at)));
    if (options.progress) options.progress(at, until.value());
  }
  LEDGER_RETURN_IF_ERROR((*projector)->Flush());
  RebuildReport report;
  report.position = (*projector)->position();
  report.events = report.position.value();
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (report.position != until)
    return ledger::Status::Corruption("the rebuild stopped at position " + std::to_string(report.position.value()));
  auto digest = (*projector)->read_model(options.projection)->DigestAt(until);
  if (!digest.ok()) return digest.status();
  if (!digest->has_value()) {
    // An empty log (position 0) has the empty state's digest.
    if (until.value() != 0) return ledger::Status::Corruption("no digest recorded at the as-of position");
  } else {
    report.digest = **digest;
  }
  return report;
}

}  // namespace

ledger::Result<RebuildReport> Rebuild(const ledger::EventStore& store, const RebuildOptions& options) {
  const auto& names = projections::ReadModelNames();
  if (std::find(names.begin(), names.end(), options.projection) == names.end())
    return ledger::Status::InvalidArgument("no read model named '" + options.projection + "'");
  // A symlink there, even a dangling one, is taken (writing would follow it).
  LEDGER_RETURN_IF_ERROR(CheckOutFree(options.out_dir, OutKind::kDirectory));
  auto bound = BoundOf(store, options.through);
  if (!bound.ok()) return bound.status();
  const ledger::Position until = options.as_of.value() == 0 ? bound->last : options.as_of;
  if (until > bound->last) return ledger::Status::InvalidArgument(DescribeEnd(*bound));
  LEDGER_RETURN_IF_ERROR(CheckEndsACommand(store, until));
  // Built under a hidden name beside --out and renamed to it once whole and synced, never
  // over anything (DECISIONS 99): a rebuild that fails, is stopped, or finds --out taken
  // by then leaves nothing under --out, and its partial is removed (`partial`'s destructor).
  const std::filesystem::path out = WithoutTrailingSlash(options.out_dir);  // "dir/" names dir
  std::error_code ec;
  if (!out.parent_path().empty()) std::filesystem::create_directories(out.parent_path(), ec);
  auto partial = PartialOut::MakeDirectory(out);
  if (!partial.ok()) return partial.status();
  auto report = RebuildInto(store, options, until, partial->path());
  if (!report.ok()) return report.status();
  report->bound = *bound;
  LEDGER_RETURN_IF_ERROR(SyncTree(partial->path()));
  LEDGER_RETURN_IF_ERROR(CheckStop(options.stop));  // a stop asked for since the last step: nothing published
  LEDGER_RETURN_IF_ERROR(partial->Publish());
  return report;
}

}  // namespace replay
