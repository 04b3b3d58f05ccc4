// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Unit tests of the training math: gradient accumulation, ZeroGrad, clipping, Evaluate,
// finite differences, batch validation, tensors in and out, AdamW (against a hand-computed
// step, state round trip, state errors), CosineLr, and a short overfitting run.
#include "trainer/train_model.h"

#include <cmath>
#include <string>
#include <vector>

#include "engine/core/thread_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/safetensors.h"
#include "model_loaders/weight_names.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/train_batch_util.h"
#include "trainer/adamw.h"

namespace mot::trainer {
namespace {

using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

MotConfig Config3(bool qk_norm = true, NormPlacement placement = NormPlacement::kPre) {
  return testing::TinyTrainConfig(3, placement, NormType::kRms, 4, 2, qk_norm, false);
}

std::vector<float> Grads(TrainModel& m) {
  std::vector<float> g;
  for (const TrainModel::Param& p : m.Params()) g.insert(g.end(), p.grad.begin(), p.grad.end());
  return g;
}

double RelDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double d2 = 0, r2 = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    d2 += (double{a[i]} - b[i]) * (double{a[i]} - b[i]);
    r2 += double{b[i]} * b[i];
  }
  return std::sqrt(d2 / r2);
}

TrainBatch Slice(const TrainBatch& b, int example) {
  const int32_t begin = b.example_begin[example];
  const int32_t end = example + 1 < static_cast<int>(b.example_begin.size())
                          ? b.example_begin[example + 1]
                          : static_cast<int32_t>(b.ids.size());
  TrainBatch s;
  s.ids.assign(b.ids.begin() + begin, b.ids.begin() + end);
  s.towers.assign(b.towers.begin() + begin, b.towers.begin() + end);
  s.loss_mask.assign(b.loss_mask.begin() + begin, b.loss_mask.begin() + end);
  s.example_begin = {0};
  return s;
}

TEST(TrainModelTest, ParamsFollowExpectedTensorsOrder) {
  ThreadPool pool(2);
  const MotConfig config = Config3();
  auto model = TrainModel::CreateRandom(config, 1, &pool);
  ASSERT_THAT(model.status(), testing::IsOk());
  const auto expected = weight_names::ExpectedTensors(config);
  const auto params = (*model)->Params();
  ASSERT_EQ(params.size(), expected.size());
  for (size_t i = 0; i < params.size(); ++i) {
    EXPECT_EQ(params[i].name, expected[i].name);
    EXPECT_EQ(params[i].shape, expected[i].shape);
    EXPECT_EQ(params[i].decay, expected[i].shape.size() == 2) << params[i].name;
  }
}

TEST(TrainModelTest, ImportedFieldsItCannotTrainAreRefusedByName) {
  // The training math has plain rope, no q/k/v biases and global attention: a model with
  // these fields would train into something the forward pass then runs differently.
  ThreadPool pool(1);
  MotConfig rope = Config3();
  rope.rope_scaling.type = RopeScalingType::kLinear;
  rope.rope_scaling.factor = 2.0f;
  MotConfig bias = Config3();
  bias.attention_bias = true;
  MotConfig window = Config3();
  window.sliding_window = 4;
  for (const auto& [config, field] :
       {std::pair{rope, "field rope_scaling"}, std::pair{bias, "field attention_bias"},
        std::pair{window, "field sliding_window"}}) {
    EXPECT_THAT(TrainModel::CreateRandom(config, 1, &pool),
                StatusIs(absl::StatusCode::kUnimplemented, HasSubstr(field)));
  }
}

TEST(TrainModelTest, TwoHalfBatchesAtHalfScaleEqualOneBatch) {
  ThreadPool pool(2);
  const MotConfig config = Config3();
  auto model = TrainModel::CreateRandom(config, 3, &pool);
  ASSERT_THAT(model.status(), testing::IsOk());
  TrainBatch batch = testing::MakeTrainBatch(config, {12, 12}, true, 1);
  // Equal predicted counts per half, so the mean over the whole is the mean of the halves.
  std::fill(batch.loss_mask.begin(), batch.loss_mask.end(), 1);
  ASSERT_THAT((*model)->ForwardBackward(batch, 1.0f).status(), testing::IsOk());
  const std::vector<float> whole = Grads(**model);
  (*model)->ZeroGrad();
  ASSERT_THAT((*model)->ForwardBackward(Slice(batch, 0), 0.5f).status(), testing::IsOk());
  ASSERT_THAT((*model)->ForwardBackward(Slice(batch, 1), 0.5f).status(), testing::IsOk());
  EXPECT_LT(RelDiff(Grads(**model), whole), 1e-5);
}

TEST(TrainModelTest, ZeroGradClearsAndCallsAccumulate) {
  ThreadPool pool(2);
  auto model = TrainModel::CreateRandom(Config3(), 4, &pool);
  ASSERT_THAT(model.status(), testing::IsOk());
  const TrainBatch batch = testing::MakeTrainBatch((*model)->config(), {9, 7}, true, 2);
  ASSERT_THAT((*model)->ForwardBackward(batch).status(), testing::IsOk());
  const std::vector<float> once = Grads(**model);
  EXPECT_GT((*model)->GradNorm(), 0);
  ASSERT_THAT((*model)->ForwardBackward(batch).status(), testing::IsOk());
  std::vector<float> twice_ref = once;
  for (float& g : twice_ref) g *= 2;
  EXPECT_LT(RelDiff(Grads(**model), twice_ref), 1e-6);
  (*model)->ZeroGrad();
  EXPECT_EQ((*model)->GradNorm(), 0.0);
}

TEST(TrainModelTest, ClipGradNormScalesOnlyAboveTheLimit) {
  ThreadPool pool(2);
  auto model = TrainModel::CreateRandom(Config3(), 5, &pool);
  ASSERT_THAT(model.status(), testing::IsOk());
  const TrainBatch batch = testing::MakeTrainBatch((*model)->config(), {10, 6}, true, 3);
  ASSERT_THAT((*model)->ForwardBackward(batch).status(), testing::IsOk());
  const double norm = (*model)->GradNorm();
  const std::vector<float> before = Grads(**model);
  EXPECT_DOUBLE_EQ((*model)->ClipGradNorm(norm * 2), norm);
  EXPECT_EQ(Grads(**model), before);
  EXPECT_DOUBLE_EQ((*model)->ClipGradNorm(norm / 4), norm);
  EXPECT_NEAR((*model)->GradNorm(), norm / 4, 1e-5 * norm);
  // Direction kept.
  std::vector<float> scaled = before;
  for (float& g : scaled) g *= 0.25f;
  EXPECT_LT(RelDiff(Grads(**model), scaled), 1e-6);
}

TEST(TrainModelTest, EvaluateReturnsTheLossAndTouchesNoGradient) {
  ThreadPool pool(2);
  auto model = TrainModel::CreateRandom(Config3(false, NormPlacement::kPostBranch), 6, &pool);
  ASSERT_THAT(model.status(), testing::IsOk());
  const TrainBatch batch = testing::MakeTrainBatch((*model)->config(), {8, 11, 5}, true, 4);
  auto eval = (*model)->Evaluate(batch);
  ASSERT_THAT(eval.status(), testing::IsOk());
  EXPECT_EQ((*model)->GradNorm(), 0.0);
  auto fb = (*model)->ForwardBackward(batch);
  ASSERT_THAT(fb.status(), testing::IsOk());
  EXPECT_DOUBLE_EQ(eval->loss, fb->loss);
  // Near log(vocab) at init (GPT-2 style init: logits near 0).
  EXPECT_NEAR(eval->loss, std::log(60.0), 0.1);
  int64_t predicted = 0;
  for (int m = 0; m < 3; ++m) predicted += eval->predicted_per_tower[m];
  EXPECT_EQ(predicted, eval->predicted);
  int64_t expect = 0;
  for (size_t i = 0; i < batch.ids.size(); ++i) {
    const bool start = std::find(batch.example_begin.begin(), batch.example_begin.end(),
                                 static_cast<int32_t>(i)) != batch.example_begin.end();
    expect += batch.loss_mask[i] && !start;
  }
  EXPECT_EQ(eval->predicted, expect);
  EXPECT_EQ(eval->tokens, static_cast<int64_t>(batch.ids.size()));
}

TEST(TrainModelTest, GradientsMatchFiniteDifferences) {
  ThreadPool pool(2);
  const MotConfig config =
      testing::TinyTrainConfig(2, NormPlacement::kPostBranch, NormType::kLayer, 4, 2, true, true);
  auto model = TrainModel::CreateRandom(config, 8, &pool);
  ASSERT_THAT(model.status(), testing::IsOk());
  // Larger weights than the init, so that gradients are well above f32 noise.
  for (TrainModel::Param& p : (*model)->Params()) {
    for (size_t i = 0; i < p.value.size(); ++i) {
      p.value[i] = p.shape.size() == 2 ? p.value[i] * 10 : p.value[i] + 0.1f * std::sin(i * 1.7f);
    }
  }
  const TrainBatch batch = testing::MakeTrainBatch(config, {9, 8}, true, 6);
  ASSERT_THAT((*model)->ForwardBackward(batch).status(), testing::IsOk());
  int checked = 0;
  for (TrainModel::Param& p : (*model)->Params()) {
    // The largest gradient entry of each tensor, by central differences in f32.
    size_t k = 0;
    for (size_t i = 0; i < p.grad.size(); ++i) {
      if (std::fabs(p.grad[i]) > std::fabs(p.grad[k])) k = i;
    }
    const float g = p.grad[k];
    if (std::fabs(g) < 1e-2f) continue;
    const float orig = p.value[k];
    const float h = 1e-2f * std::max(1.0f, std::fabs(orig));
    p.value[k] = orig + h;
    const double up = (*model)->Evaluate(batch)->loss;
    p.value[k] = orig - h;
    const double down = (*model)->Evaluate(batch)->loss;
    p.value[k] = orig;
    const double fd = (up - down) / (2.0 * h);
    EXPECT_NEAR(fd, g, 0.03 * std::fabs(g) + 1e-3) << p.name << "[" << k << "]";
    ++checked;
  }
  EXPECT_GT(checked, 20);
}

TEST(TrainModelTest, BadBatchesNameTheField) {
  ThreadPool pool(1);
  auto model = TrainModel::CreateRandom(Config3(), 1, &pool);
  ASSERT_THAT(model.status(), testing::IsOk());
  const TrainBatch good = testing::MakeTrainBatch((*model)->config(), {6, 5}, true, 1);
  TrainBatch b = good;
  b.ids[3] = 60;
  EXPECT_THAT((*model)->ForwardBackward(b).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("row 3: field ids")));
  b = good;
  b.towers[2] = 3;
  EXPECT_THAT((*model)->ForwardBackward(b).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("row 2: field towers")));
  b = good;
  b.loss_mask.pop_back();
  EXPECT_THAT((*model)->Evaluate(b).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("loss_mask")));
  b = good;
  b.example_begin = {0, 6, 6};
  EXPECT_THAT((*model)->ForwardBackward(b).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("example_begin[1]")));
  b = good;
  b.example_begin = {1};
  EXPECT_THAT((*model)->ForwardBackward(b).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("example_begin")));
  b = testing::MakeTrainBatch((*model)->config(), {65}, true, 1);
  EXPECT_THAT((*model)->ForwardBackward(b).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_seq_len")));
  EXPECT_EQ((*model)->GradNorm(), 0.0);  // nothing added on failure
}

TEST(TrainModelTest, CheckpointRoundTripKeepsEveryValue) {
  ThreadPool pool(2);
  const MotConfig config = Config3();
  auto model = TrainModel::CreateRandom(config, 9, &pool);
  ASSERT_THAT(model.status(), testing::IsOk());
  const std::string dir = ::testing::TempDir() + "/train_model_roundtrip";
  ASSERT_THAT(WriteCheckpoint(dir, config, (*model)->ToTensors(), {}, /*overwrite=*/true),
              testing::IsOk());
  auto ckpt = Checkpoint::Open(dir);
  ASSERT_THAT(ckpt.status(), testing::IsOk());
  auto loaded = TrainModel::FromCheckpoint(*ckpt, &pool);
  ASSERT_THAT(loaded.status(), testing::IsOk());
  const auto a = (*model)->Params();
  const auto b = (*loaded)->Params();
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(std::equal(a[i].value.begin(), a[i].value.end(), b[i].value.begin())) << a[i].name;
  }
  // BF16 export rounds each value to nearest even.
  const auto bf = (*model)->ToTensors(DType::kBF16);
  EXPECT_EQ(bf[0].tensor.dtype(), DType::kBF16);
  EXPECT_EQ(bf[0].tensor.data_as<uint16_t>()[0], F32ToBF16(a[0].value[0]));
  // A tensor of another config is named.
  std::vector<NamedTensor> tensors = (*model)->ToTensors();
  tensors.push_back({"extra.weight", Tensor::Zeros(DType::kF32, {2})});
  EXPECT_THAT(TrainModel::FromTensors(config, tensors, &pool).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("extra.weight")));
  tensors.pop_back();
  tensors.erase(tensors.begin());
  EXPECT_THAT(TrainModel::FromTensors(config, tensors, &pool).status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("tok_embeddings.weight")));
}

TEST(TrainModelTest, OverfitsOneBatch) {
  ThreadPool pool(2);
  const MotConfig config = Config3();
  auto model = TrainModel::CreateRandom(config, 11, &pool);
  ASSERT_THAT(model.status(), testing::IsOk());
  const TrainBatch batch = testing::MakeTrainBatch(config, {16, 12}, true, 9);
  AdamW opt(AdamWOptions{.weight_decay = 0.0f}, &pool);
  double first = 0, last = 0;
  for (int step = 0; step < 100; ++step) {
    (*model)->ZeroGrad();
    auto stats = (*model)->ForwardBackward(batch);
    ASSERT_THAT(stats.status(), testing::IsOk());
    if (step == 0) first = stats->loss;
    last = stats->loss;
    (*model)->ClipGradNorm(1.0);
    auto params = (*model)->Params();
    opt.Step(params, CosineLr(step, 10, 100, 1e-2f, 1e-3f));
  }
  EXPECT_EQ(opt.step(), 100);
  EXPECT_LT(last, 0.1 * first) << "first " << first << " last " << last;
}

// --- AdamW.

TEST(AdamWTest, MatchesAHandComputedStep) {
  std::vector<float> w = {1.0f, -2.0f}, g = {0.5f, -0.25f}, n = {3.0f}, gn = {1.0f};
  std::vector<TrainModel::Param> params = {
      {"w", {2}, std::span<float>(w), std::span<float>(g), true},
      {"n", {1}, std::span<float>(n), std::span<float>(gn), false}};
  const AdamWOptions o{.beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f, .weight_decay = 0.1f};
  AdamW opt(o);
  const float lr = 0.01f;
  // Step 1 by hand: m = 0.1 g, v = 0.05 g², m̂ = g, v̂ = g², update = g / (|g| + eps).
  opt.Step(params, lr);
  EXPECT_NEAR(w[0], 1.0 * (1 - lr * 0.1) - lr * 1.0, 1e-6);
  EXPECT_NEAR(w[1], -2.0 * (1 - lr * 0.1) + lr * 1.0, 1e-6);
  EXPECT_NEAR(n[0], 3.0 - lr * 1.0, 1e-6);  // no decay
  // Step 2 with a new gradient, in double by hand.
  g = {-1.0f, 0.25f};
  const double w0 = w[0];
  opt.Step(params, lr);
  const double m = 0.9 * 0.05 + 0.1 * -1.0;
  const double v = 0.95 * 0.05 * 0.25 + 0.05 * 1.0;
  const double mh = m / (1 - 0.81), vh = v / (1 - 0.9025);
  EXPECT_NEAR(w[0], w0 * (1 - lr * 0.1) - lr * mh / (std::sqrt(vh) + 1e-8), 1e-6);
  EXPECT_EQ(opt.step(), 2);
}

TEST(AdamWTest, StateRoundTripContinuesBitForBit) {
  ThreadPool pool(2);
  auto a = TrainModel::CreateRandom(Config3(), 2, &pool);
  auto b = TrainModel::CreateRandom(Config3(), 2, &pool);
  ASSERT_THAT(a.status(), testing::IsOk());
  ASSERT_THAT(b.status(), testing::IsOk());
  const TrainBatch batch = testing::MakeTrainBatch((*a)->config(), {10, 9}, true, 3);
  AdamW opt_a(AdamWOptions{}, &pool);
  auto step = [&](TrainModel& m, AdamW& opt) {
    m.ZeroGrad();
    ASSERT_THAT(m.ForwardBackward(batch).status(), testing::IsOk());
    auto params = m.Params();
    opt.Step(params, 1e-3f);
  };
  for (int i = 0; i < 3; ++i) step(**a, opt_a);
  // b takes a's weights and a's optimizer state through safetensors bytes.
  auto pa = (*a)->Params();
  auto pb = (*b)->Params();
  for (size_t i = 0; i < pa.size(); ++i) {
    std::copy(pa[i].value.begin(), pa[i].value.end(), pb[i].value.begin());
  }
  auto bytes = SerializeSafetensors(opt_a.StateTensors());
  ASSERT_THAT(bytes.status(), testing::IsOk());
  auto file = SafetensorsFile::FromBuffer(*bytes, "state");
  ASSERT_THAT(file.status(), testing::IsOk());
  AdamW opt_b(AdamWOptions{}, &pool);
  ASSERT_THAT(opt_b.LoadState(*file, pb), testing::IsOk());
  EXPECT_EQ(opt_b.step(), 3);
  step(**a, opt_a);
  step(**b, opt_b);
  pa = (*a)->Params();
  pb = (*b)->Params();
  for (size_t i = 0; i < pa.size(); ++i) {
    EXPECT_TRUE(std::equal(pa[i].value.begin(), pa[i].value.end(), pb[i].value.begin()))
        << pa[i].name;
  }
}

TEST(AdamWTest, LoadStateNamesTheBadTensor) {
  std::vector<float> w = {1, 2}, g = {0, 0};
  std::vector<TrainModel::Param> params = {
      {"w", {2}, std::span<float>(w), std::span<float>(g), true}};
  AdamW opt(AdamWOptions{});
  opt.Step(params, 0.1f);
  std::vector<NamedTensor> state = opt.StateTensors();
  // Missing v.
  std::vector<NamedTensor> no_v;
  for (const NamedTensor& t : state) {
    if (t.name != "adamw.v.w") no_v.push_back(t);
  }
  auto bytes = SerializeSafetensors(no_v);
  ASSERT_THAT(bytes.status(), testing::IsOk());
  auto file = SafetensorsFile::FromBuffer(*bytes, "state");
  ASSERT_THAT(file.status(), testing::IsOk());
  AdamW other(AdamWOptions{});
  EXPECT_THAT(other.LoadState(*file, params),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("adamw.v.w")));
  EXPECT_EQ(other.step(), 0);
  // Wrong shape.
  std::vector<float> w3 = {1, 2, 3}, g3 = {0, 0, 0};
  std::vector<TrainModel::Param> params3 = {
      {"w", {3}, std::span<float>(w3), std::span<float>(g3), true}};
  auto bytes2 = SerializeSafetensors(state);
  ASSERT_THAT(bytes2.status(), testing::IsOk());
  auto file2 = SafetensorsFile::FromBuffer(*bytes2, "state");
  ASSERT_THAT(file2.status(), testing::IsOk());
  EXPECT_THAT(other.LoadState(*file2, params3),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("adamw.m.w")));
}

TEST(CosineLrTest, Endpoints) {
  EXPECT_FLOAT_EQ(CosineLr(0, 10, 100, 1.0f, 0.1f), 0.1f);  // (0 + 1) / 10
  EXPECT_FLOAT_EQ(CosineLr(9, 10, 100, 1.0f, 0.1f), 1.0f);
  EXPECT_FLOAT_EQ(CosineLr(10, 10, 100, 1.0f, 0.1f), 1.0f);
  EXPECT_FLOAT_EQ(CosineLr(55, 10, 100, 1.0f, 0.1f), 0.55f);  // halfway
  EXPECT_FLOAT_EQ(CosineLr(100, 10, 100, 1.0f, 0.1f), 0.1f);
  EXPECT_FLOAT_EQ(CosineLr(1000, 10, 100, 1.0f, 0.1f), 0.1f);
  EXPECT_FLOAT_EQ(CosineLr(0, 0, 100, 1.0f, 0.1f), 1.0f);  // no warm-up
  for (int s = 11; s < 100; ++s) {
    EXPECT_LT(CosineLr(s, 10, 100, 1.0f, 0.1f), CosineLr(s - 1, 10, 100, 1.0f, 0.1f));
  }
}

}  // namespace
}  // namespace mot::trainer
