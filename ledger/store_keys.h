// Key and value layouts of the event store's column families (internal to ledger/).
// Composite keys are length-prefixed so that no two (stream, version) pairs, or two
// (merchant, key) pairs, can ever encode to the same bytes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "ledger/types.h"

namespace ledger {
struct IdempotencyEntry;
}

namespace ledger::keys {

void PutBigEndian64(std::string* out, uint64_t v);
uint64_t GetBigEndian64(std::string_view in);  // REQUIRES: in.size() >= 8

// events: position (8 bytes BE) -> hash (32) || record
std::string EventKey(Position p);
// streams: len16 || stream || ver(8)  -> position (8 BE)
// (a stream's head is its last version key: one SeekForPrev)
std::string StreamPrefix(std::string_view stream);
std::string StreamVersionKey(std::string_view stream, StreamVersion v);
// True when `key` is a version key of `stream` (not of another stream).
bool IsVersionKeyOf(std::string_view key, std::string_view stream);
// idempotency: len16 || merchant || len16 || key -> first pos (8) || count (4) || digest (32)
std::string IdempotencyKey(std::string_view merchant, std::string_view key);
std::string IdempotencyValue(const IdempotencyEntry& e);
// False when the value has the wrong size.
bool ParseIdempotencyValue(std::string_view v, IdempotencyEntry* e);
// batches: first position (8 BE) -> last position (8) || epoch (8) || kafka offset (8, -1 unknown)
std::string BatchKey(Position first);
// quarantine: position (8 BE) || rejoined_at_us (8 BE) -> hash (32) || record
std::string QuarantineKey(Position p, int64_t rejoined_at_us);

// meta keys
inline constexpr std::string_view kMetaFormat = "format";
inline constexpr std::string_view kMetaShard = "shard";
inline constexpr std::string_view kMetaHead = "head";            // pos(8) || hash(32) || recorded_at_us(8)
// The canonical head as the log reader left it: pos(8) || epoch(8) || offset(8) || owner
inline constexpr std::string_view kMetaCanonicalHead = "canonical_head";
inline constexpr std::string_view kMetaWriterEpoch = "writer_epoch";      // epoch(8)
inline constexpr std::string_view kMetaKafkaClusterId = "kafka_cluster_id";
// The stream index holds every event through this position: pos(8). Absent in stores made
// before the index was written apart from the events (their index is whole).
inline constexpr std::string_view kMetaIndexedThrough = "indexed_through";
// Written once at creation; a directory without it is not a ledger store.
inline constexpr std::string_view kFormatValue = "commerce-ledger event store v1";

}  // namespace ledger::keys
