// Hot standby and failover (DESIGN §8) with real processes: a dev broker, a writer and one
// or two standbys. A load generator records every acknowledged write (its idempotency key,
// node and position) and checks each on the new writer afterwards: nothing acknowledged is
// lost, nothing is accepted twice (the same key answers the same position on the new
// writer). RTO = last acknowledgement from the old writer to the first from the new one.
//
// LEDGER_FAILOVER_RUNS=N repeats the kill test N times and prints RTO p50 and max.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/support/http_sink.h"
#include "tests/support/process.h"
#include "tests/support/temp_dir.h"

using namespace testing_support;
using Json = nlohmann::json;

namespace {

using Headers = std::vector<std::pair<std::string, std::string>>;
using SteadyClock = std::chrono::steady_clock;

Headers Bearer(const std::string& key) { return {{"Authorization", "Bearer " + key}}; }

// prefix + i, by append (GCC 12's -Wrestrict misfires on "literal" + std::to_string).
std::string Id(const char* prefix, int i) {
  std::string s(prefix);
  s.append(std::to_string(i));
  return s;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(SteadyClock::now().time_since_epoch()).count();
}

bool Eventually(const std::function<bool()>& check, int timeout_ms) {
  const auto until = SteadyClock::now() + std::chrono::milliseconds(timeout_ms);
  while (SteadyClock::now() < until) {
    if (check()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return check();
}

struct Node {
  Node(const TempDir& dir, std::string node_name)
      : name(std::move(node_name)), data(dir.Sub(name)), port(FreeLoopbackPort()), dir_(dir) {}
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port); }
  std::string log() const { return dir_.Sub(name + "-" + std::to_string(starts) + ".log"); }
  void Start(const std::string& bootstrap, const std::vector<std::string>& extra) {
    ++starts;
    std::vector<std::string> args{"--data", data, "--http", "127.0.0.1:" + std::to_string(port), "--kafka", bootstrap,
                                  "--node-id", name};
    args.insert(args.end(), extra.begin(), extra.end());
    if (run_as_uid < 0) {
      process = std::make_unique<ChildProcess>(LEDGERD_PATH, args, log());
      return;
    }
    // As another user (setpriv execs ledgerd in place: the pid stays the node's), so that
    // firewall rules can single out this node's connections.
    const std::string id = std::to_string(run_as_uid);
    std::vector<std::string> wrapped{"--reuid=" + id, "--regid=" + id, "--clear-groups", LEDGERD_PATH};
    wrapped.insert(wrapped.end(), args.begin(), args.end());
    process = std::make_unique<ChildProcess>(SETPRIV_PATH, wrapped, log());
  }
  bool Ready(int timeout_ms = 20000) const { return WaitForStatus(port, "/health/ready", 200, timeout_ms); }
  bool Writing() const { return HttpGet(port, "/health/writer", 500).status == 200; }
  // A line of /metrics, e.g. "ledger_promotions_total 1".
  std::string Metric(const std::string& name) const {
    const std::string text = HttpGet(port, "/metrics").body;
    const size_t at = text.find("\n" + name + " ");
    return at == std::string::npos ? "" : text.substr(at + 1, text.find('\n', at + 1) - at - 1);
  }
  std::string name, data;
  int port;
  int starts = 0;
  int run_as_uid = -1;  // -1: as the test runs
  std::unique_ptr<ChildProcess> process;

 private:
  const TempDir& dir_;
};

// Writes customers <prefix>c<i> with Idempotency-Key <prefix>load-<i> to whichever node
// takes them, one at a time.
class Load {
 public:
  struct Ack {
    int i;
    std::string prefix;
    std::string node;
    std::string position;
    int64_t at_ms;
  };
  Load(std::vector<const Node*> nodes, std::string key, std::string prefix = "")
      : nodes_(std::move(nodes)), key_(std::move(key)), prefix_(std::move(prefix)) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Load() { Stop(); }
  void Stop() {
    stop_ = true;
    if (thread_.joinable()) thread_.join();
  }
  std::vector<Ack> acks() const {
    std::lock_guard<std::mutex> lock(mu_);
    return acks_;
  }
  size_t AcksFrom(const std::string& node) const {
    std::lock_guard<std::mutex> lock(mu_);
    return std::count_if(acks_.begin(), acks_.end(), [&](const Ack& a) { return a.node == node; });
  }

 private:
  void Run() {
    size_t target = 0;
    for (int i = 0; !stop_.load();) {
      const Node& n = *nodes_[target];
      Headers h = Bearer(key_);
      h.emplace_back("Idempotency-Key", prefix_ + Id("load-", i));
      HttpReply r =
          HttpCall(n.port, "POST", "/v1/customers", h, Json{{"customer_id", prefix_ + Id("c", i)}}.dump(), 3000);
      if (r.status == 201 || r.status == 200) {
        std::lock_guard<std::mutex> lock(mu_);
        acks_.push_back({i, prefix_, n.name, HeaderValue(r, "X-Ledger-Position"), NowMs()});
        ++i;
        continue;
      }
      // 503 (not the writer, or no answer in time), refused, reset: try the next node.
      target = (target + 1) % nodes_.size();
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  }
  std::vector<const Node*> nodes_;
  std::string key_;
  std::string prefix_;
  std::atomic<bool> stop_{false};
  mutable std::mutex mu_;
  std::vector<Ack> acks_;
  std::thread thread_;
};

std::string Digest(const std::string& data, const std::string& at) {
  return RunCommand(std::string(LEDGER_REPLAY_PATH) + " digest --store " + data + " --at " + at + " 2>&1").out;
}

std::string WriteSecretsKey(const TempDir& dir) {
  const std::string path = dir.Sub("secrets.key");
  std::ofstream(path) << std::string(64, 'd') << "\n";
  chmod(path.c_str(), 0600);
  return path;
}

// The shard's set-up on the first writer: a merchant key and its configuration.
std::string SetUpMerchant(const Node& writer) {
  const std::string admin = ReadAdminKey(writer.data);
  const std::string key = Json::parse(HttpCall(writer.port, "POST", "/v1/keys", Bearer(admin),
                                               R"({"role":"merchant","merchant_id":"m1"})")
                                          .body)["key"];
  EXPECT_EQ(HttpCall(writer.port, "PUT", "/v1/merchant", Bearer(key), R"({"settlement_currency":"USD"})").status, 200);
  return key;
}

// Every acknowledged write is on `writer`, at the position it was acknowledged with: the
// same Idempotency-Key answers the first result (200, same position), never a second write.
void CheckAcks(const std::vector<Load::Ack>& acks, const Node& writer, const std::string& key, size_t* lost,
               size_t* accepted_twice) {
  for (const auto& ack : acks) {
    Headers h = Bearer(key);
    h.emplace_back("Idempotency-Key", ack.prefix + Id("load-", ack.i));
    HttpReply again =
        HttpCall(writer.port, "POST", "/v1/customers", h, Json{{"customer_id", ack.prefix + Id("c", ack.i)}}.dump());
    if (again.status != 200) {  // 201: it was not there and is written now
      ++*lost;
      ADD_FAILURE() << "write " << ack.i << " acknowledged by " << ack.node << " at " << ack.position << ": "
                    << again.status << " " << again.body;
      continue;
    }
    if (HeaderValue(again, "X-Ledger-Position") != ack.position) ++*accepted_twice;
  }
}

// A node's follow-lag histogram from /metrics: (upper bound in ms, cumulative count).
std::vector<std::pair<double, uint64_t>> FollowLag(const Node& n) {
  const std::string text = HttpGet(n.port, "/metrics").body;
  std::vector<std::pair<double, uint64_t>> buckets;
  const std::string prefix = "ledger_follow_lag_seconds_bucket{le=\"";
  for (size_t at = text.find(prefix); at != std::string::npos; at = text.find(prefix, at + 1)) {
    const size_t end = text.find('"', at + prefix.size());
    const std::string le = text.substr(at + prefix.size(), end - at - prefix.size());
    const uint64_t count = std::stoull(text.substr(text.find(' ', end) + 1));
    buckets.emplace_back(le == "+Inf" ? 1e9 : std::stod(le) * 1000, count);
  }
  return buckets;
}

// The p99 of the samples taken between two readings of FollowLag: the upper bound of the
// bucket holding the 99th percentile, in ms (-1: no samples; 1e9: beyond the last bucket).
double LagP99Ms(const std::vector<std::pair<double, uint64_t>>& before,
                const std::vector<std::pair<double, uint64_t>>& after, uint64_t* samples) {
  *samples = 0;
  if (after.empty() || before.size() != after.size()) return -1;
  *samples = after.back().second - before.back().second;
  if (*samples == 0) return -1;
  for (size_t i = 0; i < after.size(); ++i)
    if ((after[i].second - before[i].second) * 100 >= *samples * 99) return after[i].first;
  return 1e9;
}

// The standby has read the merchant's set-up (and the keys before it) within 10 s.
bool HasReadTheSetUp(const Node& standby, const std::string& key) {
  return Eventually([&] { return HttpCall(standby.port, "GET", "/v1/merchant", Bearer(key), "").status == 200; }, 10000);
}

struct KillResult {
  int64_t rto_ms = -1;
  double standby_lag_p99_ms = -1;
  size_t acked = 0;
  size_t lost = 0;
  size_t accepted_twice = 0;
};

// SIGKILLs the writer under steady load; the standby must take over with nothing lost.
KillResult KillTheWriterUnderLoad(bool check_everything) {
  KillResult result;
  TempDir dir;
  DevBroker broker(LEDGERD_PATH, dir.path());
  EXPECT_FALSE(broker.bootstrap.empty());
  const std::string secrets = WriteSecretsKey(dir);
  Node a(dir, "a"), b(dir, "b");
  const std::vector<std::string> common{"--failover-after-ms", "1000", "--resolve-after-s", "2", "--secrets-key-file",
                                        secrets, "--allow-private-webhooks", "--rate-limit-per-key", "1000000"};
  std::vector<std::string> a_args = common;
  a_args.insert(a_args.end(), {"--peers", b.url()});
  a.Start(broker.bootstrap, a_args);
  EXPECT_TRUE(a.Ready()) << ReadAll(a.log());
  std::vector<std::string> b_args = common;
  b_args.insert(b_args.end(), {"--role", "standby", "--writer", a.url()});
  b.Start(broker.bootstrap, b_args);
  EXPECT_TRUE(b.Ready()) << ReadAll(b.log());
  const std::string key = SetUpMerchant(a);
  const std::string admin = ReadAdminKey(a.data);
  HttpSink sink;
  if (check_everything) {
    HttpReply sub = HttpCall(a.port, "POST", "/v1/subscribers", Bearer(admin),
                             Json{{"subscriber_id", "ops"}, {"url", "http://127.0.0.1:" + std::to_string(sink.port()) + "/hook"},
                                  {"secret", "whsec-failover-0123456789"}, {"topics", {"outages"}}}
                                 .dump());
    EXPECT_EQ(sub.status, 201) << sub.body;
  }
  EXPECT_FALSE(b.Writing());
  // A customer with personal fields, sealed on a under a key the keyring topic carries to b.
  if (check_everything) {
    HttpReply vip = HttpCall(a.port, "POST", "/v1/customers", Bearer(key),
                             R"({"customer_id":"vip","name":"Ottilie Failover","email":"o.f@example.invalid"})");
    EXPECT_EQ(vip.status, 201) << vip.body;
  }

  const auto lag_before = FollowLag(b);  // steady state: without the catch-up at start
  // LEDGER_FAILOVER_CLIENTS concurrent clients (default 1).
  const int clients = std::max(1, std::atoi(std::getenv("LEDGER_FAILOVER_CLIENTS") ? std::getenv("LEDGER_FAILOVER_CLIENTS") : "1"));
  std::vector<std::unique_ptr<Load>> loads;
  for (int i = 0; i < clients; ++i) loads.push_back(std::make_unique<Load>(std::vector<const Node*>{&a, &b}, key, Id("l", i) + "-"));
  const auto acks_from = [&](const std::string& node) {
    size_t n = 0;
    for (const auto& l : loads) n += l->AcksFrom(node);
    return n;
  };
  EXPECT_TRUE(Eventually([&] { return acks_from("a") >= 50u * clients; }, 20000));
  uint64_t lag_samples = 0;
  result.standby_lag_p99_ms = LagP99Ms(lag_before, FollowLag(b), &lag_samples);
  std::printf("standby follow lag under load: p99 <= %.0f ms over %llu batches\n", result.standby_lag_p99_ms,
              static_cast<unsigned long long>(lag_samples));
  const int64_t killed_at = NowMs();
  a.process->StopWith(SIGKILL, 5000);
  const bool took_over = Eventually([&] { return acks_from("b") >= 30u * clients; }, 20000);
  std::vector<Load::Ack> acks;
  for (const auto& l : loads) {
    l->Stop();
    const auto mine = l->acks();
    acks.insert(acks.end(), mine.begin(), mine.end());
  }
  EXPECT_TRUE(took_over) << ReadAll(b.log());
  if (!took_over) return result;
  int64_t last_a = 0, first_b = INT64_MAX;
  for (const auto& ack : acks) {
    if (ack.node == "a") last_a = std::max(last_a, ack.at_ms);
    else first_b = std::min(first_b, ack.at_ms);
  }
  result.rto_ms = first_b - last_a;
  std::printf("killed at 0 ms; last ack from a at %lld ms, first from b at %lld ms\n",
              static_cast<long long>(last_a - killed_at), static_cast<long long>(first_b - killed_at));
  if (std::getenv("LEDGER_FAILOVER_LOGS")) std::printf("%s\n", ReadAll(b.log()).c_str());
  result.acked = acks.size();
  EXPECT_LE(last_a, killed_at + 50) << "no acknowledgement comes from a killed writer";
  EXPECT_TRUE(b.Writing());
  EXPECT_EQ(b.Metric("ledger_promotions_total"), "ledger_promotions_total 1");

  CheckAcks(acks, b, key, &result.lost, &result.accepted_twice);
  EXPECT_EQ(result.lost, 0u);
  EXPECT_EQ(result.accepted_twice, 0u);
  if (!check_everything) {
    b.process->StopWith(SIGTERM, 15000);
    broker.process.StopWith(SIGTERM, 15000);
    return result;
  }

  // The failover told customers: on the status page and as a signed webhook, with the
  // detection and takeover times; it resolves itself after --resolve-after-s.
  const auto failover_incident = [&] {
    const Json page = Json::parse(HttpGet(b.port, "/v1/status").body);
    for (const Json& i : page["incidents"])
      if (i["notice_id"] == "failover-shard-0-epoch-2") return i;
    return Json();
  };
  Json incident;
  EXPECT_TRUE(Eventually([&] { return !(incident = failover_incident()).is_null(); }, 5000));
  EXPECT_EQ(incident["component"], "ledger-shard-0");
  EXPECT_NE(incident.dump().find("detected the outage at"), std::string::npos) << incident.dump();
  EXPECT_NE(incident.dump().find("took over at"), std::string::npos) << incident.dump();
  EXPECT_TRUE(sink.WaitFor(1, 20000)) << "the failover's notice never reached the subscriber";
  if (!sink.received().empty()) {
    const Json hook = Json::parse(sink.received().front().body);
    EXPECT_EQ(hook["topic"], "outages");
    EXPECT_EQ(hook["event"]["incident"]["notice_id"], "failover-shard-0-epoch-2");
    EXPECT_NE(sink.received().front().headers.find("x-ledger-signature:"), std::string::npos);
  }
  EXPECT_TRUE(Eventually([&] { return failover_incident().value("status", "") == "Resolved"; }, 10000))
      << HttpGet(b.port, "/v1/status").body;

  // The new writer opens the customer a sealed (it holds the key), and erases them.
  HttpReply vip = HttpCall(b.port, "GET", "/v1/customers/vip", Bearer(key), "");
  EXPECT_EQ(Json::parse(vip.body)["profile"].value("name", ""), "Ottilie Failover") << vip.body;
  EXPECT_EQ(HttpCall(b.port, "POST", "/v1/customers/vip/erase", Bearer(key), "").status, 200);

  // The old writer returns with --role writer: it finds it was deposed and follows.
  a.Start(broker.bootstrap, a_args);
  EXPECT_TRUE(a.Ready()) << ReadAll(a.log());
  EXPECT_FALSE(a.Writing());
  EXPECT_TRUE(b.Writing());
  EXPECT_EQ(a.Metric("ledger_writer"), "ledger_writer 0");
  HttpReply refused = HttpCall(a.port, "POST", "/v1/customers", Bearer(key), R"({"customer_id":"late"})");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(Json::parse(refused.body)["writer"], b.url()) << refused.body;
  // Written after the return: the old writer follows it.
  Headers h = Bearer(key);
  h.emplace_back("Idempotency-Key", "after-return");
  HttpReply after = HttpCall(b.port, "POST", "/v1/customers", h, R"({"customer_id":"after"})");
  EXPECT_EQ(after.status, 201);
  EXPECT_TRUE(Eventually([&] { return HttpCall(a.port, "GET", "/v1/customers/after", Bearer(key), "").status == 200; },
                         10000));
  // The old writer shows the erasure too (its keyring's copy of the key goes with the
  // tombstone on ledger.keyring: KeyringReplication.* checks that part).
  EXPECT_TRUE(Eventually([&] {
    const Json v = Json::parse(HttpCall(a.port, "GET", "/v1/customers/vip", Bearer(key), "").body, nullptr, false);
    return v.is_object() && v.contains("profile") && v["profile"].value("erased", false);
  }, 10000)) << HttpCall(a.port, "GET", "/v1/customers/vip", Bearer(key), "").body;
  const std::string at = HeaderValue(after, "X-Ledger-Position").substr(2);
  a.process->StopWith(SIGTERM, 15000);
  b.process->StopWith(SIGTERM, 15000);
  const std::string from_a = Digest(a.data, at), from_b = Digest(b.data, at);
  EXPECT_EQ(from_a, from_b) << "the old writer's store holds the new writer's log";
  EXPECT_NE(from_b.find(':'), std::string::npos) << from_b;
  broker.process.StopWith(SIGTERM, 15000);
  return result;
}

TEST(Failover, TheStandbyTakesOverFromAKilledWriterWithNothingAcknowledgedLost) {
  const KillResult r = KillTheWriterUnderLoad(/*check_everything=*/true);
  std::printf("failover: RTO %lld ms, %zu acknowledged writes, %zu lost, %zu accepted twice\n",
              static_cast<long long>(r.rto_ms), r.acked, r.lost, r.accepted_twice);
  EXPECT_GE(r.rto_ms, 0);
}

// LEDGER_FAILOVER_RUNS=20: the kill test repeated, with RTO p50 and max.
TEST(Failover, RepeatedKillRuns) {
  const char* env = std::getenv("LEDGER_FAILOVER_RUNS");
  const int runs = env ? std::atoi(env) : 0;
  if (runs <= 0) GTEST_SKIP() << "set LEDGER_FAILOVER_RUNS=N to run N kills";
  std::vector<int64_t> rtos;
  std::vector<double> lags;
  size_t lost = 0, twice = 0, acked = 0;
  for (int i = 0; i < runs; ++i) {
    const KillResult r = KillTheWriterUnderLoad(/*check_everything=*/false);
    std::printf("run %d: RTO %lld ms, %zu acknowledged, %zu lost, %zu accepted twice\n", i + 1,
                static_cast<long long>(r.rto_ms), r.acked, r.lost, r.accepted_twice);
    std::fflush(stdout);
    rtos.push_back(r.rto_ms);
    lags.push_back(r.standby_lag_p99_ms);
    lost += r.lost;
    twice += r.accepted_twice;
    acked += r.acked;
  }
  std::sort(rtos.begin(), rtos.end());
  std::sort(lags.begin(), lags.end());
  std::printf("standby follow lag p99 per run: median %.0f ms, worst %.0f ms\n", lags[lags.size() / 2], lags.back());
  std::printf("%d kill runs: RTO p50 %lld ms, max %lld ms; %zu acknowledged writes, %zu lost, %zu accepted twice\n", runs,
              static_cast<long long>(rtos[rtos.size() / 2]), static_cast<long long>(rtos.back()), acked, lost, twice);
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(twice, 0u);
}

// The shard's nodes on one dev broker, with short timers.
struct Shard {
  explicit Shard(int failover_after_ms) : broker(LEDGERD_PATH, dir.path()), failover_ms(std::to_string(failover_after_ms)) {}
  std::vector<std::string> Flags(const std::vector<std::string>& more) const {
    // No rate limit: the checks replay every acknowledged write at once.
    std::vector<std::string> f{"--failover-after-ms", failover_ms, "--resolve-after-s", "60", "--rate-limit-per-key",
                               "1000000"};
    f.insert(f.end(), more.begin(), more.end());
    return f;
  }
  void StartWriter(Node& a) const {
    ASSERT_FALSE(broker.bootstrap.empty());
    a.Start(broker.bootstrap, Flags({}));
    ASSERT_TRUE(a.Ready()) << ReadAll(a.log());
  }
  // `a` as the writer, `b` as its standby.
  void StartWriterAndStandby(Node& a, Node& b) const {
    ASSERT_NO_FATAL_FAILURE(StartWriter(a));
    b.Start(broker.bootstrap, Flags({"--role", "standby", "--writer", a.url()}));
    ASSERT_TRUE(b.Ready()) << ReadAll(b.log());
  }
  // The same, the merchant set up on `a` and read by `b` (keys included: they are events).
  void StartSetUpAndFollow(Node& a, Node& b, std::string* key, std::string* admin) const {
    ASSERT_NO_FATAL_FAILURE(StartWriterAndStandby(a, b));
    *key = SetUpMerchant(a);
    *admin = ReadAdminKey(a.data);
    ASSERT_TRUE(HasReadTheSetUp(b, *key));
  }
  TempDir dir;
  DevBroker broker;
  std::string failover_ms;
};

// The standby cannot reach the writer's HTTP, but Kafka reaches both and the writer keeps
// writing: its batches are the sign of life, and the standby does not promote.
TEST(Failover, AStandbyThatSeesTheWritersBatchesDoesNotPromote) {
  Shard shard(300);
  ASSERT_FALSE(shard.broker.bootstrap.empty());
  Node a(shard.dir, "a"), b(shard.dir, "b");
  const std::string unreachable = "http://127.0.0.1:" + std::to_string(FreeLoopbackPort());
  a.Start(shard.broker.bootstrap, shard.Flags({"--advertise-url", unreachable}));
  ASSERT_TRUE(a.Ready()) << ReadAll(a.log());
  b.Start(shard.broker.bootstrap, shard.Flags({"--role", "standby", "--writer", unreachable}));
  ASSERT_TRUE(b.Ready()) << ReadAll(b.log());
  const std::string key = SetUpMerchant(a);
  {
    Load load({&a}, key);
    std::this_thread::sleep_for(std::chrono::milliseconds(2000));  // about seven failover periods
    EXPECT_GT(load.AcksFrom("a"), 20u);
  }
  EXPECT_TRUE(a.Writing());
  EXPECT_FALSE(b.Writing());
  EXPECT_EQ(b.Metric("ledger_promotions_total"), "ledger_promotions_total 0") << ReadAll(b.log());
  EXPECT_EQ(b.Metric("ledger_writer"), "ledger_writer 0");
}

// The writer idle, then killed: two standbys race to promote; one wins, the other follows
// the winner, and both hold the same log.
TEST(Failover, TwoStandbysRaceForAnIdleWritersPlaceAndOneWins) {
  Shard shard(300);
  Node a(shard.dir, "a"), b(shard.dir, "b"), c(shard.dir, "c");
  ASSERT_NO_FATAL_FAILURE(shard.StartWriter(a));
  for (Node* n : {&b, &c}) {
    n->Start(shard.broker.bootstrap, shard.Flags({"--role", "standby", "--writer", a.url()}));
    ASSERT_TRUE(n->Ready()) << ReadAll(n->log());
  }
  const std::string key = SetUpMerchant(a);
  ASSERT_TRUE(HasReadTheSetUp(c, key));
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // idle for three failover periods: no promotion
  EXPECT_FALSE(b.Writing() || c.Writing());
  a.process->StopWith(SIGKILL, 5000);
  ASSERT_TRUE(Eventually([&] { return b.Writing() || c.Writing(); }, 10000)) << ReadAll(b.log()) << ReadAll(c.log());
  std::this_thread::sleep_for(std::chrono::milliseconds(1000));  // let a losing attempt play out
  ASSERT_NE(b.Writing(), c.Writing()) << "exactly one writer";
  Node& winner = b.Writing() ? b : c;
  Node& loser = b.Writing() ? c : b;
  EXPECT_EQ(winner.Metric("ledger_promotions_total"), "ledger_promotions_total 1");
  EXPECT_EQ(loser.Metric("ledger_writer"), "ledger_writer 0");
  Headers h = Bearer(key);
  h.emplace_back("Idempotency-Key", "after-race");
  HttpReply after = HttpCall(winner.port, "POST", "/v1/customers", h, R"({"customer_id":"after"})");
  ASSERT_EQ(after.status, 201) << after.body;
  HttpReply refused = HttpCall(loser.port, "POST", "/v1/customers", Bearer(key), R"({"customer_id":"x"})");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(Json::parse(refused.body).value("writer", ""), winner.url()) << refused.body;
  EXPECT_TRUE(Eventually([&] { return HttpCall(loser.port, "GET", "/v1/customers/after", Bearer(key), "").status == 200; },
                         10000));
  const std::string at = HeaderValue(after, "X-Ledger-Position").substr(2);
  winner.process->StopWith(SIGTERM, 15000);
  loser.process->StopWith(SIGTERM, 15000);
  EXPECT_EQ(Digest(winner.data, at), Digest(loser.data, at));
}

// A planned switch-over under load: demote the writer, promote the standby; nothing
// acknowledged is lost and the window of 503s is short.
TEST(Failover, APlannedSwitchOverLosesNothing) {
  Shard shard(1000);
  Node a(shard.dir, "a"), b(shard.dir, "b");
  std::string key, admin;
  ASSERT_NO_FATAL_FAILURE(shard.StartSetUpAndFollow(a, b, &key, &admin));
  EXPECT_EQ(HttpCall(b.port, "POST", "/v1/admin/promote", Bearer(key), "").status, 403) << "admin only";
  // A standby's idempotent producer gets its producer id about a second after it starts;
  // a promotion before that waits for it (measured: 850 ms). Switch over a warm standby.
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  Load load({&a, &b}, key);
  ASSERT_TRUE(Eventually([&] { return load.AcksFrom("a") >= 30; }, 20000));
  const int64_t demote_at = NowMs();
  HttpReply demoted = HttpCall(a.port, "POST", "/v1/admin/demote", Bearer(admin), "");
  const int64_t demoted_at = NowMs();
  ASSERT_EQ(demoted.status, 200) << demoted.body;
  EXPECT_EQ(Json::parse(demoted.body)["writer"], false);
  HttpReply promoted = HttpCall(b.port, "POST", "/v1/admin/promote", Bearer(admin), "", 15000);
  const int64_t promoted_at = NowMs();
  ASSERT_EQ(promoted.status, 200) << promoted.body << ReadAll(b.log());
  EXPECT_EQ(Json::parse(promoted.body)["writer"], true);
  if (std::getenv("LEDGER_FAILOVER_LOGS")) std::printf("%s\n%s\n", ReadAll(a.log()).c_str(), ReadAll(b.log()).c_str());
  ASSERT_TRUE(Eventually([&] { return load.AcksFrom("b") >= 30; }, 20000));
  load.Stop();
  EXPECT_TRUE(b.Writing());
  EXPECT_FALSE(a.Writing());
  const auto acks = load.acks();
  int64_t last_a = 0, first_b = INT64_MAX;
  for (const auto& ack : acks) {
    if (ack.node == "a") last_a = std::max(last_a, ack.at_ms);
    else first_b = std::min(first_b, ack.at_ms);
  }
  std::printf("planned switch-over: %lld ms without acknowledgements (demote took %lld ms, promote %lld ms)\n",
              static_cast<long long>(first_b - last_a), static_cast<long long>(demoted_at - demote_at),
              static_cast<long long>(promoted_at - demoted_at));
  size_t lost = 0, twice = 0;
  CheckAcks(acks, b, key, &lost, &twice);
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(twice, 0u);
  EXPECT_EQ(a.Metric("ledger_quarantined_events_total"), "ledger_quarantined_events_total 0");
  // The notice of a planned switch-over says so, with no impact.
  const Json page = Json::parse(HttpGet(b.port, "/v1/status").body);
  bool noted = false;
  for (const Json& i : page["incidents"])
    if (i["notice_id"] == "failover-shard-0-epoch-2") noted = i.value("impact", "") == "none";
  EXPECT_TRUE(noted) << page.dump();
}

// The writer freezes (SIGSTOP: a stalled VM, a long pause) under load, the standby takes
// over, then the old writer thaws with requests in flight: its lease has lapsed and a
// canonical batch not its own fences it, so nothing it answers afterwards is an
// acknowledgement the new writer lacks; it rejoins as a standby.
TEST(Failover, AFrozenWriterThawsFencedAndAcknowledgesNothingLost) {
  Shard shard(500);
  Node a(shard.dir, "a"), b(shard.dir, "b");
  ASSERT_NO_FATAL_FAILURE(shard.StartWriterAndStandby(a, b));
  const std::string key = SetUpMerchant(a);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // a warm standby (see the switch-over test)
  // Two clients: one sticks to the old writer (its requests hang while it is frozen and are
  // answered when it thaws), one moves to whichever node writes.
  Load stubborn({&a}, key);
  Load mobile({&a, &b}, key);
  ASSERT_TRUE(Eventually([&] { return stubborn.AcksFrom("a") >= 10 && mobile.AcksFrom("a") >= 10; }, 20000));
  ::kill(a.process->pid(), SIGSTOP);
  const bool took_over = Eventually([&] { return mobile.AcksFrom("b") >= 10; }, 20000);
  ::kill(a.process->pid(), SIGCONT);
  ASSERT_TRUE(took_over) << ReadAll(b.log());
  EXPECT_TRUE(Eventually([&] { return a.Metric("ledger_writer") == "ledger_writer 0"; }, 10000)) << ReadAll(a.log());
  std::this_thread::sleep_for(std::chrono::milliseconds(500));  // the stubborn client's last answers from a
  stubborn.Stop();
  mobile.Stop();
  EXPECT_TRUE(b.Writing());
  EXPECT_FALSE(a.Writing());
  size_t lost = 0, twice = 0;
  // Both clients used the same keys (load-<i>) for the same bodies: an acknowledgement
  // from either must be on the new writer at its position.
  auto acks = stubborn.acks();
  const auto more = mobile.acks();
  std::map<int, std::string> first_position;
  for (const auto& ack : acks) first_position.emplace(ack.i, ack.position);
  for (const auto& ack : more) {
    auto [it, fresh] = first_position.emplace(ack.i, ack.position);
    if (!fresh && it->second != ack.position) ++twice;  // one key, two positions
    acks.push_back(ack);
  }
  CheckAcks(acks, b, key, &lost, &twice);
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(twice, 0u);
  std::printf("frozen writer: %zu acknowledged by a, %zu by b\n", stubborn.AcksFrom("a") + mobile.AcksFrom("a"),
              mobile.AcksFrom("b"));
}

// A standby that starts after Kafka's window has moved past offset 0 catches up over the
// writer's GET /v1/log with the auditor key of --writer-key-file, then follows Kafka; one
// without the key stops and says why.
TEST(Failover, AStandbyBootstrapsOverTheWritersLogWhenKafkasWindowHasMovedOn) {
  Shard shard(1000);
  Node a(shard.dir, "a"), b(shard.dir, "b"), c(shard.dir, "c");
  ASSERT_NO_FATAL_FAILURE(shard.StartWriter(a));
  const std::string admin = ReadAdminKey(a.data);
  const std::string key = SetUpMerchant(a);
  const std::string auditor =
      Json::parse(HttpCall(a.port, "POST", "/v1/keys", Bearer(admin), R"({"role":"auditor"})").body)["key"];
  const std::string key_file = shard.dir.Sub("auditor.key");
  std::ofstream(key_file) << auditor << "\n";
  chmod(key_file.c_str(), 0600);
  // About 9 MiB of fee recipes (a 50 KB description each): the dev broker keeps about 5.
  std::ifstream recipe_file(LEDGER_DEFAULT_RECIPE_PATH);
  Json recipe = Json::parse(recipe_file);
  recipe["description"] = std::string(50000, 'r');
  for (int version = 2; version < 190; ++version) {
    recipe["version"] = version;
    ASSERT_EQ(HttpCall(a.port, "POST", "/v1/fee-recipes", Bearer(admin), recipe.dump()).status, 201) << version;
  }
  Headers h = Bearer(key);
  h.emplace_back("Idempotency-Key", "before-standby");
  ASSERT_EQ(HttpCall(a.port, "POST", "/v1/customers", h, R"({"customer_id":"before"})").status, 201);

  c.Start(shard.broker.bootstrap, shard.Flags({"--role", "standby", "--writer", a.url()}));
  b.Start(shard.broker.bootstrap,
          shard.Flags({"--role", "standby", "--writer", a.url(), "--writer-key-file", key_file}));
  ASSERT_TRUE(b.Ready()) << ReadAll(b.log());
  EXPECT_TRUE(Eventually([&] { return HttpCall(b.port, "GET", "/v1/customers/before", Bearer(key), "").status == 200; },
                         30000))
      << ReadAll(b.log());
  // Then Kafka again.
  h.back().second = "after-standby";
  HttpReply after = HttpCall(a.port, "POST", "/v1/customers", h, R"({"customer_id":"after"})");
  ASSERT_EQ(after.status, 201);
  EXPECT_TRUE(Eventually([&] { return HttpCall(b.port, "GET", "/v1/customers/after", Bearer(key), "").status == 200; },
                         10000));
  // Without a key there is no way around the gap: the standby says so and holds nothing.
  EXPECT_TRUE(Eventually([&] { return ReadAll(c.log()).find("gone from Kafka") != std::string::npos; }, 15000))
      << ReadAll(c.log());
  EXPECT_NE(HttpCall(c.port, "GET", "/v1/customers/before", Bearer(key), "").status, 200);
  EXPECT_EQ(ReadAll(b.log()).find(auditor), std::string::npos) << "the key is never logged";
  const std::string at = HeaderValue(after, "X-Ledger-Position").substr(2);
  a.process->StopWith(SIGTERM, 15000);
  b.process->StopWith(SIGTERM, 15000);
  EXPECT_EQ(Digest(a.data, at), Digest(b.data, at));
}

// Firewall rules that reset the TCP connections of one user's processes to the dev
// broker's ports, and only those: that node is cut off from Kafka, not from its clients.
class KafkaCut {
 public:
  KafkaCut(int uid, const std::string& bootstrap) : uid_(std::to_string(uid)) {
    for (size_t at = 0; at < bootstrap.size();) {
      size_t comma = bootstrap.find(',', at);
      if (comma == std::string::npos) comma = bootstrap.size();
      const std::string broker = bootstrap.substr(at, comma - at);
      ports_.push_back(broker.substr(broker.rfind(':') + 1));
      at = comma + 1;
    }
  }
  ~KafkaCut() { Lift(); }
  bool Apply() { return Rules("-I") && (applied_ = true); }
  void Lift() {
    if (applied_) Rules("-D");
    applied_ = false;
  }

 private:
  bool Rules(const std::string& op) {
    for (const std::string& port : ports_) {
      const std::string rule = std::string(IPTABLES_PATH) + " " + op + " OUTPUT -p tcp -d 127.0.0.1 --dport " + port +
                               " -m owner --uid-owner " + uid_ + " -j REJECT --reject-with tcp-reset 2>&1";
      if (RunCommand(rule).exit_code != 0) return false;
    }
    return true;
  }
  std::string uid_;
  std::vector<std::string> ports_;
  bool applied_ = false;
};

// The writer cut off from Kafka but not from its clients: its lease lapses and it stops
// acknowledging before the standby promotes; nothing it acknowledged is lost. When Kafka is
// back it finds it was deposed and follows. Needs root and iptables (skipped otherwise).
TEST(Failover, AWriterCutOffFromKafkaStopsAcknowledgingBeforeTheStandbyPromotes) {
  constexpr int kNobody = 65534;
  if (::geteuid() != 0 || RunCommand(std::string(IPTABLES_PATH) + " -L OUTPUT -n >/dev/null 2>&1").exit_code != 0)
    GTEST_SKIP() << "needs root and iptables to cut one process off from Kafka";
  Shard shard(1000);
  ASSERT_FALSE(shard.broker.bootstrap.empty());
  KafkaCut cut(kNobody, shard.broker.bootstrap);
  if (!cut.Apply()) GTEST_SKIP() << "iptables cannot match by owner here (no xt_owner or no NET_ADMIN)";
  cut.Lift();
  Node a(shard.dir, "a"), b(shard.dir, "b");
  a.run_as_uid = kNobody;
  ::chmod(shard.dir.path().c_str(), 0755);
  ::mkdir(a.data.c_str(), 0700);
  ASSERT_EQ(::chown(a.data.c_str(), kNobody, kNobody), 0);
  a.Start(shard.broker.bootstrap, shard.Flags({}));
  ASSERT_TRUE(a.Ready()) << ReadAll(a.log());
  b.Start(shard.broker.bootstrap, shard.Flags({"--role", "standby", "--writer", a.url()}));
  ASSERT_TRUE(b.Ready()) << ReadAll(b.log());
  const std::string key = SetUpMerchant(a);
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));  // a warm standby (see the switch-over test)
  Load load({&a, &b}, key);
  ASSERT_TRUE(Eventually([&] { return load.AcksFrom("a") >= 20; }, 20000));
  ASSERT_TRUE(cut.Apply()) << "iptables refused the rules";
  const int64_t cut_at = NowMs();
  const bool took_over = Eventually([&] { return load.AcksFrom("b") >= 20; }, 20000);
  cut.Lift();
  load.Stop();
  ASSERT_TRUE(took_over) << ReadAll(b.log());
  int64_t last_a = 0, first_b = INT64_MAX;
  for (const auto& ack : load.acks()) {
    if (ack.node == "a") last_a = std::max(last_a, ack.at_ms);
    else first_b = std::min(first_b, ack.at_ms);
  }
  std::printf("cut off at 0 ms: last acknowledgement from a at %lld ms, first from b at %lld ms\n",
              static_cast<long long>(last_a - cut_at), static_cast<long long>(first_b - cut_at));
  EXPECT_LT(last_a, first_b) << "the old writer acknowledged after the new one took over";
  EXPECT_LE(last_a - cut_at, 500 + 100) << "the lease (half of --failover-after-ms) bounds the old writer";
  size_t lost = 0, twice = 0;
  CheckAcks(load.acks(), b, key, &lost, &twice);
  EXPECT_EQ(lost, 0u);
  EXPECT_EQ(twice, 0u);
  // Kafka is back: the old writer reads the canonical WriterPromoted and follows.
  EXPECT_TRUE(Eventually([&] { return a.Metric("ledger_writer") == "ledger_writer 0"; }, 15000)) << ReadAll(a.log());
  EXPECT_TRUE(b.Writing());
  EXPECT_FALSE(a.Writing());
}

// An idle writer notices that it was deposed (it tails its own partition): a standby
// promoted with /v1/admin/promote while the writer is alive and idle fences it, and the
// writer turns 503 on /health/writer and follows.
TEST(Failover, AnIdleWriterNoticesItWasDeposed) {
  Shard shard(1000);
  Node a(shard.dir, "a"), b(shard.dir, "b");
  std::string key, admin;
  ASSERT_NO_FATAL_FAILURE(shard.StartSetUpAndFollow(a, b, &key, &admin));
  ASSERT_TRUE(a.Writing());
  HttpReply promoted = HttpCall(b.port, "POST", "/v1/admin/promote", Bearer(admin), "", 15000);
  ASSERT_EQ(promoted.status, 200) << promoted.body;
  EXPECT_TRUE(Eventually([&] { return !a.Writing(); }, 5000)) << "the idle writer never noticed";
  EXPECT_TRUE(Eventually([&] { return a.Metric("ledger_writer") == "ledger_writer 0"; }, 5000));
  EXPECT_TRUE(b.Writing());
  HttpReply refused = HttpCall(a.port, "POST", "/v1/customers", Bearer(key), R"({"customer_id":"x"})");
  EXPECT_EQ(refused.status, 503);
  EXPECT_EQ(Json::parse(refused.body).value("writer", ""), b.url()) << refused.body;
}

}  // namespace
