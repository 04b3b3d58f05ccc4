// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/cuda/cuda_backend.h
// CudaBackend: the Backend on one CUDA device (compute capability 8.0 or newer). Every
// pointer an op takes is device memory (Allocate / CopyToBackend), and so are the
// KvLayerView's pools, entries and seq_entry_begin; RotaryFreqs' inv_freq is the one host
// array (copied to the device when its contents change).
// All work is queued in order on one non-blocking stream. Linear runs cuBLASLt with f32
// accumulation (f32 weights: CUBLAS_COMPUTE_32F, no TF32; bf16/f16 weights: the input rows
// are rounded to the weight's type first, as backend.h allows); the other ops are the
// kernels of cuda_kernels.cu, which match CpuBackend's math in f32.
// Errors: every CUDA and cuBLAS call is checked. The first failure (or a broken
// precondition an op can see on the host) is kept as a sticky status naming the call and
// its place, e.g. "cublasLtMatmul (engine/backend/cuda/cuda_backend.cc:123):
// CUBLAS_STATUS_NOT_SUPPORTED"; later ops are no-ops and Synchronize returns it.
// Thread rule: one caller at a time (Backend's rule), from any thread (each call makes the
// backend's device current).
#ifndef MOT_ENGINE_BACKEND_CUDA_CUDA_BACKEND_H_
#define MOT_ENGINE_BACKEND_CUDA_CUDA_BACKEND_H_

#include <cublasLt.h>
#include <cuda_runtime_api.h>

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/backend/backend.h"

namespace mot::backend::cuda {

class CudaBackend final : public Backend {
 public:
  // cuBLASLt's workspace: 32 MiB lets the heuristics pick split-K kernels for decode GEMMs.
  static constexpr int64_t kWorkspaceBytes = int64_t{32} << 20;

  // The backend on device `device_index`. Unavailable "no usable CUDA device: <reason>"
  // when the runtime finds none (no GPU, no driver, a driver older than this CUDA runtime);
  // InvalidArgument when device_index is not a visible device; FailedPrecondition when its
  // compute capability is below 8.0; Internal naming the call when the stream, the cuBLASLt
  // handle or the workspace cannot be made.
  static absl::StatusOr<std::unique_ptr<CudaBackend>> Create(int device_index = 0);
  ~CudaBackend() override;
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;

  // "cuda:<device name>", e.g. "cuda:NVIDIA H200".
  std::string_view name() const override { return name_; }
  int device_index() const { return device_; }
  cudaStream_t stream() const { return stream_; }

  // Tests only: route Linear through the fallback kernel instead of cuBLASLt (the path
  // taken for a shape cuBLASLt has no algorithm for), so that it is tested too.
  void set_force_linear_fallback(bool on) { force_linear_fallback_ = on; }

  // ---- Memory face (backend.h).
  bool device_memory() const override { return true; }
  // cudaMalloc; ResourceExhausted naming the bytes asked and the device's free bytes (not
  // sticky: the backend stays usable). The sticky status when the backend has failed.
  absl::StatusOr<void*> Allocate(int64_t bytes) override;
  // Waits for the stream (queued ops may still read p), then cudaFree.
  void Free(void* p) override;
  // cudaMemcpyAsync on the stream; the pageable source is staged, so it may be reused on
  // return.
  void CopyToBackend(void* dst, const void* src, int64_t bytes) override;
  // cudaMemcpyAsync, then waits for the stream: dst is filled on return (unless failed).
  void CopyToHost(void* dst, const void* src, int64_t bytes) override;
  absl::Status Synchronize() override;
  // OK for F32, BF16 and F16; Unimplemented naming the dtype and "cuda" otherwise.
  absl::Status SupportsWeightDType(DType dtype) const override;
  absl::StatusOr<MemoryInfo> QueryMemory() override;

  // ---- Ops (backend.h).
  void Linear(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y, int64_t ldy,
              bool accumulate) override;
  void RmsNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
               float eps, float* y, int64_t ldy) override;
  void LayerNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
                 const float* bias, float eps, float* y, int64_t ldy) override;
  void Rotary(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
              const int32_t* pos, float theta) override;
  void RotaryFreqs(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                   const int32_t* pos, const double* inv_freq) override;
  void SwiGlu(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows, int64_t n,
              float* out, int64_t ldo) override;
  void Embedding(const int32_t* ids, int64_t rows, const WeightRef& table, float* y,
                 int64_t ldy) override;
  void StoreKv(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
               const kv::KvSlot* slots, const kv::KvLayerView& kv) override;
  void Attention(const AttentionArgs& args) override;
  void GatherRows(const float* src, int64_t lds, const int32_t* index, int64_t rows, int64_t cols,
                  float* dst, int64_t ldd) override;
  void Add(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y, int64_t ldy) override;

 private:
  // What a cuBLASLt matmul is planned for: the shape, the strides, the dtype, beta and the
  // pointers' alignments (the heuristic's algorithm may assume them).
  struct PlanKey {
    int64_t m, rows, cols, ldb, ldy;
    DType dtype;
    bool accumulate;
    uint32_t align_a, align_b, align_c;
    bool operator==(const PlanKey&) const = default;
    template <typename H>
    friend H AbslHashValue(H h, const PlanKey& k) {
      return H::combine(std::move(h), k.m, k.rows, k.cols, k.ldb, k.ldy, k.dtype, k.accumulate,
                        k.align_a, k.align_b, k.align_c);
    }
  };
  // Descriptors and the heuristic's algorithm; has_algo false: no algorithm, use the
  // fallback kernel.
  struct Plan {
    cublasLtMatmulDesc_t desc = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr;
    cublasLtMatmulAlgo_t algo{};
    bool has_algo = false;
  };
  // Device scratch grown on demand (after a stream sync, since queued ops may use it).
  struct Scratch {
    void* data = nullptr;
    int64_t bytes = 0;
  };

  CudaBackend(int device, std::string name, int sm_count);

  // Records the first failure; true when `err` is a success. Use MOT_CUDA_CHECK.
  bool Check(cudaError_t err, const char* call, int line);
  bool Check(cublasStatus_t st, const char* call, int line);
  // Records `s` as the sticky status unless one is kept already.
  void Fail(absl::Status s);
  // True when the backend may queue work: no sticky failure and the device made current.
  bool Ready();
  // The plan for `key` (made on first use); nullptr after recording a failure.
  Plan* GetPlan(const PlanKey& key);
  static void DestroyPlan(Plan& plan);
  // Grows `s` to at least `bytes`; nullptr after recording a failure.
  void* Grow(Scratch& s, int64_t bytes);
  // Uploads inv_freq (host, `half` doubles) unless the device copy holds these values.
  const double* DeviceInvFreq(const double* inv_freq, int32_t half);

  const int device_;
  const std::string name_;
  const int sm_count_;
  cudaStream_t stream_ = nullptr;
  cublasLtHandle_t lt_ = nullptr;
  void* workspace_ = nullptr;
  absl::Status status_;
  bool force_linear_fallback_ = false;
  absl::flat_hash_map<PlanKey, Plan> plans_;
  Scratch x16_;      // Linear's input rows in the weight's 16-bit type
  Scratch partial_;  // Attention's split partials
  Scratch inv_freq_dev_;
  std::vector<double> inv_freq_host_;  // what inv_freq_dev_ holds
  // Rotary's table theta^(-2i/head_dim) for the last (head_dim, theta), as CpuBackend.
  std::vector<double> theta_table_;
  int32_t theta_dim_ = 0;
  float theta_ = 0;
};

}  // namespace mot::backend::cuda

#endif  // MOT_ENGINE_BACKEND_CUDA_CUDA_BACKEND_H_
