#include "api/node_options.h"

#include <gtest/gtest.h>

using namespace api;

TEST(NodeOptions, ParsesTheContractFlags) {
  auto o = ParseNodeOptions({"--data", "/tmp/d", "--http", "127.0.0.1:9000", "--node-id", "a", "--shard", "3"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->data_dir, "/tmp/d");
  EXPECT_EQ(o->http_host, "127.0.0.1");
  EXPECT_EQ(o->http_port, 9000);
  EXPECT_EQ(o->node_id, "a");
  EXPECT_EQ(o->shard, 3u);
}

TEST(NodeOptions, RejectsBadInput) {
  EXPECT_FALSE(ParseNodeOptions({}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "nohost"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:99999"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--shard", "x"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--bogus", "1"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--rate-limit-per-key", "0"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--rate-limit-per-key", "-5"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--rate-limit-per-key", "10x"}).ok());
}

TEST(NodeOptions, TheRateLimitPerKeyIsAnOperatorsChoice) {
  EXPECT_EQ(ParseNodeOptions({"--data", "/d", "--http", "h:1"})->rate_limit_per_key, 100);
  EXPECT_EQ(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--rate-limit-per-key", "5000"})->rate_limit_per_key, 5000);
}

TEST(NodeOptions, TheWritersKeyFileIsForAWriterOrAStandby) {
  auto o = ParseNodeOptions({"--data", "/d", "--http", "h:1", "--role", "standby", "--kafka", "k:1", "--writer",
                             "http://w:1", "--writer-key-file", "/k"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->writer_key_file, "/k");
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--role", "projector", "--shards", "0", "--kafka",
                                 "k:1", "--writer-key-file", "/k"})
                   .ok());
}

TEST(NodeOptions, FailoverFlags) {
  auto o = ParseNodeOptions({"--data", "/d", "--http", "10.0.0.2:81", "--peers", "http://a:1,https://b:2",
                             "--resolve-after-s", "5", "--failover-after-ms", "300"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->peers, (std::vector<std::string>{"http://a:1", "https://b:2"}));
  EXPECT_EQ(o->resolve_after_s, 5);
  EXPECT_EQ(o->failover_after_ms, 300);
  EXPECT_EQ(o->advertise_url, "http://10.0.0.2:81") << "the default is the --http address";
  EXPECT_EQ(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--advertise-url", "https://ledger.example:443"})->advertise_url,
            "https://ledger.example:443");
  EXPECT_EQ(ParseNodeOptions({"--data", "/d", "--http", "h:1"})->resolve_after_s, 300);
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--peers", "http://a:1,"}, {"--peers", "a:1"}, {"--advertise-url", "ledger:80"},
        {"--resolve-after-s", "0"}, {"--resolve-after-s", "x"}, {"--failover-after-ms", "5"}}) {
    std::vector<std::string> args{"--data", "/d", "--http", "h:1"};
    args.insert(args.end(), bad.begin(), bad.end());
    EXPECT_FALSE(ParseNodeOptions(args).ok()) << bad[0] << " " << bad[1];
  }
}

TEST(NodeOptions, RequestTimeout) {
  EXPECT_EQ(ParseNodeOptions({"--data", "/d", "--http", "h:1"})->request_timeout_ms, 30000);
  EXPECT_EQ(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--request-timeout-ms", "1500"})->request_timeout_ms, 1500);
  for (const char* bad : {"99", "3600001", "-1", "1s", ""})
    EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--request-timeout-ms", bad}).ok()) << bad;
  EXPECT_NE(NodeUsage().find("[--resolve-after-s N] [--request-timeout-ms N]\n"), std::string::npos) << NodeUsage();
}

TEST(NodeOptions, AStandbyNeedsKafkaAndItsWriter) {
  auto ok = ParseNodeOptions({"--data", "/d", "--http", "h:1", "--role", "standby", "--kafka", "k:9092", "--writer",
                              "http://10.0.0.1:8080"});
  ASSERT_TRUE(ok.ok()) << ok.status().ToString();
  EXPECT_EQ(ok->role, NodeRole::kStandby);
  EXPECT_EQ(ok->writer_url, "http://10.0.0.1:8080");
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--role", "standby", "--writer", "http://w:1"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--role", "standby", "--kafka", "k:1"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--role", "standby", "--kafka", "k:1", "--writer", "w:1"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--writer", "http://w:1"}).ok()) << "a writer has no writer";
}

TEST(DevBrokerOptions, ParsesAndRejects) {
  auto o = ParseDevBrokerOptions({"--bootstrap-file", "/tmp/b", "--partitions", "4"});
  ASSERT_TRUE(o.ok());
  EXPECT_EQ(o->bootstrap_file, "/tmp/b");
  EXPECT_EQ(o->partitions, 4);
  EXPECT_EQ(ParseDevBrokerOptions({"--bootstrap-file", "/tmp/b"})->partitions, 1);
  EXPECT_FALSE(ParseDevBrokerOptions({}).ok());
  EXPECT_FALSE(ParseDevBrokerOptions({"--bootstrap-file", "/tmp/b", "--partitions", "0"}).ok());
  EXPECT_FALSE(ParseDevBrokerOptions({"--bootstrap-file", "/tmp/b", "--partitions", "x"}).ok());
  EXPECT_FALSE(ParseDevBrokerOptions({"--bootstrap-file"}).ok());
  EXPECT_FALSE(ParseDevBrokerOptions({"--kafka", "x"}).ok());
}

TEST(NodeOptions, KafkaFlags) {
  auto o = ParseNodeOptions({"--data", "/d", "--http", "h:1", "--kafka", "b1:9092,b2:9092", "--kafka-property",
                             "security.protocol=SSL", "--kafka-property", "ssl.ca.location=/etc/ca.pem", "--ack", "local"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_EQ(o->kafka_bootstrap, "b1:9092,b2:9092");
  ASSERT_EQ(o->kafka_properties.size(), 2u);
  EXPECT_EQ(o->kafka_properties[1].first, "ssl.ca.location");
  EXPECT_EQ(o->kafka_properties[1].second, "/etc/ca.pem");
  EXPECT_FALSE(o->ack_replicated);
  EXPECT_TRUE(ParseNodeOptions({"--data", "/d", "--http", "h:1"})->ack_replicated);
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--ack", "maybe"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--kafka-property", "novalue"}).ok());
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1", "--kafka-property", "=v"}).ok());
}

TEST(NodeOptions, RolesShardsAndFailoverTimer) {
  auto w = ParseNodeOptions({"--data", "/d", "--http", "h:1", "--failover-after-ms", "250"});
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->role, NodeRole::kWriter);
  EXPECT_EQ(w->failover_after_ms, 250);
  EXPECT_EQ(ParseNodeOptions({"--data", "/d", "--http", "h:1"})->failover_after_ms, kFailoverAfterMsDefault);
  auto p = ParseNodeOptions({"--data", "/d", "--http", "h:1", "--role", "projector", "--shards", "0,2", "--kafka", "b:1"});
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ(p->role, NodeRole::kProjector);
  EXPECT_EQ(p->projector_shards, (std::vector<uint32_t>{0, 2}));
  for (std::vector<std::string> bad : std::vector<std::vector<std::string>>{
           {"--role", "projector", "--kafka", "b:1"},                   // no shards
           {"--role", "projector", "--shards", "0"},                    // no Kafka to read
           {"--role", "projector", "--shards", "0,,1", "--kafka", "b:1"},
           {"--role", "projector", "--shards", "x", "--kafka", "b:1"},
           {"--shards", "0"},                                           // a writer takes --shard
           {"--role", "leader"},
           {"--failover-after-ms", "0"},
           {"--failover-after-ms", "10s"},
           {"--failover-after-ms", "99999999"}}) {
    std::vector<std::string> args = {"--data", "/d", "--http", "h:1"};
    args.insert(args.end(), bad.begin(), bad.end());
    EXPECT_FALSE(ParseNodeOptions(args).ok()) << bad[0] << " " << bad[1];
  }
}

TEST(NodeOptions, AcceptNewTopicTakesNoValue) {
  auto o = ParseNodeOptions({"--data", "/d", "--accept-new-topic", "--http", "h:1"});
  ASSERT_TRUE(o.ok()) << o.status().ToString();
  EXPECT_TRUE(o->accept_new_topic);
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1"})->accept_new_topic);
}

// --help (or -h) asks for the usage, exit 0 ("ledgerd: --help needs a value" was an error);
// a flag ledgerd does not know is named as unknown wherever it stands, also last, where it
// was said to need a value (DECISIONS 108).
TEST(NodeOptions, HelpAndUnknownFlagsAreToldApart) {
  for (const std::vector<std::string>& asks : std::vector<std::vector<std::string>>{
           {"--help"}, {"-h"}, {"--data", "/d", "--help"}, {"--http", "h:1", "-h", "--data"}}) {
    auto o = ParseNodeOptions(asks);
    ASSERT_TRUE(o.ok()) << asks[0] << ": " << o.status().ToString();
    EXPECT_TRUE(o->help) << asks[0];
  }
  EXPECT_FALSE(ParseNodeOptions({"--data", "/d", "--http", "h:1"})->help);
  for (const std::vector<std::string>& bad : std::vector<std::vector<std::string>>{
           {"--data", "/d", "--http", "h:1", "--bogus"}, {"--data", "/d", "--http", "h:1", "--bogus", "1"}, {"--bogus"}}) {
    auto o = ParseNodeOptions(bad);
    ASSERT_FALSE(o.ok());
    EXPECT_EQ(o.status().message(), "unknown flag --bogus") << bad.size();
  }
  auto missing = ParseNodeOptions({"--http", "h:1", "--data"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().message(), "--data needs a value");
  EXPECT_NE(NodeUsage().find("ledgerd --help"), std::string::npos);
  // dev-broker alike.
  EXPECT_TRUE(ParseDevBrokerOptions({"--help"})->help);
  EXPECT_EQ(ParseDevBrokerOptions({"--bootstrap-file", "/b", "--bogus"}).status().message(), "unknown flag --bogus");
  EXPECT_EQ(ParseDevBrokerOptions({"--bootstrap-file"}).status().message(), "--bootstrap-file needs a value");
}
