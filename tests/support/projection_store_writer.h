// Writes a read model's store the way a projector would leave it, for tests of the tools
// that read such stores (ledger-replay diff): one commit at a given position. Header-only:
// test_support does not link projections; the test binaries that use this do.
#pragma once

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "projections/read_model_store.h"

namespace testing_support {

// Commits `entries` (key -> JSON value) into the read model `name` under the projection
// directory `projections_dir` (created if absent), as position `position`.
inline ledger::Status WriteProjectionCommit(const std::string& projections_dir, const std::string& name,
                                            uint64_t position,
                                            const std::vector<std::pair<std::string, nlohmann::json>>& entries) {
  std::error_code ec;
  std::filesystem::create_directories(projections_dir, ec);
  if (ec) return ledger::Status::IOError("cannot create " + projections_dir + ": " + ec.message());
  auto store = projections::ProjectionStore::Open(projections_dir + "/" + name, name);
  if (!store.ok()) return store.status();
  projections::StateTxn txn(store->get());
  for (const auto& [key, value] : entries) txn.Put(key, value);
  return (*store)->Commit(txn, ledger::Position(position), -1);
}

}  // namespace testing_support
