// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/core/block_quant.h
// The block-quantized weight formats Q8_0 and Q4_0 (DType::kQ8_0 / kQ4_0): byte layouts and
// the scalar reference quantize/dequantize, shared by the checkpoint reader and writer
// (model_loaders/safetensors_format.h documents the same layout), the CPU kernels and
// mot-quantize. The layouts are llama.cpp's block_q8_0 / block_q4_0, byte for byte, so a
// GGUF tensor of those types has the same data.
//   A row of n inputs (n a multiple of kQuantBlock = 32) is n / 32 consecutive blocks.
//   Q8_0 block, 34 bytes: f16 scale d (little-endian), then 32 int8 q[j]; x[j] = d * q[j].
//     Quantize: d = max|x| / 127, q = round(x / d) (nearest, ties to even), |q| <= 127.
//   Q4_0 block, 18 bytes: f16 scale d, then 16 bytes qs; element j < 16 is the low nibble
//     of qs[j], element j + 16 its high nibble; x[j] = d * (nibble - 8).
//     Quantize (round to nearest): m = the x of largest |x| (signed), d = m / -8,
//     nibble = min(15, floor(x / d + 8.5)), so m maps to 0 (exactly -8 d).
// Scales are rounded to f16 after q is chosen (as llama.cpp does), so the error of a block
// is at most |d|/2 per element plus the f16 rounding of d (relative 2^-11).
// Thread rule: pure functions.
#ifndef MOT_ENGINE_CORE_BLOCK_QUANT_H_
#define MOT_ENGINE_CORE_BLOCK_QUANT_H_

#include <cstdint>

namespace mot {

inline constexpr int64_t kQuantBlock = 32;

struct BlockQ8_0 {
  uint16_t d;  // f16 bits
  int8_t qs[kQuantBlock];
};
static_assert(sizeof(BlockQ8_0) == 34, "Q8_0 block is 34 bytes");

struct BlockQ4_0 {
  uint16_t d;                   // f16 bits
  uint8_t qs[kQuantBlock / 2];  // element j: low nibble of qs[j % 16] for j < 16, else high
};
static_assert(sizeof(BlockQ4_0) == 18, "Q4_0 block is 18 bytes");

// REQUIRES for all four: n % kQuantBlock == 0; `blocks` holds n / 32 blocks.
void QuantizeQ8_0(const float* x, int64_t n, BlockQ8_0* blocks);
void DequantizeQ8_0(const BlockQ8_0* blocks, int64_t n, float* x);
void QuantizeQ4_0(const float* x, int64_t n, BlockQ4_0* blocks);
void DequantizeQ4_0(const BlockQ4_0* blocks, int64_t n, float* x);

}  // namespace mot

#endif  // MOT_ENGINE_CORE_BLOCK_QUANT_H_
