// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/backend.h
// Backend: the short list of operations a MoT forward step is made of. The CPU backend
// (engine/backend/cpu) is the reference every other backend (CUDA) is tested against.
// Every activation is f32, row-major, with an explicit row stride (ld*, in elements), so an
// op can run on a row range or a column slice of a larger buffer. Weights keep their
// checkpoint dtype (F32, F16 or BF16) and are converted on the fly with f32 accumulation.
// Pointers are in the backend's memory space (host memory for the CPU backend).
// Output buffers may alias inputs only where an op says so.
// Thread rule: one caller at a time (the engine thread); ops may use the backend's threads.
//
// Memory face. A backend's pointers live in its own memory: host memory for the CPU backend,
// device memory for the CUDA one (device_memory() true). A caller allocates activations,
// prepared weights and KV storage with Allocate, moves bytes with CopyToBackend and
// CopyToHost, and passes only backend pointers to the ops (WeightRef::data,
// AttentionArgs::seq/pos, the KvLayerView's pools, entries and seq_entry_begin, norm weights
// and biases, GatherRows' index, Embedding's ids, StoreKv's slots). Ops on a device backend
// are queued in order on one stream and cannot fail one by one: the first failure is kept
// (sticky, naming the call that failed) and returned by Synchronize, after which the backend
// is unusable. On the CPU backend every op has finished when it returns and Synchronize is
// always OK. Activations are f32 on every backend (a device backend rounds a GEMM's inputs to
// the weight's 16-bit type inside Linear and accumulates in f32).
#ifndef MOT_ENGINE_BACKEND_BACKEND_H_
#define MOT_ENGINE_BACKEND_BACKEND_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/core/dtype.h"
#include "engine/kv/kv_layer_view.h"

namespace mot::backend {

// A weight matrix in PyTorch's nn.Linear layout: [rows = out_features, cols = in_features],
// row-major, contiguous. Also used for embedding tables ([vocab, dim]).
struct WeightRef {
  const void* data = nullptr;
  DType dtype = DType::kF32;
  int64_t rows = 0;
  int64_t cols = 0;
};

struct AttentionArgs {
  const float* q = nullptr;  // [rows, n_heads * head_dim], rotary already applied
  int64_t ldq = 0;
  int64_t rows = 0;
  const int32_t* seq = nullptr;  // [rows] sequence slot of each row in `kv`
  const int32_t* pos = nullptr;  // [rows] position of each row in its sequence
  kv::KvLayerView kv;            // holds positions 0..pos[r] of seq[r] for every row r
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;  // divides n_heads; query head h reads kv head h / (n_heads / n_kv_heads)
  int32_t head_dim = 0;
  float scale = 0;  // usually 1 / sqrt(head_dim)
  // Sliding window: when > 0, row r attends only to positions > pos[r] - window (at most
  // `window` positions, its own included); 0: every position 0..pos[r].
  int32_t window = 0;
  float* out = nullptr;  // [rows, n_heads * head_dim]; must not alias q
  int64_t ldo = 0;
};

class Backend {
 public:
  virtual ~Backend() = default;

  // "cpu-avx512", "cpu-avx2", "cpu-scalar", "cuda", ...: for logs and benchmark tables.
  virtual std::string_view name() const = 0;

  // ---- Memory face (see the file comment). The defaults are the host-memory ones.

  // Whether pointers are device pointers (not dereferenceable on the host).
  virtual bool device_memory() const { return false; }

  // `bytes` of the backend's memory, 256-byte aligned, uninitialized. ResourceExhausted
  // naming the size (and what is free) when it cannot be had. Free(nullptr) is a no-op.
  virtual absl::StatusOr<void*> Allocate(int64_t bytes) {
    constexpr int64_t kAlign = 256;
    const int64_t rounded = (std::max<int64_t>(bytes, 1) + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, static_cast<size_t>(rounded));
    if (p == nullptr) {
      return absl::ResourceExhaustedError(std::string(name()) + ": cannot allocate " +
                                          std::to_string(bytes) + " bytes of host memory");
    }
    return p;
  }
  virtual void Free(void* p) { std::free(p); }

  // Host -> backend, ordered with the ops; `src` may be reused as soon as it returns.
  virtual void CopyToBackend(void* dst, const void* src, int64_t bytes) {
    if (bytes > 0) std::memcpy(dst, src, static_cast<size_t>(bytes));
  }
  // Backend -> host, after every op queued before it; `dst` is filled when it returns.
  // A device failure (sticky) leaves dst unspecified: check Synchronize.
  virtual void CopyToHost(void* dst, const void* src, int64_t bytes) {
    if (bytes > 0) std::memcpy(dst, src, static_cast<size_t>(bytes));
  }

  // Waits for every queued op; the first failure since the backend was made, naming the call
  // (for CUDA "cudaMemcpyAsync: out of memory", "cublasLtMatmul: ..."), else OK.
  virtual absl::Status Synchronize() { return absl::OkStatus(); }

  // Whether Linear runs weights of `dtype`; Unimplemented naming the dtype and the backend
  // otherwise (the CUDA backend runs F32, BF16 and F16, not the block-quantized ones).
  virtual absl::Status SupportsWeightDType(DType dtype) const {
    (void)dtype;
    return absl::OkStatus();
  }

  // Free and total bytes of the backend's memory, for sizing KV pools from what the weights
  // leave; Unimplemented where the backend does not know (host memory: the caller's budget).
  struct MemoryInfo {
    int64_t free_bytes = 0;
    int64_t total_bytes = 0;
  };
  virtual absl::StatusOr<MemoryInfo> QueryMemory() {
    return absl::UnimplementedError(std::string(name()) + ": no memory query on host memory");
  }

  // ---- Ops.

  // y[i, :] = w · x[i, :] for i in [0, m) (y = x wᵀ): x [m, w.cols] (stride ldx),
  // y [m, w.rows] (stride ldy). When `accumulate`, y += x wᵀ instead. y must not alias x.
  virtual void Linear(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                      int64_t ldy, bool accumulate) = 0;

  // y[i, :] = x[i, :] / rms(x[i, :]) * weight, rms = sqrt(mean(x²) + eps). y may equal x.
  virtual void RmsNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
                       float eps, float* y, int64_t ldy) = 0;

  // y[i, :] = (x[i, :] - mean) / sqrt(var + eps) * weight + bias (bias may be null).
  // y may equal x.
  virtual void LayerNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx,
                         const float* weight, const float* bias, float eps, float* y,
                         int64_t ldy) = 0;

  // Rotary embedding, rotate-half convention, in place on `n_heads` heads of `head_dim`
  // per row: for i < head_dim/2, angle = pos[r] * theta^(-2i/head_dim),
  //   (x[i], x[i + half]) <- (x[i] cos - x[i + half] sin, x[i + half] cos + x[i] sin).
  virtual void Rotary(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                      const int32_t* pos, float theta) = 0;

  // As Rotary, with the inverse frequencies given instead of theta (rope scaling,
  // RopeInverseFrequencies in model_loaders/model_config.h): angle = pos[r] * inv_freq[i].
  // `inv_freq` is host memory, head_dim / 2 values (a device backend copies it). The
  // default is a plain loop over host memory, so a backend (or a wrapper, as the
  // benchmarks' timing ones) written before this op keeps compiling and working on host
  // memory; a device backend must override it.
  virtual void RotaryFreqs(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                           const int32_t* pos, const double* inv_freq) {
    const int32_t half = head_dim / 2;
    for (int64_t r = 0; r < rows; ++r) {
      for (int32_t i = 0; i < half; ++i) {
        const double angle = static_cast<double>(pos[r]) * inv_freq[i];
        const float c = static_cast<float>(std::cos(angle));
        const float s = static_cast<float>(std::sin(angle));
        for (int32_t h = 0; h < n_heads; ++h) {
          float* a = x + r * ldx + static_cast<int64_t>(h) * head_dim;
          const float xa = a[i];
          const float xb = a[i + half];
          a[i] = xa * c - xb * s;
          a[i + half] = xb * c + xa * s;
        }
      }
    }
  }

  // out[i, j] = silu(gate[i, j]) * up[i, j], silu(z) = z / (1 + exp(-z)). out may equal gate.
  virtual void SwiGlu(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows,
                      int64_t n, float* out, int64_t ldo) = 0;

  // y[i, :] = table[ids[i], :] as f32. REQUIRES: 0 <= ids[i] < table.rows.
  virtual void Embedding(const int32_t* ids, int64_t rows, const WeightRef& table, float* y,
                         int64_t ldy) = 0;

  // Writes k[i, :] and v[i, :] (each kv.kv_dim wide) to slot slots[i] of kv (the slot
  // mapping of the step, computed once with KvLayerView::Locate and reused for every layer),
  // converted to that pool's storage dtype (bf16/f16: round to nearest even).
  // REQUIRES: the slots are distinct and inside their pools.
  virtual void StoreKv(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
                       const kv::KvSlot* slots, const kv::KvLayerView& kv) = 0;

  // Causal attention, global across modalities and pools: row r's query attends to
  // positions 0..pos[r] (the last `window` of them when args.window > 0) of sequence seq[r],
  // read from that sequence's block entries in
  // position order (keys/values of bf16/f16 pools converted to f32 on the fly), with one
  // softmax over all of them. This step's keys/values must already be stored.
  virtual void Attention(const AttentionArgs& args) = 0;

  // dst[i, :] = src[index[i], :] for i in [0, rows), `cols` floats each. dst must not alias src.
  virtual void GatherRows(const float* src, int64_t lds, const int32_t* index, int64_t rows,
                          int64_t cols, float* dst, int64_t ldd) = 0;

  // y[i, :] += x[i, :] (residual add). ldx may be 0: one row x added to every row of y
  // (a bias).
  virtual void Add(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y,
                   int64_t ldy) = 0;
};

}  // namespace mot::backend

#endif  // MOT_ENGINE_BACKEND_BACKEND_H_
