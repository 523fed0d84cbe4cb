// Encoding of stored records (the FlatBuffers Event envelope) and of batches.
//
// A record is encoded once, by whoever builds the command, with every envelope field it
// knows. The fields only the group commit knows (position, stream version, recorded-at,
// the command's first position, writer epoch) are written as zero and patched in place
// by the writer thread before the chain hash is computed. Thread-safe: pure functions.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "flatbuffers/flatbuffers.h"
#include "ledger/status.h"
#include "ledger/types.h"
#include "schemas/ledger_generated.h"

namespace ledger {

struct Uuid128 {
  uint64_t hi = 0;
  uint64_t lo = 0;
};

// Everything in the envelope that the builder of a command knows.
struct EnvelopeFields {
  ShardId shard{0};
  std::string stream;
  Uuid128 event_id;
  std::string tenant;  // merchant id; empty for platform records
  Uuid128 correlation_id;
  Uuid128 causation_id;
  std::string idempotency_key;
  Sha256Digest request_digest{};
  uint32_t command_event_count = 1;
  uint64_t personal_key_id = 0;
  std::string personal;  // PersonalData bytes, sealed unless personal_key_id == 0
  std::string anomaly;
};

// Encodes one record. `build_body(fbb)` creates the body table in `fbb` and returns its
// offset; `type` names which union member it is.
template <typename BuildBody>
std::string EncodeRecord(const EnvelopeFields& f, schema::EventBody type, BuildBody&& build_body);

// The assigned fields, patched in by the writer thread.
struct AssignedFields {
  Position position;
  StreamVersion stream_version;
  int64_t recorded_at_us = 0;
  Position command_first_position;
  Epoch writer_epoch;
};
// REQUIRES: `record` was produced by EncodeRecord (all patched fields present).
void PatchAssigned(std::string* record, const AssignedFields& a);

// Verifies the FlatBuffers structure of a stored record; nullptr if it does not verify.
// The returned pointer aliases `record`.
const schema::Event* VerifyRecord(std::string_view record);

// The double-entry postings of a money event; nullptr for an event without postings.
const flatbuffers::Vector<flatbuffers::Offset<schema::Posting>>* PostingsOfRecord(const schema::Event& e);

schema::Sha256 ToSchema(const Sha256Digest& d);
Sha256Digest FromSchema(const schema::Sha256* d);

// A batch (one group commit, one Kafka message).
struct BatchView {
  ShardId shard;
  Epoch epoch;
  std::string node_id;
  Position first_position;
  Sha256Digest previous_hash{};
  struct Item {
    std::string_view record;
    Sha256Digest hash{};
  };
  std::vector<Item> records;
};
std::string EncodeBatch(const BatchView& batch);
// Verifies and decodes; the views alias `bytes`.
Result<BatchView> DecodeBatch(std::string_view bytes);

// ---- implementation of the template ----
namespace internal {
flatbuffers::Offset<schema::Event> FinishEnvelope(flatbuffers::FlatBufferBuilder& fbb,
                                                  const EnvelopeFields& f,
                                                  schema::EventBody type,
                                                  flatbuffers::Offset<void> body);
}  // namespace internal

template <typename BuildBody>
std::string EncodeRecord(const EnvelopeFields& f, schema::EventBody type, BuildBody&& build_body) {
  flatbuffers::FlatBufferBuilder fbb(256 + f.personal.size());
  // Patched scalars must be present even when zero.
  fbb.ForceDefaults(true);
  flatbuffers::Offset<void> body = build_body(fbb);
  auto root = internal::FinishEnvelope(fbb, f, type, body);
  fbb.Finish(root, schema::EventIdentifier());
  return std::string(reinterpret_cast<const char*>(fbb.GetBufferPointer()), fbb.GetSize());
}

}  // namespace ledger
