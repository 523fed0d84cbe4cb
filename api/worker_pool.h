// A fixed set of threads running queued jobs, so that routes, which may wait (bounded) for
// the sequencer, Kafka or the read models, never run on cpprestsdk's own thread pool: that
// pool also does the sockets' I/O, and blocking it stalls every connection (measured: 32
// connections of wrk and no request answered). Thread-safe.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace api {

inline constexpr size_t kHttpWorkers = 64;        // routes running at once
inline constexpr size_t kHttpQueuedMax = 4096;    // requests waiting for a worker; beyond: 503

class WorkerPool {
 public:
  WorkerPool(size_t threads, size_t queued_max);
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

}  // namespace api
