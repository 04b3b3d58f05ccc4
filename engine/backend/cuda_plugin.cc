// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The entry point of libmot_backend_cuda.so (cuda_plugin.h).
#include "engine/backend/cuda_plugin.h"

#include <cstdio>
#include <memory>
#include <string>

#include "engine/backend/cuda/cuda_backend.h"

extern "C" __attribute__((visibility("default"))) mot::backend::Backend* mot_create_cuda_backend(
    int device_index, int* code, char* error, size_t error_size) {
  static_assert(std::is_same_v<decltype(&mot_create_cuda_backend), mot::backend::CudaPluginEntry>);
  absl::StatusOr<std::unique_ptr<mot::backend::cuda::CudaBackend>> b =
      mot::backend::cuda::CudaBackend::Create(device_index);
  if (b.ok()) return b->release();
  if (code != nullptr) *code = static_cast<int>(b.status().code());
  if (error != nullptr && error_size > 0) {
    std::snprintf(error, error_size, "%s", std::string(b.status().message()).c_str());
  }
  return nullptr;
}
