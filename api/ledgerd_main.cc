// ledgerd: the ledger node (writer, standby or projector, DESIGN §9), or `ledgerd dev-broker`.
#define _TURN_OFF_PLATFORM_STRING
#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp uses std::exchange unincluded
#include <pplx/threadpool.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <csignal>
#include <filesystem>
#include <atomic>
#include <iostream>
#include <thread>

#include "api/digest_publisher.h"
#include "api/http_server.h"
#include "api/personal.h"
#include "api/rate_limit.h"
#include "api/replicated_shard.h"
#include "api/routes.h"
#include "api/webhook_sender.h"
#include "ledger/keyring.h"
#include "ledger/seal.h"
#include "api/node_options.h"
#include "api/node_runtime.h"
#include "ledger/event_store.h"
#include "ledger/kafka/embedded_cluster.h"
#include "ledger/kafka/keyring_replicator.h"

namespace {

// cpprestsdk's default pool of 40 threads serves half as many requests on 2 cores as a
// small pool does (../shared/DEPENDENCIES.md); since no route waits on it any more (routes
// that may wait run on the front's workers, DECISIONS §79), one thread per core served
// more than four did (DECISIONS §82).
size_t HttpThreads() { return std::max<size_t>(2, std::thread::hardware_concurrency()); }
// How often the writer finishes erasures a crash interrupted (api::SweepErasures).
constexpr int kErasureSweepS = 30;

int WaitForSignal() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  int sig = 0;
  sigwait(&set, &sig);
  return sig;
}

// `ledgerd dev-broker`: the embedded Kafka-protocol cluster as its own process, for
// multi-process runs and tests. Runs until SIGINT or SIGTERM.
int RunDevBroker(const std::vector<std::string>& args) {
  auto options = api::ParseDevBrokerOptions(args);
  if (!options.ok()) {
    std::cerr << "ledgerd dev-broker: " << options.status().message() << "\n" << api::NodeUsage();
    return 2;
  }
  if (options->help) {  // asked for: on stdout, and no error
    std::cout << api::NodeUsage();
    return 0;
  }
  auto cluster = ledger::kafka::EmbeddedCluster::Start(ledger::kafka::kEmbeddedBrokers, options->partitions);
  if (!cluster.ok()) {
    spdlog::error("{}", cluster.status().ToString());
    return 1;
  }
  if (auto s = ledger::kafka::WriteFileAtomically(options->bootstrap_file, (*cluster)->bootstrap() + "\n"); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return 1;
  }
  spdlog::info("dev broker: {} brokers, {} with {} partitions, bootstrap {}", ledger::kafka::kEmbeddedBrokers,
               ledger::kafka::kEventsTopic, options->partitions, (*cluster)->bootstrap());
  int sig = WaitForSignal();
  spdlog::info("signal {}: stopping the dev broker", sig);
  std::remove(options->bootstrap_file.c_str());  // a stale address must not outlive the cluster
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  // Block the stop signals in every thread; the main thread waits for them.
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A write to a connection its client (or the stalled-connection cutter) has ended is an
  // error to handle, never a reason for the node to die.
  signal(SIGPIPE, SIG_IGN);

  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && args[0] == "dev-broker") return RunDevBroker({args.begin() + 1, args.end()});
  auto options = api::ParseNodeOptions(args);
  if (!options.ok()) {
    std::cerr << "ledgerd: " << options.status().message() << "\n" << api::NodeUsage();
    return 2;
  }
  if (options->help) {  // asked for: on stdout, and no error
    std::cout << api::NodeUsage();
    return 0;
  }
  crossplat::threadpool::initialize_with_threads(HttpThreads());

  auto node = api::NodeRuntime::Start(*options);
  if (!node.ok()) {
    spdlog::error("cannot start the node: {}", node.status().ToString());
    return 1;
  }
  const auto head = (*node)->store()->head();
  spdlog::info("event store open: shard {} head {}, canonical {}", options->shard, head.position.value(),
               (*node)->store()->canonical_mark().position.value());

  api::RateLimiter rate_limiter(options->rate_limit_per_key);
  api::ApiContext ctx = (*node)->api_context(*options);
  ctx.rate_limiter = &rate_limiter;
  ctx.allow_private_webhooks = options->allow_private_webhooks;
  ledger::SecretKey secrets_key{};
  if (!options->secrets_key_file.empty()) {
    auto key = ledger::LoadSecretKeyFile(options->secrets_key_file);
    if (!key.ok()) {
      spdlog::error("--secrets-key-file: {}", key.status().ToString());
      return 2;
    }
    secrets_key = *key;
    ctx.secrets_key = &secrets_key;
  }
  // Customers' data keys (DESIGN §12), wrapped with the secrets key.
  std::unique_ptr<ledger::Keyring> keyring;
  if (ctx.secrets_key != nullptr) {
    // In the event store's keyring family; a keyring of its own from an earlier version
    // (DATA/keyring) is moved in first.
    auto opened = (*node)->store()->OpenKeyring(secrets_key);
    if (!opened.ok()) {
      spdlog::error("{}", opened.status().ToString());
      return 1;
    }
    keyring = std::move(opened).value();
    if (auto imported = keyring->ImportFrom((std::filesystem::path(options->data_dir) / "keyring").string(), secrets_key);
        !imported.ok()) {
      spdlog::error("{}", imported.ToString());
      return 1;
    }
    ctx.keyring = keyring.get();
  }
  // Replicated through ledger.keyring: every node of the shard holds every key (DESIGN §12).
  std::unique_ptr<ledger::kafka::KeyringReplicator> keyring_replication;
  if (keyring && options->role != api::NodeRole::kProjector) {
    auto started = ledger::kafka::KeyringReplicator::Start(
        {(*node)->kafka_bootstrap(), ledger::ShardId(options->shard), options->kafka_properties}, keyring.get());
    if (!started.ok()) {
      spdlog::error("{}", started.status().ToString());
      return 1;
    }
    keyring_replication = std::move(started).value();
  }
  api::Router router;
  api::AddRoutes(router, ctx);
  // Webhooks out and digests (DESIGN §10) come from whichever node writes the shard now:
  // on a standby they wait for a promotion.
  std::unique_ptr<api::WebhookSender> webhooks;
  std::unique_ptr<api::DigestPublisher> digests;
  if (ctx.writer != nullptr) {
    webhooks = std::make_unique<api::WebhookSender>(ctx);
    digests = std::make_unique<api::DigestPublisher>(
        ctx, api::DigestPublisherOptions{options->digest_every_s, options->digest_every_events});
  }
  // Erasures the log recorded but whose keys a crash kept: finished by the writer (it
  // publishes the tombstones), at start and every kErasureSweepS seconds.
  std::atomic<bool> stopping{false};
  std::thread erasure_sweeper;
  if (ctx.keyring != nullptr && ctx.writer != nullptr)
    erasure_sweeper = std::thread([&ctx, &stopping] {
      for (int waited_s = kErasureSweepS; !stopping.load(); ++waited_s) {
        if (waited_s >= kErasureSweepS && ctx.sequencer() != nullptr) {
          waited_s = 0;
          auto swept = api::SweepErasures(ctx);
          if (!swept.ok()) spdlog::warn("erasure sweep: {}", swept.status().ToString());
          else if (*swept > 0) spdlog::warn("erasure sweep: destroyed the keys of {} erased customers", *swept);
        }
        std::this_thread::sleep_for(std::chrono::seconds(1));
      }
    });
  api::HttpServer server(options->http_host, options->http_port, options->shard, (*node)->store(),
                         (*node)->projector(), &router, options->node_id);
  server.SetRequestTimeoutMs(options->request_timeout_ms);
  if (api::ReplicatedShard* shard = (*node)->replicated())
    server.SetExtraMetrics([shard] { return shard->Metrics(); });
  if (auto s = server.Start(); !s.ok()) {
    spdlog::error("{}", s.ToString());
    return 1;
  }
  spdlog::info("node {} listening on http://{}:{}", options->node_id, options->http_host,
               options->http_port);
  int sig = WaitForSignal();
  spdlog::info("signal {}: stopping", sig);
  server.Stop();
  stopping = true;
  if (erasure_sweeper.joinable()) erasure_sweeper.join();
  digests.reset();
  webhooks.reset();
  return 0;
}
