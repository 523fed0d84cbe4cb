// ledger-replay as a program: exit 0 for an intact log, 1 naming the first bad position,
// 2 for usage, 3 when it could not finish (SIGTERM and SIGINT included); --json for
// machines, help too; digest, rebuild, diff and export from the command line, --out never
// overwriting anything and appearing only when complete.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "ledger/record_codec.h"
#include "projections/read_model_store.h"
#include "schemas/ledger_generated.h"
#include "tests/support/http_sink.h"
#include "tests/support/merchant_story.h"
#include "tests/support/process.h"
#include "tests/support/projection_store_writer.h"
#include "tests/support/raw_store.h"
#include "tests/support/temp_dir.h"

using Json = nlohmann::json;
using testing_support::TempDir;

namespace {

using Ran = testing_support::CommandRun;

// The stores these tests write (testing_support::StoryLog) go through the domain alone and
// are never published to Kafka: their canonical mark is 0, and digest, rebuild and export
// refuse such a store unless asked to read every stored event. Each of those commands
// below reads a StoryLog store with --through head; the mark's own tests
// (LedgerReplay.ReadsAStoreThroughItsCanonicalMark...) give a store one.
const std::string kThroughHead = " --through head";

// Runs ledger-replay with `args`; stdout captured, stderr left to the test's log.
Ran Replay(const std::string& args) {
  return testing_support::RunCommand(std::string(LEDGER_REPLAY_PATH) + " " + args + " 2>/dev/null");
}

// The last position of the command holding `position` (a rebuild must end a command); 0
// when it cannot be read.
uint64_t CommandEnd(const ledger::EventStore& store, uint64_t position) {
  auto one = store.ReadRange(ledger::Position(position), 1);
  if (!one.ok() || one->empty()) return 0;
  const auto* e = ledger::VerifyRecord(one->front().record);
  return e == nullptr ? 0 : e->command_first_position() + e->command_event_count() - 1;
}

// The names in `dir` that are an output's partial (".NAME.partial-PID-RANDOM", built
// beside --out until it is complete): none once a command has ended, however it ended.
std::vector<std::string> PartialsIn(const std::string& dir) {
  std::vector<std::string> found;
  for (const auto& entry : std::filesystem::directory_iterator(dir))
    if (entry.path().filename().string().find(".partial-") != std::string::npos)
      found.push_back(entry.path().filename().string());
  return found;
}

TEST(LedgerReplay, ExitCodesJsonAndTheCommandsFromTheCommandLine) {
  TempDir dir;
  const std::string store = dir.Sub("store");
  uint64_t head = 0, as_of = 0;
  {
    testing_support::StoryLog log(store, 5);
    head = log.store->head().position.value();
    as_of = CommandEnd(*log.store, 20);
  }
  ASSERT_GE(as_of, 20u);
  Ran verify = Replay("verify --store " + store + " --json");
  ASSERT_EQ(verify.exit_code, 0) << verify.out;
  const Json v = Json::parse(verify.out);
  EXPECT_TRUE(v["ok"].get<bool>());
  EXPECT_EQ(v["events"], head);

  Ran digest = Replay("digest --store " + store + kThroughHead + " --at 20");
  ASSERT_EQ(digest.exit_code, 0);
  const std::string kept = digest.out.substr(0, digest.out.find('\n'));
  EXPECT_EQ(kept.rfind("20:", 0), 0u) << kept;
  EXPECT_EQ(Replay("verify --store " + store + " --against " + kept).exit_code, 0);

  Ran rebuilt = Replay("rebuild --store " + store + kThroughHead + " --projection fees --as-of " + std::to_string(as_of) + " --out " +
                       dir.Sub("fees-at-20") + " --json");
  ASSERT_EQ(rebuilt.exit_code, 0) << rebuilt.out;
  EXPECT_EQ(Json::parse(rebuilt.out)["position"], as_of);
  EXPECT_EQ(Json::parse(rebuilt.out)["out"].get<std::string>(), dir.Sub("fees-at-20")) << "the summary names --out, not its partial";
  Ran exported = Replay("export --store " + store + kThroughHead + " --format csv --type OrderPlaced --out " + dir.Sub("orders.csv"));
  ASSERT_EQ(exported.exit_code, 0);
  std::ifstream csv(dir.Sub("orders.csv"));
  std::string header, row;
  std::getline(csv, header);
  EXPECT_EQ(header.rfind("position,stream,", 0), 0u);
  int rows = 0;
  while (std::getline(csv, row)) {
    ++rows;
    EXPECT_NE(row.find("\"OrderPlaced\""), std::string::npos) << row;
  }
  EXPECT_GT(rows, 0);
  EXPECT_TRUE(PartialsIn(dir.path()).empty());
  // Options export would refuse are refused before --out is touched.
  { std::ofstream(dir.Sub("keep.csv")) << "kept\n"; }
  EXPECT_EQ(Replay("export --store " + store + kThroughHead + " --type Nope --out " + dir.Sub("keep.csv")).exit_code, 2);
  EXPECT_EQ(testing_support::ReadAll(dir.Sub("keep.csv")), "kept\n");
  // A flag the command does not take (a typo) is a usage error, not a default.
  EXPECT_EQ(Replay("rebuild --store " + store + kThroughHead + " --projection fees --asof 20 --out " + dir.Sub("typo")).exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("typo")));

  // Usage: 2, and nothing written.
  EXPECT_EQ(Replay("").exit_code, 2);
  EXPECT_EQ(Replay("frobnicate --store " + store).exit_code, 2);
  EXPECT_EQ(Replay("verify").exit_code, 2);
  EXPECT_EQ(Replay("verify --store " + store + " --against 12:xyz").exit_code, 2);
  EXPECT_EQ(Replay("rebuild --store " + store + kThroughHead + " --projection nope --out " + dir.Sub("x")).exit_code, 2);
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

// Flags given twice, stray arguments, position 0, another shard's token, a time after the
// log and a position inside a command: each a usage error (2), never a silent default, and
// under --json each answers one JSON object. Every kept digest is checked.
TEST(LedgerReplay, RepeatedFlagsPositionTokensAndUsageErrorsInJson) {
  TempDir dir;
  const std::string store = dir.Sub("store");
  uint64_t end = 0, inside = 0, inside_end = 0;
  {
    testing_support::StoryLog log(store, 5);
    end = CommandEnd(*log.store, 20);
    for (uint64_t p = 1; p <= log.store->head().position.value() && inside == 0; ++p)
      if (CommandEnd(*log.store, p) > p) {
        inside = p;
        inside_end = CommandEnd(*log.store, p);
      }
  }
  ASSERT_GE(end, 20u);
  ASSERT_GT(inside, 0u) << "the story has no command of several events";
  const std::string at = std::to_string(end);
  Ran digest = Replay("digest --store " + store + kThroughHead + " --at " + at);
  ASSERT_EQ(digest.exit_code, 0);
  const std::string good = digest.out.substr(0, digest.out.find('\n'));
  const std::string bad = good.substr(0, good.size() - 1) + (good.back() == '0' ? "1" : "0");
  Ran early = Replay("digest --store " + store + kThroughHead + " --at 10");
  ASSERT_EQ(early.exit_code, 0);
  const std::string good_early = early.out.substr(0, early.out.find('\n'));

  // Every --against is checked: a bad one after a good one is found (exit 1 at its position).
  EXPECT_EQ(Replay("verify --store " + store + " --against " + good_early + " --against " + good).exit_code, 0);
  Ran both = Replay("verify --store " + store + " --against " + good_early + " --against " + bad + " --json");
  EXPECT_EQ(both.exit_code, 1) << both.out;
  EXPECT_EQ(Json::parse(both.out)["first_bad_position"], end);
  Ran reversed = Replay("verify --store " + store + " --against " + bad + " --against " + good_early + " --json");
  EXPECT_EQ(reversed.exit_code, 1) << reversed.out;
  EXPECT_EQ(Json::parse(reversed.out)["first_bad_position"], end);
  // The shard:position tokens /v1/audit/digest hands out, for this shard only.
  EXPECT_EQ(Replay("verify --store " + store + " --against 0:" + good).exit_code, 0);
  EXPECT_EQ(Replay("verify --store " + store + " --against 1:" + good).exit_code, 2);
  Ran token = Replay("digest --store " + store + kThroughHead + " --at 0:" + at);
  EXPECT_EQ(token.exit_code, 0);
  EXPECT_EQ(token.out, digest.out);
  EXPECT_EQ(Replay("digest --store " + store + kThroughHead + " --at 1:" + at).exit_code, 2) << "another shard's position";

  // Any other flag twice, a stray argument, position 0: usage errors.
  EXPECT_EQ(Replay("verify --store " + store + " --store " + store).exit_code, 2);
  EXPECT_EQ(Replay("digest --store " + store + kThroughHead + " --at 10 --at 20").exit_code, 2);
  EXPECT_EQ(Replay("verify --store " + store + " extra").exit_code, 2);
  EXPECT_EQ(Replay("digest --store " + store + kThroughHead + " --at 0").exit_code, 2);
  EXPECT_EQ(Replay("rebuild --store " + store + kThroughHead + " --projection fees --as-of 0 --out " + dir.Sub("zero")).exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("zero")));
  // A time after the last event is not reproducible: refused, naming the last event's time.
  Ran future = Replay("rebuild --store " + store + kThroughHead + " --projection fees --as-of 2099-01-01T00:00:00Z --out " +
                      dir.Sub("future") + " --json");
  EXPECT_EQ(future.exit_code, 2);
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("future")));
  const Json f = Json::parse(future.out);
  EXPECT_FALSE(f["ok"].get<bool>());
  EXPECT_TRUE(f["usage_error"].get<bool>());
  EXPECT_NE(f["error"].get<std::string>().find("after the log's last event"), std::string::npos) << future.out;
  // As of a position inside a command: refused, naming the command's end.
  Ran cut = Replay("rebuild --store " + store + kThroughHead + " --projection fees --as-of " + std::to_string(inside) + " --out " +
                   dir.Sub("cut") + " --json");
  EXPECT_EQ(cut.exit_code, 2) << cut.out;
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("cut")));
  EXPECT_NE(Json::parse(cut.out)["error"].get<std::string>().find("ends at " + std::to_string(inside_end)), std::string::npos)
      << cut.out;

  // Under --json every usage error is one JSON object on stdout.
  for (const std::string& args :
       std::vector<std::string>{"verify --json", "verify --store " + store + " --json extra",
                                "verify --store " + store + " --json --json", "frobnicate --json",
                                "export --store " + store + kThroughHead + " --json"}) {
    Ran r = Replay(args);
    EXPECT_EQ(r.exit_code, 2) << args;
    const Json j = Json::parse(r.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << args << ": " << r.out;
    EXPECT_FALSE(j["ok"].get<bool>()) << args;
    EXPECT_TRUE(j["usage_error"].get<bool>()) << args;
  }
  Ran exported = Replay("export --store " + store + kThroughHead + " --out " + dir.Sub("all.jsonl") + " --json");
  EXPECT_EQ(exported.exit_code, 0);
  EXPECT_TRUE(Json::parse(exported.out)["ok"].get<bool>()) << exported.out;
}

// An unreachable bootstrap used to hang: no broker answers within
// replay::kKafkaAnswerTimeoutMs (30 s), exit 3 with JSON, and the scratch copy is gone.
TEST(LedgerReplay, AnUnreachableKafkaFailsWithinTheTimeoutAndLeavesNoScratch) {
  TempDir dir;
  const std::string tmp = dir.Sub("tmp");
  std::filesystem::create_directories(tmp);
  const auto started = std::chrono::steady_clock::now();
  Ran r = testing_support::RunCommand("TMPDIR=" + tmp + " " + std::string(LEDGER_REPLAY_PATH) +
                                      " verify --kafka 127.0.0.1:1 --kafka-timeout-ms 1500 --json 2>/dev/null");
  // A timeout out of its range is a usage error, answered in JSON.
  Ran bad = testing_support::RunCommand(std::string(LEDGER_REPLAY_PATH) +
                                        " verify --kafka 127.0.0.1:1 --kafka-timeout-ms 5 --json 2>/dev/null");
  EXPECT_EQ(bad.exit_code, 2) << bad.out;
  EXPECT_NE(bad.out.find("\"usage_error\":true"), std::string::npos) << bad.out;
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  EXPECT_EQ(r.exit_code, 3) << r.out;
  const Json j = Json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_NE(j["error"].get<std::string>().find("no Kafka broker"), std::string::npos) << r.out;
  EXPECT_LT(seconds, 60) << "the 1.5 s answer timeout, and the reader's close";
  EXPECT_TRUE(std::filesystem::is_empty(tmp)) << "the scratch directory was left behind";
}


// export --out never overwrites a file nor follows a symlink, dangling or not (it truncated
// an existing file and wrote through a link); rebuild --out refuses a dangling symlink as
// it refuses an existing directory. Usage errors (2), in JSON under --json, nothing written.
TEST(LedgerReplay, OutNeverOverwritesAnythingNorFollowsASymlink) {
  namespace fs = std::filesystem;
  TempDir dir;
  const std::string store = dir.Sub("store");
  { testing_support::StoryLog log(store); }
  const std::string kept = dir.Sub("kept.jsonl"), target = dir.Sub("target.jsonl");
  { std::ofstream(kept) << "kept\n"; }
  { std::ofstream(target) << "target\n"; }
  fs::create_symlink(target, dir.Sub("link.jsonl"));
  fs::create_symlink(dir.Sub("nowhere.jsonl"), dir.Sub("dangling.jsonl"));
  for (const std::string& out : {kept, dir.Sub("link.jsonl"), dir.Sub("dangling.jsonl")}) {
    Ran r = Replay("export --store " + store + kThroughHead + " --out " + out + " --json");
    EXPECT_EQ(r.exit_code, 2) << out << ": " << r.out;
    const Json j = Json::parse(r.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << out << ": " << r.out;
    EXPECT_TRUE(j["usage_error"].get<bool>()) << r.out;
    EXPECT_NE(j["error"].get<std::string>().find("already exists"), std::string::npos) << r.out;
    EXPECT_EQ(Replay("export --store " + store + kThroughHead + " --format csv --out " + out).exit_code, 2) << out;
  }
  EXPECT_EQ(testing_support::ReadAll(kept), "kept\n");
  EXPECT_EQ(testing_support::ReadAll(target), "target\n");
  EXPECT_FALSE(fs::exists(dir.Sub("nowhere.jsonl"))) << "the dangling link was followed";
  // rebuild --out: an existing directory (refused before too) and a dangling symlink.
  fs::create_directories(dir.Sub("existing"));
  fs::create_symlink(dir.Sub("no-dir"), dir.Sub("dangling-dir"));
  for (const std::string& out : {dir.Sub("existing"), dir.Sub("dangling-dir")}) {
    Ran r = Replay("rebuild --store " + store + kThroughHead + " --projection fees --out " + out + " --json");
    EXPECT_EQ(r.exit_code, 2) << out << ": " << r.out;
    const Json j = Json::parse(r.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << out << ": " << r.out;
    EXPECT_TRUE(j["usage_error"].get<bool>()) << r.out;
  }
  EXPECT_TRUE(fs::is_empty(dir.Sub("existing")));
  EXPECT_FALSE(fs::exists(dir.Sub("no-dir")));
  // export's --out names a file: 'dir/' is refused (rebuild's 'dir/' is dir).
  EXPECT_EQ(Replay("export --store " + store + kThroughHead + " --out " + dir.Sub("as-dir") + "/").exit_code, 2);
  EXPECT_FALSE(fs::exists(dir.Sub("as-dir")));
  // A new path is written, and only once.
  const std::string fresh = dir.Sub("fresh.jsonl");
  Ran first = Replay("export --store " + store + kThroughHead + " --out " + fresh + " --json");
  EXPECT_EQ(first.exit_code, 0) << first.out;
  const std::string written = testing_support::ReadAll(fresh);
  EXPECT_FALSE(written.empty());
  EXPECT_EQ(Replay("export --store " + store + kThroughHead + " --out " + fresh).exit_code, 2) << "a second export to the same path";
  EXPECT_EQ(testing_support::ReadAll(fresh), written);
  EXPECT_TRUE(PartialsIn(dir.path()).empty());
}

// An export that fails after it began writing (here: an event missing from the store)
// leaves nothing at --out, nor the partial it wrote beside it, and says so: it used to leave
// the part it wrote, for the auditor to delete before running again.
TEST(LedgerReplay, AnExportThatFailsLeavesNothingAtItsOut) {
  TempDir dir;
  const std::string store = dir.Sub("store");
  { testing_support::StoryLog log(store); }
  testing_support::RawStore(store).DeleteEvent(5);
  const std::string out = dir.Sub("events.jsonl");
  Ran r = Replay("export --store " + store + kThroughHead + " --out " + out + " --json");
  EXPECT_EQ(r.exit_code, 1) << r.out;
  const Json j = Json::parse(r.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << r.out;
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_NE(j["error"].get<std::string>().find("nothing was written to " + out), std::string::npos) << r.out;
  EXPECT_FALSE(std::filesystem::exists(std::filesystem::symlink_status(out)));
  EXPECT_TRUE(PartialsIn(dir.path()).empty());
}

// A store whose head is beyond its canonical mark, as a deposed writer's is (its tail was
// never known to be part of the log, and a rejoin sets it aside): digest, rebuild and
// export read through the mark and say what they left unread, under --json and to a
// person (stderr, so that digest's line stays as it was); --through head reads every stored
// event; verify checks them all and names the mark. Before the store has a mark, each of
// the three is a usage error naming --through head, never an empty result.
TEST(LedgerReplay, ReadsAStoreThroughItsCanonicalMarkAndSaysWhatLiesBeyondIt) {
  namespace fs = std::filesystem;
  TempDir dir;
  const std::string store = dir.Sub("store");
  uint64_t head = 0, mark = 0;
  {
    testing_support::StoryLog log(store, 5);
    head = log.store->head().position.value();
    auto batches = log.store->ReadBatchInfos(ledger::Position(1), 100000);
    ASSERT_TRUE(batches.ok());
    ASSERT_GT(batches->size(), 4u);
    mark = (*batches)[batches->size() / 2].last.value();  // a batch's end, so a command's
  }
  ASSERT_LT(mark, head);
  const uint64_t beyond = head - mark;
  const auto error_of = [](const Ran& r) {
    const Json j = Json::parse(r.out, nullptr, false);
    return j.is_object() && j.contains("error") ? j["error"].get<std::string>() : "(no error in " + r.out + ")";
  };

  // No mark yet (the store was never published): refused, naming --through head.
  for (const std::string& args : {"digest --store " + store + " --json",
                                  "rebuild --store " + store + " --projection fees --out " + dir.Sub("none") + " --json",
                                  "export --store " + store + " --out " + dir.Sub("none.jsonl") + " --json"}) {
    Ran r = Replay(args);
    EXPECT_EQ(r.exit_code, 2) << args << ": " << r.out;
    EXPECT_NE(r.out.find("\"usage_error\":true"), std::string::npos) << args << ": " << r.out;
    EXPECT_NE(error_of(r).find("no canonical mark"), std::string::npos) << args << ": " << r.out;
    EXPECT_NE(error_of(r).find("--through head"), std::string::npos) << args << ": " << r.out;
  }
  Ran to_stdout = Replay("export --store " + store);
  EXPECT_EQ(to_stdout.exit_code, 2);
  EXPECT_TRUE(to_stdout.out.empty()) << "an empty export stood for the store: " << to_stdout.out;
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir.Sub("none"))));
  EXPECT_FALSE(fs::exists(fs::symlink_status(dir.Sub("none.jsonl"))));
  EXPECT_TRUE(PartialsIn(dir.path()).empty());

  testing_support::RawStore(store).PutCanonicalMark(mark);  // confirmed through `mark`, no further

  // digest: the mark's; the head's only through the head; a position beyond the mark is
  // refused as one beyond the head is (3), naming --through head.
  Ran digest = Replay("digest --store " + store + " --json");
  ASSERT_EQ(digest.exit_code, 0) << digest.out;
  const Json d = Json::parse(digest.out);
  EXPECT_EQ(d["position"], mark);
  EXPECT_EQ(d["read_through"], "canonical");
  EXPECT_EQ(d["canonical_position"], mark);
  EXPECT_EQ(d["beyond_canonical"], beyond);
  Ran at_mark = Replay("digest --store " + store + " --through head --at " + std::to_string(mark) + " --json");
  ASSERT_EQ(at_mark.exit_code, 0) << at_mark.out;
  EXPECT_EQ(Json::parse(at_mark.out)["digest"], d["digest"]);
  Ran whole = Replay("digest --store " + store + " --through head --json");
  ASSERT_EQ(whole.exit_code, 0) << whole.out;
  EXPECT_EQ(Json::parse(whole.out)["position"], head);
  EXPECT_EQ(Json::parse(whole.out)["read_through"], "head");
  EXPECT_EQ(Json::parse(whole.out)["beyond_canonical"], 0);
  Ran past = Replay("digest --store " + store + " --at " + std::to_string(head) + " --json");
  EXPECT_EQ(past.exit_code, 3) << past.out;
  EXPECT_NE(error_of(past).find("--through head"), std::string::npos) << past.out;
  Ran told = testing_support::RunCommand(std::string(LEDGER_REPLAY_PATH) + " digest --store " + store + " 2>&1");
  EXPECT_EQ(told.exit_code, 0) << told.out;
  EXPECT_EQ(told.out.rfind(std::to_string(mark) + ":", 0), 0u) << "digest's line first, as before: " << told.out;
  EXPECT_NE(told.out.find(std::to_string(beyond) + " stored event"), std::string::npos) << told.out;
  EXPECT_NE(told.out.find("--through head"), std::string::npos) << told.out;

  // rebuild: as of the mark, the state a rebuild through the head has as of the mark.
  Ran canonical = Replay("rebuild --store " + store + " --projection fees --out " + dir.Sub("fees") + " --json");
  ASSERT_EQ(canonical.exit_code, 0) << canonical.out;
  const Json c = Json::parse(canonical.out);
  EXPECT_EQ(c["position"], mark);
  EXPECT_EQ(c["beyond_canonical"], beyond);
  Ran head_at_mark = Replay("rebuild --store " + store + " --through head --projection fees --as-of " +
                            std::to_string(mark) + " --out " + dir.Sub("fees-at-mark") + " --json");
  ASSERT_EQ(head_at_mark.exit_code, 0) << head_at_mark.out;
  EXPECT_EQ(Json::parse(head_at_mark.out)["digest"], c["digest"]);
  Ran all = Replay("rebuild --store " + store + " --through head --projection fees --out " + dir.Sub("fees-all") + " --json");
  ASSERT_EQ(all.exit_code, 0) << all.out;
  EXPECT_EQ(Json::parse(all.out)["position"], head);
  EXPECT_EQ(Json::parse(all.out)["beyond_canonical"], 0);
  Ran refused = Replay("rebuild --store " + store + " --projection fees --as-of " + std::to_string(head) + " --out " +
                       dir.Sub("fees-past") + " --json");
  EXPECT_EQ(refused.exit_code, 2) << refused.out;
  EXPECT_NE(error_of(refused).find("--through head"), std::string::npos) << refused.out;
  EXPECT_FALSE(fs::exists(dir.Sub("fees-past")));

  // export: events 1..mark, one line each.
  Ran exported = Replay("export --store " + store + " --out " + dir.Sub("canonical.jsonl") + " --json");
  ASSERT_EQ(exported.exit_code, 0) << exported.out;
  const Json e = Json::parse(exported.out);
  EXPECT_EQ(e["scanned"], mark);
  EXPECT_EQ(e["exported"], mark);
  EXPECT_EQ(e["beyond_canonical"], beyond);
  const std::string lines = testing_support::ReadAll(dir.Sub("canonical.jsonl"));
  EXPECT_EQ(static_cast<uint64_t>(std::count(lines.begin(), lines.end(), '\n')), mark);
  Ran everything = Replay("export --store " + store + " --through head --out " + dir.Sub("all.jsonl") + " --json");
  ASSERT_EQ(everything.exit_code, 0) << everything.out;
  EXPECT_EQ(Json::parse(everything.out)["exported"], head);
  EXPECT_EQ(testing_support::ReadAll(dir.Sub("all.jsonl")).rfind(lines, 0), 0u) << "the same events up to the mark";

  // verify: every stored event, and the mark named.
  Ran verify = Replay("verify --store " + store + " --json");
  ASSERT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_EQ(Json::parse(verify.out)["events"], head);
  EXPECT_EQ(Json::parse(verify.out)["canonical_position"], mark);
  Ran verify_text = Replay("verify --store " + store);
  EXPECT_NE(verify_text.out.find("canonical mark at position " + std::to_string(mark)), std::string::npos)
      << verify_text.out;
  EXPECT_EQ(Replay("digest --store " + store + " --through tip").exit_code, 2);
  EXPECT_EQ(Replay("verify --store " + store + " --through head").exit_code, 2) << "verify reads every stored event";
  EXPECT_TRUE(PartialsIn(dir.path()).empty());
}

// diff's text output: a key holding a newline, a terminal escape or bytes that are not
// UTF-8 is escaped, so each difference is always three lines; the position each side's
// store had applied is printed, and given under --json beside the fields it had.
TEST(LedgerReplay, DiffPrintsEachKeyOnOneLineAndTheStoresPositions) {
  TempDir dir;
  const std::vector<std::string> keys = {"two\nlines", "esc\x1b[2J", "bad\xffutf8"};
  std::vector<std::pair<std::string, Json>> left = {{"same", 1}};
  for (const std::string& key : keys) left.emplace_back(key, "left only");
  ASSERT_TRUE(testing_support::WriteProjectionCommit(dir.Sub("left"), "fees", 7, left).ok());
  ASSERT_TRUE(testing_support::WriteProjectionCommit(dir.Sub("right"), "fees", 5, {{"same", 1}}).ok());
  const std::string dirs = dir.Sub("left") + " " + dir.Sub("right");

  Ran text = Replay("diff " + dirs);
  EXPECT_EQ(text.exit_code, 1) << text.out;
  // The positions line, three lines a difference, the summary line: nothing else.
  EXPECT_EQ(static_cast<size_t>(std::count(text.out.begin(), text.out.end(), '\n')), 1 + 3 * keys.size() + 1) << text.out;
  EXPECT_NE(text.out.find("compared fees: left at position 7, right at position 5\n"), std::string::npos) << text.out;
  for (const char* line : {"fees two\\nlines\n", "fees esc\\x1b[2J\n", "fees bad\\xffutf8\n"})
    EXPECT_NE(text.out.find(line), std::string::npos) << line << " in\n" << text.out;
  EXPECT_EQ(text.out.find('\x1b'), std::string::npos) << "a terminal escape printed raw";

  Ran json = Replay("diff " + dirs + " --json");
  EXPECT_EQ(json.exit_code, 1) << json.out;
  const Json j = Json::parse(json.out, nullptr, false);
  ASSERT_TRUE(j.is_object()) << json.out;
  EXPECT_FALSE(j["ok"].get<bool>());
  EXPECT_EQ(j["differences"], keys.size());
  EXPECT_EQ(j["compared"], Json::array({"fees"}));
  EXPECT_EQ(j["positions"]["fees"]["left"], 7);
  EXPECT_EQ(j["positions"]["fees"]["right"], 5);
  std::set<std::string> in_json;
  for (const Json& d : j["first"]) in_json.insert(d["key"].get<std::string>());
  // JSON escapes what it must; bytes that are not UTF-8 show as U+FFFD.
  EXPECT_EQ(in_json, (std::set<std::string>{"two\nlines", "esc\x1b[2J", "bad\xef\xbf\xbdutf8"})) << json.out;
}

// SIGTERM (or SIGINT) stops ledger-replay cleanly: the scratch directory is removed (it was
// left behind), the exit status is 3, --json prints its one object saying it was
// interrupted, and a rebuild's or an export's --out is not created, nor left as a partial
// beside it, and the message says nothing was written there. Deterministic without a hook:
// with no broker answering and an hour's --kafka-timeout-ms, the command waits inside its
// scratch directory until it is told to stop. (A stop once the output is begun, which must
// remove its partial, is ReplayTest's: a stop asked for at the last step.)
TEST(LedgerReplay, SigtermOrSigintStopsCleanlyAndRemovesTheScratchDirectory) {
  namespace fs = std::filesystem;
  struct sigaction sigint_now {};
  ::sigaction(SIGINT, nullptr, &sigint_now);
  // A SIGINT this test process ignores is ignored by the child too (ledger-replay keeps
  // an inherited SIG_IGN, as a background job's), so it is tried only when it can arrive.
  std::vector<std::pair<int, std::string>> runs = {{SIGTERM, "rebuild --projection fees --out OUT"},
                                                   {SIGTERM, "export --out OUT"}};
  if (sigint_now.sa_handler != SIG_IGN) runs.push_back({SIGINT, "verify"});
  for (const auto& [signal_number, command] : runs) {
    TempDir dir;
    const std::string tmp = dir.Sub("tmp"), out = dir.Sub("out");
    fs::create_directories(tmp);
    std::vector<std::string> args = {"TMPDIR=" + tmp, LEDGER_REPLAY_PATH};
    std::istringstream words(command);
    for (std::string w; words >> w;) args.push_back(w == "OUT" ? out : w);
    for (const char* a : {"--kafka", "127.0.0.1:1", "--kafka-timeout-ms", "3600000", "--json"}) args.push_back(a);
    // env(1) execs ledger-replay in its own place: the signal goes to ledger-replay itself.
    testing_support::ChildProcess child("/usr/bin/env", args, dir.Sub("replay.log"));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (fs::is_empty(tmp) && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));  // polling for the scratch directory
    ASSERT_FALSE(fs::is_empty(tmp)) << "no scratch directory: " << testing_support::ReadAll(dir.Sub("replay.log"));
    const int status = child.StopWith(signal_number, 30000);
    const std::string log = testing_support::ReadAll(dir.Sub("replay.log"));
    ASSERT_NE(status, -1) << command << ": still running after the signal\n" << log;
    ASSERT_TRUE(WIFEXITED(status)) << command << ": ended by the signal, not stopped cleanly\n" << log;
    EXPECT_EQ(WEXITSTATUS(status), 3) << command << "\n" << log;
    EXPECT_TRUE(fs::is_empty(tmp)) << command << ": the scratch directory was left behind";
    EXPECT_FALSE(fs::exists(fs::symlink_status(out))) << command;
    EXPECT_TRUE(PartialsIn(dir.path()).empty()) << command;
    // The log holds stdout's JSON object and stderr's line; the object is the line with '{'.
    std::istringstream lines(log);
    std::string line, object;
    while (std::getline(lines, line))
      if (line.rfind("{", 0) == 0) object = line;
    const Json j = Json::parse(object, nullptr, false);
    ASSERT_TRUE(j.is_object()) << command << "\n" << log;
    EXPECT_FALSE(j["ok"].get<bool>());
    EXPECT_TRUE(j["interrupted"].get<bool>()) << log;
    EXPECT_NE(j["error"].get<std::string>().find(signal_number == SIGINT ? "SIGINT" : "SIGTERM"), std::string::npos) << log;
    if (command.find("OUT") != std::string::npos) {
      EXPECT_NE(j["error"].get<std::string>().find("nothing was written to " + out), std::string::npos) << log;
    }
  }
}

// A flag the command does not take is named as unknown, also last on the line (it was said
// to need a value); a data directory without the shard asked for is named as such (the error
// named "DIR/CURRENT", a path nobody gave) (DECISIONS 108).
TEST(LedgerReplay, UnknownFlagsAndMissingShardsAreNamed) {
  TempDir dir;
  const std::string data = dir.Sub("data");
  { testing_support::StoryLog log(data + "/shard-0"); }
  for (const std::string& args :
       std::vector<std::string>{"verify --store " + data + " --json --bogus", "verify --store " + data + " --bogus x --json"}) {
    Ran r = Replay(args);
    EXPECT_EQ(r.exit_code, 2) << args;
    const Json j = Json::parse(r.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << args << ": " << r.out;
    EXPECT_EQ(j["error"].get<std::string>().rfind("unknown flag --bogus", 0), 0u) << r.out;
  }
  // A flag the command takes, without its value, still says so.
  Ran missing = Replay("verify --json --store");
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_EQ(Json::parse(missing.out)["error"], "--store needs a value") << missing.out;
  // Shard 1 of a data directory that holds shard 0 only: could not finish (3), naming both.
  Ran other_shard = Replay("verify --store " + data + " --shard 1 --json");
  EXPECT_EQ(other_shard.exit_code, 3) << other_shard.out;
  const std::string error = Json::parse(other_shard.out)["error"].get<std::string>();
  EXPECT_NE(error.find("shard 1"), std::string::npos) << error;
  EXPECT_NE(error.find(data + "/shard-1"), std::string::npos) << error;
  EXPECT_EQ(error.find("CURRENT"), std::string::npos) << error;
  EXPECT_EQ(Replay("verify --store " + data).exit_code, 0) << "shard 0 of it is there";
  EXPECT_EQ(Replay("verify --store " + data + "/shard-0").exit_code, 0) << "and is a shard's store itself";
}

// help --json (and --help --json) answers one JSON object, as every other command does
// under --json (it printed the text).
TEST(LedgerReplay, HelpUnderJsonIsOneJsonObject) {
  for (const std::string& args : std::vector<std::string>{"help --json", "--help --json"}) {
    Ran r = Replay(args);
    EXPECT_EQ(r.exit_code, 0) << args;
    const Json j = Json::parse(r.out, nullptr, false);
    ASSERT_TRUE(j.is_object()) << args << ": " << r.out;
    EXPECT_TRUE(j["ok"].get<bool>());
    EXPECT_EQ(j["usage"].get<std::string>().rfind("usage: ledger-replay verify", 0), 0u) << r.out;
    std::set<std::string> names;
    for (const Json& c : j["commands"]) {
      names.insert(c["name"].get<std::string>());
      EXPECT_TRUE(c["flags"].is_array()) << c.dump();
    }
    EXPECT_EQ(names, (std::set<std::string>{"verify", "digest", "rebuild", "diff", "export", "help"})) << r.out;
    for (const Json& c : j["commands"]) {  // the commands that read a store up to a bound
      const std::string name = c["name"].get<std::string>();
      const bool through = std::find(c["flags"].begin(), c["flags"].end(), "--through") != c["flags"].end();
      EXPECT_EQ(through, name == "digest" || name == "rebuild" || name == "export") << c.dump();
    }
    EXPECT_EQ(j["exit_codes"].size(), 4u) << r.out;
  }
  Ran text = Replay("help");
  EXPECT_EQ(text.exit_code, 0);
  EXPECT_EQ(text.out.rfind("usage: ledger-replay", 0), 0u) << "without --json, the text: " << text.out;
}

}  // namespace


// The auditor's whole story: the writer publishes digests of its log, a `digests`
// subscriber receives one as a signed webhook, and ledger-replay checks the live node's
// store (read beside it, as a secondary instance) against that digest.
TEST(LedgerReplay, TheWritersDigestReachesASubscriberAndVerifiesTheLiveLog) {
  using namespace testing_support;
  TempDir dir;
  const std::string data = dir.Sub("data");
  const std::string key_file = dir.Sub("secrets.key");
  {
    std::ofstream(key_file) << std::string(64, 'd') << "\n";
  }
  ::chmod(key_file.c_str(), 0600);
  HttpSink sink;
  const int port = FreeLoopbackPort();
  ChildProcess node(LEDGERD_PATH,
                    {"--data", data, "--http", "127.0.0.1:" + std::to_string(port), "--secrets-key-file", key_file,
                     "--allow-private-webhooks", "--digest-every-s", "1"},
                    dir.Sub("node.log"));
  ASSERT_TRUE(WaitForStatus(port, "/health/ready", 200, 20000)) << ReadAll(dir.Sub("node.log"));
  std::string admin = ReadAdminKey(data);
  const std::vector<std::pair<std::string, std::string>> as_admin = {{"Authorization", "Bearer " + admin}};
  const std::string auditor = Json::parse(HttpCall(port, "POST", "/v1/keys", as_admin, R"({"role":"auditor"})").body)["key"];
  const std::vector<std::pair<std::string, std::string>> as_auditor = {{"Authorization", "Bearer " + auditor}};
  HttpReply sub = HttpCall(port, "POST", "/v1/subscribers", as_auditor,
                           Json{{"subscriber_id", "audit"}, {"url", "http://127.0.0.1:" + std::to_string(sink.port()) + "/d"},
                                {"secret", "whsec-auditor-0123456789"}, {"topics", {"digests"}}}
                               .dump());
  ASSERT_EQ(sub.status, 201) << sub.body;
  ASSERT_TRUE(sink.WaitFor(1, 20000)) << "no digest was delivered";
  const Json delivered = Json::parse(sink.received()[0].body);
  ASSERT_EQ(delivered["topic"], "digests") << delivered.dump();
  // Told the id the auditor chose, not its "Auditors:" scope in the log (DECISIONS 108).
  EXPECT_EQ(delivered["notification_id"].get<std::string>().rfind("audit:", 0), 0u) << delivered.dump();
  const uint64_t position = delivered["event"]["digest_position"].get<uint64_t>();
  const std::string hash = delivered["event"]["hash"].get<std::string>();
  ASSERT_GT(position, 0u);
  const std::string headers = sink.received()[0].headers;
  EXPECT_NE(headers.find("x-ledger-signature:"), std::string::npos) << headers;
  EXPECT_NE(headers.find("v1="), std::string::npos) << headers;
  // An idle log gets no more digests (with one a second, three seconds would bring three).
  auto digests = [&]() -> long {  // -1 when the read failed (so the checks below fail too)
    HttpReply stream = HttpCall(port, "GET", "/v1/streams/digest%2Fshard-0", as_auditor, "");
    return stream.status == 200 ? static_cast<long>(Json::parse(stream.body)["events"].size()) : -1;
  };
  const long first = digests();
  EXPECT_GE(first, 1);
  std::this_thread::sleep_for(std::chrono::seconds(3));  // an absence: three digest periods
  const long later = digests();
  EXPECT_GE(later, first);
  EXPECT_LE(later, first + 1) << "digests of nothing but digests";

  // The live store, read beside the running node, against the delivered digest.
  const std::string kept = std::to_string(position) + ":" + hash;
  Ran verify = Replay("verify --store " + data + " --against " + kept + " --json");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_TRUE(Json::parse(verify.out)["ok"].get<bool>());
  // A digest the log never had: 1, at that position.
  const std::string wrong = std::to_string(position) + ":" + std::string(64, '0');
  Ran mismatch = Replay("verify --store " + data + " --against " + wrong + " --json");
  EXPECT_EQ(mismatch.exit_code, 1);
  EXPECT_EQ(Json::parse(mismatch.out)["first_bad_position"], position);
  ASSERT_NE(node.StopWith(SIGTERM, 15000), -1);
}

// Replay from Kafka instead of a store: the dev broker's ledger.events, read through the
// shared log reader, holds the same log as the writer's store.
TEST(LedgerReplay, TheKafkaTopicReplaysToTheSameLogAsTheWritersStore) {
  using namespace testing_support;
  TempDir dir;
  DevBroker broker(LEDGERD_PATH, dir.path());
  const std::string bootstrap = broker.bootstrap;
  ASSERT_FALSE(bootstrap.empty()) << ReadAll(dir.Sub("broker.log"));
  const std::string data = dir.Sub("data");
  const int port = FreeLoopbackPort();
  {
    ChildProcess node(LEDGERD_PATH, {"--data", data, "--http", "127.0.0.1:" + std::to_string(port), "--kafka", bootstrap},
                      dir.Sub("node.log"));
    ASSERT_TRUE(WaitForStatus(port, "/health/ready", 200, 20000)) << ReadAll(dir.Sub("node.log"));
    std::string admin = ReadAdminKey(data);
    for (int i = 0; i < 5; ++i)
      ASSERT_EQ(HttpCall(port, "POST", "/v1/keys", {{"Authorization", "Bearer " + admin}},
                         R"({"role":"merchant","merchant_id":"m)" + std::to_string(i) + R"("})")
                    .status,
                201);
    ASSERT_NE(node.StopWith(SIGTERM, 15000), -1);
  }
  Ran from_store = Replay("digest --store " + data + " --json");
  Ran from_kafka = Replay("digest --kafka " + bootstrap + " --json");
  ASSERT_EQ(from_store.exit_code, 0);
  ASSERT_EQ(from_kafka.exit_code, 0) << from_kafka.out;
  EXPECT_EQ(Json::parse(from_kafka.out)["digest"], Json::parse(from_store.out)["digest"]);
  // A copy from the topic is canonical throughout: nothing in it lies beyond its mark.
  EXPECT_EQ(Json::parse(from_kafka.out)["beyond_canonical"], 0) << from_kafka.out;
  Ran verify = Replay("verify --kafka " + bootstrap + " --json");
  EXPECT_EQ(verify.exit_code, 0) << verify.out;
  EXPECT_EQ(Replay("verify --kafka " + bootstrap + " --store " + data).exit_code, 2) << "one source at a time";
  ASSERT_NE(broker.process.StopWith(SIGTERM, 15000), -1);
}
