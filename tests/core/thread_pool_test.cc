// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/core/thread_pool.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "gtest/gtest.h"

namespace mot {
namespace {

TEST(ThreadPoolTest, CountsTheCaller) {
  EXPECT_EQ(ThreadPool(1).num_threads(), 1);
  EXPECT_EQ(ThreadPool(3).num_threads(), 3);
  EXPECT_GE(ThreadPool(0).num_threads(), 1);
}

TEST(ThreadPoolTest, CoversEveryIndexExactlyOnceInGrainMultiples) {
  for (int threads : {1, 2, 3, 5}) {
    ThreadPool pool(threads);
    for (int64_t n : {0, 1, 2, 3, 7, 16, 17, 63, 64, 65, 100, 1000, 4097}) {
      for (int64_t grain : {1, 2, 3, 16, 64, 1000}) {
        std::vector<std::atomic<int>> hits(static_cast<size_t>(n));
        std::vector<std::atomic<int>> busy(static_cast<size_t>(threads));
        std::atomic<int> ranges{0};
        std::atomic<bool> ok{true};
        pool.ParallelFor(n, grain, [&](int64_t b, int64_t e, int t) {
          if (t < 0 || t >= threads || b >= e || b < 0 || e > n) ok = false;
          if (t >= 0 && t < threads && busy[static_cast<size_t>(t)].exchange(1) != 0) {
            ok = false;  // two concurrent ranges with one thread index
          }
          if (b % grain != 0 || (e != n && (e - b) % grain != 0)) ok = false;
          ranges.fetch_add(1);
          for (int64_t i = b; i < e; ++i) hits[static_cast<size_t>(i)].fetch_add(1);
          if (t >= 0 && t < threads) busy[static_cast<size_t>(t)].store(0);
        });
        ASSERT_TRUE(ok.load()) << "threads " << threads << " n " << n << " grain " << grain;
        EXPECT_LE(ranges.load(), threads);
        for (int64_t i = 0; i < n; ++i) {
          ASSERT_EQ(hits[static_cast<size_t>(i)].load(), 1)
              << "index " << i << " threads " << threads << " n " << n << " grain " << grain;
        }
      }
    }
  }
}

TEST(ThreadPoolTest, ASlotCoversTheSameRowsWhicheverThreadRunsIt) {
  // Per-slot partial sums reduce deterministically only if slot s always names the same
  // range: loops repeated while the workers are awake, asleep or beaten to the ranges by
  // the caller give every slot the same [begin, end).
  ThreadPool pool(3);
  for (int64_t n : {5, 64, 1000}) {
    std::vector<std::pair<int64_t, int64_t>> first(3, {-1, -1});
    for (int rep = 0; rep < 200; ++rep) {
      std::vector<std::pair<int64_t, int64_t>> seen(3, {-1, -1});
      pool.ParallelFor(n, 2, [&](int64_t b, int64_t e, int slot) {
        seen[static_cast<size_t>(slot)] = {b, e};
      });
      if (rep == 0) first = seen;
      ASSERT_EQ(seen, first) << "n " << n << " rep " << rep;
      if (rep % 50 == 49) std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    for (int slot = 0; slot < 3; ++slot) {
      if (first[static_cast<size_t>(slot)].first < 0) continue;
      EXPECT_EQ(first[static_cast<size_t>(slot)].first % 2, 0);  // grain multiples
    }
  }
}

TEST(ThreadPoolTest, ManyShortLoopsBackToBack) {
  ThreadPool pool(2);
  std::vector<int64_t> partial(2);
  int64_t total = 0;
  for (int iter = 0; iter < 50000; ++iter) {
    std::atomic<int64_t> sum{0};
    pool.ParallelFor(64, 1, [&](int64_t b, int64_t e, int) {
      int64_t s = 0;
      for (int64_t i = b; i < e; ++i) s += i;
      sum.fetch_add(s);
    });
    total += sum.load();
  }
  EXPECT_EQ(total, int64_t{50000} * (63 * 64 / 2));
}

TEST(ThreadPoolTest, LoopsAfterIdleSleepStillRun) {
  ThreadPool pool(3);
  for (int iter = 0; iter < 5; ++iter) {
    std::atomic<int> count{0};
    pool.ParallelFor(300, 1, [&](int64_t b, int64_t e, int) { count.fetch_add(int(e - b)); });
    EXPECT_EQ(count.load(), 300);
    // Long enough for the workers to stop spinning and sleep.
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
}

TEST(ThreadPoolTest, DestroysCleanlyWhileWorkersSpinOrSleep) {
  for (int i = 0; i < 50; ++i) {
    auto pool = std::make_unique<ThreadPool>(4);
    std::atomic<int> count{0};
    pool->ParallelFor(10, 1, [&](int64_t b, int64_t e, int) { count.fetch_add(int(e - b)); });
    EXPECT_EQ(count.load(), 10);
    pool.reset();
  }
}

}  // namespace
}  // namespace mot
