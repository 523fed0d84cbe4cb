// The HTTP front's workers: bounded queue (a full queue refuses, the caller answers 503),
// every accepted job runs, Stop runs what was queued and then refuses.
#include <gtest/gtest.h>

#include <atomic>
#include <future>

#include "ledger/worker_pool.h"

namespace {

TEST(WorkerPool, AFullQueueRefusesAndEveryAcceptedJobRuns) {
  ledger::WorkerPool pool(1, 2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::atomic<int> ran{0};
  std::promise<void> started;
  ASSERT_TRUE(pool.Post([&] {
    started.set_value();
    gate.wait();
    ran++;
  }));
  started.get_future().wait();  // the only worker is busy
  EXPECT_TRUE(pool.Post([&] { ran++; }));
  EXPECT_TRUE(pool.Post([&] { ran++; }));
  EXPECT_FALSE(pool.Post([&] { ran++; })) << "two waiting is the bound";
  release.set_value();
  pool.Stop();
  EXPECT_EQ(ran.load(), 3);
  EXPECT_FALSE(pool.Post([&] { ran++; })) << "a stopped pool takes nothing";
  pool.Stop();  // idempotent
}

}  // namespace
