// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/sampling/logits_processors.h
// The in-place edits of a row of logits that come before the draw (sampling_params.h gives
// the order): logit bias, then the repetition / presence / frequency penalties over the
// generated tokens. Masked logits (-inf, from the modality state machine) stay -inf under
// every one of them, so no processor can unmask a token.
// Thread rule: pure functions of their arguments; call from anywhere.
#ifndef MOT_ENGINE_SAMPLING_LOGITS_PROCESSORS_H_
#define MOT_ENGINE_SAMPLING_LOGITS_PROCESSORS_H_

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "engine/sampling/token_history.h"

namespace mot::sampling {

// logits[id] += bias for every (id, bias); an id listed twice gets both.
// REQUIRES: every id in [0, logits.size()) (SamplingParams::Validate checks it).
void ApplyLogitBias(std::span<float> logits,
                    const std::vector<std::pair<int32_t, float>>& logit_bias);

// For every id generated c > 0 times:
//   repetition (CTRL, Keskar et al. 2019): l = l > 0 ? l / r : l * r   (r = 1: unchanged)
//   then       l -= presence + frequency * c                            (OpenAI's definition)
// Ids never generated are untouched; the cost is O(distinct generated ids).
// REQUIRES: every id in `generated` is in [0, logits.size()).
void ApplyPenalties(std::span<float> logits, const TokenHistory& generated,
                    float repetition_penalty, float presence_penalty, float frequency_penalty);

}  // namespace mot::sampling

#endif  // MOT_ENGINE_SAMPLING_LOGITS_PROCESSORS_H_
