// crash_child DIR RUN SEED [--no-sync]: appends commands to the store at DIR from several
// threads until killed. After each acknowledged command it writes one line to stdout:
//   ack <first_position> <event_count> <sha256 of the command's records> <idempotency key>
//       <wal_syncs> <batches_committed>
// Lines are written with one write(2) each (< PIPE_BUF), so a kill never interleaves them.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "ledger/chain_hash.h"
#include "ledger/event_store.h"
#include "ledger/kafka/canonical_rule.h"
#include "ledger/kafka/log_reader.h"
#include "ledger/kafka/publisher.h"
#include "ledger/record_codec.h"
#include "projections/projections.h"
#include "tests/crash/synthetic_batches.h"
#include "tests/support/test_records.h"

using namespace ledger;

// crash_child --follow SOURCE TARGET: the follower's append path under kills. Appends the
// source store's batches to the target one by one, from the target's head, writing
// "appended <last position>" after each.
static int Follow(const char* source_dir, const char* target_dir) {
  StoreOptions so;
  so.path = source_dir;
  so.create_if_missing = false;
  auto source = EventStore::Open(so);
  StoreOptions to;
  to.path = target_dir;
  to.node_id = "follower";
  auto target = EventStore::Open(to);
  if (!source.ok() || !target.ok()) return 1;
  int64_t offset = (*target)->canonical_mark().offset;
  for (;;) {
    auto batches = (*source)->ReadBatches((*target)->head().position.next(), 16);
    if (!batches.ok()) return 1;
    if (batches->empty()) return 0;  // caught up
    for (const std::string& b : *batches) {
      auto facts = ledger::kafka::FactsOf(b);
      if (!facts.ok()) return 1;
      CanonicalMark after{facts->last, facts->last_hash, facts->epoch, facts->node_id, ++offset};
      if (!(*target)->AppendCanonicalBatch(b, after).ok()) return 1;
      char line[64];
      int len = std::snprintf(line, sizeof line, "appended %llu\n", static_cast<unsigned long long>(facts->last.value()));
      if (write(STDOUT_FILENO, line, len) != len) return 1;
    }
  }
}

// crash_child --project SOURCE DIR [EVENTS]: the projector under kills. Writes "resumed
// <position>" (where the read models' stores say it stands), then applies the source's
// events in commits of EVENTS (default 32; from 1,024 on, a catch-up that reads the next
// span while it applies one) until the head, then "done <position>".
static int Project(const char* source_dir, const char* projections_dir, size_t apply_events_max) {
  StoreOptions so;
  so.path = source_dir;
  so.create_if_missing = false;
  auto source = EventStore::Open(so);
  if (!source.ok()) return 1;
  projections::ProjectorOptions po;
  po.dir = projections_dir;
  po.bound = projections::SourceBound::kHead;
  po.apply_events_max = apply_events_max;
  auto p = projections::Projector::Open(po);
  if (!p.ok()) return 1;
  char line[64];
  int len = std::snprintf(line, sizeof line, "resumed %llu\n",
                          static_cast<unsigned long long>((*p)->position().value()));
  if (write(STDOUT_FILENO, line, len) != len) return 1;
  if (!(*p)->CatchUp(**source, Position(UINT64_MAX)).ok()) return 1;
  len = std::snprintf(line, sizeof line, "done %llu\n", static_cast<unsigned long long>((*p)->position().value()));
  return write(STDOUT_FILENO, line, len) == len ? 0 : 1;
}

// crash_child --kafka-writer DIR BOOTSTRAP RUN SEED [--drain]: a writer with its publisher
// and its reader on an external Kafka (a dev broker), ack level replicated, killed between
// any RocksDB commit and any Kafka acknowledgement. Appends from 4 threads and writes
// "ack <first_position> <event_count> <sha256 of the records>" per acknowledged command;
// each thread stops after 150 commands (the dev broker keeps only about 5 MiB, and the test
// reads the partition from offset 0) and waits to be killed.
// With --drain it appends nothing: it waits until every stored batch is canonical (the
// publisher resumed at the first batch not known canonical) and exits, printing "drained".
static int KafkaWriter(int argc, char** argv) {
  StoreOptions o;
  o.path = argv[2];
  o.node_id = "w1";
  o.ack_level = AckLevel::kReplicated;
  const std::string bootstrap = argv[3];
  const std::string run = argv[4];
  const uint64_t seed = std::strtoull(argv[5], nullptr, 10);
  const bool drain = argc > 6 && std::strcmp(argv[6], "--drain") == 0;
  auto store = EventStore::Open(o);
  if (!store.ok()) return 1;
  EventStore* s = store->get();
  auto reader = kafka::LogReader::Start({bootstrap, ShardId(0), {}}, s);
  auto publisher = kafka::Publisher::Start({bootstrap, ShardId(0), {}}, s);
  if (!reader.ok() || !publisher.ok()) return 1;
  if (s->head().position.value() == 0) {
    if (!s->SetWriterEpoch(Epoch(1)).ok()) return 1;
    EnvelopeFields f;
    f.stream = "writer/0";
    AppendCommand cmd;
    cmd.events.push_back({EncodeRecord(f, schema::EventBody::WriterPromoted,
                                       [&](flatbuffers::FlatBufferBuilder& b) {
                                         return schema::CreateWriterPromotedDirect(b, 1, "w1", "", 0).Union();
                                       }),
                          ExpectedVersion::NoStream()});
    if (!s->Append(std::move(cmd)).ok()) return 1;
  }
  if (drain) {
    if (!(*reader)->WaitFor(s->head().position, 60000)) return 1;
    std::printf("drained %llu\n", static_cast<unsigned long long>(s->canonical_mark().position.value()));
    return 0;
  }
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t)
    threads.emplace_back([s, t, run, seed] {
      std::mt19937_64 rng(seed * 31 + t);
      for (uint64_t seq = 0; seq < 150; ++seq) {
        testing_support::RecordSpec spec;
        spec.stream = "order/m1/o" + std::to_string(rng() % 50);
        spec.idempotency_key = "k" + run + "-t" + std::to_string(t) + "-" + std::to_string(seq);
        spec.request = spec.idempotency_key;
        spec.seed = rng();
        auto r = s->Append(testing_support::MakeCommand(spec, 1 + rng() % 4, false));
        if (!r.ok()) _exit(1);
        auto events = s->ReadRange(r->first_position, r->event_count);
        if (!events.ok() || events->size() != r->event_count) _exit(1);
        std::string all;
        for (const auto& e : *events) all += e.record;
        char line[256];
        int len = std::snprintf(line, sizeof line, "ack %llu %u %s\n",
                                static_cast<unsigned long long>(r->first_position.value()), r->event_count,
                                ToHex(Sha256Of(all)).c_str());
        if (write(STDOUT_FILENO, line, len) != len) _exit(1);
        // Spread the run over a few hundred milliseconds, so that kills land inside it.
        std::this_thread::sleep_for(std::chrono::microseconds(500 + rng() % 4000));
      }
      for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // until killed
    });
  for (auto& th : threads) th.join();
  return 0;
}

// crash_child --unlogged-store DIR SEED: commits crash_support's synthetic batches to a
// projection store opened without its write-ahead log, writing "committed <position>"
// after each, and "flushed <position>" once Flush after kSyntheticFlushAfter returned;
// when all are committed, waits to be killed.
static int UnloggedStore(const char* dir, uint64_t seed) {
  auto store = projections::ProjectionStore::Open(dir, "synthetic", projections::StoreAccess::kWriteUnlogged);
  if (!store.ok()) return 1;
  for (uint64_t p = 1; p <= crash_support::kSyntheticBatches; ++p) {
    projections::StateTxn txn(store->get());
    crash_support::FillSyntheticBatch(txn, seed, p);
    if (!(*store)->Commit(txn, Position(p), -1).ok()) return 1;
    char line[64];
    int len = std::snprintf(line, sizeof line, "committed %llu\n", static_cast<unsigned long long>(p));
    if (write(STDOUT_FILENO, line, len) != len) return 1;
    if (p == crash_support::kSyntheticFlushAfter) {
      if (!(*store)->Flush().ok()) return 1;
      len = std::snprintf(line, sizeof line, "flushed %llu\n", static_cast<unsigned long long>(p));
      if (write(STDOUT_FILENO, line, len) != len) return 1;
    }
  }
  for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));  // until killed
}

int main(int argc, char** argv) {
  if (argc == 4 && std::strcmp(argv[1], "--unlogged-store") == 0)
    return UnloggedStore(argv[2], std::strtoull(argv[3], nullptr, 10));
  if (argc >= 6 && std::strcmp(argv[1], "--kafka-writer") == 0) return KafkaWriter(argc, argv);
  if (argc == 4 && std::strcmp(argv[1], "--follow") == 0) return Follow(argv[2], argv[3]);
  if ((argc == 4 || argc == 5) && std::strcmp(argv[1], "--project") == 0)
    return Project(argv[2], argv[3], argc == 5 ? std::strtoull(argv[4], nullptr, 10) : 32);
  if (argc < 4) {
    std::fprintf(stderr, "usage: crash_child DIR RUN SEED [--no-sync]\n");
    return 2;
  }
  StoreOptions o;
  o.path = argv[1];
  const std::string run = argv[2];
  const uint64_t seed = std::strtoull(argv[3], nullptr, 10);
  if (argc > 4 && std::strcmp(argv[4], "--no-sync") == 0)
    o.durability = Durability::kUnsafeNoSyncForTests;
  auto store = EventStore::Open(o);
  if (!store.ok()) {
    std::fprintf(stderr, "crash_child: %s\n", store.status().ToString().c_str());
    return 1;
  }
  EventStore* s = store->get();
  constexpr int kThreads = 4;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([s, t, run, seed] {
      std::mt19937_64 rng(seed * 31 + t);
      for (uint64_t seq = 0;; ++seq) {
        testing_support::RecordSpec spec;
        spec.stream = "order/m1/o" + std::to_string(rng() % 50);
        spec.idempotency_key = "r" + run + "-t" + std::to_string(t) + "-" + std::to_string(seq);
        spec.request = spec.idempotency_key;
        spec.title_bytes = 16 + rng() % 400;
        spec.seed = rng();
        const size_t n = 1 + rng() % 8;
        auto r = s->Append(testing_support::MakeCommand(spec, n, rng() % 2 == 0));
        if (!r.ok()) {
          std::fprintf(stderr, "crash_child: append failed: %s\n", r.status().ToString().c_str());
          _exit(1);
        }
        auto events = s->ReadRange(r->first_position, r->event_count);
        if (!events.ok() || events->size() != r->event_count) _exit(1);
        std::string all;
        for (const auto& e : *events) all += e.record;
        StoreStats st = s->stats();
        char line[512];
        int len = std::snprintf(line, sizeof line, "ack %llu %u %s %s %llu %llu\n",
                                static_cast<unsigned long long>(r->first_position.value()),
                                r->event_count, ToHex(Sha256Of(all)).c_str(),
                                spec.idempotency_key.c_str(),
                                static_cast<unsigned long long>(st.wal_syncs),
                                static_cast<unsigned long long>(st.batches_committed));
        if (write(STDOUT_FILENO, line, len) != len) _exit(1);
      }
    });
  }
  for (auto& th : threads) th.join();
  return 0;
}
