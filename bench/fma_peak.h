// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/fma_peak.h
// MeasureFmaPeakGflops: the f32 FMA throughput the pool's threads reach on register-only
// work (independent accumulator chains, the widest vectors the CPU has), the compute bound
// that backend_bench puts beside f32 kernels that are not GEMMs (attention).
// Thread rule: uses the whole pool; one caller at a time.
#ifndef MOT_BENCH_FMA_PEAK_H_
#define MOT_BENCH_FMA_PEAK_H_

#include "engine/core/thread_pool.h"

namespace mot::bench {

// Best of `repetitions` in GFLOP/s (an FMA counts 2 flop per lane), over all threads, with
// 512-bit vectors where the CPU has them and `avx512` is true, else 256-bit (AVX2 + FMA);
// 0 without either.
double MeasureFmaPeakGflops(ThreadPool& pool, bool avx512 = true, int repetitions = 5);

}  // namespace mot::bench

#endif  // MOT_BENCH_FMA_PEAK_H_
