#include "ledger/record_codec.h"

#include <cstring>

namespace ledger {

schema::Sha256 ToSchema(const Sha256Digest& d) {
  schema::Sha256 s;
  for (size_t i = 0; i < d.size(); ++i) s.mutable_bytes()->Mutate(i, d[i]);
  return s;
}

Sha256Digest FromSchema(const schema::Sha256* d) {
  Sha256Digest out{};
  if (d == nullptr) return out;
  std::memcpy(out.data(), d->bytes()->Data(), out.size());
  return out;
}

namespace internal {
flatbuffers::Offset<schema::Event> FinishEnvelope(flatbuffers::FlatBufferBuilder& fbb,
                                                  const EnvelopeFields& f,
                                                  schema::EventBody type,
                                                  flatbuffers::Offset<void> body) {
  auto stream = fbb.CreateString(f.stream);
  auto tenant = fbb.CreateString(f.tenant);
  auto idem = fbb.CreateString(f.idempotency_key);
  auto personal = fbb.CreateVector(reinterpret_cast<const uint8_t*>(f.personal.data()),
                                   f.personal.size());
  auto anomaly = fbb.CreateString(f.anomaly);
  schema::Uuid event_id(f.event_id.hi, f.event_id.lo);
  schema::Uuid correlation(f.correlation_id.hi, f.correlation_id.lo);
  schema::Uuid causation(f.causation_id.hi, f.causation_id.lo);
  schema::Sha256 digest = ToSchema(f.request_digest);
  schema::EventBuilder b(fbb);
  b.add_shard(f.shard.value());
  b.add_position(0);
  b.add_stream(stream);
  b.add_stream_version(0);
  b.add_event_id(&event_id);
  b.add_recorded_at_us(0);
  b.add_tenant(tenant);
  b.add_correlation_id(&correlation);
  b.add_causation_id(&causation);
  b.add_idempotency_key(idem);
  b.add_request_digest(&digest);
  b.add_command_first_position(0);
  b.add_command_event_count(f.command_event_count);
  b.add_writer_epoch(0);
  b.add_personal_key_id(f.personal_key_id);
  b.add_personal(personal);
  b.add_anomaly(anomaly);
  b.add_body_type(type);
  b.add_body(body);
  return b.Finish();
}
}  // namespace internal

void PatchAssigned(std::string* record, const AssignedFields& a) {
  auto* ev = schema::GetMutableEvent(record->data());
  bool ok = ev->mutate_position(a.position.value()) &&
            ev->mutate_stream_version(a.stream_version.value()) &&
            ev->mutate_recorded_at_us(a.recorded_at_us) &&
            ev->mutate_command_first_position(a.command_first_position.value()) &&
            ev->mutate_writer_epoch(a.writer_epoch.value());
  // Fields are always present (ForceDefaults); a failed mutation means the record was not
  // built by EncodeRecord, which the append path has already verified.
  LEDGER_INVARIANT(ok);
}

const schema::Event* VerifyRecord(std::string_view record) {
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(record.data()), record.size());
  if (!schema::VerifyEventBuffer(v)) return nullptr;
  return schema::GetEvent(record.data());
}

const flatbuffers::Vector<flatbuffers::Offset<schema::Posting>>* PostingsOfRecord(const schema::Event& e) {
  switch (e.body_type()) {
    case schema::EventBody::PaymentCaptured: return e.body_as_PaymentCaptured()->postings();
    case schema::EventBody::PaymentRefunded: return e.body_as_PaymentRefunded()->postings();
    case schema::EventBody::DisputeOpened: return e.body_as_DisputeOpened()->postings();
    case schema::EventBody::DisputeResolved: return e.body_as_DisputeResolved()->postings();
    case schema::EventBody::PayoutSent: return e.body_as_PayoutSent()->postings();
    case schema::EventBody::PayoutFailed: return e.body_as_PayoutFailed()->postings();
    case schema::EventBody::MessageSent: return e.body_as_MessageSent()->postings();
    default: return nullptr;
  }
}

std::string EncodeBatch(const BatchView& batch) {
  size_t bytes = 128;
  for (const auto& r : batch.records) bytes += r.record.size() + 64;
  flatbuffers::FlatBufferBuilder fbb(bytes);
  std::vector<flatbuffers::Offset<schema::BatchRecord>> items;
  items.reserve(batch.records.size());
  for (const auto& r : batch.records) {
    auto rec = fbb.CreateVector(reinterpret_cast<const uint8_t*>(r.record.data()), r.record.size());
    schema::Sha256 h = ToSchema(r.hash);
    items.push_back(schema::CreateBatchRecord(fbb, rec, &h));
  }
  auto node = fbb.CreateString(batch.node_id);
  auto vec = fbb.CreateVector(items);
  schema::Sha256 prev = ToSchema(batch.previous_hash);
  auto root = schema::CreateBatch(fbb, batch.shard.value(), batch.epoch.value(), node,
                                  batch.first_position.value(), &prev, vec);
  fbb.Finish(root);
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

Result<BatchView> DecodeBatch(std::string_view bytes) {
  flatbuffers::Verifier v(reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  if (!v.VerifyBuffer<schema::Batch>(nullptr)) return Status::Corruption("batch does not verify");
  const auto* b = flatbuffers::GetRoot<schema::Batch>(bytes.data());
  BatchView out;
  out.shard = ShardId(b->shard());
  out.epoch = Epoch(b->epoch());
  out.node_id = b->node_id() ? b->node_id()->str() : "";
  out.first_position = Position(b->first_position());
  out.previous_hash = FromSchema(b->previous_hash());
  if (b->records() != nullptr) {
    for (const auto* r : *b->records()) {
      if (r->record() == nullptr) return Status::Corruption("batch record without bytes");
      out.records.push_back(
          {std::string_view(reinterpret_cast<const char*>(r->record()->data()), r->record()->size()),
           FromSchema(r->hash())});
    }
  }
  return out;
}

}  // namespace ledger
