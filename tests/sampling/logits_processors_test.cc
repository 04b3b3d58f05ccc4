// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Logit bias and the penalties against hand-computed values.
#include "engine/sampling/logits_processors.h"

#include <limits>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mot::sampling {
namespace {

using ::testing::ElementsAre;
using ::testing::FloatEq;

constexpr float kInf = std::numeric_limits<float>::infinity();

TokenHistory History(std::initializer_list<int32_t> ids) {
  TokenHistory h;
  for (int32_t id : ids) h.Add(id);
  return h;
}

TEST(LogitsProcessorsTest, BiasAddsAndRepeatsAdd) {
  std::vector<float> l = {1.0f, 2.0f, 3.0f};
  ApplyLogitBias(l, {{0, -1.5f}, {2, 0.25f}, {2, 0.25f}});
  EXPECT_THAT(l, ElementsAre(FloatEq(-0.5f), FloatEq(2.0f), FloatEq(3.5f)));
}

TEST(LogitsProcessorsTest, PenaltiesMatchHandComputedValues) {
  // ids 0 x2, 1 x1, 3 x3; repetition 2, presence 0.5, frequency 0.25:
  //   id 0:  2 / 2 = 1,   1 - (0.5 + 0.25 * 2) = 0
  //   id 1: -1 * 2 = -2, -2 - (0.5 + 0.25 * 1) = -2.75
  //   id 2: never generated: 0.5
  //   id 3: -3 * 2 = -6, -6 - (0.5 + 0.25 * 3) = -7.25
  //   id 4: never generated: 4
  std::vector<float> l = {2.0f, -1.0f, 0.5f, -3.0f, 4.0f};
  const TokenHistory h = History({0, 3, 1, 0, 3, 3});
  EXPECT_EQ(h.Count(3), 3);
  EXPECT_EQ(h.total(), 6);
  ApplyPenalties(l, h, 2.0f, 0.5f, 0.25f);
  EXPECT_THAT(l, ElementsAre(FloatEq(0.0f), FloatEq(-2.75f), FloatEq(0.5f), FloatEq(-7.25f),
                             FloatEq(4.0f)));
}

TEST(LogitsProcessorsTest, RepetitionBelowOneBoostsRepeats) {
  // CTRL with r < 1 favours repeats: a positive logit grows, a negative one shrinks toward 0.
  std::vector<float> l = {3.0f, -4.0f};
  ApplyPenalties(l, History({0, 1}), 0.5f, 0.0f, 0.0f);
  EXPECT_THAT(l, ElementsAre(FloatEq(6.0f), FloatEq(-2.0f)));
}

TEST(LogitsProcessorsTest, NeutralPenaltiesLeaveLogitsBitwise) {
  std::vector<float> l = {0.1f, -0.7f, 3.3f};
  const std::vector<float> before = l;
  ApplyPenalties(l, History({0, 1, 2, 2}), 1.0f, 0.0f, 0.0f);
  EXPECT_EQ(l, before);
}

TEST(LogitsProcessorsTest, MaskedLogitsStayMasked) {
  std::vector<float> l = {-kInf, -kInf, 1.0f};
  ApplyLogitBias(l, {{0, 100.0f}});
  ApplyPenalties(l, History({0, 1, 1}), 1.7f, -2.0f, -2.0f);
  EXPECT_EQ(l[0], -kInf);
  EXPECT_EQ(l[1], -kInf);
}

}  // namespace
}  // namespace mot::sampling
