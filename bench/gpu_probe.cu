// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include <cublasLt.h>
#include <cuda_bf16.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "bench/gpu_probe.h"

namespace mot::bench::gpu {
namespace {

std::string Describe(const char* call, const char* file, int line, const char* what) {
  return std::string(call) + " (" + file + ":" + std::to_string(line) + "): " + what;
}

// Returns the failure as the function's message (STYLE.md "CUDA": the call text, the place
// and the library's string); a probe is not a server, so it needs no sticky state.
#define PROBE_CUDA(call)                                                         \
  do {                                                                           \
    if (cudaError_t probe_err = (call); probe_err != cudaSuccess) {              \
      return Describe(#call, __FILE__, __LINE__, cudaGetErrorString(probe_err)); \
    }                                                                            \
  } while (0)
#define PROBE_CUBLAS(call)                                                         \
  do {                                                                             \
    if (cublasStatus_t probe_st = (call); probe_st != CUBLAS_STATUS_SUCCESS) {     \
      return Describe(#call, __FILE__, __LINE__, cublasLtGetStatusName(probe_st)); \
    }                                                                              \
  } while (0)
// Directly after every <<<...>>>: a bad launch configuration shows only here.
#define PROBE_LAUNCH(what)                                                      \
  do {                                                                          \
    if (cudaError_t probe_err = cudaGetLastError(); probe_err != cudaSuccess) { \
      return Describe(what, __FILE__, __LINE__, cudaGetErrorString(probe_err)); \
    }                                                                           \
  } while (0)

// Owners that release on every return path. Release errors are ignored: nothing can be
// done about them here, and the probe's result is already decided.
struct DeviceBuffer {
  void* p = nullptr;
  DeviceBuffer() = default;
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() {
    if (p != nullptr) (void)cudaFree(p);
  }
};
struct Stream {
  cudaStream_t s = nullptr;
  ~Stream() {
    if (s != nullptr) (void)cudaStreamDestroy(s);
  }
};
struct EventPair {
  cudaEvent_t start = nullptr, stop = nullptr;
  ~EventPair() {
    if (start != nullptr) (void)cudaEventDestroy(start);
    if (stop != nullptr) (void)cudaEventDestroy(stop);
  }
};
struct LtObjects {
  cublasLtHandle_t handle = nullptr;
  cublasLtMatmulDesc_t desc = nullptr;
  cublasLtMatrixLayout_t a = nullptr, b = nullptr, d = nullptr;
  cublasLtMatmulPreference_t pref = nullptr;
  void DestroyShape() {
    if (pref != nullptr) (void)cublasLtMatmulPreferenceDestroy(pref);
    if (d != nullptr) (void)cublasLtMatrixLayoutDestroy(d);
    if (b != nullptr) (void)cublasLtMatrixLayoutDestroy(b);
    if (a != nullptr) (void)cublasLtMatrixLayoutDestroy(a);
    if (desc != nullptr) (void)cublasLtMatmulDescDestroy(desc);
    pref = nullptr, d = b = a = nullptr, desc = nullptr;
  }
  ~LtObjects() {
    DestroyShape();
    if (handle != nullptr) (void)cublasLtDestroy(handle);
  }
};

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

// ---- Random fill.

// Uniform in [-scale, scale) from a counter hash (splitmix64 of seed + i), so a fill is the
// same whatever the grid. Grid-stride over n elements; any grid.
__global__ void FillRandomBf16(__nv_bfloat16* p, int64_t n, uint64_t seed, float scale) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += stride) {
    uint64_t z = seed + static_cast<uint64_t>(i) * 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    const float u = static_cast<float>(z >> 40) * 0x1.0p-23f - 1.0f;  // [-1, 1)
    p[i] = __float2bfloat16(u * scale);
  }
}

constexpr int kFillThreads = 256;

std::string Fill(void* p, int64_t n, uint64_t seed, float scale, int sm_count,
                 cudaStream_t stream) {
  const int blocks = std::max(1, sm_count) * 8;
  FillRandomBf16<<<blocks, kFillThreads, 0, stream>>>(static_cast<__nv_bfloat16*>(p), n, seed,
                                                      scale);
  PROBE_LAUNCH("FillRandomBf16<<<>>>");
  return "";
}

// ---- Read bandwidth.

// 256 threads: 8 warps a block and 8 blocks an SM fill Hopper's 2048 threads per SM, each
// with kLoadsInFlight 16-byte loads outstanding (about 17 MB in flight on 132 SMs, several
// times bandwidth x latency), as the decode GEMMs' weight streams need.
constexpr int kReadThreads = 256;
constexpr int kReadBlocksPerSm = 8;
constexpr int kLoadsInFlight = 4;

// The f32 sum of eight bf16 values packed in 16 bytes (a bf16 is the top half of an f32).
__device__ __forceinline__ float SumBf16x8(uint4 v) {
  float s = 0;
  const uint32_t w[4] = {v.x, v.y, v.z, v.w};
#pragma unroll
  for (int j = 0; j < 4; ++j) {
    s += __uint_as_float(w[j] << 16) + __uint_as_float(w[j] & 0xffff0000u);
  }
  return s;
}

// p: n16 16-byte words. Grid-stride: each thread issues kLoadsInFlight coalesced loads
// (stride apart) before it uses any, then a tail loop. The block's sum is added to
// partial[blockIdx.x] (one f32 per block, read back by the host at the end), which makes
// every load observable. Shared memory: kReadThreads / 32 floats.
__global__ void __launch_bounds__(kReadThreads)
    ReadBf16(const uint4* __restrict__ p, int64_t n16, float* __restrict__ partial) {
  const int64_t stride = static_cast<int64_t>(gridDim.x) * blockDim.x;
  int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  float acc[kLoadsInFlight] = {};
  for (; i + (kLoadsInFlight - 1) * stride < n16; i += kLoadsInFlight * stride) {
    uint4 v[kLoadsInFlight];
#pragma unroll
    for (int u = 0; u < kLoadsInFlight; ++u) v[u] = p[i + u * stride];
#pragma unroll
    for (int u = 0; u < kLoadsInFlight; ++u) acc[u] += SumBf16x8(v[u]);
  }
  for (; i < n16; i += stride) acc[0] += SumBf16x8(p[i]);
  float s = 0;
#pragma unroll
  for (int u = 0; u < kLoadsInFlight; ++u) s += acc[u];
  for (int o = 16; o > 0; o >>= 1) s += __shfl_xor_sync(0xffffffffu, s, o);
  __shared__ float warp_sums[kReadThreads / 32];
  if (threadIdx.x % 32 == 0) warp_sums[threadIdx.x / 32] = s;
  __syncthreads();
  if (threadIdx.x == 0) {
    float t = 0;
    for (int w = 0; w < kReadThreads / 32; ++w) t += warp_sums[w];
    partial[blockIdx.x] += t;
  }
}

}  // namespace

std::string QueryDevice(DeviceInfo* out) {
  int device = 0;
  PROBE_CUDA(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  PROBE_CUDA(cudaGetDeviceProperties(&prop, device));
  out->name = prop.name;
  out->cc_major = prop.major;
  out->cc_minor = prop.minor;
  out->sm_count = prop.multiProcessorCount;
  out->l2_bytes = prop.l2CacheSize;
  size_t free_bytes = 0, total_bytes = 0;
  PROBE_CUDA(cudaMemGetInfo(&free_bytes, &total_bytes));
  out->free_bytes = static_cast<int64_t>(free_bytes);
  out->total_bytes = static_cast<int64_t>(total_bytes);
  PROBE_CUDA(cudaDriverGetVersion(&out->driver_version));
  PROBE_CUDA(cudaRuntimeGetVersion(&out->runtime_version));
  out->cublaslt_version = cublasLtGetVersion();
  return "";
}

std::string MeasureReadBandwidth(int64_t bytes, int warmup, int runs, BandwidthResult* out) {
  if (bytes < (int64_t{1} << 20) || runs < 1 || warmup < 0) {
    return "MeasureReadBandwidth: bytes " + std::to_string(bytes) + " (>= 1 MiB), runs " +
           std::to_string(runs) + " (>= 1), warmup " + std::to_string(warmup) + " (>= 0)";
  }
  DeviceInfo info;
  if (std::string e = QueryDevice(&info); !e.empty()) return e;
  const int64_t n16 = bytes / 16;
  const int blocks = std::max(1, info.sm_count) * kReadBlocksPerSm;
  DeviceBuffer buf, partial;
  Stream stream;
  EventPair ev;
  PROBE_CUDA(cudaStreamCreateWithFlags(&stream.s, cudaStreamNonBlocking));
  PROBE_CUDA(cudaEventCreate(&ev.start));
  PROBE_CUDA(cudaEventCreate(&ev.stop));
  PROBE_CUDA(cudaMalloc(&buf.p, static_cast<size_t>(n16) * 16));
  PROBE_CUDA(cudaMalloc(&partial.p, sizeof(float) * static_cast<size_t>(blocks)));
  PROBE_CUDA(cudaMemsetAsync(partial.p, 0, sizeof(float) * static_cast<size_t>(blocks), stream.s));
  if (std::string e = Fill(buf.p, n16 * 8, 0x5eed, 1.0f, info.sm_count, stream.s); !e.empty()) {
    return e;
  }
  out->bytes = n16 * 16;
  out->samples_ms.clear();
  for (int r = 0; r < warmup + runs; ++r) {
    PROBE_CUDA(cudaEventRecord(ev.start, stream.s));
    ReadBf16<<<blocks, kReadThreads, 0, stream.s>>>(static_cast<const uint4*>(buf.p), n16,
                                                    static_cast<float*>(partial.p));
    PROBE_LAUNCH("ReadBf16<<<>>>");
    PROBE_CUDA(cudaEventRecord(ev.stop, stream.s));
    PROBE_CUDA(cudaEventSynchronize(ev.stop));
    float ms = 0;
    PROBE_CUDA(cudaEventElapsedTime(&ms, ev.start, ev.stop));
    if (r >= warmup) out->samples_ms.push_back(ms);
  }
  std::vector<float> sums(static_cast<size_t>(blocks));
  PROBE_CUDA(
      cudaMemcpy(sums.data(), partial.p, sizeof(float) * sums.size(), cudaMemcpyDeviceToHost));
  out->checksum = 0;
  for (float s : sums) out->checksum += s;
  out->median_ms = Median(out->samples_ms);
  out->gbs =
      out->median_ms > 0 ? static_cast<double>(out->bytes) / (out->median_ms * 1e-3) / 1e9 : 0;
  return "";
}

std::string MeasureGemms(const std::vector<GemmShape>& shapes, int warmup, int runs,
                         std::vector<GemmResult>* out) {
  if (runs < 1 || warmup < 0) return "MeasureGemms: runs must be >= 1 and warmup >= 0";
  for (const GemmShape& s : shapes) {
    if (s.m < 1 || s.n < 1 || s.k < 1) return "MeasureGemms: shape " + s.name + " has a dim < 1";
  }
  DeviceInfo info;
  if (std::string e = QueryDevice(&info); !e.empty()) return e;
  // CudaBackend::kWorkspaceBytes: the same workspace lets the heuristic pick the same
  // (split-K) algorithms for the decode shapes.
  constexpr uint64_t kWorkspace = uint64_t{32} << 20;
  // cudaMalloc returns 256-byte aligned memory, and weight copies start at 256-byte
  // multiples: the alignments CudaBackend passes for such pointers.
  constexpr uint32_t kAlign = 256;
  LtObjects lt;
  Stream stream;
  EventPair ev;
  DeviceBuffer workspace;
  PROBE_CUBLAS(cublasLtCreate(&lt.handle));
  PROBE_CUDA(cudaStreamCreateWithFlags(&stream.s, cudaStreamNonBlocking));
  PROBE_CUDA(cudaEventCreate(&ev.start));
  PROBE_CUDA(cudaEventCreate(&ev.stop));
  PROBE_CUDA(cudaMalloc(&workspace.p, kWorkspace));
  out->clear();
  uint64_t seed = 1;
  for (const GemmShape& shape : shapes) {
    GemmResult r;
    r.shape = shape;
    const int64_t w_bytes = shape.n * shape.k * 2;
    const int64_t w_stride = (w_bytes + kAlign - 1) / kAlign * kAlign;
    // Enough weight copies that a round over them is 4x L2 (at most 16): a decode weight of
    // 50 MB would otherwise be served from the 60 MB L2 on repeats.
    const int64_t rotate_bytes = 4 * std::max<int64_t>(info.l2_bytes, 1);
    r.weight_copies =
        static_cast<int>(std::clamp<int64_t>((rotate_bytes + w_bytes - 1) / w_bytes, 1, 16));
    DeviceBuffer w, x, y;
    PROBE_CUDA(cudaMalloc(&w.p, static_cast<size_t>(w_stride * r.weight_copies)));
    PROBE_CUDA(cudaMalloc(&x.p, static_cast<size_t>(shape.m * shape.k * 2)));
    PROBE_CUDA(cudaMalloc(&y.p, static_cast<size_t>(shape.m * shape.n * 4)));
    // Weights as RandomMotWeights scales them (std 1/sqrt(k)); activations O(1).
    const float w_scale = std::sqrt(3.0f / static_cast<float>(shape.k));
    for (int c = 0; c < r.weight_copies; ++c) {
      if (std::string e = Fill(static_cast<char*>(w.p) + c * w_stride, shape.n * shape.k, ++seed,
                               w_scale, info.sm_count, stream.s);
          !e.empty()) {
        return e;
      }
    }
    if (std::string e = Fill(x.p, shape.m * shape.k, ++seed, 1.0f, info.sm_count, stream.s);
        !e.empty()) {
      return e;
    }

    // CudaBackend's plan: row-major y[m, n] = x[m, k] · W[n, k]ᵀ is, column-major,
    // D[n, m] = op_T(A = W as [k, n], ld k) · (B = X as [k, m], ld k), ld D = n.
    lt.DestroyShape();
    const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
    PROBE_CUBLAS(cublasLtMatmulDescCreate(&lt.desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    PROBE_CUBLAS(cublasLtMatmulDescSetAttribute(lt.desc, CUBLASLT_MATMUL_DESC_TRANSA, &transa,
                                                sizeof transa));
    PROBE_CUBLAS(cublasLtMatmulDescSetAttribute(lt.desc, CUBLASLT_MATMUL_DESC_TRANSB, &transb,
                                                sizeof transb));
    PROBE_CUBLAS(cublasLtMatrixLayoutCreate(&lt.a, CUDA_R_16BF, static_cast<uint64_t>(shape.k),
                                            static_cast<uint64_t>(shape.n), shape.k));
    PROBE_CUBLAS(cublasLtMatrixLayoutCreate(&lt.b, CUDA_R_16BF, static_cast<uint64_t>(shape.k),
                                            static_cast<uint64_t>(shape.m), shape.k));
    PROBE_CUBLAS(cublasLtMatrixLayoutCreate(&lt.d, CUDA_R_32F, static_cast<uint64_t>(shape.n),
                                            static_cast<uint64_t>(shape.m), shape.n));
    PROBE_CUBLAS(cublasLtMatmulPreferenceCreate(&lt.pref));
    PROBE_CUBLAS(cublasLtMatmulPreferenceSetAttribute(
        lt.pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &kWorkspace, sizeof kWorkspace));
    for (auto attr :
         {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES,
          CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES}) {
      PROBE_CUBLAS(cublasLtMatmulPreferenceSetAttribute(lt.pref, attr, &kAlign, sizeof kAlign));
    }
    cublasLtMatmulHeuristicResult_t heuristic{};
    int found = 0;
    const cublasStatus_t hst = cublasLtMatmulAlgoGetHeuristic(lt.handle, lt.desc, lt.a, lt.b, lt.d,
                                                              lt.d, lt.pref, 1, &heuristic, &found);
    if (hst == CUBLAS_STATUS_NOT_SUPPORTED || (hst == CUBLAS_STATUS_SUCCESS && found == 0)) {
      r.has_algo = false;  // CudaBackend runs its fallback kernel for such a shape
      PROBE_CUDA(cudaStreamSynchronize(stream.s));  // the fills, before their buffers go
      out->push_back(std::move(r));
      continue;
    }
    PROBE_CUBLAS(hst);
    r.has_algo = true;

    const float alpha = 1.0f, beta = 0.0f;
    int next_copy = 0;
    auto matmul = [&]() -> std::string {
      const void* a = static_cast<const char*>(w.p) + next_copy * w_stride;
      next_copy = (next_copy + 1) % r.weight_copies;
      PROBE_CUBLAS(cublasLtMatmul(lt.handle, lt.desc, &alpha, a, lt.a, x.p, lt.b, &beta, y.p, lt.d,
                                  y.p, lt.d, &heuristic.algo, workspace.p, kWorkspace, stream.s));
      return "";
    };
    auto timed = [&](int calls, double* ms_per_call) -> std::string {
      PROBE_CUDA(cudaEventRecord(ev.start, stream.s));
      for (int c = 0; c < calls; ++c) {
        if (std::string e = matmul(); !e.empty()) return e;
      }
      PROBE_CUDA(cudaEventRecord(ev.stop, stream.s));
      PROBE_CUDA(cudaEventSynchronize(ev.stop));
      float ms = 0;
      PROBE_CUDA(cudaEventElapsedTime(&ms, ev.start, ev.stop));
      *ms_per_call = ms / calls;
      return "";
    };
    // Warm-up also sizes a sample: about 1 ms of calls, so event resolution (~0.5 us) and
    // launch gaps stay small beside it.
    double one_ms = 0;
    for (int i = 0; i < std::max(warmup, 1); ++i) {
      if (std::string e = timed(1, &one_ms); !e.empty()) return e;
    }
    r.calls_per_sample =
        static_cast<int>(std::clamp(std::ceil(1.0 / std::max(one_ms, 1e-4)), 1.0, 200.0));
    for (int i = 0; i < runs; ++i) {
      double ms = 0;
      if (std::string e = timed(r.calls_per_sample, &ms); !e.empty()) return e;
      r.samples_ms.push_back(ms);
    }
    r.median_ms = Median(r.samples_ms);
    const double seconds = r.median_ms * 1e-3;
    r.tflops = 2.0 * shape.m * shape.n * shape.k / seconds / 1e12;
    r.weight_gbs = static_cast<double>(w_bytes) / seconds / 1e9;
    out->push_back(std::move(r));
  }
  return "";
}

}  // namespace mot::bench::gpu
