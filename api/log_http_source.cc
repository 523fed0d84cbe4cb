#define _TURN_OFF_PLATFORM_STRING
#include <utility>  // before Boost.Asio: 1.74's awaitable.hpp uses std::exchange unincluded
#include "api/log_http_source.h"

#include <cpprest/http_client.h>
#include <spdlog/spdlog.h>
#include <sys/stat.h>

#include <atomic>
#include <condition_variable>
#include <fstream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "api/base64.h"
#include "ledger/position_token.h"
#include "ledger/record_codec.h"

namespace api {

namespace {

using Json = nlohmann::json;

class LogHttp final : public ledger::kafka::CatchUpSource {
 public:
  LogHttp(std::function<std::vector<std::string>()> addresses, std::string key, uint32_t shard)
      : addresses_(std::move(addresses)), key_(std::move(key)), shard_(shard) {}

  ledger::Result<std::vector<Batch>> ReadCanonical(ledger::Position from, size_t limit) override {
    ledger::Status last = ledger::Status::Unavailable("no address to read the log from");
    for (const std::string& address : addresses_()) {
      for (int attempt = 0; attempt < kLogHttpAttempts; ++attempt) {
        if (cancelled_.load()) return Cancelled();
        auto got = Read(address, from, limit);
        if (got.ok()) return got;
        last = got.status();
        if (got.status().code() != ledger::Code::kUnavailable) break;  // a refusal does not change on retry
        std::unique_lock<std::mutex> lock(mu_);
        if (cancel_cv_.wait_for(lock, std::chrono::milliseconds(200 << attempt), [&] { return cancelled_.load(); }))
          return Cancelled();
      }
      if (cancelled_.load()) return Cancelled();
      spdlog::warn("catch-up over {}/v1/log failed: {}", address, last.message());
    }
    return last;
  }

  void Cancel() override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      cancelled_ = true;
    }
    cancel_cv_.notify_all();
    cancel_.cancel();  // a request waiting on a silent peer ends now
  }

 private:
  ledger::Result<std::vector<Batch>> Read(const std::string& address, ledger::Position from, size_t limit) {
    std::string body;
    int status = 0;
    try {
      web::http::client::http_client_config config;
      config.set_timeout(std::chrono::milliseconds(kLogHttpTimeoutMs));
      web::http::client::http_client client(address, config);
      web::http::http_request req(web::http::methods::GET);
      req.set_request_uri("/v1/log?from=" + ledger::PositionToken(ledger::ShardId(shard_), from) +
                          "&limit=" + std::to_string(limit));
      req.headers().add("Authorization", "Bearer " + key_);
      auto response = client.request(req, cancel_.get_token()).get();
      status = response.status_code();
      body = response.extract_utf8string(true).get();
    } catch (const std::exception& e) {
      if (cancelled_.load()) return Cancelled();
      return ledger::Status::Unavailable(std::string("no answer: ") + e.what());
    }
    if (status == 401 || status == 403)
      return ledger::Status::InvalidArgument("the writer refused the key (HTTP " + std::to_string(status) +
                                             "): --writer-key-file must hold an auditor or replicator key");
    if (status != 200) return ledger::Status::Unavailable("HTTP " + std::to_string(status));
    Json doc = Json::parse(body, nullptr, false);
    if (doc.is_discarded() || !doc.contains("batches") || !doc["batches"].is_array())
      return ledger::Status::Corruption("GET /v1/log answered something that is not a log page");
    std::vector<Batch> out;
    try {
      for (const Json& b : doc["batches"]) {
        auto first = ledger::ParsePositionToken(b.at("first_position").get<std::string>());
        if (!first.ok() || first->shard.value() != shard_) return ledger::Status::Corruption("a batch names another shard");
        ledger::BatchView view;
        view.shard = ledger::ShardId(shard_);
        view.epoch = ledger::Epoch(b.at("epoch").get<uint64_t>());
        view.node_id = b.at("node_id").get<std::string>();
        view.first_position = first->position;
        std::string hash;
        if (!ledger::FromHex(b.at("previous_hash").get<std::string>(), &hash) || hash.size() != 32)
          return ledger::Status::Corruption("a batch's previous hash is not 64 hex digits");
        std::memcpy(view.previous_hash.data(), hash.data(), 32);
        std::vector<std::string> records;  // the views point into these
        records.reserve(b.at("records").size());
        for (const Json& r : b.at("records")) {
          auto record = Base64Decode(r.at("record").get<std::string>());
          if (!record || !ledger::FromHex(r.at("hash").get<std::string>(), &hash) || hash.size() != 32)
            return ledger::Status::Corruption("a record or its hash does not decode");
          records.push_back(std::move(*record));
          ledger::BatchView::Item item;
          std::memcpy(item.hash.data(), hash.data(), 32);
          view.records.push_back(item);
        }
        for (size_t i = 0; i < records.size(); ++i) view.records[i].record = records[i];
        out.push_back({ledger::EncodeBatch(view), b.at("kafka_offset").get<int64_t>()});
      }
    } catch (const std::exception&) {
      return ledger::Status::Corruption("GET /v1/log answered a batch with missing or mistyped fields");
    }
    return out;
  }

  static ledger::Status Cancelled() { return ledger::Status::Unavailable("the catch-up was cancelled"); }

  std::function<std::vector<std::string>()> addresses_;
  std::string key_;
  uint32_t shard_;
  std::atomic<bool> cancelled_{false};
  std::mutex mu_;  // for cancel_cv_
  std::condition_variable cancel_cv_;
  pplx::cancellation_token_source cancel_;
};

}  // namespace

std::unique_ptr<ledger::kafka::CatchUpSource> LogHttpSource(std::function<std::vector<std::string>()> addresses,
                                                            std::string key, uint32_t shard) {
  return std::make_unique<LogHttp>(std::move(addresses), std::move(key), shard);
}

ledger::Result<std::string> ReadKeyFile(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return ledger::Status::NotFound("no key file at the given path");
  if ((st.st_mode & 077) != 0) return ledger::Status::InvalidArgument("the key file may be read by others: chmod 600 it");
  std::ifstream in(path);
  std::string key;
  std::getline(in, key);
  while (!key.empty() && (key.back() == '\r' || key.back() == ' ')) key.pop_back();
  if (key.empty()) return ledger::Status::InvalidArgument("the key file is empty");
  return key;
}

}  // namespace api
