// Access: the API keys the log has issued and not revoked (KeyIssued, KeyRevoked). The HTTP
// front authenticates against it; only SHA-256 hashes of keys are ever in the log or here.
//
// Keys: key/<hex sha-256 of the key> -> {key_id, role, merchant_id};
//       key_id/<key_id> -> {key_hash, role, merchant_id, issued_at_us, revoked_at_us?}.
#include <cctype>

#include "ledger/ids.h"
#include "ledger/record_codec.h"
#include "projections/event_reading.h"
#include "projections/projection.h"

namespace projections {
namespace {

using ledger::Status;
using ledger::schema::Event;
using ledger::schema::EventBody;
namespace fbs = ledger::schema;

class AccessView final : public Projection {
 public:
  AccessView() : Projection("access") {}

  Status Apply(const Event& e, StateTxn& s) const override {
    switch (e.body_type()) {
      case EventBody::KeyIssued: {
        const auto* b = e.body_as_KeyIssued();
        if (b->key_hash() == nullptr) return Status::Corruption("KeyIssued without a hash");
        const std::string hash = ledger::ToHex(ledger::FromSchema(b->key_hash()));
        const std::string role = ledger::AsciiLower(fbs::EnumNameKeyRole(b->role()));  // "Merchant" -> "merchant", as the API says it
        s.Put("key/" + hash, {{"key_id", Str(b->key_id())}, {"role", role}, {"merchant_id", Str(b->merchant_id())}});
        s.Put("key_id/" + Str(b->key_id()), {{"key_hash", hash},
                                             {"role", role},
                                             {"merchant_id", Str(b->merchant_id())},
                                             {"issued_at_us", e.recorded_at_us()}});
        break;
      }
      case EventBody::KeyRevoked: {
        Json& k = s.Mutable("key_id/" + Str(e.body_as_KeyRevoked()->key_id()));
        if (k.is_null()) return Status::Corruption("KeyRevoked for an unknown key");
        s.Erase("key/" + k["key_hash"].get<std::string>());
        k["revoked_at_us"] = e.recorded_at_us();
        break;
      }
      default:
        break;
    }
    return Status::Ok();
  }
};

}  // namespace

std::unique_ptr<Projection> MakeAccessView() { return std::make_unique<AccessView>(); }

}  // namespace projections
