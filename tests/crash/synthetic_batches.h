// The batches that crash_child --unlogged-store commits and crash_test replays to know what
// the store should hold: batch p (from 1) of `seed` sets or erases a few of a few hundred
// keys to values of 16 KiB, so that the state's 16 MiB memtable fills (and RocksDB flushes
// it by itself) every few hundred batches. Deterministic in (seed, p).
#pragma once

#include <cstdint>
#include <random>
#include <string>

#include "projections/read_model_store.h"

namespace crash_support {

inline constexpr uint64_t kSyntheticBatches = 1200;  // about 75 MiB of values
// The child flushes the store (ProjectionStore::Flush) once, after this batch.
inline constexpr uint64_t kSyntheticFlushAfter = 100;

inline void FillSyntheticBatch(projections::StateTxn& txn, uint64_t seed, uint64_t p) {
  std::mt19937_64 rng(seed * 1000003 + p);
  for (int i = 0; i < 4; ++i) {
    const std::string key = "k/" + std::to_string(rng() % 300);
    if (rng() % 8 == 0) {
      txn.Erase(key);
    } else {
      txn.Put(key, projections::Json{{"batch", p}, {"pad", std::string(16 << 10, static_cast<char>('a' + rng() % 26))}});
    }
  }
}

}  // namespace crash_support
