// ledgerd's command line (DESIGN §9 "Node flags").
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "api/http_types.h"
#include "ledger/status.h"

namespace api {

inline constexpr int kFailoverAfterMsDefault = 1000;
inline constexpr int kResolveAfterSDefault = 300;

enum class NodeRole { kWriter, kProjector, kStandby };

struct NodeOptions {
  // --help or -h: print NodeUsage() and exit 0; nothing else is read or checked.
  bool help = false;
  NodeRole role = NodeRole::kWriter;
  std::vector<uint32_t> projector_shards;  // --shards N,M (projector)
  int failover_after_ms = kFailoverAfterMsDefault;
  std::string data_dir;
  std::string http_host = "127.0.0.1";
  int http_port = 8080;
  std::string node_id = "node-1";
  uint32_t shard = 0;
  std::string kafka_bootstrap;  // empty: start the embedded Kafka-protocol cluster
  std::vector<std::pair<std::string, std::string>> kafka_properties;
  bool ack_replicated = true;   // --ack replicated (default) | local
  bool accept_new_topic = false;  // go on in a new incarnation when ledger.events went back
  std::string secrets_key_file;   // seals subscriber secrets (and, later, data keys)
  bool allow_private_webhooks = false;  // tests: subscriber URLs on private/loopback addresses
  int rate_limit_per_key = 100;          // requests per second per API key (burst twice that)
  int digest_every_s = 60;               // the writer's DigestPublished: at least this often
  uint64_t digest_every_events = 10000;  // ... or after this many events
  std::string writer_url;                // --writer: where a standby sends writers (503 answers)
  // --advertise-url: how other nodes and clients reach this one (WriterPromoted and 503
  // answers carry it); default http://HOST:PORT of --http.
  std::string advertise_url;
  std::vector<std::string> peers;        // --peers URL,...: the shard's other nodes
  // --writer-key-file: an auditor key for the writer's GET /v1/log, where this node catches
  // up when Kafka's window has moved past its offsets.
  std::string writer_key_file;
  int resolve_after_s = kResolveAfterSDefault;  // a failover's outage notice resolves after this
  // --request-timeout-ms: a request not received whole, or a connection silent, for this
  // long is cut off (tests shorten it).
  int request_timeout_ms = kRequestTimeoutS * 1000;
};

struct DevBrokerOptions {
  bool help = false;  // --help or -h, as NodeOptions::help
  std::string bootstrap_file;
  int partitions = 1;
};

// `ledgerd dev-broker --bootstrap-file FILE [--partitions N]`: args after "dev-broker".
ledger::Result<DevBrokerOptions> ParseDevBrokerOptions(const std::vector<std::string>& args);

// Parses argv[1..]. InvalidArgument with a usage message on any error: a flag it does not
// know is "unknown flag X" wherever it stands, a known one without its value "X needs a
// value". --help (or -h) anywhere a flag may stand asks for the usage.
ledger::Result<NodeOptions> ParseNodeOptions(const std::vector<std::string>& args);

std::string NodeUsage();

}  // namespace api
