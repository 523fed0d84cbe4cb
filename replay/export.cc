// export: matching events as JSON Lines or CSV. Bodies are written by FlatBuffers'
// mini-reflection (every field by its schema name); personal fields never leave: sealed
// ones show their key id, unsealed ones (key id 0, written before sealing) are marked, and
// an erased customer's are shown as erased. An export to a file appears under its name
// only once it is whole (replay/out_file.h). Events are read through the store's canonical
// mark unless every stored event is asked for (BoundOf).
#include <flatbuffers/minireflect.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <ostream>
#include <set>

#include "ledger/record_codec.h"
#include "projections/read_model_store.h"
#include "replay/out_file.h"
#include "replay/replay.h"
#include "schemas/ledger_generated.h"

namespace replay {

using Json = projections::Json;
namespace fbs = ledger::schema;

namespace {

std::string Str(const flatbuffers::String* s) { return s ? s->str() : std::string(); }

std::string CsvField(const std::string& v) {
  // Quoted, with a leading apostrophe for what a spreadsheet would run as a formula.
  std::string out = "\"";
  if (!v.empty() && (v[0] == '=' || v[0] == '+' || v[0] == '-' || v[0] == '@')) out += '\'';
  for (char c : v) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
  return out;
}

// The customer an event's personal fields are about ("" when none).
std::string CustomerOf(const fbs::Event& e) {
  switch (e.body_type()) {
    case fbs::EventBody::CustomerRegistered: return Str(e.body_as_CustomerRegistered()->customer_id());
    case fbs::EventBody::CustomerUpdated: return Str(e.body_as_CustomerUpdated()->customer_id());
    case fbs::EventBody::CustomerErased: return Str(e.body_as_CustomerErased()->customer_id());
    case fbs::EventBody::MessageSent: return Str(e.body_as_MessageSent()->customer_id());
    default: return "";
  }
}

// Positions 1..last, each verified, in order.
template <typename Visit>
ledger::Status Walk(const ledger::EventStore& store, ledger::Position last, StopFlag stop, const Visit& visit) {
  for (uint64_t at = 1; at <= last.value();) {
    LEDGER_RETURN_IF_ERROR(CheckStop(stop));
    // No further than `last`: the store may hold events beyond it that are not to be read.
    const size_t wanted = static_cast<size_t>(std::min<uint64_t>(ledger::kReadEventsMax, last.value() - at + 1));
    auto chunk = store.ReadRange(ledger::Position(at), wanted);
    if (!chunk.ok()) return chunk.status();
    if (chunk->empty()) return ledger::Status::Corruption("event missing at position " + std::to_string(at));
    for (const ledger::StoredEvent& s : *chunk) {
      // A range read skips a position that is missing (a deleted record): an export must
      // not quietly leave it out.
      if (s.position.value() != at) return ledger::Status::Corruption("event missing at position " + std::to_string(at));
      const fbs::Event* e = ledger::VerifyRecord(s.record);
      if (e == nullptr) return ledger::Status::Corruption("record does not verify at position " + std::to_string(s.position.value()));
      visit(s, *e);
      at = s.position.value() + 1;
    }
  }
  return ledger::Status::Ok();
}

}  // namespace

ledger::Status CheckExportOptions(const ExportOptions& options) {
  if (!options.event_type.empty()) {
    bool known = false;
    for (const char* const* n = fbs::EnumNamesEventBody(); *n != nullptr; ++n) known = known || options.event_type == *n;
    if (!known || options.event_type == "NONE") return ledger::Status::InvalidArgument("no event type named '" + options.event_type + "'");
  }
  if (options.to_us != 0 && options.to_us <= options.from_us)
    return ledger::Status::InvalidArgument("--to must be later than --from");
  return ledger::Status::Ok();
}

ledger::Result<ExportReport> Export(const ledger::EventStore& store, const ExportOptions& options, std::ostream& out) {
  LEDGER_RETURN_IF_ERROR(CheckExportOptions(options));
  auto bound = BoundOf(store, options.through);
  if (!bound.ok()) return bound.status();
  // Erasures first: a customer erased later in the log has no personal field anywhere.
  // (Only in what is read: an erasure beyond the canonical mark is not part of the log.)
  std::set<std::string> erased;  // "<tenant>/<customer>"
  LEDGER_RETURN_IF_ERROR(Walk(store, bound->last, options.stop, [&](const ledger::StoredEvent&, const fbs::Event& e) {
    if (e.body_type() == fbs::EventBody::CustomerErased) erased.insert(Str(e.tenant()) + "/" + CustomerOf(e));
  }));
  ExportReport report;
  report.bound = *bound;
  const uint64_t total = bound->last.value();
  if (options.format == ExportFormat::kCsv)
    out << "position,stream,stream_version,type,tenant,recorded_at_us,writer_epoch,anomaly,personal,body\n";
  LEDGER_RETURN_IF_ERROR(Walk(store, bound->last, options.stop, [&](const ledger::StoredEvent& s, const fbs::Event& e) {
    ++report.scanned;
    if (options.progress && report.scanned % 10000 == 0) options.progress(report.scanned, total);
    const std::string stream = Str(e.stream()), type = fbs::EnumNameEventBody(e.body_type()), tenant = Str(e.tenant());
    if (!options.stream_prefix.empty() && stream.rfind(options.stream_prefix, 0) != 0) return;
    if (!options.event_type.empty() && type != options.event_type) return;
    if (!options.tenant.empty() && tenant != options.tenant) return;
    if (e.recorded_at_us() < options.from_us || (options.to_us != 0 && e.recorded_at_us() >= options.to_us)) return;
    flatbuffers::ToStringVisitor text(" ", /*quotes=*/true, "", /*vdelimited=*/true);  // JSON
    flatbuffers::IterateFlatBuffer(reinterpret_cast<const uint8_t*>(s.record.data()), fbs::EventTypeTable(), &text);
    Json body = Json::parse(text.s, nullptr, false);
    Json envelope_body = body.is_object() && body.contains("body") ? body["body"] : Json(nullptr);
    std::string personal;
    const bool has_personal = e.personal() != nullptr && e.personal()->size() > 0;
    const std::string customer = CustomerOf(e);
    if (!customer.empty() && erased.count(tenant + "/" + customer)) personal = "erased";
    else if (has_personal && e.personal_key_id() == 0) {
      personal = "unsealed (written before sealing)";
      ++report.unsealed_personal;
    } else if (has_personal) personal = "sealed with key " + std::to_string(e.personal_key_id());
    ++report.exported;
    if (options.format == ExportFormat::kJsonLines) {
      Json line = {{"position", s.position.value()}, {"stream", stream},        {"stream_version", e.stream_version()},
                   {"type", type},                   {"tenant", tenant},        {"recorded_at_us", e.recorded_at_us()},
                   {"writer_epoch", e.writer_epoch()}, {"hash", ledger::ToHex(s.hash)}, {"body", envelope_body}};
      if (e.anomaly() != nullptr && e.anomaly()->size() > 0) line["anomaly"] = e.anomaly()->str();
      if (!personal.empty()) line["personal"] = personal;
      out << line.dump() << '\n';
    } else {
      out << s.position.value() << ',' << CsvField(stream) << ',' << e.stream_version() << ',' << CsvField(type) << ','
          << CsvField(tenant) << ',' << e.recorded_at_us() << ',' << e.writer_epoch() << ',' << CsvField(Str(e.anomaly()))
          << ',' << CsvField(personal) << ',' << CsvField(envelope_body.dump()) << '\n';
    }
  }));
  if (options.progress) options.progress(report.scanned, total);  // the end, whatever the count
  return report;
}

ledger::Result<ExportReport> ExportToFile(const ledger::EventStore& store, const ExportOptions& options,
                                          const std::string& out_path) {
  LEDGER_RETURN_IF_ERROR(CheckExportOptions(options));
  LEDGER_RETURN_IF_ERROR(CheckOutFree(out_path, OutKind::kFile));
  // A store that cannot be read so (no canonical mark) is refused before a partial is made.
  if (auto bound = BoundOf(store, options.through); !bound.ok()) return bound.status();
  // Written under a hidden name beside out_path and renamed to it once whole and synced,
  // never over anything (DECISIONS 99): an export that fails (a missing event, a full
  // disk), is stopped, or finds out_path taken by then leaves nothing there, and its
  // partial is removed (`partial`'s destructor, after `file`'s has closed it). 0666 less
  // the umask: the mode the file had when it was created in place.
  int fd = -1;
  auto partial = PartialOut::CreateFile(out_path, 0666, &fd);
  if (!partial.ok()) return partial.status();
  FdOut file(fd);
  std::ostream out(&file);
  auto report = Export(store, options, out);
  if (!report.ok()) return report.status();
  out.flush();
  // A full disk shows here (the stream's buffer failed) or at close (the last write, the
  // sync): not an export.
  if (!out || !file.Close())
    return ledger::Status::IOError("cannot write the export to " + out_path + ": " +
                                   std::strerror(file.error() != 0 ? file.error() : EIO));
  LEDGER_RETURN_IF_ERROR(CheckStop(options.stop));  // a stop asked for since the last read: nothing published
  LEDGER_RETURN_IF_ERROR(partial->Publish());
  return report;
}

}  // namespace replay
