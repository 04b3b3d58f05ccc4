// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/gpu_probe.h
// The ceilings gpu_bench sets the engine's figures against, measured on the card itself
// (datasheet rates are only leads):
//   - HBM read bandwidth the way decode reads weights: one kernel streams a bf16 buffer much
//     larger than L2 with 16-byte loads and sums it in f32, so no load can be dropped;
//   - cuBLASLt's bf16 GEMM rate in the configuration CudaBackend::Linear uses (A = the
//     weight, B = the activations, both bf16, C = D f32, CUBLAS_COMPUTE_32F, the heuristic's
//     first algorithm with a 32 MiB workspace; engine/backend/cuda/cuda_backend.cc GetPlan),
//     at M = N = K = 8192 and at whatever shapes the caller lists (the model's projections).
// Every figure is the median over timed runs after warm-up, each run timed with CUDA events,
// on random (never zero) data. Plain C++17 host functions (no Abseil) so that nvcc compiles
// gpu_probe.cu alone. Every CUDA and cuBLASLt call is checked: a function returns "" on
// success, else a message naming the call, its place and the library's error string; on
// failure `*out` is unspecified.
// Thread rule: one caller at a time, on device 0 (the current device). Each function
// allocates what it needs and frees it before it returns, also on failure.
#ifndef MOT_BENCH_GPU_PROBE_H_
#define MOT_BENCH_GPU_PROBE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace mot::bench::gpu {

struct DeviceInfo {
  std::string name;  // cudaDeviceProp::name, e.g. "NVIDIA H200"
  int cc_major = 0;
  int cc_minor = 0;
  int sm_count = 0;
  int64_t l2_bytes = 0;
  int64_t total_bytes = 0;  // cudaMemGetInfo
  int64_t free_bytes = 0;
  int driver_version = 0;   // cudaDriverGetVersion: 13000 is CUDA 13.0
  int runtime_version = 0;  // cudaRuntimeGetVersion (the runtime this binary carries)
  size_t cublaslt_version = 0;
};

// Fills `out` for the current device. "" on success.
std::string QueryDevice(DeviceInfo* out);

struct BandwidthResult {
  int64_t bytes = 0;               // read per run
  std::vector<double> samples_ms;  // one per timed run
  double median_ms = 0;
  double gbs = 0;       // bytes / median time, in 1e9 bytes per second
  double checksum = 0;  // the kernel's sums, read back (keeps the reads observable)
};

// Reads a `bytes`-byte (rounded down to 16 bytes; REQUIRES >= 1 MiB) buffer of random bf16
// values `warmup` + `runs` times and reports the `runs` timed ones. REQUIRES: runs >= 1.
std::string MeasureReadBandwidth(int64_t bytes, int warmup, int runs, BandwidthResult* out);

// One GEMM in the engine's terms: y[m, n] = x[m, k] · W[n, k]ᵀ.
struct GemmShape {
  std::string name;  // for tables, e.g. "w13 m=2048"
  int64_t m = 0;     // activation rows (tokens in the step)
  int64_t n = 0;     // the weight's rows (out features)
  int64_t k = 0;     // the weight's cols (in features)
};

struct GemmResult {
  GemmShape shape;
  bool has_algo = false;  // false: cuBLASLt's heuristic offered no algorithm (not timed)
  int calls_per_sample = 0;
  int weight_copies = 0;           // weights rotated so that repeats do not run from L2
  std::vector<double> samples_ms;  // per call, one per timed run
  double median_ms = 0;
  double tflops = 0;      // 2 m n k / median
  double weight_gbs = 0;  // n k bf16 bytes / median (the decode shapes' figure)
};

// Times every shape: `warmup` untimed calls, then `runs` samples of calls_per_sample calls
// each (enough calls for about a millisecond per sample), in the order given.
// REQUIRES: every m, n, k >= 1; runs >= 1.
std::string MeasureGemms(const std::vector<GemmShape>& shapes, int warmup, int runs,
                         std::vector<GemmResult>* out);

}  // namespace mot::bench::gpu

#endif  // MOT_BENCH_GPU_PROBE_H_
