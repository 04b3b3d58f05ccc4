// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/kv/contiguous_kv_cache.h
// ContiguousKvCache: the foundation's KV cache. For each layer, f32 keys and values of
// max_seqs sequence slots, each slot a contiguous [max_seq_len, kv_dim] region. Its views
// are KvLayerView with block_size = max_seq_len and one block per sequence (block id = slot),
// the special case of the paged layout. Memory is allocated once, at Create.
// Thread rule: engine thread only.
#ifndef MOT_ENGINE_KV_CONTIGUOUS_KV_CACHE_H_
#define MOT_ENGINE_KV_CONTIGUOUS_KV_CACHE_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/kv/kv_cache.h"
#include "model_loaders/model_config.h"

namespace mot::kv {

class ContiguousKvCache final : public KvCache {
 public:
  // A cache for `max_seqs` sequences of up to `max_seq_len` positions each, sized from
  // config's n_layers and kv_dim. All lengths start at 0. InvalidArgument (naming the
  // argument) when max_seqs < 1, max_seq_len < 1 or max_seq_len > config.max_seq_len;
  // ResourceExhausted when the size does not fit in memory.
  static absl::StatusOr<std::unique_ptr<ContiguousKvCache>> Create(const MotConfig& config,
                                                                   int32_t max_seqs,
                                                                   int32_t max_seq_len);

  int32_t num_layers() const override { return num_layers_; }
  int64_t kv_dim() const override { return kv_dim_; }
  int32_t num_seqs() const override { return max_seqs_; }
  int32_t max_seq_len() const { return max_seq_len_; }
  int32_t Length(int32_t seq) const override { return lengths_[static_cast<size_t>(seq)]; }
  int32_t Capacity(int32_t seq) const override { return max_seq_len_; }
  KvLayerView LayerView(int32_t layer) override;
  void Commit(int32_t seq, int32_t length) override;

  // Forgets sequence `seq` (length 0) so its slot can take a new sequence; the stored
  // values are left as they are and overwritten by the next steps.
  void Reset(int32_t seq);
  void ResetAll();

  // Bytes of K/V storage in all.
  int64_t bytes() const { return static_cast<int64_t>(storage_.size()) * 4; }

 private:
  ContiguousKvCache(int32_t num_layers, int64_t kv_dim, int32_t max_seqs, int32_t max_seq_len);

  int32_t num_layers_;
  int64_t kv_dim_;
  int32_t max_seqs_;
  int32_t max_seq_len_;
  std::vector<float> storage_;        // [layer][k|v][slot][pos][kv_dim]
  std::vector<int32_t> block_table_;  // [max_seqs]: slot s uses block s
  std::vector<int32_t> lengths_;
};

}  // namespace mot::kv

#endif  // MOT_ENGINE_KV_CONTIGUOUS_KV_CACHE_H_
