// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/cpu/cpu_kernels.h
// Internal to the CPU backend: the table of per-ISA kernels CpuBackend dispatches to.
// One table per IsaLevel, each defined in its own file compiled with that ISA's flags
// (kernels_scalar.cc, kernels_avx2.cc, kernels_avx512.cc, sharing kernels_body.inc).
// Every kernel works on a range the caller chose (rows, output rows or (row, head) pairs)
// and never allocates; the caller splits ranges over threads.
// Thread rule: pure functions over disjoint output ranges; safe to call concurrently.
#ifndef MOT_ENGINE_BACKEND_CPU_CPU_KERNELS_H_
#define MOT_ENGINE_BACKEND_CPU_CPU_KERNELS_H_

#include <cassert>
#include <cstdint>

#include "engine/backend/backend.h"
#include "engine/backend/cpu/cpu_features.h"
#include "engine/core/block_quant.h"

namespace mot::backend::cpu {

// Input rows quantized for the integer dot products of Q8_0 / Q4_0 weights (made by
// Kernels::quantize_rows): row i, block b (inputs 32b .. 32b+31) is q[i * cols + 32b + j]
// (int8, |q| <= 127), scale d[i * nb + b] (f32) and s[i * nb + b] = d * sum_j q (Q4_0's
// weights are nibble - 8: the -8 part is -8 * d_w * s), nb = cols / 32.
struct QuantizedRows {
  const int8_t* q = nullptr;
  const float* d = nullptr;
  const float* s = nullptr;
  int64_t m = 0;
  int64_t cols = 0;
};

struct Kernels {
  IsaLevel level;

  // For output rows o in [o_begin, o_end) and i in [0, m): y[i, o] (+)= x[i, :] · w[o, :].
  // REQUIRES: 1 <= m <= 8.
  void (*linear_small_m)(const float* x, int64_t m, int64_t ldx, const WeightRef& w,
                         int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate);

  // As linear_small_m, but every row's dot products are summed in one order whatever m is
  // (a fixed unroll), so a row's output does not depend on the rows beside it: the
  // batch-invariant mode. REQUIRES: 1 <= m <= invariant_max_m.
  void (*linear_invariant)(const float* x, int64_t m, int64_t ldx, const WeightRef& w,
                           int64_t o_begin, int64_t o_end, float* y, int64_t ldy, bool accumulate);
  int64_t invariant_max_m;

  // dst[(r - r_begin) * w.cols + c] = w[r, c] as f32, for r in [r_begin, r_end) (block
  // dtypes dequantized).
  void (*convert_rows)(const WeightRef& w, int64_t r_begin, int64_t r_end, float* dst);

  // Quantizes rows [r_begin, r_end) of x into (q, d, s) as QuantizedRows describes; the
  // same bits at every level. REQUIRES: cols % 32 == 0.
  void (*quantize_rows)(const float* x, int64_t ldx, int64_t r_begin, int64_t r_end, int64_t cols,
                        int8_t* q, float* d, float* s);
  // For output rows o in [o_begin, o_end) and i in [0, xq.m):
  // y[i, o] (+)= sum over blocks b of d_w[o, b] * d_x[i, b] * (int dot of the block), with
  // w Q8_0 or Q4_0 and xq.cols == w.cols. Any m; a row's sum is the same whatever m
  // (batch-invariant). REQUIRES: IsBlockDType(w.dtype), w.cols % 32 == 0.
  void (*linear_quantized)(const QuantizedRows& xq, const WeightRef& w, int64_t o_begin,
                           int64_t o_end, float* y, int64_t ldy, bool accumulate);
  // linear_quantized with AVX-512 VNNI dot products (vpdpbusd): bitwise the same results.
  // Null in tables without one; CpuBackend uses it only where CPUID says AVX512_VNNI.
  void (*linear_quantized_vnni)(const QuantizedRows& xq, const WeightRef& w, int64_t o_begin,
                                int64_t o_end, float* y, int64_t ldy, bool accumulate);

  void (*rms_norm_rows)(const float* x, int64_t r_begin, int64_t r_end, int64_t dim, int64_t ldx,
                        const float* weight, float eps, float* y, int64_t ldy);
  void (*layer_norm_rows)(const float* x, int64_t r_begin, int64_t r_end, int64_t dim, int64_t ldx,
                          const float* weight, const float* bias, float eps, float* y, int64_t ldy);
  void (*swiglu_rows)(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t r_begin,
                      int64_t r_end, int64_t n, float* out, int64_t ldo);
  void (*add_rows)(const float* x, int64_t ldx, int64_t r_begin, int64_t r_end, int64_t cols,
                   float* y, int64_t ldy);

  // Attention for (row, head) pairs idx in [begin, end), r = idx / n_heads,
  // h = idx % n_heads. `scratch` holds at least AttentionScratchFloats(head_dim, group)
  // floats, group = n_heads / n_kv_heads.
  void (*attention_pairs)(const AttentionArgs& args, int64_t begin, int64_t end, float* scratch);
};

// Positions scored at once by attention_pairs (one softmax rescale per chunk).
constexpr int64_t kAttentionChunk = 64;
// Scores of one chunk, and per query head of a kv group its accumulator, running max and sum.
constexpr int64_t AttentionScratchFloats(int64_t head_dim, int64_t group) {
  return kAttentionChunk + group * (head_dim + 2) + 16;
}

extern const Kernels kScalarKernels;
extern const Kernels kAvx2Kernels;
extern const Kernels kAvx512Kernels;

// The table for `level` (the caller has checked the machine supports it).
const Kernels& KernelsFor(IsaLevel level);

}  // namespace mot::backend::cpu

#endif  // MOT_ENGINE_BACKEND_CPU_CPU_KERNELS_H_
