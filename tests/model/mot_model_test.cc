// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// MotModel: loading errors and StepBatch validation (every error names the row and field,
// and leaves the cache unchanged).
#include "engine/model/mot_model.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>

#include "engine/model/random_weights.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/weight_names.h"
#include "tests/oracle/oracle_test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot::model {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::ModelCase;
using ::mot::testing::OracleModel;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

ModelCase TwoTowers() {
  return {"unit", 2, NormPlacement::kPre, NormType::kRms, 4, 2, false, false, DType::kF32, 3};
}

class MotModelValidationTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto m = OracleModel::Create(TwoTowers());
    ASSERT_THAT(m, IsOk());
    model_ = std::move(m).value();
    cache_ = model_->NewCache(2);
  }
  absl::Status Run(const StepBatch& b) {
    std::vector<float> logits(static_cast<size_t>(b.NumWanted() * 96));
    return model_->model().Forward(b, cache_.get(), logits.data());
  }
  StepBatch Prompt(int n, int seq = 0) {
    StepBatch b;
    for (int i = 0; i < n; ++i) b.rows.push_back({10 + i, i % 2, seq, i, true});
    return b;
  }
  std::unique_ptr<OracleModel> model_;
  std::unique_ptr<kv::ContiguousKvCache> cache_;
};

TEST_F(MotModelValidationTest, ValidBatchRunsAndAdvancesLength) {
  EXPECT_THAT(Run(Prompt(4)), IsOk());
  EXPECT_EQ(cache_->Length(0), 4);
  EXPECT_EQ(cache_->Length(1), 0);
  EXPECT_THAT(Run(StepBatch{}), IsOk());
}

TEST_F(MotModelValidationTest, TokenOutOfRange) {
  StepBatch b = Prompt(3);
  b.rows[2].token = 96;
  EXPECT_THAT(Run(b), StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("row 2: field token: 96 is outside [0, vocab_size=96)")));
  b.rows[2].token = -1;
  EXPECT_THAT(Run(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field token")));
  EXPECT_EQ(cache_->Length(0), 0);
}

TEST_F(MotModelValidationTest, TowerOutOfRange) {
  StepBatch b = Prompt(3);
  b.rows[1].tower = 2;
  EXPECT_THAT(Run(b), StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("row 1: field tower: 2 is outside [0, num_towers=2)")));
}

TEST_F(MotModelValidationTest, SeqOutOfRange) {
  StepBatch b = Prompt(2);
  b.rows[0].seq = 2;
  EXPECT_THAT(Run(b), StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("row 0: field seq: 2 is outside the cache's slots")));
}

TEST_F(MotModelValidationTest, PosOutOfRange) {
  StepBatch b = Prompt(2);
  b.rows[1].pos = 64;
  EXPECT_THAT(Run(b), StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("row 1: field pos: 64 is outside [0, max_seq_len=64)")));
  b.rows[1].pos = -3;
  EXPECT_THAT(Run(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field pos")));
}

TEST_F(MotModelValidationTest, PosBeyondCacheCapacity) {
  auto small = kv::ContiguousKvCache::Create(
      kv::ContiguousKvCacheConfig::FromModelConfig(model_->config(), 1, 4));
  ASSERT_THAT(small, IsOk());
  StepBatch b = Prompt(5);
  std::vector<float> logits(5 * 96);
  EXPECT_THAT(model_->model().Forward(b, small->get(), logits.data()),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("row 4: field pos: 4 is beyond the capacity 4")));
}

TEST_F(MotModelValidationTest, PositionsMustContinueTheCache) {
  ASSERT_THAT(Run(Prompt(3)), IsOk());
  StepBatch b;
  b.rows.push_back({11, 0, 0, 4, true});  // the cache holds 3: position 3 is next
  EXPECT_THAT(Run(b),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("must have positions 3..3 (the cache holds 3), got 4..4")));
  b.rows[0].pos = 2;  // already cached
  EXPECT_THAT(Run(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field pos")));
  EXPECT_EQ(cache_->Length(0), 3);
}

TEST_F(MotModelValidationTest, DuplicatePosition) {
  StepBatch b = Prompt(3);
  b.rows.push_back({12, 0, 0, 1, true});  // 0,1,2,1: count 4 but span 3
  EXPECT_THAT(Run(b), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field pos")));
  StepBatch d;
  d.rows.push_back({12, 0, 0, 0, true});
  d.rows.push_back({12, 0, 0, 1, true});
  d.rows.push_back({12, 0, 0, 1, true});
  d.rows.push_back({12, 0, 0, 3, true});  // span 0..3 with 4 rows, 1 twice, 2 missing
  EXPECT_THAT(Run(d), StatusIs(absl::StatusCode::kInvalidArgument,
                               HasSubstr("position 1 of sequence 0 appears twice")));
  EXPECT_EQ(cache_->Length(0), 0);
}

TEST_F(MotModelValidationTest, CacheMustMatchConfig) {
  MotConfig other = model_->config();
  other.n_layers = 3;
  auto cache =
      kv::ContiguousKvCache::Create(kv::ContiguousKvCacheConfig::FromModelConfig(other, 1, 8));
  ASSERT_THAT(cache, IsOk());
  std::vector<float> logits(96);
  EXPECT_THAT(model_->model().Forward(Prompt(1), cache->get(), logits.data()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("n_layers=3")));
}

// The checkpoint layer (writer and Open) already rejects these; the model's own shape check
// is a second line. Either way no model is built and the error names the tensor.
TEST(MotModelLoadTest, WrongShapeNamesTheTensor) {
  const ModelCase c = TwoTowers();
  MotConfig cfg = testing::MakeConfig(c);
  auto tensors = RandomMotWeights(cfg, DType::kF32, 1);
  for (NamedTensor& t : tensors) {
    if (t.name == weight_names::AttentionProj(1, 'q', 1)) {
      t.tensor = Tensor::Zeros(DType::kF32, {32, 64});
    }
  }
  EXPECT_THAT(OracleModel::Create(c, tensors),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("layers.1.attention.local_experts_wq.1.weight")));
}

TEST(MotModelLoadTest, MissingTensorIsAnError) {
  const ModelCase c = TwoTowers();
  auto tensors = RandomMotWeights(testing::MakeConfig(c), DType::kBF16, 1);
  std::erase_if(tensors, [](const NamedTensor& t) { return t.name == "norm.1.weight"; });
  EXPECT_THAT(OracleModel::Create(c, tensors),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("norm.1.weight")));
}

TEST(MotModelLoadTest, NullArgumentsAreRejected) {
  EXPECT_THAT(MotModel::Create(nullptr, nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("non-null")));
}

TEST(StepBatchTest, FillTowersFromVocab) {
  const MotConfig cfg = testing::MakeConfig(TwoTowers());  // text [0,48), image [48,96)
  StepBatch b;
  b.AddSequence(std::vector<int32_t>{3, 47, 48, 95}, std::vector<uint8_t>{1, 1, 0, 0}, 0, 0);
  ASSERT_THAT(FillTowersFromVocab(cfg, &b), IsOk());
  EXPECT_EQ(b.rows[0].tower, 0);
  EXPECT_EQ(b.rows[1].tower, 0);
  EXPECT_EQ(b.rows[2].tower, 1);
  EXPECT_EQ(b.rows[3].tower, 1);
  EXPECT_EQ(b.NumWanted(), 1);
  EXPECT_TRUE(b.rows[3].want_logits);
  EXPECT_EQ(b.rows[3].pos, 3);
  b.rows[1].token = 100;
  EXPECT_THAT(FillTowersFromVocab(cfg, &b),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("row 1: field token: 100")));
}

TEST(StepBatchTest, AddSequenceCarriesEachTokensTower) {
  StepBatch b;
  const std::vector<int32_t> tokens = {5, 6, 7};
  const std::vector<uint8_t> towers = {0, 2, 1};
  b.AddSequence(tokens, towers, /*seq=*/3, /*start_pos=*/10);
  b.AddSequence(tokens, towers, /*seq=*/1, /*start_pos=*/0, /*all_logits=*/true);
  ASSERT_EQ(b.rows.size(), 6u);
  for (size_t i = 0; i < 6; ++i) {
    EXPECT_EQ(b.rows[i].token, tokens[i % 3]);
    EXPECT_EQ(b.rows[i].tower, towers[i % 3]);
    EXPECT_EQ(b.rows[i].seq, i < 3 ? 3 : 1);
    EXPECT_EQ(b.rows[i].pos, static_cast<int32_t>(i < 3 ? 10 + i : i - 3));
  }
  EXPECT_FALSE(b.rows[0].want_logits);
  EXPECT_TRUE(b.rows[2].want_logits);
  EXPECT_EQ(b.NumWanted(), 4);
}

// A sequence of `n` rows with towers alternating in runs (as a multimodal prompt has them).
StepBatch Sequence(const testing::SequenceInput& in, int begin, int end, int seq) {
  StepBatch b;
  for (int i = begin; i < end; ++i) b.rows.push_back({in.tokens[i], in.towers[i], seq, i, true});
  return b;
}

// In the batch-invariant mode a sequence's logits are bitwise the same alone or batched with
// other sequences' prefill and decode rows (which change every Linear's m).
TEST(MotModelBatchInvarianceTest, LogitsAreBitwiseTheSameAloneOrBatched) {
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    ModelCase c = TwoTowers();
    c.dtype = dtype;
    auto m = OracleModel::Create(c);
    ASSERT_THAT(m, IsOk());
    OracleModel& om = **m;
    om.backend().set_batch_invariant(true);
    const testing::SequenceInput a = testing::MakeSequence(om.config(), 24, true, 5);
    const testing::SequenceInput other = testing::MakeSequence(om.config(), 40, false, 6);
    const std::vector<std::pair<int, int>> steps = {
        {0, 20}, {20, 21}, {21, 22}, {22, 23}, {23, 24}};
    // Alone: prefill 20 rows, then decode 4 tokens one by one.
    std::vector<float> alone;
    {
      auto cache = om.NewCache(1);
      for (auto [b, e] : steps) {
        auto out = om.model().Forward(Sequence(a, b, e, 0), cache.get());
        ASSERT_THAT(out, IsOk());
        alone.insert(alone.end(), out->begin(), out->end());
      }
    }
    // Batched: the same steps in slot 2, each beside prefill chunks of two other sequences.
    std::vector<float> batched;
    {
      auto cache = om.NewCache(3);
      int next = 0, next1 = 0;
      for (auto [b, e] : steps) {
        StepBatch step = Sequence(other, next, next + 7, 0);
        const StepBatch mine = Sequence(a, b, e, 2);
        const StepBatch more = Sequence(other, next1, next1 + 3, 1);
        step.rows.insert(step.rows.begin() + 2, mine.rows.begin(), mine.rows.end());
        step.rows.insert(step.rows.end(), more.rows.begin(), more.rows.end());
        next += 7;
        next1 += 3;
        auto out = om.model().Forward(step, cache.get());
        ASSERT_THAT(out, IsOk());
        const int64_t v = om.config().vocab_size;
        batched.insert(batched.end(), out->begin() + 2 * v, out->begin() + (2 + (e - b)) * v);
      }
    }
    ASSERT_EQ(alone.size(), batched.size());
    EXPECT_EQ(std::memcmp(alone.data(), batched.data(), alone.size() * 4), 0)
        << DTypeName(dtype) << " weights";
  }
}

// A bf16 or f16 KV cache changes the logits a little (the keys/values are rounded), never
// much: the same prompt and decode against an f32 cache.
TEST(MotModelKvDTypeTest, SixteenBitCacheStaysCloseToF32) {
  auto m = OracleModel::Create(TwoTowers());
  ASSERT_THAT(m, IsOk());
  OracleModel& om = **m;
  const testing::SequenceInput in = testing::MakeSequence(om.config(), 30, true, 7);
  auto run = [&](DType dtype) {
    auto cache = om.NewCache(1, dtype);
    std::vector<float> logits;
    for (auto [b, e] : std::vector<std::pair<int, int>>{{0, 24}, {24, 25}, {25, 26}, {26, 30}}) {
      auto out = om.model().Forward(Sequence(in, b, e, 0), cache.get());
      EXPECT_THAT(out, IsOk());
      if (out.ok()) logits.insert(logits.end(), out->begin(), out->end());
    }
    return logits;
  };
  const std::vector<float> f32 = run(DType::kF32);
  for (DType dtype : {DType::kBF16, DType::kF16}) {
    const std::vector<float> got = run(dtype);
    ASSERT_EQ(got.size(), f32.size());
    double max_diff = 0, max_abs = 0;
    for (size_t i = 0; i < got.size(); ++i) {
      max_diff = std::max(max_diff, static_cast<double>(std::abs(got[i] - f32[i])));
      max_abs = std::max(max_abs, static_cast<double>(std::abs(f32[i])));
    }
    std::printf("[kv %s] max |logit diff| vs f32 cache %.3g (max |logit| %.3g)\n", DTypeName(dtype),
                max_diff, max_abs);
    EXPECT_GT(max_diff, 0) << DTypeName(dtype) << ": the cache dtype was not used";
    // bf16 keeps 8 significant bits (relative error 2^-9), f16 11: the logits move by a
    // small fraction of their scale.
    EXPECT_LT(max_diff, (dtype == DType::kBF16 ? 0.05 : 0.01) * max_abs) << DTypeName(dtype);
  }
}

}  // namespace
}  // namespace mot::model
