// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/kv/contiguous_kv_cache.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace mot::kv {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

MotConfig SmallConfig() {
  MotConfig c;
  c.dim = 16, c.n_layers = 3, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 4;
  c.ffn_hidden = 32, c.max_seq_len = 32, c.vocab_size = 10;
  c.modalities = {"text"};
  c.vocab_ranges = {{"text", 0, 10, 0}};
  return c;
}

TEST(ContiguousKvCacheTest, RejectsBadSizes) {
  EXPECT_THAT(ContiguousKvCache::Create(SmallConfig(), 0, 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_seqs")));
  EXPECT_THAT(ContiguousKvCache::Create(SmallConfig(), 1, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_seq_len")));
  EXPECT_THAT(ContiguousKvCache::Create(SmallConfig(), 1, 33),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_seq_len=32")));
}

TEST(ContiguousKvCacheTest, ViewsAreOneBlockPerSequence) {
  auto cache = ContiguousKvCache::Create(SmallConfig(), 3, 8);
  ASSERT_THAT(cache, IsOk());
  ContiguousKvCache& c = **cache;
  EXPECT_EQ(c.num_layers(), 3);
  EXPECT_EQ(c.kv_dim(), 8);
  EXPECT_EQ(c.num_seqs(), 3);
  EXPECT_EQ(c.Capacity(2), 8);
  EXPECT_EQ(c.bytes(), 2 * 3 * 3 * 8 * 8 * 4);
  const KvLayerView v0 = c.LayerView(0);
  EXPECT_EQ(v0.block_size, 8);
  EXPECT_EQ(v0.max_blocks_per_seq, 1);
  EXPECT_EQ(v0.kv_dim, 8);
  // Position p of sequence s is at (s * 8 + p) * kv_dim.
  EXPECT_EQ(v0.Offset(0, 0), 0);
  EXPECT_EQ(v0.Offset(1, 3), (8 + 3) * 8);
  EXPECT_EQ(v0.Offset(2, 7), (16 + 7) * 8);
  // K, V and the layers do not overlap.
  const KvLayerView v1 = c.LayerView(1);
  EXPECT_EQ(v0.v - v0.k, 3 * 8 * 8);
  EXPECT_EQ(v1.k - v0.v, 3 * 8 * 8);
  // Storage is writable at every position.
  *c.LayerView(2).ValueAt(2, 7) = 5.0f;
  EXPECT_EQ(c.LayerView(2).ValueAt(2, 7)[0], 5.0f);
}

TEST(ContiguousKvCacheTest, LengthsCommitAndReset) {
  auto cache = ContiguousKvCache::Create(SmallConfig(), 2, 8);
  ASSERT_THAT(cache, IsOk());
  ContiguousKvCache& c = **cache;
  EXPECT_EQ(c.Length(0), 0);
  c.Commit(0, 5);
  c.Commit(1, 2);
  EXPECT_EQ(c.Length(0), 5);
  EXPECT_EQ(c.Length(1), 2);
  c.Reset(0);
  EXPECT_EQ(c.Length(0), 0);
  EXPECT_EQ(c.Length(1), 2);
  c.ResetAll();
  EXPECT_EQ(c.Length(1), 0);
}

}  // namespace
}  // namespace mot::kv
