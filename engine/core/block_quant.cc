// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/core/block_quant.h"

#include <algorithm>
#include <cmath>

#include "engine/core/dtype.h"

namespace mot {

void QuantizeQ8_0(const float* x, int64_t n, BlockQ8_0* blocks) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    float amax = 0.0f;
    for (int64_t j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::abs(xb[j]));
    const float d = amax / 127.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = F32ToF16(d);
    for (int64_t j = 0; j < kQuantBlock; ++j) {
      blocks[b].qs[j] = static_cast<int8_t>(std::nearbyint(xb[j] * id));
    }
  }
}

void DequantizeQ8_0(const BlockQ8_0* blocks, int64_t n, float* x) {
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float d = F16ToF32(blocks[b].d);
    for (int64_t j = 0; j < kQuantBlock; ++j) x[b * kQuantBlock + j] = d * blocks[b].qs[j];
  }
}

void QuantizeQ4_0(const float* x, int64_t n, BlockQ4_0* blocks) {
  constexpr int64_t kHalf = kQuantBlock / 2;
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    float amax = 0.0f;
    float m = 0.0f;  // the value of largest magnitude, with its sign
    for (int64_t j = 0; j < kQuantBlock; ++j) {
      if (std::abs(xb[j]) > amax) {
        amax = std::abs(xb[j]);
        m = xb[j];
      }
    }
    const float d = m / -8.0f;
    const float id = d != 0.0f ? 1.0f / d : 0.0f;
    blocks[b].d = F32ToF16(d);
    for (int64_t j = 0; j < kHalf; ++j) {
      // x * id lies in [-8, 8]: + 8.5 and truncation round to nearest in [0, 16].
      const int lo = std::min(15, static_cast<int>(xb[j] * id + 8.5f));
      const int hi = std::min(15, static_cast<int>(xb[j + kHalf] * id + 8.5f));
      blocks[b].qs[j] = static_cast<uint8_t>(lo | (hi << 4));
    }
  }
}

void DequantizeQ4_0(const BlockQ4_0* blocks, int64_t n, float* x) {
  constexpr int64_t kHalf = kQuantBlock / 2;
  for (int64_t b = 0; b < n / kQuantBlock; ++b) {
    const float d = F16ToF32(blocks[b].d);
    float* xb = x + b * kQuantBlock;
    for (int64_t j = 0; j < kHalf; ++j) {
      xb[j] = d * static_cast<float>((blocks[b].qs[j] & 0x0f) - 8);
      xb[j + kHalf] = d * static_cast<float>((blocks[b].qs[j] >> 4) - 8);
    }
  }
}

}  // namespace mot
