// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// RMSNorm on the GPU: one block per row, f32 accumulation. Kept free of Abseil (nvcc);
// cuda_ops.cc turns the error codes into Status.
#include <cuda_runtime.h>

#include <cstdint>

#include "engine/backend/cuda/rms_norm_kernel.h"

namespace mot::backend::cuda {
namespace {

constexpr int kThreads = 256;  // 8 warps: enough to saturate a row of a few thousand floats

__global__ void __launch_bounds__(kThreads)
    RmsNormKernel(const float* __restrict__ x, const float* __restrict__ w, float eps, int64_t dim,
                  float* __restrict__ y) {
  const int64_t row = blockIdx.x;
  const float* xr = x + row * dim;
  float* yr = y + row * dim;
  float sum = 0.f;
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) sum += xr[i] * xr[i];
  // Reduce within each warp, then across warps through shared memory.
  for (int offset = 16; offset > 0; offset >>= 1) sum += __shfl_xor_sync(0xffffffffu, sum, offset);
  __shared__ float warp_sums[kThreads / 32];
  if ((threadIdx.x & 31) == 0) warp_sums[threadIdx.x >> 5] = sum;
  __syncthreads();
  if (threadIdx.x < 32) {
    float s = threadIdx.x < kThreads / 32 ? warp_sums[threadIdx.x] : 0.f;
    for (int offset = 16; offset > 0; offset >>= 1) s += __shfl_xor_sync(0xffffffffu, s, offset);
    if (threadIdx.x == 0) warp_sums[0] = s;
  }
  __syncthreads();
  const float inv = rsqrtf(warp_sums[0] / static_cast<float>(dim) + eps);
  for (int64_t i = threadIdx.x; i < dim; i += kThreads) yr[i] = xr[i] * inv * w[i];
}

}  // namespace

int RunRmsNorm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y,
               const char** error) {
  float *dx = nullptr, *dw = nullptr, *dy = nullptr;
  const size_t bytes = static_cast<size_t>(rows * dim) * sizeof(float);
  cudaError_t err = cudaMalloc(&dx, bytes);
  if (err == cudaSuccess) err = cudaMalloc(&dy, bytes);
  if (err == cudaSuccess) err = cudaMalloc(&dw, static_cast<size_t>(dim) * sizeof(float));
  if (err == cudaSuccess) err = cudaMemcpy(dx, x, bytes, cudaMemcpyHostToDevice);
  if (err == cudaSuccess) {
    err = cudaMemcpy(dw, weight, static_cast<size_t>(dim) * sizeof(float), cudaMemcpyHostToDevice);
  }
  if (err == cudaSuccess && rows > 0) {
    RmsNormKernel<<<static_cast<unsigned>(rows), kThreads>>>(dx, dw, eps, dim, dy);
    err = cudaGetLastError();
  }
  if (err == cudaSuccess) err = cudaMemcpy(y, dy, bytes, cudaMemcpyDeviceToHost);
  cudaFree(dx);
  cudaFree(dy);
  cudaFree(dw);
  if (err != cudaSuccess) {
    *error = cudaGetErrorString(err);
    (void)cudaGetLastError();  // clear the sticky error
    return 1;
  }
  return 0;
}

int QueryDevices(DeviceQuery* out, int max_devices, int* count, const char** error) {
  cudaError_t err = cudaGetDeviceCount(count);
  if (err != cudaSuccess) {
    *error = cudaGetErrorString(err);
    (void)cudaGetLastError();
    *count = 0;
    return 1;
  }
  for (int i = 0; i < *count && i < max_devices; ++i) {
    cudaDeviceProp prop;
    err = cudaGetDeviceProperties(&prop, i);
    if (err != cudaSuccess) {
      *error = cudaGetErrorString(err);
      return 1;
    }
    for (int c = 0; c < 255 && prop.name[c] != '\0'; ++c) out[i].name[c] = prop.name[c];
    out[i].major = prop.major;
    out[i].minor = prop.minor;
    out[i].total_memory = static_cast<int64_t>(prop.totalGlobalMem);
  }
  return 0;
}

}  // namespace mot::backend::cuda
