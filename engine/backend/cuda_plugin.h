// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/cuda_plugin.h
// The CUDA backend as a loadable module (libmot_backend_cuda.so), the way llama.cpp loads
// its GPU backends: binaries link no CUDA library, so one mot-server runs on hosts without
// a driver or CUDA libraries, and CUDA is loaded only when --device asks for it. (Linking
// the CUDA runtime into mot-server also made civetweb's metrics listener fail to start on
// this machine; loading it afterwards does not.) The module exports one C function,
// kCudaPluginEntry, of type CudaPluginEntry.
#ifndef MOT_ENGINE_BACKEND_CUDA_PLUGIN_H_
#define MOT_ENGINE_BACKEND_CUDA_PLUGIN_H_

#include <cstddef>

#include "engine/backend/backend.h"

namespace mot::backend {

// Makes the CUDA backend on `device_index`: a new Backend the caller owns, or null with the
// reason (absl::Status message, with its code's number in *code) in `error` (NUL-ended).
using CudaPluginEntry = Backend* (*)(int device_index, int* code, char* error, size_t error_size);
inline constexpr char kCudaPluginEntry[] = "mot_create_cuda_backend";
inline constexpr char kCudaPluginFile[] = "libmot_backend_cuda.so";

}  // namespace mot::backend

#endif  // MOT_ENGINE_BACKEND_CUDA_PLUGIN_H_
