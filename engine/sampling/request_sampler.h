// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/sampling/request_sampler.h
// RequestSampler: everything one request needs to pick its next tokens, in the order of
// sampling_params.h: the modality state machine's mask, then SampleToken (bias, penalties,
// temperature, truncation, the draw at the request's own token index), then the state
// update. Guidance (guidance.h) needs the request's linked rows, so the caller combines them
// into the conditional row before Next(). Stop checks (stop_checker.h) stay separate: they
// read the detokenized text, which the engine produces.
//
//   auto s = RequestSampler::Create(params, &vocab, image_tok.tokens_per_image(), max_codes);
//   each step:  MOT_ASSIGN_OR_RETURN(int32_t id, s->Next(row));
//
// The token index of the n-th generated token is n (0-based), so a request preempted and
// resumed with the same RequestSampler draws the same numbers it would have drawn.
// Penalties count generated text-tower ids only (text and specials): image and audio codes
// repeat by nature (a flat sky, a held tone), and a penalty meant against repeated words
// would smear them.
// Thread rule: one instance per request, used by one thread at a time (the engine loop);
// `vocab` must outlive it.
#ifndef MOT_ENGINE_SAMPLING_REQUEST_SAMPLER_H_
#define MOT_ENGINE_SAMPLING_REQUEST_SAMPLER_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/sampling/modality_state.h"
#include "engine/sampling/sampling_params.h"
#include "engine/sampling/token_history.h"
#include "engine/tokenizer/unified_vocab.h"

namespace mot::sampling {

class RequestSampler {
 public:
  // Validates `params` (SamplingParams::Validate with tokens_per_image) and builds the state.
  // `default_max_audio_codes`: codes per clip when params.max_audio_codes is 0 (the audio
  // tokenizer's duration limit times its codes per second; 0: only budgets limit a clip).
  // InvalidArgument naming the field for bad params.
  static absl::StatusOr<RequestSampler> Create(const SamplingParams& params,
                                               const tokenizer::UnifiedVocab* vocab,
                                               int32_t tokens_per_image,
                                               int32_t default_max_audio_codes);

  // Picks the next token from `logits` (the request's row, guidance already combined;
  // modified in place) and records it. Internal when no id can be sampled (every allowed
  // logit is -inf or NaN: a broken model row); the state is unchanged then.
  // REQUIRES: logits.size() == vocab size.
  absl::StatusOr<int32_t> Next(std::span<float> logits);

  // Records `id` without sampling (e.g. a token chosen elsewhere, or rebuilding the state
  // from a stored output). FailedPrecondition when the state machine forbids it.
  absl::Status Accept(int32_t id);

  const SamplingParams& params() const { return params_; }
  const ModalityStateMachine& modality() const { return modality_; }
  const TokenHistory& history() const { return history_; }
  // Tokens generated so far = the token index of the next draw.
  int64_t generated() const { return generated_; }

 private:
  RequestSampler(const SamplingParams& params, const tokenizer::UnifiedVocab* vocab,
                 const ModalityRules& rules)
      : vocab_(vocab), params_(params), modality_(vocab, rules) {}

  const tokenizer::UnifiedVocab* vocab_;
  SamplingParams params_;
  ModalityStateMachine modality_;
  TokenHistory history_;
  int64_t generated_ = 0;
};

}  // namespace mot::sampling

#endif  // MOT_ENGINE_SAMPLING_REQUEST_SAMPLER_H_
