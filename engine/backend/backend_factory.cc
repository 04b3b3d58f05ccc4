// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/backend/backend_factory.h"

#include <dlfcn.h>
#include <unistd.h>

#include <filesystem>
#include <optional>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cuda_plugin.h"
#include "engine/core/status_macros.h"

namespace mot::backend {
namespace {

std::unique_ptr<Backend> MakeCpu(ThreadPool* pool, const CpuOptions& options, std::string* note) {
  auto cpu = std::make_unique<cpu::CpuBackend>(pool);
  cpu->set_batch_invariant(options.batch_invariant);
  if (options.bf16_gemm != "auto") {
    const std::optional<cpu::CpuBackend::Bf16Gemm> want =
        cpu::CpuBackend::ParseBf16Gemm(options.bf16_gemm);
    if (want.has_value()) {
      cpu->set_bf16_gemm(*want);
      if (cpu->bf16_gemm() != *want && note != nullptr) {
        absl::StrAppend(note, "; --cpu_bf16_gemm=", options.bf16_gemm,
                        ": this CPU (or the ISA level in use) lacks it, using ",
                        std::string(cpu->name()));
      }
    }
  }
  return cpu;
}

// Where the CUDA module may be: $MOT_CUDA_PLUGIN, beside the binary, in ../lib and
// ../../lib from it (the build tree's lib/ for server/, bench/ and tests/x/ binaries, an
// install's lib/), then the loader's own search (LD_LIBRARY_PATH, ld.so.cache).
std::vector<std::string> PluginCandidates() {
  std::vector<std::string> out;
  if (const char* env = std::getenv("MOT_CUDA_PLUGIN"); env != nullptr && *env != '\0') {
    out.push_back(env);
  }
  std::error_code ec;
  const std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (!ec) {
    const std::filesystem::path dir = exe.parent_path();
    for (const std::filesystem::path& d : {dir, dir / ".." / "lib", dir / ".." / ".." / "lib"}) {
      out.push_back((d / kCudaPluginFile).lexically_normal().string());
    }
  }
  out.push_back(kCudaPluginFile);
  return out;
}

absl::StatusOr<std::unique_ptr<Backend>> MakeCuda() {
#if MOT_HAVE_CUDA
  // The module stays loaded for the life of the process (the backend's code lives in it).
  static void* handle = nullptr;
  static std::string load_errors;
  if (handle == nullptr) {
    for (const std::string& path : PluginCandidates()) {
      if (path.find('/') != std::string::npos && !std::filesystem::exists(path)) continue;
      handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
      if (handle != nullptr) break;
      const char* e = dlerror();
      absl::StrAppend(&load_errors, load_errors.empty() ? "" : "; ", e != nullptr ? e : path);
    }
  }
  if (handle == nullptr) {
    return absl::UnavailableError(absl::StrCat(
        "cannot load the CUDA backend module ", kCudaPluginFile, " (",
        load_errors.empty() ? "not found beside the binary, in ../lib or on the loader's path"
                            : load_errors,
        "; MOT_CUDA_PLUGIN may name it)"));
  }
  auto entry = reinterpret_cast<CudaPluginEntry>(dlsym(handle, kCudaPluginEntry));
  if (entry == nullptr) {
    return absl::InternalError(
        absl::StrCat(kCudaPluginFile, " has no entry point ", kCudaPluginEntry));
  }
  int code = static_cast<int>(absl::StatusCode::kUnknown);
  char error[1024] = {0};
  Backend* b = entry(0, &code, error, sizeof(error));
  if (b == nullptr) return absl::Status(static_cast<absl::StatusCode>(code), error);
  return std::unique_ptr<Backend>(b);
#else
  return absl::UnavailableError(
      "this build has no CUDA backend (nvcc was not found when it was configured)");
#endif
}

}  // namespace

bool BuiltWithCuda() { return MOT_HAVE_CUDA != 0; }

absl::Status CheckDeviceName(std::string_view device) {
  if (device == "cpu" || device == "cuda" || device == "auto") return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("--device: unknown device \"", std::string(device), "\" (cpu, cuda or auto)"));
}

absl::Status CheckCpuOptions(const CpuOptions& cpu) {
  if (cpu.bf16_gemm != "auto" && !cpu::CpuBackend::ParseBf16Gemm(cpu.bf16_gemm).has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("--cpu_bf16_gemm: unknown path \"",
                                                   cpu.bf16_gemm, "\" (auto, f32, dot or amx)"));
  }
  // The backend reads the variable itself and ignores a value it does not know; a binary
  // that checks its options refuses it instead.
  if (const char* env = std::getenv("MOT_CPU_BF16_GEMM");
      env != nullptr && !cpu::CpuBackend::ParseBf16Gemm(env).has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat("MOT_CPU_BF16_GEMM: unknown path \"", env, "\" (f32, dot or amx)"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<Backend>> CreateBackend(std::string_view device, ThreadPool* pool,
                                                       const CpuOptions& cpu, std::string* note) {
  MOT_RETURN_IF_ERROR(CheckCpuOptions(cpu));
  if (device == "cpu") {
    if (note != nullptr) *note = "--device cpu";
    return MakeCpu(pool, cpu, note);
  }
  if (device == "cuda") {
    absl::StatusOr<std::unique_ptr<Backend>> b = MakeCuda();
    if (!b.ok())
      return absl::Status(b.status().code(), absl::StrCat("--device cuda: ", b.status().message()));
    if (note != nullptr) *note = "--device cuda";
    return b;
  }
  if (device == "auto") {
    absl::StatusOr<std::unique_ptr<Backend>> b = MakeCuda();
    if (b.ok()) {
      if (note != nullptr) *note = "--device auto: a CUDA device is present";
      return b;
    }
    if (note != nullptr) {
      *note = absl::StrCat("--device auto: using the CPU (", b.status().message(), ")");
    }
    return MakeCpu(pool, cpu, note);
  }
  return CheckDeviceName(device);
}

}  // namespace mot::backend
