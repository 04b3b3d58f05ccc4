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

#include <cstdint>

#include "engine/backend/backend.h"
#include "engine/backend/cpu/cpu_features.h"

namespace mot::backend::cpu {

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

  // dst[(r - r_begin) * w.cols + c] = w[r, c] as f32, for r in [r_begin, r_end).
  void (*convert_rows)(const WeightRef& w, int64_t r_begin, int64_t r_end, float* dst);

  void (*rms_norm_rows)(const float* x, int64_t r_begin, int64_t r_end, int64_t dim, int64_t ldx,
                        const float* weight, float eps, float* y, int64_t ldy);
  void (*layer_norm_rows)(const float* x, int64_t r_begin, int64_t r_end, int64_t dim, int64_t ldx,
                          const float* weight, const float* bias, float eps, float* y, int64_t ldy);
  void (*swiglu_rows)(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t r_begin,
                      int64_t r_end, int64_t n, float* out, int64_t ldo);
  void (*add_rows)(const float* x, int64_t ldx, int64_t r_begin, int64_t r_end, int64_t cols,
                   float* y, int64_t ldy);

  // Attention for (row, head) pairs idx in [begin, end), r = idx / n_heads,
  // h = idx % n_heads. `scratch` holds at least AttentionScratchFloats(head_dim) floats.
  void (*attention_pairs)(const AttentionArgs& args, int64_t begin, int64_t end, float* scratch);
};

// Positions scored at once by attention_pairs (one softmax rescale per chunk).
constexpr int64_t kAttentionChunk = 64;
constexpr int64_t AttentionScratchFloats(int64_t head_dim) {
  return head_dim + kAttentionChunk + 16;
}

extern const Kernels kScalarKernels;
extern const Kernels kAvx2Kernels;
extern const Kernels kAvx512Kernels;

// The table for `level` (the caller has checked the machine supports it).
const Kernels& KernelsFor(IsaLevel level);

}  // namespace mot::backend::cpu

#endif  // MOT_ENGINE_BACKEND_CPU_CPU_KERNELS_H_
