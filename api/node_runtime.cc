#include "api/node_runtime.h"

#include <spdlog/spdlog.h>

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include "api/auth.h"
#include "ledger/chain_hash.h"
#include "ledger/domain/decider.h"
#include "ledger/domain/sequencer.h"
#include "ledger/kafka/embedded_cluster.h"
#include "ledger/kafka/log_reader.h"
#include "ledger/kafka/publisher.h"
#include "ledger/kafka/topic_check.h"
#include "ledger/record_codec.h"
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
  // One shard this node keeps: its store, the Kafka side, its read models. Destroyed in
  // reverse: projector, reader and publisher before the store.
  struct Shard {
    std::unique_ptr<ledger::EventStore> store;
    std::unique_ptr<ledger::kafka::Publisher> publisher;
    std::unique_ptr<ledger::kafka::LogReader> reader;
    std::unique_ptr<projections::Projector> projector;
    std::unique_ptr<ledger::domain::Sequencer> sequencer;  // the writer's
    ~Shard() {
      // The sequencer stops deciding first; the store's last answers (held, lease-held)
      // still call into it while the store closes, so the object goes last.
      if (sequencer) sequencer->Stop();
      projector.reset();
      reader.reset();
      publisher.reset();
      store.reset();
      sequencer.reset();
    }
  };
  std::unique_ptr<ledger::kafka::EmbeddedCluster> cluster;  // destroyed last
  std::vector<std::unique_ptr<Shard>> shards;
  std::string bootstrap;
  ~Impl() {
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
    s.projector->Follow(s.store.get());
    return ledger::Status::Ok();
  }

  // A projector node: per shard, a follower store filled by the log reader (so it catches
  // up from its own store however far Kafka's window has moved) and the read models over it.
  // A standby is the same for its one shard (--shard): its store is where a promotion
  // would go on writing.
  ledger::Status StartProjectorShards(const NodeOptions& o) {
    const std::vector<uint32_t> followed = o.role == NodeRole::kStandby ? std::vector<uint32_t>{o.shard} : o.projector_shards;
    for (uint32_t shard : followed) {
      auto s = std::make_unique<Shard>();
      auto store = ledger::EventStore::Open(ShardStoreOptions(o, shard));
      if (!store.ok()) return store.status();
      s->store = std::move(store).value();
      // A writer's store may hold events that never became canonical: rejoining as a
      // standby needs them set aside first (quarantine), which this version does not do.
      if (s->store->writer_epoch().value() > 0)
        return ledger::Status::InvalidArgument("shard " + std::to_string(shard) +
                                               "'s store belongs to a writer; a projector or standby keeps its own copy");
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
ledger::EventStore* NodeRuntime::store() const { return impl_->shards.front()->store.get(); }
const projections::Projector* NodeRuntime::projector() const { return impl_->shards.front()->projector.get(); }
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
  const std::string content = drawn->key_id + "\n" + drawn->key + "\n";
  int fd = ::open(pending_path.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) return ledger::Status::IOError("cannot create admin.key.pending");
  const bool written =
      ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return ledger::Status::IOError("cannot write admin.key.pending");
  return ledger::Status::Ok();
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
  int fd = ::open(final_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (fd < 0) return ledger::Status::IOError("cannot create admin.key");
  const std::string line = key.key + "\n";
  const bool written = ::write(fd, line.data(), line.size()) == static_cast<ssize_t>(line.size()) && ::fsync(fd) == 0;
  ::close(fd);
  if (!written) return ledger::Status::IOError("cannot write admin.key");
  fs::remove(pending_path, ec);
  // Once, on stdout, never through the log.
  std::printf("admin key (shown once; also in %s): %s\n", final_path.c_str(), key.key.c_str());
  std::fflush(stdout);
  return ledger::Status::Ok();
}

ledger::AppendCommand WriterPromotedOne(const NodeOptions& o) {
  ledger::EnvelopeFields f;
  f.shard = ledger::ShardId(o.shard);
  f.stream = "writer/" + std::to_string(o.shard);
  ledger::AppendCommand cmd;
  cmd.events.push_back({ledger::EncodeRecord(f, ledger::schema::EventBody::WriterPromoted,
                                             [&](flatbuffers::FlatBufferBuilder& b) {
                                               return ledger::schema::CreateWriterPromotedDirect(
                                                          b, 1, o.node_id.c_str(), "", 0)
                                                   .Union();
                                             }),
                        ledger::ExpectedVersion::NoStream()});
  return cmd;
}
}  // namespace

ledger::Result<std::unique_ptr<NodeRuntime>> NodeRuntime::Start(const NodeOptions& o) {
  std::unique_ptr<NodeRuntime> node(new NodeRuntime());
  Impl& im = *node->impl_;
  std::error_code ec;
  std::filesystem::create_directories(o.data_dir, ec);
  if (o.role == NodeRole::kProjector || o.role == NodeRole::kStandby) {
    im.bootstrap = o.kafka_bootstrap;
    LEDGER_RETURN_IF_ERROR(im.StartProjectorShards(o));
    return node;
  }
  ledger::StoreOptions so = ShardStoreOptions(o, o.shard);
  so.ack_level = o.ack_replicated ? ledger::AckLevel::kReplicated : ledger::AckLevel::kLocal;
  so.ack_requires_lease = true;
  auto store = ledger::EventStore::Open(so);
  if (!store.ok()) return store.status();
  im.shards.push_back(std::make_unique<Impl::Shard>());
  Impl::Shard& sh = *im.shards.back();
  sh.store = std::move(store).value();

  im.bootstrap = o.kafka_bootstrap;
  if (im.bootstrap.empty()) {
    auto cluster = ledger::kafka::EmbeddedCluster::Start(ledger::kafka::kEmbeddedBrokers, static_cast<int>(o.shard) + 1);
    if (!cluster.ok()) return cluster.status();
    im.cluster = std::move(cluster).value();
    im.bootstrap = im.cluster->bootstrap();
    spdlog::warn("no --kafka given: running an embedded Kafka-protocol cluster at {}; it keeps nothing across "
                 "restarts, so `replicated` protects no more than the local disk",
                 im.bootstrap);
    // Every start is a new, empty topic: the log goes on from this store's own head.
    if (sh.store->head().position.value() > 0) {
      auto s = sh.store->StartNewKafkaIncarnation(sh.store->writer_epoch(), o.node_id);
      if (!s.ok()) return s;
    }
  }
  ledger::kafka::ClientOptions ko{im.bootstrap, ledger::ShardId(o.shard), o.kafka_properties};
  if (!im.cluster) {  // an external cluster: did the topic go back? (DESIGN §6)
    auto check = ledger::kafka::CheckTopic(ko, sh.store.get(), o.accept_new_topic, o.node_id);
    if (!check.ok()) return check.status();
    if (check->went_back)
      spdlog::warn("ledger.events went back; going on from this store's head (position {}) in a new incarnation",
                   sh.store->head().position.value());
  }
  // The lease is half of --failover-after-ms (DESIGN §6).
  auto reader = ledger::kafka::LogReader::Start(ko, sh.store.get(), o.failover_after_ms / 2);
  if (!reader.ok()) return reader.status();
  sh.reader = std::move(reader).value();
  auto publisher = ledger::kafka::Publisher::Start(ko, sh.store.get());
  if (!publisher.ok()) return publisher.status();
  sh.publisher = std::move(publisher).value();
  LEDGER_RETURN_IF_ERROR(Impl::StartProjector(o, o.shard, sh));

  const bool new_log = sh.store->head().position.value() == 0;
  if (new_log) {
    LEDGER_RETURN_IF_ERROR(DrawPendingAdminKey(o));  // before the first batch: no window to lose it
    LEDGER_RETURN_IF_ERROR(sh.store->SetWriterEpoch(ledger::Epoch(1)));
    auto r = sh.store->Append(WriterPromotedOne(o));
    if (!r.ok()) return r.status();
    spdlog::info("new shard {}: WriterPromoted(1) for node {} at position {}", o.shard, o.node_id,
                 r->first_position.value());
  }
  // The sequencer decides the API's commands (it publishes the default fee recipe on a log
  // that has none).
  auto sequencer = ledger::domain::Sequencer::Start(sh.store.get(), ledger::ShardId(o.shard));
  if (!sequencer.ok()) return sequencer.status();
  sh.sequencer = std::move(sequencer).value();
  LEDGER_RETURN_IF_ERROR(FinishAdminKey(o, *sh.sequencer, *sh.projector, *sh.store));
  return node;
}

ApiContext NodeRuntime::api_context(const NodeOptions& o) const {
  ApiContext ctx;
  const Impl::Shard& sh = *impl_->shards.front();
  ctx.store = sh.store.get();
  ctx.sequencer = sh.sequencer.get();
  ctx.projector = sh.projector.get();
  ctx.shard = o.role == NodeRole::kProjector ? o.projector_shards.front() : o.shard;
  ctx.node_id = o.node_id;
  ctx.writer_url = o.writer_url;
  return ctx;
}

}  // namespace api
