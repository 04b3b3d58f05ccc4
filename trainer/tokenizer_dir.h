// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/tokenizer_dir.h
// A tokenizer directory: what `mot-train tokenizers` writes and model training completes
// into a checkpoint (DESIGN.md "Checkpoints"):
//   tokenizer.json                text BPE (ids 0..6 are the special tokens)
//   image_tokenizer.safetensors   when the data has images
//   audio_tokenizer.safetensors   when the data has audio
//   config.json                   the vocabulary section only: format, format_version,
//                                 modalities, vocab_size, vocab_ranges, special_tokens,
//                                 spelled as in a full config.json (model_config.h); model
//                                 training adds the model fields and writes a checkpoint.
// The unified vocabulary: special [0, 7), text [7, T), image [T, T + image codes),
// audio [.., + audio codes), towers text=0, image=1, audio=2 (those present, in that order).
// Thread rule: free functions.
#ifndef MOT_TRAINER_TOKENIZER_DIR_H_
#define MOT_TRAINER_TOKENIZER_DIR_H_

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/prompt_builder.h"
#include "model_loaders/model_config.h"

namespace mot::trainer {

// A config whose vocabulary fields describe `text_vocab` text-tokenizer ids (special tokens
// included) then `image_codes` and `audio_codes` codes (0: no such modality); the model
// fields are left at their zero defaults. REQUIRES: text_vocab > 7, codes >= 0.
MotConfig MakeVocabConfig(int32_t text_vocab, int32_t image_codes, int32_t audio_codes);

// config.json text holding only the vocabulary fields of `config`.
std::string VocabConfigToJson(const MotConfig& config);

// Reads a config.json: a full one (with "dim") is parsed and validated as ParseMotConfig
// does; a vocabulary-only one gets the same validation of its vocabulary fields and zero
// model fields. Errors name the path and the field.
absl::StatusOr<MotConfig> LoadVocabConfig(const std::string& path);

// A prompt builder from `dir`: a full checkpoint (it has manifest.json: Checkpoint::Open +
// PromptBuilder::FromCheckpoint) or a tokenizer directory (config.json + the tokenizer
// files, checked to fit the vocabulary). `max_tokens` bounds one prompt (0: the checkpoint's
// max_seq_len; a tokenizer directory has none, so 0 means 1<<20). Errors name the file.
absl::StatusOr<std::unique_ptr<tokenizer::PromptBuilder>> LoadPromptBuilder(const std::string& dir,
                                                                            int64_t max_tokens = 0);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_TOKENIZER_DIR_H_
