// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The backend ops the config extensions of imported checkpoints added, fast path against
// reference (reference_ops.h) at every ISA level this machine has: RotaryFreqs (rope
// scaling) against RotaryFreqsRef and the Backend default; Attention with a sliding window
// (AttentionArgs::window) against AttentionRef, for windows inside the first 64-position
// run, across run boundaries and wider than the sequence; Add with ldx 0 (the q/k/v bias).
#include <cmath>
#include <random>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/cpu_features.h"
#include "engine/backend/cpu/reference_ops.h"
#include "engine/core/thread_pool.h"
#include "engine/kv/contiguous_kv_cache.h"
#include "gtest/gtest.h"

namespace mot::backend::cpu {
namespace {

std::vector<float> Random(int64_t n, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> d(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = d(rng);
  return v;
}

double MaxDiff(const std::vector<float>& a, const std::vector<float>& b) {
  double m = 0;
  for (size_t i = 0; i < a.size(); ++i) m = std::max(m, std::fabs(double{a[i]} - b[i]));
  return m;
}

class BackendExtensionsTest : public ::testing::TestWithParam<IsaLevel> {
 protected:
  ThreadPool pool_{2};
};

TEST_P(BackendExtensionsTest, RotaryFreqsMatchesReference) {
  CpuBackend backend(&pool_, GetParam());
  std::mt19937 rng(5);
  const int32_t heads = 3, head_dim = 32, rows = 40;
  const int64_t ld = heads * head_dim + 8;
  std::vector<double> inv_freq(head_dim / 2);
  for (size_t i = 0; i < inv_freq.size(); ++i) inv_freq[i] = std::pow(0.7, double(i)) / 3.0;
  std::vector<int32_t> pos(rows);
  for (int32_t r = 0; r < rows; ++r) pos[r] = r * 997 % 5000;
  const std::vector<float> x = Random(rows * ld, rng);
  std::vector<float> got = x, want = x, dflt = x;
  backend.RotaryFreqs(got.data(), rows, ld, heads, head_dim, pos.data(), inv_freq.data());
  RotaryFreqsRef(want.data(), rows, ld, heads, head_dim, pos.data(), inv_freq.data());
  // Backend's default (what a backend that does not override it runs).
  backend.Backend::RotaryFreqs(dflt.data(), rows, ld, heads, head_dim, pos.data(), inv_freq.data());
  EXPECT_LE(MaxDiff(got, want), 2e-6);
  EXPECT_LE(MaxDiff(dflt, want), 2e-6);
  EXPECT_GT(MaxDiff(got, x), 0.1);  // it did rotate
}

TEST_P(BackendExtensionsTest, SlidingWindowAttentionMatchesReference) {
  CpuBackend backend(&pool_, GetParam());
  std::mt19937 rng(7);
  const int32_t n_heads = 4, n_kv_heads = 2, head_dim = 32, len = 150;
  const int64_t kv_dim = int64_t{n_kv_heads} * head_dim;
  auto cache = kv::ContiguousKvCache::Create({1, kv_dim, 1, 256, DType::kF32, {}});
  ASSERT_TRUE(cache.ok());
  const kv::KvLayerView view = (*cache)->LayerView(0);
  std::vector<kv::KvSlot> slots(len);
  for (int32_t p = 0; p < len; ++p) slots[p] = view.Locate(0, p);
  const auto k = Random(len * kv_dim, rng, -2.0f, 2.0f);
  const auto v = Random(len * kv_dim, rng);
  backend.StoreKv(k.data(), kv_dim, v.data(), kv_dim, len, slots.data(), view);
  // Rows at positions near run boundaries (64, 128) and the end.
  const std::vector<int32_t> pos = {0, 3, 10, 63, 64, 65, 100, 127, 128, 129, 149};
  const std::vector<int32_t> seq(pos.size(), 0);
  const int64_t rows = static_cast<int64_t>(pos.size());
  const int64_t q_dim = int64_t{n_heads} * head_dim;
  const auto q = Random(rows * q_dim, rng, -2.0f, 2.0f);
  std::vector<float> no_window;
  for (int32_t window : {0, 1, 5, 64, 70, 130, 1000}) {
    AttentionArgs a;
    a.q = q.data();
    a.ldq = q_dim;
    a.rows = rows;
    a.seq = seq.data();
    a.pos = pos.data();
    a.kv = view;
    a.n_heads = n_heads;
    a.n_kv_heads = n_kv_heads;
    a.head_dim = head_dim;
    a.scale = 1.0f / std::sqrt(float(head_dim));
    a.window = window;
    std::vector<float> got(rows * q_dim), want(rows * q_dim);
    a.out = got.data();
    a.ldo = q_dim;
    backend.Attention(a);
    a.out = want.data();
    AttentionRef(a);
    EXPECT_LE(MaxDiff(got, want), 2e-6) << "window " << window;
    if (window == 0) no_window = want;
    if (window == 1000) {
      EXPECT_EQ(want, no_window);  // wider than every row's prefix
    }
    if (window == 1) {
      // Only the row's own position: the output is its own value row.
      for (int64_t r = 0; r < rows; ++r) {
        for (int32_t h = 0; h < n_heads; ++h) {
          const float* vr = v.data() + pos[r] * kv_dim + (h / (n_heads / n_kv_heads)) * head_dim;
          for (int32_t d = 0; d < head_dim; ++d) {
            EXPECT_NEAR(got[r * q_dim + h * head_dim + d], vr[d], 1e-6);
          }
        }
      }
    }
    if (window == 5) {
      EXPECT_GT(MaxDiff(want, no_window), 1e-3);
    }
  }
}

TEST_P(BackendExtensionsTest, AddWithZeroStrideBroadcastsOneRow) {
  CpuBackend backend(&pool_, GetParam());
  std::mt19937 rng(9);
  const auto bias = Random(20, rng);
  const auto y0 = Random(7 * 24, rng);
  std::vector<float> y = y0;
  backend.Add(bias.data(), 0, 7, 20, y.data(), 24);
  for (int r = 0; r < 7; ++r) {
    for (int j = 0; j < 24; ++j) {
      EXPECT_EQ(y[r * 24 + j], j < 20 ? y0[r * 24 + j] + bias[j] : y0[r * 24 + j]);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(AllLevels, BackendExtensionsTest,
                         ::testing::ValuesIn(AvailableIsaLevels()),
                         [](const ::testing::TestParamInfo<IsaLevel>& info) {
                           return std::string(IsaName(info.param));
                         });

}  // namespace
}  // namespace mot::backend::cpu
