#include "tests/support/test_records.h"

#include <cstring>

#include "ledger/chain_hash.h"
#include "ledger/event_store.h"
#include "ledger/seal.h"

namespace testing_support {

std::string MakeListingRecord(const RecordSpec& spec) {
  ledger::EnvelopeFields f;
  f.shard = ledger::ShardId(spec.shard);
  f.stream = spec.stream;
  f.event_id = {spec.seed, spec.seed * 7919 + 1};
  f.tenant = spec.tenant;
  f.correlation_id = {spec.seed, 1};
  f.causation_id = {spec.seed, 2};
  f.idempotency_key = spec.idempotency_key;
  f.request_digest = ledger::Sha256Of(spec.request);
  f.command_event_count = spec.command_event_count;
  if (spec.personal_bytes > 0) {
    f.personal_key_id = spec.seal_key_id;
    f.personal.assign(spec.personal_bytes + (spec.seal_key_id != 0 ? ledger::kSealOverheadBytes : 0),
                      spec.seal_key_id != 0 ? '\0' : 'p');
  }
  std::string title(spec.title_bytes, 'a' + static_cast<char>(spec.seed % 26));
  return ledger::EncodeRecord(
      f, ledger::schema::EventBody::ListingPublished, [&](flatbuffers::FlatBufferBuilder& fbb) {
        auto store_id = fbb.CreateString("s1");
        auto sku = fbb.CreateString("sku-" + std::to_string(spec.seed));
        auto t = fbb.CreateString(title);
        auto cur = fbb.CreateString("USD");
        auto price = ledger::schema::CreateMoney(fbb, 1999, cur);
        return ledger::schema::CreateListingPublished(fbb, store_id, sku, t, price, 5).Union();
      });
}

ledger::AppendCommand MakeCommand(const RecordSpec& spec, size_t n, bool distinct_streams,
                                  ledger::ExpectedVersion expected) {
  ledger::AppendCommand cmd;
  cmd.events.reserve(n);
  for (size_t i = 0; i < n; ++i) {
    RecordSpec s = spec;
    s.command_event_count = static_cast<uint32_t>(n);
    s.seed = spec.seed * 100003 + i;
    if (distinct_streams) s.stream = spec.stream + "-" + std::to_string(i);
    bool first_of_stream = distinct_streams || i == 0;
    cmd.events.push_back({MakeListingRecord(s), first_of_stream ? expected : ledger::ExpectedVersion::Any()});
    if (s.personal_bytes > 0 && s.seal_key_id != 0) {
      ledger::SecretKey key{};  // one customer's key per key id
      std::memcpy(key.data(), &s.seal_key_id, sizeof s.seal_key_id);
      cmd.events.back().seal = ledger::PersonalSeal{s.seal_key_id, key, std::string(s.personal_bytes, 'p')};
    }
  }
  return cmd;
}

}  // namespace testing_support
