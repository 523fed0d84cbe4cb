#include "ledger/kafka/client_options.h"

#include <librdkafka/rdkafka.h>

namespace ledger::kafka {

Result<rd_kafka_conf_t*> MakeClientConfig(const ClientOptions& options,
                                          const std::vector<std::pair<std::string, std::string>>& settings) {
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  char err[512];
  auto set = [&](const std::string& k, const std::string& v) -> Status {
    if (rd_kafka_conf_set(conf, k.c_str(), v.c_str(), err, sizeof err) == RD_KAFKA_CONF_OK) return Status::Ok();
    return Status::InvalidArgument("kafka property " + k + ": " + err);  // values may be secrets: not echoed
  };
  Status s = set("bootstrap.servers", options.bootstrap);
  for (const auto& [k, v] : settings)
    if (s.ok()) s = set(k, v);
  for (const auto& [k, v] : options.kafka_properties)
    if (s.ok()) s = set(k, v);
  if (!s.ok()) {
    rd_kafka_conf_destroy(conf);
    return s;
  }
  return conf;
}

}  // namespace ledger::kafka
