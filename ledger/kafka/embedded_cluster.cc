#include "ledger/kafka/embedded_cluster.h"

#include <fcntl.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include <vector>
#include <unistd.h>

#include <cstdio>

namespace ledger::kafka {

struct EmbeddedCluster::Handles {
  rd_kafka_t* host = nullptr;  // the client instance the mock cluster lives in
  rd_kafka_mock_cluster_t* cluster = nullptr;
  ~Handles() {
    if (cluster) rd_kafka_mock_cluster_destroy(cluster);
    if (host) rd_kafka_destroy(host);
  }
};

Result<std::unique_ptr<EmbeddedCluster>> EmbeddedCluster::Start(int brokers, int partitions) {
  if (brokers < 1 || brokers > 9) return Status::InvalidArgument("brokers must be 1 to 9");
  if (partitions < 1 || partitions > 1024) return Status::InvalidArgument("partitions must be 1 to 1024");
  std::unique_ptr<EmbeddedCluster> c(new EmbeddedCluster());
  c->h_ = std::make_unique<Handles>();
  char err[512];
  rd_kafka_conf_t* conf = rd_kafka_conf_new();
  // The host instance never connects anywhere itself (so it would warn about having no
  // bootstrap servers: keep its log to errors).
  if (rd_kafka_conf_set(conf, "bootstrap.servers", "", err, sizeof err) != RD_KAFKA_CONF_OK ||
      rd_kafka_conf_set(conf, "log_level", "3", err, sizeof err) != RD_KAFKA_CONF_OK) {
    rd_kafka_conf_destroy(conf);
    return Status::InvalidArgument(std::string("kafka configuration: ") + err);
  }
  c->h_->host = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof err);  // takes conf
  if (c->h_->host == nullptr) return Status::Unavailable(std::string("cannot start the embedded cluster: ") + err);
  c->h_->cluster = rd_kafka_mock_cluster_new(c->h_->host, brokers);
  if (c->h_->cluster == nullptr) return Status::Unavailable("cannot start the embedded cluster");
  rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(c->h_->cluster, kEventsTopic, partitions, std::min(brokers, 3));
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::Unavailable(std::string("cannot create ") + kEventsTopic + ": " + rd_kafka_err2str(e));
  e = rd_kafka_mock_topic_create(c->h_->cluster, kKeyringTopic, 1, std::min(brokers, 3));
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
    return Status::Unavailable(std::string("cannot create ") + kKeyringTopic + ": " + rd_kafka_err2str(e));
  c->bootstrap_ = rd_kafka_mock_cluster_bootstraps(c->h_->cluster);
  return c;
}

EmbeddedCluster::~EmbeddedCluster() = default;

Status EmbeddedCluster::SetBrokerDown(int broker_id) {
  rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_down(h_->cluster, broker_id);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::InvalidArgument(rd_kafka_err2str(e));
  return Status::Ok();
}

Status EmbeddedCluster::SetBrokerUp(int broker_id) {
  rd_kafka_resp_err_t e = rd_kafka_mock_broker_set_up(h_->cluster, broker_id);
  if (e != RD_KAFKA_RESP_ERR_NO_ERROR) return Status::InvalidArgument(rd_kafka_err2str(e));
  return Status::Ok();
}

Status EmbeddedCluster::FailNextProduces(size_t count, int kafka_error) {
  std::vector<rd_kafka_resp_err_t> errors(count, static_cast<rd_kafka_resp_err_t>(kafka_error));
  rd_kafka_mock_push_request_errors_array(h_->cluster, /*Produce*/ 0, errors.size(), errors.data());
  return Status::Ok();
}

Status WriteFileAtomically(const std::string& path, const std::string& content) {
  const std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) return Status::IOError("cannot write " + tmp);
  bool ok = ::write(fd, content.data(), content.size()) == static_cast<ssize_t>(content.size()) && ::fsync(fd) == 0;
  ok = (::close(fd) == 0) && ok;
  if (!ok || std::rename(tmp.c_str(), path.c_str()) != 0) {
    ::unlink(tmp.c_str());
    return Status::IOError("cannot write " + path);
  }
  return Status::Ok();
}

}  // namespace ledger::kafka
