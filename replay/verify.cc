// verify: one walk of the chain (ledger::VerifyChainThrough) with the auditor's further
// checks on every event, the first failure named by its position.
#include <algorithm>
#include <cctype>
#include <cstring>
#include <optional>
#include <vector>

#include "ledger/domain/money.h"
#include "ledger/record_codec.h"
#include "replay/replay.h"
#include "schemas/ledger_generated.h"

namespace replay {

using ledger::Position;
using ledger::Status;

namespace {

Status Bad(const std::string& what, Position at) {
  return Status::Corruption(what + " at position " + std::to_string(at.value()));
}

std::string_view View(const flatbuffers::String* s) { return s ? s->string_view() : std::string_view(); }

// Every posting moves a positive amount of a known currency from one account to another:
// each is one debit and one equal credit, so the event's postings balance.
Status CheckPostings(const ledger::schema::Event& e, Position at) {
  const auto* postings = ledger::PostingsOfRecord(e);
  if (postings == nullptr) return Status::Ok();
  for (const auto* p : *postings) {
    if (p == nullptr) return Bad("an empty posting", at);
    if (p->amount_minor() <= 0) return Bad("a posting of a non-positive amount", at);
    if (!ledger::FindCurrency(View(p->currency())).ok()) return Bad("a posting in an unknown currency", at);
    const std::string_view debit = View(p->debit()), credit = View(p->credit());
    if (debit.empty() || credit.empty() || debit == credit) return Bad("a posting without two different accounts", at);
  }
  return Status::Ok();
}

}  // namespace

std::optional<KeptDigest> ParseKeptDigest(const std::string& text) {
  const size_t colon = text.find(':');
  if (colon == std::string::npos || colon == 0 || colon > 20) return std::nullopt;
  uint64_t position = 0;
  for (size_t i = 0; i < colon; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return std::nullopt;
    position = position * 10 + static_cast<uint64_t>(text[i] - '0');
  }
  std::string bytes;
  if (position == 0 || !ledger::FromHex(text.substr(colon + 1), &bytes) || bytes.size() != 32) return std::nullopt;
  KeptDigest d;
  d.position = Position(position);
  std::memcpy(d.hash.data(), bytes.data(), 32);
  return d;
}

ledger::Result<VerifyReport> Verify(const ledger::EventStore& store, const VerifyOptions& options) {
  VerifyReport report;
  // Every stored event is walked, beyond the mark too: the chain is the store's. The mark
  // is named so that an auditor sees how much of it is known to be part of the log.
  report.canonical_position = store.canonical_mark().position;
  const uint64_t total = store.head().position.value();
  uint64_t epoch = 0;
  uint64_t command_first = 0, command_count = 0;  // the command the last event belonged to
  // The kept digests in position order: the walk meets them in that order, so the first
  // to fail is the one reported; `next_kept` is the first not yet reached.
  std::vector<KeptDigest> kept = options.against;
  std::stable_sort(kept.begin(), kept.end(),
                   [](const KeptDigest& a, const KeptDigest& b) { return a.position < b.position; });
  size_t next_kept = 0;
  const auto also = [&](Position at, const ledger::Sha256Digest& hash, const ledger::schema::Event& e) -> Status {
    LEDGER_RETURN_IF_ERROR(CheckStop(options.stop));  // not Corruption: returned as an error, not damage
    if (e.writer_epoch() < epoch) return Bad("the writer epoch went down", at);
    epoch = e.writer_epoch();
    // Whole commands: an event either starts a command right after the previous one ended,
    // or continues the previous one.
    const bool starts = e.command_first_position() == at.value();
    if (starts) {
      if (command_count != 0 && command_first + command_count != at.value()) return Bad("a command is cut short", at);
    } else if (e.command_first_position() != command_first || e.command_event_count() != command_count) {
      return Bad("an event outside the command before it", at);
    }
    command_first = e.command_first_position();
    command_count = e.command_event_count();
    LEDGER_RETURN_IF_ERROR(CheckPostings(e, at));
    for (; next_kept < kept.size() && kept[next_kept].position == at; ++next_kept)
      if (hash != kept[next_kept].hash) return Bad("the log no longer matches the digest kept for it (rewritten?)", at);
    return Status::Ok();
  };
  const auto progress = [&](Position p) {
    if (options.progress) options.progress(p.value(), total);
  };
  // Where the walk failed, as a value: an event check names its event; a chain or density
  // failure is the event after the last verified one.
  std::optional<Position> failed_at;
  const auto checked = [&](Position at, const ledger::Sha256Digest& hash, const ledger::schema::Event& e) -> Status {
    Status s = also(at, hash, e);
    if (!s.ok()) failed_at = at;
    return s;
  };
  Position through;
  Status walked = ledger::VerifyChainThrough(store, Position(0), &through, checked, progress);
  report.through = through;
  report.events = through.value();
  if (walked.ok() && command_count != 0 && command_first + command_count != through.value() + 1) {
    walked = Bad("the last command is cut short", through);
    failed_at = through;
  }
  if (walked.ok() && next_kept < kept.size()) {
    walked = Status::Corruption("the log ends at position " + std::to_string(through.value()) +
                                ", before the digest kept for position " + std::to_string(kept[next_kept].position.value()));
    failed_at = kept[next_kept].position;
  }
  if (!walked.ok() && walked.code() != ledger::Code::kCorruption) return walked;  // I/O, not damage
  if (through.value() > 0) {
    auto last = store.ReadRange(through, 1);
    if (last.ok() && !last->empty()) report.through_hash = last->front().hash;
  }
  report.intact = walked.ok();
  if (!report.intact) {
    report.reason = walked.message();
    report.first_bad = failed_at.value_or(Position(through.value() + 1));
  }
  return report;
}

}  // namespace replay
