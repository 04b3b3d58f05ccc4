// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/sampling/sampler.h
// SampleToken: one request's next token from its row of logits. The caller has already
// applied guidance (guidance.h) and the modality mask (modality_state.h); this applies the
// rest of sampling_params.h's order: logit bias, penalties, temperature, top-k, top-p, min-p,
// and one draw with the request's counter-based RNG (rng.h) at its token index.
//
// Determinism: the result is a pure function of (logits, params, history, token index): the
// same on any thread, in any batch, after any preemption. Ties are broken by id; sums run
// in a fixed order, in double.
// Masked logits: -inf and NaN are never sampled, whatever the processors do.
// Cost for a vocabulary V: O(V) with top-k (a k-element heap, no sort of the row) and without
// any truncation; top-p alone selects growing batches of the best ids with nth_element until
// they hold the nucleus, then sorts only those: O(V) expected plus a sort of ~4x the nucleus.
// Thread rule: pure functions; per-thread scratch only.
#ifndef MOT_ENGINE_SAMPLING_SAMPLER_H_
#define MOT_ENGINE_SAMPLING_SAMPLER_H_

#include <cstdint>
#include <span>
#include <vector>

#include "engine/sampling/sampling_params.h"
#include "engine/sampling/token_history.h"

namespace mot::sampling {

// Temperatures below this are greedy: dividing by them would overflow ordinary logits to
// inf (vLLM uses the same epsilon).
inline constexpr float kGreedyTemperature = 1e-5f;

// The truncation and draw step: what follows the logits processors.
struct DrawOptions {
  float temperature = 1.0f;  // < kGreedyTemperature: greedy
  int32_t top_k = 0;         // 0: off
  float top_p = 1.0f;        // 1: off
  float min_p = 0.0f;        // 0: off
};

// Runs the processors and the draw; `logits` is modified in place (biased, penalized and,
// unless greedy, divided by the temperature). Returns the id, or -1 when no logit is finite (every
// id masked, or NaN: a broken model row; the caller fails the request). With temperature 0 (greedy)
// returns the arg max, ties to the lowest id. A +inf logit is taken greedily (the lowest such id).
// REQUIRES: params valid for a vocabulary of logits.size() ids (SamplingParams::Validate);
// every id in `generated` is in range.
int32_t SampleToken(std::span<float> logits, const SamplingParams& params,
                    const TokenHistory& generated, uint64_t token_index);

// The draw alone with a given uniform u in [0, 1): divides `logits` by the temperature in
// place, truncates (top-k, then top-p over the renormalized top-k, then min-p relative to the
// most likely), and returns the id where the cumulative kept probability first exceeds
// u * (kept mass). -1 as SampleToken.
int32_t Draw(std::span<float> logits, const DrawOptions& options, double u);

// The ids Draw can return for these options (positive kept probability), sorted ascending;
// {arg max} when greedy; empty when no logit is finite. Same code path as Draw, for tests and
// diagnostics. Modifies `logits` as Draw does.
std::vector<int32_t> CandidateIds(std::span<float> logits, const DrawOptions& options);

}  // namespace mot::sampling

#endif  // MOT_ENGINE_SAMPLING_SAMPLER_H_
