// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Compiled with -mavx512bf16 (and AVX-512 F/BW/VL): nothing here may run unless
// CpuFeatures::avx512_bf16 is true.
#include "engine/backend/cpu/dpbf16_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "engine/backend/cpu/amx_gemm.h"
#include "engine/backend/cpu/avx512_transpose.h"

namespace mot::backend::cpu::dpbf16 {
namespace {

// Output rows per register block: 2 input blocks x 8 outputs = 16 accumulators, 2 input
// vectors and a broadcast; per k-pair 10 loads feed 16 dot products.
constexpr int kOut = 8;

// acc[b][o] for NB <= 2 packed input blocks (at b0, the next kb_stride elements on) and the
// 8 weight rows at w (row length k): every k pair. Writes c[b][o0 + o][lane = input row].
template <int NB>
void Kernel(const uint16_t* b0, int64_t kb_stride, const uint16_t* w, int64_t k, int o0,
            float (*c)[16][16]) {
  __m512 acc[NB][kOut];
  for (int b = 0; b < NB; ++b) {
    for (int o = 0; o < kOut; ++o) acc[b][o] = _mm512_setzero_ps();
  }
  const int64_t nkb = k / amx::kDepth;
  for (int64_t kb = 0; kb < nkb; ++kb) {
    const uint16_t* a_step = b0 + kb * 512;
    const uint16_t* w_step = w + kb * amx::kDepth;
    for (int p = 0; p < 16; ++p) {
      __m512bh a[NB];
      for (int b = 0; b < NB; ++b) {
        a[b] = (__m512bh)_mm512_load_si512(a_step + b * kb_stride + 32 * p);
      }
      for (int o = 0; o < kOut; ++o) {
        uint32_t pair;
        std::memcpy(&pair, w_step + o * k + 2 * p, sizeof(pair));
        const __m512bh wv = (__m512bh)_mm512_set1_epi32(static_cast<int>(pair));
        for (int b = 0; b < NB; ++b) acc[b][o] = _mm512_dpbf16_ps(acc[b][o], a[b], wv);
      }
    }
  }
  for (int b = 0; b < NB; ++b) {
    for (int o = 0; o < kOut; ++o) _mm512_store_ps(c[b][o0 + o], acc[b][o]);
  }
}

}  // namespace

void Linear(const uint16_t* packed, int64_t m, int64_t k, const uint16_t* w, int64_t o_begin,
            int64_t o_end, float* y, int64_t ldy, bool accumulate) {
  if (o_begin >= o_end || m <= 0) return;
  const int64_t kb_stride = k / amx::kDepth * 512;
  const int64_t blocks = (m + amx::kRowBlock - 1) / amx::kRowBlock;
  alignas(64) float c[2][16][16];
  for (int64_t o = o_begin; o < o_end; o += 16) {
    for (int64_t b = 0; b < blocks; b += 2) {
      const int nb = blocks - b >= 2 ? 2 : 1;
      const uint16_t* b0 = packed + b * kb_stride;
      for (int o0 = 0; o0 < 16; o0 += kOut) {
        if (nb == 2) {
          Kernel<2>(b0, kb_stride, w + (o + o0) * k, k, o0, c);
        } else {
          Kernel<1>(b0, kb_stride, w + (o + o0) * k, k, o0, c);
        }
      }
      for (int bb = 0; bb < nb; ++bb) {
        const int64_t i0 = (b + bb) * amx::kRowBlock;
        StoreTransposed(&c[bb][0][0], std::min<int64_t>(amx::kRowBlock, m - i0), y + i0 * ldy + o,
                        ldy, accumulate);
      }
    }
  }
}

}  // namespace mot::backend::cpu::dpbf16
