// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/cpu/avx512_transpose.h
// Internal to the CPU backend's bf16 GEMMs (amx_gemm.cc, dpbf16_gemm.cc): 16 x 16 transposes
// of 32-bit elements in AVX-512 registers. Include only from files compiled with AVX-512 F.
// Thread rule: pure functions.
#ifndef MOT_ENGINE_BACKEND_CPU_AVX512_TRANSPOSE_H_
#define MOT_ENGINE_BACKEND_CPU_AVX512_TRANSPOSE_H_

#include <immintrin.h>

#include <cstdint>

namespace mot::backend::cpu {

// In place: r[j] lane i becomes r[i] lane j (a 16 x 16 transpose of 32-bit elements).
inline void Transpose16x16(__m512i r[16]) {
  __m512i t[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(r[2 * i], r[2 * i + 1]);
  }
  // r[4g + e], 128-bit lane L: rows 4g .. 4g+3 of column 4L + e.
  for (int g = 0; g < 4; ++g) {
    r[4 * g + 0] = _mm512_unpacklo_epi64(t[4 * g + 0], t[4 * g + 2]);
    r[4 * g + 1] = _mm512_unpackhi_epi64(t[4 * g + 0], t[4 * g + 2]);
    r[4 * g + 2] = _mm512_unpacklo_epi64(t[4 * g + 1], t[4 * g + 3]);
    r[4 * g + 3] = _mm512_unpackhi_epi64(t[4 * g + 1], t[4 * g + 3]);
  }
  for (int e = 0; e < 4; ++e) {
    const __m512i ab_lo = _mm512_shuffle_i32x4(r[e], r[4 + e], 0x44);
    const __m512i ab_hi = _mm512_shuffle_i32x4(r[e], r[4 + e], 0xEE);
    const __m512i cd_lo = _mm512_shuffle_i32x4(r[8 + e], r[12 + e], 0x44);
    const __m512i cd_hi = _mm512_shuffle_i32x4(r[8 + e], r[12 + e], 0xEE);
    t[e] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0x88);
    t[4 + e] = _mm512_shuffle_i32x4(ab_lo, cd_lo, 0xDD);
    t[8 + e] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0x88);
    t[12 + e] = _mm512_shuffle_i32x4(ab_hi, cd_hi, 0xDD);
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}

// One C tile c[o][i] (16 weight rows x 16 input rows, f32) written to y[i, o] for the
// `rows` valid input rows.
inline void StoreTransposed(const float* c, int64_t rows, float* y, int64_t ldy, bool accumulate) {
  __m512i r[16];
  for (int o = 0; o < 16; ++o) r[o] = _mm512_load_si512(c + 16 * o);
  Transpose16x16(r);
  for (int64_t i = 0; i < rows; ++i) {
    __m512 v = _mm512_castsi512_ps(r[i]);
    if (accumulate) v = _mm512_add_ps(v, _mm512_loadu_ps(y + i * ldy));
    _mm512_storeu_ps(y + i * ldy, v);
  }
}

}  // namespace mot::backend::cpu

#endif  // MOT_ENGINE_BACKEND_CPU_AVX512_TRANSPOSE_H_
