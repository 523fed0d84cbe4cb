// What every Kafka client of a node needs: where the cluster is, which shard's partition,
// and the operator's pass-through properties (SSL, SASL, ...: `--kafka-property k=v`).
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ledger/status.h"
#include "ledger/types.h"

typedef struct rd_kafka_conf_s rd_kafka_conf_t;

namespace ledger::kafka {

struct ClientOptions {
  std::string bootstrap;
  ShardId shard{0};
  std::vector<std::pair<std::string, std::string>> kafka_properties;
};

// A librdkafka configuration with the bootstrap, the client's own settings (set explicitly
// where they matter) and then the pass-through properties. The caller owns the result
// (rd_kafka_new takes it). InvalidArgument naming the bad property.
Result<rd_kafka_conf_t*> MakeClientConfig(const ClientOptions& options,
                                          const std::vector<std::pair<std::string, std::string>>& settings);

}  // namespace ledger::kafka
