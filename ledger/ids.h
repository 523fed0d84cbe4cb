// Validation of ids and stream names (DESIGN §3).
//
//   merchant id:  [a-z0-9_]{1,32}
//   other ids:    [A-Za-z0-9._:-]{1,64}  (eBay's and PayPal's ids fit)
//   streams:      <kind>/<merchant>/<id> with kind from kMerchantStreamKinds, or a
//                 platform stream in shard 0: <platform-kind>/<id> or "fee-recipe".
// Functions are pure and thread-safe.
#pragma once

#include <string>
#include <string_view>

#include "ledger/status.h"

namespace ledger {

inline constexpr size_t kMerchantIdLengthMax = 32;
inline constexpr size_t kEntityIdLengthMax = 64;
inline constexpr size_t kIdempotencyKeyLengthMax = 255;

bool IsValidMerchantId(std::string_view id);
// `text` with ASCII letters lowered (ids, header names, roles; never locale-dependent).
std::string AsciiLower(std::string_view text);
bool IsValidEntityId(std::string_view id);

// OK, or InvalidArgument naming what is wrong (the offending value is not echoed).
Status ValidateStreamName(std::string_view stream);

// Idempotency keys: 1..kIdempotencyKeyLengthMax printable ASCII characters.
Status ValidateIdempotencyKey(std::string_view key);

// Subscriber ids (DECISIONS 97). The id an owner chooses holds no ':'; the id in commands,
// events, stream names, read-model keys and the secret's seal binding is "<merchant>:<id>"
// for a merchant's subscriber and "<id>" for the platform's (owner ""), so one merchant's
// ids neither meet nor reveal another owner's.
std::string ScopedSubscriberId(std::string_view owner_merchant_id, std::string_view chosen);
// An auditor's subscriber (DECISIONS 108) is the platform's (owner "") with the id
// "<kAuditorSubscriberScope>:<id>", so that an auditor can remove the ones auditors added
// and no other platform subscriber: an admin's chosen id holds no ':' (DECISIONS 97), and
// the scope is no merchant id (merchant ids have no capitals), so it never meets a
// merchant's "<merchant>:<id>" either. ScopedSubscriberId and SubscriberIdLengthMax take it
// where they take a merchant id.
inline constexpr std::string_view kAuditorSubscriberScope = "Auditors";
// The id its owner chose: "<owner>:" taken off a merchant's subscriber, and
// "<kAuditorSubscriberScope>:" off an auditor's (owner ""). One a merchant added before ids
// were scoped has no such prefix and is its chosen id as it is.
std::string ChosenSubscriberId(std::string_view owner_merchant_id, std::string_view scoped);
// The longest id `owner_merchant_id` may choose: the scoped id stays within kEntityIdLengthMax.
size_t SubscriberIdLengthMax(std::string_view owner_merchant_id);

}  // namespace ledger
