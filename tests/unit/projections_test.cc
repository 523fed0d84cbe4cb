// The four read models over a fixed merchant story: hand-worked figures, golden fixtures,
// digests equal for live and rebuilt state, resume after a stop, as-of rebuilds, and the
// bad inputs of the store and the queries.
#include <gtest/gtest.h>

#include <rocksdb/db.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>

#include "ledger/chain_hash.h"
#include "ledger/position_token.h"
#include "ledger/record_codec.h"
#include "projections/projections.h"
#include "projections/event_reading.h"
#include "projections/projection.h"
#include "projections/queries.h"
#include "projections/read_model_store.h"
#include "tests/support/faulty_read_store.h"
#include "tests/support/merchant_story.h"
#include "tests/support/projection_store_writer.h"
#include "tests/support/temp_dir.h"

using namespace ledger;
using projections::Json;
using projections::Projector;
using projections::ProjectorOptions;
using projections::SourceBound;
using testing_support::TempDir;

namespace {

using testing_support::StoryLog;

std::unique_ptr<Projector> Project(const EventStore& source, const std::string& dir, Position until = Position(UINT64_MAX),
                                   size_t apply_events_max = projections::kApplyEventsMax) {
  ProjectorOptions o;
  o.dir = dir;
  o.bound = SourceBound::kHead;
  o.apply_events_max = apply_events_max;
  auto p = Projector::Open(o);
  EXPECT_TRUE(p.ok()) << p.status().ToString();
  Status s = (*p)->CatchUp(source, until);
  EXPECT_TRUE(s.ok()) << s.ToString();
  return std::move(p).value();
}

// A read model's store opened with RocksDB alone, below ProjectionStore: to damage it, or
// to recompute its digest from the stored bytes. Families: state, meta, digests.
struct RawProjectionStore {
  RawProjectionStore(const std::string& path, bool read_only) {
    const std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {{"default", {}}, {"meta", {}}, {"digests", {}}};
    rocksdb::DB* raw = nullptr;
    status = read_only ? rocksdb::DB::OpenForReadOnly(rocksdb::DBOptions(), path, cfs, &handles, &raw)
                       : rocksdb::DB::Open(rocksdb::DBOptions(), path, cfs, &handles, &raw);
    db.reset(raw);
  }
  ~RawProjectionStore() {
    for (auto* h : handles) db->DestroyColumnFamilyHandle(h);
  }
  rocksdb::Status status;
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // state, meta, digests
};

// A new event store at `path` whose events are recorded by `clock` (which must outlive it),
// for tests that write their own commands.
ledger::Result<std::unique_ptr<EventStore>> OpenClockedStore(const std::string& path, testing_support::TickingClock* clock) {
  StoreOptions options;
  options.path = path;
  options.clock = clock;
  return EventStore::Open(options);
}

const projections::ProjectionStore& Model(const Projector& p, const char* name) {
  const auto* m = p.read_model(name);
  LEDGER_INVARIANT(m != nullptr);
  return *m;
}

Json Dump(const projections::ProjectionStore& m) {
  auto rows = m.Scan("", "", SIZE_MAX);
  LEDGER_INVARIANT(rows.ok());
  Json out = Json::object();
  for (auto& [k, v] : *rows) out[k] = v;
  return out;
}

class ProjectionsTest : public ::testing::Test {
 protected:
  TempDir dir;
  StoryLog log{dir.Sub("store")};
};

TEST_F(ProjectionsTest, CustomerViewHoldsOrdersPaymentsDisputesMessagesAndLifetimeValue) {
  auto p = Project(*log.store, dir.Sub("proj"));
  const auto& customers = Model(*p, "customers");
  auto c1 = projections::QueryCustomer(customers, "m1", "c1");
  ASSERT_TRUE(c1.ok()) << c1.status().ToString();
  EXPECT_EQ((*c1)["lifetime_value_minor"], Json({{"USD", 10000}}));
  ASSERT_EQ((*c1)["orders"].size(), 2u);
  const Json& o1 = (*c1)["orders"][0];
  EXPECT_EQ(o1["order_id"], "o1");
  EXPECT_EQ(o1["status"], "fulfilled");
  EXPECT_TRUE(o1.contains("paid_at_us"));  // paid by cap1, before it was fulfilled
  EXPECT_EQ(o1["total_minor"], 11300);
  EXPECT_EQ(o1["payments"]["p1"]["currency"], "USD");
  EXPECT_EQ(o1["payments"]["p1"]["captured_minor"], 11300);
  EXPECT_EQ(o1["payments"]["p1"]["refunded_minor"], 1300);
  EXPECT_EQ(o1["refunds"][0]["refund_id"], "r1");
  EXPECT_EQ((*c1)["orders"][1]["status"], "cancelled");
  ASSERT_EQ((*c1)["messages"].size(), 1u);
  EXPECT_EQ((*c1)["messages"][0]["medium"], "Email");
  // n1 was open while o1 was; n2 opened after o1 closed and o3 was cancelled.
  ASSERT_EQ((*c1)["outage_notices"].size(), 1u);
  EXPECT_EQ((*c1)["outage_notices"][0]["notice_id"], "n1");

  auto c2 = projections::QueryCustomer(customers, "m1", "c2");
  ASSERT_TRUE(c2.ok());
  EXPECT_EQ((*c2)["lifetime_value_minor"], Json({{"USD", 0}}));  // 6000 captured, 6000 lost
  EXPECT_EQ((*c2)["orders"][0]["disputes"]["d1"]["outcome"], "Lost");
  EXPECT_EQ((*c2)["orders"][0]["status"], "paid");  // captured in full; a lost dispute does not undo it
  EXPECT_FALSE(c2->contains("open_disputes"));
  // o2 was placed after n1 resolved, and is still open (never fulfilled) when n2 opens.
  ASSERT_EQ((*c2)["outage_notices"].size(), 1u);
  EXPECT_EQ((*c2)["outage_notices"][0]["notice_id"], "n2");

  // Tenancy: m2's customer c1 is another customer; m2 cannot see m1's c2.
  auto m2c1 = projections::QueryCustomer(customers, "m2", "c1");
  ASSERT_TRUE(m2c1.ok());
  EXPECT_TRUE((*m2c1)["orders"].empty());
  EXPECT_EQ(projections::QueryCustomer(customers, "m2", "c2").status().code(), Code::kNotFound);
}

TEST_F(ProjectionsTest, FeesPerCaptureMatchTheHandWorkedFigures) {
  auto p = Project(*log.store, dir.Sub("proj"));
  const auto& fees = Model(*p, "fees");
  auto cap1 = projections::QueryCaptureFees(fees, "m1", "o1", "p1", "cap1");
  ASSERT_TRUE(cap1.ok());
  EXPECT_EQ((*cap1)["gross_minor"], 11300);
  EXPECT_EQ((*cap1)["contributors"]["processing"]["charged_minor"], 358);
  EXPECT_EQ((*cap1)["contributors"]["processing"]["reversed_minor"], 38);
  EXPECT_EQ((*cap1)["contributors"]["platform"]["charged_minor"], 113);
  EXPECT_EQ((*cap1)["contributors"]["platform"]["reversed_minor"], 13);
  EXPECT_EQ((*cap1)["merchant_net_at_capture_minor"], 10829);
  // The refund takes 1300 back less the 51 of fees that come back.
  EXPECT_EQ((*cap1)["merchant_net_minor"], 10829 - 1300 + 51);
  EXPECT_EQ((*cap1)["tax_minor"], 0);
  auto cap2 = projections::QueryCaptureFees(fees, "m1", "o2", "p2", "cap2");
  ASSERT_TRUE(cap2.ok());
  EXPECT_EQ((*cap2)["contributors"]["marketplace"]["charged_minor"], 600);
  EXPECT_EQ((*cap2)["contributors"]["dispute"]["charged_minor"], 1500);
  EXPECT_EQ((*cap2)["merchant_net_at_capture_minor"], 5136);
  // Lost: the disputed 6000 went back to the customer and the 1500 fee stays charged.
  EXPECT_EQ((*cap2)["merchant_net_minor"], 5136 - 6000 - 1500);
  EXPECT_EQ(projections::QueryCaptureFees(fees, "m2", "o1", "p1", "cap1").status().code(), Code::kNotFound);
  // A capture is named with its order and payment (capture ids are unique per payment only).
  EXPECT_EQ(projections::QueryCaptureFees(fees, "m1", "o2", "p2", "cap1").status().code(), Code::kNotFound);
  EXPECT_EQ(projections::QueryCaptureFees(fees, "m1", "o1", "p2", "cap2").status().code(), Code::kNotFound);

  auto revenue = projections::QueryPlatformRevenue(fees);
  ASSERT_TRUE(revenue.ok());
  EXPECT_EQ((*revenue)["processing"]["USD"], 358 - 38 + 204);
  EXPECT_EQ((*revenue)["platform"]["USD"], 113 - 13 + 60);
  EXPECT_EQ((*revenue)["marketplace"]["USD"], 600);
  EXPECT_EQ((*revenue)["dispute"]["USD"], 1500);
  EXPECT_EQ((*revenue)["communications"]["USD"], 5);

  auto days = projections::QueryFeesByDay(fees, "m1", "2026-11-26", "2026-11-26");
  ASSERT_TRUE(days.ok());
  int64_t processing_net = 0;
  for (const Json& row : *days)
    if (row["contributor"] == "processing") processing_net += row["net_minor"].get<int64_t>();
  EXPECT_EQ(processing_net, 358 - 38 + 204);
  auto other_day = projections::QueryFeesByDay(fees, "m1", "2026-11-27", "2026-12-31");
  ASSERT_TRUE(other_day.ok());
  EXPECT_TRUE(other_day->empty());
}

TEST_F(ProjectionsTest, BalancesAndStatementsAgreeWithEveryPosting) {
  auto p = Project(*log.store, dir.Sub("proj"));
  const auto& fees = Model(*p, "fees");
  auto answer = projections::QueryBalances(fees, "m1");
  ASSERT_TRUE(answer.ok());
  EXPECT_EQ((*answer)["overflowed"], Json::array());
  Json balances = (*answer)["balances"];  // a copy: indexing it may add what is absent
  int checked = 0;
  for (const auto& [key, amount] : log.balances) {
    if (key.first.rfind("merchant:m1:", 0) != 0) continue;
    EXPECT_EQ(balances[key.first][key.second], amount) << key.first;
    ++checked;
  }
  EXPECT_GE(checked, 2);  // available and reserve
  auto statement = projections::QueryStatement(fees, "m1", "USD", "2026-11-26", "2026-11-26");
  ASSERT_TRUE(statement.ok());
  for (auto& [account, a] : (*statement)["accounts"].items()) {
    EXPECT_EQ(a["opening_minor"], 0);
    EXPECT_EQ(a["closing_minor"], balances[account]["USD"]) << account;
    EXPECT_FALSE(a.contains("overflowed")) << account;
  }
  // A period after the story: opening = closing = the balance, no postings.
  auto later = projections::QueryStatement(fees, "m1", "USD", "2026-12-01", "2026-12-31");
  ASSERT_TRUE(later.ok());
  for (auto& [account, a] : (*later)["accounts"].items()) {
    EXPECT_EQ(a["opening_minor"], balances[account]["USD"]);
    EXPECT_EQ(a["postings"], 0);
  }
}

TEST_F(ProjectionsTest, AnOrdersFeeBreakdownListsItsCapturesWithTotalsPerCurrency) {
  auto p = Project(*log.store, dir.Sub("proj"));
  const auto& fees = Model(*p, "fees");
  auto o1 = projections::QueryOrderFees(fees, "m1", "o1");
  ASSERT_TRUE(o1.ok()) << o1.status().ToString();
  EXPECT_EQ((*o1)["order_id"], "o1");
  ASSERT_EQ((*o1)["captures"].size(), 1u);
  EXPECT_EQ((*o1)["captures"][0], *projections::QueryCaptureFees(fees, "m1", "o1", "p1", "cap1"));
  ASSERT_EQ((*o1)["totals"].size(), 1u);
  const Json& usd = (*o1)["totals"]["USD"];
  EXPECT_EQ(usd["captures"], 1);
  EXPECT_EQ(usd["gross_minor"], 11300);
  EXPECT_EQ(usd["refunded_minor"], 1300);
  EXPECT_EQ(usd["contributors"]["processing"], Json({{"charged_minor", 358}, {"kind", "fee"}, {"reversed_minor", 38}}));
  EXPECT_EQ(usd["contributors"]["platform"], Json({{"charged_minor", 113}, {"kind", "fee"}, {"reversed_minor", 13}}));
  EXPECT_EQ(usd["tax_minor"], 0);
  EXPECT_EQ(usd["sales_tax_minor"], 0);
  EXPECT_EQ(usd["merchant_net_at_capture_minor"], 10829);
  EXPECT_EQ(usd["merchant_net_minor"], 10829 - 1300 + 51);
  EXPECT_FALSE(usd.contains("overflowed"));
  // o2's lost dispute: its fee and the money that went back show in the totals.
  auto o2 = projections::QueryOrderFees(fees, "m1", "o2");
  ASSERT_TRUE(o2.ok());
  EXPECT_EQ((*o2)["totals"]["USD"]["contributors"]["dispute"]["charged_minor"], 1500);
  EXPECT_EQ((*o2)["totals"]["USD"]["merchant_net_minor"], 5136 - 6000 - 1500);
  // An order without captures answers empty lists (whether it exists is the customer
  // view's to say); another merchant's order of the same id is not reached.
  auto o3 = projections::QueryOrderFees(fees, "m1", "o3");
  ASSERT_TRUE(o3.ok());
  EXPECT_EQ((*o3)["captures"], Json::array());
  EXPECT_EQ((*o3)["totals"], Json::object());
  auto other = projections::QueryOrderFees(fees, "m2", "o1");
  ASSERT_TRUE(other.ok());
  EXPECT_EQ((*other)["captures"], Json::array());
  // No id holds '/' or is empty: such a name would widen the prefix to other orders.
  for (const char* bad : {"", "o1/p1", "o1/"})
    EXPECT_EQ(projections::QueryOrderFees(fees, "m1", bad).status().code(), Code::kNotFound) << bad;
}

TEST_F(ProjectionsTest, StorefrontAndMall) {
  auto p = Project(*log.store, dir.Sub("proj"));
  const auto& sf = Model(*p, "storefront");
  auto s1 = projections::QueryStore(sf, "m1", "s1");
  ASSERT_TRUE(s1.ok());
  EXPECT_EQ((*s1)["order_count"], 2);
  EXPECT_EQ((*s1)["net_captured_minor"], Json({{"USD", 10000}}));
  EXPECT_EQ((*s1)["top_skus"], Json::array({{{"sku", "sku-1"}, {"quantity", 2}}}));
  EXPECT_EQ((*s1)["listings"].size(), 2u);
  auto s2 = projections::QueryStore(sf, "m1", "s2");
  ASSERT_TRUE(s2.ok());
  EXPECT_EQ((*s2)["net_captured_minor"], Json({{"USD", 6000}}));
  EXPECT_EQ(projections::QueryStore(sf, "m2", "s1").status().code(), Code::kNotFound);

  auto red = projections::QueryMall(sf, "", "RED", 100);
  ASSERT_TRUE(red.ok());
  std::set<std::string> titles;
  for (const Json& l : *red) titles.insert(l["title"].get<std::string>());
  EXPECT_EQ(titles, (std::set<std::string>{"Red Shoe", "Red Hat", "red scarf"}));
  auto by_sku = projections::QueryMall(sf, "sku-", "", 2);
  ASSERT_TRUE(by_sku.ok());
  EXPECT_EQ(by_sku->size(), 2u);  // the limit holds
  EXPECT_EQ(projections::QueryMall(sf, "", "", 10).status().code(), Code::kInvalidArgument);
  EXPECT_EQ(projections::QueryMall(sf, "a", "b", 10).status().code(), Code::kInvalidArgument);
}

TEST_F(ProjectionsTest, StatusPageShowsIncidentsWithHistoryAndNeverSubscribers) {
  auto p = Project(*log.store, dir.Sub("proj"));
  auto page = projections::QueryStatusPage(Model(*p, "status"));
  ASSERT_TRUE(page.ok());
  ASSERT_EQ((*page)["incidents"].size(), 2u);
  EXPECT_EQ((*page)["incidents"][0]["notice_id"], "n2");  // newest first
  const Json& n1 = (*page)["incidents"][1];
  EXPECT_EQ(n1["status"], "Resolved");
  EXPECT_EQ(n1["impact"], "major");
  EXPECT_EQ(n1["updates"].size(), 3u);
  EXPECT_EQ((*page)["components"],
            Json::array({{{"component", "api"}, {"status", "minor"}}, {{"component", "payments"}, {"status", "operational"}}}));
  EXPECT_EQ((*page)["overall"], "degraded");
  EXPECT_EQ(page->dump().find("hooks.example.com"), std::string::npos);
  EXPECT_EQ(page->dump().find("sub1"), std::string::npos);
}

// Golden fixtures: the whole state of each read model for the story. A change to a rule
// shows here as a diff to review; LEDGER_UPDATE_GOLDEN=1 rewrites them.
TEST_F(ProjectionsTest, ReadModelsMatchGoldenFixtures) {
  auto p = Project(*log.store, dir.Sub("proj"));
  for (const std::string& name : projections::ReadModelNames()) {
    const std::string path = std::string(LEDGER_TEST_DATA_DIR) + "/golden/projections/" + name + ".json";
    const Json now = Dump(Model(*p, name.c_str()));
    if (std::getenv("LEDGER_UPDATE_GOLDEN")) {
      std::filesystem::create_directories(std::filesystem::path(path).parent_path());
      std::ofstream(path) << now.dump(1) << "\n";
      continue;
    }
    std::ifstream in(path);
    ASSERT_TRUE(in.good()) << "missing fixture " << path;
    const Json golden = Json::parse(in);
    EXPECT_EQ(now, golden) << name << ": " << Json::diff(golden, now).dump();
  }
}

TEST_F(ProjectionsTest, RebuiltDigestsEqualLiveOnesAtEveryBatchBoundary) {
  // "Live": one commit per stored batch, so a digest is recorded at every boundary.
  auto live = Project(*log.store, dir.Sub("live"), Position(UINT64_MAX), 1);
  const Position head = log.store->head().position;
  EXPECT_EQ(live->position(), head);
  auto batches = log.store->ReadBatchInfos(Position(1), 100000);
  ASSERT_TRUE(batches.ok());
  ASSERT_GT(batches->size(), 20u);
  int compared = 0;
  for (size_t i = 0; i < batches->size(); i += 7) {
    const Position at = (*batches)[i].last;
    TempDir rebuild_dir;
    auto rebuilt = Project(*log.store, rebuild_dir.path(), at);
    EXPECT_EQ(rebuilt->position(), at);
    for (const std::string& name : projections::ReadModelNames()) {
      auto recorded = Model(*live, name.c_str()).DigestAt(at);
      ASSERT_TRUE(recorded.ok() && recorded->has_value()) << name << " at " << at.value();
      EXPECT_EQ(**recorded, Model(*rebuilt, name.c_str()).progress().digest) << name << " at " << at.value();
      ++compared;
    }
  }
  EXPECT_GT(compared, 8);
  // And at the head, by both digest forms, against a rebuild in large commits.
  auto whole = Project(*log.store, dir.Sub("whole"));
  for (const std::string& name : projections::ReadModelNames()) {
    EXPECT_EQ(Model(*live, name.c_str()).progress().digest, Model(*whole, name.c_str()).progress().digest);
    EXPECT_EQ(*Model(*live, name.c_str()).FullDigest(), *Model(*whole, name.c_str()).FullDigest());
    EXPECT_EQ(Model(*whole, name.c_str()).progress().entries, Dump(Model(*whole, name.c_str())).size());
  }
}

TEST(ProjectionsCatchUp, ALongCatchUpReadingAheadReachesTheStateOfOneCommitPerBatch) {
  // Spans of at least kLongSpanEventsMin events make a catch-up: each read model applies
  // spans on a thread of its own, quicker ones ahead of slower ones, while the next spans
  // are read. The state must be the one a batch-by-batch projector reaches, at every
  // boundary the long catch-up committed, and at an as-of bound inside the log.
  TempDir dir;
  StoryLog log(dir.Sub("store"), /*extra_orders=*/1200);
  const Position head = log.store->head().position;
  ASSERT_GT(head.value(), 4 * 1024u);
  auto stepwise = Project(*log.store, dir.Sub("step"), Position(UINT64_MAX), 1);
  auto batches = log.store->ReadBatchInfos(Position(1), 100000);
  ASSERT_TRUE(batches.ok());
  const Position as_of = (*batches)[batches->size() * 2 / 3].last;
  for (const Position until : {head, as_of}) {
    TempDir long_dir;
    auto long_spans = Project(*log.store, long_dir.path(), until, 1024);
    ASSERT_EQ(long_spans->position(), until);
    EXPECT_GE(long_spans->stats().catch_up_commits, 3u) << "the threads of a catch-up ran";
    for (const std::string& name : projections::ReadModelNames()) {
      auto recorded = Model(*stepwise, name.c_str()).DigestAt(until);
      ASSERT_TRUE(recorded.ok() && recorded->has_value()) << name;
      EXPECT_EQ(**recorded, Model(*long_spans, name.c_str()).progress().digest) << name << " until " << until.value();
      size_t boundaries = 0;
      for (const ledger::BatchInfo& b : *batches) {
        if (b.last > until) break;
        auto committed = Model(*long_spans, name.c_str()).DigestAt(b.last);
        ASSERT_TRUE(committed.ok());
        if (!committed->has_value()) continue;
        ++boundaries;
        EXPECT_EQ(**committed, **Model(*stepwise, name.c_str()).DigestAt(b.last)) << name << " at " << b.last.value();
      }
      EXPECT_EQ(boundaries, long_spans->stats().commits) << name << ": every model commits at every span's end";
    }
  }
}

TEST(ProjectionsCatchUp, AReadModelThatFailsStopsTheCatchUpAndTheOthersKeepWhatTheyCommitted) {
  // In a long catch-up the read models apply spans apart from each other; when one cannot
  // apply an event, the catch-up stops with its error, the projector's position never
  // passes a span the failing model does not hold, and every other read model holds a
  // state a batch-by-batch projector also recorded (no half-applied span). Both ways
  // round: the failing model ahead of the others, and behind them.
  TempDir dir;
  StoryLog log(dir.Sub("store"), /*extra_orders=*/1200);
  const Position head = log.store->head().position;
  auto batches = log.store->ReadBatchInfos(Position(1), 100000);
  ASSERT_TRUE(batches.ok());
  const Position start = (*batches)[batches->size() / 20].last;
  // An order placed a few spans after the start: the customers view will lose it, and the
  // order's payment (the next event) cannot apply there.
  Position placed, paid;
  std::string order_id, order_key;
  auto events = log.store->ReadRange(Position(start.value() + 2 * 1024), 100);
  ASSERT_TRUE(events.ok());
  for (const StoredEvent& stored : *events) {
    const schema::Event* e = VerifyRecord(stored.record);
    ASSERT_NE(e, nullptr);
    if (order_id.empty() && e->body_type() == schema::EventBody::OrderPlaced) {
      placed = stored.position;
      order_id = e->body_as_OrderPlaced()->order_id()->str();
      order_key = "order/" + e->tenant()->str() + "/" + order_id;
    } else if (!order_id.empty() && e->body_type() == schema::EventBody::PaymentAuthorized &&
               e->body_as_PaymentAuthorized()->order_id()->str() == order_id) {
      paid = stored.position;
      break;
    }
  }
  ASSERT_GT(paid.value(), placed.value());
  Position others_at;  // a batch boundary two spans past the failure
  for (const ledger::BatchInfo& b : *batches)
    if (b.last.value() >= paid.value() + 2 * 1024) {
      others_at = b.last;
      break;
    }
  ASSERT_LT(others_at, head);
  ASSERT_GT(others_at.value(), 0u);
  auto stepwise = Project(*log.store, dir.Sub("step"), head, 1);
  const std::vector<std::string> others = {"fees", "storefront", "status", "access"};

  for (const bool others_ahead : {false, true}) {
    SCOPED_TRACE(others_ahead ? "the others ahead of the failing model" : "the others behind the failing model");
    const std::string proj = dir.Sub(others_ahead ? "ahead" : "behind");
    auto project = [&](Position until, std::vector<std::string> models) {
      ProjectorOptions o;
      o.dir = proj;
      o.bound = SourceBound::kHead;
      o.apply_events_max = 1024;
      o.read_models = std::move(models);
      auto p = Projector::Open(o);
      LEDGER_INVARIANT(p.ok());
      const Status s = (*p)->CatchUp(*log.store, until);
      return std::make_pair(std::move(p).value(), s);
    };
    ASSERT_TRUE(project(placed, {"customers"}).second.ok());
    ASSERT_TRUE(project(others_ahead ? others_at : start, others).second.ok());
    {
      RawProjectionStore raw(proj + "/customers", /*read_only=*/false);
      ASSERT_TRUE(raw.status.ok());
      ASSERT_TRUE(raw.db->Delete(rocksdb::WriteOptions(), raw.handles[0], order_key).ok());
    }
    auto [p, s] = project(head, {});
    EXPECT_EQ(s.code(), Code::kCorruption);
    EXPECT_NE(s.message().find("customers cannot apply position"), std::string::npos) << s.ToString();
    const Position customers_at = Model(*p, "customers").progress().position;
    EXPECT_GE(customers_at, placed);
    EXPECT_LT(customers_at, paid);
    // Only spans every model holds (how far the others got before the error reached them
    // depends on the threads' timing).
    EXPECT_LE(p->position(), customers_at);
    EXPECT_GE(p->position(), others_ahead ? placed : start);
    for (const std::string& name : others) {
      const projections::Progress at = Model(*p, name.c_str()).progress();
      // Quicker models may apply up to two spans past the one the failing model could not
      // (kSpansInFlight = 3 spans held), never more; whether that reaches the head depends on
      // the timing. A span is apply_events_max (1024) events, stretched to the end of the
      // batch it stops in (this log's batches hold a few events: 64 is ample).
      EXPECT_LE(at.position.value(), customers_at.value() + 3 * (1024 + 64)) << name << " ran on past the failure";
      auto recorded = Model(*stepwise, name.c_str()).DigestAt(at.position);
      ASSERT_TRUE(recorded.ok() && recorded->has_value()) << name << " at " << at.position.value();
      EXPECT_EQ(**recorded, at.digest) << name;
    }
    // Mended (the customers view rebuilt), the same catch-up runs to the head.
    p.reset();
    std::filesystem::remove_all(proj + "/customers");
    auto mended = project(head, {});
    EXPECT_TRUE(mended.second.ok()) << mended.second.ToString();
    EXPECT_GE(mended.first->stats().catch_up_commits, 2u) << "the threads of a catch-up ran";
    for (const std::string& name : projections::ReadModelNames())
      EXPECT_EQ(Model(*mended.first, name.c_str()).progress().digest, Model(*stepwise, name.c_str()).progress().digest)
          << name;
  }
}

// A read of the log that fails during a long catch-up (the reading thread reads spans
// ahead while the read models apply earlier ones): once, the catch-up ends where it is and
// the next step reads that span again, so CatchUp still reaches the head with the state a
// rebuild has; for good, CatchUp returns the read's error, and every read model stands at
// a batch boundary before the failing span with the digest a rebuild recorded there.
TEST(ProjectionsCatchUp, AReadAheadThatFailsIsReadAgainOrEndsTheCatchUpWithItsError) {
  TempDir dir;
  StoryLog log(dir.Sub("store"), /*extra_orders=*/1200);
  const Position head = log.store->head().position;
  ASSERT_GT(head.value(), 4 * 1024u);
  auto reference = Project(*log.store, dir.Sub("reference"), head, 1);
  // A position well inside the log, in a span the reading thread reads ahead.
  const Position failing(3 * 1024 + 100);
  auto project = [&](const std::string& into, testing_support::FaultyReadStore& source) {
    ProjectorOptions o;
    o.dir = dir.Sub(into);
    o.bound = SourceBound::kHead;
    o.apply_events_max = 1024;
    auto p = Projector::Open(o);
    LEDGER_INVARIANT(p.ok());
    const Status s = (*p)->CatchUp(source, head);
    return std::make_pair(std::move(p).value(), s);
  };
  const auto covers = [&](Position from, size_t limit) {
    return from <= failing && failing.value() < from.value() + limit;
  };

  {
    SCOPED_TRACE("fails once");
    testing_support::FaultyReadStore source(log.store.get());
    std::atomic<bool> failed{false};
    source.scan_fault = [&](Position from, size_t limit) { return covers(from, limit) && !failed.exchange(true); };
    auto [p, s] = project("once", source);
    ASSERT_TRUE(s.ok()) << s.ToString();
    EXPECT_EQ(source.scans_failed(), 1u);
    EXPECT_GT(p->stats().catch_up_commits, 0u);
    EXPECT_EQ(p->position(), head);
    for (const std::string& name : projections::ReadModelNames())
      EXPECT_EQ(Model(*p, name.c_str()).progress().digest, Model(*reference, name.c_str()).progress().digest) << name;
  }
  {
    SCOPED_TRACE("fails for good");
    testing_support::FaultyReadStore source(log.store.get());
    source.scan_fault = covers;
    auto [p, s] = project("always", source);
    EXPECT_EQ(s.code(), Code::kIOError) << s.ToString();
    EXPECT_NE(s.message().find("injected read failure"), std::string::npos) << s.ToString();
    EXPECT_GE(source.scans_failed(), 2u);  // read ahead, then again on its own
    EXPECT_LT(p->position(), failing);
    EXPECT_GT(p->position().value(), 0u);
    for (const std::string& name : projections::ReadModelNames()) {
      const projections::Progress at = Model(*p, name.c_str()).progress();
      EXPECT_LT(at.position, failing) << name;
      auto recorded = Model(*reference, name.c_str()).DigestAt(at.position);
      ASSERT_TRUE(recorded.ok() && recorded->has_value()) << name << " at " << at.position.value();
      EXPECT_EQ(**recorded, at.digest) << name;
    }
  }
}

// A stored value that lacks a field its rule relies on (damaged, or written by a bug)
// stops that read model with Corruption naming the event's position, instead of a crash or
// a silently wrong figure, and the read model keeps what it had (no half-applied span).
// One case per such check: the fees view's dispute without its capture, or without its
// order (as a version before DECISIONS 102 recorded it: the message says to rebuild), the
// customer view's lost dispute without its amount, the storefront's cancelled order with a
// line without its sku.
TEST_F(ProjectionsTest, AStoredValueMissingAFieldItsRuleNeedsStopsTheReadModelWithCorruption) {
  struct Case {
    const char* model;
    std::string key;
    std::function<void(Json&)> damage;
    schema::EventBody trigger;  // the story's first event of this type reads the damaged value
    const char* message;
  };
  const std::vector<Case> cases = {
      {"fees", "dispute/m1/d1", [](Json& v) { v.erase("capture_id"); }, schema::EventBody::DisputeResolved,
       "resolution of an unknown dispute"},
      {"fees", "dispute/m1/d1", [](Json& v) { v.erase("order_id"); }, schema::EventBody::DisputeResolved,
       "rebuild the fees read model"},
      {"customers", "", [](Json& v) { v["disputes"]["d1"].erase("amount"); }, schema::EventBody::DisputeResolved,
       "resolution of a dispute without its amount"},
      {"storefront", "order/m1/o3", [](Json& v) { v["lines"][0].erase("sku"); }, schema::EventBody::OrderCancelled,
       "an order line without its sku or quantity"},
  };
  const Position head = log.store->head().position;
  auto events = log.store->ReadRange(Position(1), static_cast<uint32_t>(head.value()));
  ASSERT_TRUE(events.ok());
  for (size_t i = 0; i < cases.size(); ++i) {
    const Case& c = cases[i];
    SCOPED_TRACE(c.message);
    Position trigger;
    for (const StoredEvent& stored : *events) {
      const schema::Event* e = VerifyRecord(stored.record);
      ASSERT_NE(e, nullptr);
      if (e->body_type() != c.trigger) continue;
      trigger = stored.position;
      break;
    }
    ASSERT_GT(trigger.value(), 1u);
    const std::string proj = dir.Sub("damaged-" + std::to_string(i));  // a store per case
    auto project = [&](Position until) {
      ProjectorOptions o;
      o.dir = proj;
      o.bound = SourceBound::kHead;
      o.read_models = {c.model};
      auto p = Projector::Open(o);
      LEDGER_INVARIANT(p.ok());
      const Status s = (*p)->CatchUp(*log.store, until);
      return std::make_pair(std::move(p).value(), s);
    };
    const Position before(trigger.value() - 1);
    ASSERT_TRUE(project(before).second.ok());
    std::string key = c.key;
    if (key.empty()) {
      // The customer view keeps a dispute inside its order: the one its index names.
      auto p = project(before).first;
      auto index = Model(*p, "customers").Get("dispute/m1/d1");
      ASSERT_TRUE(index.ok() && index->has_value());
      key = "order/m1/" + (**index)["order_id"].get<std::string>();
    }
    {
      RawProjectionStore raw(proj + "/" + c.model, /*read_only=*/false);
      ASSERT_TRUE(raw.status.ok());
      std::string bytes;
      ASSERT_TRUE(raw.db->Get(rocksdb::ReadOptions(), raw.handles[0], key, &bytes).ok()) << key;
      Json value = Json::from_msgpack(bytes);
      c.damage(value);
      const std::vector<uint8_t> damaged = Json::to_msgpack(value);
      ASSERT_TRUE(raw.db->Put(rocksdb::WriteOptions(), raw.handles[0], key,
                              rocksdb::Slice(reinterpret_cast<const char*>(damaged.data()), damaged.size()))
                      .ok());
    }
    auto [p, s] = project(head);
    EXPECT_EQ(s.code(), Code::kCorruption) << s.ToString();
    EXPECT_NE(s.message().find(c.message), std::string::npos) << s.ToString();
    EXPECT_NE(s.message().find("cannot apply position " + std::to_string(trigger.value())), std::string::npos)
        << s.ToString();
    EXPECT_EQ(Model(*p, c.model).progress().position, before);
  }
}

TEST_F(ProjectionsTest, DigestChangesWithAnyValueAndNotWithHowTheStateWasReached) {
  auto whole = Project(*log.store, dir.Sub("whole"));
  auto stepwise = Project(*log.store, dir.Sub("step"), Position(UINT64_MAX), 1);
  const auto& a = Model(*whole, "fees");
  EXPECT_EQ(a.progress().digest, Model(*stepwise, "fees").progress().digest);
  const auto before = Model(*whole, "storefront").progress().digest;
  EXPECT_NE(a.progress().digest, before);  // the name is in the digest
  // The same entries with one value changed: another digest.
  Sha256Digest sum{};
  sum[31] = 1;
  EXPECT_NE(projections::ProjectionStore::DigestOf("fees", sum, 1),
            projections::ProjectionStore::DigestOf("fees", sum, 2));
}

// The set hash of DESIGN §7 as DECISIONS §29 defines it, computed here from the stored
// bytes alone: sum mod 2^256 of SHA-256(len32 key || key || len32 value || value).
projections::Progress SetHashOfStoredEntries(const std::string& path, const std::string& name) {
  RawProjectionStore raw(path, /*read_only=*/true);
  LEDGER_INVARIANT(raw.status.ok());
  auto len32 = [](std::string* out, size_t n) {
    for (int i = 3; i >= 0; --i) out->push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  };
  Sha256Digest sum{};
  uint64_t entries = 0;
  std::unique_ptr<rocksdb::Iterator> it(raw.db->NewIterator(rocksdb::ReadOptions(), raw.handles[0]));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    std::string entry;
    len32(&entry, it->key().size());
    entry.append(it->key().data(), it->key().size());
    len32(&entry, it->value().size());
    entry.append(it->value().data(), it->value().size());
    const Sha256Digest h = Sha256Of(entry);
    int carry = 0;
    for (int i = 31; i >= 0; --i) {
      const int v = sum[i] + h[i] + carry;
      sum[i] = static_cast<uint8_t>(v & 0xff);
      carry = v >> 8;
    }
    ++entries;
  }
  it.reset();
  projections::Progress p;
  p.entries = entries;
  p.digest = projections::ProjectionStore::DigestOf(name, sum, entries);
  return p;
}

TEST_F(ProjectionsTest, TheKeptDigestIsTheSetHashOfTheStoredEntries) {
  // The digest a commit keeps up (adding each new entry's hash, subtracting each replaced
  // one's) against the same hash computed from scratch over what the store holds, after
  // a projector committing per batch (many replaced and erased values) and one committing
  // in long spans.
  for (const size_t apply_events_max : {size_t{1}, projections::kApplyEventsMax}) {
    const std::string projections_dir = dir.Sub("proj-" + std::to_string(apply_events_max));
    std::map<std::string, projections::Progress> kept;
    {
      auto p = Project(*log.store, projections_dir, Position(UINT64_MAX), apply_events_max);
      for (const std::string& name : projections::ReadModelNames()) kept[name] = Model(*p, name.c_str()).progress();
    }
    for (const std::string& name : projections::ReadModelNames()) {
      const projections::Progress stored = SetHashOfStoredEntries(projections_dir + "/" + name, name);
      EXPECT_GT(stored.entries, 0u) << name;
      EXPECT_EQ(kept[name].entries, stored.entries) << name;
      EXPECT_EQ(kept[name].digest, stored.digest) << name << " committing every " << apply_events_max << " events";
    }
  }
}

TEST(StateTxnPut, SetsWithoutReadingAndTheCommitStillReplacesTheStoredEntry) {
  // Put leaves the old value's lookup to Commit (one batched read): whether the key was
  // stored or not, new in this txn or not, the state, its entry count and its digest must
  // be what Mutable-and-assign gives, and the digest the set hash of the stored bytes.
  TempDir dir;
  auto build = [&](const std::string& path, bool use_put) {
    auto store = projections::ProjectionStore::Open(path, "fees");
    LEDGER_INVARIANT(store.ok());
    auto set = [&](projections::StateTxn& t, const std::string& key, Json v) -> Json& {
      if (use_put) return t.Put(key, std::move(v));
      Json& slot = t.Mutable(key);
      slot = std::move(v);
      return slot;
    };
    {
      projections::StateTxn t(store->get());
      set(t, "a", 1);
      set(t, "b", {{"n", 2}});
      set(t, "c", "gone next");
      set(t, "e", "kept");
      EXPECT_TRUE((*store)->Commit(t, Position(1), 0).ok());
    }
    {
      projections::StateTxn t(store->get());
      set(t, "a", 1);                           // stored, same value: unchanged
      set(t, "b", {{"n", 3}})["m"] = 4;         // stored, replaced, then changed in place
      set(t, "c", nullptr);                     // stored, erased
      set(t, "d", 5);                           // new
      EXPECT_EQ(t.Get("d"), Json(5));           // read back within the txn
      EXPECT_EQ(t.Get("b"), Json({{"m", 4}, {"n", 3}}));
      EXPECT_EQ(t.Get("e"), Json("kept"));
      set(t, "f", 6);
      set(t, "f", nullptr);                     // new, then erased: never stored
      EXPECT_TRUE((*store)->Commit(t, Position(2), 1).ok());
    }
    const projections::Progress kept = (*store)->progress();
    EXPECT_EQ(*(*store)->Get("b"), Json({{"m", 4}, {"n", 3}}));
    EXPECT_FALSE((*store)->Get("c")->has_value());
    EXPECT_FALSE((*store)->Get("f")->has_value());
    store->reset();
    return kept;
  };
  const projections::Progress with_put = build(dir.Sub("put"), true);
  const projections::Progress with_mutable = build(dir.Sub("mutable"), false);
  EXPECT_EQ(with_put.entries, 4u);  // a, b, d, e
  EXPECT_EQ(with_put.entries, with_mutable.entries);
  EXPECT_EQ(with_put.digest, with_mutable.digest);
  const projections::Progress stored = SetHashOfStoredEntries(dir.Sub("put"), "fees");
  EXPECT_EQ(stored.entries, with_put.entries);
  EXPECT_EQ(stored.digest, with_put.digest);
}

TEST(StateTxnPut, ATxnFreesValuesOfAnyDepth) {
  // A txn empties its values bottom-up before freeing them, to a bounded depth; deeper
  // parts are left to nlohmann's own (iterative) destructor. 1,000 levels: far past that
  // bound, and within the stack of a sanitizer build (copies and encodings recurse).
  TempDir dir;
  auto store = projections::ProjectionStore::Open(dir.Sub("fees"), "fees");
  ASSERT_TRUE(store.ok());
  Json deep = 1;
  for (int i = 0; i < 1000; ++i) deep = (i % 2 == 0) ? Json::array({std::move(deep), i}) : Json{{"x", std::move(deep)}};
  {
    projections::StateTxn t(store->get());
    t.Put("deep", deep);
    t.Put("wide", Json{{"a", Json::array({Json::object({{"b", 1}}), "s"})}, {"c", Json::object()}});
    ASSERT_TRUE((*store)->Commit(t, Position(1), 0).ok());
  }  // freed here
  auto back = (*store)->Get("deep");
  ASSERT_TRUE(back.ok() && back->has_value());
  EXPECT_EQ(**back, deep);
}

TEST(StateTxnPut, AStateThatCannotBeReadFailsTheTxnAndChangesNothing) {
  // Reads of the store fail when a table's block no longer matches its checksum (a disk
  // that returned other bytes). Each read path must stop the batch with an error and
  // write nothing: a rule's read (StateTxn::Get and Mutable), Commit's batched read of the
  // keys Put set without reading, and the query path (ProjectionStore::Get).
  TempDir dir;
  const std::string path = dir.Sub("fees");
  const int kKeys = 2000;
  auto key_of = [](int i) {
    char k[16];
    std::snprintf(k, sizeof k, "k%05d", i);
    return std::string(k);
  };
  {
    auto store = projections::ProjectionStore::Open(path, "fees");
    ASSERT_TRUE(store.ok());
    projections::StateTxn t(store->get());
    uint64_t x = 88172645463325252ull;  // xorshift: values snappy cannot shrink
    for (int i = 0; i < kKeys; ++i) {
      std::string v;
      for (int j = 0; j < 24; ++j) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        v += ledger::ToHex(std::string_view(reinterpret_cast<const char*>(&x), 8)).substr(0, 8);
      }
      t.Put(key_of(i), v);
    }
    ASSERT_TRUE((*store)->Commit(t, Position(1), 0).ok());
  }
  // Reopened once, so the batch recovered from the write-ahead log is flushed to a table.
  ASSERT_TRUE(projections::ProjectionStore::Open(path, "fees").ok());
  std::string table;
  uintmax_t table_bytes = 0;
  for (const auto& f : std::filesystem::directory_iterator(path))
    if (f.path().extension() == ".sst" && f.file_size() > table_bytes) table = f.path(), table_bytes = f.file_size();
  ASSERT_GT(table_bytes, 200000u) << "the state's table";
  {
    // The first data blocks (the lowest keys); the index and filter at the end stay intact.
    std::fstream f(table, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(64);
    const std::string junk(512, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  auto store = projections::ProjectionStore::Open(path, "fees");
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const projections::Progress before = (*store)->progress();
  ASSERT_EQ(before.position, Position(1));
  const std::string bad = key_of(0), good = key_of(kKeys - 1);
  const auto good_value = (*store)->Get(good);
  ASSERT_TRUE(good_value.ok() && good_value->has_value()) << "a block past the damage still reads";

  EXPECT_FALSE((*store)->Get(bad).ok());
  {
    projections::StateTxn t(store->get());
    t.Mutable(good) = "changed";
    EXPECT_TRUE(t.Get(bad).is_null());
    EXPECT_FALSE(t.status().ok());
    EXPECT_FALSE((*store)->Commit(t, Position(2), 1).ok()) << "a txn that failed a read";
  }
  {
    projections::StateTxn t(store->get());
    t.Mutable(good) = "changed";
    t.Put(bad, "replaced");  // not read now: Commit's batched read meets the damage
    EXPECT_TRUE(t.status().ok());
    EXPECT_FALSE((*store)->Commit(t, Position(2), 1).ok()) << "the old bytes the digest needs are unreadable";
  }
  const projections::Progress after = (*store)->progress();
  EXPECT_EQ(after.position, before.position);
  EXPECT_EQ(after.entries, before.entries);
  EXPECT_EQ(after.digest, before.digest);
  EXPECT_EQ(*(*store)->Get(good), *good_value);
  EXPECT_FALSE((*store)->DigestAt(Position(2))->has_value());
}

TEST_F(ProjectionsTest, ThePositionWatchFollowsTheProjectorAndClosesWithIt) {
  const Position head = log.store->head().position;
  std::shared_ptr<projections::PositionWatch> watch;
  std::vector<std::pair<uint64_t, bool>> seen;
  {
    auto p = Project(*log.store, dir.Sub("proj"), Position(head.value() / 2));
    watch = p->position_watch();
    watch->When(Position(1), [&](bool r) { seen.emplace_back(1, r); });  // applied: at once
    ASSERT_EQ(seen.size(), 1u);
    EXPECT_TRUE(seen[0].second);
    watch->When(head, [&](bool r) { seen.emplace_back(head.value(), r); });
    watch->When(Position(head.value() + 1), [&](bool r) { seen.emplace_back(head.value() + 1, r); });
    ASSERT_TRUE(p->CatchUp(*log.store, Position(UINT64_MAX)).ok());
    ASSERT_EQ(seen.size(), 2u);
    EXPECT_EQ(seen[1], std::make_pair(head.value(), true));
  }  // destroyed: what is still waiting is told it was not reached
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[2], std::make_pair(head.value() + 1, false));
}

TEST_F(ProjectionsTest, ARestartedProjectorResumesAndDoesNotRebuild) {
  const Position head = log.store->head().position;
  const Position half(head.value() / 2);
  {
    auto first = Project(*log.store, dir.Sub("proj"), half);
    EXPECT_LE(first->position(), half);
  }
  ProjectorOptions o;
  o.dir = dir.Sub("proj");
  o.bound = SourceBound::kHead;
  auto again = Projector::Open(o);
  ASSERT_TRUE(again.ok());
  const Position resumed_at = (*again)->position();
  EXPECT_GT(resumed_at.value(), 0u);
  ASSERT_TRUE((*again)->CatchUp(*log.store, Position(UINT64_MAX)).ok());
  EXPECT_EQ((*again)->stats().events_applied, head.value() - resumed_at.value());  // not from position 1
  auto fresh = Project(*log.store, dir.Sub("fresh"));
  for (const std::string& name : projections::ReadModelNames())
    EXPECT_EQ(Model(**again, name.c_str()).progress().digest, Model(*fresh, name.c_str()).progress().digest) << name;
}

// DECISIONS 105: a read model whose rule now writes another layout (fees, 102: captures
// keyed by order and payment) is dropped and rebuilt from position 1 when a store of the
// older layout is opened, instead of mixing the two key layouts (a refund of a capture
// recorded under the old key would find nothing under the new one); the other read models
// resume where they were.
TEST_F(ProjectionsTest, AReadModelOfAnOlderLayoutIsRebuiltFromPositionOneAndTheOthersResume) {
  const Position head = log.store->head().position;
  const Position half(head.value() / 2);
  { auto first = Project(*log.store, dir.Sub("proj"), half); }
  {
    // As an older build left it: layout 1 (no layout record), and a key of the old layout.
    std::filesystem::remove_all(dir.Sub("proj") + "/fees");
    auto old = projections::ProjectionStore::Open(dir.Sub("proj") + "/fees", "fees", projections::StoreAccess::kWrite,
                                                  /*layout_version=*/1);
    ASSERT_TRUE(old.ok()) << old.status().ToString();
    projections::StateTxn txn(old->get());
    txn.Put("capture/m1/cap1", Json{{"gross_minor", 1}});
    ASSERT_TRUE((*old)->Commit(txn, half, -1).ok());
  }
  ProjectorOptions o;
  o.dir = dir.Sub("proj");
  o.bound = SourceBound::kHead;
  auto again = Projector::Open(o);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ((*again)->read_models_rebuilding(), std::vector<std::string>{"fees"});
  EXPECT_EQ(Model(**again, "fees").layout_version(), 2u);
  EXPECT_EQ(Model(**again, "fees").progress().position, Position(0)) << "the old store was not dropped";
  EXPECT_GT(Model(**again, "customers").progress().position.value(), 0u) << "the others start over too";
  ASSERT_TRUE((*again)->CatchUp(*log.store, Position(UINT64_MAX)).ok());
  auto old_key = Model(**again, "fees").Get("capture/m1/cap1");
  ASSERT_TRUE(old_key.ok());
  EXPECT_FALSE(old_key->has_value()) << "a key of the old layout is left";
  auto fresh = Project(*log.store, dir.Sub("fresh"));
  for (const std::string& name : projections::ReadModelNames())
    EXPECT_EQ(Model(**again, name.c_str()).progress().digest, Model(*fresh, name.c_str()).progress().digest) << name;
  // Opened again, the rebuilt store is of the current layout: nothing is dropped twice.
  again->reset();
  auto third = Projector::Open(o);
  ASSERT_TRUE(third.ok());
  EXPECT_TRUE((*third)->read_models_rebuilding().empty());
  EXPECT_EQ(Model(**third, "fees").progress().position, head);
}

TEST_F(ProjectionsTest, AModelAheadOfAnotherAfterACrashSkipsWhatItHolds) {
  const Position head = log.store->head().position;
  {
    // As if the projector died after committing fees but before the others.
    ProjectorOptions o;
    o.dir = dir.Sub("proj");
    o.bound = SourceBound::kHead;
    o.read_models = {"fees"};
    auto fees_only = Projector::Open(o);
    ASSERT_TRUE(fees_only.ok());
    ASSERT_TRUE((*fees_only)->CatchUp(*log.store, Position(head.value() - 5)).ok());
  }
  auto all = Project(*log.store, dir.Sub("proj"));
  auto fresh = Project(*log.store, dir.Sub("fresh"));
  for (const std::string& name : projections::ReadModelNames())
    EXPECT_EQ(Model(*all, name.c_str()).progress().digest, Model(*fresh, name.c_str()).progress().digest) << name;
}

TEST_F(ProjectionsTest, FollowsTheCanonicalMarkOnly) {
  // A node's own store: events beyond the canonical mark are not applied.
  ProjectorOptions o;
  o.dir = dir.Sub("proj");
  auto p = Projector::Open(o);
  ASSERT_TRUE(p.ok());
  (*p)->Follow(log.store.get());
  EXPECT_FALSE((*p)->WaitFor(Position(1), 50));  // the mark is still 0: nothing is canonical
  EXPECT_EQ((*p)->position(), Position(0));
  ASSERT_TRUE(log.store->StartNewKafkaIncarnation(Epoch(1), "node-1").ok());  // mark = head
  EXPECT_TRUE((*p)->WaitFor(log.store->head().position, 5000));
  EXPECT_TRUE((*p)->stats().stopped.ok());
}

TEST_F(ProjectionsTest, BadStoresAndNamesAreRefused) {
  // An event store's directory is not a read model; nor is another read model's.
  EXPECT_EQ(projections::ProjectionStore::Open(dir.Sub("store"), "fees").status().code(), Code::kNotALedgerStore);
  auto p = Project(*log.store, dir.Sub("proj"));
  p.reset();
  EXPECT_EQ(projections::ProjectionStore::Open(dir.Sub("proj") + "/fees", "status").status().code(),
            Code::kNotALedgerStore);
  ProjectorOptions o;
  o.dir = dir.Sub("other");
  o.read_models = {"fees", "gossip"};
  EXPECT_EQ(Projector::Open(o).status().code(), Code::kInvalidArgument);
  // A store whose progress record is damaged is not trusted.
  {
    RawProjectionStore raw(dir.Sub("proj") + "/fees", /*read_only=*/false);
    ASSERT_TRUE(raw.status.ok());
    ASSERT_TRUE(raw.db->Put(rocksdb::WriteOptions(), raw.handles[1], "progress", "bad").ok());
  }
  EXPECT_EQ(projections::ProjectionStore::Open(dir.Sub("proj") + "/fees", "fees").status().code(), Code::kCorruption);
}

TEST_F(ProjectionsTest, QueriesRefuseMalformedPeriods) {
  auto p = Project(*log.store, dir.Sub("proj"));
  const auto& fees = Model(*p, "fees");
  EXPECT_EQ(projections::QueryStatement(fees, "m1", "USD", "2026-11-26", "2026-11-25").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(projections::QueryStatement(fees, "m1", "USD", "26/11/2026", "2026-11-26").status().code(),
            Code::kInvalidArgument);
  EXPECT_EQ(projections::QueryFeesByDay(fees, "", "2026-11-2x", "2026-11-26").status().code(), Code::kInvalidArgument);
}

TEST(PositionToken, RoundTripsAndRefusesMalformedTokens) {
  EXPECT_EQ(PositionToken(ShardId(3), Position(42)), "3:42");
  auto t = ParsePositionToken("3:42");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(t->shard, ShardId(3));
  EXPECT_EQ(t->position, Position(42));
  for (const char* bad : {"", "42", ":42", "3:", "3:4x", "-1:2", "3:-2", " 3:4", "3:4 ", "4294967296:1",
                          "0:18446744073709551616", "0:1:2", "+1:2"})
    EXPECT_EQ(ParsePositionToken(bad).status().code(), Code::kInvalidArgument) << bad;
}

}  // namespace

namespace {
TEST(ProjectionTotals, ASumPastInt64IsFlaggedNotWrappedNorACrash) {
  Json j = Json::object();
  projections::AddTo(j, "USD", INT64_MAX - 1);
  projections::AddTo(j, "USD", 5);
  EXPECT_EQ(j["USD"], INT64_MAX);
  EXPECT_EQ(j["overflowed"], true);
  Json k = Json::object();
  projections::AddTo(k, "USD", INT64_MIN + 1);
  projections::AddTo(k, "USD", -5);
  EXPECT_EQ(k["USD"], INT64_MIN);
  // A total read back from a stored value (unsigned when positive) adds the same way.
  Json stored = Json::object();
  stored["USD"] = uint64_t{7};
  projections::AddTo(stored, "USD", -10);
  EXPECT_EQ(stored["USD"], -3);
  projections::AddTo(stored, "EUR", 4);
  EXPECT_EQ(stored, Json({{"USD", -3}, {"EUR", 4}}));
}

// Capture ids are unique per payment only (ledger/domain/state.h, capture_payments): here
// two payments of one order and a payment of another order each hold a capture "X". The
// fees view kept one record per merchant and capture id, so the second capture replaced
// the first and a refund of p1's X changed p2's record (found by a black-box probe). Each
// keeps its own record through a refund and a lost dispute, the dispute's record names its
// order and payment, and each order's breakdown lists its own captures.
TEST(FeesView, CapturesSharingAnIdOnOtherPaymentsKeepTheirOwnRecords) {
  TempDir dir;
  testing_support::TickingClock clock;
  auto store = OpenClockedStore(dir.Sub("store"), &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  {
    testing_support::DomainHarness h(store->get());
    const std::vector<domain::Command> commands = {
        domain::ConfigureMerchant{"USD", "", "", "", "", ""},
        domain::OpenStore{"s1", "Shoes", Channel::kWeb},
        domain::PublishListing{"s1", "sku-1", "Red Shoe", 5000, "USD", 100},
        domain::RegisterCustomer{"c1", "s1"},
        domain::PlaceOrder{"o1", "s1", "c1", "USD", {{"sku-1", 2, 5000}}, 0, 0},
        domain::AuthorizePayment{"p1", "o1", 4000, "USD", "card", "stripe"},
        domain::AuthorizePayment{"p2", "o1", 6000, "USD", "card", "stripe"},
        domain::CapturePayment{"p1", "X", 1000, ""},
        domain::CapturePayment{"p2", "X", 5000, ""},
        domain::PlaceOrder{"o2", "s1", "c1", "USD", {{"sku-1", 1, 5000}}, 0, 0},
        domain::AuthorizePayment{"p3", "o2", 5000, "USD", "card", "stripe"},
        domain::CapturePayment{"p3", "X", 5000, ""},
        domain::RefundPayment{"p1", "r1", "X", 100},
        domain::OpenDispute{"d1", "p2", "X", 2000, "fraudulent", 0},
        domain::ResolveDispute{"d1", domain::DisputeOutcomeInput::kLost},
    };
    for (const domain::Command& c : commands) {
      auto r = h.Run("m1", c);
      ASSERT_TRUE(r.ok()) << r.status().ToString();
    }
  }
  auto p = Project(**store, dir.Sub("proj"));
  const auto& fees = Model(*p, "fees");
  auto p1 = projections::QueryCaptureFees(fees, "m1", "o1", "p1", "X");
  auto p2 = projections::QueryCaptureFees(fees, "m1", "o1", "p2", "X");
  auto p3 = projections::QueryCaptureFees(fees, "m1", "o2", "p3", "X");
  ASSERT_TRUE(p1.ok() && p2.ok() && p3.ok());
  // p1's X: 1000 captured, 100 refunded with its fees' share reversed.
  EXPECT_EQ((*p1)["payment_id"], "p1");
  EXPECT_EQ((*p1)["gross_minor"], 1000);
  EXPECT_EQ((*p1)["refunded_minor"], 100);
  const int64_t p1_reversed = (*p1)["contributors"]["processing"]["reversed_minor"].get<int64_t>() +
                              (*p1)["contributors"]["platform"]["reversed_minor"].get<int64_t>();
  EXPECT_GT(p1_reversed, 0);
  EXPECT_EQ((*p1)["merchant_net_minor"].get<int64_t>(),
            (*p1)["merchant_net_at_capture_minor"].get<int64_t>() - 100 + p1_reversed);
  EXPECT_FALSE((*p1)["contributors"].contains("dispute"));
  // p2's X: 5000 captured, nothing refunded, 2000 lost to the dispute and its 1500 fee.
  EXPECT_EQ((*p2)["payment_id"], "p2");
  EXPECT_EQ((*p2)["gross_minor"], 5000);
  EXPECT_EQ((*p2)["refunded_minor"], 0);
  EXPECT_EQ((*p2)["contributors"]["processing"]["reversed_minor"], 0);
  EXPECT_EQ((*p2)["contributors"]["dispute"]["charged_minor"], 1500);
  EXPECT_EQ((*p2)["merchant_net_minor"].get<int64_t>(),
            (*p2)["merchant_net_at_capture_minor"].get<int64_t>() - 2000 - 1500);
  // p3's X, on the other order: untouched by either.
  EXPECT_EQ((*p3)["order_id"], "o2");
  EXPECT_EQ((*p3)["refunded_minor"], 0);
  EXPECT_EQ((*p3)["merchant_net_minor"], (*p3)["merchant_net_at_capture_minor"]);
  auto dispute = fees.Get("dispute/m1/d1");
  ASSERT_TRUE(dispute.ok() && dispute->has_value());
  EXPECT_EQ(**dispute, Json({{"capture_id", "X"}, {"currency", "USD"}, {"order_id", "o1"}, {"payment_id", "p2"}}));
  auto old_key = fees.Get("capture/m1/X");
  ASSERT_TRUE(old_key.ok());
  EXPECT_FALSE(old_key->has_value()) << "a capture under the key of before DECISIONS 102";

  auto o1 = projections::QueryOrderFees(fees, "m1", "o1");
  ASSERT_TRUE(o1.ok());
  ASSERT_EQ((*o1)["captures"].size(), 2u);
  EXPECT_EQ((*o1)["captures"][0], *p1);  // by payment, then capture id
  EXPECT_EQ((*o1)["captures"][1], *p2);
  const Json& usd = (*o1)["totals"]["USD"];
  EXPECT_EQ(usd["captures"], 2);
  EXPECT_EQ(usd["gross_minor"], 6000);
  EXPECT_EQ(usd["refunded_minor"], 100);
  EXPECT_EQ(usd["contributors"]["processing"]["charged_minor"].get<int64_t>(),
            (*p1)["contributors"]["processing"]["charged_minor"].get<int64_t>() +
                (*p2)["contributors"]["processing"]["charged_minor"].get<int64_t>());
  EXPECT_EQ(usd["contributors"]["dispute"]["charged_minor"], 1500);
  EXPECT_EQ(usd["merchant_net_minor"].get<int64_t>(),
            (*p1)["merchant_net_minor"].get<int64_t>() + (*p2)["merchant_net_minor"].get<int64_t>());
  auto o2 = projections::QueryOrderFees(fees, "m1", "o2");
  ASSERT_TRUE(o2.ok());
  ASSERT_EQ((*o2)["captures"].size(), 1u);
  EXPECT_EQ((*o2)["captures"][0], *p3);
}

// DECISIONS 109: an update sealed only the fields it was given and the view replaced the
// whole profile with them, so a partial update lost every other field and an update that
// named none emptied the profile. The view now keeps each field's own sealed reference (the
// event that last set it); an update changes only what it names, null removes, an erasure
// still takes everything, and a rebuild reaches the same state.
TEST(CustomerView, AnUpdateChangesOnlyThePersonalFieldsItNamesAndAnErasureTakesThemAll) {
  TempDir dir;
  testing_support::TickingClock clock;
  auto store = OpenClockedStore(dir.Sub("store"), &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  SecretKey key{};
  key[0] = 7;
  domain::PersonalInput all;
  all.key_id = 77;
  all.data_key = key;
  all.name = "Ada Lovelace";
  all.email = "ada@example.com";
  all.phone = "+44 20 7946 0000";
  all.city = "London";
  all.country = "GB";
  domain::PersonalInput email = all;
  email.name = email.phone = email.city = email.country = "";
  email.email = "new@example.com";
  testing_support::DomainHarness h(store->get());
  // The position of the command's first event (0 when refused or when it wrote nothing).
  auto run = [&](const domain::Command& c) -> uint64_t {
    auto r = h.Run("m1", c);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() && !r->events.empty() ? VerifyRecord(r->events.front().record)->position() : 0;
  };
  run(domain::ConfigureMerchant{"USD", "", "", "", "", ""});
  run(domain::OpenStore{"s1", "Shoes", Channel::kWeb});
  const uint64_t registered = run(domain::RegisterCustomer{"c1", "s1", all});
  const uint64_t changed = run(domain::RegisterCustomer{"c1", "s1", email});
  run(domain::RegisterCustomer{"c1", "s1"});  // the README's form: names no personal field
  ASSERT_GT(registered, 0u);
  ASSERT_GT(changed, registered);
  auto live = Project(**store, dir.Sub("live"));
  auto profile = [&]() {
    auto c = Model(*live, "customers").Get("customer/m1/c1");
    EXPECT_TRUE(c.ok() && c->has_value());
    return c.ok() && c->has_value() ? (**c)["profile"] : Json();
  };
  auto sealed_at = [](uint64_t position) { return Json{{"key_id", 77}, {"position", position}, {"sealed", true}}; };
  EXPECT_EQ(profile(), Json({{"address", sealed_at(registered)},
                             {"email", sealed_at(changed)},
                             {"name", sealed_at(registered)},
                             {"phone", sealed_at(registered)}}))
      << profile().dump();
  // Phone and address removed (null over HTTP); name and email cannot be.
  run(domain::RegisterCustomer{"c1", "s1", std::nullopt,
                               static_cast<uint8_t>(static_cast<uint8_t>(schema::PersonalField::Phone) |
                                                    static_cast<uint8_t>(schema::PersonalField::Address))});
  auto refused = h.Run("m1", domain::RegisterCustomer{"c1", "s1", std::nullopt,
                                                      static_cast<uint8_t>(schema::PersonalField::Name)});
  EXPECT_EQ(refused.status().code(), Code::kInvalidArgument);
  ASSERT_TRUE(live->CatchUp(**store, Position(UINT64_MAX)).ok());
  EXPECT_EQ(profile(), Json({{"email", sealed_at(changed)}, {"name", sealed_at(registered)}})) << profile().dump();
  // The erasure takes every field, and later updates bring nothing back.
  run(domain::EraseCustomer{"c1", 77});
  run(domain::RegisterCustomer{"c1", "s1"});
  ASSERT_TRUE(live->CatchUp(**store, Position(UINT64_MAX)).ok());
  EXPECT_EQ(profile(), Json({{"erased", true}}));
  // Rebuilt from position 1: the same state.
  auto fresh = Project(**store, dir.Sub("fresh"));
  EXPECT_EQ(Dump(Model(*fresh, "customers")), Dump(Model(*live, "customers")));
  EXPECT_EQ(Model(*fresh, "customers").progress().digest, Model(*live, "customers").progress().digest);
  EXPECT_EQ(Model(*live, "customers").layout_version(), 3u) << "the profile's layout changed (DECISIONS 105, 109)";
}

// The rule itself, on records written as other builds wrote them: plain fields (key id 0)
// merge as sealed ones do; an update from before CustomerUpdated named its fields keeps its
// recorded meaning when it brought personal bytes (the whole profile replaced), and one
// that brought none (the README tour's re-registration, which emptied the profile) keeps
// everything (DECISIONS 109).
TEST(CustomerView, UpdatesFromBeforeTheyNamedTheirFieldsAndPlainFieldsMergeAsRecorded) {
  TempDir dir;
  auto store = projections::ProjectionStore::Open(dir.Sub("customers"), "customers", projections::StoreAccess::kWrite, 2);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  const std::unique_ptr<projections::Projection> view = projections::MakeCustomerView();
  const auto plain = [](const char* name, const char* email, const char* phone) {
    flatbuffers::FlatBufferBuilder b;
    b.Finish(schema::CreatePersonalDataDirect(b, name, email, phone));
    return std::string(reinterpret_cast<const char*>(b.GetBufferPointer()), b.GetSize());
  };
  const auto record = [](uint64_t position, schema::EventBody type, std::string personal, auto body) {
    EnvelopeFields f;
    f.stream = "customer/m1/c1";
    f.tenant = "m1";
    f.event_id = {9, position};
    f.personal = std::move(personal);
    std::string r = EncodeRecord(f, type, body);
    PatchAssigned(&r, {Position(position), StreamVersion(position), 1'764'000'000'000'000 + int64_t(position),
                       Position(position), Epoch(1)});
    return r;
  };
  const auto updated = [](uint8_t kept, uint8_t removed) {
    return [kept, removed](flatbuffers::FlatBufferBuilder& b) {
      return schema::CreateCustomerUpdatedDirect(b, "c1", kept, removed).Union();
    };
  };
  projections::StateTxn txn(store->get());
  const auto apply = [&](const std::string& r) {
    const schema::Event* e = VerifyRecord(r);
    ASSERT_NE(e, nullptr);
    ASSERT_TRUE(view->Apply(*e, txn).ok());
  };
  const auto profile = [&]() {
    const projections::Record* p = txn.GetRecord("customer/m1/c1").Find("profile");
    return p != nullptr ? p->ToJson() : Json();
  };
  apply(record(1, schema::EventBody::CustomerRegistered, plain("Ada", "ada@example.com", "+44 1"),
               [](flatbuffers::FlatBufferBuilder& b) {
                 return schema::CreateCustomerRegisteredDirect(b, "c1", "", schema::Channel::Web).Union();
               }));
  const Json registered = {{"email", "ada@example.com"}, {"name", "Ada"}, {"phone", "+44 1"}};
  EXPECT_EQ(profile(), registered);
  apply(record(2, schema::EventBody::CustomerUpdated, "", updated(0, 0)));  // before v2, naming nothing
  EXPECT_EQ(profile(), registered) << "an update that named no field keeps them all";
  const uint8_t name_address =
      static_cast<uint8_t>(schema::PersonalField::Name) | static_cast<uint8_t>(schema::PersonalField::Address);
  apply(record(3, schema::EventBody::CustomerUpdated, plain(nullptr, "new@example.com", nullptr),
               updated(name_address, static_cast<uint8_t>(schema::PersonalField::Phone))));
  EXPECT_EQ(profile(), Json({{"email", "new@example.com"}, {"name", "Ada"}}));
  apply(record(4, schema::EventBody::CustomerUpdated, plain("Bob", nullptr, nullptr), updated(0, 0)));
  EXPECT_EQ(profile(), Json({{"name", "Bob"}})) << "before v2, personal bytes replaced the whole profile";
}

// Balances and statements read sums the fees view keeps at the int64 bound with
// "overflowed" set (DECISIONS 49). QueryBalances dropped the flag, so a saturated balance
// read as exact, and QueryStatement summed days with unchecked int64 arithmetic (undefined
// behaviour; observed wrapping to wrong closings). Both now stay within int64 and say so.
// The store is written directly: no short story reaches the bound.
TEST(FeesQueries, BalancesAndStatementsSayWhenTheyOverflowedAndNeverWrap) {
  TempDir dir;
  const int64_t max = INT64_MAX, min = INT64_MIN;
  const std::string st = "statement/m1/USD/merchant:m1:";
  ASSERT_TRUE(testing_support::WriteProjectionCommit(
                  dir.Sub("proj"), "fees", 1,
                  {{"balance/merchant:m1:available/EUR", {{"balance_minor", -7}}},
                   {"balance/merchant:m1:available/USD", {{"balance_minor", max}, {"overflowed", true}}},
                   {"balance/merchant:m1:reserve/USD", {{"balance_minor", 5}}},
                   {"balance/merchant:m2:available/USD", {{"balance_minor", min}, {"overflowed", true}}},
                   {st + "available/2026-11-25", {{"credits_minor", max}, {"postings", 1}}},
                   {st + "available/2026-11-26", {{"credits_minor", max}, {"postings", 1}}},
                   {st + "fees/2026-11-26", {{"credits_minor", 1}, {"overflowed", true}, {"postings", 1}}},
                   {st + "held/2026-11-26", {{"debits_minor", max}, {"postings", 1}}},
                   {st + "held/2026-11-27", {{"debits_minor", max}, {"postings", 1}}},
                   {st + "later/2026-12-01", {{"credits_minor", 1}, {"overflowed", true}, {"postings", 1}}},
                   {st + "reserve/2026-11-26", {{"credits_minor", 10}, {"debits_minor", 5}, {"postings", 2}}}})
                  .ok());
  auto fees = projections::ProjectionStore::Open(dir.Sub("proj") + "/fees", "fees", projections::StoreAccess::kReadOnly);
  ASSERT_TRUE(fees.ok()) << fees.status().ToString();

  auto balances = projections::QueryBalances(**fees, "m1");
  ASSERT_TRUE(balances.ok());
  EXPECT_EQ((*balances)["balances"],
            Json({{"merchant:m1:available", {{"EUR", -7}, {"USD", max}}}, {"merchant:m1:reserve", {{"USD", 5}}}}));
  EXPECT_EQ((*balances)["overflowed"], Json::array({{{"account", "merchant:m1:available"}, {"currency", "USD"}}}));
  auto none = projections::QueryBalances(**fees, "m3");
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(*none, Json({{"balances", Json::object()}, {"overflowed", Json::array()}}));

  // The period 11-26..11-27: available opens at the bound (exact) and closes past it;
  // held's debits pass it; fees says its own sum did; reserve is exact; later has only a
  // day after the period, whose flag does not count.
  auto period = projections::QueryStatement(**fees, "m1", "USD", "2026-11-26", "2026-11-27");
  ASSERT_TRUE(period.ok()) << period.status().ToString();
  const Json& a = (*period)["accounts"];
  EXPECT_EQ(a["merchant:m1:available"]["opening_minor"], max);
  EXPECT_EQ(a["merchant:m1:available"]["credits_minor"], max);
  EXPECT_EQ(a["merchant:m1:available"]["closing_minor"], max) << "a closing past int64 stays at the bound";
  EXPECT_EQ(a["merchant:m1:available"]["overflowed"], true);
  EXPECT_EQ(a["merchant:m1:held"]["debits_minor"], max);
  EXPECT_EQ(a["merchant:m1:held"]["closing_minor"], -max);
  EXPECT_EQ(a["merchant:m1:held"]["postings"], 2);
  EXPECT_EQ(a["merchant:m1:held"]["overflowed"], true);
  EXPECT_EQ(a["merchant:m1:fees"]["closing_minor"], 1);
  EXPECT_EQ(a["merchant:m1:fees"]["overflowed"], true);
  EXPECT_EQ(a["merchant:m1:reserve"], Json({{"opening_minor", 0}, {"credits_minor", 10}, {"debits_minor", 5}, {"postings", 2},
                                {"closing_minor", 5}}));
  EXPECT_EQ(a["merchant:m1:later"], Json({{"opening_minor", 0}, {"credits_minor", 0}, {"debits_minor", 0}, {"postings", 0},
                              {"closing_minor", 0}}));
  // After them all: the openings themselves pass the bound, each way, and stay there.
  auto after = projections::QueryStatement(**fees, "m1", "USD", "2026-11-28", "2026-11-30");
  ASSERT_TRUE(after.ok());
  const Json& b = (*after)["accounts"];
  EXPECT_EQ(b["merchant:m1:available"]["opening_minor"], max);
  EXPECT_EQ(b["merchant:m1:available"]["closing_minor"], max);
  EXPECT_EQ(b["merchant:m1:available"]["overflowed"], true);
  EXPECT_EQ(b["merchant:m1:held"]["opening_minor"], min);
  EXPECT_EQ(b["merchant:m1:held"]["closing_minor"], min);
  EXPECT_EQ(b["merchant:m1:held"]["overflowed"], true);
  EXPECT_EQ(b["merchant:m1:reserve"]["closing_minor"], 5);
  EXPECT_FALSE(b["merchant:m1:reserve"].contains("overflowed"));
  EXPECT_FALSE(b["merchant:m1:later"].contains("overflowed"));
}

// An order's fee totals are summed within int64 too: a currency whose sum passed the bound,
// or one of whose capture records (or their contributors) says it did, is marked.
TEST(FeesQueries, AnOrdersFeeTotalsSayWhenTheyOverflowedAndNeverWrap) {
  TempDir dir;
  const int64_t max = INT64_MAX;
  const Json processing_max = {{"processing", {{"charged_minor", max}, {"kind", "fee"}, {"reversed_minor", 0}}}};
  const Json processing_one = {{"processing", {{"charged_minor", 1}, {"kind", "fee"}, {"reversed_minor", 0}}}};
  const Json platform_flagged = {
      {"platform", {{"charged_minor", 1}, {"kind", "fee"}, {"overflowed", true}, {"reversed_minor", 0}}}};
  ASSERT_TRUE(testing_support::WriteProjectionCommit(
                  dir.Sub("proj"), "fees", 1,
                  {{"capture/m1/o1/p1/c1", {{"contributors", processing_max}, {"currency", "USD"}, {"gross_minor", max}}},
                   {"capture/m1/o1/p2/c1", {{"contributors", processing_one}, {"currency", "USD"}, {"gross_minor", 1}}},
                   {"capture/m1/o1/p3/c9", {{"contributors", Json::object()}, {"currency", "EUR"}, {"gross_minor", 3}}},
                   {"capture/m1/o1/p4/c1", {{"contributors", platform_flagged}, {"currency", "GBP"}, {"gross_minor", 2}}},
                   {"capture/m1/o10/p1/c1", {{"contributors", Json::object()}, {"currency", "USD"}, {"gross_minor", 100}}}})
                  .ok());
  auto fees = projections::ProjectionStore::Open(dir.Sub("proj") + "/fees", "fees", projections::StoreAccess::kReadOnly);
  ASSERT_TRUE(fees.ok()) << fees.status().ToString();
  auto o1 = projections::QueryOrderFees(**fees, "m1", "o1");
  ASSERT_TRUE(o1.ok()) << o1.status().ToString();
  EXPECT_EQ((*o1)["captures"].size(), 4u) << "o10's capture is another order's";
  const Json& t = (*o1)["totals"];
  EXPECT_EQ(t["USD"]["captures"], 2);
  EXPECT_EQ(t["USD"]["gross_minor"], max);
  EXPECT_EQ(t["USD"]["contributors"]["processing"]["charged_minor"], max);
  EXPECT_EQ(t["USD"]["overflowed"], true);
  EXPECT_EQ(t["EUR"]["gross_minor"], 3);
  EXPECT_FALSE(t["EUR"].contains("overflowed"));
  EXPECT_EQ(t["GBP"]["contributors"]["platform"]["charged_minor"], 1);
  EXPECT_EQ(t["GBP"]["overflowed"], true) << "a contributor's own flag";
}

TEST(UtcDay, NamesTheCalendarDayAlsoWhenDaysAlternate) {
  const int64_t day_us = 86'400'000'000LL;
  const int64_t nov27 = 1'795'737'600'000'000LL;  // 2026-11-27T00:00:00Z
  // Alternating days, so a remembered last day must never be handed out for another.
  for (int round = 0; round < 2; ++round) {
    EXPECT_EQ(projections::UtcDay(0), "1970-01-01");
    EXPECT_EQ(projections::UtcDay(-1), "1969-12-31");
    EXPECT_EQ(projections::UtcDay(nov27 - 1), "2026-11-26");
    EXPECT_EQ(projections::UtcDay(nov27), "2026-11-27");
    EXPECT_EQ(projections::UtcDay(nov27 + day_us - 1), "2026-11-27");
    EXPECT_EQ(projections::UtcDay(951'782'400'000'000LL), "2000-02-29");
  }
}

// DECISIONS 107 (found by black-box probes): a PayPal capture in JPY on a USD payment was
// summed into the payment's captured figure (GET /v1/payments/p1: 5000 USD + 5000 JPY shown
// as 10000), a PayPal refund in EUR into its refunded one, and an order never read paid.
// A payment's figures are in its currency, facts in another listed with their own and
// summed apart under other_currencies; the order reads paid once its captures in its
// currency reach its total, and stays paid through a refund.
TEST(CustomerView, FactsInAnotherCurrencyStayInItAndOrdersReadPaid) {
  TempDir dir;
  testing_support::TickingClock clock;
  auto store = OpenClockedStore(dir.Sub("store"), &clock);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  Position yen_recorded;
  {
    testing_support::DomainHarness h(store->get());
    const std::vector<domain::Command> commands = {
        domain::ConfigureMerchant{"USD", "", "", "", "", ""},
        domain::OpenStore{"s1", "Shoes", Channel::kWeb},
        domain::PublishListing{"s1", "sku-1", "Red Shoe", 5000, "USD", 100},
        domain::RegisterCustomer{"c1", "s1"},
        domain::PlaceOrder{"o1", "s1", "c1", "USD", {{"sku-1", 2, 5000}}, 0, 0},  // total 10000
        domain::AuthorizePayment{"p1", "o1", 10000, "USD", "card", "paypal"},
        domain::CapturePayment{"p1", "cap1", 5000, ""},
        domain::RecordProviderCapture{"p1", "PP-JPY", 5000, "JPY", "PP-JPY"},
        domain::CapturePayment{"p1", "cap2", 5000, ""},
        domain::RecordProviderRefund{"p1", "PP-R-EUR", "cap1", 3000, "EUR", "PP-R-EUR"},
        domain::RefundPayment{"p1", "r1", "cap1", 1000},
    };
    for (size_t i = 0; i < commands.size(); ++i) {
      auto r = h.Run("m1", commands[i]);
      ASSERT_TRUE(r.ok()) << i << ": " << r.status().ToString();
      if (i == 7) yen_recorded = Position(VerifyRecord(r->events.back().record)->position());
    }
  }
  const auto order = [](const Projector& p) {
    auto o = Model(p, "customers").Get("order/m1/o1");
    EXPECT_TRUE(o.ok() && o->has_value());
    return o.ok() && o->has_value() ? **o : Json();
  };

  // After the yen capture: 5000 USD captured of 10000, the yen apart; not paid.
  auto mid = Project(**store, dir.Sub("mid"), yen_recorded);
  const Json before = order(*mid);
  EXPECT_EQ(before["status"], "placed");
  EXPECT_FALSE(before.contains("paid_at_us"));
  const Json& p_before = before["payments"]["p1"];
  EXPECT_EQ(p_before["currency"], "USD");
  EXPECT_EQ(p_before["captured_minor"], 5000);
  EXPECT_EQ(p_before["other_currencies"], Json({{"JPY", {{"captured_minor", 5000}}}}));

  // At the end: paid by the second dollar capture, and still paid after the refunds.
  auto p = Project(**store, dir.Sub("proj"));
  const Json o1 = order(*p);
  EXPECT_EQ(o1["status"], "paid");
  EXPECT_TRUE(o1.contains("paid_at_us"));
  const Json& p1 = o1["payments"]["p1"];
  EXPECT_EQ(p1["currency"], "USD");
  EXPECT_EQ(p1["status"], "captured");
  EXPECT_EQ(p1["captured_minor"], 10000);
  EXPECT_EQ(p1["refunded_minor"], 1000);
  EXPECT_EQ(p1["other_currencies"], Json({{"EUR", {{"refunded_minor", 3000}}}, {"JPY", {{"captured_minor", 5000}}}}));
  // Every fact is listed with its own amount and currency, the provider's with its note.
  ASSERT_EQ(o1["captures"].size(), 3u);
  const Json& yen = o1["captures"][1];
  EXPECT_EQ(yen["capture_id"], "PP-JPY");
  EXPECT_EQ(yen["amount"], Json({{"amount_minor", 5000}, {"currency", "JPY"}}));
  EXPECT_NE(yen["anomaly"].get<std::string>().find("currency-mismatch"), std::string::npos);
  ASSERT_EQ(o1["refunds"].size(), 2u);
  EXPECT_EQ(o1["refunds"][0]["amount"], Json({{"amount_minor", 3000}, {"currency", "EUR"}}));
  // Lifetime value is per currency, as it was: nothing summed across currencies.
  auto c1 = projections::QueryCustomer(Model(*p, "customers"), "m1", "c1");
  ASSERT_TRUE(c1.ok()) << c1.status().ToString();
  EXPECT_EQ((*c1)["lifetime_value_minor"], Json({{"EUR", -3000}, {"JPY", 5000}, {"USD", 9000}}));
  // So is the store's revenue.
  auto s1 = projections::QueryStore(Model(*p, "storefront"), "m1", "s1");
  ASSERT_TRUE(s1.ok()) << s1.status().ToString();
  EXPECT_EQ((*s1)["net_captured_minor"], Json({{"EUR", -3000}, {"JPY", 5000}, {"USD", 9000}}));
}

}  // namespace
