// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Q8_0 / Q4_0 (engine/core/block_quant.h): the byte layout, and the round-trip error bounds
// of quantize -> dequantize.
#include "engine/core/block_quant.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <vector>

#include "engine/core/dtype.h"
#include "gtest/gtest.h"

namespace mot {
namespace {

TEST(BlockQuantTest, SizesAndNames) {
  EXPECT_EQ(DTypeBytes(DType::kQ8_0, 64), 68);
  EXPECT_EQ(DTypeBytes(DType::kQ4_0, 64), 36);
  EXPECT_EQ(DTypeBytes(DType::kF32, 3), 12);
  EXPECT_EQ(DTypeBytes(DType::kBF16, 3), 6);
  EXPECT_TRUE(IsBlockDType(DType::kQ4_0));
  EXPECT_FALSE(IsBlockDType(DType::kF16));
  EXPECT_EQ(ParseDType("Q8_0"), DType::kQ8_0);
  EXPECT_EQ(ParseDType("Q4_0"), DType::kQ4_0);
  EXPECT_STREQ(DTypeName(DType::kQ4_0), "Q4_0");
}

TEST(BlockQuantTest, Q4_0NibbleLayoutIsLlamaCpps) {
  // Element j < 16 in the low nibble of byte j, element j + 16 in its high nibble.
  BlockQ4_0 b{};
  b.d = F32ToF16(0.5f);
  b.qs[0] = 0x9f;   // element 0: 15 -> 0.5 * 7; element 16: 9 -> 0.5 * 1
  b.qs[15] = 0x08;  // element 15: 8 -> 0; element 31: 0 -> 0.5 * -8
  for (int j = 1; j < 15; ++j) b.qs[j] = 0x88;
  float x[32];
  DequantizeQ4_0(&b, 32, x);
  EXPECT_EQ(x[0], 3.5f);
  EXPECT_EQ(x[16], 0.5f);
  EXPECT_EQ(x[15], 0.0f);
  EXPECT_EQ(x[31], -4.0f);
}

TEST(BlockQuantTest, Q8_0RoundTripWithinHalfAStepPlusScaleRounding) {
  std::mt19937 rng(7);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(32 * 200), y(x.size());
  for (float& v : x) v = dist(rng);
  std::fill_n(x.begin(), 32, 0.0f);  // a zero block stays zero
  std::vector<BlockQ8_0> q(200);
  QuantizeQ8_0(x.data(), 32 * 200, q.data());
  ConvertToF32(DType::kQ8_0, q.data(), 32 * 200, y.data());
  double err2 = 0, x2 = 0;
  for (int b = 0; b < 200; ++b) {
    float amax = 0;
    for (int j = 0; j < 32; ++j) amax = std::max(amax, std::abs(x[b * 32 + j]));
    // |x - d q| <= d / 2 from rounding q, plus |q| <= 127 times the f16 rounding of d.
    const float bound = amax * (1.0f / 254 + 1.0f / 2048) + 1e-7f;
    for (int j = 0; j < 32; ++j) {
      const float e = std::abs(x[b * 32 + j] - y[b * 32 + j]);
      EXPECT_LE(e, bound) << "block " << b << " element " << j;
      err2 += e * e;
      x2 += x[b * 32 + j] * x[b * 32 + j];
    }
  }
  EXPECT_EQ(y[0], 0.0f);
  EXPECT_LT(std::sqrt(err2 / x2), 0.01);  // measured ~0.004
}

TEST(BlockQuantTest, Q4_0RoundTripWithinOneStepAndTheMaximumExact) {
  std::mt19937 rng(8);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> x(32 * 200), y(x.size());
  for (float& v : x) v = dist(rng);
  std::vector<BlockQ4_0> q(200);
  ConvertFromF32(x.data(), 32 * 200, DType::kQ4_0, q.data());
  DequantizeQ4_0(q.data(), 32 * 200, y.data());
  double err2 = 0, x2 = 0;
  for (int b = 0; b < 200; ++b) {
    int arg = 0;
    for (int j = 1; j < 32; ++j) {
      if (std::abs(x[b * 32 + j]) > std::abs(x[b * 32 + arg])) arg = j;
    }
    const float step = std::abs(x[b * 32 + arg]) / 8;  // |d|
    // Rounding costs at most step / 2, except the clamp at +7 for values near -max (one
    // step); plus the f16 rounding of d (8 steps * 2^-11).
    for (int j = 0; j < 32; ++j) {
      const float e = std::abs(x[b * 32 + j] - y[b * 32 + j]);
      EXPECT_LE(e, step * (1.0f + 1.0f / 128)) << "block " << b << " element " << j;
      err2 += e * e;
      x2 += x[b * 32 + j] * x[b * 32 + j];
    }
    // The largest-magnitude element is -8 d exactly, up to d's f16 rounding.
    EXPECT_NEAR(y[b * 32 + arg], x[b * 32 + arg], std::abs(x[b * 32 + arg]) / 1024);
  }
  EXPECT_LT(std::sqrt(err2 / x2), 0.12);  // measured ~0.09 for Gaussian blocks
}

}  // namespace
}  // namespace mot
