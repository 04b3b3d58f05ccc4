// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// CombineGuidance: scales of 1 keep the conditional row bitwise; a hand-computed case; only
// image codes change.
#include "engine/sampling/guidance.h"

#include <cstring>
#include <memory>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sampling/test_vocab.h"
#include "tests/testing/status_matchers.h"

namespace mot::sampling {
namespace {

using ::mot::testing::IsOk;

class GuidanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto v = testing::MakeVocab({.text = 8, .image = 4, .audio = 3});
    ASSERT_THAT(v, IsOk());
    vocab_ = std::make_unique<tokenizer::UnifiedVocab>(*std::move(v));
    std::mt19937 rng(9);
    std::normal_distribution<float> d(0.0f, 5.0f);
    for (auto* row : {&full_, &image_, &uncond_}) {
      row->resize(static_cast<size_t>(vocab_->size()));
      for (float& x : *row) x = d(rng);
    }
  }
  bool Bitwise(const std::vector<float>& a, const std::vector<float>& b) {
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
  }
  std::unique_ptr<tokenizer::UnifiedVocab> vocab_;
  std::vector<float> full_, image_, uncond_;
};

TEST_F(GuidanceTest, ScalesOfOneKeepTheConditionalRowBitwise) {
  std::vector<float> row = full_;
  CombineGuidance(row, image_, uncond_, 1.0f, 1.0f, *vocab_);
  EXPECT_TRUE(Bitwise(row, full_));
}

TEST_F(GuidanceTest, OneScaleOfOneContributesExactlyZero) {
  // Text scale 1: l = l_full + (s_img - 1)(l_img - l_u), with no rounding from the text term.
  std::vector<float> row = full_;
  CombineGuidance(row, image_, uncond_, 1.0f, 3.0f, *vocab_);
  for (int32_t c = 0; c < vocab_->image_codebook_size(); ++c) {
    const size_t i = static_cast<size_t>(vocab_->ImageCodeToId(c));
    EXPECT_EQ(row[i], full_[i] + 2.0f * (image_[i] - uncond_[i]));
  }
  // Image guidance equal to the image-only row's own logits (l_img == l_u): l_full bitwise.
  row = full_;
  CombineGuidance(row, image_, image_, 1.0f, 7.5f, *vocab_);
  EXPECT_TRUE(Bitwise(row, full_));
}

TEST_F(GuidanceTest, HandComputedCase) {
  // One image code: l_full 2, l_img 1, l_u -1, s_txt 3, s_img 1.5:
  //   l_u + 1.5 (l_img - l_u) + 3 (l_full - l_img) = -1 + 3 + 3 = 5.
  const size_t i = static_cast<size_t>(vocab_->ImageCodeToId(2));
  full_[i] = 2.0f, image_[i] = 1.0f, uncond_[i] = -1.0f;
  std::vector<float> row = full_;
  CombineGuidance(row, image_, uncond_, 3.0f, 1.5f, *vocab_);
  EXPECT_FLOAT_EQ(row[i], 5.0f);
}

TEST_F(GuidanceTest, MatchesTheFormulaOnImageCodesAndLeavesOtherIdsAlone) {
  const float s_txt = 4.0f, s_img = 1.25f;
  std::vector<float> row = full_;
  CombineGuidance(row, image_, uncond_, s_txt, s_img, *vocab_);
  for (int32_t id = 0; id < vocab_->size(); ++id) {
    const size_t i = static_cast<size_t>(id);
    if (vocab_->IsImageCode(id)) {
      const double expected = static_cast<double>(uncond_[i]) +
                              s_img * (static_cast<double>(image_[i]) - uncond_[i]) +
                              s_txt * (static_cast<double>(full_[i]) - image_[i]);
      EXPECT_NEAR(row[i], expected, 1e-4 * (1.0 + std::abs(expected))) << "id " << id;
    } else {
      EXPECT_EQ(row[i], full_[i]) << "non-image id " << id << " changed";
    }
  }
}

}  // namespace
}  // namespace mot::sampling
