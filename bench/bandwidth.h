// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/bandwidth.h
// MeasureReadBandwidthGBs: a STREAM-like read benchmark (every thread of the pool sums its
// slice of a buffer much larger than the caches); the bound the decode benchmarks compare
// against. Best of several repetitions, in GB/s (1e9 bytes per second).
// Thread rule: uses the whole pool; one caller at a time.
#ifndef MOT_BENCH_BANDWIDTH_H_
#define MOT_BENCH_BANDWIDTH_H_

#include <cstddef>
#include <cstdint>

#include "engine/core/thread_pool.h"

namespace mot::bench {

// Reads a `bytes`-byte buffer (2 MiB aligned, advised as huge pages, rounded down to 2 MiB,
// at least 64 MiB; 32-byte loads where the CPU has AVX2, as the weights are read) `repetitions`
// times over the pool's threads and returns the best read rate in GB/s.
double MeasureReadBandwidthGBs(ThreadPool& pool, size_t bytes = size_t{1} << 30,
                               int repetitions = 7);

struct ReadBandwidth {
  double wall_gbs = 0;  // best bytes / wall-clock second (what MeasureReadBandwidthGBs returns)
  // Best bytes / (process CPU seconds / threads): the rate while the pool's threads actually
  // run, an estimate of the idle-machine figure when other jobs share the cores.
  double cpu_gbs = 0;
};

// The same measurement, reporting both rates.
ReadBandwidth MeasureReadBandwidth(ThreadPool& pool, size_t bytes = size_t{1} << 30,
                                   int repetitions = 7);

// Evicts the caches by reading a buffer larger than them (allocated and touched once), so
// that the next timed run reads its weights from memory, as a model larger than the
// last-level cache does on every step. Used by mot_bench --cold_prefill.
class CacheFlusher {
 public:
  explicit CacheFlusher(ThreadPool& pool, size_t bytes = size_t{1} << 30);
  ~CacheFlusher();
  CacheFlusher(const CacheFlusher&) = delete;
  CacheFlusher& operator=(const CacheFlusher&) = delete;

  void Flush();

 private:
  ThreadPool& pool_;
  size_t words_ = 0;
  uint64_t* data_ = nullptr;
};

}  // namespace mot::bench

#endif  // MOT_BENCH_BANDWIDTH_H_
