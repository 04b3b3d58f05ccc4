// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/core/dtype.h
// The element types weights and activations may have, and exact scalar conversions between
// them. bf16 and f16 are stored as uint16_t bit patterns; every conversion to f32 is exact,
// conversions from f32 round to nearest even (NaN stays NaN). Two block dtypes hold
// quantized GEMM weights only: kQ8_0 and kQ4_0, 32 consecutive elements of a row per block
// (layout and rounding: block_quant.h). A block dtype has no per-element size: byte counts
// go through DTypeBytes(t, n), and every row of such a tensor has a multiple of 32 elements.
// Thread-safe: pure functions.
#ifndef MOT_ENGINE_CORE_DTYPE_H_
#define MOT_ENGINE_CORE_DTYPE_H_

#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace mot {

enum class DType : uint8_t { kF32, kF16, kBF16, kQ8_0, kQ4_0 };

// True for the block-quantized dtypes (kQ8_0, kQ4_0).
constexpr bool IsBlockDType(DType t) { return t == DType::kQ8_0 || t == DType::kQ4_0; }

// Elements per block: 32 for the block dtypes, 1 for the others.
constexpr int64_t DTypeBlockElements(DType t) { return IsBlockDType(t) ? 32 : 1; }

// Bytes per block (per element for f32/f16/bf16).
constexpr int64_t DTypeBlockBytes(DType t) {
  switch (t) {
    case DType::kF32:
      return 4;
    case DType::kF16:
    case DType::kBF16:
      return 2;
    case DType::kQ8_0:
      return 34;
    case DType::kQ4_0:
      return 18;
  }
  return 0;
}

// Bytes of n consecutive elements (a row, or a whole row-major tensor).
// REQUIRES: n % DTypeBlockElements(t) == 0.
constexpr int64_t DTypeBytes(DType t, int64_t n) {
  return n / DTypeBlockElements(t) * DTypeBlockBytes(t);
}

// The alignment in bytes a tensor of dtype t needs in memory (the block dtypes: their f16
// scale's).
constexpr int64_t DTypeAlignment(DType t) { return t == DType::kF32 ? 4 : 2; }

// Bytes per element of an element dtype (f32, f16, bf16).
// REQUIRES: !IsBlockDType(t) (0 for the block dtypes: use DTypeBytes for them).
constexpr int64_t DTypeSize(DType t) { return IsBlockDType(t) ? 0 : DTypeBlockBytes(t); }

// The safetensors spelling: "F32", "F16", "BF16", and our own "Q8_0", "Q4_0".
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

// Converts n elements of type `src_type` at `src` to f32 at `dst` (block dtypes are
// dequantized). REQUIRES: n % DTypeBlockElements(src_type) == 0.
void ConvertToF32(DType src_type, const void* src, int64_t n, float* dst);
// Converts n f32 elements to `dst_type` at `dst` (round to nearest even; block dtypes are
// quantized as block_quant.h says, each run of 32 elements one block).
// REQUIRES: n % DTypeBlockElements(dst_type) == 0; src finite for the block dtypes.
void ConvertFromF32(const float* src, int64_t n, DType dst_type, void* dst);

}  // namespace mot

#endif  // MOT_ENGINE_CORE_DTYPE_H_
