#include "replay/replay.h"

namespace replay {

ledger::Result<std::unique_ptr<ledger::EventStore>> OpenForReplay(const std::string& store_dir, const std::string& scratch_dir,
                                                                  uint32_t shard) {
  ledger::StoreOptions o;
  o.path = store_dir;
  o.shard = ledger::ShardId(shard);
  o.create_if_missing = false;
  o.secondary_path = scratch_dir;
  return ledger::EventStore::Open(o);
}

}  // namespace replay
