#include "api/auth.h"

#include <openssl/rand.h>

#include "ledger/chain_hash.h"
#include "projections/projections.h"

namespace api {

const char* RoleName(Role role) {
  switch (role) {
    case Role::kMerchant: return "merchant";
    case Role::kAuditor: return "auditor";
    case Role::kAnalyst: return "analyst";
    case Role::kAdmin: return "admin";
    case Role::kReplicator: return "replicator";
  }
  return "unknown";
}

bool ParseRole(const std::string& name, Role* role) {
  for (Role r : {Role::kMerchant, Role::kAuditor, Role::kAnalyst, Role::kAdmin, Role::kReplicator})
    if (name == RoleName(r)) {
      *role = r;
      return true;
    }
  return false;
}

ledger::Result<NewKey> DrawKey() {
  unsigned char secret[32], id[8];
  if (RAND_bytes(secret, sizeof secret) != 1 || RAND_bytes(id, sizeof id) != 1)
    return ledger::Status::Unavailable("the random source failed");
  NewKey k;
  k.key = "lk_" + ledger::ToHex(std::string_view(reinterpret_cast<const char*>(secret), sizeof secret));
  k.key_id = "key_" + ledger::ToHex(std::string_view(reinterpret_cast<const char*>(id), sizeof id));
  k.hash = ledger::Sha256Of(k.key);
  return k;
}

ledger::Result<Principal> Authenticate(const ApiContext& ctx, const Request& request) {
  const std::string header = request.Header("authorization");
  const std::string prefix = "Bearer ";
  auto unauthenticated = [] { return ledger::Status::NotFound("unauthenticated"); };
  if (header.size() <= prefix.size() || header.compare(0, prefix.size(), prefix) != 0) return unauthenticated();
  const std::string key = header.substr(prefix.size());
  if (key.size() != 67 || key.compare(0, 3, "lk_") != 0) return unauthenticated();
  const projections::ProjectionStore* access = ctx.projector ? ctx.projector->read_model("access") : nullptr;
  if (access == nullptr) return ledger::Status::Unavailable("keys are not readable on this node yet");
  auto entry = access->Get("key/" + ledger::ToHex(ledger::Sha256Of(key)));
  if (!entry.ok()) return entry.status();
  if (!entry->has_value()) return unauthenticated();
  Principal p;
  p.key_id = (**entry)["key_id"].get<std::string>();
  // The access read model stores roles as the API names them ("merchant").
  if (!ParseRole((**entry)["role"].get<std::string>(), &p.role)) return unauthenticated();
  p.merchant_id = (**entry)["merchant_id"].get<std::string>();
  return p;
}

}  // namespace api
