// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/sampling/sampling_params.h
// SamplingParams: how one request's next tokens are chosen, and when its generation stops.
// A plain value; Validate() checks it against a vocabulary before a request is admitted.
//
// Order of application on a row of logits (engine/sampling/sampler.h):
//   1. classifier-free guidance over image codes (guidance.h), when the request has it;
//   2. the modality state machine's mask (modality_state.h): what may come next;
//   3. logit bias; repetition, presence and frequency penalties over the generated tokens;
//   4. temperature (0 = greedy: the arg max, ties to the lowest id), then top-k, top-p,
//      min-p over the probabilities; one draw from the request's own RNG (seed, token index),
//      so a token depends only on the request, never on the batch it ran in.
#ifndef MOT_ENGINE_SAMPLING_SAMPLING_PARAMS_H_
#define MOT_ENGINE_SAMPLING_SAMPLING_PARAMS_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "engine/tokenizer/unified_vocab.h"

namespace mot::sampling {

// Bounds on stop strings: they are held back and matched on every text delta
// (stop_checker.h), so their number and length bound that work per token.
inline constexpr int kMaxStopStrings = 16;
inline constexpr int kMaxStopStringBytes = 256;

// Bit set of output modalities a request may generate.
enum ModalityBits : uint32_t {
  kText = 1u << 0,
  kImage = 1u << 1,
  kAudio = 1u << 2,
};

struct SamplingParams {
  float temperature = 1.0f;         // 0: greedy
  int32_t top_k = 0;                // 0: off
  float top_p = 1.0f;               // in (0, 1]; 1: off
  float min_p = 0.0f;               // in [0, 1); 0: off
  float repetition_penalty = 1.0f;  // > 0; 1: off (CTRL-style: divide positive logits)
  float presence_penalty = 0.0f;
  float frequency_penalty = 0.0f;
  std::vector<std::pair<int32_t, float>> logit_bias;  // (token id, added logit)
  uint64_t seed = 0;

  // Stops: an <eos> always stops; also any of these ids, or text containing any stop string
  // (the text before the stop string is kept, the stop string is not).
  std::vector<int32_t> stop_ids;
  std::vector<std::string> stop_strings;

  // Limits on generated tokens: in total, and per modality (text tokens incl. specials,
  // image tokens incl. <boi>/<eoi>, audio tokens incl. <boa>/<eoa>); 0 = no per-modality limit.
  int32_t max_new_tokens = 256;
  int32_t max_text_tokens = 0;
  int32_t max_image_tokens = 0;
  int32_t max_audio_tokens = 0;

  // Output modalities (ModalityBits); text alone by default.
  uint32_t allowed_modalities = kText;
  // Start the output with <boi> (text-to-image) or <boa> (text-to-speech).
  bool force_image_start = false;
  bool force_audio_start = false;
  // Audio: at most this many codes between <boa> and <eoa> (then <eoa> is forced); 0: the
  // audio tokenizer's default duration limit.
  int32_t max_audio_codes = 0;

  // Classifier-free guidance for image codes (DESIGN.md "Scheduling and sampling"):
  //   l = l_u + image_guidance (l_img - l_u) + text_guidance (l_full - l_img)
  // Both 1: no guidance rows run (the plain conditional tokens).
  float text_guidance = 1.0f;
  float image_guidance = 1.0f;

  bool uses_guidance() const { return text_guidance != 1.0f || image_guidance != 1.0f; }

  // OK, or InvalidArgument naming the field ("sampling.top_p: must be in (0, 1], got 1.5")
  // for: a value out of range or not finite; a logit_bias or stop id outside the vocabulary,
  // or a stop id that is an image/audio code (a stop inside a frame would cut it short); an
  // empty, over-long (kMaxStopStringBytes) or non-UTF-8 stop string, or more than
  // kMaxStopStrings; max_new_tokens < 1; no allowed modality, an unknown bit, or an allowed
  // modality the vocabulary lacks; a forced start of a modality that is not allowed, or of
  // both; guidance when images are not allowed (it acts on image codes only).
  // With `tokens_per_image` > 0 (the image tokenizer's; 0: unknown, those checks skipped), also
  // limits that can never hold one whole image (<boi>, the codes, <eoi>) when images are
  // allowed: max_image_tokens, and max_new_tokens when the image start is forced. Audio
  // likewise with its smallest clip (<boa>, one code, <eoa>).
  absl::Status Validate(const tokenizer::UnifiedVocab& vocab, int32_t tokens_per_image = 0) const;
};

}  // namespace mot::sampling

#endif  // MOT_ENGINE_SAMPLING_SAMPLING_PARAMS_H_
