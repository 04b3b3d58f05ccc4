// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/kv/contiguous_kv_cache.h"

#include <cstring>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace mot::kv {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

ContiguousKvCacheConfig SmallConfig(int32_t max_seqs, int32_t max_seq_len,
                                    DType dtype = DType::kF32) {
  return {.num_layers = 3,
          .kv_dim = 8,
          .max_seqs = max_seqs,
          .max_seq_len = max_seq_len,
          .dtype = dtype};
}

TEST(ContiguousKvCacheTest, RejectsBadSizes) {
  EXPECT_THAT(ContiguousKvCache::Create(SmallConfig(0, 8)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_seqs")));
  EXPECT_THAT(ContiguousKvCache::Create(SmallConfig(1, 0)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_seq_len")));
  ContiguousKvCacheConfig c = SmallConfig(1, 8);
  c.num_layers = 0;
  EXPECT_THAT(ContiguousKvCache::Create(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_layers")));
  c = SmallConfig(1, 8);
  c.kv_dim = 0;
  EXPECT_THAT(ContiguousKvCache::Create(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kv_dim")));
  c = SmallConfig(1 << 20, 1 << 20);
  c.kv_dim = int64_t{1} << 40;
  EXPECT_THAT(ContiguousKvCache::Create(c),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("bytes")));
  // The block dtypes are for GEMM weights only.
  EXPECT_THAT(ContiguousKvCache::Create(SmallConfig(1, 8, DType::kQ8_0)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("dtype Q8_0 is a weight-only block dtype")));
}

TEST(ContiguousKvCacheTest, FromModelConfigTakesLayersAndKvDim) {
  MotConfig m;
  m.n_layers = 5, m.n_heads = 4, m.n_kv_heads = 2, m.head_dim = 16, m.max_seq_len = 64;
  const ContiguousKvCacheConfig c = ContiguousKvCacheConfig::FromModelConfig(m, 3);
  EXPECT_EQ(c.num_layers, 5);
  EXPECT_EQ(c.kv_dim, 32);
  EXPECT_EQ(c.max_seqs, 3);
  EXPECT_EQ(c.max_seq_len, 64);
  EXPECT_EQ(c.dtype, DType::kF32);
  EXPECT_EQ(ContiguousKvCacheConfig::FromModelConfig(m, 1, 10, DType::kBF16).max_seq_len, 10);
}

TEST(ContiguousKvCacheTest, ViewsAreOnePoolWithOneEntryPerSequence) {
  for (DType dtype : {DType::kF32, DType::kBF16, DType::kF16}) {
    auto cache = ContiguousKvCache::Create(SmallConfig(3, 8, dtype));
    ASSERT_THAT(cache, IsOk());
    ContiguousKvCache& c = **cache;
    const int64_t es = DTypeSize(dtype);
    EXPECT_EQ(c.num_layers(), 3);
    EXPECT_EQ(c.kv_dim(), 8);
    EXPECT_EQ(c.num_seqs(), 3);
    EXPECT_EQ(c.Capacity(2), 8);
    EXPECT_EQ(c.dtype(), dtype);
    EXPECT_EQ(c.bytes(), 2 * 3 * 3 * 8 * 8 * es);
    const KvLayerView v0 = c.LayerView(0);
    EXPECT_EQ(v0.num_pools, 1);
    EXPECT_EQ(v0.pools[0].dtype, dtype);
    EXPECT_EQ(v0.block_size, 8);
    EXPECT_EQ(v0.kv_dim, 8);
    for (int32_t s = 0; s < 3; ++s) {
      ASSERT_EQ(v0.seq_entry_begin[s + 1] - v0.seq_entry_begin[s], 1);
      const KvBlockEntry& e = v0.entries[v0.seq_entry_begin[s]];
      EXPECT_EQ(e.pool, 0);
      EXPECT_EQ(e.block, s);
      EXPECT_EQ(e.first_pos, 0);
      EXPECT_EQ(e.num_pos, 8);
    }
    // Position p of sequence s is slot s * 8 + p.
    EXPECT_EQ(v0.Locate(0, 0).slot, 0);
    EXPECT_EQ(v0.Locate(1, 3).slot, 8 + 3);
    EXPECT_EQ(v0.Locate(2, 7).slot, 16 + 7);
    EXPECT_EQ(v0.Locate(2, 7).pool, 0);
    // K, V and the layers do not overlap.
    const KvLayerView v1 = c.LayerView(1);
    const auto* k0 = static_cast<const uint8_t*>(v0.pools[0].k);
    const auto* val0 = static_cast<const uint8_t*>(v0.pools[0].v);
    EXPECT_EQ(val0 - k0, 3 * 8 * 8 * es);
    EXPECT_EQ(static_cast<const uint8_t*>(v1.pools[0].k) - val0, 3 * 8 * 8 * es);
    // Storage is writable at every position, through the view of any layer.
    const KvSlot last = c.LayerView(2).Locate(2, 7);
    std::memset(c.LayerView(2).ValueAt(last), 0x5a, static_cast<size_t>(8 * es));
    EXPECT_EQ(static_cast<const uint8_t*>(c.LayerView(2).ValueAt(last))[8 * es - 1], 0x5a);
  }
}

TEST(ContiguousKvCacheTest, LengthsCommitAndReset) {
  auto cache = ContiguousKvCache::Create(SmallConfig(2, 8));
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
