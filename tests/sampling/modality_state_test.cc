// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// ModalityStateMachine: targeted rules, then thousands of randomly sampled steps over several
// vocabularies and rule sets, each output checked by an independent parser of the rules.
#include "engine/sampling/modality_state.h"

#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "engine/sampling/sampler.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sampling/test_vocab.h"
#include "tests/testing/status_matchers.h"

namespace mot::sampling {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;
using tokenizer::UnifiedVocab;

constexpr float kInf = std::numeric_limits<float>::infinity();

std::unique_ptr<UnifiedVocab> Vocab(const testing::VocabShape& shape) {
  auto v = testing::MakeVocab(shape);
  EXPECT_THAT(v, IsOk());
  return std::make_unique<UnifiedVocab>(*std::move(v));
}

// The ids Mask leaves finite.
std::vector<int32_t> Allowed(const ModalityStateMachine& sm, const UnifiedVocab& v) {
  std::vector<float> row(static_cast<size_t>(v.size()), 0.0f);
  sm.Mask(row);
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < v.size(); ++i) {
    const bool allowed = row[static_cast<size_t>(i)] == 0.0f;
    EXPECT_EQ(allowed, sm.IsAllowed(i)) << "Mask and IsAllowed disagree on id " << i;
    if (allowed) ids.push_back(i);
  }
  return ids;
}

ModalityRules Rules(uint32_t allowed, int32_t tokens_per_image = 4, int32_t max_new = 100) {
  ModalityRules r;
  r.allowed_modalities = allowed;
  r.tokens_per_image = tokens_per_image;
  r.max_new_tokens = max_new;
  return r;
}

TEST(ModalityStateTest, TextOnlyNeverAllowsFramesOrPadOrBos) {
  auto v = Vocab({});
  ModalityStateMachine sm(v.get(), Rules(kText));
  const std::vector<int32_t> ids = Allowed(sm, *v);
  // <eos> plus the 32 text ids; no <pad>, <bos>, <boi>, <eoi>, <boa>, <eoa>, no codes.
  ASSERT_EQ(ids.size(), 33u);
  EXPECT_EQ(ids[0], v->eos_id());
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_TRUE(v->IsText(ids[i]));
}

TEST(ModalityStateTest, ImageFrameHoldsExactlyTokensPerImageCodesThenEoi) {
  auto v = Vocab({});
  ModalityStateMachine sm(v.get(), Rules(kText | kImage, /*tokens_per_image=*/3));
  EXPECT_TRUE(sm.IsAllowed(v->boi_id()));
  EXPECT_FALSE(sm.IsAllowed(v->eoi_id()));
  EXPECT_FALSE(sm.IsAllowed(v->ImageCodeToId(0)));
  ASSERT_THAT(sm.Advance(v->boi_id()), IsOk());
  EXPECT_TRUE(sm.in_image());
  EXPECT_EQ(sm.frame_codes_total(), 3);
  for (int i = 0; i < 3; ++i) {
    const std::vector<int32_t> ids = Allowed(sm, *v);
    ASSERT_EQ(ids.size(), static_cast<size_t>(v->image_codebook_size()));
    for (int32_t id : ids) EXPECT_TRUE(v->IsImageCode(id));
    ASSERT_THAT(sm.Advance(v->ImageCodeToId(i)), IsOk());
    EXPECT_EQ(sm.frame_codes_done(), i + 1);
  }
  EXPECT_EQ(Allowed(sm, *v), std::vector<int32_t>{v->eoi_id()});
  ASSERT_THAT(sm.Advance(v->eoi_id()), IsOk());
  EXPECT_FALSE(sm.in_image());
  EXPECT_EQ(sm.images_completed(), 1);
  EXPECT_EQ(sm.generated_image(), 5);
}

TEST(ModalityStateTest, AudioFrameNeedsOneCodeAndForcesEoaAtTheLimit) {
  auto v = Vocab({});
  ModalityRules r = Rules(kText | kAudio);
  r.max_audio_codes = 2;
  ModalityStateMachine sm(v.get(), r);
  ASSERT_THAT(sm.Advance(v->boa_id()), IsOk());
  EXPECT_EQ(sm.frame_codes_total(), 2);
  EXPECT_FALSE(sm.IsAllowed(v->eoa_id()));  // no empty clip
  EXPECT_FALSE(sm.IsAllowed(v->eos_id()));
  ASSERT_THAT(sm.Advance(v->AudioCodeToId(1)), IsOk());
  EXPECT_TRUE(sm.IsAllowed(v->eoa_id()));
  EXPECT_TRUE(sm.IsAllowed(v->AudioCodeToId(0)));
  ASSERT_THAT(sm.Advance(v->AudioCodeToId(0)), IsOk());
  EXPECT_EQ(Allowed(sm, *v), std::vector<int32_t>{v->eoa_id()});
  ASSERT_THAT(sm.Advance(v->eoa_id()), IsOk());
  EXPECT_EQ(sm.audio_clips_completed(), 1);
  EXPECT_FALSE(sm.IsAllowed(v->eoa_id()));
}

TEST(ModalityStateTest, ForcedStartAllowsOnlyTheOpeningToken) {
  auto v = Vocab({});
  ModalityRules r = Rules(kText | kImage);
  r.force_image_start = true;
  ModalityStateMachine image(v.get(), r);
  EXPECT_EQ(Allowed(image, *v), std::vector<int32_t>{v->boi_id()});
  r = Rules(kAudio);
  r.force_audio_start = true;
  ModalityStateMachine audio(v.get(), r);
  EXPECT_EQ(Allowed(audio, *v), std::vector<int32_t>{v->boa_id()});
}

TEST(ModalityStateTest, BudgetsThatCannotHoldAFrameMaskItsStart) {
  auto v = Vocab({});
  // 4 codes need 6 tokens: with max_new_tokens 7, <boi> is allowed after 1 token, not after 2.
  ModalityStateMachine sm(v.get(), Rules(kText | kImage, 4, /*max_new=*/7));
  const int32_t text_id = v->num_special();
  ASSERT_THAT(sm.Advance(text_id), IsOk());
  EXPECT_TRUE(sm.IsAllowed(v->boi_id()));
  ASSERT_THAT(sm.Advance(text_id), IsOk());
  EXPECT_FALSE(sm.IsAllowed(v->boi_id()));
  // The image budget too: 11 tokens hold one image (6) but not a second.
  ModalityRules r = Rules(kText | kImage, 4, 100);
  r.max_image_tokens = 11;
  ModalityStateMachine sm2(v.get(), r);
  ASSERT_THAT(sm2.Advance(v->boi_id()), IsOk());
  for (int i = 0; i < 4; ++i) ASSERT_THAT(sm2.Advance(v->ImageCodeToId(0)), IsOk());
  ASSERT_THAT(sm2.Advance(v->eoi_id()), IsOk());
  EXPECT_FALSE(sm2.IsAllowed(v->boi_id()));
  // Text budget: exhausted text leaves <eos>.
  ModalityRules t = Rules(kText);
  t.max_text_tokens = 1;
  ModalityStateMachine sm3(v.get(), t);
  ASSERT_THAT(sm3.Advance(text_id), IsOk());
  EXPECT_EQ(Allowed(sm3, *v), std::vector<int32_t>{v->eos_id()});
}

TEST(ModalityStateTest, AudioCodeLimitShrinksToFitTheTotalBudget) {
  auto v = Vocab({});
  ModalityRules r = Rules(kText | kAudio, 4, /*max_new=*/10);
  r.max_audio_codes = 100;
  ModalityStateMachine sm(v.get(), r);
  ASSERT_THAT(sm.Advance(v->num_special()), IsOk());
  ASSERT_THAT(sm.Advance(v->boa_id()), IsOk());
  EXPECT_EQ(sm.frame_codes_total(), 7);  // 10 - 1 text - <boa> - <eoa>
}

TEST(ModalityStateTest, AdvanceRejectsDisallowedIdsAndKeepsState) {
  auto v = Vocab({});
  ModalityStateMachine sm(v.get(), Rules(kText | kImage, 2));
  EXPECT_THAT(sm.Advance(v->ImageCodeToId(0)),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("outside a frame")));
  EXPECT_THAT(sm.Advance(v->pad_id()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not allowed")));
  EXPECT_THAT(sm.Advance(v->boa_id()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not allowed")));
  EXPECT_EQ(sm.generated(), 0);
  ASSERT_THAT(sm.Advance(v->boi_id()), IsOk());
  EXPECT_THAT(sm.Advance(v->num_special()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("in an image frame")));
  EXPECT_THAT(sm.Advance(v->eoi_id()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not allowed")));
  EXPECT_EQ(sm.generated(), 1);
  EXPECT_EQ(sm.frame_codes_done(), 0);
}

TEST(ModalityStateTest, InterleavedTextImageTextAudio) {
  auto v = Vocab({.extra_specials = 2});
  ModalityRules r = Rules(kText | kImage | kAudio, 2);
  r.max_audio_codes = 3;
  ModalityStateMachine sm(v.get(), r);
  const int32_t t = v->num_special() + 5, extra = 7;
  const std::vector<int32_t> seq = {
      t,           extra,      v->boi_id(), v->ImageCodeToId(1), v->ImageCodeToId(2),
      v->eoi_id(), t,          v->boa_id(), v->AudioCodeToId(0), v->eoa_id(),
      t,           v->eos_id()};
  for (int32_t id : seq) ASSERT_THAT(sm.Advance(id), IsOk()) << "id " << id;
  EXPECT_EQ(sm.images_completed(), 1);
  EXPECT_EQ(sm.audio_clips_completed(), 1);
  EXPECT_EQ(sm.generated_text(), 5);
  EXPECT_EQ(sm.generated_image(), 4);
  EXPECT_EQ(sm.generated_audio(), 3);
}

// ---- Random walks checked by an independent parser ----

struct WalkConfig {
  const char* name;
  testing::VocabShape shape;
  ModalityRules rules;
};

// Checks one generated sequence against the rules, written from the rules rather than from
// the implementation. Fails the test with the offending position.
void CheckSequence(const std::vector<int32_t>& seq, const UnifiedVocab& v, const ModalityRules& r) {
  // Local names: kImage / kAudio are the ModalityBits.
  enum { kOutside, kInImage, kInAudio } frame = kOutside;
  int32_t codes = 0, text = 0, image = 0, audio = 0;
  const int32_t audio_limit =
      r.max_audio_codes > 0 ? r.max_audio_codes : std::numeric_limits<int32_t>::max();
  for (size_t i = 0; i < seq.size(); ++i) {
    const int32_t id = seq[i];
    SCOPED_TRACE(::testing::Message() << "position " << i << " id " << id);
    ASSERT_NE(id, v.pad_id());
    ASSERT_NE(id, v.bos_id());
    if (i == 0 && r.force_image_start) {
      ASSERT_EQ(id, v.boi_id());
    }
    if (i == 0 && r.force_audio_start) {
      ASSERT_EQ(id, v.boa_id());
    }
    switch (frame) {
      case kInImage:
        ++image;
        if (codes < r.tokens_per_image) {
          ASSERT_TRUE(v.IsImageCode(id)) << "image frame needs a code";
          ++codes;
        } else {
          ASSERT_EQ(id, v.eoi_id()) << "a full image frame must close";
          frame = kOutside;
        }
        break;
      case kInAudio:
        ++audio;
        if (id == v.eoa_id()) {
          ASSERT_GE(codes, 1) << "empty audio clip";
          frame = kOutside;
        } else {
          ASSERT_TRUE(v.IsAudioCode(id)) << "audio frame holds codes only";
          ASSERT_LT(codes, audio_limit) << "audio clip beyond its limit";
          ++codes;
        }
        break;
      case kOutside:
        ASSERT_FALSE(v.IsImageCode(id) || v.IsAudioCode(id)) << "code outside a frame";
        ASSERT_NE(id, v.eoi_id());
        ASSERT_NE(id, v.eoa_id());
        if (id == v.boi_id()) {
          ASSERT_TRUE(r.allowed_modalities & kImage);
          frame = kInImage, codes = 0, ++image;
        } else if (id == v.boa_id()) {
          ASSERT_TRUE(r.allowed_modalities & kAudio);
          frame = kInAudio, codes = 0, ++audio;
        } else {
          ++text;
          if (id == v.eos_id()) {
            ASSERT_EQ(i + 1, seq.size()) << "tokens after <eos>";
          } else {
            ASSERT_TRUE(r.allowed_modalities & kText) << "text not allowed";
          }
        }
        break;
    }
  }
  if (r.max_new_tokens > 0) {
    EXPECT_LE(static_cast<int32_t>(seq.size()), r.max_new_tokens);
  }
  // Frames opened within the budget close within it.
  EXPECT_EQ(frame, kOutside) << "sequence ended inside a frame";
  if (r.max_text_tokens > 0) {
    // <eos> may be the one token past an exhausted text budget.
    EXPECT_LE(text, r.max_text_tokens + 1);
  }
  if (r.max_image_tokens > 0) {
    EXPECT_LE(image, r.max_image_tokens);
  }
  if (r.max_audio_tokens > 0) {
    EXPECT_LE(audio, r.max_audio_tokens);
  }
}

TEST(ModalityStateTest, RandomWalksKeepEveryRule) {
  auto rules = [](uint32_t allowed, int32_t tpi, int32_t max_new) {
    return Rules(allowed, tpi, max_new);
  };
  std::vector<WalkConfig> configs = {
      {"text only", {.image = 0, .audio = 0}, rules(kText, 0, 80)},
      {"text+image", {.audio = 0}, rules(kText | kImage, 6, 120)},
      {"all three", {.extra_specials = 3}, rules(kText | kImage | kAudio, 5, 150)},
      {"image only, forced", {}, rules(kImage, 9, 60)},
      {"audio only, forced", {}, rules(kAudio, 0, 70)},
      {"tight budgets", {}, rules(kText | kImage | kAudio, 4, 40)},
      {"big codebooks",
       {.text = 300, .image = 512, .audio = 256},
       rules(kText | kImage | kAudio, 16, 200)},
  };
  configs[3].rules.force_image_start = true;
  configs[4].rules.force_audio_start = true;
  configs[4].rules.max_audio_codes = 5;
  configs[2].rules.max_audio_codes = 4;
  configs[5].rules.max_text_tokens = 10;
  configs[5].rules.max_image_tokens = 13;  // two images of 6, not three
  configs[5].rules.max_audio_tokens = 9;

  std::mt19937 rng(2026);
  int64_t steps = 0, images = 0, clips = 0;
  for (const WalkConfig& c : configs) {
    SCOPED_TRACE(c.name);
    auto v = Vocab(c.shape);
    for (int episode = 0; episode < 40; ++episode) {
      ModalityStateMachine sm(v.get(), c.rules);
      SamplingParams p;
      p.seed = rng();
      std::normal_distribution<float> noise(0.0f, 1.0f);
      // Boost the structural specials so frames open and close often.
      const float boi_boost = static_cast<float>(episode % 4);
      std::vector<int32_t> seq;
      std::vector<float> row(static_cast<size_t>(v->size()));
      while (c.rules.max_new_tokens == 0 || sm.generated() < c.rules.max_new_tokens) {
        for (float& x : row) x = noise(rng);
        row[static_cast<size_t>(v->boi_id())] += boi_boost + 2.0f;
        row[static_cast<size_t>(v->boa_id())] += boi_boost + 2.0f;
        row[static_cast<size_t>(v->eoa_id())] += 2.5f;
        row[static_cast<size_t>(v->eos_id())] -= 1.0f;
        sm.Mask(row);
        const int32_t id = SampleToken(row, p, TokenHistory{}, static_cast<uint64_t>(seq.size()));
        ASSERT_GE(id, 0) << "the mask left nothing";
        ASSERT_THAT(sm.Advance(id), IsOk());
        seq.push_back(id);
        ++steps;
        if (id == v->eos_id()) break;
      }
      CheckSequence(seq, *v, c.rules);
      if (::testing::Test::HasFatalFailure()) return;
      images += sm.images_completed();
      clips += sm.audio_clips_completed();
      EXPECT_EQ(sm.generated(), static_cast<int32_t>(seq.size()));
      EXPECT_EQ(sm.generated_text() + sm.generated_image() + sm.generated_audio(), sm.generated());
      EXPECT_FALSE(sm.in_image() || sm.in_audio());
    }
  }
  // The walks exercised what they check.
  EXPECT_GT(steps, 10000);
  EXPECT_GT(images, 100);
  EXPECT_GT(clips, 100);
  std::printf("random walks: %lld steps, %lld images, %lld audio clips\n",
              static_cast<long long>(steps), static_cast<long long>(images),
              static_cast<long long>(clips));
}

}  // namespace
}  // namespace mot::sampling
