// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/kv/paged_kv_cache.h"

#include <sys/mman.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"

namespace mot::kv {
namespace {

// 2 MiB: the x86-64 huge page. Attention streams every cached position of a sequence per
// layer and decode step, so the fewer TLB misses the closer it runs to memory bandwidth
// (the fused weights in mot_model.cc measured the same effect).
constexpr int64_t kHugePage = int64_t{2} << 20;

}  // namespace

int64_t PagedKvCache::BytesPerBlock(int32_t num_layers, int64_t kv_dim, int32_t block_size,
                                    DType dtype) {
  return 2 * int64_t{num_layers} * block_size * kv_dim * DTypeSize(dtype);
}

absl::StatusOr<std::vector<PoolConfig>> PagedKvCache::SplitBudget(int64_t budget_bytes,
                                                                  std::span<const PoolShare> shares,
                                                                  int32_t num_layers,
                                                                  int64_t kv_dim,
                                                                  int32_t block_size) {
  if (num_layers < 1 || kv_dim < 1 || block_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "PagedKvCache::SplitBudget: num_layers, kv_dim and block_size must be >= 1, got ",
        num_layers, ", ", kv_dim, ", ", block_size));
  }
  if (shares.empty()) {
    return absl::InvalidArgumentError("PagedKvCache::SplitBudget: field shares names no pool");
  }
  double total = 0;
  for (size_t p = 0; p < shares.size(); ++p) {
    if (!std::isfinite(shares[p].share) || shares[p].share < 0) {
      return absl::InvalidArgumentError(absl::StrCat("PagedKvCache::SplitBudget: field shares[", p,
                                                     "].share must be finite and >= 0, got ",
                                                     shares[p].share));
    }
    if (IsBlockDType(shares[p].dtype)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PagedKvCache::SplitBudget: field shares[", p, "].dtype ", DTypeName(shares[p].dtype),
          " is a weight-only block dtype (KV storage: F32, BF16 or F16)"));
    }
    total += shares[p].share;
  }
  if (total <= 0) {
    return absl::InvalidArgumentError("PagedKvCache::SplitBudget: field shares sums to 0");
  }
  std::vector<PoolConfig> pools(shares.size());
  for (size_t p = 0; p < shares.size(); ++p) {
    const int64_t per_block = BytesPerBlock(num_layers, kv_dim, block_size, shares[p].dtype);
    const double blocks = std::floor(static_cast<double>(std::max<int64_t>(budget_bytes, 0)) *
                                     (shares[p].share / total) / static_cast<double>(per_block));
    pools[p].dtype = shares[p].dtype;
    pools[p].num_blocks = static_cast<int32_t>(
        std::min(blocks, static_cast<double>(std::numeric_limits<int32_t>::max())));
    if (shares[p].share > 0 && pools[p].num_blocks < 1) {
      return absl::ResourceExhaustedError(
          absl::StrCat("PagedKvCache::SplitBudget: pool ", p, " gets less than one block (",
                       per_block, " bytes) of a budget of ", budget_bytes, " bytes"));
    }
  }
  return pools;
}

absl::StatusOr<std::unique_ptr<PagedKvCache>> PagedKvCache::Create(
    const PagedKvCacheConfig& config) {
  if (config.num_layers < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("PagedKvCacheConfig: field num_layers must be >= 1, got ", config.num_layers));
  }
  if (config.kv_dim < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("PagedKvCacheConfig: field kv_dim must be >= 1, got ", config.kv_dim));
  }
  for (size_t p = 0; p < config.pools.size(); ++p) {
    if (IsBlockDType(config.pools[p].dtype)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "PagedKvCacheConfig: pools[", p, "].dtype ", DTypeName(config.pools[p].dtype),
          " is a weight-only block dtype (KV storage: F32, BF16 or F16)"));
    }
    // In long double: 2 * layers * blocks * block_size * kv_dim * size can overflow int64.
    const long double bytes = 2.0L * config.num_layers * config.pools[p].num_blocks *
                              config.block_size * static_cast<long double>(config.kv_dim) *
                              DTypeSize(config.pools[p].dtype);
    if (bytes > static_cast<long double>(std::numeric_limits<int64_t>::max() / 4)) {
      return absl::ResourceExhaustedError(absl::StrCat("PagedKvCache: pool ", p, ": ",
                                                       static_cast<double>(bytes),
                                                       " bytes of K/V is too large"));
    }
  }
  BlockManagerConfig bm;
  bm.block_size = config.block_size;
  bm.max_seqs = config.max_seqs;
  bm.prefix_caching = config.prefix_caching;
  for (const PoolConfig& p : config.pools) bm.blocks_per_pool.push_back(p.num_blocks);
  absl::StatusOr<BlockManager> blocks = BlockManager::Create(bm);
  if (!blocks.ok()) return Annotate(blocks.status(), "PagedKvCacheConfig");

  std::unique_ptr<PagedKvCache> cache(new PagedKvCache(config, *std::move(blocks)));
  for (size_t p = 0; p < config.pools.size(); ++p) {
    PoolStorage& s = cache->pools_[p];
    s.bytes = 2 * int64_t{config.num_layers} * s.layer_elements * DTypeSize(s.dtype);
    if (config.storage.is_set()) {
      absl::StatusOr<void*> data = config.storage.allocate(s.bytes);
      if (!data.ok()) {
        return Annotate(data.status(), "PagedKvCache: pool ", p, " (", config.pools[p].num_blocks,
                        " blocks of ", config.block_size, " slots, ", DTypeName(s.dtype), "): ");
      }
      s.data = *data;
      continue;
    }
    const int64_t rounded = (s.bytes + kHugePage - 1) / kHugePage * kHugePage;
    s.data = std::aligned_alloc(static_cast<size_t>(kHugePage), static_cast<size_t>(rounded));
    if (s.data == nullptr) {
      return absl::ResourceExhaustedError(
          absl::StrCat("PagedKvCache: pool ", p, ": cannot allocate ", s.bytes, " bytes of K/V (",
                       config.pools[p].num_blocks, " blocks of ", config.block_size, " slots, ",
                       DTypeName(s.dtype), ")"));
    }
    madvise(s.data, static_cast<size_t>(rounded), MADV_HUGEPAGE);
  }
  // Views: pool p of layer l starts at its region + l * 2 * layer_elements (K, then V).
  const size_t num_pools = cache->pools_.size();
  cache->layer_pools_.resize(static_cast<size_t>(config.num_layers) * num_pools);
  for (int32_t l = 0; l < config.num_layers; ++l) {
    for (size_t p = 0; p < num_pools; ++p) {
      const PoolStorage& s = cache->pools_[p];
      const int64_t elem = DTypeSize(s.dtype);
      auto* base = static_cast<uint8_t*>(s.data) + 2 * l * s.layer_elements * elem;
      KvPoolView& v = cache->layer_pools_[static_cast<size_t>(l) * num_pools + p];
      v.k = base;
      v.v = base + s.layer_elements * elem;
      v.dtype = s.dtype;
    }
  }
  return cache;
}

PagedKvCache::PagedKvCache(const PagedKvCacheConfig& config, BlockManager blocks)
    : free_(config.storage.free),
      num_layers_(config.num_layers),
      kv_dim_(config.kv_dim),
      blocks_(std::move(blocks)),
      pools_(config.pools.size()),
      seq_entry_begin_(static_cast<size_t>(config.max_seqs) + 1, 0) {
  for (size_t p = 0; p < pools_.size(); ++p) {
    pools_[p].dtype = config.pools[p].dtype;
    pools_[p].layer_elements =
        int64_t{config.pools[p].num_blocks} * config.block_size * config.kv_dim;
  }
}

PagedKvCache::~PagedKvCache() {
  for (PoolStorage& s : pools_) {
    if (s.data == nullptr) continue;
    if (free_) {
      free_(s.data);
    } else {
      std::free(s.data);
    }
  }
}

int64_t PagedKvCache::bytes() const {
  int64_t total = 0;
  for (const PoolStorage& s : pools_) total += s.bytes;
  return total;
}

void PagedKvCache::RebuildEntries() {
  entries_.clear();
  for (int32_t s = 0; s < blocks_.max_seqs(); ++s) {
    seq_entry_begin_[static_cast<size_t>(s)] = static_cast<int32_t>(entries_.size());
    const std::span<const KvBlockEntry> e = blocks_.Entries(s);
    entries_.insert(entries_.end(), e.begin(), e.end());
  }
  seq_entry_begin_.back() = static_cast<int32_t>(entries_.size());
  built_generation_ = blocks_.table_generation();
}

KvLayerView PagedKvCache::LayerView(int32_t layer) {
  if (built_generation_ != blocks_.table_generation()) RebuildEntries();
  KvLayerView view;
  view.pools = layer_pools_.data() + static_cast<size_t>(layer) * pools_.size();
  view.num_pools = static_cast<int32_t>(pools_.size());
  view.kv_dim = kv_dim_;
  view.block_size = blocks_.block_size();
  view.entries = entries_.data();
  view.seq_entry_begin = seq_entry_begin_.data();
  return view;
}

}  // namespace mot::kv
