#include "api/deadline_timer.h"

#include <vector>

#include "ledger/thread_name.h"

namespace api {

DeadlineTimer::DeadlineTimer()
    : thread_([this] {
        ledger::NameThisThread("http-deadline");
        Run();
      }) {}

DeadlineTimer::~DeadlineTimer() { Stop(); }

DeadlineTimer::Ticket DeadlineTimer::At(Clock::time_point when, std::function<void()> job) {
  Ticket ticket;
  bool queued = false, earliest = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!stopped_) {
      ticket = Ticket(when, next_++);
      earliest = when < wake_at_;
      jobs_.emplace(ticket, std::move(job));
      queued = true;
    }
  }
  if (!queued) {
    job();  // stopped: at once
  } else if (earliest) {
    cv_.notify_one();  // the thread sleeps until a later deadline, or for ever
  }
  return ticket;
}

void DeadlineTimer::Cancel(const Ticket& ticket) {
  std::lock_guard<std::mutex> lock(mu_);
  jobs_.erase(ticket);
}

void DeadlineTimer::Stop() {
  std::map<Ticket, std::function<void()>> left;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (stopped_) return;
    stopped_ = true;
    left.swap(jobs_);
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  for (auto& [ticket, job] : left) job();
}

size_t DeadlineTimer::pending() const {
  std::lock_guard<std::mutex> lock(mu_);
  return jobs_.size();
}

void DeadlineTimer::Run() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopped_) {
    if (jobs_.empty()) {
      wake_at_ = Clock::time_point::max();
      cv_.wait(lock);
      continue;
    }
    const Clock::time_point first = jobs_.begin()->first.first;
    if (Clock::now() < first) {
      wake_at_ = first;
      cv_.wait_until(lock, first);
      continue;
    }
    wake_at_ = Clock::time_point::min();  // running jobs: it looks again before it sleeps
    std::vector<std::function<void()>> due;
    const Clock::time_point now = Clock::now();
    while (!jobs_.empty() && jobs_.begin()->first.first <= now) {
      due.push_back(std::move(jobs_.begin()->second));
      jobs_.erase(jobs_.begin());
    }
    lock.unlock();
    for (auto& job : due) job();  // outside the lock: a job may set or cancel deadlines
    lock.lock();
  }
}

}  // namespace api
