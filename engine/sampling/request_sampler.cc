// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/sampling/request_sampler.h"

#include <cassert>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "engine/sampling/sampler.h"

namespace mot::sampling {

absl::StatusOr<RequestSampler> RequestSampler::Create(const SamplingParams& params,
                                                      const tokenizer::UnifiedVocab* vocab,
                                                      int32_t tokens_per_image,
                                                      int32_t default_max_audio_codes) {
  assert(vocab != nullptr);
  MOT_RETURN_IF_ERROR(params.Validate(*vocab, tokens_per_image));
  if ((params.allowed_modalities & kImage) && tokens_per_image < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("sampling.allowed_modalities: images allowed but the image tokenizer gives ",
                     tokens_per_image, " codes per image"));
  }
  return RequestSampler(
      params, vocab, ModalityRules::FromParams(params, tokens_per_image, default_max_audio_codes));
}

absl::StatusOr<int32_t> RequestSampler::Next(std::span<float> logits) {
  modality_.Mask(logits);
  const int32_t id = SampleToken(logits, params_, history_, static_cast<uint64_t>(generated_));
  if (id < 0) {
    return absl::InternalError(absl::StrCat("sampling: no token can be sampled at generated token ",
                                            generated_, " (every allowed logit is -inf or NaN)"));
  }
  MOT_RETURN_IF_ERROR(Accept(id));
  return id;
}

absl::Status RequestSampler::Accept(int32_t id) {
  MOT_RETURN_IF_ERROR(modality_.Advance(id));
  if (!vocab_->IsImageCode(id) && !vocab_->IsAudioCode(id)) history_.Add(id);
  ++generated_;
  return absl::OkStatus();
}

}  // namespace mot::sampling
