// ledger-replay as a program: exit 0 for an intact log, 1 naming the first bad position,
// 2 for usage; --json for machines; digest, rebuild and export from the command line.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "tests/support/merchant_story.h"
#include "tests/support/raw_store.h"
#include "tests/support/temp_dir.h"

using Json = nlohmann::json;
using testing_support::TempDir;

namespace {

struct Ran {
  int exit_code = -1;
  std::string out;
};

// Runs ledger-replay with `args`; stdout captured, stderr left to the test's log.
Ran Replay(const std::string& args) {
  Ran r;
  FILE* p = ::popen((std::string(LEDGER_REPLAY_PATH) + " " + args + " 2>/dev/null").c_str(), "r");
  if (p == nullptr) return r;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int status = ::pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(LedgerReplay, ExitCodesJsonAndTheCommandsFromTheCommandLine) {
  TempDir dir;
  const std::string store = dir.Sub("store");
  uint64_t head = 0;
  {
    testing_support::StoryLog log(store, 5);
    head = log.store->head().position.value();
  }
  Ran verify = Replay("verify --store " + store + " --json");
  ASSERT_EQ(verify.exit_code, 0) << verify.out;
  const Json v = Json::parse(verify.out);
  EXPECT_TRUE(v["ok"].get<bool>());
  EXPECT_EQ(v["events"], head);

  Ran digest = Replay("digest --store " + store + " --at 20");
  ASSERT_EQ(digest.exit_code, 0);
  const std::string kept = digest.out.substr(0, digest.out.find('\n'));
  EXPECT_EQ(kept.rfind("20:", 0), 0u) << kept;
  EXPECT_EQ(Replay("verify --store " + store + " --against " + kept).exit_code, 0);

  Ran rebuilt = Replay("rebuild --store " + store + " --projection fees --as-of 20 --out " + dir.Sub("fees-at-20") + " --json");
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.out;
  EXPECT_EQ(Json::parse(rebuilt.out)["position"], 20);
  Ran exported = Replay("export --store " + store + " --format csv --type OrderPlaced --out " + dir.Sub("orders.csv"));
  ASSERT_EQ(exported.exit_code, 0);
  std::ifstream csv(dir.Sub("orders.csv"));
  std::string header;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("position,stream,", 0), 0u);

  // Usage: 2, and nothing written.
  EXPECT_EQ(Replay("").exit_code, 2);
  EXPECT_EQ(Replay("frobnicate --store " + store).exit_code, 2);
  EXPECT_EQ(Replay("verify").exit_code, 2);
  EXPECT_EQ(Replay("verify --store " + store + " --against 12:xyz").exit_code, 2);
  EXPECT_EQ(Replay("rebuild --store " + store + " --projection nope --out " + dir.Sub("x")).exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("x")));
  EXPECT_EQ(Replay("verify --store " + dir.Sub("no-such-store")).exit_code, 3);

  // A record deleted in the middle: 1, naming its position.
  const uint64_t bad = head / 2;
  testing_support::RawStore(store).DeleteEvent(bad);
  Ran damaged = Replay("verify --store " + store + " --json");
  EXPECT_EQ(damaged.exit_code, 1);
  const Json d = Json::parse(damaged.out);
  EXPECT_FALSE(d["ok"].get<bool>());
  EXPECT_EQ(d["first_bad_position"], bad);
}

}  // namespace
