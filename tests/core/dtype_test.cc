// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/core/dtype.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "gtest/gtest.h"
#include "tests/core/hardware_conversions.h"

namespace mot {
namespace {

uint32_t Bits(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

float FromBits(uint32_t b) {
  float f;
  std::memcpy(&f, &b, sizeof f);
  return f;
}

bool IsF16NaN(uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }
bool IsBF16NaN(uint16_t h) { return (h & 0x7f80u) == 0x7f80u && (h & 0x7fu) != 0; }

TEST(DTypeTest, NamesSizesAndParsing) {
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    EXPECT_EQ(ParseDType(DTypeName(t)), t);
  }
  EXPECT_EQ(DTypeSize(DType::kF32), 4);
  EXPECT_EQ(DTypeSize(DType::kF16), 2);
  EXPECT_EQ(DTypeSize(DType::kBF16), 2);
  EXPECT_EQ(ParseDType("f32"), std::nullopt);  // safetensors spelling only
  EXPECT_EQ(ParseDType("I8"), std::nullopt);
}

TEST(DTypeTest, F16ToF32ExhaustiveMatchesF16c) {
  if (!testing::HasF16c()) GTEST_SKIP() << "no F16C on this machine";
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const float got = F16ToF32(h);
    const float want = testing::HwF16ToF32(h);
    if (IsF16NaN(h)) {
      ASSERT_TRUE(std::isnan(got)) << std::hex << i;
      ASSERT_EQ(std::signbit(got), std::signbit(want)) << std::hex << i;
    } else {
      ASSERT_EQ(Bits(got), Bits(want)) << "f16 bits 0x" << std::hex << i;
    }
  }
}

TEST(DTypeTest, F16RoundTripsExhaustively) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    const uint16_t back = F32ToF16(F16ToF32(h));
    if (IsF16NaN(h)) {
      ASSERT_TRUE(IsF16NaN(back)) << std::hex << i;
    } else {
      ASSERT_EQ(back, h) << "f16 bits 0x" << std::hex << i;
    }
  }
}

TEST(DTypeTest, BF16ToF32ExhaustiveIsTheHighHalf) {
  for (uint32_t i = 0; i < 65536; ++i) {
    const auto h = static_cast<uint16_t>(i);
    ASSERT_EQ(Bits(BF16ToF32(h)), i << 16);
    const uint16_t back = F32ToBF16(BF16ToF32(h));
    if (IsBF16NaN(h)) {
      ASSERT_TRUE(IsBF16NaN(back)) << std::hex << i;
    } else {
      ASSERT_EQ(back, h) << "bf16 bits 0x" << std::hex << i;
    }
  }
}

// Random f32 bit patterns plus every midpoint between neighbouring finite f16 values (and
// the points just beside them): the rounding cases.
std::vector<float> F16RoundingInputs() {
  std::vector<float> v;
  std::mt19937 rng(1);
  for (int i = 0; i < 1 << 21; ++i) v.push_back(FromBits(static_cast<uint32_t>(rng())));
  for (uint32_t i = 0; i < 0x7c00u; ++i) {
    const double a = F16ToF32(static_cast<uint16_t>(i));
    const double b = i + 1 < 0x7c00u ? F16ToF32(static_cast<uint16_t>(i + 1)) : 65536.0;
    const auto mid = static_cast<float>((a + b) / 2);  // exact in f32
    for (float f : {mid, std::nextafter(mid, 0.0f), std::nextafter(mid, 1e9f)}) {
      v.push_back(f);
      v.push_back(-f);
    }
  }
  for (float f :
       {0.0f, -0.0f, 65504.0f, 65519.996f, 65520.0f, 1e9f, std::numeric_limits<float>::infinity(),
        std::numeric_limits<float>::denorm_min(), 5.9604645e-08f, 2.9802322e-08f, 2.9802326e-08f}) {
    v.push_back(f);
    v.push_back(-f);
  }
  return v;
}

TEST(DTypeTest, F32ToF16RoundsLikeF16c) {
  if (!testing::HasF16c()) GTEST_SKIP() << "no F16C on this machine";
  for (float f : F16RoundingInputs()) {
    const uint16_t got = F32ToF16(f);
    const uint16_t want = testing::HwF32ToF16(f);
    if (std::isnan(f)) {
      ASSERT_TRUE(IsF16NaN(got)) << std::hex << Bits(f);
    } else {
      ASSERT_EQ(got, want) << "f32 bits 0x" << std::hex << Bits(f) << " (" << f << ")";
    }
  }
}

TEST(DTypeTest, F32ToBF16RoundsLikeAvx512Bf16) {
  if (!testing::HasAvx512Bf16()) GTEST_SKIP() << "no AVX512-BF16 on this machine";
  std::mt19937 rng(2);
  std::vector<float> inputs;
  for (int i = 0; i < 1 << 21; ++i) inputs.push_back(FromBits(static_cast<uint32_t>(rng())));
  // Midpoints between neighbouring bf16 values (ties go to even) and their neighbours.
  for (uint32_t i = 0; i < 0x7f80u; i += 7) {
    const uint32_t mid = (i << 16) | 0x8000u;
    for (uint32_t b : {mid, mid - 1, mid + 1}) {
      inputs.push_back(FromBits(b));
      inputs.push_back(-FromBits(b));
    }
  }
  inputs.push_back(std::numeric_limits<float>::max());
  inputs.push_back(std::numeric_limits<float>::infinity());
  int checked = 0;
  for (float f : inputs) {
    if (std::isnan(f)) {
      ASSERT_TRUE(IsBF16NaN(F32ToBF16(f)));
      continue;
    }
    // The instruction flushes denormal inputs to zero; ours rounds them exactly.
    if (f != 0.0f && std::abs(f) < std::numeric_limits<float>::min()) continue;
    ASSERT_EQ(F32ToBF16(f), testing::HwF32ToBF16(f))
        << "f32 bits 0x" << std::hex << Bits(f) << " (" << f << ")";
    ++checked;
  }
  EXPECT_GT(checked, 1 << 20);
}

TEST(DTypeTest, F32ToBF16TiesGoToEven) {
  EXPECT_EQ(F32ToBF16(FromBits(0x3f808000u)), 0x3f80u);  // tie, even below
  EXPECT_EQ(F32ToBF16(FromBits(0x3f818000u)), 0x3f82u);  // tie, even above
  EXPECT_EQ(F32ToBF16(FromBits(0x3f808001u)), 0x3f81u);  // above the tie
  EXPECT_EQ(F32ToBF16(FromBits(0x7f7fffffu)), 0x7f80u);  // max float rounds to inf
  EXPECT_EQ(F32ToBF16(FromBits(0x00018000u)), 0x0002u);  // denormal tie, even above
}

TEST(DTypeTest, ArrayConversionsAgreeWithScalarOnes) {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> dist(-70000.0f, 70000.0f);
  std::vector<float> src(1001);
  for (auto& f : src) f = dist(rng);
  for (DType t : {DType::kF32, DType::kF16, DType::kBF16}) {
    std::vector<uint8_t> packed(src.size() * 4);
    ConvertFromF32(src.data(), static_cast<int64_t>(src.size()), t, packed.data());
    std::vector<float> back(src.size());
    ConvertToF32(t, packed.data(), static_cast<int64_t>(src.size()), back.data());
    for (size_t i = 0; i < src.size(); ++i) {
      float want = src[i];
      if (t == DType::kF16) want = F16ToF32(F32ToF16(src[i]));
      if (t == DType::kBF16) want = BF16ToF32(F32ToBF16(src[i]));
      ASSERT_EQ(Bits(back[i]), Bits(want)) << DTypeName(t) << " at " << i;
    }
  }
}

}  // namespace
}  // namespace mot
