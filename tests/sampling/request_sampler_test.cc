// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// RequestSampler: validation at creation, mask + draw + state in one call, and the same
// tokens whatever else is sampled in between or after rebuilding the state (preemption).
#include "engine/sampling/request_sampler.h"

#include <limits>
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
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

class RequestSamplerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto v = testing::MakeVocab({});
    ASSERT_THAT(v, IsOk());
    vocab_ = std::make_unique<tokenizer::UnifiedVocab>(*std::move(v));
  }
  // Deterministic pseudo-model rows: row n of stream `stream`.
  std::vector<float> Row(int stream, int n) const {
    std::mt19937 rng(static_cast<uint32_t>(stream * 100003 + n));
    std::normal_distribution<float> d(0.0f, 2.0f);
    std::vector<float> row(static_cast<size_t>(vocab_->size()));
    for (float& x : row) x = d(rng);
    return row;
  }
  std::vector<int32_t> RunAlone(const SamplingParams& p, int stream, int n) const {
    auto s = RequestSampler::Create(p, vocab_.get(), 4, 16);
    EXPECT_THAT(s, IsOk());
    std::vector<int32_t> ids;
    for (int i = 0; i < n && (ids.empty() || ids.back() != vocab_->eos_id()); ++i) {
      std::vector<float> row = Row(stream, i);
      auto id = s->Next(row);
      EXPECT_THAT(id, IsOk());
      ids.push_back(*id);
    }
    return ids;
  }
  std::unique_ptr<tokenizer::UnifiedVocab> vocab_;
};

TEST_F(RequestSamplerTest, CreateValidatesNamingTheField) {
  SamplingParams p;
  p.top_p = 2.0f;
  EXPECT_THAT(RequestSampler::Create(p, vocab_.get(), 4, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sampling.top_p")));
  p = SamplingParams{};
  p.allowed_modalities = kText | kImage;
  EXPECT_THAT(RequestSampler::Create(p, vocab_.get(), 0, 16),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("codes per image")));
}

TEST_F(RequestSamplerTest, ForcedImageComesOutWhole) {
  SamplingParams p;
  p.allowed_modalities = kImage;
  p.force_image_start = true;
  p.seed = 3;
  auto s = RequestSampler::Create(p, vocab_.get(), 4, 16);
  ASSERT_THAT(s, IsOk());
  std::vector<int32_t> ids;
  for (int i = 0; i < 6; ++i) {
    std::vector<float> row = Row(0, i);
    auto id = s->Next(row);
    ASSERT_THAT(id, IsOk());
    ids.push_back(*id);
  }
  EXPECT_EQ(ids.front(), vocab_->boi_id());
  for (int i = 1; i <= 4; ++i) EXPECT_TRUE(vocab_->IsImageCode(ids[static_cast<size_t>(i)]));
  EXPECT_EQ(ids.back(), vocab_->eoi_id());
  EXPECT_EQ(s->generated(), 6);
  EXPECT_EQ(s->modality().images_completed(), 1);
  EXPECT_EQ(s->history().total(), 2);  // <boi> and <eoi>; codes are not penalized
}

TEST_F(RequestSamplerTest, TokensDoNotDependOnOtherRequestsOrPreemption) {
  SamplingParams p;
  p.allowed_modalities = kText | kImage | kAudio;
  p.seed = 99;
  p.top_k = 20;
  p.top_p = 0.95f;
  p.repetition_penalty = 1.2f;
  p.max_new_tokens = 60;
  const std::vector<int32_t> alone = RunAlone(p, 1, 60);
  ASSERT_GT(alone.size(), 5u);

  // Interleaved with another request's steps on the same thread.
  SamplingParams q = p;
  q.seed = 5;
  q.temperature = 0.3f;
  auto a = RequestSampler::Create(p, vocab_.get(), 4, 16);
  auto b = RequestSampler::Create(q, vocab_.get(), 4, 16);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  std::vector<int32_t> batched;
  for (size_t i = 0; i < alone.size(); ++i) {
    std::vector<float> rb = Row(2, static_cast<int>(i));
    if (b->modality().generated() < 60) (void)b->Next(rb);
    std::vector<float> ra = Row(1, static_cast<int>(i));
    auto id = a->Next(ra);
    ASSERT_THAT(id, IsOk());
    batched.push_back(*id);
  }
  EXPECT_EQ(batched, alone);

  // Preempted after 7 tokens and rebuilt from its output: the rest is the same.
  auto c = RequestSampler::Create(p, vocab_.get(), 4, 16);
  ASSERT_THAT(c, IsOk());
  for (size_t i = 0; i < 7; ++i) ASSERT_THAT(c->Accept(alone[i]), IsOk());
  for (size_t i = 7; i < alone.size(); ++i) {
    std::vector<float> row = Row(1, static_cast<int>(i));
    auto id = c->Next(row);
    ASSERT_THAT(id, IsOk());
    EXPECT_EQ(*id, alone[i]) << "token " << i;
  }
}

TEST_F(RequestSamplerTest, BrokenRowIsAnErrorAndLeavesStateAlone) {
  auto s = RequestSampler::Create(SamplingParams{}, vocab_.get(), 4, 16);
  ASSERT_THAT(s, IsOk());
  std::vector<float> row(static_cast<size_t>(vocab_->size()),
                         std::numeric_limits<float>::quiet_NaN());
  EXPECT_THAT(s->Next(row), StatusIs(absl::StatusCode::kInternal, HasSubstr("no token")));
  EXPECT_EQ(s->generated(), 0);
  EXPECT_THAT(s->Accept(vocab_->pad_id()),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("not allowed")));
}

}  // namespace
}  // namespace mot::sampling
