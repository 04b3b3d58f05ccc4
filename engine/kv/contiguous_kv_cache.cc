// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/kv/contiguous_kv_cache.h"

#include <algorithm>
#include <limits>
#include <new>
#include <numeric>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"

namespace mot::kv {

absl::StatusOr<std::unique_ptr<ContiguousKvCache>> ContiguousKvCache::Create(
    const ContiguousKvCacheConfig& config) {
  const auto check = [](const char* field, int64_t value) -> absl::Status {
    if (value >= 1) return absl::OkStatus();
    return absl::InvalidArgumentError(
        absl::StrCat("ContiguousKvCache: ", field, " must be >= 1, got ", value));
  };
  MOT_RETURN_IF_ERROR(check("num_layers", config.num_layers));
  MOT_RETURN_IF_ERROR(check("kv_dim", config.kv_dim));
  MOT_RETURN_IF_ERROR(check("max_seqs", config.max_seqs));
  MOT_RETURN_IF_ERROR(check("max_seq_len", config.max_seq_len));
  if (IsBlockDType(config.dtype)) {
    return absl::InvalidArgumentError(
        absl::StrCat("ContiguousKvCache: dtype ", DTypeName(config.dtype),
                     " is a weight-only block dtype (KV storage: F32, BF16 or F16)"));
  }
  // 2 (k, v) * layers * seqs * len * kv_dim elements, checked against overflow.
  const long double bytes = 2.0L * config.num_layers * config.max_seqs * config.max_seq_len *
                            static_cast<long double>(config.kv_dim) * DTypeSize(config.dtype);
  if (bytes > static_cast<long double>(std::numeric_limits<int64_t>::max() / 2)) {
    return absl::ResourceExhaustedError(
        absl::StrCat("ContiguousKvCache: ", static_cast<double>(bytes), " bytes is too large"));
  }
  std::unique_ptr<ContiguousKvCache> cache;
  if (config.storage.is_set()) {
    MOT_ASSIGN_OR_RETURN(void* data, config.storage.allocate(static_cast<int64_t>(bytes)));
    cache.reset(new ContiguousKvCache(config, static_cast<uint8_t*>(data)));
    return cache;
  }
  try {
    cache.reset(new ContiguousKvCache(config, nullptr));
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        absl::StrCat("ContiguousKvCache: cannot allocate ", static_cast<double>(bytes), " bytes"));
  }
  return cache;
}

ContiguousKvCache::ContiguousKvCache(const ContiguousKvCacheConfig& config, uint8_t* external)
    : config_(config),
      bytes_(2 * int64_t{config.num_layers} * config.max_seqs * config.max_seq_len * config.kv_dim *
             DTypeSize(config.dtype)),
      storage_(external != nullptr ? 0 : static_cast<size_t>(bytes_)),
      data_(external != nullptr ? external : storage_.data()),
      pools_(static_cast<size_t>(config.num_layers)),
      entries_(static_cast<size_t>(config.max_seqs)),
      seq_entry_begin_(static_cast<size_t>(config.max_seqs) + 1),
      lengths_(static_cast<size_t>(config.max_seqs), 0) {
  const int64_t half =
      int64_t{config.max_seqs} * config.max_seq_len * config.kv_dim * DTypeSize(config.dtype);
  for (int32_t layer = 0; layer < config.num_layers; ++layer) {
    KvPoolView& p = pools_[static_cast<size_t>(layer)];
    p.k = data_ + 2 * half * layer;
    p.v = static_cast<uint8_t*>(p.k) + half;
    p.dtype = config.dtype;
  }
  for (int32_t s = 0; s < config.max_seqs; ++s) {
    entries_[static_cast<size_t>(s)] = KvBlockEntry{0, s, 0, config.max_seq_len};
  }
  std::iota(seq_entry_begin_.begin(), seq_entry_begin_.end(), 0);
}

ContiguousKvCache::~ContiguousKvCache() {
  if (storage_.empty() && data_ != nullptr && config_.storage.free) config_.storage.free(data_);
}

KvLayerView ContiguousKvCache::LayerView(int32_t layer) {
  KvLayerView view;
  view.pools = &pools_[static_cast<size_t>(layer)];
  view.num_pools = 1;
  view.kv_dim = config_.kv_dim;
  view.block_size = config_.max_seq_len;
  view.entries = entries_.data();
  view.seq_entry_begin = seq_entry_begin_.data();
  return view;
}

void ContiguousKvCache::Commit(int32_t seq, int32_t length) {
  lengths_[static_cast<size_t>(seq)] = length;
}

void ContiguousKvCache::Reset(int32_t seq) { lengths_[static_cast<size_t>(seq)] = 0; }

void ContiguousKvCache::ResetAll() { std::fill(lengths_.begin(), lengths_.end(), 0); }

}  // namespace mot::kv
