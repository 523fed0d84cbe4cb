// ledger-replay: the auditors' tool (DESIGN §10).
//
//   ledger-replay verify  --store DIR [--shard N] [--against POSITION:HASH] [--json]
//   ledger-replay digest  --store DIR [--shard N] [--at POSITION] [--json]
//   ledger-replay rebuild --store DIR [--shard N] --projection NAME [--as-of POSITION|TIME] --out DIR [--json]
//   ledger-replay diff    LEFT_DIR RIGHT_DIR [--projection NAME] [--limit N] [--json]
//   ledger-replay export  --store DIR [--shard N] [--format jsonl|csv] [--stream-prefix P] [--type T]
//                         [--tenant M] [--from TIME] [--to TIME] [--out FILE]
//
// --store is a node's data directory (its shard-N inside is used) or a shard's store; it is
// opened read-only (a RocksDB secondary instance), so it may run beside the live node.
// Instead of --store, --kafka BOOTSTRAP [--kafka-property K=V ...] reads the shard's
// partition of ledger.events through the shared log reader into a scratch copy.
// TIME is UTC, "2026-11-26T10:00:00Z". A progress line on a terminal; --json prints one
// JSON summary on stdout. Exit status: 0 intact (or done), 1 integrity failure (the first
// bad position is named) or differences found by diff, 2 usage, 3 anything else (the
// store cannot be opened or read).
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <set>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "ledger/clock.h"
#include "replay/progress_bar.h"
#include "replay/replay.h"

namespace {

using Json = nlohmann::json;
constexpr int kIntact = 0, kIntegrity = 1, kUsage = 2, kFailed = 3;

const char* kUsageText =
    "usage: ledger-replay verify  --store DIR [--shard N] [--against POSITION:HASH] [--json]\n"
    "       (every command takes --kafka BOOTSTRAP [--kafka-property K=V ...] instead of --store)\n"
    "       ledger-replay digest  --store DIR [--shard N] [--at POSITION] [--json]\n"
    "       ledger-replay rebuild --store DIR [--shard N] --projection NAME [--as-of POSITION|TIME] --out DIR [--json]\n"
    "       ledger-replay diff    LEFT_DIR RIGHT_DIR [--projection NAME] [--limit N] [--json]\n"
    "       ledger-replay export  --store DIR [--shard N] [--format jsonl|csv] [--stream-prefix P] [--type T]\n"
    "                             [--tenant M] [--from TIME] [--to TIME] [--out FILE]\n";

int Usage(const std::string& why) {
  std::fprintf(stderr, "ledger-replay: %s\n%s", why.c_str(), kUsageText);
  return kUsage;
}

int Failed(const ledger::Status& s, bool json) {
  const int code = s.code() == ledger::Code::kCorruption ? kIntegrity : kFailed;
  if (json) std::cout << Json{{"ok", false}, {"error", s.ToString()}}.dump() << "\n";
  std::fprintf(stderr, "ledger-replay: %s\n", s.ToString().c_str());
  return code;
}

struct Args {
  std::vector<std::string> positional;
  std::map<std::string, std::string> flags;
  std::vector<std::pair<std::string, std::string>> kafka_properties;  // --kafka-property K=V, repeatable
  bool json = false;
};

// Flags take one value each, except --json.
bool Parse(int argc, char** argv, Args* a, std::string* error) {
  for (int i = 2; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--json") {
      a->json = true;
    } else if (arg.rfind("--", 0) == 0) {
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
      } else {
        a->flags[arg] = value;
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

// "123" or a shard:position token "0:123".
bool ParsePosition(const std::string& s, ledger::Position* out) {
  const size_t colon = s.find(':');
  uint64_t v = 0;
  if (!ParseNumber(colon == std::string::npos ? s : s.substr(colon + 1), &v)) return false;
  *out = ledger::Position(v);
  return true;
}

// A store opened read-only with a scratch directory of its own, removed at the end.
struct OpenStore {
  std::unique_ptr<ledger::EventStore> store;
  std::string scratch;
  ~OpenStore() {
    store.reset();
    std::error_code ec;
    if (!scratch.empty()) std::filesystem::remove_all(scratch, ec);
  }
};

ledger::Status Open(const Args& a, OpenStore* out) {
  auto it = a.flags.find("--store");
  const bool kafka = a.flags.count("--kafka") > 0;
  if ((it == a.flags.end()) == !kafka) return ledger::Status::InvalidArgument("give --store DIR or --kafka BOOTSTRAP");
  uint64_t shard = 0;
  if (a.flags.count("--shard") && !ParseNumber(a.flags.at("--shard"), &shard))
    return ledger::Status::InvalidArgument("--shard takes a number");
  char scratch[] = "/tmp/ledger-replay-XXXXXX";
  if (::mkdtemp(scratch) == nullptr) return ledger::Status::IOError("cannot create a scratch directory");
  out->scratch = scratch;
  if (kafka) {
    replay::KafkaSource source{a.flags.at("--kafka"), a.kafka_properties, static_cast<uint32_t>(shard), 600};
    replay::ProgressBar bar("reading Kafka");
    auto copy = replay::CopyFromKafka(source, out->scratch, [&bar](uint64_t done, uint64_t) { bar.Update(done, 0); });
    if (!copy.ok()) return copy.status();
    out->store = std::move(copy).value();
    return ledger::Status::Ok();
  }
  std::string dir = it->second;
  const std::string inside = dir + "/shard-" + std::to_string(shard);
  if (std::filesystem::exists(inside)) dir = inside;  // a node's data directory
  auto store = replay::OpenForReplay(dir, out->scratch, static_cast<uint32_t>(shard));
  if (!store.ok()) return store.status();
  out->store = std::move(store).value();
  return ledger::Status::Ok();
}

int Verify(const Args& a) {
  replay::VerifyOptions o;
  if (a.flags.count("--against")) {
    o.against = replay::ParseKeptDigest(a.flags.at("--against"));
    if (!o.against) return Usage("--against takes POSITION:HASH (64 hex digits), as digest prints it");
  }
  OpenStore s;
  if (auto st = Open(a, &s); !st.ok())
    return st.code() == ledger::Code::kInvalidArgument ? Usage(st.message()) : Failed(st, a.json);
  replay::ProgressBar bar("verify");
  o.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  auto r = replay::Verify(*s.store, o);
  if (!r.ok()) return Failed(r.status(), a.json);
  if (a.json) {
    Json j = {{"ok", r->intact}, {"events", r->events}, {"through", r->through.value()},
              {"through_hash", ledger::ToHex(r->through_hash)}};
    if (!r->intact) j["first_bad_position"] = r->first_bad.value(), j["reason"] = r->reason;
    std::cout << j.dump() << "\n";
  }
  if (!r->intact) {
    std::fprintf(stderr, "NOT INTACT: first bad position %llu: %s\n", static_cast<unsigned long long>(r->first_bad.value()),
                 r->reason.c_str());
    return kIntegrity;
  }
  if (!a.json)
    std::printf("intact: %llu events, through %s\n", static_cast<unsigned long long>(r->events),
                replay::FormatDigest({r->through, r->through_hash, 0}).c_str());
  return kIntact;
}

int Digest(const Args& a) {
  ledger::Position at(0);
  if (a.flags.count("--at") && !ParsePosition(a.flags.at("--at"), &at)) return Usage("--at takes a position");
  OpenStore s;
  if (auto st = Open(a, &s); !st.ok())
    return st.code() == ledger::Code::kInvalidArgument ? Usage(st.message()) : Failed(st, a.json);
  auto d = replay::DigestAt(*s.store, at);
  if (!d.ok()) return Failed(d.status(), a.json);
  if (a.json)
    std::cout << Json{{"ok", true}, {"position", d->position.value()}, {"hash", ledger::ToHex(d->hash)},
                      {"recorded_at_us", d->recorded_at_us}, {"digest", replay::FormatDigest(*d)}}
                     .dump()
              << "\n";
  else
    std::printf("%s\n", replay::FormatDigest(*d).c_str());
  return kIntact;
}

int Rebuild(const Args& a) {
  if (!a.flags.count("--projection") || !a.flags.count("--out")) return Usage("rebuild needs --projection and --out");
  OpenStore s;
  if (auto st = Open(a, &s); !st.ok())
    return st.code() == ledger::Code::kInvalidArgument ? Usage(st.message()) : Failed(st, a.json);
  replay::RebuildOptions o;
  o.projection = a.flags.at("--projection");
  o.out_dir = a.flags.at("--out");
  if (a.flags.count("--as-of")) {
    const std::string v = a.flags.at("--as-of");
    if (!ParsePosition(v, &o.as_of)) {
      auto t = ledger::ParseUtcTimestampUs(v);
      if (!t.ok()) return Usage("--as-of takes a position or a UTC time such as 2026-11-26T10:00:00Z");
      auto p = replay::PositionAtTime(*s.store, *t);
      if (!p.ok()) return Failed(p.status(), a.json);
      if (p->value() == 0) return Usage("nothing was recorded at or before " + v);
      o.as_of = *p;
    }
  }
  replay::ProgressBar bar("rebuild " + o.projection);
  o.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  auto r = replay::Rebuild(*s.store, o);
  if (!r.ok()) return r.status().code() == ledger::Code::kInvalidArgument ? Usage(r.status().message()) : Failed(r.status(), a.json);
  const double rate = r->seconds > 0 ? static_cast<double>(r->events) / r->seconds : 0;
  if (a.json)
    std::cout << Json{{"ok", true},           {"projection", o.projection},         {"position", r->position.value()},
                      {"digest", ledger::ToHex(r->digest)}, {"events", r->events}, {"seconds", r->seconds},
                      {"events_per_second", rate},          {"out", o.out_dir}}
                     .dump()
              << "\n";
  else
    std::printf("%s as of position %llu: digest %s (%llu events, %.0f events/s) in %s\n", o.projection.c_str(),
                static_cast<unsigned long long>(r->position.value()), ledger::ToHex(r->digest).c_str(),
                static_cast<unsigned long long>(r->events), rate, o.out_dir.c_str());
  return kIntact;
}

int DiffCommand(const Args& a) {
  if (a.positional.size() != 2) return Usage("diff takes two projection directories");
  uint64_t limit = 100;
  if (a.flags.count("--limit") && !ParseNumber(a.flags.at("--limit"), &limit)) return Usage("--limit takes a number");
  std::vector<std::string> models;
  if (a.flags.count("--projection")) models.push_back(a.flags.at("--projection"));
  auto r = replay::Diff(a.positional[0], a.positional[1], models, static_cast<size_t>(limit));
  if (!r.ok()) return r.status().code() == ledger::Code::kInvalidArgument ? Usage(r.status().message()) : Failed(r.status(), a.json);
  if (a.json) {
    Json list = Json::array();
    for (const auto& d : r->differences)
      list.push_back({{"read_model", d.read_model}, {"key", d.key}, {"left", d.left}, {"right", d.right}});
    std::cout << Json{{"ok", r->count == 0},     {"differences", r->count}, {"first", list},
                      {"compared", r->compared}, {"only_left", r->only_left}, {"only_right", r->only_right}}
                     .dump()
              << "\n";
  } else {
    for (const auto& d : r->differences)
      std::printf("%s %s\n  left:  %s\n  right: %s\n", d.read_model.c_str(), d.key.c_str(),
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
  replay::ExportOptions o;
  const std::string format = a.flags.count("--format") ? a.flags.at("--format") : "jsonl";
  if (format == "csv") o.format = replay::ExportFormat::kCsv;
  else if (format != "jsonl") return Usage("--format takes jsonl or csv");
  if (a.flags.count("--stream-prefix")) o.stream_prefix = a.flags.at("--stream-prefix");
  if (a.flags.count("--type")) o.event_type = a.flags.at("--type");
  if (a.flags.count("--tenant")) o.tenant = a.flags.at("--tenant");
  for (const char* bound : {"--from", "--to"}) {
    if (!a.flags.count(bound)) continue;
    auto t = ledger::ParseUtcTimestampUs(a.flags.at(bound));
    if (!t.ok()) return Usage(std::string(bound) + " takes a UTC time such as 2026-11-26T10:00:00Z");
    (std::string(bound) == "--from" ? o.from_us : o.to_us) = *t;
  }
  if (auto bad = replay::CheckExportOptions(o); !bad.ok()) return Usage(bad.message());  // before --out is truncated
  OpenStore s;
  if (auto st = Open(a, &s); !st.ok())
    return st.code() == ledger::Code::kInvalidArgument ? Usage(st.message()) : Failed(st, false);
  std::ofstream file;
  std::ostream* out = &std::cout;
  if (a.flags.count("--out")) {
    file.open(a.flags.at("--out"));
    if (!file) return Failed(ledger::Status::IOError("cannot write " + a.flags.at("--out")), false);
    out = &file;
  }
  replay::ProgressBar bar("export");
  o.progress = [&bar](uint64_t done, uint64_t total) { bar.Update(done, total); };
  auto r = replay::Export(*s.store, o, *out);
  if (!r.ok()) return r.status().code() == ledger::Code::kInvalidArgument ? Usage(r.status().message()) : Failed(r.status(), false);
  out->flush();
  std::fprintf(stderr, "exported %llu of %llu events (%llu with personal fields written before sealing)\n",
               static_cast<unsigned long long>(r->exported), static_cast<unsigned long long>(r->scanned),
               static_cast<unsigned long long>(r->unsealed_personal));
  return kIntact;
}

}  // namespace

// The flags each command takes (a typo such as --asof must not quietly mean "the head").
bool KnownFlags(const std::string& command, const Args& a, std::string* unknown) {
  static const std::map<std::string, std::set<std::string>> kFlags = {
      {"verify", {"--store", "--kafka", "--shard", "--against"}},
      {"digest", {"--store", "--kafka", "--shard", "--at"}},
      {"rebuild", {"--store", "--kafka", "--shard", "--projection", "--as-of", "--out"}},
      {"diff", {"--projection", "--limit"}},
      {"export", {"--store", "--kafka", "--shard", "--format", "--stream-prefix", "--type", "--tenant", "--from", "--to", "--out"}}};
  auto it = kFlags.find(command);
  if (it == kFlags.end()) return true;  // an unknown command is reported as such
  for (const auto& [flag, value] : a.flags)
    if (!it->second.count(flag)) {
      *unknown = flag;
      return false;
    }
  if (!a.kafka_properties.empty() && !it->second.count("--kafka")) {
    *unknown = "--kafka-property";
    return false;
  }
  return true;
}

int main(int argc, char** argv) {
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
  if (command == "--help" || command == "help") {
    std::fputs(kUsageText, stdout);
    return kIntact;
  }
  return Usage("unknown command '" + command + "'");
}
