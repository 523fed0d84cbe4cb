#include "api/node_runtime.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "api/auth.h"
#include "api/replicated_shard.h"
#include "ledger/file_sync.h"
#include "ledger/chain_hash.h"
#include "ledger/domain/decider.h"
#include "ledger/domain/sequencer.h"
#include "ledger/kafka/embedded_cluster.h"
#include "ledger/kafka/log_reader.h"
#include "ledger/kafka/topic_check.h"
#include "projections/projections.h"

namespace api {

namespace {
ledger::StoreOptions ShardStoreOptions(const NodeOptions& o, uint32_t shard) {
  ledger::StoreOptions so;
  so.path = (std::filesystem::path(o.data_dir) / ("shard-" + std::to_string(shard))).string();
  so.shard = ledger::ShardId(shard);
  so.node_id = o.node_id;
  return so;
}
}  // namespace

struct NodeRuntime::Impl {
  // One shard a projector keeps: its copy of the log, the reader filling it, its read
  // models. Destroyed in reverse: projector and reader before the store.
  struct Shard {
    std::unique_ptr<ledger::EventStore> store;
    std::unique_ptr<ledger::kafka::LogReader> reader;
    std::unique_ptr<projections::Projector> projector;
    ~Shard() {
      projector.reset();
      reader.reset();
      store.reset();
    }
  };
  std::unique_ptr<ledger::kafka::EmbeddedCluster> cluster;  // destroyed last
  std::vector<std::unique_ptr<Shard>> shards;               // a projector's
  std::unique_ptr<ReplicatedShard> replicated;              // a writer's or a standby's
  std::string bootstrap;
  ~Impl() {
    replicated.reset();
    shards.clear();
    cluster.reset();
  }

  // The shard's read models, following the store's canonical mark.
  static ledger::Status StartProjector(const NodeOptions& o, uint32_t shard, Shard& s) {
    projections::ProjectorOptions po;
    po.dir = (std::filesystem::path(o.data_dir) / "projections" / ("shard-" + std::to_string(shard))).string();
    auto projector = projections::Projector::Open(po);
    if (!projector.ok()) return projector.status();
    s.projector = std::move(projector).value();
    for (const std::string& name : s.projector->read_models_rebuilding())
      spdlog::warn("shard {}: read model {} was written by an older build in another layout: rebuilding it from position 1",
                   shard, name);
    s.projector->Follow(s.store.get());
    return ledger::Status::Ok();
  }

  // A projector node: per shard, a follower store filled by the log reader (so it catches
  // up from its own store however far Kafka's window has moved) and the read models over it.
  ledger::Status StartProjectorShards(const NodeOptions& o) {
    for (uint32_t shard : o.projector_shards) {
      auto s = std::make_unique<Shard>();
      auto store = ledger::EventStore::Open(ShardStoreOptions(o, shard));
      if (!store.ok()) return store.status();
      s->store = std::move(store).value();
      if (s->store->writer_epoch().value() > 0)
        return ledger::Status::InvalidArgument("shard " + std::to_string(shard) +
                                               "'s store belongs to a writer; a projector keeps its own copy");
      // A copy cannot go on in a new incarnation: if the topic went back, it stops here.
      auto check = ledger::kafka::CheckTopic({bootstrap, ledger::ShardId(shard), o.kafka_properties}, s->store.get(),
                                             /*accept_new_topic=*/false, o.node_id);
      if (!check.ok()) return check.status();
      auto reader = ledger::kafka::LogReader::Start({bootstrap, ledger::ShardId(shard), o.kafka_properties},
                                                    s->store.get());
      if (!reader.ok()) return reader.status();
      s->reader = std::move(reader).value();
      LEDGER_RETURN_IF_ERROR(StartProjector(o, shard, *s));
      shards.push_back(std::move(s));
    }
    return ledger::Status::Ok();
  }
};

NodeRuntime::NodeRuntime() : impl_(new Impl()) {}
NodeRuntime::~NodeRuntime() = default;
ledger::EventStore* NodeRuntime::store() const {
  return impl_->replicated ? impl_->replicated->store() : impl_->shards.front()->store.get();
}
const projections::Projector* NodeRuntime::projector() const {
  return impl_->replicated ? impl_->replicated->projector() : impl_->shards.front()->projector.get();
}
ReplicatedShard* NodeRuntime::replicated() const { return impl_->replicated.get(); }
const std::string& NodeRuntime::kafka_bootstrap() const { return impl_->bootstrap; }

namespace {
// The first admin key (DESIGN §9): a writer starting on an empty log issues it as a
// KeyIssued event, writes it to DATA/admin.key (0600) and prints it once. Crash-safe: before
// the log's first batch the key is drawn into admin.key.pending (0600, synced, with its id);
// the file becomes admin.key only once the `access` read model holds the key, and a start
// that finds a pending file finishes the job (issuing the key only if the log lacks it).
std::filesystem::path PendingAdminKeyPath(const NodeOptions& o) {
  return std::filesystem::path(o.data_dir) / "admin.key.pending";
}

ledger::Status DrawPendingAdminKey(const NodeOptions& o) {
  const std::filesystem::path pending_path = PendingAdminKeyPath(o);
  std::error_code ec;
  if (std::filesystem::exists(pending_path, ec)) return ledger::Status::Ok();  // drawn by a start that died
  auto drawn = DrawKey();
  if (!drawn.ok()) return drawn.status();
  return ledger::WriteSecretFile(pending_path, drawn->key_id + "\n" + drawn->key + "\n", /*exclusive=*/true);
}

ledger::Status FinishAdminKey(const NodeOptions& o, ledger::domain::Sequencer& sequencer,
                              const projections::Projector& projector, const ledger::EventStore& store) {
  namespace fs = std::filesystem;
  const fs::path pending_path = PendingAdminKeyPath(o);
  const fs::path final_path = fs::path(o.data_dir) / "admin.key";
  std::error_code ec;
  if (!fs::exists(pending_path, ec)) return ledger::Status::Ok();
  NewKey key;
  {
    std::ifstream in(pending_path);
    std::getline(in, key.key_id);
    std::getline(in, key.key);
  }
  if (key.key_id.empty() || key.key.size() != 67) return ledger::Status::Corruption("admin.key.pending is damaged");
  key.hash = ledger::Sha256Of(key.key);
  // Whether the log already holds the key is read once the read models have caught up.
  if (!projector.WaitFor(store.canonical_mark().position, 30000))
    return ledger::Status::Unavailable("the read models did not catch up in time to check the admin key");
  auto known = projector.read_model("access")->Get("key/" + ledger::ToHex(key.hash));
  if (!known.ok()) return known.status();
  if (!known->has_value()) {
    ledger::domain::CommandRequest r;
    r.command_id = {0, 2};
    r.command = ledger::domain::IssueKey{key.key_id, key.hash, ledger::domain::KeyRoleInput::kAdmin, ""};
    auto done = sequencer.Execute(std::move(r));
    // key-exists: an earlier start issued it and died before the read models showed it.
    if (!done.ok() && ledger::domain::RuleCode(done.status()) != "key-exists") return done.status();
    if (done.ok() && !projector.WaitFor(done->first_position, 30000))
      return ledger::Status::Unavailable("the read models did not take the admin key in time");
  }
  LEDGER_RETURN_IF_ERROR(ledger::WriteSecretFile(final_path, key.key + "\n", /*exclusive=*/false));
  fs::remove(pending_path, ec);
  // Once, on stdout, never through the log.
  std::printf("admin key (shown once; also in %s): %s\n", final_path.c_str(), key.key.c_str());
  std::fflush(stdout);
  return ledger::Status::Ok();
}

}  // namespace

ledger::Result<std::unique_ptr<NodeRuntime>> NodeRuntime::Start(const NodeOptions& o) {
  std::unique_ptr<NodeRuntime> node(new NodeRuntime());
  Impl& im = *node->impl_;
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  im.bootstrap = o.kafka_bootstrap;
  if (o.role == NodeRole::kProjector) {
    LEDGER_RETURN_IF_ERROR(im.StartProjectorShards(o));
    return node;
  }
  if (im.bootstrap.empty()) {
    auto cluster = ledger::kafka::EmbeddedCluster::Start(ledger::kafka::kEmbeddedBrokers, static_cast<int>(o.shard) + 1);
    if (!cluster.ok()) return cluster.status();
    im.cluster = std::move(cluster).value();
    im.bootstrap = im.cluster->bootstrap();
    spdlog::warn("no --kafka given: running an embedded Kafka-protocol cluster at {}; it keeps nothing across "
                 "restarts, so `replicated` protects no more than the local disk",
                 im.bootstrap);
  }
  // A standby never mints the first admin key: only a writer on an empty log does, drawn
  // before the log's first batch so that no crash can lose it.
  auto shard = ReplicatedShard::Start(o, im.bootstrap, im.cluster != nullptr, [&o] { return DrawPendingAdminKey(o); });
  if (!shard.ok()) return shard.status();
  im.replicated = std::move(shard).value();
  if (im.replicated->writing()) {
    const auto sequencer = im.replicated->writer()->get().sequencer;
    LEDGER_RETURN_IF_ERROR(FinishAdminKey(o, *sequencer, *im.replicated->projector(), *im.replicated->store()));
  }
  return node;
}

ApiContext NodeRuntime::api_context(const NodeOptions& o) const {
  ApiContext ctx;
  ctx.store = store();
  ctx.projector = projector();
  if (impl_->replicated) {
    ctx.writer = impl_->replicated->writer();
    ctx.roles = impl_->replicated.get();
  }
  ctx.shard = o.role == NodeRole::kProjector ? o.projector_shards.front() : o.shard;
  ctx.node_id = o.node_id;
  return ctx;
}

}  // namespace api
