// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/cpu/dpbf16_gemm.h
// Internal to the CPU backend: Linear with bf16 weights on AVX-512 BF16 dot products
// (vdpbf16ps), for prefill-sized m on CPUs with AVX512_BF16 but no AMX (AMD Zen 4, Intel
// Cooper Lake). The same math as amx_gemm.h, on the same packed activations (amx::Pack,
// which needs only AVX512_BF16): y[i, o] (+)= sum_k bf16(x[i, k]) * w[o, k], products exact
// in f32 and summed in f32. Each weight pair is broadcast from its row in place against 16
// packed input rows, so no weight is copied and no memory is added.
// Call only where CpuFeatures::avx512_bf16 is true.
// Thread rule: pure over disjoint output ranges; safe to call concurrently.
#ifndef MOT_ENGINE_BACKEND_CPU_DPBF16_GEMM_H_
#define MOT_ENGINE_BACKEND_CPU_DPBF16_GEMM_H_

#include <cstdint>

namespace mot::backend::cpu::dpbf16 {

// For output rows o in [o_begin, o_end) and i in [0, m):
// y[i, o] (+)= sum_k packed_x[i, k] * w[o, k], `packed` from amx::Pack(x, m, ..., k).
// REQUIRES: k % amx::kDepth == 0, (o_end - o_begin) % amx::kRowBlock == 0.
void Linear(const uint16_t* packed, int64_t m, int64_t k, const uint16_t* w, int64_t o_begin,
            int64_t o_end, float* y, int64_t ldy, bool accumulate);

}  // namespace mot::backend::cpu::dpbf16

#endif  // MOT_ENGINE_BACKEND_CPU_DPBF16_GEMM_H_
