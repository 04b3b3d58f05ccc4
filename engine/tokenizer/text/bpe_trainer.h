// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/text/bpe_trainer.h
// TrainByteLevelBpe: learns a byte-level BPE from a corpus (the routine `mot-train` calls).
// Ids: the special tokens first (0..k-1, in the order given), then the 256 single bytes
// (k + byte value), then one id per new token in merge order. Steps: each corpus string is
// split on the special tokens, pre-tokenized exactly as TextTokenizer::Encode does, and the
// words are counted; then, until the vocabulary has `vocab_size` tokens or no pair occurs
// `min_frequency` times, the most frequent adjacent pair (counted over word occurrences) is
// merged everywhere, left to right without overlap. Ties go to the pair whose
// (left id, right id) is smallest, so the result depends only on the inputs.
// A merge whose result already exists as a token adds a merge rule but no token.
// Thread rule: a pure function; callable from any thread.
#ifndef MOT_ENGINE_TOKENIZER_TEXT_BPE_TRAINER_H_
#define MOT_ENGINE_TOKENIZER_TEXT_BPE_TRAINER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/text/text_tokenizer.h"

namespace mot::tokenizer {

struct BpeTrainerOptions {
  // Total tokens wanted: special tokens + 256 bytes + merges.
  int32_t vocab_size = 4096;
  // Added as special added tokens (normalized=false, no strip, not single_word).
  std::vector<std::string> special_tokens;
  // Pairs seen fewer times than this are never merged.
  int64_t min_frequency = 2;
  bool add_prefix_space = false;
};

// The trained tokenizer (Save() it to get tokenizer.json). InvalidArgument if vocab_size is
// below k + 256 or a special token is empty, not valid UTF-8 or repeated.
absl::StatusOr<std::unique_ptr<TextTokenizer>> TrainByteLevelBpe(
    std::span<const std::string> corpus, const BpeTrainerOptions& options);

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_TEXT_BPE_TRAINER_H_
