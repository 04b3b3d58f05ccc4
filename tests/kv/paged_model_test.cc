// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// MotModel::Forward over a PagedKvCache gives the logits it gives over a ContiguousKvCache:
// a 3-tower random model, two sequences whose prompts switch modality (text, image, text,
// audio, text), run as a chunked prefill and then decode steps. The paged cache has small
// blocks (4 slots), so tower switches leave partly filled blocks in three pools. And a
// second request with the same prompt reuses the first one's blocks and, prefilling only
// the rest, gets the same logits.
#include <algorithm>
#include <cstdint>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/step_batch.h"
#include "engine/kv/contiguous_kv_cache.h"
#include "engine/kv/paged_kv_cache.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/oracle/oracle_test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot::kv {
namespace {

using ::mot::testing::Compare;
using ::mot::testing::Diff;
using ::mot::testing::IsOk;
using ::mot::testing::ModelCase;
using ::mot::testing::OracleModel;

struct Tokens {
  std::vector<int32_t> ids;
  std::vector<uint8_t> towers;
  int32_t size() const { return static_cast<int32_t>(ids.size()); }
};

// Tokens of `tower` drawn from its non-special vocab range of MakeConfig's 3-tower layout
// (text 8..40, image 40..72, audio 72..96).
void AddRun(Tokens& t, uint8_t tower, int n, uint64_t& rng) {
  static constexpr int32_t kBegin[] = {8, 40, 72};
  static constexpr int32_t kSize[] = {32, 32, 24};
  for (int i = 0; i < n; ++i) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    t.ids.push_back(kBegin[tower] + static_cast<int32_t>((rng >> 33) % kSize[tower]));
    t.towers.push_back(tower);
  }
}

// A prompt switching modality, then the tokens decoded one by one (teacher-forced).
Tokens MakeSequence(uint64_t seed) {
  uint64_t rng = seed;
  Tokens t;
  AddRun(t, 0, 6, rng);  // text
  AddRun(t, 1, 9, rng);  // image codes
  AddRun(t, 0, 3, rng);  // text
  AddRun(t, 2, 5, rng);  // audio codes
  AddRun(t, 0, 2, rng);  // text: the prompt ends here (25 tokens)
  AddRun(t, 1, 4, rng);  // decoded: image codes, then text
  AddRun(t, 0, 3, rng);
  return t;
}
constexpr int32_t kPromptLen = 25;
// Paged against contiguous: f32 rounding of a differently chunked online softmax (see
// SameLogitsAsTheContiguousCache).
constexpr double kAtol = 2e-4;
constexpr double kRtol = 1e-4;

// One step: rows [begin, end) of each sequence (one range per sequence slot).
struct Step {
  int32_t begin[2];
  int32_t end[2];
};

std::vector<Step> Steps(int32_t total) {
  std::vector<Step> steps = {{{0, 0}, {11, 7}}, {{11, 7}, {kPromptLen, kPromptLen}}};
  for (int32_t p = kPromptLen; p < total; ++p) steps.push_back({{p, p}, {p + 1, p + 1}});
  return steps;
}

// Runs every step over `cache`, reserving slots first when it is paged; the logits of
// every row, step after step.
std::vector<std::vector<float>> RunSteps(OracleModel& m, KvCache* cache, PagedKvCache* paged,
                                         const Tokens (&seqs)[2]) {
  std::vector<std::vector<float>> out;
  for (const Step& st : Steps(seqs[0].size())) {
    StepBatch batch;
    for (int32_t s = 0; s < 2; ++s) {
      const int32_t n = st.end[s] - st.begin[s];
      const std::span<const int32_t> ids(seqs[s].ids.data() + st.begin[s], n);
      const std::span<const uint8_t> towers(seqs[s].towers.data() + st.begin[s], n);
      if (paged != nullptr) {
        EXPECT_THAT(paged->blocks().Append(s, ids, towers), IsOk());
      }
      batch.AddSequence(ids, towers, s, st.begin[s], /*all_logits=*/true);
    }
    absl::StatusOr<std::vector<float>> logits = m.model().Forward(batch, cache);
    EXPECT_THAT(logits, IsOk());
    if (!logits.ok()) return out;
    out.push_back(*std::move(logits));
    if (paged != nullptr) {
      EXPECT_THAT(paged->blocks().CheckInvariants(), IsOk());
    }
  }
  return out;
}

std::unique_ptr<PagedKvCache> NewPagedCache(const MotConfig& config, DType dtype) {
  PagedKvCacheConfig c;
  c.num_layers = config.n_layers;
  c.kv_dim = config.kv_dim();
  c.block_size = 4;
  c.max_seqs = 2;
  c.pools = {{16, dtype}, {8, dtype}, {4, dtype}};
  auto cache = PagedKvCache::Create(c);
  EXPECT_THAT(cache, IsOk());
  return cache.ok() ? *std::move(cache) : nullptr;
}

class PagedModelTest : public ::testing::TestWithParam<DType> {
 protected:
  void SetUp() override {
    auto m = OracleModel::Create(
        {"paged", 3, NormPlacement::kPre, NormType::kRms, 4, 2, false, false, DType::kF32, 11});
    ASSERT_THAT(m, IsOk());
    model_ = *std::move(m);
  }
  std::unique_ptr<OracleModel> model_;
};

TEST_P(PagedModelTest, SameLogitsAsTheContiguousCache) {
  const DType dtype = GetParam();
  const Tokens seqs[2] = {MakeSequence(1), MakeSequence(2)};
  std::unique_ptr<ContiguousKvCache> contiguous = model_->NewCache(2, dtype);
  std::unique_ptr<PagedKvCache> paged = NewPagedCache(model_->config(), dtype);
  ASSERT_NE(paged, nullptr);
  const auto ref = RunSteps(*model_, contiguous.get(), nullptr, seqs);
  const auto got = RunSteps(*model_, paged.get(), paged.get(), seqs);
  ASSERT_EQ(got.size(), ref.size());
  double max_diff = 0, max_ref = 0;
  for (size_t i = 0; i < ref.size(); ++i) {
    // The same keys and values in the same dtype, read in position order either way; but the
    // attention's online softmax rescales at every run of slots, and runs end at block
    // boundaries, so the f32 rounding differs. Logits up to 3.5 after two layers measured a
    // max |diff| of 7e-5 (f16 K/V), 3e-5 (bf16) and 1.2e-6 (f32).
    const Diff d = Compare(got[i], ref[i], kAtol, kRtol);
    max_diff = std::max(max_diff, d.max_abs);
    max_ref = std::max(max_ref, d.max_ref);
    EXPECT_TRUE(d.within) << "step " << i << ": max |diff| " << d.max_abs << " at " << d.worst;
  }
  std::cout << DTypeName(dtype) << " K/V: max |paged - contiguous| " << max_diff << " (max |logit| "
            << max_ref << ")\n";
  // Tower switches left partly filled blocks in all three pools.
  for (int32_t p = 0; p < 3; ++p) EXPECT_GT(paged->blocks().Usage(p).used, 0) << p;
  EXPECT_EQ(paged->Length(0), seqs[0].size());
  for (int32_t s = 0; s < 2; ++s) paged->blocks().Free(s);
  for (int32_t p = 0; p < 3; ++p) EXPECT_EQ(paged->blocks().Usage(p).used, 0) << p;
}

TEST_P(PagedModelTest, CachedPrefixGivesTheSameLogitsWithLessPrefill) {
  const DType dtype = GetParam();
  const Tokens prompt = MakeSequence(3);
  const std::span<const int32_t> ids(prompt.ids.data(), kPromptLen);
  const std::span<const uint8_t> towers(prompt.towers.data(), kPromptLen);

  // Reference: the whole prompt in one step over the contiguous cache.
  std::unique_ptr<ContiguousKvCache> contiguous = model_->NewCache(2, dtype);
  StepBatch full;
  full.AddSequence(ids, towers, 0, 0);
  auto ref = model_->model().Forward(full, contiguous.get());
  ASSERT_THAT(ref, IsOk());

  std::unique_ptr<PagedKvCache> paged = NewPagedCache(model_->config(), dtype);
  ASSERT_NE(paged, nullptr);
  ASSERT_THAT(paged->blocks().Append(0, ids, towers), IsOk());
  ASSERT_THAT(model_->model().Forward(full, paged.get()), IsOk());
  paged->blocks().Free(0);  // its sealed blocks stay cached

  const int32_t reused = paged->blocks().AppendCachedPrefix(1, ids, towers);
  // text 6 = [4][2], image 9 = [4][4][1], text 3, audio 5 = [4][1]: all but the last text.
  EXPECT_EQ(reused, 23);
  EXPECT_EQ(paged->Length(1), reused);
  ASSERT_THAT(paged->blocks().Append(1, ids.subspan(reused), towers.subspan(reused)), IsOk());
  StepBatch rest;
  rest.AddSequence(ids.subspan(reused), towers.subspan(reused), 1, reused);
  EXPECT_EQ(rest.rows.size(), static_cast<size_t>(kPromptLen - reused));
  auto got = model_->model().Forward(rest, paged.get());
  ASSERT_THAT(got, IsOk());
  const Diff d = Compare(*got, *ref, kAtol, kRtol);
  EXPECT_TRUE(d.within) << "max |diff| " << d.max_abs;
  EXPECT_EQ(paged->blocks().prefix_hits(), reused);
  paged->blocks().Free(1);
  EXPECT_THAT(paged->blocks().CheckInvariants(), IsOk());
  for (int32_t p = 0; p < 3; ++p) EXPECT_EQ(paged->blocks().Usage(p).used, 0) << p;
}

INSTANTIATE_TEST_SUITE_P(Dtypes, PagedModelTest,
                         ::testing::Values(DType::kF32, DType::kBF16, DType::kF16),
                         [](const ::testing::TestParamInfo<DType>& info) {
                           return std::string(DTypeName(info.param));
                         });

}  // namespace
}  // namespace mot::kv
