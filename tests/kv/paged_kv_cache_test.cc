// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// PagedKvCache: config errors, storage size per dtype, the budget split, and the layer
// views (entries tile every sequence, Locate finds the slot, layers and pools never alias).
#include "engine/kv/paged_kv_cache.h"

#include <cstdint>
#include <cstring>
#include <set>
#include <tuple>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace mot::kv {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

PagedKvCacheConfig SmallConfig() {
  PagedKvCacheConfig c;
  c.num_layers = 3;
  c.kv_dim = 8;
  c.block_size = 4;
  c.max_seqs = 3;
  c.pools = {{10, DType::kF32}, {6, DType::kBF16}, {5, DType::kF16}};
  return c;
}

// Appends `n` tokens of `tower` (ids from `first`) to `seq`.
absl::Status Add(PagedKvCache& cache, int32_t seq, uint8_t tower, int n, int32_t first = 1) {
  std::vector<int32_t> tokens;
  for (int i = 0; i < n; ++i) tokens.push_back(first + i);
  const std::vector<uint8_t> towers(static_cast<size_t>(n), tower);
  return cache.blocks().Append(seq, tokens, towers);
}

void ExpectAllFree(PagedKvCache& cache) {
  for (int32_t s = 0; s < cache.num_seqs(); ++s) cache.blocks().Free(s);
  EXPECT_THAT(cache.blocks().CheckInvariants(), IsOk());
  for (int32_t p = 0; p < cache.num_pools(); ++p) EXPECT_EQ(cache.blocks().Usage(p).used, 0);
}

TEST(PagedKvCacheTest, CreateRejectsBadConfigNamingTheField) {
  PagedKvCacheConfig c = SmallConfig();
  c.num_layers = 0;
  EXPECT_THAT(PagedKvCache::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("num_layers")));
  c = SmallConfig();
  c.kv_dim = 0;
  EXPECT_THAT(PagedKvCache::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("kv_dim")));
  c = SmallConfig();
  c.pools[1].num_blocks = 0;
  EXPECT_THAT(PagedKvCache::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("blocks_per_pool[1]")));
  c = SmallConfig();
  c.block_size = 0;
  EXPECT_THAT(PagedKvCache::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block_size")));
  c = SmallConfig();
  c.pools[1].dtype = DType::kQ4_0;  // the block dtypes are for GEMM weights only
  EXPECT_THAT(PagedKvCache::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("pools[1].dtype Q4_0 is a weight-only block dtype")));
}

TEST(PagedKvCacheTest, TooLargeStorageIsResourceExhaustedNamingThePool) {
  PagedKvCacheConfig c = SmallConfig();
  c.num_layers = 1024;
  c.kv_dim = int64_t{1} << 20;
  c.block_size = 1024;
  c.pools[2].num_blocks = 1 << 30;
  EXPECT_THAT(PagedKvCache::Create(c).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("pool 2")));
}

TEST(PagedKvCacheTest, BytesFollowEachPoolsDtype) {
  auto cache = PagedKvCache::Create(SmallConfig());
  ASSERT_THAT(cache, IsOk());
  PagedKvCache& c = **cache;
  const int64_t f32_block = PagedKvCache::BytesPerBlock(3, 8, 4, DType::kF32);
  EXPECT_EQ(f32_block, 2 * 3 * 4 * 8 * 4);
  EXPECT_EQ(PagedKvCache::BytesPerBlock(3, 8, 4, DType::kBF16), f32_block / 2);
  EXPECT_EQ(c.pool_bytes(0), 10 * f32_block);
  EXPECT_EQ(c.pool_bytes(1), 6 * f32_block / 2);
  EXPECT_EQ(c.pool_bytes(2), 5 * f32_block / 2);
  EXPECT_EQ(c.bytes(), c.pool_bytes(0) + c.pool_bytes(1) + c.pool_bytes(2));
  const KvLayerView v = c.LayerView(1);
  ASSERT_EQ(v.num_pools, 3);
  EXPECT_EQ(v.pools[0].dtype, DType::kF32);
  EXPECT_EQ(v.pools[1].dtype, DType::kBF16);
  EXPECT_EQ(v.pools[2].dtype, DType::kF16);
  EXPECT_EQ(c.num_seqs(), 3);
  EXPECT_EQ(c.num_layers(), 3);
  EXPECT_EQ(c.kv_dim(), 8);
}

TEST(PagedKvCacheTest, SplitBudgetByShares) {
  const int64_t f32_block = PagedKvCache::BytesPerBlock(2, 16, 16, DType::kF32);
  const std::vector<PoolShare> shares = {{2, DType::kF32}, {1, DType::kBF16}, {1, DType::kF16}};
  auto pools = PagedKvCache::SplitBudget(100 * f32_block, shares, 2, 16, 16);
  ASSERT_THAT(pools, IsOk());
  ASSERT_EQ(pools->size(), 3u);
  EXPECT_EQ((*pools)[0].num_blocks, 50);  // half the budget in f32 blocks
  EXPECT_EQ((*pools)[1].num_blocks, 50);  // a quarter in half-size blocks
  EXPECT_EQ((*pools)[2].num_blocks, 50);
  EXPECT_EQ((*pools)[1].dtype, DType::kBF16);
  int64_t spent = 0;
  for (const PoolConfig& p : *pools) {
    spent += p.num_blocks * PagedKvCache::BytesPerBlock(2, 16, 16, p.dtype);
  }
  EXPECT_LE(spent, 100 * f32_block);
  // Rounds down: 99 f32 blocks' worth gives pool 0 only 49.
  pools = PagedKvCache::SplitBudget(99 * f32_block, shares, 2, 16, 16);
  ASSERT_THAT(pools, IsOk());
  EXPECT_EQ((*pools)[0].num_blocks, 49);
}

TEST(PagedKvCacheTest, SplitBudgetErrorsNameTheField) {
  const std::vector<PoolShare> zero = {{0, DType::kF32}, {0, DType::kF32}};
  EXPECT_THAT(PagedKvCache::SplitBudget(1 << 20, zero, 1, 8, 16).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sums to 0")));
  const std::vector<PoolShare> negative = {{1, DType::kF32}, {-1, DType::kF32}};
  EXPECT_THAT(PagedKvCache::SplitBudget(1 << 20, negative, 1, 8, 16).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shares[1].share")));
  EXPECT_THAT(PagedKvCache::SplitBudget(1 << 20, {}, 1, 8, 16).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("shares")));
  const std::vector<PoolShare> tiny = {{1000, DType::kF32}, {1, DType::kF32}};
  EXPECT_THAT(PagedKvCache::SplitBudget(100 * 1024, tiny, 1, 8, 16).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("pool 1")));
}

TEST(PagedKvCacheTest, ViewEntriesTileEverySequenceAndLocateFindsTheSlot) {
  auto created = PagedKvCache::Create(SmallConfig());
  ASSERT_THAT(created, IsOk());
  PagedKvCache& cache = **created;
  // seq 0: text 6, image 5, text 1; seq 2: audio 3, text 4; seq 1 empty.
  ASSERT_THAT(Add(cache, 0, 0, 6), IsOk());
  ASSERT_THAT(Add(cache, 0, 1, 5), IsOk());
  ASSERT_THAT(Add(cache, 0, 0, 1), IsOk());
  ASSERT_THAT(Add(cache, 2, 2, 3), IsOk());
  ASSERT_THAT(Add(cache, 2, 0, 4), IsOk());
  EXPECT_EQ(cache.Capacity(0), 12);
  EXPECT_EQ(cache.Capacity(1), 0);
  EXPECT_EQ(cache.Capacity(2), 7);
  const KvLayerView v = cache.LayerView(0);
  EXPECT_EQ(v.block_size, 4);
  EXPECT_EQ(v.kv_dim, 8);
  EXPECT_EQ(v.seq_entry_begin[1] - v.seq_entry_begin[0], 5);  // [4][2] [4][1] [1]
  EXPECT_EQ(v.seq_entry_begin[2], v.seq_entry_begin[1]);
  EXPECT_EQ(v.seq_entry_begin[3] - v.seq_entry_begin[2], 2);
  const std::vector<uint8_t> want_pool0 = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 0};
  std::set<std::pair<int32_t, int32_t>> slots;
  for (int32_t seq = 0; seq < 3; ++seq) {
    int32_t pos = 0;
    for (int32_t e = v.seq_entry_begin[seq]; e < v.seq_entry_begin[seq + 1]; ++e) {
      const KvBlockEntry& entry = v.entries[e];
      ASSERT_EQ(entry.first_pos, pos);
      for (int32_t i = 0; i < entry.num_pos; ++i, ++pos) {
        const KvSlot s = v.Locate(seq, pos);
        EXPECT_EQ(s.pool, entry.pool);
        EXPECT_EQ(s.slot, entry.block * 4 + i);
        if (seq == 0) {
          EXPECT_EQ(s.pool, want_pool0[static_cast<size_t>(pos)]) << pos;
        }
        EXPECT_TRUE(slots.insert({s.pool, s.slot}).second) << "slot used twice";
      }
    }
    EXPECT_EQ(pos, cache.Capacity(seq));
  }
  ExpectAllFree(cache);
}

TEST(PagedKvCacheTest, LayersAndPoolsNeverAlias) {
  auto created = PagedKvCache::Create(SmallConfig());
  ASSERT_THAT(created, IsOk());
  PagedKvCache& cache = **created;
  ASSERT_THAT(Add(cache, 0, 0, 5), IsOk());
  ASSERT_THAT(Add(cache, 0, 1, 3), IsOk());
  ASSERT_THAT(Add(cache, 1, 2, 4), IsOk());
  // Write a distinct value for every (layer, k|v, seq, pos), then read every one back.
  // Values are small integers (at most 96, signed by the element's parity), exact in bf16.
  auto tag = [](int l, int kv, int seq, int pos, int j) {
    const float x = static_cast<float>(((l * 2 + kv) * 2 + seq) * 8 + pos + 1);
    return j % 2 == 0 ? x : -x;
  };
  for (int pass = 0; pass < 2; ++pass) {
    for (int l = 0; l < cache.num_layers(); ++l) {
      const KvLayerView v = cache.LayerView(l);
      for (int seq = 0; seq < 2; ++seq) {
        for (int pos = 0; pos < cache.Capacity(seq); ++pos) {
          const KvSlot s = v.Locate(seq, pos);
          const DType t = v.pools[s.pool].dtype;
          for (int kv = 0; kv < 2; ++kv) {
            auto* base = static_cast<uint8_t*>(kv == 0 ? v.KeyAt(s) : v.ValueAt(s));
            for (int j = 0; j < 8; ++j) {
              const float want = tag(l, kv, seq, pos, j);
              if (pass == 0) {
                ConvertFromF32(&want, 1, t, base + j * DTypeSize(t));
              } else {
                float got;
                ConvertToF32(t, base + j * DTypeSize(t), 1, &got);
                ASSERT_EQ(got, want) << "layer " << l << " kv " << kv << " seq " << seq << " pos "
                                     << pos << " elem " << j;
              }
            }
          }
        }
      }
    }
  }
  ExpectAllFree(cache);
}

TEST(PagedKvCacheTest, LengthCommitAndTheViewFollowTheTables) {
  auto created = PagedKvCache::Create(SmallConfig());
  ASSERT_THAT(created, IsOk());
  PagedKvCache& cache = **created;
  ASSERT_THAT(Add(cache, 1, 0, 3), IsOk());
  KvLayerView v = cache.LayerView(2);
  EXPECT_EQ(v.seq_entry_begin[2] - v.seq_entry_begin[1], 1);
  EXPECT_EQ(cache.Length(1), 0);
  cache.Commit(1, 3);
  EXPECT_EQ(cache.Length(1), 3);
  EXPECT_EQ(cache.blocks().NumComputed(1), 3);
  // A new block after the view was taken: the next view has it.
  ASSERT_THAT(Add(cache, 1, 1, 2), IsOk());
  v = cache.LayerView(2);
  ASSERT_EQ(v.seq_entry_begin[2] - v.seq_entry_begin[1], 2);
  EXPECT_EQ(v.entries[v.seq_entry_begin[1] + 1].pool, 1);
  EXPECT_EQ(v.Locate(1, 4).pool, 1);
  // Extending the open block also shows.
  ASSERT_THAT(Add(cache, 1, 1, 1), IsOk());
  v = cache.LayerView(0);
  EXPECT_EQ(v.entries[v.seq_entry_begin[1] + 1].num_pos, 3);
  cache.blocks().Free(1);
  v = cache.LayerView(0);
  EXPECT_EQ(v.seq_entry_begin[3], 0);
  EXPECT_EQ(cache.Capacity(1), 0);
  ExpectAllFree(cache);
}

TEST(PagedKvCacheTest, PrefixCachingThroughTheCache) {
  PagedKvCacheConfig c = SmallConfig();
  auto created = PagedKvCache::Create(c);
  ASSERT_THAT(created, IsOk());
  PagedKvCache& cache = **created;
  const std::vector<int32_t> tokens = {1, 2, 3, 4, 5, 50, 51, 7};
  const std::vector<uint8_t> towers = {0, 0, 0, 0, 0, 1, 1, 0};
  ASSERT_THAT(cache.blocks().Append(0, tokens, towers), IsOk());
  cache.Commit(0, 8);
  EXPECT_EQ(cache.blocks().AppendCachedPrefix(1, tokens, towers), 7);
  EXPECT_EQ(cache.Length(1), 7);
  // Positions 0..6 of both sequences are the same slots.
  const KvLayerView v = cache.LayerView(0);
  for (int pos = 0; pos < 7; ++pos) {
    EXPECT_EQ(v.Locate(0, pos).pool, v.Locate(1, pos).pool);
    EXPECT_EQ(v.Locate(0, pos).slot, v.Locate(1, pos).slot);
  }
  ExpectAllFree(cache);
}

}  // namespace
}  // namespace mot::kv
