// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/cpu/amx_gemm.h
// Internal to the CPU backend: Linear with bf16 weights on Intel AMX tiles (TDPBF16PS), for
// prefill-sized m. y[i, o] (+)= sum_k bf16(x[i, k]) * w[o, k]: the activations are rounded
// to bf16 (round to nearest even, as PyTorch and llama.cpp do for bf16 weights) and packed
// once per call into the B tiles' pair-interleaved layout; the weights are read in place as
// A tiles (16 output rows x 32 k), so no weight is copied or repacked and no memory is
// added. Products of two bf16 are exact in f32 and the tiles accumulate in f32; the result
// differs from the f32-activation path by the activations' rounding (relative ~2^-9 per
// element).
// Call only where CpuFeatures::amx_bf16 (cpu_features.h) is true: the CPU has the
// instructions and Linux granted this process the tile state.
// Thread rule: Pack and Linear are pure over disjoint output ranges; safe to call
// concurrently from many threads (each configures and releases its own tiles).
#ifndef MOT_ENGINE_BACKEND_CPU_AMX_GEMM_H_
#define MOT_ENGINE_BACKEND_CPU_AMX_GEMM_H_

#include <cstdint>

namespace mot::backend::cpu::amx {

// Rows of x per packed block, and weight rows per A tile.
constexpr int64_t kRowBlock = 16;
// k per tile step: Linear requires k % kDepth == 0.
constexpr int64_t kDepth = 32;

// uint16_t elements of the packed activations of m rows of depth k.
constexpr int64_t PackedElems(int64_t m, int64_t k) {
  return (m + kRowBlock - 1) / kRowBlock * kRowBlock * k;
}

// Packs row blocks [block_begin, block_end) (16 rows each; rows >= m are zeros) of the f32
// rows x[m, k] (row stride ldx) into `packed` (PackedElems(m, k) elements, 64-byte aligned).
// REQUIRES: k % kDepth == 0.
void Pack(const float* x, int64_t m, int64_t ldx, int64_t k, int64_t block_begin, int64_t block_end,
          uint16_t* packed);

// The weights of Linear: bf16 rows read in place (`bf16`), or rows of another dtype that
// `to_f32` writes as f32 (rows [row, row + rows) into dst, row-major with k columns; for
// Q8_0/Q4_0, kernels' convert_rows), rounded to bf16 into the tile-order panel.
struct Weights {
  const uint16_t* bf16 = nullptr;
  void (*to_f32)(const void* ctx, int64_t row, int64_t rows, float* dst) = nullptr;
  const void* ctx = nullptr;
};

// Bytes of Linear's per-call scratch for m rows of depth k (`converted`: the weights come
// through Weights::to_f32).
int64_t ScratchBytes(int64_t m, int64_t k, bool converted);

// For output rows o in [o_begin, o_end) and i in [0, m):
// y[i, o] (+)= sum_k packed_x[i, k] * bf16(w[o, k]), w row-major with k columns. `scratch`
// holds ScratchBytes(m, k, w.bf16 == nullptr) bytes, not shared with a concurrent call.
// REQUIRES: k % kDepth == 0, (o_end - o_begin) % kRowBlock == 0.
void Linear(const uint16_t* packed, int64_t m, int64_t k, const Weights& w, int64_t o_begin,
            int64_t o_end, float* y, int64_t ldy, bool accumulate, void* scratch);

}  // namespace mot::backend::cpu::amx

#endif  // MOT_ENGINE_BACKEND_CPU_AMX_GEMM_H_
