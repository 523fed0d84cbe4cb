// ledger-replay: the auditors' tool (DESIGN §10).
//
//   ledger-replay verify  --store DIR [--shard N] [--against POSITION:HASH ...] [--json]
//   ledger-replay digest  --store DIR [--shard N] [--at POSITION] [--through canonical|head] [--json]
//   ledger-replay rebuild --store DIR [--shard N] --projection NAME [--as-of POSITION|TIME] --out DIR
//                         [--through canonical|head] [--json]
//   ledger-replay diff    LEFT_DIR RIGHT_DIR [--projection NAME] [--limit N] [--json]
//   ledger-replay export  --store DIR [--shard N] [--format jsonl|csv] [--stream-prefix P] [--type T]
//                         [--tenant M] [--from TIME] [--to TIME] [--through canonical|head] [--out FILE [--json]]
//   ledger-replay help    [--json]
//
// --store is a node's data directory (its shard-N inside is used) or a shard's store; it is
// opened read-only (a RocksDB secondary instance), so it may run beside the live node.
// Instead of --store, --kafka BOOTSTRAP [--kafka-property K=V ...] reads the shard's
// partition of ledger.events through the shared log reader into a scratch copy.
// digest, rebuild and export read a store through its canonical mark (DESIGN §6): what a
// writer stored beyond it is not known to be part of the log (a rejoin sets it aside), and
// is counted, not read. --through head reads every stored event (a store never published
// to Kafka; a stopped node whose mark lags). A store holding events and no mark is a usage
// error naming --through head. verify checks every stored event and names the mark.
// POSITION is "35" or the token "0:35" that /v1/audit/digest gives (its shard must be
// --shard's); positions start at 1. TIME is UTC, "2026-11-26T10:00:00Z", and no later than
// the log's last event. A progress line on a terminal; --json prints one JSON object on
// stdout on every exit path (usage errors too). Every flag but --against and
// --kafka-property is given at most once. --out (rebuild's DIR, export's FILE) must not
// exist, not even as a symlink: nothing is overwritten and no link followed. It is written
// under a hidden name beside it and appears only when whole (replay/out_file.h). Exit
// status: 0 intact (or done), 1 integrity failure (the first bad position is named) or
// differences found by diff, 2 usage, 3 anything else (the store cannot be opened or read,
// no Kafka broker answers, stopped by SIGTERM or SIGINT: the scratch directory removed;
// --out appeared meanwhile). A command that does not finish leaves nothing at --out.
#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "ledger/clock.h"
#include "ledger/position_token.h"
#include "replay/out_file.h"
#include "replay/progress_bar.h"
#include "replay/replay.h"

// The flags each command takes with a value (defined below, beside KnownFlags).
const std::map<std::string, std::set<std::string>>& CommandFlags();

namespace {

using Json = nlohmann::json;
constexpr int kIntact = 0, kIntegrity = 1, kUsage = 2, kFailed = 3;

const char* kUsageText =
    "usage: ledger-replay verify  --store DIR [--shard N] [--against POSITION:HASH ...] [--json]\n"
    "       (every command takes --kafka BOOTSTRAP [--kafka-property K=V ...] [--kafka-timeout-ms N] instead of --store)\n"
    "       ledger-replay digest  --store DIR [--shard N] [--at POSITION] [--through canonical|head] [--json]\n"
    "       ledger-replay rebuild --store DIR [--shard N] --projection NAME [--as-of POSITION|TIME] --out DIR\n"
    "                             [--through canonical|head] [--json]\n"
    "       ledger-replay diff    LEFT_DIR RIGHT_DIR [--projection NAME] [--limit N] [--json]\n"
    "       ledger-replay export  --store DIR [--shard N] [--format jsonl|csv] [--stream-prefix P] [--type T]\n"
    "                             [--tenant M] [--from TIME] [--to TIME] [--through canonical|head] [--out FILE [--json]]\n"
    "       ledger-replay help    [--json]\n"
    "       POSITION: 35 or SHARD:35 (as /v1/audit/digest gives it); TIME: 2026-11-26T10:00:00Z\n"
    "       --out DIR|FILE must not exist yet (nor be a symlink); it appears only when complete\n"
    "       --through canonical (default): a store is read through its canonical mark, never past it;\n"
    "       head: every stored event (a store never published to Kafka, or one whose mark lags)\n"
    "       exit: 0 intact or done, 1 integrity failure or differences, 2 usage, 3 could not finish\n";

// Whether --json is anywhere on the command line, set by main before anything can fail, so
// that a usage error found while parsing still answers a machine in JSON.
bool g_json = false;

// SIGTERM and SIGINT ask the command to stop: the handler only records which signal and
// sets the flag every operation's loops check (replay::StopFlag); the operation then returns
// ShuttingDown and the command returns through main like any failure, so the scratch
// directory is removed and --json still prints its one object. Nothing else is safe in a
// handler (no allocation, no locks, no stdio).
std::atomic<bool> g_stop{false};
std::atomic<int> g_stop_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free,
              "a signal handler may touch only lock-free atomics");

void OnStopSignal(int signal_number) {
  g_stop_signal.store(signal_number, std::memory_order_relaxed);
  g_stop.store(true, std::memory_order_relaxed);
}

// SA_RESETHAND: a second signal ends the process the default way, should the first be
// slow to take effect (a Kafka client closing). SA_RESTART: system calls the signal
// interrupts (RocksDB's, librdkafka's) go on. A signal ignored when the program started
// stays ignored (a shell starts background jobs with SIGINT ignored, so that a Ctrl-C
// meant for the foreground does not reach them).
void CatchStopSignal(int signal_number) {
  struct sigaction current {};
  if (::sigaction(signal_number, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) return;
  struct sigaction action {};
  action.sa_handler = OnStopSignal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART | SA_RESETHAND;
  ::sigaction(signal_number, &action, nullptr);
}

int Usage(const std::string& why) {
  if (g_json) std::cout << Json{{"ok", false}, {"error", why}, {"usage_error", true}}.dump() << "\n";
  std::fprintf(stderr, "ledger-replay: %s\n%s", why.c_str(), kUsageText);
  return kUsage;
}

// Whether `s` is an operation's answer to the stop a signal asked for.
bool Stopped(const ledger::Status& s) { return s.code() == ledger::Code::kShuttingDown && g_stop.load(); }

// What a command that did not finish says about its --out ("" when it has none): it was
// built under a hidden name beside --out, now removed, so nothing is there to delete.
std::string NothingWrittenTo(const std::string& out) {
  return out.empty() ? "" : "; nothing was written to " + out;
}

// A command stopped by SIGTERM or SIGINT: exit 3, as for anything that could not finish.
// `out` names the command's --out ("" when none).
int Interrupted(bool json, const std::string& out) {
  std::string why = std::string("interrupted by ") + (g_stop_signal.load() == SIGINT ? "SIGINT" : "SIGTERM");
  why += NothingWrittenTo(out);
  if (json) std::cout << Json{{"ok", false}, {"error", why}, {"interrupted", true}}.dump() << "\n";
  std::fprintf(stderr, "ledger-replay: %s\n", why.c_str());
  return kFailed;
}

int Failed(const ledger::Status& s, bool json) {
  if (Stopped(s)) return Interrupted(json, "");
  const int code = s.code() == ledger::Code::kCorruption ? kIntegrity : kFailed;
  if (json) std::cout << Json{{"ok", false}, {"error", s.ToString()}}.dump() << "\n";
  std::fprintf(stderr, "ledger-replay: %s\n", s.ToString().c_str());
  return code;
}

// A rebuild or export that did not finish, `out` its --out ("" when none): a usage error
// (InvalidArgument, found before anything was written) stays one; any other failure, a
// stop included, says that nothing was written to --out.
int FailedOut(const ledger::Status& s, bool json, const std::string& out) {
  if (Stopped(s)) return Interrupted(json, out);
  if (s.code() == ledger::Code::kInvalidArgument) return Usage(s.message());
  return Failed(ledger::Status(s.code(), s.message() + NothingWrittenTo(out)), json);
}

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;
  std::vector<std::string> against;                                   // --against, repeatable
  std::vector<std::pair<std::string, std::string>> kafka_properties;  // --kafka-property K=V, repeatable
  bool json = false;
};

// Whether `command` takes `flag` with a value (--kafka-property goes with --kafka). A
// command not in CommandFlags (help, or an unknown one, reported as such) takes any.
bool TakesFlag(const std::string& command, const std::string& flag) {
  const auto it = CommandFlags().find(command);
  if (it == CommandFlags().end()) return true;
  return it->second.count(flag) > 0 || (flag == "--kafka-property" && it->second.count("--kafka") > 0);
}

// Flags take one value each, except --json. --against and --kafka-property may be given
// several times; any other flag given twice is refused: the last value silently winning
// let `--against GOOD --against BAD` check only one of them. A flag the command does not
// take is named as unknown before its value is looked for: `--bogus` last on the line was
// said to need a value.
bool Parse(int argc, char** argv, Args* a, std::string* error) {
  const std::string command = argv[1];
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      if (a->json) {
        *error = "--json given twice";
        return false;
      }
      a->json = true;
    } else if (arg.rfind("--", 0) == 0) {
      if (!TakesFlag(command, arg)) {
        *error = "unknown flag " + arg + " (" + command + " takes no such flag; see ledger-replay help)";
        return false;
      }
      if (i + 1 >= argc) {
        *error = arg + " needs a value";
        return false;
      }
      const std::string value = argv[++i];
      if (arg == "--kafka-property") {
        const size_t eq = value.find('=');
        if (eq == std::string::npos || eq == 0) {
          *error = "--kafka-property takes KEY=VALUE";
          return false;
        }
        a->kafka_properties.emplace_back(value.substr(0, eq), value.substr(eq + 1));
      } else if (arg == "--against") {
        a->against.push_back(value);
      } else if (!a->flags.emplace(arg, value).second) {
        *error = arg + " given twice";
        return false;
      }
    } else {
      a->positional.push_back(arg);
    }
  }
  return true;
}

bool ParseNumber(const std::string& s, uint64_t* out) {
  if (s.empty() || s.size() > 19) return false;
  uint64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  *out = v;
  return true;
}

// --shard, 0 when not given. InvalidArgument (a usage error) when it is not a shard number.
ledger::Status ShardArg(const Args& a, uint32_t* shard) {
  *shard = 0;
  if (!a.flags.count("--shard")) return ledger::Status::Ok();
  uint64_t v = 0;
  if (!ParseNumber(a.flags.at("--shard"), &v) || v > UINT32_MAX) return ledger::Status::InvalidArgument("--shard takes a number");
  *shard = static_cast<uint32_t>(v);
  return ledger::Status::Ok();
}

// --through, canonical when not given: a store is read through its canonical mark (DESIGN
// §6) unless every stored event is asked for. InvalidArgument (a usage error) otherwise.
ledger::Status ThroughArg(const Args& a, replay::Through* through) {
  *through = replay::Through::kCanonical;
  if (!a.flags.count("--through")) return ledger::Status::Ok();
  const std::string& value = a.flags.at("--through");
  if (value == "head") *through = replay::Through::kHead;
  else if (value != "canonical") return ledger::Status::InvalidArgument("--through takes canonical or head");
  return ledger::Status::Ok();
}

// What a read bounded by --through covered, for --json: how far it read ("read_through":
// verify's "through" is already a position), the store's mark, and how many stored events
// beyond the mark it left unread.
void AddBound(const replay::ReadBound& bound, Json* j) {
  (*j)["read_through"] = bound.through == replay::Through::kHead ? "head" : "canonical";
  (*j)["canonical_position"] = bound.canonical.value();
  (*j)["beyond_canonical"] = bound.beyond_canonical();
}

// The same for a person, when the read ran to its end (no --at or --as-of: a position
// asked for reads the same whatever lies beyond the mark): on stderr, so that digest's line
// and export's events on stdout stay as they are. Silent when nothing was left unread.
void SayBeyondCanonical(const replay::ReadBound& bound) {
  if (bound.beyond_canonical() == 0) return;
  std::fflush(stdout);  // after what stdout carries, when both go to one place
  const uint64_t beyond = bound.beyond_canonical();
  std::fprintf(stderr,
               "read through the canonical mark at position %llu; %llu stored event%s beyond it not read "
               "(not known to be part of the log; --through head reads %s)\n",
               static_cast<unsigned long long>(bound.canonical.value()), static_cast<unsigned long long>(beyond),
               beyond == 1 ? "" : "s", beyond == 1 ? "it" : "them");
}

// Whether `s` is written as a position ("123" or "0:123") rather than a time (which has
// '-' and 'T' in it).
bool LooksLikePosition(const std::string& s) {
  return !s.empty() && s.find_first_not_of("0123456789:") == std::string::npos;
}

// A shard's token prefix must name the shard being read: "1:10" read as position 10 of
// shard 0 would name an event of another log.
ledger::Status CheckShard(const std::string& flag, const std::string& text, uint64_t token_shard, uint32_t shard) {
  if (token_shard == shard) return ledger::Status::Ok();
  return ledger::Status::InvalidArgument(flag + " " + text + " names a position of shard " + std::to_string(token_shard) +
                                         ", and the store read is shard " + std::to_string(shard) + " (see --shard)");
}

// `flag`'s value as a position: "123", or the shard:position token "0:123" that
// /v1/audit/digest hands auditors. Position 0 is refused: it used to mean "the head"
// silently, which is what leaving the flag out says. InvalidArgument (a usage error).
ledger::Status ParsePosition(const std::string& flag, const std::string& text, uint32_t shard, ledger::Position* out) {
  uint64_t v = 0;
  if (text.find(':') == std::string::npos) {
    if (!ParseNumber(text, &v)) return ledger::Status::InvalidArgument(flag + " takes a position (123 or SHARD:123)");
  } else {
    auto token = ledger::ParsePositionToken(text);
    if (!token.ok()) return ledger::Status::InvalidArgument(flag + " takes a position (123 or SHARD:123)");
    LEDGER_RETURN_IF_ERROR(CheckShard(flag, text, token->shard.value(), shard));
    v = token->position.value();
  }
  if (v == 0)
    return ledger::Status::InvalidArgument(flag + " 0 names no event: positions start at 1 (leave " + flag +
                                           " out for the head)");
  *out = ledger::Position(v);
  return ledger::Status::Ok();
}

// A kept digest: "POSITION:HASH" as digest prints it, or "SHARD:POSITION:HASH" (the token
// and hash /v1/audit/digest gives), whose shard must be the one read.
ledger::Status ParseKept(const std::string& text, uint32_t shard, replay::KeptDigest* out) {
  std::string rest = text;
  const size_t first = text.find(':');
  if (first != std::string::npos && text.find(':', first + 1) != std::string::npos) {
    uint64_t token_shard = 0;
    if (!ParseNumber(text.substr(0, first), &token_shard))
      return ledger::Status::InvalidArgument("--against takes [SHARD:]POSITION:HASH (64 hex digits), as digest prints it");
    LEDGER_RETURN_IF_ERROR(CheckShard("--against", text, token_shard, shard));
    rest = text.substr(first + 1);
  }
  auto kept = replay::ParseKeptDigest(rest);
  if (!kept)
    return ledger::Status::InvalidArgument("--against takes [SHARD:]POSITION:HASH (64 hex digits, position from 1), "
                                           "as digest prints it");
  *out = *kept;
  return ledger::Status::Ok();
}

// "2026-11-26T10:00:00Z" (with microseconds when it has them), as --as-of takes it.
std::string FormatUtc(int64_t us) {
  const std::time_t seconds = static_cast<std::time_t>(us / 1000000);
  std::tm tm{};
  ::gmtime_r(&seconds, &tm);
  char text[64];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  std::string out = text;
  if (const long long fraction = static_cast<long long>(us % 1000000); fraction > 0) {
    std::snprintf(text, sizeof text, ".%06lld", fraction);
    out += text;
  }
  return out + "Z";
}

// A store opened read-only with a scratch directory of its own (a Kafka copy lives there
// too), removed at the end: every command returns through main, so the destructor runs on
// every exit path, errors and timeouts included.
struct OpenStore {
  std::unique_ptr<ledger::EventStore> store;
  std::string scratch;
  ~OpenStore() {
    store.reset();
    std::error_code ec;
    if (!scratch.empty()) std::filesystem::remove_all(scratch, ec);
  }
};

// The store --store names for `shard`: a node's data directory's shard-N, or --store itself
// when it is a shard's store (RocksDB's CURRENT file in it). A data directory without that
// shard is named as such: RocksDB's own "DIR/CURRENT: No such file" named a path nobody gave.
ledger::Result<std::string> ShardStoreDir(const std::string& given, uint32_t shard) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const std::string inside = (fs::path(given) / ("shard-" + std::to_string(shard))).string();
  if (fs::exists(inside, ec)) return inside;  // a node's data directory
  if (fs::exists(fs::path(given) / "CURRENT", ec)) return given;  // a shard's store
  if (!fs::is_directory(given, ec)) return ledger::Status::NotFound("--store " + given + ": no such directory");
  return ledger::Status::NotFound("--store " + given + " holds no store of shard " + std::to_string(shard) + ": " +
                                  inside + " does not exist, and " + given + " is not a shard's store itself");
}

ledger::Status Open(const Args& a, OpenStore* out) {
  auto it = a.flags.find("--store");
  const bool kafka = a.flags.count("--kafka") > 0;
  if ((it == a.flags.end()) == !kafka) return ledger::Status::InvalidArgument("give --store DIR or --kafka BOOTSTRAP");
  uint32_t shard = 0;
  LEDGER_RETURN_IF_ERROR(ShardArg(a, &shard));
  // Under $TMPDIR when set (an auditor's machine may keep /tmp small; tests look inside).
  const char* tmp = std::getenv("TMPDIR");
  const std::string parent = tmp != nullptr && *tmp != '\0' ? tmp : "/tmp";
  std::string scratch = parent + "/ledger-replay-XXXXXX";
  if (::mkdtemp(scratch.data()) == nullptr) return ledger::Status::IOError("cannot create a scratch directory in " + parent);
  out->scratch = scratch;
  if (kafka) {
    replay::KafkaSource source;
    source.bootstrap = a.flags.at("--kafka");
    source.properties = a.kafka_properties;
    source.shard = shard;
    source.stop = &g_stop;
    if (a.flags.count("--kafka-timeout-ms")) {  // how long a broker may take to answer at all
      uint64_t ms = 0;
      if (!ParseNumber(a.flags.at("--kafka-timeout-ms"), &ms) || ms < 100 || ms > 3600000)
        return ledger::Status::InvalidArgument("--kafka-timeout-ms takes milliseconds from 100 to 3600000");
      source.answer_timeout_ms = static_cast<int>(ms);
    }
    replay::ProgressBar bar("reading Kafka");
    auto copy = replay::CopyFromKafka(source, out->scratch, [&bar](uint64_t done, uint64_t) { bar.Update(done, 0); });
    if (!copy.ok()) return copy.status();
    out->store = std::move(copy).value();
    return ledger::Status::Ok();
  }
  auto dir = ShardStoreDir(it->second, shard);
  if (!dir.ok()) return dir.status();
  auto store = replay::OpenForReplay(*dir, out->scratch, shard);
  if (!store.ok()) return store.status();
  out->store = std::move(store).value();
  return ledger::Status::Ok();
}

int Verify(const Args& a) {
  replay::VerifyOptions o;
  uint32_t shard = 0;
  if (auto st = ShardArg(a, &shard); !st.ok()) return Usage(st.message());
  for (const std::string& text : a.against) {  // every one is checked, in position order
    replay::KeptDigest kept;
    if (auto st = ParseKept(text, shard, &kept); !st.ok()) return Usage(st.message());
    o.against.push_back(kept);
  }
  OpenStore s;
  if (auto st = Open(a, &s); !st.ok())
    return st.code() == ledger::Code::kInvalidArgument ? Usage(st.message()) : Failed(st, a.json);
  replay::ProgressBar bar("verify");
  o.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  o.stop = &g_stop;
  auto r = replay::Verify(*s.store, o);
  if (!r.ok()) return Failed(r.status(), a.json);
  if (a.json) {
    Json j = {{"ok", r->intact}, {"events", r->events}, {"through", r->through.value()},
              {"through_hash", ledger::ToHex(r->through_hash)}, {"canonical_position", r->canonical_position.value()}};
    if (!r->intact) j["first_bad_position"] = r->first_bad.value(), j["reason"] = r->reason;
    std::cout << j.dump() << "\n";
  }
  if (!r->intact) {
    std::fprintf(stderr, "NOT INTACT: first bad position %llu: %s\n", static_cast<unsigned long long>(r->first_bad.value()),
                 r->reason.c_str());
    return kIntegrity;
  }
  if (!a.json) {
    // Every stored event was checked; the mark says how much of it is known to be the log.
    const uint64_t mark = r->canonical_position.value();
    const std::string canonical = mark == 0 ? "no canonical mark" : "canonical mark at position " + std::to_string(mark);
    std::printf("intact: %llu events, through %s; %s\n", static_cast<unsigned long long>(r->events),
                replay::FormatDigest({r->through, r->through_hash, 0}).c_str(), canonical.c_str());
  }
  return kIntact;
}

int Digest(const Args& a) {
  ledger::Position at(0);  // the last position read: the canonical mark (or the head, --through head)
  uint32_t shard = 0;
  if (auto st = ShardArg(a, &shard); !st.ok()) return Usage(st.message());
  replay::Through through = replay::Through::kCanonical;
  if (auto st = ThroughArg(a, &through); !st.ok()) return Usage(st.message());
  if (a.flags.count("--at"))
    if (auto st = ParsePosition("--at", a.flags.at("--at"), shard, &at); !st.ok()) return Usage(st.message());
  OpenStore s;
  if (auto st = Open(a, &s); !st.ok())
    return st.code() == ledger::Code::kInvalidArgument ? Usage(st.message()) : Failed(st, a.json);
  // For the report (DigestAt bounds itself the same way). No mark: a usage error naming
  // --through head.
  auto bound = replay::BoundOf(*s.store, through);
  if (!bound.ok()) return FailedOut(bound.status(), a.json, "");
  auto d = replay::DigestAt(*s.store, at, through);
  if (!d.ok()) return Failed(d.status(), a.json);
  if (a.json) {
    Json j = {{"ok", true}, {"position", d->position.value()}, {"hash", ledger::ToHex(d->hash)},
              {"recorded_at_us", d->recorded_at_us}, {"digest", replay::FormatDigest(*d)}};
    AddBound(*bound, &j);
    std::cout << j.dump() << "\n";
  } else {
    std::printf("%s\n", replay::FormatDigest(*d).c_str());
  }
  if (at.value() == 0) SayBeyondCanonical(*bound);
  return kIntact;
}

int Rebuild(const Args& a) {
  if (!a.flags.count("--projection") || !a.flags.count("--out")) return Usage("rebuild needs --projection and --out");
  uint32_t shard = 0;
  if (auto st = ShardArg(a, &shard); !st.ok()) return Usage(st.message());
  replay::RebuildOptions o;
  o.projection = a.flags.at("--projection");
  o.out_dir = a.flags.at("--out");
  if (auto st = ThroughArg(a, &o.through); !st.ok()) return Usage(st.message());
  // Before the store is opened (a refusal costs no Kafka copy); Rebuild checks again.
  if (auto st = replay::CheckOutFree(o.out_dir, replay::OutKind::kDirectory); !st.ok()) return Usage(st.message());
  const std::string as_of = a.flags.count("--as-of") ? a.flags.at("--as-of") : "";
  std::optional<int64_t> as_of_time;  // before the store is opened: a usage error costs no copy
  if (!as_of.empty() && LooksLikePosition(as_of)) {
    if (auto st = ParsePosition("--as-of", as_of, shard, &o.as_of); !st.ok()) return Usage(st.message());
  } else if (!as_of.empty()) {
    auto t = ledger::ParseUtcTimestampUs(as_of);
    if (!t.ok()) return Usage("--as-of takes a position or a UTC time such as 2026-11-26T10:00:00Z");
    as_of_time = *t;
  }
  OpenStore s;
  if (auto st = Open(a, &s); !st.ok()) return FailedOut(st, a.json, o.out_dir);
  if (as_of_time) {
    auto p = replay::PositionAtTime(*s.store, *as_of_time, o.through);
    if (!p.ok()) return FailedOut(p.status(), a.json, o.out_dir);
    if (p->value() == 0) return Usage("nothing was recorded at or before " + as_of);
    // A time after the last event read names a state the log may still change (a live
    // node appends to it; what lies beyond the canonical mark may yet be confirmed or set
    // aside): the answer would not be reproducible, so it is not given.
    auto last = replay::DigestAt(*s.store, ledger::Position(0), o.through);
    if (!last.ok()) return FailedOut(last.status(), a.json, o.out_dir);
    const int64_t last_us = last->recorded_at_us;
    if (*as_of_time > last_us)
      return Usage("--as-of " + as_of + " is after the log's last event at " + FormatUtc(last_us) + "; not reproducible");
    o.as_of = *p;
  }
  replay::ProgressBar bar("rebuild " + o.projection);
  o.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  o.stop = &g_stop;
  const bool to_the_end = o.as_of.value() == 0;  // neither --as-of POSITION nor TIME
  auto r = replay::Rebuild(*s.store, o);
  if (!r.ok()) return FailedOut(r.status(), a.json, o.out_dir);
  const double rate = r->seconds > 0 ? static_cast<double>(r->events) / r->seconds : 0;
  if (a.json) {
    Json j = {{"ok", true},           {"projection", o.projection},         {"position", r->position.value()},
              {"digest", ledger::ToHex(r->digest)}, {"events", r->events}, {"seconds", r->seconds},
              {"events_per_second", rate},          {"out", o.out_dir}};
    AddBound(r->bound, &j);
    std::cout << j.dump() << "\n";
  } else {
    std::printf("%s as of position %llu: digest %s (%llu events, %.0f events/s) in %s\n", o.projection.c_str(),
                static_cast<unsigned long long>(r->position.value()), ledger::ToHex(r->digest).c_str(),
                static_cast<unsigned long long>(r->events), rate, o.out_dir.c_str());
  }
  if (to_the_end) SayBeyondCanonical(r->bound);
  return kIntact;
}

int DiffCommand(const Args& a) {
  if (a.positional.size() != 2) return Usage("diff takes two projection directories");
  uint64_t limit = 100;
  if (a.flags.count("--limit") && !ParseNumber(a.flags.at("--limit"), &limit)) return Usage("--limit takes a number");
  std::vector<std::string> models;
  if (a.flags.count("--projection")) models.push_back(a.flags.at("--projection"));
  auto r = replay::Diff(a.positional[0], a.positional[1], models, static_cast<size_t>(limit), &g_stop);
  if (!r.ok()) return r.status().code() == ledger::Code::kInvalidArgument ? Usage(r.status().message()) : Failed(r.status(), a.json);
  if (a.json) {
    Json list = Json::array();
    for (const auto& d : r->differences)
      list.push_back({{"read_model", d.read_model}, {"key", d.key}, {"left", d.left}, {"right", d.right}});
    Json positions = Json::object();  // {"fees": {"left": 120, "right": 118}}
    for (const auto& p : r->positions) positions[p.read_model] = Json{{"left", p.left.value()}, {"right", p.right.value()}};
    // A key that is not UTF-8 is shown with U+FFFD (the strict default would throw and
    // print nothing); the text output's \xNN shows its bytes exactly.
    std::cout << Json{{"ok", r->count == 0},     {"differences", r->count},     {"first", list},
                      {"compared", r->compared}, {"only_left", r->only_left}, {"only_right", r->only_right},
                      {"positions", positions}}
                     .dump(-1, ' ', false, Json::error_handler_t::replace)
              << "\n";
  } else {
    // Which state each side holds: stores at different positions differ by what one has
    // not applied yet.
    for (const auto& p : r->positions)
      std::printf("compared %s: left at position %llu, right at position %llu\n", p.read_model.c_str(),
                  static_cast<unsigned long long>(p.left.value()), static_cast<unsigned long long>(p.right.value()));
    // A key may hold any bytes: escaped, so that one difference is always these three lines.
    for (const auto& d : r->differences)
      std::printf("%s %s\n  left:  %s\n  right: %s\n", d.read_model.c_str(), replay::EscapeForLine(d.key).c_str(),
                  d.left.empty() ? "(absent)" : d.left.c_str(), d.right.empty() ? "(absent)" : d.right.c_str());
    const auto names = [](const std::vector<std::string>& v) {
      std::string out;
      for (const std::string& n : v) out.append(out.empty() ? "" : ", ").append(n);
      return out;
    };
    if (!r->only_left.empty()) std::printf("not compared, only in the left directory: %s\n", names(r->only_left).c_str());
    if (!r->only_right.empty()) std::printf("not compared, only in the right directory: %s\n", names(r->only_right).c_str());
    std::printf("%llu keys differ in %s\n", static_cast<unsigned long long>(r->count), names(r->compared).c_str());
  }
  return r->count == 0 ? kIntact : kIntegrity;
}

int ExportCommand(const Args& a) {
  // Without --out, stdout carries the events: a JSON summary there would be mixed in.
  if (a.json && !a.flags.count("--out")) return Usage("export --json needs --out FILE (without it stdout carries the events)");
  replay::ExportOptions o;
  const std::string format = a.flags.count("--format") ? a.flags.at("--format") : "jsonl";
  if (format == "csv") o.format = replay::ExportFormat::kCsv;
  else if (format != "jsonl") return Usage("--format takes jsonl or csv");
  if (a.flags.count("--stream-prefix")) o.stream_prefix = a.flags.at("--stream-prefix");
  if (a.flags.count("--type")) o.event_type = a.flags.at("--type");
  if (a.flags.count("--tenant")) o.tenant = a.flags.at("--tenant");
  if (auto st = ThroughArg(a, &o.through); !st.ok()) return Usage(st.message());
  for (const char* bound : {"--from", "--to"}) {
    if (!a.flags.count(bound)) continue;
    auto t = ledger::ParseUtcTimestampUs(a.flags.at(bound));
    if (!t.ok()) return Usage(std::string(bound) + " takes a UTC time such as 2026-11-26T10:00:00Z");
    (std::string(bound) == "--from" ? o.from_us : o.to_us) = *t;
  }
  if (auto bad = replay::CheckExportOptions(o); !bad.ok()) return Usage(bad.message());  // before --out is created
  const std::string out_path = a.flags.count("--out") ? a.flags.at("--out") : "";
  // Before the store is opened (a refusal costs no Kafka copy); ExportToFile checks again.
  if (!out_path.empty())
    if (auto st = replay::CheckOutFree(out_path, replay::OutKind::kFile); !st.ok()) return Usage(st.message());
  OpenStore s;
  if (auto st = Open(a, &s); !st.ok()) return FailedOut(st, a.json, out_path);
  replay::ProgressBar bar("export");
  o.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  o.stop = &g_stop;
  auto r = out_path.empty() ? replay::Export(*s.store, o, std::cout) : replay::ExportToFile(*s.store, o, out_path);
  if (!r.ok()) return FailedOut(r.status(), a.json, out_path);
  if (out_path.empty()) std::cout.flush();
  if (a.json) {  // --out is given (checked above): stdout is free
    Json j = {{"ok", true},
              {"exported", r->exported},
              {"scanned", r->scanned},
              {"unsealed_personal", r->unsealed_personal},
              {"out", out_path}};
    AddBound(r->bound, &j);
    std::cout << j.dump() << "\n";
  }
  std::fprintf(stderr, "exported %llu of %llu events (%llu with personal fields written before sealing)\n",
               static_cast<unsigned long long>(r->exported), static_cast<unsigned long long>(r->scanned),
               static_cast<unsigned long long>(r->unsealed_personal));
  SayBeyondCanonical(r->bound);
  return kIntact;
}

}  // namespace

// The flags each command takes with a value (--json, which every command takes, and
// --kafka-property, which goes with --kafka, are handled apart).
const std::map<std::string, std::set<std::string>>& CommandFlags() {
  static const std::map<std::string, std::set<std::string>> kFlags = {
      {"verify", {"--store", "--kafka", "--kafka-timeout-ms", "--shard", "--against"}},
      {"digest", {"--store", "--kafka", "--kafka-timeout-ms", "--shard", "--at", "--through"}},
      {"rebuild", {"--store", "--kafka", "--kafka-timeout-ms", "--shard", "--projection", "--as-of", "--out", "--through"}},
      {"diff", {"--projection", "--limit"}},
      {"export", {"--store", "--kafka", "--kafka-timeout-ms", "--shard", "--format", "--stream-prefix", "--type", "--tenant", "--from", "--to", "--out", "--through"}}};
  return kFlags;
}

// Whether every flag given is one the command takes (a typo such as --asof must not
// quietly mean "the head").
bool KnownFlags(const std::string& command, const Args& a, std::string* unknown) {
  const auto& flags = CommandFlags();
  auto it = flags.find(command);
  if (it == flags.end()) return true;  // an unknown command is reported as such
  for (const auto& [flag, value] : a.flags)
    if (!it->second.count(flag)) {
      *unknown = flag;
      return false;
    }
  if (!a.against.empty() && !it->second.count("--against")) {
    *unknown = "--against";
    return false;
  }
  if (!a.kafka_properties.empty() && !it->second.count("--kafka")) {
    *unknown = "--kafka-property";
    return false;
  }
  // Only diff takes directories as arguments; elsewhere a stray word is a mistake (a flag's
  // value split by the shell, a forgotten flag name), not something to ignore.
  if (command != "diff" && !a.positional.empty()) {
    *unknown = "argument '" + a.positional[0] + "'";
    return false;
  }
  return true;
}

// help: the usage text, or under --json one object a machine can read: that text, each
// command with the flags it takes (from the table KnownFlags checks, so the two cannot
// drift apart) and the exit statuses.
int Help(bool json) {
  if (!json) {
    std::fputs(kUsageText, stdout);
    return kIntact;
  }
  Json commands = Json::array();
  for (const auto& [name, taken] : CommandFlags()) {
    Json flags = Json::array();
    for (const std::string& flag : taken) flags.push_back(flag);
    if (taken.count("--kafka")) flags.push_back("--kafka-property");
    flags.push_back("--json");
    commands.push_back(Json{{"name", name}, {"flags", flags}});
  }
  commands.push_back(Json{{"name", "help"}, {"flags", Json::array({"--json"})}});
  const Json exit_codes = {{"0", "intact, or done"},
                           {"1", "integrity failure (the first bad position is named), or differences found by diff"},
                           {"2", "usage error (a store holding events and no canonical mark, read without "
                                 "--through head, included)"},
                           {"3", "could not finish: the store cannot be opened or read, no Kafka broker answers, "
                                 "--out appeared meanwhile, or stopped by SIGTERM or SIGINT (nothing is left at --out)"}};
  std::cout << Json{{"ok", true}, {"usage", kUsageText}, {"commands", commands}, {"exit_codes", exit_codes}}.dump() << "\n";
  return kIntact;
}

int main(int argc, char** argv) {
  CatchStopSignal(SIGTERM);  // first: a stop asked for at any time later removes the scratch directory
  CatchStopSignal(SIGINT);
  for (int i = 1; i < argc; ++i) g_json = g_json || std::string(argv[i]) == "--json";
  if (argc < 2) return Usage("name a command");
  const std::string command = argv[1];
  Args a;
  std::string error;
  if (!Parse(argc, argv, &a, &error)) return Usage(error);
  if (std::string unknown; !KnownFlags(command, a, &unknown)) return Usage(command + " takes no " + unknown);
  if (command == "verify") return Verify(a);
  if (command == "digest") return Digest(a);
  if (command == "rebuild") return Rebuild(a);
  if (command == "diff") return DiffCommand(a);
  if (command == "export") return ExportCommand(a);
  if (command == "--help" || command == "help") return Help(a.json);
  return Usage("unknown command '" + command + "'");
}
