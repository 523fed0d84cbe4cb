// Builders of realistic records and commands for tests and benchmarks.
#pragma once

#include <string>

#include "ledger/event_store.h"
#include "ledger/record_codec.h"

namespace testing_support {

struct RecordSpec {
  std::string stream = "store/m1/s1";
  std::string tenant = "m1";
  std::string idempotency_key;
  std::string request = "request";  // hashed into the request digest
  uint32_t command_event_count = 1;
  size_t title_bytes = 16;          // payload size knob (a listing's title)
  uint32_t shard = 0;
  uint64_t seed = 1;                // varies event ids and content
  // A personal field of this many plaintext bytes: stored as it is under key id 0
  // (unsealed, as before sealing existed) or, with `seal_key_id`, sealed by the store.
  size_t personal_bytes = 0;
  uint64_t seal_key_id = 0;
};

// A ListingPublished record (a body with strings, money and a number).
std::string MakeListingRecord(const RecordSpec& spec);

// A command of `n` listing events, all on `stream` or, with distinct_streams, on
// stream + "-" + i; every event expects `expected` (applied to the first event of each
// stream, the rest expect Any).
ledger::AppendCommand MakeCommand(const RecordSpec& spec, size_t n, bool distinct_streams,
                                  ledger::ExpectedVersion expected = ledger::ExpectedVersion::Any());

}  // namespace testing_support
