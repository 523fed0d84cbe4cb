#include "ledger/kafka/canonical_rule.h"

#include <algorithm>

#include "ledger/chain_hash.h"

namespace ledger::kafka {

Result<BatchFacts> FactsOf(std::string_view batch_bytes) {
  auto batch = DecodeBatch(batch_bytes);
  if (!batch.ok()) return batch.status();
  if (batch->records.empty()) return Status::Corruption("batch holds no records");
  BatchFacts f;
  f.first = batch->first_position;
  f.previous_hash = batch->previous_hash;
  f.epoch = batch->epoch;
  f.node_id = batch->node_id;
  Sha256Digest prev = batch->previous_hash;
  uint64_t pos = batch->first_position.value();
  uint64_t command_end = pos - 1;  // the batch must start and end on command boundaries
  for (size_t i = 0; i < batch->records.size(); ++i, ++pos) {
    const auto& item = batch->records[i];
    const std::string at = " at position " + std::to_string(pos);
    const schema::Event* ev = VerifyRecord(item.record);
    if (ev == nullptr) return Status::Corruption("record does not verify" + at);
    if (ev->position() != pos) return Status::Corruption("record names another position" + at);
    if (ChainHash(prev, Position(pos), item.record) != item.hash) return Status::Corruption("chain hash does not match" + at);
    if (pos > command_end) {
      if (ev->command_first_position() != pos) return Status::Corruption("batch splits a command" + at);
      command_end = pos + ev->command_event_count() - 1;
    }
    if (i == 0 && ev->body_type() == schema::EventBody::WriterPromoted) {
      f.opens_with_writer_promoted = true;
      f.promoted_epoch = Epoch(ev->body_as_WriterPromoted()->epoch());
      f.promoted_node = ev->body_as_WriterPromoted()->node_id() ? ev->body_as_WriterPromoted()->node_id()->str() : "";
    }
    f.last_recorded_at_us = std::max(f.last_recorded_at_us, ev->recorded_at_us());
    prev = item.hash;
  }
  if (command_end != pos - 1) return Status::Corruption("batch ends inside a command");
  f.last = Position(pos - 1);
  f.last_hash = prev;
  return f;
}

std::string_view VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kCanonical: return "canonical";
    case Verdict::kAlreadyCanonical: return "already-canonical";
    case Verdict::kNotNext: return "not-next";
    case Verdict::kWrongPreviousHash: return "wrong-previous-hash";
    case Verdict::kNotOwner: return "not-owner";
  }
  return "unknown";
}

Verdict Judge(const CanonicalHead& head, const BatchFacts& b) {
  if (b.first.value() <= head.position.value()) return Verdict::kAlreadyCanonical;
  if (b.first != head.position.next()) return Verdict::kNotNext;
  if (b.previous_hash != head.hash) return Verdict::kWrongPreviousHash;
  const bool current_owner = b.epoch == head.epoch && !head.owner.empty() && b.node_id == head.owner;
  // A promotion names its own writer: the batch's epoch and node are the promoted ones.
  const bool promotion = b.opens_with_writer_promoted && b.promoted_epoch > head.epoch &&
                         b.epoch == b.promoted_epoch && b.node_id == b.promoted_node;
  return current_owner || promotion ? Verdict::kCanonical : Verdict::kNotOwner;
}

CanonicalHead Advance(const CanonicalHead& head, const BatchFacts& b, int64_t offset) {
  LEDGER_INVARIANT(Judge(head, b) == Verdict::kCanonical);
  CanonicalHead next = head;
  next.position = b.last;
  next.hash = b.last_hash;
  next.offset = offset;
  if (b.opens_with_writer_promoted && b.promoted_epoch > head.epoch) {
    next.epoch = b.promoted_epoch;
    next.owner = b.promoted_node;
  }
  return next;
}

}  // namespace ledger::kafka
