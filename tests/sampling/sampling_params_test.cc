// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// SamplingParams::Validate: every rejection names its field.
#include "engine/sampling/sampling_params.h"

#include <cmath>
#include <functional>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sampling/test_vocab.h"
#include "tests/testing/status_matchers.h"

namespace mot::sampling {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

class SamplingParamsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto v = testing::MakeVocab({});
    ASSERT_THAT(v, IsOk());
    vocab_ = std::make_unique<tokenizer::UnifiedVocab>(*std::move(v));
  }
  std::unique_ptr<tokenizer::UnifiedVocab> vocab_;
};

TEST_F(SamplingParamsTest, DefaultsAreValid) {
  EXPECT_THAT(SamplingParams{}.Validate(*vocab_), IsOk());
  SamplingParams p;
  p.allowed_modalities = kText | kImage | kAudio;
  p.force_image_start = true;
  p.text_guidance = 3.0f;
  p.stop_ids = {vocab_->eoi_id(), 10};
  p.stop_strings = {"\n\n", "é"};
  p.logit_bias = {{0, -5.0f}, {vocab_->size() - 1, 2.0f}};
  p.temperature = 0.0f;
  EXPECT_THAT(p.Validate(*vocab_, /*tokens_per_image=*/16), IsOk());
}

struct BadCase {
  const char* name;
  std::function<void(SamplingParams&, const tokenizer::UnifiedVocab&)> mutate;
  const char* message;  // substring the error must hold: the field and the reason
};

TEST_F(SamplingParamsTest, EachBadFieldIsNamed) {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const BadCase cases[] = {
      {"top_p above 1", [](auto& p, auto&) { p.top_p = 1.5f; },
       "sampling.top_p: must be in (0, 1], got 1.5"},
      {"top_p zero", [](auto& p, auto&) { p.top_p = 0.0f; }, "sampling.top_p"},
      {"top_p nan", [&](auto& p, auto&) { p.top_p = nan; }, "sampling.top_p"},
      {"temperature negative", [](auto& p, auto&) { p.temperature = -0.5f; },
       "sampling.temperature"},
      {"temperature inf", [&](auto& p, auto&) { p.temperature = inf; }, "sampling.temperature"},
      {"top_k negative", [](auto& p, auto&) { p.top_k = -1; }, "sampling.top_k"},
      {"min_p one", [](auto& p, auto&) { p.min_p = 1.0f; }, "sampling.min_p"},
      {"repetition zero", [](auto& p, auto&) { p.repetition_penalty = 0.0f; },
       "sampling.repetition_penalty"},
      {"presence too big", [](auto& p, auto&) { p.presence_penalty = 2.5f; },
       "sampling.presence_penalty"},
      {"frequency nan", [&](auto& p, auto&) { p.frequency_penalty = nan; },
       "sampling.frequency_penalty"},
      {"bias id out of range",
       [](auto& p, auto& v) {
         p.logit_bias = {{1, 1.f}, {v.size(), 1.f}};
       },
       "sampling.logit_bias[1]: token id must be in [0, "},
      {"bias id negative",
       [](auto& p, auto&) {
         p.logit_bias = {{-1, 1.f}};
       },
       "sampling.logit_bias[0]"},
      {"bias inf",
       [&](auto& p, auto&) {
         p.logit_bias = {{3, -inf}};
       },
       "sampling.logit_bias[0]: bias must be finite"},
      {"stop id out of range", [](auto& p, auto& v) { p.stop_ids = {v.size() + 3}; },
       "sampling.stop_ids[0]"},
      {"stop id is an image code",
       [](auto& p, auto& v) {
         p.stop_ids = {2, v.ImageCodeToId(1)};
       },
       "sampling.stop_ids[1]: id"},
      {"stop id is an audio code", [](auto& p, auto& v) { p.stop_ids = {v.AudioCodeToId(0)}; },
       "image or audio code"},
      {"empty stop string",
       [](auto& p, auto&) {
         p.stop_strings = {"a", ""};
       },
       "sampling.stop_strings[1]: must not be empty"},
      {"invalid utf8 stop string", [](auto& p, auto&) { p.stop_strings = {"\xC3"}; },
       "sampling.stop_strings[0]: must be valid UTF-8"},
      {"long stop string",
       [](auto& p, auto&) { p.stop_strings = {std::string(kMaxStopStringBytes + 1, 'x')}; },
       "sampling.stop_strings[0]: at most"},
      {"too many stop strings",
       [](auto& p, auto&) { p.stop_strings.assign(kMaxStopStrings + 1, "x"); },
       "sampling.stop_strings: at most"},
      {"max_new_tokens zero", [](auto& p, auto&) { p.max_new_tokens = 0; },
       "sampling.max_new_tokens: must be >= 1, got 0"},
      {"max_text_tokens negative", [](auto& p, auto&) { p.max_text_tokens = -1; },
       "sampling.max_text_tokens"},
      {"max_audio_codes negative", [](auto& p, auto&) { p.max_audio_codes = -4; },
       "sampling.max_audio_codes"},
      {"no modality", [](auto& p, auto&) { p.allowed_modalities = 0; },
       "sampling.allowed_modalities: at least one"},
      {"unknown modality bit", [](auto& p, auto&) { p.allowed_modalities = kText | 8u; },
       "sampling.allowed_modalities: unknown"},
      {"forced image not allowed", [](auto& p, auto&) { p.force_image_start = true; },
       "sampling.force_image_start: images are not in allowed_modalities"},
      {"forced audio not allowed",
       [](auto& p, auto&) {
         p.allowed_modalities = kText | kImage;
         p.force_audio_start = true;
       },
       "sampling.force_audio_start"},
      {"both forced",
       [](auto& p, auto&) {
         p.allowed_modalities = kImage | kAudio;
         p.force_image_start = p.force_audio_start = true;
       },
       "cannot force both"},
      {"guidance without images", [](auto& p, auto&) { p.image_guidance = 2.0f; },
       "sampling.image_guidance: guidance acts on image codes only"},
      {"guidance nan",
       [&](auto& p, auto&) {
         p.allowed_modalities = kImage;
         p.text_guidance = nan;
       },
       "sampling.text_guidance: must be finite"},
      {"image budget below one image",
       [](auto& p, auto&) {
         p.allowed_modalities = kText | kImage;
         p.max_image_tokens = 17;  // 16 codes need 18
       },
       "sampling.max_image_tokens: must be 0 or >= 18"},
      {"forced image beyond max_new_tokens",
       [](auto& p, auto&) {
         p.allowed_modalities = kImage;
         p.force_image_start = true;
         p.max_new_tokens = 10;
       },
       "sampling.max_new_tokens: must be >= 18 to hold the forced image"},
      {"audio budget below one clip",
       [](auto& p, auto&) {
         p.allowed_modalities = kAudio;
         p.max_audio_tokens = 2;
       },
       "sampling.max_audio_tokens"},
      {"forced audio beyond max_new_tokens",
       [](auto& p, auto&) {
         p.allowed_modalities = kAudio;
         p.force_audio_start = true;
         p.max_new_tokens = 2;
       },
       "sampling.max_new_tokens: must be >= 3"},
  };
  for (const BadCase& c : cases) {
    SCOPED_TRACE(c.name);
    SamplingParams p;
    c.mutate(p, *vocab_);
    EXPECT_THAT(p.Validate(*vocab_, /*tokens_per_image=*/16),
                StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)));
  }
}

TEST_F(SamplingParamsTest, ImageBudgetChecksNeedTokensPerImage) {
  SamplingParams p;
  p.allowed_modalities = kText | kImage;
  p.max_image_tokens = 5;
  EXPECT_THAT(p.Validate(*vocab_), IsOk());     // tokens_per_image unknown: not checked
  EXPECT_THAT(p.Validate(*vocab_, 3), IsOk());  // 5 = <boi> + 3 + <eoi>
  EXPECT_THAT(p.Validate(*vocab_, 4),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_image_tokens")));
}

TEST_F(SamplingParamsTest, ModalityTheVocabularyLacksIsRejected) {
  auto text_only = testing::MakeVocab({.image = 0, .audio = 0});
  ASSERT_THAT(text_only, IsOk());
  SamplingParams p;
  EXPECT_THAT(p.Validate(*text_only), IsOk());
  p.allowed_modalities = kText | kImage;
  EXPECT_THAT(p.Validate(*text_only),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("sampling.allowed_modalities: image output asked for")));
  p.allowed_modalities = kText | kAudio;
  EXPECT_THAT(p.Validate(*text_only),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("sampling.allowed_modalities: audio output asked for")));
}

}  // namespace
}  // namespace mot::sampling
