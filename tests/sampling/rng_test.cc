// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The counter-based RNG: Philox4x32-10 known answers, purity in (seed, index), uniformity.
#include "engine/sampling/rng.h"

#include <array>
#include <cmath>
#include <cstdint>
#include <set>
#include <thread>
#include <vector>

#include "gtest/gtest.h"

namespace mot::sampling {
namespace {

// Random123's published kat_vectors for philox4x32_10.
TEST(RngTest, PhiloxMatchesRandom123KnownAnswers) {
  using A4 = std::array<uint32_t, 4>;
  EXPECT_EQ(PhiloxBlock({0, 0, 0, 0}, {0, 0}),
            (A4{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  EXPECT_EQ(PhiloxBlock({0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, {0xffffffff, 0xffffffff}),
            (A4{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  EXPECT_EQ(PhiloxBlock({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}),
            (A4{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
  // It is constexpr: the draw can be checked at compile time too.
  static_assert(PhiloxBlock({0, 0, 0, 0}, {0, 0})[0] == 0x6627e8d5u);
}

TEST(RngTest, DrawIsAPureFunctionOfSeedAndIndex) {
  // Computed in a different order and on other threads: the same values.
  std::vector<double> forward;
  for (uint64_t i = 0; i < 1000; ++i) forward.push_back(UniformDouble(42, i));
  std::vector<double> backward(1000);
  std::thread t([&] {
    for (uint64_t i = 1000; i-- > 0;) backward[i] = UniformDouble(42, i);
  });
  t.join();
  EXPECT_EQ(forward, backward);
  // High bits of seed and index matter.
  EXPECT_NE(UniformDouble(1, 5), UniformDouble(1 + (uint64_t{1} << 40), 5));
  EXPECT_NE(UniformDouble(1, 5), UniformDouble(1, 5 + (uint64_t{1} << 40)));
  EXPECT_NE(UniformDouble(7, 3), UniformDouble(8, 3));
  EXPECT_NE(RandomBits(7, 3, RngStream::kTokenDraw), RandomBits(7, 3, static_cast<RngStream>(1)));
}

TEST(RngTest, ValuesStayInUnitInterval) {
  for (uint64_t seed : {0ull, 1ull, 0xffffffffffffffffull}) {
    for (uint64_t i = 0; i < 20000; ++i) {
      const double d = UniformDouble(seed, i);
      const float f = UniformFloat(seed, i);
      ASSERT_GE(d, 0.0);
      ASSERT_LT(d, 1.0);
      ASSERT_GE(f, 0.0f);
      ASSERT_LT(f, 1.0f);
    }
  }
}

// Chi-square over 64 equal bins for consecutive indexes of one seed and for one index over
// consecutive seeds (how requests with seeds 0, 1, 2... see their first token).
TEST(RngTest, DrawsAreUniform) {
  constexpr int kBins = 64;
  constexpr int kDraws = 128000;
  // 63 degrees of freedom: P(chi2 > 120) is about 1e-5, so a fixed-seed pass is not luck.
  constexpr double kChi2Limit = 120.0;
  for (int by_seed = 0; by_seed < 2; ++by_seed) {
    std::vector<int> bins(kBins, 0);
    double sum = 0.0;
    for (int i = 0; i < kDraws; ++i) {
      const double u = by_seed ? UniformDouble(static_cast<uint64_t>(i), 0) : UniformDouble(99, i);
      ++bins[static_cast<int>(u * kBins)];
      sum += u;
    }
    const double expected = static_cast<double>(kDraws) / kBins;
    double chi2 = 0.0;
    for (int b : bins) chi2 += (b - expected) * (b - expected) / expected;
    EXPECT_LT(chi2, kChi2Limit) << (by_seed ? "over seeds" : "over indexes");
    EXPECT_NEAR(sum / kDraws, 0.5, 0.005);
  }
}

TEST(RngTest, NeighbouringDrawsAreUncorrelated) {
  constexpr int kN = 100000;
  double sxy = 0.0, sx = 0.0, sxx = 0.0;
  for (int i = 0; i < kN; ++i) {
    const double x = UniformDouble(5, i), y = UniformDouble(5, i + 1);
    sxy += x * y, sx += x, sxx += x * x;
  }
  const double mean = sx / kN, var = sxx / kN - mean * mean;
  const double corr = (sxy / kN - mean * mean) / var;
  EXPECT_LT(std::abs(corr), 0.02);
}

}  // namespace
}  // namespace mot::sampling
