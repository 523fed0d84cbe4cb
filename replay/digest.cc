#include "ledger/record_codec.h"
#include "replay/replay.h"
#include "schemas/ledger_generated.h"

namespace replay {

ledger::Result<const ledger::schema::Event*> ReadEventAt(const ledger::EventStore& store, ledger::Position at,
                                                        ledger::StoredEvent* out) {
  auto one = store.ReadRange(at, 1);
  if (!one.ok()) return one.status();
  if (one->empty() || one->front().position != at)  // ReadRange gives the next one there is
    return ledger::Status::Corruption("event missing at position " + std::to_string(at.value()));
  *out = std::move(one->front());
  const auto* e = ledger::VerifyRecord(out->record);
  if (e == nullptr) return ledger::Status::Corruption("record does not verify at position " + std::to_string(at.value()));
  return e;
}

ledger::Result<Digest> DigestAt(const ledger::EventStore& store, ledger::Position at, Through through) {
  auto bound = BoundOf(store, through);
  if (!bound.ok()) return bound.status();
  if (at.value() == 0) at = bound->last;
  if (at > bound->last) return ledger::Status::NotFound(DescribeEnd(*bound));
  const ledger::Head head = store.head();
  if (at == head.position) return Digest{head.position, head.hash, head.recorded_at_us};  // the empty log's too
  ledger::StoredEvent stored;
  auto e = ReadEventAt(store, at, &stored);
  if (!e.ok()) return e.status();
  return Digest{at, stored.hash, (*e)->recorded_at_us()};
}

std::string FormatDigest(const Digest& d) {
  std::string out = std::to_string(d.position.value());
  out.append(":").append(ledger::ToHex(d.hash));
  return out;
}

ledger::Result<ledger::Position> PositionAtTime(const ledger::EventStore& store, int64_t time_us, Through through) {
  auto bound = BoundOf(store, through);
  if (!bound.ok()) return bound.status();
  // recorded_at_us never goes down along the log (each batch takes max(clock, previous)).
  uint64_t lo = 0, hi = bound->last.value();  // answer in [lo, hi]
  while (lo < hi) {
    const uint64_t mid = lo + (hi - lo + 1) / 2;
    ledger::StoredEvent stored;
    auto e = ReadEventAt(store, ledger::Position(mid), &stored);
    if (!e.ok()) return e.status();
    if ((*e)->recorded_at_us() <= time_us) lo = mid;
    else hi = mid - 1;
  }
  return ledger::Position(lo);
}

}  // namespace replay
