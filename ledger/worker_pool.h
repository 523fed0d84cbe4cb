// A fixed set of threads running queued jobs. The HTTP server runs its routes on one (they
// may wait, bounded, for the sequencer, Kafka or the read models, and must not block
// cpprestsdk's own pool, which does the sockets' I/O); the projector runs a catch-up's
// per-span work on another (threads started once, not per span). Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ledger {

class WorkerPool {
 public:
  // `name`: its threads' (at most 15 characters).
  WorkerPool(size_t threads, size_t queued_max, const char* name = "workers");
  ~WorkerPool();  // runs what was queued, then joins
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // False (and `job` not run) when the queue is full or the pool is stopping.
  bool Post(std::function<void()> job);
  // Runs what is queued, then joins the threads. Idempotent.
  void Stop();

 private:
  void Run();
  const size_t queued_max_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::function<void()>> queue_;  // GUARDED_BY(mu_)
  bool stopping_ = false;                    // GUARDED_BY(mu_)
  std::vector<std::thread> threads_;
};

}  // namespace ledger
