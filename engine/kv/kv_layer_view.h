// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/kv/kv_layer_view.h
// KvLayerView: where the keys and values of one layer live, for every sequence of a step.
// Storage is an array of fixed-size blocks; a sequence's block table lists its blocks in
// position order, so position p of sequence s is at
//   block = block_table[s * max_blocks_per_seq + p / block_size]
//   k + (block * block_size + p % block_size) * kv_dim    (likewise v)
// The contiguous cache of the foundation is the special case block_size = max_seq_len with
// one block per sequence; the paged cache of the engine fills the same struct, so the model
// and the attention kernels never know which one they read.
// A plain view: it owns nothing and is valid while the cache that made it is unchanged.
#ifndef MOT_ENGINE_KV_KV_LAYER_VIEW_H_
#define MOT_ENGINE_KV_KV_LAYER_VIEW_H_

#include <cstdint>

namespace mot::kv {

struct KvLayerView {
  float* k = nullptr;                    // [num_blocks * block_size, kv_dim]
  float* v = nullptr;                    // [num_blocks * block_size, kv_dim]
  int64_t kv_dim = 0;                    // n_kv_heads * head_dim floats per position
  int32_t block_size = 0;                // positions per block
  const int32_t* block_table = nullptr;  // [num_seqs, max_blocks_per_seq] block ids
  int32_t max_blocks_per_seq = 0;

  // Offset in floats of position `pos` of sequence `seq` from k (or v).
  // REQUIRES: the block holding `pos` is allocated in the sequence's table.
  int64_t Offset(int32_t seq, int32_t pos) const {
    const int32_t block =
        block_table[static_cast<int64_t>(seq) * max_blocks_per_seq + pos / block_size];
    return (static_cast<int64_t>(block) * block_size + pos % block_size) * kv_dim;
  }
  float* KeyAt(int32_t seq, int32_t pos) const { return k + Offset(seq, pos); }
  float* ValueAt(int32_t seq, int32_t pos) const { return v + Offset(seq, pos); }
};

}  // namespace mot::kv

#endif  // MOT_ENGINE_KV_KV_LAYER_VIEW_H_
