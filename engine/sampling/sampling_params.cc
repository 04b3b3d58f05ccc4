// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/sampling/sampling_params.h"

#include <cmath>
#include <string>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "engine/tokenizer/text/utf8.h"

namespace mot::sampling {
namespace {

absl::Status Bad(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat("sampling.", field, ": ", what));
}

// The smallest audio frame: <boa>, one code, <eoa>. An image frame is always
// tokens_per_image + 2 tokens.
constexpr int32_t kMinAudioFrameTokens = 3;

absl::Status CheckTokenId(const tokenizer::UnifiedVocab& vocab, absl::string_view field,
                          int32_t id) {
  if (!vocab.InRange(id)) {
    return Bad(field, absl::StrCat("token id must be in [0, ", vocab.size(), "), got ", id));
  }
  return absl::OkStatus();
}

absl::Status ValidateProcessors(const SamplingParams& p, const tokenizer::UnifiedVocab& vocab) {
  if (!std::isfinite(p.temperature) || p.temperature < 0.0f) {
    return Bad("temperature", absl::StrCat("must be finite and >= 0, got ", p.temperature));
  }
  if (p.top_k < 0) return Bad("top_k", absl::StrCat("must be >= 0 (0: off), got ", p.top_k));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) {
    return Bad("top_p", absl::StrCat("must be in (0, 1], got ", p.top_p));
  }
  if (!(p.min_p >= 0.0f && p.min_p < 1.0f)) {
    return Bad("min_p", absl::StrCat("must be in [0, 1), got ", p.min_p));
  }
  if (!std::isfinite(p.repetition_penalty) || p.repetition_penalty <= 0.0f) {
    return Bad("repetition_penalty",
               absl::StrCat("must be finite and > 0 (1: off), got ", p.repetition_penalty));
  }
  // The OpenAI API's range, which vLLM also enforces: beyond it a penalty swamps the logits.
  if (!(p.presence_penalty >= -2.0f && p.presence_penalty <= 2.0f)) {
    return Bad("presence_penalty", absl::StrCat("must be in [-2, 2], got ", p.presence_penalty));
  }
  if (!(p.frequency_penalty >= -2.0f && p.frequency_penalty <= 2.0f)) {
    return Bad("frequency_penalty", absl::StrCat("must be in [-2, 2], got ", p.frequency_penalty));
  }
  for (size_t i = 0; i < p.logit_bias.size(); ++i) {
    const std::string field = absl::StrCat("logit_bias[", i, "]");
    MOT_RETURN_IF_ERROR(CheckTokenId(vocab, field, p.logit_bias[i].first));
    if (!std::isfinite(p.logit_bias[i].second)) {
      return Bad(field, absl::StrCat("bias must be finite, got ", p.logit_bias[i].second));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateStops(const SamplingParams& p, const tokenizer::UnifiedVocab& vocab) {
  for (size_t i = 0; i < p.stop_ids.size(); ++i) {
    const std::string field = absl::StrCat("stop_ids[", i, "]");
    const int32_t id = p.stop_ids[i];
    MOT_RETURN_IF_ERROR(CheckTokenId(vocab, field, id));
    if (vocab.IsImageCode(id) || vocab.IsAudioCode(id)) {
      return Bad(field, absl::StrCat("id ", id,
                                     " is an image or audio code; stop ids must be text or "
                                     "special tokens"));
    }
  }
  if (p.stop_strings.size() > static_cast<size_t>(kMaxStopStrings)) {
    return Bad("stop_strings",
               absl::StrCat("at most ", kMaxStopStrings, " allowed, got ", p.stop_strings.size()));
  }
  for (size_t i = 0; i < p.stop_strings.size(); ++i) {
    const std::string field = absl::StrCat("stop_strings[", i, "]");
    const std::string& s = p.stop_strings[i];
    if (s.empty()) return Bad(field, "must not be empty");
    if (s.size() > static_cast<size_t>(kMaxStopStringBytes)) {
      return Bad(field, absl::StrCat("at most ", kMaxStopStringBytes, " bytes, got ", s.size()));
    }
    if (!tokenizer::IsValidUtf8(s)) return Bad(field, "must be valid UTF-8");
  }
  return absl::OkStatus();
}

absl::Status ValidateLimits(const SamplingParams& p, const tokenizer::UnifiedVocab& vocab,
                            int32_t tokens_per_image) {
  if (p.max_new_tokens < 1) {
    return Bad("max_new_tokens", absl::StrCat("must be >= 1, got ", p.max_new_tokens));
  }
  const std::pair<const char*, int32_t> per_modality[] = {{"max_text_tokens", p.max_text_tokens},
                                                          {"max_image_tokens", p.max_image_tokens},
                                                          {"max_audio_tokens", p.max_audio_tokens},
                                                          {"max_audio_codes", p.max_audio_codes}};
  for (const auto& [field, value] : per_modality) {
    if (value < 0) return Bad(field, absl::StrCat("must be >= 0 (0: no limit), got ", value));
  }

  const uint32_t allowed = p.allowed_modalities;
  if ((allowed & ~uint32_t{kText | kImage | kAudio}) != 0) {
    return Bad("allowed_modalities", absl::StrCat("unknown modality bits in ", allowed));
  }
  if (allowed == 0) return Bad("allowed_modalities", "at least one modality must be allowed");
  if ((allowed & kImage) && !vocab.has_image()) {
    return Bad("allowed_modalities",
               "image output asked for, but the vocabulary has no image codes");
  }
  if ((allowed & kAudio) && !vocab.has_audio()) {
    return Bad("allowed_modalities",
               "audio output asked for, but the vocabulary has no audio codes");
  }
  if (p.force_image_start && !(allowed & kImage)) {
    return Bad("force_image_start", "images are not in allowed_modalities");
  }
  if (p.force_audio_start && !(allowed & kAudio)) {
    return Bad("force_audio_start", "audio is not in allowed_modalities");
  }
  if (p.force_image_start && p.force_audio_start) {
    return Bad("force_audio_start", "cannot force both an image and an audio start");
  }

  if ((allowed & kImage) && tokens_per_image > 0) {
    const int32_t frame = tokens_per_image + 2;
    if (p.max_image_tokens != 0 && p.max_image_tokens < frame) {
      return Bad(
          "max_image_tokens",
          absl::StrCat("must be 0 or >= ", frame, " (one whole image: <boi>, ", tokens_per_image,
                       " codes, <eoi>) when images are allowed, got ", p.max_image_tokens));
    }
    if (p.force_image_start && p.max_new_tokens < frame) {
      return Bad(
          "max_new_tokens",
          absl::StrCat("must be >= ", frame, " to hold the forced image, got ", p.max_new_tokens));
    }
  }
  if (allowed & kAudio) {
    if (p.max_audio_tokens != 0 && p.max_audio_tokens < kMinAudioFrameTokens) {
      return Bad(
          "max_audio_tokens",
          absl::StrCat("must be 0 or >= ", kMinAudioFrameTokens,
                       " (<boa>, a code, <eoa>) when audio is allowed, got ", p.max_audio_tokens));
    }
    if (p.force_audio_start && p.max_new_tokens < kMinAudioFrameTokens) {
      return Bad("max_new_tokens",
                 absl::StrCat("must be >= ", kMinAudioFrameTokens,
                              " to hold the forced audio, got ", p.max_new_tokens));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateGuidance(const SamplingParams& p) {
  if (!std::isfinite(p.text_guidance)) {
    return Bad("text_guidance", absl::StrCat("must be finite, got ", p.text_guidance));
  }
  if (!std::isfinite(p.image_guidance)) {
    return Bad("image_guidance", absl::StrCat("must be finite, got ", p.image_guidance));
  }
  if (p.uses_guidance() && !(p.allowed_modalities & kImage)) {
    return Bad(p.text_guidance != 1.0f ? "text_guidance" : "image_guidance",
               "guidance acts on image codes only, but images are not in allowed_modalities");
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status SamplingParams::Validate(const tokenizer::UnifiedVocab& vocab,
                                      int32_t tokens_per_image) const {
  MOT_RETURN_IF_ERROR(ValidateProcessors(*this, vocab));
  MOT_RETURN_IF_ERROR(ValidateStops(*this, vocab));
  MOT_RETURN_IF_ERROR(ValidateLimits(*this, vocab, tokens_per_image));
  return ValidateGuidance(*this);
}

}  // namespace mot::sampling
