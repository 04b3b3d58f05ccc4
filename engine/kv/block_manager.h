// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/kv/block_manager.h
// BlockManager: the KV block bookkeeping of the paged cache (DESIGN.md "KV cache"), a leaf
// that knows blocks, pools, sequences' block tables, reference counts and the prefix cache,
// and nothing of models, tensors or devices (vLLM's block_pool + kv_cache_manager).
//
// Pools: one per modality (tower), each with its own number of blocks of `block_size`
// slots. A block holds tokens of one tower only; a sequence's tokens are cut into segments
// deterministically from the tokens alone: a new segment starts at a tower switch and after
// block_size tokens of one tower. Each segment is one block of the segment's tower's pool.
//
//   tokens: t t t t t [boi is text] i i i ... (16 image codes) i i  [eoi is text] t t
//   blocks: |text blk: 6 tokens | image blk: 16 | image blk: 2 | text blk: 3 ...
//
// A block is *sealed* when no token can be added to it: it is full, its sequence has a
// later block, or it came from the prefix cache. A sealed block whose tokens are all
// computed is hashed by (the hash of the previous block of the sequence, its token ids,
// its tower) and entered in the prefix cache; so a hash names a block's content and its
// whole prefix. A later sequence whose first segments hash the same reuses those blocks
// (reference count + 1) and skips their prefill. Blocks whose count falls to 0 go to their
// pool's free list; hashed ones keep their content and hash and are evicted
// least-recently-used only when a pool has no never-hashed free block left.
//
// Allocation takes a never-hashed free block first and otherwise evicts the least recently
// freed cached block (dropping its hash). Free releases a sequence's blocks last to first, so
// the tail of a prompt is evicted before its head, which more requests share. A sealed block
// whose hash another block already holds is not entered (the first keeps it); a hit is
// confirmed by comparing the stored parent hash, tower and token ids, so wrong content is
// shared only if two different prefixes' 64-bit chain hashes collide.
//
// Sequences are slots 0..max_seqs-1 (the same slots the model's StepRow::seq names).
// Thread rule: not thread-safe; the engine thread owns it. Movable, not copyable.
#ifndef MOT_ENGINE_KV_BLOCK_MANAGER_H_
#define MOT_ENGINE_KV_BLOCK_MANAGER_H_

#include <cstdint>
#include <span>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/kv/kv_layer_view.h"

namespace mot::kv {

struct BlockManagerConfig {
  int32_t block_size = 16;
  std::vector<int32_t> blocks_per_pool;  // one entry per tower; each >= 1
  int32_t max_seqs = 1;
  bool prefix_caching = true;
};

struct PoolUsage {
  int32_t total = 0;
  int32_t used = 0;    // referenced by at least one sequence
  int32_t cached = 0;  // free, but holding hashed content that a prefix may reuse
  int32_t free = 0;    // total - used (cached included)
};

// One segment of a token run: `count` tokens of tower `tower` from index `first`.
struct Segment {
  int32_t first = 0;
  int32_t count = 0;
  uint8_t tower = 0;
};

class BlockManager {
 public:
  // InvalidArgument naming the field for block_size < 1, no pools, a pool with < 1 block,
  // or max_seqs < 1.
  static absl::StatusOr<BlockManager> Create(const BlockManagerConfig& config);

  BlockManager(BlockManager&&) = default;
  BlockManager& operator=(BlockManager&&) = default;
  BlockManager(const BlockManager&) = delete;
  BlockManager& operator=(const BlockManager&) = delete;

  // The segmentation rule applied to a fresh run of tokens with these towers: a new segment
  // at every tower switch and after block_size tokens of one tower. REQUIRES: block_size >= 1.
  static std::vector<Segment> Segments(std::span<const uint8_t> towers, int32_t block_size);

  int32_t block_size() const { return block_size_; }
  int32_t num_pools() const { return static_cast<int32_t>(pools_.size()); }
  int32_t max_seqs() const { return static_cast<int32_t>(seqs_.size()); }
  bool prefix_caching() const { return prefix_caching_; }

  // Whether every pool has the blocks that appending `towers` to `seq` would take now (the
  // partly filled last block is filled first; cached blocks count as available). False for a
  // seq or a tower out of range.
  bool CanAppend(int32_t seq, std::span<const uint8_t> towers) const;

  // The new blocks of each pool (size num_pools) that appending `towers` to `seq` would
  // allocate. REQUIRES: seq and every tower in range.
  std::vector<int32_t> BlocksNeeded(int32_t seq, std::span<const uint8_t> towers) const;

  // Reserves slots for `tokens` (with `towers`) appended to `seq` after its current
  // NumTokens, allocating blocks as the segmentation rule requires. All or nothing:
  // ResourceExhausted naming the pool when a pool runs out (nothing is changed then).
  // InvalidArgument for a tower outside [0, num_pools), seq out of range, or tokens and
  // towers of different lengths. The last block is never extended when it is sealed (it
  // came from the prefix cache, so another sequence may share it).
  absl::Status Append(int32_t seq, std::span<const int32_t> tokens,
                      std::span<const uint8_t> towers);

  // For a new (empty) sequence: finds the longest run of leading sealed segments of
  // `tokens` that are in the prefix cache, takes a reference on their blocks, appends them
  // to `seq` as computed, and returns the number of tokens reused (0 when none). At least
  // one token is always left to compute (a full match drops its last block), so the step
  // that follows produces the logits. Counts tokens.size() queries and the result as hits.
  // Returns 0 (and changes nothing) when prefix caching is off. The caller then Appends the
  // remaining tokens. REQUIRES: NumTokens(seq) == 0, tokens.size() == towers.size(), towers
  // in range.
  int32_t AppendCachedPrefix(int32_t seq, std::span<const int32_t> tokens,
                             std::span<const uint8_t> towers);

  // Marks tokens 0..num_computed-1 of `seq` as computed (their K/V written), which hashes
  // and caches each sealed block that is now complete. A smaller value than NumComputed
  // is ignored (computed K/V stay valid). REQUIRES: num_computed <= NumTokens.
  void MarkComputed(int32_t seq, int32_t num_computed);

  // Drops every block reference of `seq` and makes it empty (the slot can be reused).
  // A no-op for an empty sequence. Blocks whose count reaches 0 go to the free list, or, when
  // hashed, to the back of the LRU (the sequence's last block first).
  void Free(int32_t seq);

  int32_t NumTokens(int32_t seq) const;    // tokens with reserved slots
  int32_t NumComputed(int32_t seq) const;  // as given to MarkComputed / AppendCachedPrefix

  // The block entries of `seq` in position order (see kv_layer_view.h); valid until the
  // next Append, AppendCachedPrefix or Free of `seq`.
  std::span<const KvBlockEntry> Entries(int32_t seq) const;
  // Rises whenever any sequence's entries change (Append, AppendCachedPrefix, Free of a
  // non-empty sequence), so a view built from the entries can tell it is stale.
  uint64_t table_generation() const { return table_generation_; }

  PoolUsage Usage(int32_t pool) const;
  // Prefix-cache counters since creation: tokens looked up and tokens reused.
  int64_t prefix_queries() const { return prefix_queries_; }
  int64_t prefix_hits() const { return prefix_hits_; }

  // Checks every invariant (reference counts equal table references, free lists and hash
  // map consistent, entries tile each sequence); Internal naming the broken one. For tests:
  // it walks every block and sequence.
  absl::Status CheckInvariants() const;

 private:
  static constexpr int32_t kNone = -1;

  struct Block {
    int32_t ref = 0;
    int32_t len = 0;         // filled slots; tokens in Pool::tokens
    bool hashed = false;     // entered in Pool::by_hash under `hash`
    bool free_list = false;  // on Pool::free (never-hashed free block)
    uint64_t hash = 0;
    uint64_t parent = 0;  // hash of the previous block of the sequence that sealed it
    int32_t lru_prev = kNone, lru_next = kNone;  // while cached (ref 0 and hashed)
  };
  struct Pool {
    std::vector<Block> blocks;
    std::vector<int32_t> tokens;  // [num_blocks * block_size]: each block's token ids
    std::vector<int32_t> free;    // never-hashed free blocks, popped from the back
    int32_t lru_head = kNone;     // least recently freed cached block: evicted first
    int32_t lru_tail = kNone;
    int32_t lru_size = 0;
    absl::flat_hash_map<uint64_t, int32_t> by_hash;
  };
  struct Seq {
    std::vector<KvBlockEntry> entries;
    std::vector<int32_t> tokens;
    std::vector<uint64_t> hashes;  // chain hash of entries[0 .. hashes.size())
    int32_t num_computed = 0;
    bool last_sealed = false;  // the last entry may not grow (a shared prefix block)
  };

  BlockManager(const BlockManagerConfig& config);

  int32_t Allocate(int32_t pool);             // REQUIRES: the pool has a free or cached block
  void Release(int32_t pool, int32_t block);  // ref -> 0
  void LruRemove(Pool& p, int32_t block);
  void LruPushBack(Pool& p, int32_t block);
  // Hashes (and enters) every leading sealed, computed entry of `s` not yet hashed.
  void HashSealedBlocks(Seq& s);
  bool IsSealed(const Seq& s, size_t entry) const;
  const int32_t* BlockTokens(int32_t pool, int32_t block) const;
  static uint64_t HashBlock(uint64_t parent, std::span<const int32_t> tokens, int32_t tower);
  // The cached block with this content, or kNone.
  int32_t Lookup(int32_t pool, uint64_t hash, uint64_t parent,
                 std::span<const int32_t> tokens) const;

  int32_t block_size_;
  bool prefix_caching_;
  std::vector<Pool> pools_;
  std::vector<Seq> seqs_;
  uint64_t table_generation_ = 0;
  int64_t prefix_queries_ = 0;
  int64_t prefix_hits_ = 0;
};

}  // namespace mot::kv

#endif  // MOT_ENGINE_KV_BLOCK_MANAGER_H_
