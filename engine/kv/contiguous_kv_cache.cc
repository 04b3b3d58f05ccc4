// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/kv/contiguous_kv_cache.h"

#include <limits>
#include <new>
#include <numeric>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mot::kv {

absl::StatusOr<std::unique_ptr<ContiguousKvCache>> ContiguousKvCache::Create(
    const MotConfig& config, int32_t max_seqs, int32_t max_seq_len) {
  if (max_seqs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ContiguousKvCache: max_seqs must be >= 1, got ", max_seqs));
  }
  if (max_seq_len < 1 || max_seq_len > config.max_seq_len) {
    return absl::InvalidArgumentError(absl::StrCat(
        "ContiguousKvCache: max_seq_len must be in [1, config max_seq_len=", config.max_seq_len,
        "], got ", max_seq_len));
  }
  if (config.n_layers < 1 || config.kv_dim() < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("ContiguousKvCache: config needs n_layers >= 1 and kv_dim >= 1, got n_layers=",
                     config.n_layers, " kv_dim=", config.kv_dim()));
  }
  // 2 (k, v) * layers * seqs * len * kv_dim floats, checked against overflow.
  const long double floats = 2.0L * config.n_layers * max_seqs * max_seq_len * config.kv_dim();
  if (floats * 4 > static_cast<long double>(std::numeric_limits<int64_t>::max() / 2)) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "ContiguousKvCache: ", static_cast<double>(floats * 4), " bytes is too large"));
  }
  std::unique_ptr<ContiguousKvCache> cache;
  try {
    cache.reset(new ContiguousKvCache(config.n_layers, config.kv_dim(), max_seqs, max_seq_len));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(absl::StrCat("ContiguousKvCache: cannot allocate ",
                                                     static_cast<double>(floats * 4), " bytes"));
  }
  return cache;
}

ContiguousKvCache::ContiguousKvCache(int32_t num_layers, int64_t kv_dim, int32_t max_seqs,
                                     int32_t max_seq_len)
    : num_layers_(num_layers),
      kv_dim_(kv_dim),
      max_seqs_(max_seqs),
      max_seq_len_(max_seq_len),
      storage_(static_cast<size_t>(2 * int64_t{num_layers} * max_seqs * max_seq_len * kv_dim)),
      block_table_(static_cast<size_t>(max_seqs)),
      lengths_(static_cast<size_t>(max_seqs), 0) {
  std::iota(block_table_.begin(), block_table_.end(), 0);
}

KvLayerView ContiguousKvCache::LayerView(int32_t layer) {
  const int64_t half = int64_t{max_seqs_} * max_seq_len_ * kv_dim_;
  KvLayerView view;
  view.k = storage_.data() + 2 * half * layer;
  view.v = view.k + half;
  view.kv_dim = kv_dim_;
  view.block_size = max_seq_len_;
  view.block_table = block_table_.data();
  view.max_blocks_per_seq = 1;
  return view;
}

void ContiguousKvCache::Commit(int32_t seq, int32_t length) {
  lengths_[static_cast<size_t>(seq)] = length;
}

void ContiguousKvCache::Reset(int32_t seq) { lengths_[static_cast<size_t>(seq)] = 0; }

void ContiguousKvCache::ResetAll() { std::fill(lengths_.begin(), lengths_.end(), 0); }

}  // namespace mot::kv
