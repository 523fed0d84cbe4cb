// Personal data at the API edge (DESIGN §12): reading a customer's personal fields from a
// request into a sealing input (with the customer's data key from the keyring), and opening
// a sealed profile for the customer's merchant. Values are never put into errors or logs.
#pragma once

#include <optional>
#include <string>
#include <variant>

#include "api/route_support.h"
#include "ledger/domain/commands.h"

namespace api {

struct PersonalFields {
  std::optional<ledger::domain::PersonalInput> input;  // none: the request gives none a value
  // schema::PersonalField bits of the fields the request names as null or "" (an update
  // removes them; DECISIONS 109). Those it leaves out are kept.
  uint8_t removed = 0;
  // What stands for the personal fields in the request digest: an HMAC under the
  // customer's data key, so the log holds no unkeyed hash of them.
  std::string digest_part;
};

// name, email, phone and address {line1, line2, city, region, postal_code, country} of a
// customer body, or with `message_body` set the text of a message; draws the customer's
// data key when any is given a value. A Response when the request must be refused (400 with
// the pointer, also for name or email given as null; 503 without a keyring, 422 for an
// erased customer).
std::variant<PersonalFields, Response> ReadPersonalFields(Call& c, const std::string& merchant,
                                                          const std::string& customer_id,
                                                          const std::string* message_body = nullptr);

// 500 for a keyring that could not give a customer's data key for another reason than
// erasure; the status (which names no customer) goes to the operator's log.
Response KeyringUnreadable(const ledger::Status& why);

// A sealed field as the read models keep it ({sealed, key_id, position}) opened for the
// customer's merchant: the event's fields (name, email, phone, address, text),
// {"erased": true}, or {"sealed": true, "key_id", "note"} when this node does not hold the
// key (or the caller is not the merchant). Anything else is returned as it is.
Json OpenSealed(const Call& c, const Json& sealed);
// The customer view with its profile (field by field, DECISIONS 109) and message bodies
// opened (OpenSealed).
Json OpenCustomer(const Call& c, Json customer);

// Destroys the keys of every customer the log says was erased (the customers read model),
// so that an erasure whose request died between CustomerErased and the key's destruction
// still completes. Idempotent; a key destroyed already is skipped (no second tombstone).
// Returns how many customers' keys it destroyed now.
ledger::Result<size_t> SweepErasures(const ApiContext& ctx);

}  // namespace api
