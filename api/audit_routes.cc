// The log itself, for auditors and standbys (DESIGN §9): whole canonical batches only, up
// to the canonical head, exactly the bytes a standby bootstraps from; and the digest to keep
// outside the system.

#include <cstdlib>

#include "api/base64.h"
#include "api/problem.h"
#include "api/route_support.h"
#include "api/routes.h"
#include "ledger/event_store.h"
#include "ledger/keyring.h"
#include "ledger/position_token.h"
#include "ledger/record_codec.h"

namespace api {

inline constexpr size_t kLogBatchesMax = 1000;
inline constexpr size_t kLogEventsMax = 1000;

void AddAuditRoutes(Router& router, const ApiContext& ctx) {
  // The keyring for a standby's bootstrap (DESIGN §12; replicator keys only): wrapped data
  // keys (they open only with the secrets key the shard's nodes share) and tombstones, by
  // key id. Key ids are decimal strings (64-bit).
  router.Add("GET", "/v1/keyring", Guard(ctx, {Role::kReplicator}, Body::kNone, [](Call& c) {
    if (c.ctx.keyring == nullptr) return Problem(503, "not-configured", "this node holds no keyring (no --secrets-key-file)");
    uint64_t after = 0;
    if (const std::string& a = c.request.Query("after"); !a.empty()) {
      char* end = nullptr;
      after = std::strtoull(a.c_str(), &end, 10);
      if (*end != '\0' || a[0] == '-')
        return Problem(400, "invalid-field", "after is a key id (decimal)", R"({"pointer":"/after"})");
    }
    size_t limit = 100;
    if (auto bad = ParseLimit(c, 1000, &limit)) return *bad;
    auto records = c.ctx.keyring->Scan(after, limit);
    if (!records.ok()) return ProblemFromStatus(records.status());
    Json entries = Json::array();
    for (const ledger::KeyringRecord& r : *records) {
      if (r.tombstone) entries.push_back({{"key_id", std::to_string(r.key_id)}, {"erased", true}});
      else
        entries.push_back({{"key_id", std::to_string(r.key_id)}, {"merchant_id", r.merchant},
                           {"customer_id", r.customer}, {"wrapped", Base64Encode(r.wrapped)}});
    }
    Json page = {{"entries", entries}};
    if (records->size() == limit) page["next"] = std::to_string(records->back().key_id);
    return JsonResponse(200, page);
  }));

  router.Add("GET", "/v1/log", Guard(ctx, {Role::kAuditor, Role::kReplicator}, Body::kNone, [](Call& c) {
    const ledger::ShardId shard(c.ctx.shard);
    ledger::Position from(1);
    if (!c.request.Query("from").empty()) {
      auto t = ledger::ParsePositionToken(c.request.Query("from"));
      if (!t.ok()) return Problem(400, "invalid-field", t.status().message(), R"({"pointer":"/from"})");
      if (t->shard != shard) return Problem(400, "invalid-field", "from names another shard", R"({"pointer":"/from"})");
      from = t->position.value() == 0 ? ledger::Position(1) : t->position;
    }
    size_t limit = 100;  // batches
    if (auto bad = ParseLimit(c, kLogBatchesMax, &limit)) return *bad;
    const ledger::CanonicalMark mark = c.ctx.store->canonical_mark();
    auto infos = c.ctx.store->ReadBatchInfos(from, limit);
    if (!infos.ok()) return ProblemFromStatus(infos.status());
    if (!infos->empty() && infos->front().first != from && from.value() <= mark.position.value())
      return Problem(400, "invalid-field", "from must be a batch's first position (the previous answer's next)",
                     R"({"pointer":"/from"})");
    Json batches = Json::array();
    ledger::Position next = from;
    for (const ledger::BatchInfo& info : *infos) {
      if (info.last > mark.position) break;  // canonical batches only
      auto bytes = c.ctx.store->ReadBatches(info.first, 1);
      if (!bytes.ok() || bytes->empty()) return ProblemFromStatus(bytes.ok() ? ledger::Status::Corruption("batch missing") : bytes.status());
      auto batch = ledger::DecodeBatch(bytes->front());
      if (!batch.ok()) return ProblemFromStatus(batch.status());
      Json records = Json::array();
      for (const auto& r : batch->records) records.push_back({{"record", Base64Encode(r.record)}, {"hash", ledger::ToHex(r.hash)}});
      batches.push_back({{"epoch", batch->epoch.value()},
                         {"node_id", batch->node_id},
                         {"first_position", ledger::PositionToken(shard, batch->first_position)},
                         {"previous_hash", ledger::ToHex(batch->previous_hash)},
                         {"kafka_offset", info.kafka_offset},
                         {"records", records}});
      next = info.last.next();
    }
    return JsonResponse(200, Json{{"batches", batches},
                                  {"next", ledger::PositionToken(shard, next)},
                                  {"canonical_position", ledger::PositionToken(shard, mark.position)}});
  }));

  // One stream's events (`order/m1/o1`, sent URL-encoded as one path segment, which the
  // router decodes: the one parameter that may hold '/'), forward from version `from`
  // (default 1) or backward from it (0: the last), at most kLogEventsMax.
  router.Add("GET", "/v1/streams/{stream}", Guard(ctx, {Role::kAuditor}, Body::kNone, [](Call& c) {
    const std::string stream = c.request.params["stream"];
    const std::string dir = c.request.Query("direction");
    if (!dir.empty() && dir != "forward" && dir != "backward")
      return Problem(400, "invalid-field", "direction is forward or backward", R"({"pointer":"/direction"})");
    uint64_t from = dir == "backward" ? 0 : 1;
    size_t limit = 100;
    if (!c.request.Query("from").empty()) {
      const std::string& v = c.request.Query("from");
      char* end = nullptr;
      from = std::strtoull(v.c_str(), &end, 10);
      if (*end != '\0' || v[0] == '-') return Problem(400, "invalid-field", "from is a stream version", R"({"pointer":"/from"})");
    }
    if (auto bad = ParseLimit(c, kLogEventsMax, &limit)) return *bad;
    auto events = c.ctx.store->ReadStream(stream, ledger::StreamVersion(from),
                                          dir == "backward" ? ledger::ReadDirection::kBackward : ledger::ReadDirection::kForward,
                                          limit);
    if (!events.ok()) return ProblemFromStatus(events.status());
    const ledger::Position canonical = c.ctx.store->canonical_mark().position;
    Json out = Json::array();
    for (const ledger::StoredEvent& e : *events) {
      if (e.position > canonical) continue;  // canonical events only
      const auto* ev = ledger::VerifyRecord(e.record);
      out.push_back({{"position", ledger::PositionToken(ledger::ShardId(c.ctx.shard), e.position)},
                     {"stream_version", ev ? ev->stream_version() : 0},
                     {"record", Base64Encode(e.record)},
                     {"hash", ledger::ToHex(e.hash)}});
    }
    if (out.empty() && from <= 1 && dir != "backward") return Problem(404, "not-found", "no such stream");
    return JsonResponse(200, Json{{"stream", stream}, {"events", out}});
  }), Runs::kWorker, Slash::kInParameter);

  router.Add("GET", "/v1/audit/digest", Guard(ctx, {Role::kAuditor}, Body::kNone, [](Call& c) {
    const ledger::CanonicalMark mark = c.ctx.store->canonical_mark();
    return JsonResponse(200, Json{{"position", ledger::PositionToken(ledger::ShardId(c.ctx.shard), mark.position)},
                                  {"hash", ledger::ToHex(mark.hash)}});
  }));
}

}  // namespace api
