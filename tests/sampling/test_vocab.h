// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/sampling/test_vocab.h
// Small unified vocabularies for sampling tests, built from hand-made MotConfigs (the
// tokenizers themselves are not needed): the seven required specials plus `extra_specials`,
// then text, then optional image and audio code ranges.
#ifndef MOT_TESTS_SAMPLING_TEST_VOCAB_H_
#define MOT_TESTS_SAMPLING_TEST_VOCAB_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/unified_vocab.h"
#include "model_loaders/model_config.h"

namespace mot::sampling::testing {

struct VocabShape {
  int32_t extra_specials = 0;
  int32_t text = 32;   // text ids after the specials
  int32_t image = 16;  // image codes; 0: none
  int32_t audio = 8;   // audio codes; 0: none
};

inline absl::StatusOr<tokenizer::UnifiedVocab> MakeVocab(const VocabShape& shape) {
  MotConfig c;
  c.dim = 8, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 1, c.head_dim = 4, c.ffn_hidden = 8;
  c.max_seq_len = 64;
  c.modalities = {"text"};
  for (const char* s : tokenizer::kRequiredSpecialTokens) c.special_tokens.push_back(s);
  for (int32_t i = 0; i < shape.extra_specials; ++i) {
    c.special_tokens.push_back("<extra_" + std::to_string(i) + ">");
  }
  const int32_t n_special = static_cast<int32_t>(c.special_tokens.size());
  int32_t next = n_special + shape.text;
  c.vocab_ranges = {{"special", 0, n_special, 0}, {"text", n_special, next, 0}};
  if (shape.image > 0) {
    c.modalities.push_back("image");
    c.vocab_ranges.push_back({"image", next, next + shape.image, 1});
    next += shape.image;
  }
  if (shape.audio > 0) {
    c.modalities.push_back("audio");
    c.vocab_ranges.push_back(
        {"audio", next, next + shape.audio, static_cast<int32_t>(c.modalities.size()) - 1});
    next += shape.audio;
  }
  c.vocab_size = next;
  return tokenizer::UnifiedVocab::Create(c);
}

}  // namespace mot::sampling::testing

#endif  // MOT_TESTS_SAMPLING_TEST_VOCAB_H_
