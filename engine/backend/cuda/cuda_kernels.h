// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/cuda/cuda_kernels.h
// internal: the CUDA kernels of CudaBackend behind plain C++17 launch functions (cuda_kernels.cu
// is compiled by nvcc and knows no Abseil; cuda_backend.cc checks every result).
// Each Launch* queues one or two kernels on `stream` and returns cudaGetLastError() after
// the launch (a launch error; faults inside a kernel surface at the next synchronization).
// Shapes, strides and the math are Backend's (engine/backend/backend.h); every pointer is
// device memory unless a comment says otherwise. Launchers do no allocation and never
// synchronize. REQUIRES (checked by the caller, cuda_backend.cc): counts fit the grid
// limits noted per function, strides >= the row widths they stride over.
// Thread rule: any host thread whose current device is the stream's.
#ifndef MOT_ENGINE_BACKEND_CUDA_CUDA_KERNELS_H_
#define MOT_ENGINE_BACKEND_CUDA_CUDA_KERNELS_H_

#include <cuda_runtime_api.h>

#include <cstdint>

#include "engine/core/dtype.h"
#include "engine/kv/kv_layer_view.h"

namespace mot::backend::cuda {

// Call once per device before the first LaunchAttention: allows the attention kernel its
// dynamic shared memory above the default 48 KiB (head_dim 256 needs ~74 KiB).
cudaError_t InitKernels();

// dst[i, j] = x[i, j] rounded to nearest even in `dtype` (kBF16 or kF16), dst contiguous
// [m, cols] of 16-bit values. The input of Linear's 16-bit GEMM.
cudaError_t LaunchConvertRows(const float* x, int64_t m, int64_t cols, int64_t ldx, DType dtype,
                              void* dst, cudaStream_t stream);

// y = x wᵀ (+ y when accumulate), one warp per output element: the fallback for shapes
// cuBLASLt has no algorithm for. x is rounded to the weight's dtype as the GEMM path does.
// w: [rows, cols] row-major of `dtype` (f32, bf16, f16).
cudaError_t LaunchLinearFallback(const float* x, int64_t m, int64_t ldx, const void* w, DType dtype,
                                 int64_t rows, int64_t cols, float* y, int64_t ldy, bool accumulate,
                                 cudaStream_t stream);

// RMSNorm / LayerNorm: one block per row (REQUIRES rows < 2^31); y may equal x.
cudaError_t LaunchRmsNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx,
                          const float* weight, float eps, float* y, int64_t ldy,
                          cudaStream_t stream);
cudaError_t LaunchLayerNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx,
                            const float* weight, const float* bias, float eps, float* y,
                            int64_t ldy, cudaStream_t stream);

// Rotary (rotate-half) with angle = pos[r] * inv_freq[i] in double, as CpuBackend.
// inv_freq: device, head_dim / 2 doubles. One block per row (REQUIRES rows < 2^31).
cudaError_t LaunchRotary(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                         const int32_t* pos, const double* inv_freq, cudaStream_t stream);

cudaError_t LaunchSwiGlu(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows,
                         int64_t n, float* out, int64_t ldo, cudaStream_t stream);

// y[i, :] = table[ids[i], :] as f32; an id outside [0, vocab) writes NaN (a visible poison
// instead of an out-of-bounds read).
cudaError_t LaunchEmbedding(const int32_t* ids, int64_t rows, const void* table, DType dtype,
                            int64_t vocab, int64_t cols, float* y, int64_t ldy,
                            cudaStream_t stream);

// kv's pools, entries and seq_entry_begin are device pointers; so is slots.
cudaError_t LaunchStoreKv(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
                          const kv::KvSlot* slots, const kv::KvLayerView& kv, cudaStream_t stream);

cudaError_t LaunchGatherRows(const float* src, int64_t lds, const int32_t* index, int64_t rows,
                             int64_t cols, float* dst, int64_t ldd, cudaStream_t stream);

cudaError_t LaunchAdd(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y,
                      int64_t ldy, cudaStream_t stream);

// Paged attention (Backend::Attention) with the view's arrays in device memory.
struct AttentionLaunch {
  const float* q = nullptr;
  int64_t ldq = 0;
  int64_t rows = 0;
  const int32_t* seq = nullptr;
  const int32_t* pos = nullptr;
  kv::KvLayerView kv;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;
  float scale = 0;
  int32_t window = 0;
  float* out = nullptr;
  int64_t ldo = 0;
  // Each (row, head) is split over `splits` contiguous ranges of its positions, combined
  // by a second kernel (flash-decoding); 1: no split, no scratch.
  int32_t splits = 1;
  float* partial = nullptr;  // AttentionScratchFloats(...) floats when splits > 1
};

// The largest head_dim LaunchAttention takes (head_dim must also be even).
constexpr int32_t kAttentionMaxHeadDim = 256;
// The most splits AttentionSplits chooses.
constexpr int32_t kAttentionMaxSplits = 32;

// How many splits keep `sm_count` multiprocessors busy: 1 when rows * kv-head blocks
// already fill about two waves, else up to kAttentionMaxSplits.
int32_t AttentionSplits(int64_t rows, int32_t n_heads, int32_t n_kv_heads, int sm_count);
// Scratch floats for `splits` > 1: partial outputs and (max, sum) per split.
int64_t AttentionScratchFloats(int64_t rows, int32_t n_heads, int32_t head_dim, int32_t splits);

// REQUIRES: rows < 2^31; n_kv_heads divides n_heads; head_dim even, 2..kAttentionMaxHeadDim;
// kv.kv_dim >= n_kv_heads * head_dim; every row's positions 0..pos[r] are in its entries.
cudaError_t LaunchAttention(const AttentionLaunch& a, cudaStream_t stream);

}  // namespace mot::backend::cuda

#endif  // MOT_ENGINE_BACKEND_CUDA_CUDA_KERNELS_H_
