// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/kv/kv_cache.h
// KvCache: what the model needs from a KV cache during one step: for every layer a
// KvLayerView (where position p of sequence s is stored), and per sequence slot how many
// positions are already cached (Length) and how many it can hold (Capacity). The model
// writes this step's keys/values through the views and then calls Commit to advance the
// lengths. Every layer's view has the same entries, seq_entry_begin and block_size (only
// the pools' storage differs), so the model locates a step's write slots once, in layer
// 0's view, and reuses them for every layer. The contiguous cache of the foundation
// (contiguous_kv_cache.h) and the paged cache of the engine implement it, so the model never knows
// which one it reads. Thread rule: engine thread only; views are valid until the cache is changed.
#ifndef MOT_ENGINE_KV_KV_CACHE_H_
#define MOT_ENGINE_KV_KV_CACHE_H_

#include <cstdint>

#include "engine/kv/kv_layer_view.h"

namespace mot::kv {

class KvCache {
 public:
  virtual ~KvCache() = default;

  virtual int32_t num_layers() const = 0;
  virtual int64_t kv_dim() const = 0;    // n_kv_heads * head_dim elements per position
  virtual int32_t num_seqs() const = 0;  // sequence slots are 0..num_seqs()-1

  // Positions 0..Length(seq)-1 of `seq` hold valid keys/values.
  // REQUIRES: 0 <= seq < num_seqs().
  virtual int32_t Length(int32_t seq) const = 0;
  // Positions 0..Capacity(seq)-1 of `seq` have storage (may be written).
  virtual int32_t Capacity(int32_t seq) const = 0;

  // The storage of `layer` for every sequence slot. REQUIRES: 0 <= layer < num_layers().
  virtual KvLayerView LayerView(int32_t layer) = 0;

  // Marks positions 0..length-1 of `seq` valid (after the model wrote them).
  // REQUIRES: 0 <= length <= Capacity(seq).
  virtual void Commit(int32_t seq, int32_t length) = 0;
};

}  // namespace mot::kv

#endif  // MOT_ENGINE_KV_KV_CACHE_H_
