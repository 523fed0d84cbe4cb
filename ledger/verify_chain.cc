// VerifyChain: the full walk of a store's chain, shared by the crash test, the node's
// start-up checks and ledger-replay.
#include "ledger/chain_hash.h"
#include "ledger/event_store.h"
#include "ledger/record_codec.h"

namespace ledger {

Status VerifyChain(const EventStore& store, Position* verified_through) {
  const Head head = store.head();
  Sha256Digest previous = kGenesisHash;
  uint64_t expected = 1;
  *verified_through = Position(0);
  while (expected <= head.position.value()) {
    auto chunk = store.ReadRange(Position(expected), kReadEventsMax);
    if (!chunk.ok()) return chunk.status();
    if (chunk->empty())
      return Status::Corruption("event missing at position " + std::to_string(expected));
    for (const StoredEvent& e : *chunk) {
      if (e.position.value() > head.position.value()) break;
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
      previous = e.hash;
      *verified_through = e.position;
      ++expected;
    }
  }
  if (previous != head.hash) return Status::Corruption("head hash does not match the chain");
  return Status::Ok();
}

}  // namespace ledger
