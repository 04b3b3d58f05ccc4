// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
// Compiled with -mf16c -mavx512f -mavx512vl -mavx512bf16: only called after a run-time check.
#include "tests/core/hardware_conversions.h"

#include <immintrin.h>

namespace mot::testing {

bool HasF16c() { return __builtin_cpu_supports("f16c"); }
bool HasAvx512Bf16() {
  return __builtin_cpu_supports("avx512bf16") && __builtin_cpu_supports("avx512vl");
}

float HwF16ToF32(uint16_t h) { return _cvtsh_ss(h); }

uint16_t HwF32ToF16(float f) {
  return static_cast<uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
}

uint16_t HwF32ToBF16(float f) {
  const __m128bh r = _mm_cvtneps_pbh(_mm_set_ss(f));
  return static_cast<uint16_t>(_mm_extract_epi16(reinterpret_cast<const __m128i&>(r), 0));
}

}  // namespace mot::testing
