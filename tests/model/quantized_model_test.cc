// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// MotModel with Q8_0 / Q4_0 GEMM weights (model_loaders/quantize.h) against the same
// checkpoint in f32: prefill and greedy decode on a tiny two-tower model (dim 64, so every
// row is whole 32-blocks). Decode steps take the integer path (one row), the prefill the
// dequantize + sgemm path. The f32 model picks each next token; the quantized model is fed
// the same tokens, and its logits and greedy choices are compared.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <vector>

#include "engine/model/random_weights.h"
#include "gtest/gtest.h"
#include "model_loaders/quantize.h"
#include "tests/oracle/oracle_test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot::model {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::ModelCase;
using ::mot::testing::OracleModel;

struct Generation {
  std::vector<std::vector<float>> logits;  // per step: the last row's logits
  std::vector<int32_t> greedy;             // per step: its argmax
};

int32_t ArgMax(const std::vector<float>& v) {
  return static_cast<int32_t>(std::max_element(v.begin(), v.end()) - v.begin());
}

// A 16-row prefill, then `decode` single-row steps fed `feed` (or, when empty, this model's
// own greedy tokens).
Generation Generate(OracleModel& om, const std::vector<int32_t>& feed, int decode) {
  const testing::SequenceInput in = testing::MakeSequence(om.config(), 16, true, 11);
  auto cache = om.NewCache(1);
  Generation run;
  StepBatch prefill;
  for (int i = 0; i < 16; ++i) prefill.rows.push_back({in.tokens[i], in.towers[i], 0, i, i == 15});
  auto out = om.model().Forward(prefill, cache.get());
  EXPECT_THAT(out, IsOk());
  if (!out.ok()) return run;
  for (int step = 0;; ++step) {
    run.logits.push_back(*out);
    run.greedy.push_back(ArgMax(*out));
    if (step == decode) break;
    const int32_t token = feed.empty() ? run.greedy.back() : feed[static_cast<size_t>(step)];
    StepBatch b;
    b.rows.push_back({token, om.config().TowerOf(token), 0, 16 + step, true});
    out = om.model().Forward(b, cache.get());
    EXPECT_THAT(out, IsOk());
    if (!out.ok()) return run;
  }
  return run;
}

TEST(QuantizedModelTest, Q8_0AndQ4_0StayCloseToF32AndQ8_0KeepsTheGreedyIds) {
  ModelCase c{"quant", 2, NormPlacement::kPre, NormType::kRms, 4, 2, false, false, DType::kF32, 21};
  const MotConfig config = testing::MakeConfig(c);
  const std::vector<NamedTensor> f32 = RandomMotWeights(config, DType::kF32, 21);
  auto reference = OracleModel::Create(c, f32);
  ASSERT_THAT(reference, IsOk());
  constexpr int kDecode = 12;
  const Generation want = Generate(**reference, {}, kDecode);
  ASSERT_EQ(want.greedy.size(), kDecode + 1u);
  for (DType dtype : {DType::kQ8_0, DType::kQ4_0}) {
    auto tensors = ConvertGemmWeights(config, f32, dtype);
    ASSERT_THAT(tensors, IsOk());
    auto quantized = OracleModel::Create(c, *tensors);
    ASSERT_THAT(quantized, IsOk());
    const Generation got = Generate(**quantized, want.greedy, kDecode);
    ASSERT_EQ(got.logits.size(), want.logits.size());
    double max_diff = 0, max_abs = 0;
    int same = 0;
    for (size_t s = 0; s < got.logits.size(); ++s) {
      for (size_t v = 0; v < got.logits[s].size(); ++v) {
        max_diff = std::max(max_diff, std::abs(double{got.logits[s][v]} - want.logits[s][v]));
        max_abs = std::max(max_abs, std::abs(double{want.logits[s][v]}));
      }
      same += got.greedy[s] == want.greedy[s];
    }
    std::printf("[%s] max |logit diff| vs f32 %.4g (max |logit| %.3g), greedy ids equal %d/%zu\n",
                DTypeName(dtype), max_diff, max_abs, same, got.greedy.size());
    EXPECT_GT(max_diff, 0) << DTypeName(dtype) << ": the quantized weights were not used";
    if (dtype == DType::kQ8_0) {
      // 8-bit weights and activations: relative rounding ~1/254 per element.
      EXPECT_LT(max_diff, 0.03 * max_abs);
      EXPECT_EQ(got.greedy, want.greedy);
    } else {
      // 4-bit: ~1/16 per element; the logits move more, their scale stays.
      EXPECT_LT(max_diff, 0.3 * max_abs);
    }
  }
}

}  // namespace
}  // namespace mot::model
