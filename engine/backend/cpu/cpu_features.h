// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/cpu/cpu_features.h
// Which SIMD level the CPU backend may use: detected once from CPUID *and* the OS's
// XSAVE state (XCR0 via xgetbv: the OS must save YMM for AVX2, and opmask/ZMM for AVX-512).
// A lower level can be forced (constructor argument or MOT_CPU_ISA=scalar|avx2|avx512), so
// tests run every variant the machine has; a level above what the machine has is clamped.
// Thread rule: pure functions; DetectIsa() caches its answer (thread-safe static).
#ifndef MOT_ENGINE_BACKEND_CPU_CPU_FEATURES_H_
#define MOT_ENGINE_BACKEND_CPU_CPU_FEATURES_H_

#include <optional>
#include <string_view>
#include <vector>

namespace mot::backend::cpu {

// Ordered: a higher level implies every lower one.
enum class IsaLevel : int {
  kScalar = 0,  // portable C++ (baseline x86-64)
  kAvx2 = 1,    // AVX2 + FMA + F16C
  kAvx512 = 2,  // AVX-512 F + BW + VL (+ F16C, FMA)
};

struct CpuFeatures {
  bool avx2 = false;    // AVX2 + FMA + F16C, with YMM state enabled by the OS
  bool avx512 = false;  // AVX-512 F/BW/VL, with opmask/ZMM state enabled by the OS
  bool avx512_bf16 = false;
  bool avx512_vnni = false;  // AVX512_VNNI (vpdpbusd), with avx512 (so also VL)
  // AMX-TILE + AMX-BF16 with avx512_bf16, tile state enabled in XCR0, and Linux granted
  // this process the tile data state (arch_prctl ARCH_REQ_XCOMP_PERM, Linux 5.16+; asked
  // once, by the detection itself): amx_gemm.h may run.
  bool amx_bf16 = false;
};

// What this machine supports (computed once).
const CpuFeatures& DetectCpuFeatures();

// The highest level this machine supports.
IsaLevel DetectIsa();

// "scalar", "avx2", "avx512".
const char* IsaName(IsaLevel level);

// Parses IsaName's spelling; nullopt otherwise.
std::optional<IsaLevel> ParseIsa(std::string_view name);

// The level to run at: DetectIsa(), lowered to `forced` when given, then to MOT_CPU_ISA
// when that variable is set to a valid name (an invalid value is ignored).
IsaLevel ResolveIsa(std::optional<IsaLevel> forced);

// Every level this machine supports, lowest first (for tests).
std::vector<IsaLevel> AvailableIsaLevels();

}  // namespace mot::backend::cpu

#endif  // MOT_ENGINE_BACKEND_CPU_CPU_FEATURES_H_
