// Stores that look like a shard's log, for the Kafka tests: the first command is the
// writer's WriterPromoted(1), the rest are listings on a few order streams.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "ledger/event_store.h"

namespace testing_support {

std::unique_ptr<ledger::EventStore> OpenNodeStore(const std::string& path, const std::string& node_id,
                                                  ledger::AckLevel ack_level = ledger::AckLevel::kLocal,
                                                  bool ack_requires_lease = false);
// Appends the writer's WriterPromoted(1) naming `node_id` and sets epoch 1.
void PromoteToEpochOne(ledger::EventStore& store, const std::string& node_id);
// Sets `epoch` and appends WriterPromoted(epoch) naming `node_id`.
void Promote(ledger::EventStore& store, const std::string& node_id, uint64_t epoch);
// Produces `messages` to partition 0 of ledger.events with a plain producer of its own, as
// another writer (or a retry) would, and waits until they are delivered.
void PublishRaw(const std::string& bootstrap, const std::vector<std::string>& messages);
// Appends `commands` commands of 1 to 3 events; `seed` varies their content.
void WriteCommands(ledger::EventStore& store, int commands, uint64_t seed);

}  // namespace testing_support
