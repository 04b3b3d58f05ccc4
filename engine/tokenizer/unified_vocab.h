// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/unified_vocab.h
// UnifiedVocab: the one id space the model sees (DESIGN.md "Unified vocabulary and modality
// masks"), read from config.json's vocab ranges and special token names:
//   [0, n_special)           special tokens, config.special_tokens[i] has id i (text tower)
//   [text.begin, text.end)   text tokens: the text BPE's ids, which start after its own
//                            copies of the special tokens (so a text id *is* a unified id)
//   [image.begin, image.end) image codes 0..K-1 at image.begin + code (image tower)
//   [audio.begin, audio.end) audio codes likewise (audio tower)
// Ranges are found by name ("special", "text", "image", "audio"); "image" and "audio" are
// optional (a text-only or text+image model). A token's tower is one table lookup, so
// modality masks cost nothing to build.
// Thread rule: immutable after Create; const methods from any thread.
#ifndef MOT_ENGINE_TOKENIZER_UNIFIED_VOCAB_H_
#define MOT_ENGINE_TOKENIZER_UNIFIED_VOCAB_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "model_loaders/model_config.h"

namespace mot::tokenizer {

// The special tokens every MoT vocabulary has, in id order; a config may add more after them.
inline constexpr const char* kRequiredSpecialTokens[] = {"<pad>", "<bos>", "<eos>", "<boi>",
                                                         "<eoi>", "<boa>", "<eoa>"};

class UnifiedVocab {
 public:
  // Validates that the config has "special" and "text" ranges, that "special" starts at 0 and
  // holds exactly config.special_tokens (the required seven first, in order), and that
  // "image"/"audio" ranges, when present, map to towers named "image"/"audio" (a dense model,
  // one tower, maps every range to tower 0 whatever its name). InvalidArgument naming the
  // field otherwise.
  static absl::StatusOr<UnifiedVocab> Create(const MotConfig& config);

  int32_t size() const { return static_cast<int32_t>(tower_of_.size()); }
  int num_towers() const { return num_towers_; }

  // REQUIRES: 0 <= id < size().
  uint8_t TowerOf(int32_t id) const { return tower_of_[static_cast<size_t>(id)]; }
  bool InRange(int32_t id) const { return id >= 0 && id < size(); }

  // The id of a special token by name; nullopt when the vocabulary has none of that name.
  std::optional<int32_t> SpecialId(absl::string_view name) const;
  int32_t pad_id() const { return pad_; }
  int32_t bos_id() const { return bos_; }
  int32_t eos_id() const { return eos_; }
  int32_t boi_id() const { return boi_; }
  int32_t eoi_id() const { return eoi_; }
  int32_t boa_id() const { return boa_; }
  int32_t eoa_id() const { return eoa_; }
  int32_t num_special() const { return num_special_; }
  const std::vector<std::string>& special_tokens() const { return special_names_; }

  bool IsSpecial(int32_t id) const { return id >= 0 && id < num_special_; }
  bool IsText(int32_t id) const { return id >= text_.begin && id < text_.end; }
  bool has_image() const { return image_.end > image_.begin; }
  bool has_audio() const { return audio_.end > audio_.begin; }
  int32_t text_end() const { return text_.end; }
  int32_t image_codebook_size() const { return image_.end - image_.begin; }
  int32_t audio_codebook_size() const { return audio_.end - audio_.begin; }
  uint8_t image_tower() const { return image_tower_; }
  uint8_t audio_tower() const { return audio_tower_; }

  bool IsImageCode(int32_t id) const { return id >= image_.begin && id < image_.end; }
  bool IsAudioCode(int32_t id) const { return id >= audio_.begin && id < audio_.end; }
  // REQUIRES: 0 <= code < image_codebook_size() (audio likewise).
  int32_t ImageCodeToId(int32_t code) const { return image_.begin + code; }
  int32_t AudioCodeToId(int32_t code) const { return audio_.begin + code; }
  // REQUIRES: IsImageCode(id) (audio likewise).
  int32_t IdToImageCode(int32_t id) const { return id - image_.begin; }
  int32_t IdToAudioCode(int32_t id) const { return id - audio_.begin; }

 private:
  struct Range {
    int32_t begin = 0;
    int32_t end = 0;
  };

  UnifiedVocab() = default;

  std::vector<uint8_t> tower_of_;
  int num_towers_ = 0;
  std::vector<std::string> special_names_;
  absl::flat_hash_map<std::string, int32_t> special_ids_;
  int32_t num_special_ = 0;
  int32_t pad_ = 0, bos_ = 0, eos_ = 0, boi_ = 0, eoi_ = 0, boa_ = 0, eoa_ = 0;
  Range text_, image_, audio_;
  uint8_t image_tower_ = 0, audio_tower_ = 0;
};

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_UNIFIED_VOCAB_H_
