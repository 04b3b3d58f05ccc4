// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/core/dtype.h
// The element types weights and activations may have, and exact scalar conversions between
// them. bf16 and f16 are stored as uint16_t bit patterns; every conversion to f32 is exact,
// conversions from f32 round to nearest even (NaN stays NaN). Thread-safe: pure functions.
#ifndef MOT_ENGINE_CORE_DTYPE_H_
#define MOT_ENGINE_CORE_DTYPE_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace mot {

enum class DType : uint8_t { kF32, kF16, kBF16 };

// Bytes per element.
constexpr int64_t DTypeSize(DType t) { return t == DType::kF32 ? 4 : 2; }

// The safetensors spelling: "F32", "F16", "BF16".
const char* DTypeName(DType t);

// Parses the safetensors spelling; nullopt for anything else.
std::optional<DType> ParseDType(std::string_view name);

inline float BF16ToF32(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

inline uint16_t F32ToBF16(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, sizeof bits);
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40);
  // Round to nearest even on the 16 dropped bits.
  bits += 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>(bits >> 16);
}

float F16ToF32(uint16_t h);
uint16_t F32ToF16(float f);

// Converts n elements of type `src_type` at `src` to f32 at `dst`.
void ConvertToF32(DType src_type, const void* src, int64_t n, float* dst);
// Converts n f32 elements to `dst_type` at `dst` (round to nearest even).
void ConvertFromF32(const float* src, int64_t n, DType dst_type, void* dst);

}  // namespace mot

#endif  // MOT_ENGINE_CORE_DTYPE_H_
