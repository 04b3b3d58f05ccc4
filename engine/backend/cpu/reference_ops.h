// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/cpu/reference_ops.h
// Scalar reference implementations of every Backend op (backend.h gives the contracts).
// They are the oracle for the SIMD variants and for CUDA: plain loops, f64 accumulation
// where a sum is long, no threads. Slow by design; never used on a hot path except by the
// forced "scalar" reference mode of tests.
// Thread rule: pure functions over the caller's buffers; safe from any thread.
#ifndef MOT_ENGINE_BACKEND_CPU_REFERENCE_OPS_H_
#define MOT_ENGINE_BACKEND_CPU_REFERENCE_OPS_H_

#include <cstdint>

#include "engine/backend/backend.h"

namespace mot::backend::cpu {

// Element `i` of a weight buffer of dtype `t`, as f32 (exact).
float LoadWeight(const void* data, DType t, int64_t i);

void LinearRef(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y, int64_t ldy,
               bool accumulate);
// The quantized-activation Linear of Q8_0/Q4_0 weights (the oracle of
// Kernels::linear_quantized): each row of x quantized by QuantizeRowRef, exact integer dot
// products per 32-block, scaled and summed in f64. REQUIRES: IsBlockDType(w.dtype).
void LinearQuantizedRef(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                        int64_t ldy, bool accumulate);
// One row of `cols` inputs (a multiple of 32) quantized as cpu_kernels.h's QuantizedRows:
// per block d = max|x| / 127, q = nearest-even(x / d), s = d * sum q.
void QuantizeRowRef(const float* x, int64_t cols, int8_t* q, float* d, float* s);
void RmsNormRef(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
                float eps, float* y, int64_t ldy);
void LayerNormRef(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
                  const float* bias, float eps, float* y, int64_t ldy);
void RotaryRef(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
               const int32_t* pos, float theta);
void RotaryFreqsRef(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                    const int32_t* pos, const double* inv_freq);
void SwiGluRef(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows,
               int64_t n, float* out, int64_t ldo);
void EmbeddingRef(const int32_t* ids, int64_t rows, const WeightRef& table, float* y, int64_t ldy);
void StoreKvRef(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
                const kv::KvSlot* slots, const kv::KvLayerView& kv);
void AttentionRef(const AttentionArgs& args);
void GatherRowsRef(const float* src, int64_t lds, const int32_t* index, int64_t rows, int64_t cols,
                   float* dst, int64_t ldd);
void AddRef(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y, int64_t ldy);

}  // namespace mot::backend::cpu

#endif  // MOT_ENGINE_BACKEND_CPU_REFERENCE_OPS_H_
