// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/sampling/token_history.h
// TokenHistory: how many times each id has been generated so far by one request, what the
// repetition, presence and frequency penalties read. Costs O(distinct ids) memory and
// penalty work per token, never O(vocabulary).
// The caller decides which ids count: the engine adds every generated token; a caller that
// wants penalties on text only adds only text ids.
// Thread rule: one instance per request, not shared.
#ifndef MOT_ENGINE_SAMPLING_TOKEN_HISTORY_H_
#define MOT_ENGINE_SAMPLING_TOKEN_HISTORY_H_

#include <cstdint>

#include "absl/container/flat_hash_map.h"

namespace mot::sampling {

class TokenHistory {
 public:
  void Add(int32_t id) {
    ++counts_[id];
    ++total_;
  }
  // Times `id` was added; 0 for an id never added.
  int32_t Count(int32_t id) const {
    auto it = counts_.find(id);
    return it == counts_.end() ? 0 : it->second;
  }
  // id -> count (> 0). Iteration order is unspecified; penalties are per id, so it never
  // changes a result.
  const absl::flat_hash_map<int32_t, int32_t>& counts() const { return counts_; }
  int64_t total() const { return total_; }
  void Clear() {
    counts_.clear();
    total_ = 0;
  }

 private:
  absl::flat_hash_map<int32_t, int32_t> counts_;
  int64_t total_ = 0;
};

}  // namespace mot::sampling

#endif  // MOT_ENGINE_SAMPLING_TOKEN_HISTORY_H_
