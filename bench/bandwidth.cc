// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "bench/bandwidth.h"

#include <immintrin.h>
#include <sys/mman.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <memory>
#include <vector>

namespace mot::bench {
namespace {

// Sums 64-bit words with 8 independent accumulators: integer adds are associative, so the
// compiler vectorizes this at the baseline ISA and the loop is bound by memory, not ALUs.
uint64_t SumWords(const uint64_t* p, size_t n) {
  uint64_t a[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; ++j) a[j] += p[i + j];
  }
  for (; i < n; ++i) a[0] += p[i];
  uint64_t s = 0;
  for (int j = 0; j < 8; ++j) s += a[j];
  return s;
}

// The same sum with 32-byte loads (four independent accumulators), as the CPU backend's AVX2
// kernels stream the weights; compiled for AVX2 only here and called where CPUID has it.
__attribute__((target("avx2"))) uint64_t SumWordsAvx2(const uint64_t* p, size_t n) {
  __m256i a0 = _mm256_setzero_si256(), a1 = a0, a2 = a0, a3 = a0;
  size_t i = 0;
  for (; i + 16 <= n; i += 16) {
    a0 = _mm256_add_epi64(a0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
    a1 = _mm256_add_epi64(a1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 4)));
    a2 = _mm256_add_epi64(a2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 8)));
    a3 = _mm256_add_epi64(a3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 12)));
  }
  alignas(32) uint64_t lanes[4];
  _mm256_store_si256(reinterpret_cast<__m256i*>(lanes),
                     _mm256_add_epi64(_mm256_add_epi64(a0, a1), _mm256_add_epi64(a2, a3)));
  uint64_t s = lanes[0] + lanes[1] + lanes[2] + lanes[3];
  for (; i < n; ++i) s += p[i];
  return s;
}

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

}  // namespace

double MeasureReadBandwidthGBs(ThreadPool& pool, size_t bytes, int repetitions) {
  return MeasureReadBandwidth(pool, bytes, repetitions).wall_gbs;
}

ReadBandwidth MeasureReadBandwidth(ThreadPool& pool, size_t bytes, int repetitions) {
  // Read the way the weights are read: the model's fused weights and the KV pools are 2 MiB
  // aligned and advised as huge pages, and streamed with 32-byte loads. (The probe used 4 KiB
  // pages and the compiler's 16-byte loads before, and decode then measured above 100% of it.)
  constexpr size_t kHuge = size_t{2} << 20;
  bytes = std::max<size_t>(bytes, size_t{64} << 20) / kHuge * kHuge;
  const size_t words = bytes / sizeof(uint64_t);
  std::unique_ptr<uint64_t, decltype(&std::free)> buf(
      static_cast<uint64_t*>(std::aligned_alloc(kHuge, bytes)), &std::free);
  if (buf == nullptr) return {};
  madvise(buf.get(), bytes, MADV_HUGEPAGE);
  uint64_t* data = buf.get();
  const bool avx2 = __builtin_cpu_supports("avx2");
  // First touch from the pool's threads, in the same partition as the reads.
  const int64_t grain = kHuge / sizeof(uint64_t);
  pool.ParallelFor(static_cast<int64_t>(words), grain, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) data[i] = static_cast<uint64_t>(i);
  });
  std::atomic<uint64_t> sink{0};
  ReadBandwidth best;
  for (int rep = 0; rep < std::max(repetitions, 1) + 1; ++rep) {
    const double c0 = ProcessCpuSeconds();
    const auto t0 = std::chrono::steady_clock::now();
    pool.ParallelFor(static_cast<int64_t>(words), grain, [&](int64_t b, int64_t e, int) {
      const size_t n = static_cast<size_t>(e - b);
      sink.fetch_add(avx2 ? SumWordsAvx2(data + b, n) : SumWords(data + b, n),
                     std::memory_order_relaxed);
    });
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    const double cpu = (ProcessCpuSeconds() - c0) / pool.num_threads();
    if (rep > 0) {  // rep 0: warm-up
      best.wall_gbs = std::max(best.wall_gbs, static_cast<double>(bytes) / s / 1e9);
      best.cpu_gbs = std::max(best.cpu_gbs, static_cast<double>(bytes) / cpu / 1e9);
    }
  }
  if (sink.load() == 42) best.wall_gbs += 1e-12;  // keeps the sums alive
  return best;
}

CacheFlusher::CacheFlusher(ThreadPool& pool, size_t bytes) : pool_(pool) {
  words_ = bytes / sizeof(uint64_t);
  data_ = static_cast<uint64_t*>(std::aligned_alloc(64, words_ * sizeof(uint64_t)));
  if (data_ == nullptr) {
    words_ = 0;
    return;
  }
  pool_.ParallelFor(static_cast<int64_t>(words_), int64_t{1} << 18, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) data_[i] = static_cast<uint64_t>(i);
  });
}

CacheFlusher::~CacheFlusher() { std::free(data_); }

void CacheFlusher::Flush() {
  std::atomic<uint64_t> sink{0};
  pool_.ParallelFor(static_cast<int64_t>(words_), int64_t{1} << 18, [&](int64_t b, int64_t e, int) {
    sink.fetch_add(SumWords(data_ + b, static_cast<size_t>(e - b)), std::memory_order_relaxed);
  });
  if (sink.load() == 42) data_[0] = 0;  // keeps the sums alive
}

}  // namespace mot::bench
