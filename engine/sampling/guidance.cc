// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/sampling/guidance.h"

#include <cassert>

namespace mot::sampling {

void CombineGuidance(std::span<float> full, std::span<const float> image_only,
                     std::span<const float> unconditional, float text_scale, float image_scale,
                     const tokenizer::UnifiedVocab& vocab) {
  assert(full.size() == static_cast<size_t>(vocab.size()));
  assert(image_only.size() == full.size() && unconditional.size() == full.size());
  if ((text_scale == 1.0f && image_scale == 1.0f) || !vocab.has_image()) return;
  const float dt = text_scale - 1.0f;
  const float di = image_scale - 1.0f;
  const size_t begin = static_cast<size_t>(vocab.ImageCodeToId(0));
  const size_t end = static_cast<size_t>(vocab.ImageCodeToId(vocab.image_codebook_size()));
  for (size_t i = begin; i < end; ++i) {
    const float f = full[i], m = image_only[i], u = unconditional[i];
    full[i] = f + dt * (f - m) + di * (m - u);
  }
}

}  // namespace mot::sampling
