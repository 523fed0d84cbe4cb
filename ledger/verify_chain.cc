// VerifyChain: the full walk of a store's chain, shared by the crash test, the node's
// start-up checks and ledger-replay.
#include <algorithm>

#include "ledger/chain_hash.h"
#include "ledger/event_store.h"
#include "ledger/record_codec.h"

namespace ledger {

Status VerifyChain(const EventStore& store, Position* verified_through) {
  return VerifyChainThrough(store, Position(0), verified_through, nullptr, nullptr);
}

Status VerifyChainThrough(const EventStore& store, Position through, Position* verified_through,
                          const std::function<Status(const StoredEvent&, const schema::Event&)>& also,
                          const std::function<void(Position)>& progress) {
  const Head head = store.head();
  const bool whole = through.value() == 0 || through >= head.position;
  const uint64_t last = whole ? head.position.value() : through.value();
  Sha256Digest previous = kGenesisHash;
  uint64_t expected = 1;
  *verified_through = Position(0);
  while (expected <= last) {
    auto chunk = store.ReadRange(Position(expected), std::min<uint64_t>(kReadEventsMax, last - expected + 1));
    if (!chunk.ok()) return chunk.status();
    if (chunk->empty())
      return Status::Corruption("event missing at position " + std::to_string(expected));
    for (const StoredEvent& e : *chunk) {
      if (e.position.value() > last) break;
      const std::string at = std::to_string(expected);
      if (e.position.value() != expected)
        return Status::Corruption("event missing at position " + at);
      const schema::Event* ev = VerifyRecord(e.record);
      if (ev == nullptr) return Status::Corruption("record does not verify at position " + at);
      if (ev->position() != expected)
        return Status::Corruption("record names another position at position " + at);
      if (ev->command_first_position() > expected || ev->command_event_count() == 0 ||
          expected - ev->command_first_position() >= ev->command_event_count())
        return Status::Corruption("record is outside its command at position " + at);
      if (ChainHash(previous, e.position, e.record) != e.hash)
        return Status::Corruption("chain hash does not match at position " + at);
      if (also) LEDGER_RETURN_IF_ERROR(also(e, *ev));
      previous = e.hash;
      *verified_through = e.position;
      ++expected;
    }
    if (progress) progress(*verified_through);
  }
  if (whole && previous != head.hash) return Status::Corruption("head hash does not match the chain");
  return Status::Ok();
}

}  // namespace ledger
