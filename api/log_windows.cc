#include "api/log_windows.h"

#include <algorithm>

namespace api {

LogWindows::LogWindows(size_t windows_kept, uint64_t window_events, ReadFn read)
    : windows_kept_(windows_kept), window_events_(window_events), read_(std::move(read)) {
  LEDGER_INVARIANT(windows_kept_ > 0 && window_events_ > 0);
  kept_.reserve(windows_kept_);  // no window moves while another is added
}

const std::vector<ledger::StoredEvent>* LogWindows::Read(uint64_t from, uint64_t bound, size_t* skip) {
  LEDGER_INVARIANT(from <= bound);
  Window* w = nullptr;
  for (Window& k : kept_)
    if (!k.events.empty() && from >= k.from && from < k.from + k.events.size()) w = &k;
  if (w == nullptr) {
    auto events = read_(ledger::Position(from), std::min<uint64_t>(bound - from + 1, window_events_));
    ++reads_;
    if (!events.ok()) return nullptr;
    if (kept_.size() < windows_kept_) {
      w = &kept_.emplace_back();
    } else {
      w = &*std::min_element(kept_.begin(), kept_.end(),
                             [](const Window& a, const Window& b) { return a.last_used < b.last_used; });
    }
    w->from = from;
    w->events = std::move(events).value();
  }
  w->last_used = ++uses_;
  *skip = static_cast<size_t>(from - w->from);
  return &w->events;
}

}  // namespace api
