// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// BlockManager: segmentation, all-or-nothing Append, reference counts, prefix caching, LRU
// eviction, and a randomized run checked against a model after every operation. Every test
// ends by freeing every sequence and asserting that every block of every pool is free.
#include "engine/kv/block_manager.h"

#include <algorithm>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace mot::kv {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

constexpr uint8_t kText = 0;
constexpr uint8_t kImage = 1;

// A prompt: token ids with their towers.
struct Prompt {
  std::vector<int32_t> tokens;
  std::vector<uint8_t> towers;

  Prompt& Add(uint8_t tower, int n, int32_t first_id) {
    for (int i = 0; i < n; ++i) {
      tokens.push_back(first_id + i);
      towers.push_back(tower);
    }
    return *this;
  }
  Prompt Tail(int32_t from) const {
    return Prompt{{tokens.begin() + from, tokens.end()}, {towers.begin() + from, towers.end()}};
  }
  int32_t size() const { return static_cast<int32_t>(tokens.size()); }
};

class BlockManagerTest : public ::testing::Test {
 protected:
  void Make(int32_t block_size, std::vector<int32_t> pools, int32_t max_seqs = 4,
            bool prefix_caching = true) {
    BlockManagerConfig c;
    c.block_size = block_size;
    c.blocks_per_pool = std::move(pools);
    c.max_seqs = max_seqs;
    c.prefix_caching = prefix_caching;
    auto bm = BlockManager::Create(c);
    ASSERT_THAT(bm, IsOk());
    bm_.emplace(*std::move(bm));
  }
  BlockManager& bm() { return *bm_; }

  absl::Status Append(int32_t seq, const Prompt& r) {
    absl::Status s = bm_->Append(seq, r.tokens, r.towers);
    EXPECT_THAT(bm_->CheckInvariants(), IsOk());
    return s;
  }
  // Appends `r` to an empty `seq` and marks it all computed, as a finished prefill.
  void Prefill(int32_t seq, const Prompt& r) {
    ASSERT_THAT(Append(seq, r), IsOk());
    bm_->MarkComputed(seq, r.size());
    ASSERT_THAT(bm_->CheckInvariants(), IsOk());
  }
  int32_t CachedPrefix(int32_t seq, const Prompt& r) {
    const int32_t n = bm_->AppendCachedPrefix(seq, r.tokens, r.towers);
    EXPECT_THAT(bm_->CheckInvariants(), IsOk());
    return n;
  }
  std::vector<int32_t> Blocks(int32_t seq) const {
    std::vector<int32_t> b;
    for (const KvBlockEntry& e : bm_->Entries(seq)) b.push_back(e.block);
    return b;
  }

  void TearDown() override {
    if (!bm_) return;
    for (int32_t s = 0; s < bm_->max_seqs(); ++s) bm_->Free(s);
    EXPECT_THAT(bm_->CheckInvariants(), IsOk());
    for (int32_t p = 0; p < bm_->num_pools(); ++p) {
      const PoolUsage u = bm_->Usage(p);
      EXPECT_EQ(u.used, 0) << "pool " << p;
      EXPECT_EQ(u.free, u.total) << "pool " << p;
    }
  }

  std::optional<BlockManager> bm_;
};

TEST(BlockManagerCreateTest, RejectsBadConfigNamingTheField) {
  BlockManagerConfig c;
  c.blocks_per_pool = {4};
  c.block_size = 0;
  EXPECT_THAT(BlockManager::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("block_size")));
  c.block_size = 16;
  c.blocks_per_pool = {};
  EXPECT_THAT(BlockManager::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("blocks_per_pool")));
  c.blocks_per_pool = {4, 0};
  EXPECT_THAT(BlockManager::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("blocks_per_pool[1]")));
  c.blocks_per_pool = {4, 1 << 28};  // 2^32 slots: KvSlot::slot is an int32_t
  EXPECT_THAT(BlockManager::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("exceed 2^31 - 1 slots")));
  c.blocks_per_pool = {4};
  c.max_seqs = 0;
  EXPECT_THAT(BlockManager::Create(c).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("max_seqs")));
}

TEST(BlockManagerSegmentsTest, TowerSwitchAndBlockSizeStartSegments) {
  const std::vector<uint8_t> towers = {0, 0, 0, 1, 1, 0, 2, 2, 2, 2, 2};
  const std::vector<Segment> s = BlockManager::Segments(towers, 2);
  ASSERT_EQ(s.size(), 7u);
  const int32_t want[][3] = {{0, 2, 0}, {2, 1, 0}, {3, 2, 1}, {5, 1, 0},
                             {6, 2, 2}, {8, 2, 2}, {10, 1, 2}};
  for (size_t i = 0; i < s.size(); ++i) {
    EXPECT_EQ(s[i].first, want[i][0]) << i;
    EXPECT_EQ(s[i].count, want[i][1]) << i;
    EXPECT_EQ(s[i].tower, want[i][2]) << i;
  }
  EXPECT_TRUE(BlockManager::Segments({}, 4).empty());
}

TEST_F(BlockManagerTest, PartialBlockFillsBeforeANewOneAtBlockSize) {
  Make(4, {8, 8});
  ASSERT_THAT(Append(0, Prompt().Add(kText, 3, 100)), IsOk());
  ASSERT_EQ(bm().Entries(0).size(), 1u);
  EXPECT_EQ(bm().Entries(0)[0].num_pos, 3);
  ASSERT_THAT(Append(0, Prompt().Add(kText, 1, 103)), IsOk());  // exactly full
  ASSERT_EQ(bm().Entries(0).size(), 1u);
  EXPECT_EQ(bm().Entries(0)[0].num_pos, 4);
  ASSERT_THAT(Append(0, Prompt().Add(kText, 5, 104)), IsOk());  // 4 + 1: two new blocks
  ASSERT_EQ(bm().Entries(0).size(), 3u);
  EXPECT_EQ(bm().Entries(0)[1].first_pos, 4);
  EXPECT_EQ(bm().Entries(0)[1].num_pos, 4);
  EXPECT_EQ(bm().Entries(0)[2].first_pos, 8);
  EXPECT_EQ(bm().Entries(0)[2].num_pos, 1);
  EXPECT_EQ(bm().NumTokens(0), 9);
  EXPECT_EQ(bm().Usage(0).used, 3);
  EXPECT_EQ(bm().Usage(1).used, 0);
}

TEST_F(BlockManagerTest, TowerSwitchStartsANewBlockInTheTowersPool) {
  Make(4, {8, 8});
  ASSERT_THAT(Append(0, Prompt().Add(kText, 2, 1).Add(kImage, 5, 500).Add(kText, 1, 3)), IsOk());
  const auto e = bm().Entries(0);
  ASSERT_EQ(e.size(), 4u);
  const int32_t want[][3] = {{0, 0, 2}, {1, 2, 4}, {1, 6, 1}, {0, 7, 1}};  // pool, first, n
  for (size_t i = 0; i < e.size(); ++i) {
    EXPECT_EQ(e[i].pool, want[i][0]) << i;
    EXPECT_EQ(e[i].first_pos, want[i][1]) << i;
    EXPECT_EQ(e[i].num_pos, want[i][2]) << i;
  }
  // The text block cut by the image is sealed: more text goes to the open last block.
  ASSERT_THAT(Append(0, Prompt().Add(kText, 2, 4)), IsOk());
  ASSERT_EQ(bm().Entries(0).size(), 4u);
  EXPECT_EQ(bm().Entries(0)[3].num_pos, 3);
  EXPECT_EQ(bm().Usage(0).used, 2);
  EXPECT_EQ(bm().Usage(1).used, 2);
}

TEST_F(BlockManagerTest, AppendIsAllOrNothingAndNamesThePool) {
  Make(4, {8, 1});
  ASSERT_THAT(Append(0, Prompt().Add(kText, 2, 1)), IsOk());
  EXPECT_TRUE(bm().CanAppend(0, Prompt().Add(kImage, 4, 9).towers));
  const Prompt big = Prompt().Add(kText, 3, 10).Add(kImage, 5, 500);  // 2 image blocks, 1 exists
  EXPECT_FALSE(bm().CanAppend(0, big.towers));
  EXPECT_THAT(Append(0, big), StatusIs(absl::StatusCode::kResourceExhausted,
                                       HasSubstr("KV pool 1: needs 2 more blocks, 1 free")));
  EXPECT_EQ(bm().NumTokens(0), 2);
  EXPECT_EQ(bm().Entries(0).size(), 1u);
  EXPECT_EQ(bm().Usage(0).used, 1);
  EXPECT_EQ(bm().Usage(1).used, 0);
}

TEST_F(BlockManagerTest, AppendRejectsBadArgumentsNamingThem) {
  Make(4, {2, 2}, 2);
  EXPECT_THAT(Append(2, Prompt().Add(kText, 1, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("seq 2")));
  EXPECT_THAT(Append(0, Prompt().Add(kText, 1, 1).Add(2, 1, 1)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("towers[1] = 2")));
  const std::vector<int32_t> tokens = {1, 2};
  const std::vector<uint8_t> towers = {0};
  EXPECT_THAT(bm().Append(0, tokens, towers),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("2 tokens but 1 towers")));
  EXPECT_FALSE(bm().CanAppend(0, std::vector<uint8_t>{3}));
  EXPECT_EQ(bm().NumTokens(0), 0);
}

TEST_F(BlockManagerTest, SharedBlocksCountReferencesAndFreeReturnsEverything) {
  Make(4, {6, 4});
  const Prompt prompt = Prompt().Add(kText, 4, 1).Add(kImage, 4, 500).Add(kText, 2, 9);
  Prefill(0, prompt);
  EXPECT_EQ(CachedPrefix(1, prompt), 8);
  EXPECT_EQ(CachedPrefix(2, prompt), 8);
  // Three tables reference the text and image blocks; only one copy is used.
  EXPECT_EQ(bm().Usage(0).used, 2);
  EXPECT_EQ(bm().Usage(1).used, 1);
  bm().Free(0);
  EXPECT_THAT(bm().CheckInvariants(), IsOk());
  EXPECT_EQ(bm().Usage(0).used, 1);  // seq 0's open text block went back
  EXPECT_EQ(bm().Usage(1).used, 1);
  bm().Free(1);
  bm().Free(1);  // a no-op on an empty sequence
  EXPECT_EQ(bm().Usage(1).used, 1);
  bm().Free(2);
  EXPECT_THAT(bm().CheckInvariants(), IsOk());
  EXPECT_EQ(bm().Usage(0).used, 0);
  EXPECT_EQ(bm().Usage(1).used, 0);
  // The hashed blocks stay cached for a later prompt.
  EXPECT_EQ(bm().Usage(0).cached, 1);
  EXPECT_EQ(bm().Usage(1).cached, 1);
}

TEST_F(BlockManagerTest, SecondPromptWithTheSameTextAndImageReusesSealedBlocks) {
  Make(4, {8, 8});
  // text 5 = [4][1], image 8 = [4][4], text 3 = [3] (open, never shared).
  const Prompt prompt = Prompt().Add(kText, 5, 1).Add(kImage, 8, 500).Add(kText, 3, 6);
  Prefill(0, prompt);
  const int64_t hits_before = bm().prefix_hits();
  EXPECT_EQ(bm().prefix_hits(), 0);
  EXPECT_EQ(CachedPrefix(1, prompt), 13);
  EXPECT_EQ(bm().prefix_hits(), hits_before + 13);
  EXPECT_EQ(bm().prefix_queries(), 16);
  EXPECT_EQ(bm().NumTokens(1), 13);
  EXPECT_EQ(bm().NumComputed(1), 13);
  const std::vector<int32_t> a = Blocks(0), b = Blocks(1);
  ASSERT_EQ(b.size(), 4u);
  EXPECT_TRUE(std::equal(b.begin(), b.end(), a.begin()));
  // The rest of the prompt goes to a block of its own.
  ASSERT_THAT(Append(1, prompt.Tail(13)), IsOk());
  ASSERT_EQ(Blocks(1).size(), 5u);
  EXPECT_NE(Blocks(1)[4], a[4]);
  EXPECT_EQ(bm().Usage(0).used, 4);
  EXPECT_EQ(bm().Usage(1).used, 2);
  // A third request after both are gone still hits (the blocks wait in the LRU).
  bm().Free(0);
  bm().Free(1);
  EXPECT_EQ(CachedPrefix(2, prompt), 13);
  EXPECT_EQ(bm().prefix_hits(), 26);
}

TEST_F(BlockManagerTest, FullMatchLeavesTheLastBlockToCompute) {
  Make(4, {4, 4});
  const Prompt prompt = Prompt().Add(kText, 4, 1).Add(kImage, 4, 500);  // two full blocks
  Prefill(0, prompt);
  EXPECT_EQ(CachedPrefix(1, prompt), 4);
  EXPECT_EQ(bm().NumComputed(1), 4);
  ASSERT_THAT(Append(1, prompt.Tail(4)), IsOk());
  EXPECT_EQ(bm().Usage(1).used, 2);  // the image block is computed again in a new block
}

TEST_F(BlockManagerTest, DifferentTokenInTheMiddleStopsTheMatchAtItsBlock) {
  Make(4, {8});
  const Prompt prompt = Prompt().Add(kText, 13, 1);  // [4][4][4][1]
  Prefill(0, prompt);
  Prompt other = prompt;
  other.tokens[6] = 999;  // in the second block
  EXPECT_EQ(CachedPrefix(1, other), 4);
  EXPECT_EQ(Blocks(1), std::vector<int32_t>{Blocks(0)[0]});
  // Same tokens, another tower: no match either (the hash names the tower).
  Prompt retowered = prompt;
  std::fill(retowered.towers.begin(), retowered.towers.end(), kImage);
  bm().Free(0);
  bm().Free(1);
  Make(4, {8, 8});
  Prefill(0, prompt);
  EXPECT_EQ(CachedPrefix(1, retowered), 0);
}

TEST_F(BlockManagerTest, OpenLastBlockIsNotSharedUntilSealed) {
  Make(4, {8, 8});
  const Prompt text = Prompt().Add(kText, 6, 1);  // [4][2 open]
  Prefill(0, text);
  Prompt longer = text;
  longer.Add(kText, 1, 7);  // [4][3]: its second segment differs anyway
  EXPECT_EQ(CachedPrefix(1, longer), 4);
  bm().Free(1);
  // Text 6 then an image: now [4][2] is sealed by the tower switch, computed, and shared.
  Prompt with_image = text;
  with_image.Add(kImage, 2, 500);
  EXPECT_EQ(CachedPrefix(1, with_image), 4);  // seq 0's [2] is still open
  bm().Free(1);
  ASSERT_THAT(Append(0, with_image.Tail(6)), IsOk());  // seals seq 0's [2], computed: hashed
  EXPECT_EQ(CachedPrefix(1, with_image), 6);
  // A sealed block is hashed only once computed.
  bm().Free(0);
  bm().Free(1);
  Make(4, {8, 8});
  ASSERT_THAT(Append(0, with_image), IsOk());
  bm().MarkComputed(0, 5);
  EXPECT_EQ(CachedPrefix(1, with_image), 4);
  bm().Free(1);
  bm().MarkComputed(0, 6);
  EXPECT_EQ(CachedPrefix(1, with_image), 6);
}

TEST_F(BlockManagerTest, PrefixCachingOffNeverShares) {
  Make(4, {8}, 2, /*prefix_caching=*/false);
  const Prompt prompt = Prompt().Add(kText, 9, 1);
  Prefill(0, prompt);
  EXPECT_EQ(CachedPrefix(1, prompt), 0);
  EXPECT_EQ(bm().prefix_queries(), 0);
  bm().Free(0);
  EXPECT_EQ(bm().Usage(0).cached, 0);
}

TEST_F(BlockManagerTest, LruEvictsTheLeastRecentlyFreedCachedBlockFirst) {
  Make(2, {3});
  auto one_block = [](int32_t id) { return Prompt().Add(kText, 2, id); };
  auto probe = [](int32_t id) { return Prompt().Add(kText, 2, id).Add(kText, 1, 0); };
  Prefill(0, one_block(10));  // block A
  bm().Free(0);
  Prefill(0, one_block(20));  // B
  bm().Free(0);
  Prefill(0, one_block(30));  // C
  bm().Free(0);
  EXPECT_EQ(bm().Usage(0).cached, 3);
  EXPECT_TRUE(bm().CanAppend(1, one_block(40).towers));  // cached blocks are available
  Prefill(1, one_block(40));                             // evicts A, the oldest
  EXPECT_EQ(bm().Usage(0).cached, 2);
  EXPECT_EQ(CachedPrefix(2, probe(10)), 0);
  // Reusing B takes it off the LRU, so the next allocation evicts C although B is older.
  EXPECT_EQ(CachedPrefix(2, probe(20)), 2);
  EXPECT_EQ(bm().Usage(0).cached, 1);
  ASSERT_THAT(Append(2, probe(20).Tail(2)), IsOk());  // evicts C
  EXPECT_EQ(bm().Usage(0).cached, 0);
  EXPECT_EQ(bm().Usage(0).used, 3);
  EXPECT_EQ(CachedPrefix(3, probe(30)), 0);
  EXPECT_EQ(CachedPrefix(3, probe(20)), 2);  // still in use by seq 2, shared
}

TEST_F(BlockManagerTest, FreeCachesTheTailOfASequenceBeforeItsHead) {
  Make(2, {4});
  const Prompt prompt = Prompt().Add(kText, 4, 1).Add(kText, 1, 0);  // [2][2][1]
  Prefill(0, prompt);
  bm().Free(0);
  EXPECT_EQ(bm().Usage(0).cached, 2);
  // Three fresh blocks: the two never-hashed free ones, then the LRU head: the tail block.
  Prefill(1, Prompt().Add(kText, 6, 100));
  EXPECT_EQ(CachedPrefix(2, prompt), 2);  // the head block survived
}

TEST_F(BlockManagerTest, DuplicateContentKeepsTheFirstHash) {
  Make(2, {6});
  const Prompt prompt = Prompt().Add(kText, 2, 1).Add(kText, 1, 9);
  // Both prefill the same prompt at once (neither hit the cache when it started).
  ASSERT_THAT(Append(0, prompt), IsOk());
  ASSERT_THAT(Append(1, prompt), IsOk());
  bm().MarkComputed(0, 3);
  bm().MarkComputed(1, 3);
  ASSERT_THAT(bm().CheckInvariants(), IsOk());
  EXPECT_EQ(CachedPrefix(2, prompt), 2);
  EXPECT_EQ(Blocks(2)[0], Blocks(0)[0]);
  bm().Free(1);  // its duplicate block goes to the plain free list
  EXPECT_EQ(bm().Usage(0).cached, 0);
  bm().Free(0);
  bm().Free(2);
  EXPECT_EQ(bm().Usage(0).cached, 1);
}

// A model of the manager: per sequence its tokens, towers and computed count. Appends
// succeed exactly when every pool has the blocks the segmentation rule asks for; without
// sharing, used blocks are the sum of every sequence's segments.
class RandomizedBlockManagerTest : public BlockManagerTest,
                                   public ::testing::WithParamInterface<bool> {};

TEST_P(RandomizedBlockManagerTest, InvariantsHoldAfterEveryOperation) {
  const bool prefix_caching = GetParam();
  constexpr int32_t kSeqs = 6;
  constexpr int32_t kBlockSize = 4;
  const std::vector<int32_t> pool_blocks = {24, 12, 8};
  Make(kBlockSize, pool_blocks, kSeqs, prefix_caching);
  std::mt19937 rng(1234);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };

  // A few prompt templates so that prompts repeat and share prefixes.
  std::vector<Prompt> templates;
  for (int t = 0; t < 4; ++t) {
    Prompt r;
    const int parts = uniform(1, 4);
    for (int p = 0; p < parts; ++p) {
      r.Add(static_cast<uint8_t>(uniform(0, 2)), uniform(1, 9), uniform(0, 50));
    }
    templates.push_back(r);
  }
  struct Model {
    Prompt run;
    int32_t computed = 0;
  };
  std::vector<Model> model(kSeqs);
  auto segments_per_pool = [&](const std::vector<uint8_t>& towers) {
    std::vector<int32_t> n(pool_blocks.size(), 0);
    for (const Segment& s : BlockManager::Segments(towers, kBlockSize)) ++n[s.tower];
    return n;
  };
  auto expect_append = [&](int32_t seq, const Prompt& extra) {
    std::vector<uint8_t> all = model[static_cast<size_t>(seq)].run.towers;
    const std::vector<int32_t> before = segments_per_pool(all);
    all.insert(all.end(), extra.towers.begin(), extra.towers.end());
    const std::vector<int32_t> after = segments_per_pool(all);
    bool fits = true;
    for (size_t p = 0; p < pool_blocks.size(); ++p) {
      fits &= after[p] - before[p] <= bm().Usage(static_cast<int32_t>(p)).free;
    }
    EXPECT_EQ(bm().CanAppend(seq, extra.towers), fits);
    const absl::Status s = bm().Append(seq, extra.tokens, extra.towers);
    EXPECT_EQ(s.ok(), fits) << s;
    if (s.ok()) {
      Prompt& r = model[static_cast<size_t>(seq)].run;
      r.tokens.insert(r.tokens.end(), extra.tokens.begin(), extra.tokens.end());
      r.towers.insert(r.towers.end(), extra.towers.begin(), extra.towers.end());
    } else {
      EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
    }
    return s.ok();
  };

  int32_t appends_refused = 0;
  for (int op = 0; op < 4000; ++op) {
    const int32_t seq = uniform(0, kSeqs - 1);
    Model& m = model[static_cast<size_t>(seq)];
    const int kind = uniform(0, 9);
    if (m.run.tokens.empty() || kind == 0) {
      // A new request (after freeing the old one): cached prefix, then the rest.
      bm().Free(seq);
      m = Model{};
      Prompt prompt = templates[static_cast<size_t>(uniform(0, 3))];
      if (uniform(0, 2) == 0)
        prompt.tokens[static_cast<size_t>(uniform(0, prompt.size() - 1))] += 1;
      if (uniform(0, 2) == 0) prompt.Add(static_cast<uint8_t>(uniform(0, 2)), uniform(1, 6), 7);
      const int32_t reused = bm().AppendCachedPrefix(seq, prompt.tokens, prompt.towers);
      ASSERT_LT(reused, std::max(prompt.size(), 1));
      if (!prefix_caching) {
        ASSERT_EQ(reused, 0);
      }
      m.run = Prompt{{prompt.tokens.begin(), prompt.tokens.begin() + reused},
                     {prompt.towers.begin(), prompt.towers.begin() + reused}};
      m.computed = reused;
      if (!expect_append(seq, prompt.Tail(reused))) {
        ++appends_refused;
        bm().Free(seq);  // as the scheduler would: back to the queue
        m = Model{};
      }
    } else if (kind <= 4) {
      Prompt extra;
      const int n = uniform(1, 6);
      for (int i = 0; i < n; ++i) extra.Add(static_cast<uint8_t>(uniform(0, 2)), 1, uniform(0, 50));
      if (!expect_append(seq, extra)) ++appends_refused;
    } else if (kind <= 8) {
      m.computed = uniform(m.computed, m.run.size());
      bm().MarkComputed(seq, m.computed);
    } else {
      bm().Free(seq);
      m = Model{};
    }

    ASSERT_THAT(bm().CheckInvariants(), IsOk()) << "after op " << op;
    std::vector<int32_t> sum(pool_blocks.size(), 0);
    for (int32_t s = 0; s < kSeqs; ++s) {
      const Model& ms = model[static_cast<size_t>(s)];
      ASSERT_EQ(bm().NumTokens(s), ms.run.size());
      ASSERT_EQ(bm().NumComputed(s), ms.computed);
      // The table follows the segmentation rule of the sequence's towers.
      const std::vector<Segment> segs = BlockManager::Segments(ms.run.towers, kBlockSize);
      const auto entries = bm().Entries(s);
      ASSERT_EQ(entries.size(), segs.size());
      for (size_t i = 0; i < segs.size(); ++i) {
        ASSERT_EQ(entries[i].pool, segs[i].tower);
        ASSERT_EQ(entries[i].first_pos, segs[i].first);
        ASSERT_EQ(entries[i].num_pos, segs[i].count);
      }
      const std::vector<int32_t> n = segments_per_pool(ms.run.towers);
      for (size_t p = 0; p < n.size(); ++p) sum[p] += n[p];
    }
    for (size_t p = 0; p < pool_blocks.size(); ++p) {
      const PoolUsage u = bm().Usage(static_cast<int32_t>(p));
      ASSERT_EQ(u.total, pool_blocks[p]);
      ASSERT_EQ(u.used + u.free, u.total);
      if (prefix_caching) {
        ASSERT_LE(u.used, sum[p]);
      } else {
        ASSERT_EQ(u.used, sum[p]);
        ASSERT_EQ(u.cached, 0);
      }
    }
  }
  // The run exercised what it is meant to.
  EXPECT_GT(appends_refused, 0);
  if (prefix_caching) {
    EXPECT_GT(bm().prefix_hits(), 0);
    EXPECT_GT(bm().prefix_queries(), bm().prefix_hits());
  }
}

INSTANTIATE_TEST_SUITE_P(PrefixCaching, RandomizedBlockManagerTest, ::testing::Bool());

}  // namespace
}  // namespace mot::kv
