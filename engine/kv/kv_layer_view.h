// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/kv/kv_layer_view.h
// KvLayerView: where the keys and values of one layer live, for every sequence of a step.
// Header-only and free of the KV library, so a backend reads it without linking engine/kv.
//
// Storage is a set of pools (the paged cache has one per modality); each pool is an array
// of fixed-size blocks of `block_size` slots, a slot holding one position's kv_dim keys
// (and, in the pool's V array, values) in the pool's storage dtype (f32, bf16 or f16).
// A block holds positions of one modality only, so it may be partly filled: a modality
// switch inside a sequence starts a new block.
//
// Reads: sequence s owns entries[seq_entry_begin[s] .. seq_entry_begin[s + 1]), in position
// order. Entry e covers positions e.first_pos .. e.first_pos + e.num_pos - 1, stored in
// consecutive slots e.block * block_size + (0 .. e.num_pos - 1) of pool e.pool. The entries
// of a sequence tile 0 .. Capacity(s) - 1 without gaps.
//
//   seq 0:  [pool 0 blk 7: pos 0..15] [pool 0 blk 2: pos 16..20] [pool 1 blk 4: pos 21..36] ...
//            text, full                text, cut by <boi>          image codes
//
// Writes go through a per-row KvSlot (pool, slot) computed once per step (Locate), as
// vLLM's slot_mapping: the same slots serve every layer.
//
// The contiguous cache of the foundation is the trivial case: one pool, block_size =
// max_seq_len, one entry per sequence slot covering all of it.
// A plain view: it owns nothing and is valid while the cache that made it is unchanged.
#ifndef MOT_ENGINE_KV_KV_LAYER_VIEW_H_
#define MOT_ENGINE_KV_KV_LAYER_VIEW_H_

#include <algorithm>
#include <cstdint>

#include "engine/core/dtype.h"

namespace mot::kv {

// One pool's storage for one layer: [num_blocks * block_size, kv_dim] keys and values.
struct KvPoolView {
  void* k = nullptr;
  void* v = nullptr;
  DType dtype = DType::kF32;
};

// A run of positions of one sequence in consecutive slots of one block.
struct KvBlockEntry {
  int32_t pool = 0;
  int32_t block = 0;
  int32_t first_pos = 0;
  int32_t num_pos = 0;  // 1..block_size
};

// Where one position is written: slot `slot` (= block * block_size + offset) of pool `pool`.
struct KvSlot {
  int32_t pool = 0;
  int32_t slot = 0;
};

struct KvLayerView {
  const KvPoolView* pools = nullptr;  // [num_pools], this layer's storage
  int32_t num_pools = 0;
  int64_t kv_dim = 0;      // n_kv_heads * head_dim elements per position
  int32_t block_size = 0;  // slots per block
  const KvBlockEntry* entries = nullptr;
  const int32_t* seq_entry_begin = nullptr;  // [num_seqs + 1]

  // The slot of position `pos` of sequence `seq` (binary search over its entries).
  // REQUIRES: 0 <= pos < the sequence's capacity.
  KvSlot Locate(int32_t seq, int32_t pos) const {
    const KvBlockEntry* begin = entries + seq_entry_begin[seq];
    const KvBlockEntry* end = entries + seq_entry_begin[seq + 1];
    const KvBlockEntry* e =
        std::upper_bound(begin, end, pos,
                         [](int32_t p, const KvBlockEntry& x) { return p < x.first_pos; }) -
        1;
    return KvSlot{e->pool, e->block * block_size + (pos - e->first_pos)};
  }
  // Element offset of slot `slot` from a pool's k (or v).
  int64_t SlotOffset(int32_t slot) const { return static_cast<int64_t>(slot) * kv_dim; }
  // Byte address of the keys (values) in `slot` of `pool`.
  void* KeyAt(KvSlot s) const {
    const KvPoolView& p = pools[s.pool];
    return static_cast<uint8_t*>(p.k) + SlotOffset(s.slot) * DTypeSize(p.dtype);
  }
  void* ValueAt(KvSlot s) const {
    const KvPoolView& p = pools[s.pool];
    return static_cast<uint8_t*>(p.v) + SlotOffset(s.slot) * DTypeSize(p.dtype);
  }
};

}  // namespace mot::kv

#endif  // MOT_ENGINE_KV_KV_LAYER_VIEW_H_
