// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/core/hardware_conversions.h
// The CPU's own f16/bf16 conversions (F16C vcvtph2ps/vcvtps2ph, AVX512-BF16 vcvtneps2bf16),
// the oracle for engine/core/dtype.h. Call a function only when its Has*() says so.
// Thread rule: pure functions.
#ifndef MOT_TESTS_CORE_HARDWARE_CONVERSIONS_H_
#define MOT_TESTS_CORE_HARDWARE_CONVERSIONS_H_

#include <cstdint>

namespace mot::testing {

bool HasF16c();
bool HasAvx512Bf16();
float HwF16ToF32(uint16_t h);
uint16_t HwF32ToF16(float f);  // round to nearest even
// Round to nearest even; the instruction treats denormal inputs as zero.
uint16_t HwF32ToBF16(float f);

}  // namespace mot::testing

#endif  // MOT_TESTS_CORE_HARDWARE_CONVERSIONS_H_
