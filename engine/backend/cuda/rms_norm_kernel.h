// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/cuda/rms_norm_kernel.h
// internal: the plain-C++ boundary between nvcc-compiled code and the rest (which uses
// Abseil). Functions return 0 on success, else non-zero with *error set to a static string.
#ifndef MOT_ENGINE_BACKEND_CUDA_RMS_NORM_KERNEL_H_
#define MOT_ENGINE_BACKEND_CUDA_RMS_NORM_KERNEL_H_

#include <cstdint>

namespace mot::backend::cuda {

struct DeviceQuery {
  char name[256] = {};
  int major = 0;
  int minor = 0;
  int64_t total_memory = 0;
};

int QueryDevices(DeviceQuery* out, int max_devices, int* count, const char** error);
int RunRmsNorm(const float* x, int64_t rows, int64_t dim, const float* weight, float eps, float* y,
               const char** error);

}  // namespace mot::backend::cuda

#endif  // MOT_ENGINE_BACKEND_CUDA_RMS_NORM_KERNEL_H_
