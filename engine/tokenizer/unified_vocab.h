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
// The other layout, a text model imported from Hugging Face (config.json special_token_ids,
// model_config.h): one range "text" over every id, the special tokens wherever that model's
// tokenizer has them, named by id. Then num_special() is 0, special_tokens() is empty,
// has_image()/has_audio() are false, boi/eoi/boa/eoa are kNoToken (as are bos and pad when
// the model has none), IsSpecial is true for the named bos/eos/pad ids, and any of the eos
// ids ends a sequence (IsEos).
// Thread rule: immutable after Create; const methods from any thread.
#ifndef MOT_ENGINE_TOKENIZER_UNIFIED_VOCAB_H_
#define MOT_ENGINE_TOKENIZER_UNIFIED_VOCAB_H_

#include <algorithm>
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
  // The id of a special token the vocabulary does not have: no token has it, so comparing
  // an id with it is always false.
  static constexpr int32_t kNoToken = -1;

  // Validates that the config has "special" and "text" ranges, that "special" starts at 0 and
  // holds exactly config.special_tokens (the required seven first, in order), and that
  // "image"/"audio" ranges, when present, map to towers named "image"/"audio" (a dense model,
  // one tower, maps every range to tower 0 whatever its name). With special_token_ids: that
  // the config has exactly one range, "text", over [0, vocab_size) (no "special", image or
  // audio range; the ids themselves are checked by ValidateMotConfig). InvalidArgument naming
  // the field otherwise.
  static absl::StatusOr<UnifiedVocab> Create(const MotConfig& config);

  int32_t size() const { return static_cast<int32_t>(tower_of_.size()); }
  int num_towers() const { return num_towers_; }

  // REQUIRES: 0 <= id < size().
  uint8_t TowerOf(int32_t id) const { return tower_of_[static_cast<size_t>(id)]; }
  bool InRange(int32_t id) const { return id >= 0 && id < size(); }

  // Whether the special tokens are named by id (config.json special_token_ids) rather than
  // held in the "special" range at id 0.
  bool specials_by_id() const { return specials_by_id_; }

  // The id of a special token by name; nullopt when the vocabulary has none of that name.
  // With special_token_ids, "<pad>", "<bos>" and "<eos>" name its pad, bos and first eos.
  std::optional<int32_t> SpecialId(absl::string_view name) const;
  // Each is kNoToken when the vocabulary has no such token: boi/eoi without images,
  // boa/eoa without audio (always with special_token_ids), bos/pad when a model has none.
  int32_t pad_id() const { return pad_; }
  int32_t bos_id() const { return bos_; }
  int32_t eos_id() const { return eos_; }  // always a token
  int32_t boi_id() const { return boi_; }
  int32_t eoi_id() const { return eoi_; }
  int32_t boa_id() const { return boa_; }
  int32_t eoa_id() const { return eoa_; }
  // Every id that ends a sequence: eos_id() first, then special_token_ids' further eos ids.
  const std::vector<int32_t>& eos_ids() const { return eos_ids_; }
  bool IsEos(int32_t id) const {
    return id == eos_ || (eos_ids_.size() > 1 &&
                          std::find(eos_ids_.begin(), eos_ids_.end(), id) != eos_ids_.end());
  }
  // Whether a prompt built from text starts with bos_id() (PromptOptions::add_bos asks; this
  // says whether the model's tokenizer does it): always for the MoT layout, special_token_ids'
  // add_bos otherwise.
  bool adds_bos() const { return adds_bos_; }
  // The size of the "special" range at id 0; 0 with special_token_ids.
  int32_t num_special() const { return num_special_; }
  const std::vector<std::string>& special_tokens() const { return special_names_; }

  // The "special" range, or with special_token_ids one of the named bos/eos/pad ids.
  bool IsSpecial(int32_t id) const {
    if (id >= 0 && id < num_special_) return true;
    return specials_by_id_ && id >= 0 && (id == bos_ || id == pad_ || IsEos(id));
  }
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
  // Create's special_token_ids layout; `v` has the tower table filled in.
  static absl::StatusOr<UnifiedVocab> CreateWithSpecialIds(const MotConfig& config, UnifiedVocab v);

  std::vector<uint8_t> tower_of_;
  int num_towers_ = 0;
  std::vector<std::string> special_names_;
  absl::flat_hash_map<std::string, int32_t> special_ids_;
  int32_t num_special_ = 0;
  int32_t pad_ = kNoToken, bos_ = kNoToken, eos_ = kNoToken, boi_ = kNoToken, eoi_ = kNoToken,
          boa_ = kNoToken, eoa_ = kNoToken;
  std::vector<int32_t> eos_ids_;
  bool specials_by_id_ = false;
  bool adds_bos_ = true;
  Range text_, image_, audio_;
  uint8_t image_tower_ = 0, audio_tower_ = 0;
};

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_UNIFIED_VOCAB_H_
