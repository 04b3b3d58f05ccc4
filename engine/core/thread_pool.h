// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/core/thread_pool.h
// ThreadPool: a fixed set of worker threads that run one data-parallel loop at a time.
// ParallelFor splits [0, n) into at most one contiguous range per thread and returns when
// every range is done. Ranges are claimed, not assigned: the calling thread takes part and
// also runs the ranges of workers that have not woken up yet, so a loaded machine (a worker
// descheduled for a time slice) slows a loop down instead of stalling it. Workers spin
// briefly before sleeping, because a decode step issues hundreds of short loops and a futex
// wake-up per loop would cost more than the loop itself.
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

  // Runs fn(begin, end, slot) over a partition of [0, n) into at most num_threads()
  // contiguous ranges, each a multiple of `grain` long (but the last). slot in
  // [0, num_threads()) is the range's index, whichever thread runs it (one thread may run
  // several ranges, one after another): scratch indexed by it is never shared by two
  // concurrent ranges, and per-slot partial sums cover the same rows for the same (n, grain)
  // however the threads were scheduled, so reducing them in slot order is deterministic
  // (indexing by the running thread was not: a thread that ran both ranges of a busy loop
  // summed them into one partial). Runs inline (slot 0) when n <= grain or the pool has one
  // thread.
  void ParallelFor(int64_t n, int64_t grain, const std::function<void(int64_t, int64_t, int)>& fn);

 private:
  void WorkerLoop();
  // Claims and runs ranges of the current loop until none is left unclaimed.
  void RunRanges();

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::atomic<uint64_t> generation_{0};  // bumped once per loop: wakes the workers
  // (number of ranges << 32) | next unclaimed range, of the current loop. A claim is a CAS
  // on this word, so it is valid for the loop that published the word.
  std::atomic<uint64_t> claim_{0};
  std::atomic<int64_t> done_{0};  // ranges of the current loop finished
  std::atomic<bool> stop_{false};
  // The current loop; written by the caller before claim_ is published, read only by a
  // thread holding a claim (the caller does not move on until every claimed range is done).
  const std::function<void(int64_t, int64_t, int)>* fn_ = nullptr;
  int64_t n_ = 0;
  int64_t chunk_ = 0;
};

}  // namespace mot

#endif  // MOT_ENGINE_CORE_THREAD_POOL_H_
