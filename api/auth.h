// API keys (DESIGN §9): 256 random bits, shown once, stored only as SHA-256 hashes in
// KeyIssued events and the `access` read model. Roles: merchant (one merchant id),
// auditor, analyst, admin, replicator.
#pragma once

#include <string>

#include "api/api_context.h"
#include "api/http_types.h"
#include "ledger/status.h"
#include "ledger/types.h"

namespace api {

enum class Role { kMerchant, kAuditor, kAnalyst, kAdmin, kReplicator };

struct Principal {
  std::string key_id;
  Role role = Role::kMerchant;
  std::string merchant_id;  // merchant keys only
};

struct NewKey {
  std::string key_id;       // "key_" + 16 hex digits
  std::string key;          // "lk_" + 64 hex digits: the secret, shown once
  ledger::Sha256Digest hash{};
};

// Draws a new key from the operating system's random source (OpenSSL RAND_bytes).
ledger::Result<NewKey> DrawKey();

// The caller of `request`: its `Authorization: Bearer <key>` looked up by hash.
// Errors: NotFound-coded "unauthenticated" (missing, malformed, unknown or revoked key).
ledger::Result<Principal> Authenticate(const ApiContext& ctx, const Request& request);

const char* RoleName(Role role);
// "merchant" -> kMerchant ...; false for anything else.
bool ParseRole(const std::string& name, Role* role);

}  // namespace api
