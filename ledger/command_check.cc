// Caller-side checks of a command: everything that needs no stream state, done before the
// command reaches the single writer thread so that bad input costs the writer nothing.
#include <cstring>

#include "ledger/ids.h"
#include "ledger/record_codec.h"
#include "ledger/rocks_store.h"

namespace ledger {

Status CheckCommandLimits(const AppendCommand& command) {
  const size_t n = command.events.size();
  if (n == 0) return Status::InvalidArgument("a command must contain at least one event");
  if (n > kCommandEventsMax)
    return Status::TooLarge("a command may contain at most " + std::to_string(kCommandEventsMax) +
                            " events");
  size_t bytes = 0;
  for (size_t i = 0; i < n; ++i) {
    const size_t size = command.events[i].record.size();
    if (size > kRecordBytesMax)
      return Status::TooLarge("event " + std::to_string(i) + " is " + std::to_string(size) +
                              " bytes; the limit is " + std::to_string(kRecordBytesMax));
    bytes += size + 32;  // as a batch stores it: the record and its hash
  }
  if (bytes > kBatchBytesMax)
    return Status::TooLarge("the command is " + std::to_string(bytes) +
                            " bytes; one command must fit in one batch of " +
                            std::to_string(kBatchBytesMax));
  return Status::Ok();
}

Result<PreparedCommand> PrepareCommand(AppendCommand command, ShardId shard) {
  LEDGER_RETURN_IF_ERROR(CheckCommandLimits(command));
  const size_t n = command.events.size();
  PreparedCommand out;
  out.events.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    PendingEvent& pe = command.events[i];
    const schema::Event* ev = VerifyRecord(pe.record);
    if (ev == nullptr)
      return Status::InvalidArgument("event " + std::to_string(i) + " is not a valid record");
    if (ev->body_type() == schema::EventBody::NONE || ev->body() == nullptr)
      return Status::InvalidArgument("event " + std::to_string(i) + " has no body");
    if (ev->shard() != shard.value())
      return Status::InvalidArgument("event " + std::to_string(i) + " names another shard");
    if (ev->command_event_count() != n)
      return Status::InvalidArgument("event " + std::to_string(i) +
                                     " carries a command event count that is not the command's");
    std::string stream = ev->stream() ? ev->stream()->str() : std::string();
    Status s = ValidateStreamName(stream);
    if (!s.ok()) return Status::InvalidArgument("event " + std::to_string(i) + ": " + s.message());
    std::string tenant = ev->tenant() ? ev->tenant()->str() : std::string();
    std::string idem = ev->idempotency_key() ? ev->idempotency_key()->str() : std::string();
    Sha256Digest digest = FromSchema(ev->request_digest());
    if (i == 0) {
      if (!tenant.empty() && !IsValidMerchantId(tenant))
        return Status::InvalidArgument("tenant must match [a-z0-9_]{1,32}");
      if (!idem.empty()) LEDGER_RETURN_IF_ERROR(ValidateIdempotencyKey(idem));
      out.tenant = tenant;
      out.idempotency_key = idem;
      out.request_digest = digest;
    } else if (tenant != out.tenant || idem != out.idempotency_key ||
               digest != out.request_digest) {
      return Status::InvalidArgument(
          "all events of a command must carry the same tenant, idempotency key and request digest");
    }
    if (pe.expected.kind == ExpectedVersion::Kind::kExact && pe.expected.version.value() == 0)
      return Status::InvalidArgument("expected version 0 is written as no-stream");
    // A sealed personal field arrives as a placeholder of exactly the sealed size.
    size_t personal_offset = 0;
    if (pe.seal) {
      const auto* personal = ev->personal();
      if (pe.seal->key_id == 0 || ev->personal_key_id() != pe.seal->key_id || personal == nullptr ||
          personal->size() != pe.seal->plaintext.size() + kSealOverheadBytes)
        return Status::InvalidArgument("event " + std::to_string(i) +
                                       ": the personal field does not match what is to be sealed into it");
      personal_offset = static_cast<size_t>(personal->data() - reinterpret_cast<const uint8_t*>(pe.record.data()));
    } else if (ev->personal_key_id() != 0) {
      return Status::InvalidArgument("event " + std::to_string(i) + " names a data key but brings nothing to seal");
    }
    out.bytes += pe.record.size() + 32;
    out.events.push_back({std::move(pe.record), std::move(stream), pe.expected, std::move(pe.seal), personal_offset});
  }
  return out;
}

}  // namespace ledger
