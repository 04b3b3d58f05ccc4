// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/kv/contiguous_kv_cache.h
// ContiguousKvCache: the foundation's KV cache, the trivial case of the paged layout. For
// each layer, keys and values of max_seqs sequence slots in one pool of the configured
// storage dtype (f32, bf16 or f16), slot s a contiguous [max_seq_len, kv_dim] block: its
// views have one pool, block_size = max_seq_len and one entry per sequence slot (block s,
// positions 0..max_seq_len-1). Memory is allocated once, at Create.
// Thread rule: engine thread only.
#ifndef MOT_ENGINE_KV_CONTIGUOUS_KV_CACHE_H_
#define MOT_ENGINE_KV_CONTIGUOUS_KV_CACHE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/dtype.h"
#include "engine/kv/kv_cache.h"
#include "engine/kv/kv_storage.h"
#include "model_loaders/model_config.h"

namespace mot::kv {

struct ContiguousKvCacheConfig {
  int32_t num_layers = 0;
  int64_t kv_dim = 0;  // n_kv_heads * head_dim elements per position
  int32_t max_seqs = 1;
  int32_t max_seq_len = 0;
  DType dtype = DType::kF32;  // storage of keys and values
  KvStorage storage;          // unset: host memory (kv_storage.h)

  // n_layers and kv_dim from a model's config; max_seq_len 0 means config.max_seq_len.
  static ContiguousKvCacheConfig FromModelConfig(const MotConfig& config, int32_t max_seqs,
                                                 int32_t max_seq_len = 0,
                                                 DType dtype = DType::kF32) {
    return {config.n_layers, config.kv_dim(),
            max_seqs,        max_seq_len > 0 ? max_seq_len : config.max_seq_len,
            dtype,           {}};
  }
};

class ContiguousKvCache final : public KvCache {
 public:
  // A cache as `config` says. All lengths start at 0. InvalidArgument naming the field when
  // num_layers, kv_dim, max_seqs or max_seq_len is < 1; ResourceExhausted when the size
  // does not fit in memory.
  static absl::StatusOr<std::unique_ptr<ContiguousKvCache>> Create(
      const ContiguousKvCacheConfig& config);
  ~ContiguousKvCache() override;

  int32_t num_layers() const override { return config_.num_layers; }
  int64_t kv_dim() const override { return config_.kv_dim; }
  int32_t num_seqs() const override { return config_.max_seqs; }
  int32_t max_seq_len() const { return config_.max_seq_len; }
  DType dtype() const { return config_.dtype; }
  int32_t Length(int32_t seq) const override { return lengths_[static_cast<size_t>(seq)]; }
  int32_t Capacity(int32_t seq) const override { return config_.max_seq_len; }
  KvLayerView LayerView(int32_t layer) override;
  void Commit(int32_t seq, int32_t length) override;

  // Forgets sequence `seq` (length 0) so its slot can take a new sequence; the stored
  // values are left as they are and overwritten by the next steps.
  void Reset(int32_t seq);
  void ResetAll();

  // Bytes of K/V storage in all.
  int64_t bytes() const { return bytes_; }

 private:
  ContiguousKvCache(const ContiguousKvCacheConfig& config, uint8_t* external);

  ContiguousKvCacheConfig config_;
  int64_t bytes_ = 0;
  std::vector<uint8_t> storage_;          // host storage (storage unset), else empty
  uint8_t* data_ = nullptr;               // [layer][k|v][slot][pos][kv_dim] elements of dtype
  std::vector<KvPoolView> pools_;         // [layer]: the one pool of each layer
  std::vector<KvBlockEntry> entries_;     // [max_seqs]: slot s is block s, all positions
  std::vector<int32_t> seq_entry_begin_;  // 0, 1, ..., max_seqs
  std::vector<int32_t> lengths_;
};

}  // namespace mot::kv

#endif  // MOT_ENGINE_KV_CONTIGUOUS_KV_CACHE_H_
