// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/kv/paged_kv_cache.h
// PagedKvCache: the engine's KV cache (DESIGN.md "KV cache"): one block pool per modality,
// each with its own number of blocks and its own storage dtype, over a BlockManager that it
// owns and lends to the scheduler (blocks()). The scheduler reserves slots (Append) before a
// step; the model reads LayerView and calls Commit, which marks the positions computed (and
// so lets sealed blocks enter the prefix cache).
//
// Storage, allocated once at Create: for each pool one 2 MiB-aligned region advised as huge
// pages, laid out [layer][k | v][num_blocks * block_size][kv_dim] in the pool's dtype. Its
// contents are undefined until written; the model reads only positions it has written.
// With PagedKvCacheConfig::storage set (kv_storage.h), the regions come from there instead.
//
//   Length(seq) = NumComputed   Capacity(seq) = NumTokens   num_seqs() = max_seqs
//
// LayerView's flat entries (every sequence's table, one array) are rebuilt lazily, only when
// a table changed since the last view (BlockManager::table_generation): a step asks for the
// view of every layer and pays for one rebuild, O(entries of all sequences).
// Thread rule: engine thread only; a view is valid until the next change of any table.
#ifndef MOT_ENGINE_KV_PAGED_KV_CACHE_H_
#define MOT_ENGINE_KV_PAGED_KV_CACHE_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/dtype.h"
#include "engine/kv/block_manager.h"
#include "engine/kv/kv_cache.h"
#include "engine/kv/kv_storage.h"

namespace mot::kv {

// One pool (one modality): how many blocks and in which dtype its K/V are stored.
struct PoolConfig {
  int32_t num_blocks = 0;
  DType dtype = DType::kF32;
};

struct PagedKvCacheConfig {
  int32_t num_layers = 0;
  int64_t kv_dim = 0;  // n_kv_heads * head_dim elements per position
  int32_t block_size = 16;
  int32_t max_seqs = 1;
  std::vector<PoolConfig> pools;  // one per tower
  bool prefix_caching = true;
  // Where the pools' storage comes from; unset: host memory (huge pages).
  KvStorage storage;
};

// A pool's part of a memory budget: its relative share and its storage dtype.
struct PoolShare {
  double share = 1.0;
  DType dtype = DType::kF32;
};

class PagedKvCache final : public KvCache {
 public:
  // InvalidArgument naming the field for num_layers < 1, kv_dim < 1, and what
  // BlockManager::Create refuses (block_size, pools, max_seqs). ResourceExhausted naming the
  // pool and its size in bytes when its storage cannot be allocated.
  static absl::StatusOr<std::unique_ptr<PagedKvCache>> Create(const PagedKvCacheConfig& config);

  // Bytes of K and V of one block of a pool in `dtype`: 2 * num_layers * block_size * kv_dim
  // * DTypeSize(dtype).
  static int64_t BytesPerBlock(int32_t num_layers, int64_t kv_dim, int32_t block_size, DType dtype);

  // Splits `budget_bytes` over the pools by their shares: pool i gets
  // floor(budget * share_i / sum(shares) / BytesPerBlock(dtype_i)) blocks. InvalidArgument
  // naming the field for no pools, a negative or non-finite share, shares summing to 0,
  // num_layers, kv_dim or block_size < 1; ResourceExhausted naming the pool when the
  // budget gives a pool with a positive share no block at all.
  static absl::StatusOr<std::vector<PoolConfig>> SplitBudget(int64_t budget_bytes,
                                                             std::span<const PoolShare> shares,
                                                             int32_t num_layers, int64_t kv_dim,
                                                             int32_t block_size);

  ~PagedKvCache() override;

  int32_t num_layers() const override { return num_layers_; }
  int64_t kv_dim() const override { return kv_dim_; }
  int32_t num_seqs() const override { return blocks_.max_seqs(); }
  int32_t Length(int32_t seq) const override { return blocks_.NumComputed(seq); }
  int32_t Capacity(int32_t seq) const override { return blocks_.NumTokens(seq); }
  KvLayerView LayerView(int32_t layer) override;
  // Marks positions 0..length-1 computed (BlockManager::MarkComputed).
  void Commit(int32_t seq, int32_t length) override { blocks_.MarkComputed(seq, length); }

  // The block bookkeeping, for the scheduler (Append, AppendCachedPrefix, Free, Usage).
  BlockManager& blocks() { return blocks_; }
  const BlockManager& blocks() const { return blocks_; }

  int32_t num_pools() const { return static_cast<int32_t>(pools_.size()); }
  DType pool_dtype(int32_t pool) const { return pools_[static_cast<size_t>(pool)].dtype; }
  // Bytes of K/V storage of one pool, and of all of them.
  int64_t pool_bytes(int32_t pool) const { return pools_[static_cast<size_t>(pool)].bytes; }
  int64_t bytes() const;

 private:
  struct PoolStorage {
    DType dtype = DType::kF32;
    int64_t bytes = 0;           // as used: num_layers * 2 * elements * dtype size
    int64_t layer_elements = 0;  // num_blocks * block_size * kv_dim: one of K or V, one layer
    void* data = nullptr;        // std::aligned_alloc'ed, or from storage.allocate
  };

  PagedKvCache(const PagedKvCacheConfig& config, BlockManager blocks);
  void RebuildEntries();

  std::function<void(void*)> free_;  // storage.free, or null for std::free
  int32_t num_layers_;
  int64_t kv_dim_;
  BlockManager blocks_;
  std::vector<PoolStorage> pools_;
  std::vector<KvPoolView> layer_pools_;  // [layer][pool]
  // The flattened tables of every sequence, as of table generation `built_generation_`.
  std::vector<KvBlockEntry> entries_;
  std::vector<int32_t> seq_entry_begin_;  // [max_seqs + 1]
  uint64_t built_generation_ = ~uint64_t{0};
};

}  // namespace mot::kv

#endif  // MOT_ENGINE_KV_PAGED_KV_CACHE_H_
