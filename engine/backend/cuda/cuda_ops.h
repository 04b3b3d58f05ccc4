// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/cuda/cuda_ops.h
// The first CUDA pieces of the backend: device discovery and an RMSNorm kernel, checked
// against the CPU reference by tests/cuda (label gpu; they skip where no GPU is present).
// The CUDA Backend implementation (cuBLAS GEMMs, paged attention, graphs) builds on these in
// a later issue. Compiled only when nvcc is found (MOT_HAVE_CUDA).
// Thread rule: functions may be called from any thread; each uses the default stream and
// synchronizes before returning.
#ifndef MOT_ENGINE_BACKEND_CUDA_CUDA_OPS_H_
#define MOT_ENGINE_BACKEND_CUDA_CUDA_OPS_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"

namespace mot::backend::cuda {

struct DeviceInfo {
  int index = 0;
  std::string name;
  int compute_major = 0;
  int compute_minor = 0;
  int64_t total_memory_bytes = 0;
};

// The visible CUDA devices. Unavailable (with the driver's reason) when the runtime finds no
// usable device, e.g. on a machine without a GPU or driver.
absl::StatusOr<std::vector<DeviceInfo>> ListDevices();

// y[i, :] = x[i, :] / sqrt(mean(x[i, :]²) + eps) * weight, on device 0. Host pointers in and
// out (copied through device buffers): a test entry point, not the serving path.
// x, y: [rows, dim] row-major; weight: [dim].
absl::Status RmsNormOnDevice(const float* x, int64_t rows, int64_t dim, const float* weight,
                             float eps, float* y);

}  // namespace mot::backend::cuda

#endif  // MOT_ENGINE_BACKEND_CUDA_CUDA_OPS_H_
