// How far into a store ledger-replay reads (DESIGN §6): through its canonical mark unless
// asked for every stored event.
#include "replay/replay.h"

namespace replay {

namespace {
std::string Events(uint64_t n) { return std::to_string(n) + (n == 1 ? " event" : " events"); }
}  // namespace

ledger::Result<ReadBound> BoundOf(const ledger::EventStore& store, Through through) {
  ReadBound bound;
  bound.through = through;
  // The mark first: it never passes the head, so a head read after it is at or beyond it
  // even in a store that is being written (a secondary instance holds both still).
  bound.canonical = store.canonical_mark().position;
  bound.head = store.head().position;
  bound.last = through == Through::kHead ? bound.head : bound.canonical;
  if (through == Through::kCanonical && bound.canonical.value() == 0 && bound.head.value() > 0)
    return ledger::Status::InvalidArgument(
        "the store holds " + Events(bound.head.value()) +
        " and no canonical mark, so none of them is known to be part of the log (a store never "
        "published to Kafka, such as a test's or a benchmark's, or one no log reader has confirmed yet); "
        "--through head reads every stored event");
  return bound;
}

std::string DescribeEnd(const ReadBound& bound) {
  std::string text = "the log ends at position " + std::to_string(bound.last.value());
  if (bound.beyond_canonical() == 0) return text;
  return text + ", its canonical mark (what the store holds after it, " + Events(bound.beyond_canonical()) +
         ", is not known to be part of the log; --through head reads it)";
}

}  // namespace replay
