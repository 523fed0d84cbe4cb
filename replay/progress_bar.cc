#include "replay/progress_bar.h"

#include <unistd.h>

#include <algorithm>
#include <cstdio>

namespace replay {

ProgressBar::ProgressBar(std::string label)
    : label_(std::move(label)), enabled_(::isatty(STDERR_FILENO) == 1), started_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() {
  if (drawn_) std::fputc('\n', stderr);
}

void ProgressBar::Update(uint64_t done, uint64_t total) {
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_ < std::chrono::milliseconds(200) && done < total) return;
  last_ = now;
  drawn_ = true;
  const double seconds = std::chrono::duration<double>(now - started_).count();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0;
  if (total == 0) {  // the end is not known yet (reading Kafka)
    std::fprintf(stderr, "\r%s %llu events, %.0f/s   ", label_.c_str(), static_cast<unsigned long long>(done), rate);
    std::fflush(stderr);
    return;
  }
  const double fraction = std::min(1.0, static_cast<double>(done) / static_cast<double>(total));
  constexpr int kWidth = 30;
  char bar[kWidth + 1];
  for (int i = 0; i < kWidth; ++i) bar[i] = i < static_cast<int>(fraction * kWidth) ? '#' : '.';
  bar[kWidth] = '\0';
  const double eta = rate > 0 && total > done ? static_cast<double>(total - done) / rate : 0;
  std::fprintf(stderr, "\r%s [%s] %5.1f%% %llu/%llu events, %.0f/s, ETA %.0f s   ", label_.c_str(), bar, fraction * 100,
               static_cast<unsigned long long>(done), static_cast<unsigned long long>(total), rate, eta);
  std::fflush(stderr);
}

}  // namespace replay
