// The canonical-log rule (DESIGN §6): which batches in a `ledger.events` partition are
// part of the log. Every reader (the writer's own tail, standbys, projections, replay)
// applies exactly this function, so all agree without talking to each other. Pure and
// thread-safe; the shared log reader (issue 4) is its only caller in production.
//
// Reading the partition in offset order from the reader's last canonical offset, a batch is
// canonical when its first position is the canonical head + 1, its previous hash is the
// head's hash, and either its epoch is the current epoch and its writer owns that epoch (is
// the node named by the canonical WriterPromoted of that epoch), or it opens with a
// WriterPromoted of a higher epoch (the first batch of a shard is a WriterPromoted(1)).
// Anything else is skipped and counted by its reason.
#pragma once

#include <cstdint>
#include <string>

#include "ledger/record_codec.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace ledger::kafka {

// What a reader knows of the canonical log so far.
struct CanonicalHead {
  Position position;        // last canonical position (0: empty log)
  Sha256Digest hash{};      // its chain hash (zeros for an empty log)
  Epoch epoch;              // the current canonical epoch (0: none yet)
  std::string owner;        // node named by the canonical WriterPromoted(epoch)
  int64_t offset = -1;      // Kafka offset of the batch holding `position` (-1: none)
};

// The facts of a batch the rule needs, taken from its bytes (and checked on the way).
struct BatchFacts {
  Position first;
  Position last;
  Sha256Digest previous_hash{};
  Sha256Digest last_hash{};
  Epoch epoch;
  std::string node_id;
  int64_t last_recorded_at_us = 0;  // the writer's clock when it decided the last record
  bool opens_with_writer_promoted = false;
  Epoch promoted_epoch;       // when it does
  std::string promoted_node;  // when it does
};

// Decodes a batch and checks it is internally sound: FlatBuffers verification of every
// record, dense positions from `first`, each record naming its position, whole commands,
// and the chain within the batch (from the batch's previous hash). Corruption otherwise:
// a reader that finds one stops rather than skip bytes it cannot judge.
Result<BatchFacts> FactsOf(std::string_view batch_bytes);

enum class Verdict {
  kCanonical,
  kAlreadyCanonical,   // at or below the head: a duplicate or a resend
  kNotNext,            // its first position is not head + 1
  kWrongPreviousHash,  // at head + 1 but chained to something else
  kNotOwner,           // right place, but its writer does not own the current epoch
};
std::string_view VerdictName(Verdict v);

Verdict Judge(const CanonicalHead& head, const BatchFacts& batch);

// The head after a canonical batch at `offset`. REQUIRES: Judge(head, batch) == kCanonical.
CanonicalHead Advance(const CanonicalHead& head, const BatchFacts& batch, int64_t offset);

}  // namespace ledger::kafka
