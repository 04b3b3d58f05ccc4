// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/core/thread_pool.h
// ThreadPool: a fixed set of worker threads that run one data-parallel loop at a time.
// ParallelFor splits [0, n) into one contiguous range per thread (the calling thread takes
// part) and returns when every range is done. Workers spin briefly before sleeping, because
// a decode step issues hundreds of short loops and a futex wake-up per loop would cost more
// than the loop itself.
// Thread rule: one caller at a time (the engine thread); not reentrant from inside a loop.
#ifndef MOT_ENGINE_CORE_THREAD_POOL_H_
#define MOT_ENGINE_CORE_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace mot {

class ThreadPool {
 public:
  // A pool of `num_threads` threads in all, the caller included; 0 means one per core.
  explicit ThreadPool(int num_threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(begin, end, thread_index) over a partition of [0, n) into at most
  // num_threads() contiguous ranges, each a multiple of `grain` long (but the last).
  // Runs inline when n <= grain or the pool has one thread.
  void ParallelFor(int64_t n, int64_t grain,
                   const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  void WorkerLoop(int index);
  void RunRange(int index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};
  std::atomic<int> pending_{0};
  std::atomic<bool> stop_{false};
  // The current loop; written by the caller before generation_ is bumped.
  const std::function<void(int64_t, int64_t, int)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 0;
};

}  // namespace mot

#endif  // MOT_ENGINE_CORE_THREAD_POOL_H_
