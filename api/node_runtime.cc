#include "api/node_runtime.h"

#include <spdlog/spdlog.h>

#include <filesystem>

#include "ledger/kafka/embedded_cluster.h"
#include "ledger/kafka/log_reader.h"
#include "ledger/kafka/publisher.h"
#include "ledger/record_codec.h"

namespace api {

struct NodeRuntime::Impl {
  // Destroyed in reverse: reader and publisher before the store, the cluster last.
  std::unique_ptr<ledger::kafka::EmbeddedCluster> cluster;
  std::unique_ptr<ledger::EventStore> store;
  std::unique_ptr<ledger::kafka::Publisher> publisher;
  std::unique_ptr<ledger::kafka::LogReader> reader;
  std::string bootstrap;
  ~Impl() {
    reader.reset();
    publisher.reset();
    store.reset();
    cluster.reset();
  }
};

NodeRuntime::NodeRuntime() : impl_(new Impl()) {}
NodeRuntime::~NodeRuntime() = default;
ledger::EventStore* NodeRuntime::store() const { return impl_->store.get(); }
const std::string& NodeRuntime::kafka_bootstrap() const { return impl_->bootstrap; }

namespace {
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
  ledger::StoreOptions so;
  so.path = (std::filesystem::path(o.data_dir) / ("shard-" + std::to_string(o.shard))).string();
  so.shard = ledger::ShardId(o.shard);
  so.node_id = o.node_id;
  so.ack_level = o.ack_replicated ? ledger::AckLevel::kReplicated : ledger::AckLevel::kLocal;
  auto store = ledger::EventStore::Open(so);
  if (!store.ok()) return store.status();
  im.store = std::move(store).value();

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
    if (im.store->head().position.value() > 0) {
      auto s = im.store->StartNewKafkaIncarnation(im.store->writer_epoch(), o.node_id);
      if (!s.ok()) return s;
    }
  }
  ledger::kafka::ClientOptions ko{im.bootstrap, ledger::ShardId(o.shard), o.kafka_properties};
  auto reader = ledger::kafka::LogReader::Start(ko, im.store.get());
  if (!reader.ok()) return reader.status();
  im.reader = std::move(reader).value();
  auto publisher = ledger::kafka::Publisher::Start(ko, im.store.get());
  if (!publisher.ok()) return publisher.status();
  im.publisher = std::move(publisher).value();

  if (im.store->head().position.value() == 0) {
    LEDGER_RETURN_IF_ERROR(im.store->SetWriterEpoch(ledger::Epoch(1)));
    auto r = im.store->Append(WriterPromotedOne(o));
    if (!r.ok()) return r.status();
    spdlog::info("new shard {}: WriterPromoted(1) for node {} at position {}", o.shard, o.node_id,
                 r->first_position.value());
  }
  return node;
}

}  // namespace api
