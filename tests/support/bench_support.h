// Small helpers the benchmarks share.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

#include "ledger/status.h"

namespace testing_support {

// This process's peak resident set (VmHWM), KiB; -1 when unknown.
inline long PeakRssKb() {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::atol(line.c_str() + 6);
  return -1;
}

// A benchmark cannot go on: says why and exits 1.
[[noreturn]] inline void Die(const ledger::Status& s, const char* what) {
  std::fprintf(stderr, "%s: %s\n", what, s.ToString().c_str());
  std::exit(1);
}

// The benchmarks' flags come in pairs, "--name value": the flag at argv[i], or "" when no
// value follows it (a lone --help included), so the caller's "unknown flag" branch prints
// its usage instead of running the default benchmark (an hour for replay_bench).
inline std::string FlagAt(int argc, char** argv, int i) { return i + 1 < argc ? argv[i] : ""; }

}  // namespace testing_support
