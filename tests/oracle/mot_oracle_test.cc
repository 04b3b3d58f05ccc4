// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// MotModel against the independent PyTorch reference (mot_reference.py, f64), and the
// step API's invariances: decode == prefill, chunked prefill == prefill, a mixed step ==
// separate runs, identical towers == one tower, row order does not matter.
// Tolerance: |ours - ref| <= atol + rtol |ref|, rtol 1e-4. Against the f64 oracle atol is
// 1e-4 (our f32 math over 2 layers of dim 64, logits of magnitude <= ~10); between two runs
// of our own engine (same math, other batching and GEMM paths) atol is 2e-5.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/weight_names.h"
#include "tests/oracle/oracle_test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot::testing {
namespace {

constexpr double kRtol = 1e-4;
constexpr double kOracleAtol = 1e-4;
constexpr double kSelfAtol = 2e-5;

RopeScaling Llama3Scaling() {
  RopeScaling r;
  r.type = RopeScalingType::kLlama3;
  r.factor = 8.0f;
  r.low_freq_factor = 1.0f;
  r.high_freq_factor = 4.0f;
  r.original_max_position_embeddings = 64;
  return r;
}

RopeScaling LinearScaling() {
  RopeScaling r;
  r.type = RopeScalingType::kLinear;
  r.factor = 2.5f;
  return r;
}

ModelCase Extended(ModelCase c, bool bias, RopeScaling scaling, int32_t window) {
  c.attention_bias = bias;
  c.rope_scaling = scaling;
  c.sliding_window = window;
  return c;
}

// A q/k norm of its own kind (config.json "qk_norm" as an object; Chameleon's is
// {layer, per_head, bias, 1e-5}).
ModelCase WithQkNorm(ModelCase c, NormType type, bool per_head, bool bias, float eps) {
  c.qk_norm = true;
  c.qk_norm_spec = QkNormSpec{type, per_head, bias, eps};
  return c;
}

struct OracleCase {
  ModelCase model;
  bool interleaved = true;
};

std::string PrintName(const ::testing::TestParamInfo<OracleCase>& info) {
  return info.param.model.name;
}

std::vector<OracleCase> OracleCases() {
  const auto pre = NormPlacement::kPre;
  const auto post = NormPlacement::kPostBranch;
  const auto rms = NormType::kRms;
  const auto layer = NormType::kLayer;
  // name, towers, placement, norm, n_heads, n_kv_heads, qk_norm, tied, dtype, seed
  return {
      {{"dense_pre_rms_gqa_f32", 1, pre, rms, 4, 2, false, false, DType::kF32, 11}, false},
      {{"dense_post_layer_mha_qknorm_tied_bf16", 1, post, layer, 4, 4, true, true, DType::kBF16,
        12},
       false},
      {{"two_pre_rms_gqa_qknorm_tied_interleaved_bf16", 2, pre, rms, 4, 2, true, true, DType::kBF16,
        21},
       true},
      {{"two_post_layer_mha_contiguous_f32", 2, post, layer, 4, 4, false, false, DType::kF32, 22},
       false},
      {{"two_post_rms_gqa_interleaved_f16", 2, post, rms, 4, 1, false, false, DType::kF16, 23},
       true},
      {{"three_post_rms_gqa_qknorm_tied_interleaved_f32", 3, post, rms, 4, 2, true, true,
        DType::kF32, 31},
       true},
      {{"three_pre_layer_mha_qknorm_contiguous_bf16", 3, pre, layer, 4, 4, true, false,
        DType::kBF16, 32},
       false},
      {{"three_pre_layer_gqa_interleaved_f32", 3, pre, layer, 4, 2, false, false, DType::kF32, 33},
       true},
      {{"three_post_layer_gqa_qknorm_unfused_bf16", 3, post, layer, 4, 2, true, false, DType::kBF16,
        34, /*fuse=*/false},
       true},
      {{"two_pre_rms_mha_unfused_f32", 2, pre, rms, 4, 4, false, true, DType::kF32, 35,
        /*fuse=*/false},
       false},
      // The config extensions of imported checkpoints: q/k/v biases (Qwen2), rope scaling
      // (llama3: head_dim 16 puts one frequency in each band with original length 64;
      // linear), a sliding window shorter than the 24-row sequence (Mistral).
      {Extended(
           {"dense_pre_rms_gqa_bias_llama3_f32", 1, pre, rms, 4, 2, false, false, DType::kF32, 61},
           true, Llama3Scaling(), 0),
       false},
      {Extended({"two_pre_rms_gqa_linear_window_interleaved_bf16", 2, pre, rms, 4, 2, false, true,
                 DType::kBF16, 62},
                false, LinearScaling(), 7),
       true},
      {Extended({"two_post_layer_mha_qknorm_bias_window_unfused_f32", 2, post, layer, 4, 4, true,
                 false, DType::kF32, 63, /*fuse=*/false},
                true, RopeScaling{}, 5),
       true},
      // q/k norms of their own kind: Chameleon's per-head LayerNorm with bias (under RMS
      // block norms), a per-head RMS norm, a shared LayerNorm without bias.
      {WithQkNorm({"two_pre_rms_gqa_qklayer_perhead_bias_interleaved_f32", 2, pre, rms, 4, 2, true,
                   false, DType::kF32, 71},
                  layer, true, true, 1e-5f),
       true},
      {WithQkNorm({"dense_post_layer_mha_qkrms_perhead_tied_bf16", 1, post, layer, 4, 4, true, true,
                   DType::kBF16, 72},
                  rms, true, false, 1e-6f),
       false},
      {WithQkNorm({"two_post_rms_gqa_qklayer_shared_nobias_unfused_f32", 2, post, rms, 4, 2, true,
                   false, DType::kF32, 73, /*fuse=*/false},
                  layer, false, false, 1e-5f),
       true},
  };
}

class MotOracleTest : public ::testing::TestWithParam<OracleCase> {};

TEST_P(MotOracleTest, PrefillLogitsMatchPyTorchReference) {
  if (!PythonAvailable()) {
    GTEST_SKIP() << "MOT_PYTHON=" << MOT_PYTHON
                 << " not found: the PyTorch oracle cannot run (run scripts/setup.sh)";
  }
  const OracleCase& c = GetParam();
  auto model = OracleModel::Create(c.model);
  ASSERT_THAT(model, IsOk());
  const SequenceInput in = MakeSequence((*model)->config(), 24, c.interleaved, c.model.seed);
  auto ours = (*model)->Prefill(in);
  ASSERT_THAT(ours, IsOk());
  auto ref = RunPythonOracle((*model)->dir(), in);
  ASSERT_THAT(ref, IsOk());
  const Diff d = Compare(*ours, *ref, kOracleAtol, kRtol);
  std::printf("[oracle] %-48s max|diff| %.3g (max|ref| %.3g)\n", c.model.name.c_str(), d.max_abs,
              d.max_ref);
  EXPECT_TRUE(d.within) << "max |diff| " << d.max_abs << " at " << d.worst;
}

TEST_P(MotOracleTest, PrefillLogitsWithBf16GemmMatchPyTorchReferenceToBf16Activations) {
  const OracleCase& c = GetParam();
  if (c.model.dtype != DType::kBF16) GTEST_SKIP() << "the bf16 GEMMs run bf16 weights only";
  if (!PythonAvailable()) GTEST_SKIP() << "MOT_PYTHON=" << MOT_PYTHON << " not found";
  auto model = OracleModel::Create(c.model);
  ASSERT_THAT(model, IsOk());
  using Bf16Gemm = backend::cpu::CpuBackend::Bf16Gemm;
  (*model)->backend().set_bf16_gemm(Bf16Gemm::kAmx);  // lowered to what this CPU has
  if ((*model)->backend().bf16_gemm() == Bf16Gemm::kF32) {
    GTEST_SKIP() << "no AMX-BF16 or AVX512-BF16 on this CPU/OS";
  }
  // 24 rows: every Linear takes the bf16 path (m >= CpuBackend::kBf16GemmMinM).
  const SequenceInput in = MakeSequence((*model)->config(), 24, c.interleaved, c.model.seed);
  auto ours = (*model)->Prefill(in);
  ASSERT_THAT(ours, IsOk());
  auto ref = RunPythonOracle((*model)->dir(), in);
  ASSERT_THAT(ref, IsOk());
  // Every Linear input rounded to bf16 (relative 2^-9 each) over 2 layers: measured up to
  // 0.34% of the largest logit; a wrong tile layout or a lost block is of the order of the
  // logits themselves.
  const Diff probe = Compare(*ours, *ref, 0.0, 0.0);
  const Diff d = Compare(*ours, *ref, 0.01 * probe.max_ref, 0.01);
  std::printf("[oracle+%s] %-44s max|diff| %.3g (max|ref| %.3g)\n",
              std::string((*model)->backend().name()).c_str(), c.model.name.c_str(), d.max_abs,
              d.max_ref);
  EXPECT_TRUE(d.within) << "max |diff| " << d.max_abs << " at " << d.worst;
}

INSTANTIATE_TEST_SUITE_P(Cases, MotOracleTest, ::testing::ValuesIn(OracleCases()), PrintName);

// The configs of the invariance tests: both layouts, 3 towers, GQA and q/k norm.
std::vector<ModelCase> SelfCases() {
  return {
      {"self_pre", 3, NormPlacement::kPre, NormType::kRms, 4, 2, true, false, DType::kBF16, 41},
      {"self_post", 3, NormPlacement::kPostBranch, NormType::kLayer, 4, 2, true, true, DType::kF32,
       42},
      // Bias, llama3 rope and a window of 6 < 20 rows: chunked and mixed steps cross it.
      Extended({"self_window", 2, NormPlacement::kPre, NormType::kRms, 4, 2, false, false,
                DType::kF32, 43},
               true, Llama3Scaling(), 6),
      // Chameleon's per-head q/k LayerNorm with bias: one backend call per head over rows.
      WithQkNorm({"self_qk_head", 2, NormPlacement::kPre, NormType::kRms, 4, 2, true, false,
                  DType::kF32, 44},
                 NormType::kLayer, true, true, 1e-5f),
  };
}

class MotStepTest : public ::testing::TestWithParam<ModelCase> {
 protected:
  void SetUp() override {
    auto m = OracleModel::Create(GetParam());
    ASSERT_THAT(m, IsOk());
    model_ = std::move(m).value();
    in_ = MakeSequence(model_->config(), 20, /*interleaved=*/true, GetParam().seed);
    auto full = model_->Prefill(in_);
    ASSERT_THAT(full, IsOk());
    full_ = std::move(full).value();
  }

  // Rows [begin, end) of `in` as a step of sequence `seq`, all logits wanted.
  void AddRows(const SequenceInput& in, int begin, int end, int seq, model::StepBatch* batch) {
    for (int i = begin; i < end; ++i) {
      batch->rows.push_back({in.tokens[i], in.towers[i], seq, i, true});
    }
  }

  void ExpectClose(const std::vector<float>& got, const std::vector<float>& ref, const char* what) {
    const Diff d = Compare(got, ref, kSelfAtol, kRtol);
    std::printf("[self] %-10s %-28s max|diff| %.3g\n", GetParam().name.c_str(), what, d.max_abs);
    EXPECT_TRUE(d.within) << what << ": max |diff| " << d.max_abs << " at " << d.worst;
  }

  std::unique_ptr<OracleModel> model_;
  SequenceInput in_;
  std::vector<float> full_;
};

TEST_P(MotStepTest, TokenByTokenDecodeEqualsPrefill) {
  auto cache = model_->NewCache(1);
  std::vector<float> logits;
  for (int i = 0; i < static_cast<int>(in_.tokens.size()); ++i) {
    model::StepBatch step;
    AddRows(in_, i, i + 1, 0, &step);
    auto out = model_->model().Forward(step, cache.get());
    ASSERT_THAT(out, IsOk());
    logits.insert(logits.end(), out->begin(), out->end());
  }
  EXPECT_EQ(cache->Length(0), static_cast<int>(in_.tokens.size()));
  ExpectClose(logits, full_, "decode vs prefill");
}

TEST_P(MotStepTest, ChunkedPrefillEqualsOnePrefill) {
  auto cache = model_->NewCache(1);
  std::vector<float> logits;
  for (auto [b, e] : {std::pair{0, 7}, std::pair{7, 20}}) {
    model::StepBatch step;
    AddRows(in_, b, e, 0, &step);
    auto out = model_->model().Forward(step, cache.get());
    ASSERT_THAT(out, IsOk());
    logits.insert(logits.end(), out->begin(), out->end());
  }
  ExpectClose(logits, full_, "two chunks vs prefill");
}

TEST_P(MotStepTest, MixedStepOfTwoSequencesEqualsSeparateRuns) {
  const SequenceInput other = MakeSequence(model_->config(), 12, true, GetParam().seed + 100);
  auto other_full = model_->Prefill(other);
  ASSERT_THAT(other_full, IsOk());
  // Slot 1 gets `in_` and slot 0 gets `other`. Step 1: both prefill, rows interleaved.
  // Step 2: `in_` prefills its rest while `other` decodes one token at a time.
  auto cache = model_->NewCache(2);
  model::StepBatch step1;
  for (int i = 0; i < 10; ++i) {
    AddRows(in_, i, i + 1, 1, &step1);
    if (i < 8) AddRows(other, i, i + 1, 0, &step1);
  }
  auto out1 = model_->model().Forward(step1, cache.get());
  ASSERT_THAT(out1, IsOk());
  std::vector<float> got_in, got_other;
  const int64_t v = model_->config().vocab_size;
  for (size_t r = 0; r < step1.rows.size(); ++r) {
    auto& dst = step1.rows[r].seq == 1 ? got_in : got_other;
    dst.insert(dst.end(), out1->begin() + r * v, out1->begin() + (r + 1) * v);
  }
  int next_other = 8;
  for (int b = 10; b < 20; b += 5) {
    model::StepBatch step;
    if (next_other < 12) {
      AddRows(other, next_other, next_other + 1, 0, &step);
    }
    AddRows(in_, b, b + 5, 1, &step);
    auto out = model_->model().Forward(step, cache.get());
    ASSERT_THAT(out, IsOk());
    for (size_t r = 0; r < step.rows.size(); ++r) {
      auto& dst = step.rows[r].seq == 1 ? got_in : got_other;
      dst.insert(dst.end(), out->begin() + r * v, out->begin() + (r + 1) * v);
    }
    if (next_other < 12) ++next_other;
  }
  while (next_other < 12) {
    model::StepBatch step;
    AddRows(other, next_other, next_other + 1, 0, &step);
    auto out = model_->model().Forward(step, cache.get());
    ASSERT_THAT(out, IsOk());
    got_other.insert(got_other.end(), out->begin(), out->end());
    ++next_other;
  }
  ExpectClose(got_in, full_, "mixed step, sequence A");
  ExpectClose(got_other, *other_full, "mixed step, sequence B");
}

TEST_P(MotStepTest, RowOrderDoesNotChangeLogits) {
  std::vector<int> order(in_.tokens.size());
  std::iota(order.begin(), order.end(), 0);
  std::mt19937 rng(GetParam().seed);
  std::shuffle(order.begin(), order.end(), rng);
  model::StepBatch step;
  for (int i : order) AddRows(in_, i, i + 1, 0, &step);
  auto cache = model_->NewCache(1);
  auto out = model_->model().Forward(step, cache.get());
  ASSERT_THAT(out, IsOk());
  const int64_t v = model_->config().vocab_size;
  std::vector<float> unshuffled(out->size());
  for (size_t r = 0; r < order.size(); ++r) {
    std::copy(out->begin() + r * v, out->begin() + (r + 1) * v, unshuffled.begin() + order[r] * v);
  }
  ExpectClose(unshuffled, full_, "shuffled rows vs prefill");
}

TEST_P(MotStepTest, OnlyWantedRowsReturnInRequestOrder) {
  model::StepBatch step;
  AddRows(in_, 0, 20, 0, &step);
  const std::vector<int> wanted = {17, 3, 19};
  // Request order stays positional; mark only three rows and move row 17 first.
  for (auto& r : step.rows) r.want_logits = false;
  std::swap(step.rows[0], step.rows[17]);
  step.rows[0].want_logits = true;   // position 17
  step.rows[3].want_logits = true;   // position 3
  step.rows[19].want_logits = true;  // position 19
  auto cache = model_->NewCache(1);
  auto out = model_->model().Forward(step, cache.get());
  ASSERT_THAT(out, IsOk());
  const int64_t v = model_->config().vocab_size;
  ASSERT_EQ(out->size(), wanted.size() * v);
  std::vector<float> ref;
  for (int p : wanted) ref.insert(ref.end(), full_.begin() + p * v, full_.begin() + (p + 1) * v);
  ExpectClose(*out, ref, "wanted rows only");
}

INSTANTIATE_TEST_SUITE_P(Cases, MotStepTest, ::testing::ValuesIn(SelfCases()),
                         [](const ::testing::TestParamInfo<ModelCase>& info) {
                           return info.param.name;
                         });

// A 3-tower model whose towers hold identical weights is the 1-tower model with them.
TEST(MotTowerTest, IdenticalTowersEqualOneTowerModel) {
  for (NormPlacement placement : {NormPlacement::kPre, NormPlacement::kPostBranch}) {
    ModelCase three{"identical3", 3, placement, NormType::kRms, 4, 2, true, false,
                    DType::kBF16, 51};
    auto m3 = OracleModel::Create(three, {}, /*identical_towers=*/true);
    ASSERT_THAT(m3, IsOk());
    ModelCase one = three;
    one.name = "identical1";
    one.towers = 1;
    // The 1-tower tensors are exactly the tower-0 tensors of the 3-tower model.
    std::vector<NamedTensor> tensors;
    for (const auto& e : weight_names::ExpectedTensors(MakeConfig(one))) {
      for (const NamedTensor& t : (*m3)->tensors()) {
        if (t.name == e.name) tensors.push_back(t);
      }
    }
    auto m1 = OracleModel::Create(one, tensors);
    ASSERT_THAT(m1, IsOk());
    const SequenceInput in3 = MakeSequence((*m3)->config(), 18, true, 5);
    SequenceInput in1 = in3;
    std::fill(in1.towers.begin(), in1.towers.end(), 0);
    auto l3 = (*m3)->Prefill(in3);
    auto l1 = (*m1)->Prefill(in1);
    ASSERT_THAT(l3, IsOk());
    ASSERT_THAT(l1, IsOk());
    const Diff d = Compare(*l3, *l1, kSelfAtol, kRtol);
    std::printf("[self] identical towers (%s) max|diff| %.3g\n",
                placement == NormPlacement::kPre ? "pre" : "post_branch", d.max_abs);
    EXPECT_TRUE(d.within) << "max |diff| " << d.max_abs;
  }
}

// suppressed_token_ids: those ids' logits are -inf in every wanted row, prefill and decode,
// and every other logit is exactly what the same weights give without them.
TEST(MotSuppressionTest, SuppressedIdsAreMinusInfinityAndTheRestUnchanged) {
  ModelCase plain{"suppress_plain", 2, NormPlacement::kPre, NormType::kRms, 4, 2, false, false,
                  DType::kF32,      81};
  ModelCase suppressing = plain;
  suppressing.name = "suppress";
  suppressing.suppressed_token_ids = {{10, 20}, {50, 51}, {95, 96}};
  auto a = OracleModel::Create(plain);
  ASSERT_THAT(a, IsOk());
  auto b = OracleModel::Create(suppressing, (*a)->tensors());
  ASSERT_THAT(b, IsOk());
  const SequenceInput in = MakeSequence((*a)->config(), 12, true, 81);
  auto la = (*a)->Prefill(in);
  auto lb = (*b)->Prefill(in);
  ASSERT_THAT(la, IsOk());
  ASSERT_THAT(lb, IsOk());
  const int64_t v = (*a)->config().vocab_size;
  auto suppressed = [](int64_t id) { return (id >= 10 && id < 20) || id == 50 || id == 95; };
  int64_t masked = 0;
  for (size_t i = 0; i < la->size(); ++i) {
    if (suppressed(static_cast<int64_t>(i) % v)) {
      EXPECT_EQ((*lb)[i], -std::numeric_limits<float>::infinity()) << "row " << i / v;
      EXPECT_TRUE(std::isfinite((*la)[i]));
      ++masked;
    } else {
      EXPECT_EQ((*lb)[i], (*la)[i]) << "id " << i % v << " of row " << i / v;
    }
  }
  EXPECT_EQ(masked, 12 * 12);
  // A decode step (one wanted row) is masked too.
  auto cache = (*b)->NewCache(1);
  model::StepBatch step;
  step.rows.push_back({in.tokens[0], in.towers[0], 0, 0, true});
  auto one = (*b)->model().Forward(step, cache.get());
  ASSERT_THAT(one, IsOk());
  EXPECT_EQ((*one)[50], -std::numeric_limits<float>::infinity());
  EXPECT_NEAR((*one)[51], (*la)[51], 1e-4 * std::fabs((*la)[51]) + 1e-4);
}

}  // namespace
}  // namespace mot::testing
