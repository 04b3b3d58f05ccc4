// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/model/step_script.h
// A fixed step script for comparing MotModel on two backends: the model cases whose paths
// differ (DeviceCases), two interleaved text/image/audio sequences run as a chunked prefill
// and decode steps (RunSteps), and a small paged cache with three pools of three dtypes
// (PagedForTest). Used by tests/model/device_path_test.cc (a fake device on the CPU) and
// tests/cuda/cuda_model_test.cc (the CUDA backend).
#ifndef MOT_TESTS_MODEL_STEP_SCRIPT_H_
#define MOT_TESTS_MODEL_STEP_SCRIPT_H_

#include <cstdint>
#include <memory>
#include <span>
#include <utility>
#include <vector>

#include "engine/core/step_batch.h"
#include "engine/kv/kv_storage.h"
#include "engine/kv/paged_kv_cache.h"
#include "engine/model/mot_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/oracle/oracle_test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot::testing {

// 3 towers with every per-tower weight kind the model reads; the variants add what has
// its own path (q/k norms, biases, rope scaling, ties, unfused projections, 16-bit weights).
inline std::vector<ModelCase> DeviceCases() {
  std::vector<ModelCase> cases;
  ModelCase base{"dev", 3, NormPlacement::kPre, NormType::kRms, 4, 2, false, false, DType::kF32, 7};
  cases.push_back(base);
  ModelCase c = base;
  c.name = "dev_bf16_tied_unfused";
  c.dtype = DType::kBF16;
  c.tied = true;
  c.fuse = false;
  cases.push_back(c);
  c = base;
  c.name = "dev_qknorm_bias_rope_post";
  c.qk_norm = true;
  c.attention_bias = true;
  c.placement = NormPlacement::kPostBranch;
  c.norm = NormType::kLayer;
  c.rope_scaling.type = RopeScalingType::kLinear;
  c.rope_scaling.factor = 2.0;
  cases.push_back(c);
  c = base;
  c.name = "dev_chameleon_qknorm";
  c.qk_norm = true;
  c.qk_norm_spec = QkNormSpec{NormType::kLayer, true, true, 1e-5f};
  c.sliding_window = 5;
  c.suppressed_token_ids = {{9, 12}};
  cases.push_back(c);
  return cases;
}

struct Tokens {
  std::vector<int32_t> ids;
  std::vector<uint8_t> towers;
};

// Interleaved text/image/audio runs from MakeConfig's 3-tower vocab (text 8..40,
// image 40..72, audio 72..96).
inline Tokens MakeTokens(uint64_t seed, int n) {
  static constexpr int32_t kBegin[] = {8, 40, 72};
  static constexpr int32_t kSize[] = {32, 32, 24};
  static constexpr uint8_t kRun[] = {0, 0, 0, 1, 1, 1, 1, 0, 2, 2, 2, 0};
  Tokens t;
  uint64_t rng = seed;
  for (int i = 0; i < n; ++i) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    const uint8_t tower = kRun[i % 12];
    t.ids.push_back(kBegin[tower] + static_cast<int32_t>((rng >> 33) % kSize[tower]));
    t.towers.push_back(tower);
  }
  return t;
}

// Two sequences: a prefill in two chunks, then decode steps; the logits of every step.
// `paged`, when set, is the cache and gets its slots reserved before each step.
inline std::vector<std::vector<float>> RunSteps(model::MotModel& model, kv::KvCache* cache,
                                                kv::PagedKvCache* paged) {
  const Tokens seqs[2] = {MakeTokens(1, 30), MakeTokens(2, 30)};
  std::vector<std::pair<int, int>> steps = {{0, 9}, {9, 22}};
  for (int p = 22; p < 30; ++p) steps.push_back({p, p + 1});
  std::vector<std::vector<float>> out;
  for (auto [begin, end] : steps) {
    model::StepBatch batch;
    for (int32_t s = 0; s < 2; ++s) {
      const std::span<const int32_t> ids(seqs[s].ids.data() + begin, end - begin);
      const std::span<const uint8_t> towers(seqs[s].towers.data() + begin, end - begin);
      if (paged != nullptr) {
        EXPECT_THAT(paged->blocks().Append(s, ids, towers), IsOk());
      }
      batch.AddSequence(ids, towers, s, begin, /*all_logits=*/s == 0 || end - begin == 1);
    }
    absl::StatusOr<std::vector<float>> logits = model.Forward(batch, cache);
    EXPECT_THAT(logits, IsOk());
    if (!logits.ok()) break;
    out.push_back(*std::move(logits));
  }
  return out;
}

inline std::unique_ptr<kv::PagedKvCache> PagedForTest(const MotConfig& config,
                                                      kv::KvStorage storage) {
  kv::PagedKvCacheConfig c;
  c.num_layers = config.n_layers;
  c.kv_dim = config.kv_dim();
  c.block_size = 4;
  c.max_seqs = 2;
  c.pools = {{16, DType::kBF16}, {8, DType::kF32}, {4, DType::kF16}};
  c.storage = std::move(storage);
  auto cache = kv::PagedKvCache::Create(c);
  EXPECT_THAT(cache, IsOk());
  return cache.ok() ? *std::move(cache) : nullptr;
}

}  // namespace mot::testing

#endif  // MOT_TESTS_MODEL_STEP_SCRIPT_H_
