// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/prompt_builder.h
// PromptBuilder: interleaved text, image and audio parts -> one token sequence with a tower
// (modality id) and a position per token, and the reverse, generated ids -> output parts.
//   text part   -> the text BPE's ids (special-token names in user text are NOT parsed: a
//                  user who types "<boi>" gets the characters, never the control token)
//   image part  -> <boi> tokens_per_image image codes <eoi>
//   audio part  -> <boa> audio codes (tokens_per_second x duration) <eoa>
// Ids are those of the unified vocabulary (unified_vocab.h); towers come from its table.
// Every error names the part by index and modality ("part 2 (image): ...") and the reason:
// an empty part, a part over its limit (text bytes, image bytes/pixels, audio bytes/
// duration), undecodable data, a modality the checkpoint has no tokenizer for, or a prompt
// longer than max_tokens.
// Thread rule: immutable after creation; const methods from any thread.
#ifndef MOT_ENGINE_TOKENIZER_PROMPT_BUILDER_H_
#define MOT_ENGINE_TOKENIZER_PROMPT_BUILDER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/tokenizer/audio/audio_tokenizer.h"
#include "engine/tokenizer/image/image_tokenizer.h"
#include "engine/tokenizer/text/text_tokenizer.h"
#include "engine/tokenizer/unified_vocab.h"
#include "model_loaders/checkpoint.h"

namespace mot::tokenizer {

enum class Modality { kText, kImage, kAudio };
const char* ModalityName(Modality m);

// One part of a request or a response: text as UTF-8 (any bytes are accepted on input),
// an image as encoded bytes (any stb_image format in, PNG out), audio as encoded bytes
// (any libsndfile format in, 16-bit WAV out).
struct Part {
  Modality modality = Modality::kText;
  std::string data;
};

struct PromptLimits {
  int64_t max_parts = 256;
  // Whole prompt, framing tokens included; 0 means the model's max_seq_len.
  int64_t max_tokens = 0;
  // Per text part (ResourceExhausted beyond it).
  int64_t max_text_bytes = int64_t{1} << 20;
  // Per image and audio part: the tokenizers' own limits (ImageLimits, AudioLimits), set
  // when they are loaded.
};

struct PromptOptions {
  // Start with <bos> when the vocabulary's model does (UnifiedVocab::adds_bos(): always for
  // MoT checkpoints; what the model's own tokenizer does for an imported one).
  bool add_bos = true;
  int32_t start_position = 0;  // position of the first token (continuing a sequence)
  // Recognise special tokens written in text parts. Only for text a chat template rendered
  // (as transformers' apply_chat_template tokenizes it); user text never makes control
  // tokens, so the default is false.
  bool parse_special = false;
};

// The model's input for one sequence: ids[i] with tower towers[i] at positions[i].
struct Prompt {
  std::vector<int32_t> ids;
  std::vector<uint8_t> towers;
  std::vector<int32_t> positions;
};

class PromptBuilder {
 public:
  // Loads tokenizer.json (required), image_tokenizer.safetensors and
  // audio_tokenizer.safetensors (each required when the vocabulary has that range) from the
  // checkpoint, and checks that they fit the vocabulary (CheckFits). With special_token_ids
  // (an imported text model), tokenizer.json's ids are the model's: it may have fewer ids
  // than vocab_size, and must have a token at every id special_token_ids names.
  static absl::StatusOr<std::unique_ptr<PromptBuilder>> FromCheckpoint(
      const Checkpoint& checkpoint, const PromptLimits& limits = {});

  // Assembles a builder from loaded parts (image/audio may be null when the vocabulary has no
  // such range). InvalidArgument when a tokenizer does not fit the vocabulary.
  static absl::StatusOr<std::unique_ptr<PromptBuilder>> Create(
      const MotConfig& config, std::unique_ptr<TextTokenizer> text,
      std::unique_ptr<ImageTokenizer> image, std::unique_ptr<AudioTokenizer> audio,
      const PromptLimits& limits = {});

  // The prompt for `parts` in order. Errors name the part; nothing is returned partially.
  absl::StatusOr<Prompt> Build(std::span<const Part> parts,
                               const PromptOptions& options = {}) const;

  // Generated ids -> parts: runs of text and special tokens become one text part (<pad>,
  // <bos>, <eos> and other specials are dropped; <eos>, or any id of UnifiedVocab::eos_ids(),
  // ends the output), <boi> codes <eoi>
  // one PNG, <boa> codes <eoa> one WAV. InvalidArgument naming the index for an id outside
  // the vocabulary, a code outside its frame, a frame left open, or an image with the wrong
  // number of codes.
  absl::StatusOr<std::vector<Part>> ToParts(std::span<const int32_t> ids) const;

  const UnifiedVocab& vocab() const { return vocab_; }
  const TextTokenizer& text() const { return *text_; }
  const ImageTokenizer* image() const { return image_.get(); }
  const AudioTokenizer* audio() const { return audio_.get(); }

 private:
  PromptBuilder(UnifiedVocab vocab, int32_t max_seq_len, PromptLimits limits)
      : vocab_(std::move(vocab)), max_seq_len_(max_seq_len), limits_(limits) {}

  // Appends the ids of one part. `label` is "part 2 (image)".
  absl::Status AppendPart(const Part& part, const std::string& label, bool parse_special,
                          std::vector<int32_t>* ids) const;

  UnifiedVocab vocab_;
  int32_t max_seq_len_;
  PromptLimits limits_;
  std::unique_ptr<TextTokenizer> text_;
  std::unique_ptr<ImageTokenizer> image_;
  std::unique_ptr<AudioTokenizer> audio_;
};

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_PROMPT_BUILDER_H_
