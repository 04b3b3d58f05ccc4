// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/sampling/guidance.h
// Classifier-free guidance for image codes (DESIGN.md "Scheduling and sampling"): a request
// with guidance runs three linked rows per step, the conditional one (full prompt), an
// image-condition-only one and an unconditional one, and its image codes are drawn from
//   l = l_u + s_img (l_img - l_u) + s_txt (l_full - l_img)
// Every other id keeps the conditional row's logit: text, specials and audio are never
// guided, and outside an image frame the mask hides the image codes anyway.
// Evaluated as l_full + (s_txt - 1)(l_full - l_img) + (s_img - 1)(l_img - l_u), the same
// value in exact arithmetic, chosen so that a scale of 1 contributes exactly 0: scales of 1
// leave l_full bitwise unchanged (and CombineGuidance does not touch the row then).
// Thread rule: a pure function of its arguments.
#ifndef MOT_ENGINE_SAMPLING_GUIDANCE_H_
#define MOT_ENGINE_SAMPLING_GUIDANCE_H_

#include <span>

#include "engine/tokenizer/unified_vocab.h"

namespace mot::sampling {

// Writes the guided logits into `full`'s image-code range; other ids are left unchanged.
// REQUIRES: the three rows have vocab.size() entries; finite logits (a model's output).
void CombineGuidance(std::span<float> full, std::span<const float> image_only,
                     std::span<const float> unconditional, float text_scale, float image_scale,
                     const tokenizer::UnifiedVocab& vocab);

}  // namespace mot::sampling

#endif  // MOT_ENGINE_SAMPLING_GUIDANCE_H_
