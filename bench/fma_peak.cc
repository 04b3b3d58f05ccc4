// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "bench/fma_peak.h"

#include <immintrin.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace mot::bench {
namespace {

constexpr int64_t kIterations = 20'000'000;

// Twelve independent chains: more than FMA latency x ports (4 x 2), so the loop is bound by
// throughput. Returns a lane sum so the work stays alive; flop = iterations x 12 x lanes x 2.
__attribute__((target("avx512f"))) float Chains512(int64_t n, float seed) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(seed + i);
  const __m512 m = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < n; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], m, c);
  }
  __m512 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
  alignas(64) float lanes[16];
  _mm512_store_ps(lanes, s);
  float t = 0;
  for (float x : lanes) t += x;
  return t;
}

__attribute__((target("avx2,fma"))) float Chains256(int64_t n, float seed) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(seed + i);
  const __m256 m = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < n; ++it) {
#pragma GCC unroll 12
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], m, c);
  }
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  alignas(32) float lanes[8];
  _mm256_store_ps(lanes, s);
  float t = 0;
  for (float x : lanes) t += x;
  return t;
}

}  // namespace

double MeasureFmaPeakGflops(ThreadPool& pool, bool allow_avx512, int repetitions) {
  const bool avx512 = allow_avx512 && __builtin_cpu_supports("avx512f");
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (!avx512 && !avx2) return 0;
  const int lanes = avx512 ? 16 : 8;
  const int threads = pool.num_threads();
  std::atomic<int64_t> sink{0};
  double best = 0;
  for (int rep = 0; rep < std::max(repetitions, 1) + 1; ++rep) {
    const auto t0 = std::chrono::steady_clock::now();
    pool.ParallelFor(threads, 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) {
        const float f = avx512 ? Chains512(kIterations, static_cast<float>(i))
                               : Chains256(kIterations, static_cast<float>(i));
        sink.fetch_add(static_cast<int64_t>(f), std::memory_order_relaxed);
      }
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double flop = static_cast<double>(kIterations) * 12 * lanes * 2 * threads;
    if (rep > 0) best = std::max(best, flop / s / 1e9);  // rep 0: warm-up
  }
  if (sink.load() == 42) best += 1e-12;
  return best;
}

}  // namespace mot::bench
