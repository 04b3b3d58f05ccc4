// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/backend_factory.h
// CreateBackend: the Backend a binary's --device flag names. "cpu": the CPU backend on
// `pool`. "cuda": the CUDA backend on device 0, or the reason it cannot be had (no device, a
// driver too old, a GPU older than sm_80, or a build without nvcc). "auto": CUDA when it can
// be had, else the CPU, and `note` says which and why (for the start-up log).
// Thread rule: call from one thread; the pool must outlive the backend.
#ifndef MOT_ENGINE_BACKEND_BACKEND_FACTORY_H_
#define MOT_ENGINE_BACKEND_BACKEND_FACTORY_H_

#include <memory>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "engine/backend/backend.h"
#include "engine/core/thread_pool.h"

namespace mot::backend {

// Options of the CPU backend when it is the one made.
struct CpuOptions {
  bool batch_invariant = false;
  // Linear's path for bf16 weights at prefill sizes (CpuBackend::Bf16Gemm): "auto" (the
  // backend's default, or MOT_CPU_BF16_GEMM), "f32" (converted panels + sgemm), "dot"
  // (AVX-512 BF16 dot products) or "amx" (AMX tiles). A path the CPU lacks falls back to the
  // best it has below it, and the note says so.
  std::string bf16_gemm = "auto";
};

// InvalidArgument naming the flag's value unless it is cpu, cuda or auto.
absl::Status CheckDeviceName(std::string_view device);

// InvalidArgument naming --cpu_bf16_gemm's value unless it is auto, f32, dot or amx.
absl::Status CheckCpuOptions(const CpuOptions& cpu);

// As CheckDeviceName for a bad name; the errors of the device itself otherwise.
absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(std::string_view device, ThreadPool* pool,
                                                       const CpuOptions& cpu, std::string* note);

// Whether this build has the CUDA backend (nvcc was found at configure time).
bool BuiltWithCuda();

}  // namespace mot::backend

#endif  // MOT_ENGINE_BACKEND_BACKEND_FACTORY_H_
