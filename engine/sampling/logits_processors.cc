// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/sampling/logits_processors.h"

#include <cassert>

namespace mot::sampling {

void ApplyLogitBias(std::span<float> logits,
                    const std::vector<std::pair<int32_t, float>>& logit_bias) {
  for (const auto& [id, bias] : logit_bias) {
    assert(id >= 0 && static_cast<size_t>(id) < logits.size());
    logits[static_cast<size_t>(id)] += bias;
  }
}

void ApplyPenalties(std::span<float> logits, const TokenHistory& generated,
                    float repetition_penalty, float presence_penalty, float frequency_penalty) {
  const bool repetition = repetition_penalty != 1.0f;
  const bool additive = presence_penalty != 0.0f || frequency_penalty != 0.0f;
  if (!repetition && !additive) return;
  for (const auto& [id, count] : generated.counts()) {
    assert(id >= 0 && static_cast<size_t>(id) < logits.size());
    float& l = logits[static_cast<size_t>(id)];
    if (repetition) l = l > 0.0f ? l / repetition_penalty : l * repetition_penalty;
    if (additive) {
      l -= presence_penalty + frequency_penalty * static_cast<float>(count);
    }
  }
}

}  // namespace mot::sampling
