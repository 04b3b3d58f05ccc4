// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The AVX2 + FMA nearest-code kernel; compiled with -mavx2 -mfma and called only when
// DetectedSimdLevel() says the CPU has both. It includes no header with inline functions
// or templates it would instantiate (kmeans.h declares the entry point; its inline members
// are not used here), so no AVX2-compiled copy of shared code can reach other files.
#include <immintrin.h>

#include <cstdint>

namespace mot::tokenizer::internal {

// Declared in kmeans.h.
void AssignRangeAvx2(const float* panels, const float* norms, int64_t num_panels, int64_t d,
                     const float* points, int64_t p0, int64_t p1, int32_t* codes, float* sqdist);

// points: [*, d] row-major; panels: [num_panels, d, 16] (code q*16+l's coordinate j at
// (q*d + j)*16 + l); norms: [num_panels*16], +inf for padding codes, so they never win.
// Four points against one 16-code panel keep 8 accumulators in registers: per coordinate,
// 2 loads of the panel and 4 broadcasts feed 8 FMAs.
void AssignRangeAvx2(const float* panels, const float* norms, int64_t num_panels, int64_t d,
                     const float* points, int64_t p0, int64_t p1, int32_t* codes, float* sqdist) {
  constexpr int64_t kPoints = 4;
  alignas(32) float dist[kPoints][16];
  for (int64_t p = p0; p < p1; p += kPoints) {
    const int64_t np = p1 - p < kPoints ? p1 - p : kPoints;
    // A short block repeats its last point; the extra results are dropped.
    const float* x0 = points + p * d;
    const float* x1 = points + (p + (np > 1 ? 1 : 0)) * d;
    const float* x2 = points + (p + (np > 2 ? 2 : np - 1)) * d;
    const float* x3 = points + (p + (np > 3 ? 3 : np - 1)) * d;
    float best[kPoints];
    int32_t best_code[kPoints];
    for (int64_t i = 0; i < kPoints; ++i) {
      best[i] = __builtin_inff();
      best_code[i] = 0;
    }
    const __m256 minus2 = _mm256_set1_ps(-2.0f);
    for (int64_t q = 0; q < num_panels; ++q) {
      const float* panel = panels + q * d * 16;
      __m256 a00 = _mm256_setzero_ps(), a01 = _mm256_setzero_ps();
      __m256 a10 = _mm256_setzero_ps(), a11 = _mm256_setzero_ps();
      __m256 a20 = _mm256_setzero_ps(), a21 = _mm256_setzero_ps();
      __m256 a30 = _mm256_setzero_ps(), a31 = _mm256_setzero_ps();
      for (int64_t j = 0; j < d; ++j) {
        const __m256 r0 = _mm256_loadu_ps(panel + j * 16);
        const __m256 r1 = _mm256_loadu_ps(panel + j * 16 + 8);
        __m256 b = _mm256_broadcast_ss(x0 + j);
        a00 = _mm256_fmadd_ps(b, r0, a00);
        a01 = _mm256_fmadd_ps(b, r1, a01);
        b = _mm256_broadcast_ss(x1 + j);
        a10 = _mm256_fmadd_ps(b, r0, a10);
        a11 = _mm256_fmadd_ps(b, r1, a11);
        b = _mm256_broadcast_ss(x2 + j);
        a20 = _mm256_fmadd_ps(b, r0, a20);
        a21 = _mm256_fmadd_ps(b, r1, a21);
        b = _mm256_broadcast_ss(x3 + j);
        a30 = _mm256_fmadd_ps(b, r0, a30);
        a31 = _mm256_fmadd_ps(b, r1, a31);
      }
      // ||c||^2 - 2 x.c
      const __m256 n0 = _mm256_loadu_ps(norms + q * 16);
      const __m256 n1 = _mm256_loadu_ps(norms + q * 16 + 8);
      _mm256_store_ps(dist[0], _mm256_fmadd_ps(minus2, a00, n0));
      _mm256_store_ps(dist[0] + 8, _mm256_fmadd_ps(minus2, a01, n1));
      _mm256_store_ps(dist[1], _mm256_fmadd_ps(minus2, a10, n0));
      _mm256_store_ps(dist[1] + 8, _mm256_fmadd_ps(minus2, a11, n1));
      _mm256_store_ps(dist[2], _mm256_fmadd_ps(minus2, a20, n0));
      _mm256_store_ps(dist[2] + 8, _mm256_fmadd_ps(minus2, a21, n1));
      _mm256_store_ps(dist[3], _mm256_fmadd_ps(minus2, a30, n0));
      _mm256_store_ps(dist[3] + 8, _mm256_fmadd_ps(minus2, a31, n1));
      for (int64_t i = 0; i < np; ++i) {
        for (int64_t l = 0; l < 16; ++l) {
          // Strict < keeps the lowest index on ties; panels are visited in code order.
          if (dist[i][l] < best[i]) {
            best[i] = dist[i][l];
            best_code[i] = static_cast<int32_t>(q * 16 + l);
          }
        }
      }
    }
    for (int64_t i = 0; i < np; ++i) {
      codes[p + i] = best_code[i];
      if (sqdist != nullptr) {
        const float* x = points + (p + i) * d;
        float norm = 0;
        for (int64_t j = 0; j < d; ++j) norm += x[j] * x[j];
        const float s = norm + best[i];
        sqdist[p + i] = s > 0.0f ? s : 0.0f;
      }
    }
  }
}

}  // namespace mot::tokenizer::internal
