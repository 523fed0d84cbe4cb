// A standby's catch-up source when Kafka's window has moved past its offsets (DESIGN §8):
// the writer's GET /v1/log, read with an auditor (or replicator) key. The batches are
// rebuilt from the answer (records and hashes as stored, with their Kafka offsets) and
// judged by the log reader with the canonical rule like any other.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "ledger/kafka/log_reader.h"

namespace api {

inline constexpr int kLogHttpTimeoutMs = 10000;
inline constexpr int kLogHttpAttempts = 3;  // per address, before the next one is tried

// `addresses` is asked on every read (the writer may change); each is tried in turn. The
// key is sent as a Bearer token and never logged.
std::unique_ptr<ledger::kafka::CatchUpSource> LogHttpSource(std::function<std::vector<std::string>()> addresses,
                                                            std::string key, uint32_t shard);

// The first line of a key file (0600, as DATA/admin.key is written). Errors name the
// problem, never the key.
ledger::Result<std::string> ReadKeyFile(const std::string& path);

}  // namespace api
