// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/backend/cuda/cuda_ops.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/backend/cuda/rms_norm_kernel.h"

namespace mot::backend::cuda {

absl::StatusOr<std::vector<DeviceInfo>> ListDevices() {
  constexpr int kMaxDevices = 64;
  std::vector<DeviceQuery> q(kMaxDevices);
  int count = 0;
  const char* error = "";
  if (QueryDevices(q.data(), kMaxDevices, &count, &error) != 0) {
    return absl::UnavailableError(absl::StrCat("no usable CUDA device: ", error));
  }
  if (count == 0) return absl::UnavailableError("no usable CUDA device: none visible");
  std::vector<DeviceInfo> out;
  for (int i = 0; i < count && i < kMaxDevices; ++i) {
    out.push_back({i, q[static_cast<size_t>(i)].name, q[static_cast<size_t>(i)].major,
                   q[static_cast<size_t>(i)].minor, q[static_cast<size_t>(i)].total_memory});
  }
  return out;
}

absl::Status RmsNormOnDevice(const float* x, int64_t rows, int64_t dim, const float* weight,
                             float eps, float* y) {
  if (rows < 0 || dim <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("RmsNormOnDevice: bad shape [", rows, ", ", dim, "]"));
  }
  const char* error = "";
  if (RunRmsNorm(x, rows, dim, weight, eps, y, &error) != 0) {
    return absl::InternalError(absl::StrCat("RmsNormOnDevice: ", error));
  }
  return absl::OkStatus();
}

}  // namespace mot::backend::cuda
