#include "api/node_options.h"

#include <charconv>

namespace api {
namespace {

bool IsHttpUrl(const std::string& s) {
  return (s.rfind("http://", 0) == 0 && s.size() > 7) || (s.rfind("https://", 0) == 0 && s.size() > 8);
}

template <typename T>
bool ParseNumber(const std::string& s, T* out) {
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return !s.empty() && ec == std::errc() && p == s.data() + s.size();
}

bool ParseHostPort(const std::string& s, NodeOptions* o) {
  auto colon = s.rfind(':');
  if (colon == std::string::npos || colon == 0) return false;
  int port = 0;
  auto [p, ec] = std::from_chars(s.data() + colon + 1, s.data() + s.size(), port);
  if (ec != std::errc() || p != s.data() + s.size() || port < 0 || port > 65535) return false;
  o->http_host = s.substr(0, colon);
  o->http_port = port;
  return true;
}

bool IsHelp(const std::string& flag) { return flag == "--help" || flag == "-h"; }

// The flags ledgerd takes with a value. A flag is looked up here before its value is read,
// so a misspelt one is named as unknown rather than as missing its value.
bool TakesValue(const std::string& flag) {
  static const char* const kValueFlags[] = {
      "--data",           "--http",           "--kafka",              "--kafka-property",
      "--ack",            "--secrets-key-file", "--node-id",          "--shard",
      "--shards",         "--role",           "--writer",             "--writer-key-file",
      "--advertise-url",  "--peers",          "--resolve-after-s",    "--request-timeout-ms",
      "--rate-limit-per-key", "--digest-every-s", "--digest-every-events", "--failover-after-ms"};
  for (const char* known : kValueFlags)
    if (flag == known) return true;
  return false;
}

}  // namespace

std::string NodeUsage() {
  return "usage: ledgerd --data DIR --http HOST:PORT [--node-id NAME] [--kafka BOOTSTRAP]\n"
         "               [--kafka-property K=V]... [--role writer|projector|standby] [--shard N] (writer, standby)\n"
         "               [--writer URL] (standby) [--writer-key-file FILE] [--advertise-url URL] [--peers URL,...]\n"
         "               [--resolve-after-s N] [--request-timeout-ms N]\n"
         "               [--shards N,M] (projector) [--ack replicated|local] [--failover-after-ms N]\n"
         "               [--accept-new-topic] [--secrets-key-file FILE] [--allow-private-webhooks]\n"
         "               [--rate-limit-per-key N] [--digest-every-s N] [--digest-every-events N]\n"
         "       ledgerd dev-broker --bootstrap-file FILE [--partitions N]\n"
         "       ledgerd --help\n";
}

ledger::Result<DevBrokerOptions> ParseDevBrokerOptions(const std::vector<std::string>& args) {
  DevBrokerOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (IsHelp(flag)) {
      o.help = true;
      return o;
    }
    if (flag != "--bootstrap-file" && flag != "--partitions") return ledger::Status::InvalidArgument("unknown flag " + flag);
    if (i + 1 >= args.size()) return ledger::Status::InvalidArgument(flag + " needs a value");
    const std::string& value = args[++i];
    if (flag == "--bootstrap-file") {
      o.bootstrap_file = value;
    } else if (flag == "--partitions") {
      auto [p, ec] = std::from_chars(value.data(), value.data() + value.size(), o.partitions);
      if (ec != std::errc() || p != value.data() + value.size() || o.partitions < 1 || o.partitions > 1024)
        return ledger::Status::InvalidArgument("--partitions takes a number from 1 to 1024");
    } else {
      return ledger::Status::InvalidArgument("unknown flag " + flag);
    }
  }
  if (o.bootstrap_file.empty()) return ledger::Status::InvalidArgument("--bootstrap-file is required");
  return o;
}

ledger::Result<NodeOptions> ParseNodeOptions(const std::vector<std::string>& args) {
  NodeOptions o;
  bool have_http = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& flag = args[i];
    if (IsHelp(flag)) {  // the usage, whatever else the line holds
      o.help = true;
      return o;
    }
    if (flag == "--accept-new-topic" || flag == "--allow-private-webhooks") {  // flags without a value
      (flag == "--accept-new-topic" ? o.accept_new_topic : o.allow_private_webhooks) = true;
      continue;
    }
    if (!TakesValue(flag)) return ledger::Status::InvalidArgument("unknown flag " + flag);
    if (i + 1 >= args.size()) return ledger::Status::InvalidArgument(flag + " needs a value");
    const std::string& value = args[++i];
    if (flag == "--data") {
      o.data_dir = value;
    } else if (flag == "--http") {
      if (!ParseHostPort(value, &o))
        return ledger::Status::InvalidArgument("--http takes HOST:PORT");
      have_http = true;
    } else if (flag == "--kafka") {
      if (value.empty()) return ledger::Status::InvalidArgument("--kafka takes a bootstrap address");
      o.kafka_bootstrap = value;
    } else if (flag == "--kafka-property") {
      auto eq = value.find('=');
      if (eq == std::string::npos || eq == 0) return ledger::Status::InvalidArgument("--kafka-property takes KEY=VALUE");
      o.kafka_properties.emplace_back(value.substr(0, eq), value.substr(eq + 1));
    } else if (flag == "--ack") {
      if (value != "replicated" && value != "local") return ledger::Status::InvalidArgument("--ack takes replicated or local");
      o.ack_replicated = value == "replicated";
    } else if (flag == "--secrets-key-file") {
      o.secrets_key_file = value;
    } else if (flag == "--node-id") {
      o.node_id = value;
    } else if (flag == "--shard") {
      if (!ParseNumber(value, &o.shard)) return ledger::Status::InvalidArgument("--shard takes a number");
    } else if (flag == "--shards") {
      o.projector_shards.clear();
      for (size_t start = 0; start <= value.size();) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        uint32_t shard = 0;
        if (!ParseNumber(value.substr(start, comma - start), &shard))
          return ledger::Status::InvalidArgument("--shards takes shard numbers separated by commas, e.g. 0,1");
        o.projector_shards.push_back(shard);
        start = comma + 1;
      }
    } else if (flag == "--role") {
      if (value == "writer") {
        o.role = NodeRole::kWriter;
      } else if (value == "projector") {
        o.role = NodeRole::kProjector;
      } else if (value == "standby") {
        o.role = NodeRole::kStandby;
      } else {
        return ledger::Status::InvalidArgument("--role takes writer, standby or projector");
      }
    } else if (flag == "--writer") {
      if (!IsHttpUrl(value)) return ledger::Status::InvalidArgument("--writer takes the writer's URL, http(s)://host:port");
      o.writer_url = value;
    } else if (flag == "--writer-key-file") {
      o.writer_key_file = value;
    } else if (flag == "--advertise-url") {
      if (!IsHttpUrl(value)) return ledger::Status::InvalidArgument("--advertise-url takes http(s)://host:port");
      o.advertise_url = value;
    } else if (flag == "--peers") {
      o.peers.clear();
      for (size_t start = 0; start <= value.size();) {
        size_t comma = value.find(',', start);
        if (comma == std::string::npos) comma = value.size();
        const std::string peer = value.substr(start, comma - start);
        if (!IsHttpUrl(peer)) return ledger::Status::InvalidArgument("--peers takes URLs separated by commas, http(s)://host:port,...");
        o.peers.push_back(peer);
        start = comma + 1;
      }
    } else if (flag == "--resolve-after-s") {
      if (!ParseNumber(value, &o.resolve_after_s) || o.resolve_after_s < 1 || o.resolve_after_s > 7 * 86400)
        return ledger::Status::InvalidArgument("--resolve-after-s takes seconds from 1 to 604800");
    } else if (flag == "--request-timeout-ms") {
      if (!ParseNumber(value, &o.request_timeout_ms) || o.request_timeout_ms < 100 || o.request_timeout_ms > 3600000)
        return ledger::Status::InvalidArgument("--request-timeout-ms takes milliseconds from 100 to 3600000");
    } else if (flag == "--rate-limit-per-key") {
      if (!ParseNumber(value, &o.rate_limit_per_key) || o.rate_limit_per_key < 1 || o.rate_limit_per_key > 1000000)
        return ledger::Status::InvalidArgument("--rate-limit-per-key takes requests per second from 1 to 1000000");
    } else if (flag == "--digest-every-s") {
      if (!ParseNumber(value, &o.digest_every_s) || o.digest_every_s < 1 || o.digest_every_s > 86400)
        return ledger::Status::InvalidArgument("--digest-every-s takes seconds from 1 to 86400");
    } else if (flag == "--digest-every-events") {
      if (!ParseNumber(value, &o.digest_every_events) || o.digest_every_events < 1)
        return ledger::Status::InvalidArgument("--digest-every-events takes a positive number");
    } else if (flag == "--failover-after-ms") {
      if (!ParseNumber(value, &o.failover_after_ms) || o.failover_after_ms < 20 || o.failover_after_ms > 600000)
        return ledger::Status::InvalidArgument("--failover-after-ms takes a number from 20 to 600000");
    } else {
      return ledger::Status::InvalidArgument("unknown flag " + flag);
    }
  }
  if (o.data_dir.empty()) return ledger::Status::InvalidArgument("--data is required");
  if (!have_http) return ledger::Status::InvalidArgument("--http is required");
  if (o.advertise_url.empty()) o.advertise_url = "http://" + o.http_host + ":" + std::to_string(o.http_port);
  if (o.role == NodeRole::kProjector) {
    if (o.projector_shards.empty()) return ledger::Status::InvalidArgument("--role projector needs --shards");
    if (o.kafka_bootstrap.empty())
      return ledger::Status::InvalidArgument("--role projector reads a writer's Kafka topic: give --kafka");
  } else if (!o.projector_shards.empty()) {
    return ledger::Status::InvalidArgument("--shards is for --role projector; a writer takes --shard");
  }
  if (o.role == NodeRole::kProjector && !o.writer_key_file.empty())
    return ledger::Status::InvalidArgument("--writer-key-file is for a writer or a standby");
  if (o.role == NodeRole::kStandby) {
    if (o.kafka_bootstrap.empty())
      return ledger::Status::InvalidArgument("--role standby follows the writer's Kafka topic: give --kafka");
    if (o.writer_url.empty()) return ledger::Status::InvalidArgument("--role standby needs --writer URL");
  } else if (!o.writer_url.empty()) {
    return ledger::Status::InvalidArgument("--writer is for --role standby");
  }
  return o;
}

}  // namespace api
