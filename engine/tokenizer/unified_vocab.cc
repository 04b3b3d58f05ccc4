// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/unified_vocab.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace mot::tokenizer {
namespace {

const VocabRange* FindRange(const MotConfig& config, absl::string_view name) {
  for (const VocabRange& r : config.vocab_ranges) {
    if (r.name == name) return &r;
  }
  return nullptr;
}

}  // namespace

absl::StatusOr<UnifiedVocab> UnifiedVocab::Create(const MotConfig& config) {
  UnifiedVocab v;
  v.num_towers_ = config.num_towers();
  v.tower_of_.assign(static_cast<size_t>(config.vocab_size), 0);
  for (const VocabRange& r : config.vocab_ranges) {
    if (r.begin < 0 || r.end > config.vocab_size || r.begin > r.end) {
      return absl::InvalidArgumentError(
          absl::StrCat("vocab_ranges: range ", r.name, " [", r.begin, ", ", r.end,
                       ") is outside [0, vocab_size=", config.vocab_size, ")"));
    }
    for (int32_t id = r.begin; id < r.end; ++id) {
      v.tower_of_[static_cast<size_t>(id)] = static_cast<uint8_t>(r.tower);
    }
  }

  if (config.special_token_ids.has_value()) return CreateWithSpecialIds(config, std::move(v));

  const VocabRange* special = FindRange(config, "special");
  const VocabRange* text = FindRange(config, "text");
  if (special == nullptr || text == nullptr) {
    return absl::InvalidArgumentError(
        "vocab_ranges: a MoT vocabulary needs ranges named \"special\" and \"text\"");
  }
  if (special->begin != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("vocab_ranges: range special must start at id 0, got ", special->begin));
  }
  if (static_cast<size_t>(special->end) != config.special_tokens.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("field special_tokens: the special range holds ", special->end, " ids but ",
                     config.special_tokens.size(), " names are listed"));
  }
  for (size_t i = 0; i < std::size(kRequiredSpecialTokens); ++i) {
    if (i >= config.special_tokens.size() ||
        config.special_tokens[i] != kRequiredSpecialTokens[i]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "field special_tokens: entry ", i, " must be ", kRequiredSpecialTokens[i], ", got ",
          i < config.special_tokens.size() ? config.special_tokens[i] : "nothing"));
    }
  }
  v.special_names_ = config.special_tokens;
  v.num_special_ = special->end;
  for (int32_t i = 0; i < v.num_special_; ++i) {
    if (!v.special_ids_.emplace(v.special_names_[static_cast<size_t>(i)], i).second) {
      return absl::InvalidArgumentError(absl::StrCat("field special_tokens: duplicate name ",
                                                     v.special_names_[static_cast<size_t>(i)]));
    }
  }
  v.pad_ = 0, v.bos_ = 1, v.eos_ = 2, v.boi_ = 3, v.eoi_ = 4, v.boa_ = 5, v.eoa_ = 6;
  v.eos_ids_ = {v.eos_};
  v.text_ = {text->begin, text->end};

  auto modality_range = [&](absl::string_view name, Range* range, uint8_t* tower) -> absl::Status {
    const VocabRange* r = FindRange(config, name);
    if (r == nullptr) return absl::OkStatus();
    // A dense model (one tower) maps every range to tower 0: the baseline MoT is compared
    // against has the same vocabulary and a single set of weights.
    if (config.num_towers() > 1 && config.modalities[static_cast<size_t>(r->tower)] != name) {
      return absl::InvalidArgumentError(absl::StrCat("vocab_ranges: range ", name,
                                                     " must map to the modality named ", name,
                                                     ", got ", config.modalities[r->tower]));
    }
    *range = {r->begin, r->end};
    *tower = static_cast<uint8_t>(r->tower);
    return absl::OkStatus();
  };
  if (auto s = modality_range("image", &v.image_, &v.image_tower_); !s.ok()) return s;
  if (auto s = modality_range("audio", &v.audio_, &v.audio_tower_); !s.ok()) return s;
  return v;
}

absl::StatusOr<UnifiedVocab> UnifiedVocab::CreateWithSpecialIds(const MotConfig& config,
                                                                UnifiedVocab v) {
  if (config.vocab_ranges.size() != 1 || config.vocab_ranges[0].name != "text" ||
      config.vocab_ranges[0].begin != 0 || config.vocab_ranges[0].end != config.vocab_size) {
    std::vector<std::string> names;
    for (const VocabRange& r : config.vocab_ranges) names.push_back(r.name);
    return absl::InvalidArgumentError(absl::StrCat(
        "vocab_ranges: with special_token_ids the vocabulary is one range named \"text\" over "
        "[0, vocab_size=",
        config.vocab_size, ") (a text model; no special, image or audio range), got [",
        absl::StrJoin(names, ", "), "]"));
  }
  const SpecialTokenIds& s = *config.special_token_ids;
  auto in_vocab = [&](absl::string_view field, int32_t id) -> absl::Status {
    if (id < 0 || id >= config.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("field special_token_ids.", field,
                       ": must be in [0, vocab_size=", config.vocab_size, "), got ", id));
    }
    return absl::OkStatus();
  };
  // ValidateMotConfig checks these for a parsed config; a config built in code may not
  // have been validated, and the ids index tables.
  if (s.eos.empty()) {
    return absl::InvalidArgumentError("field special_token_ids.eos: must name at least one id");
  }
  for (int32_t id : s.eos) {
    if (auto st = in_vocab("eos", id); !st.ok()) return st;
  }
  if (s.bos != SpecialTokenIds::kNone) {
    if (auto st = in_vocab("bos", s.bos); !st.ok()) return st;
  }
  if (s.pad != SpecialTokenIds::kNone) {
    if (auto st = in_vocab("pad", s.pad); !st.ok()) return st;
  }
  if (s.add_bos && s.bos == SpecialTokenIds::kNone) {
    return absl::InvalidArgumentError(
        "field special_token_ids.add_bos: true, but special_token_ids.bos is null");
  }
  v.specials_by_id_ = true;
  v.text_ = {0, config.vocab_size};
  v.bos_ = s.bos;
  v.pad_ = s.pad;
  v.eos_ = s.eos[0];
  v.eos_ids_ = s.eos;
  v.adds_bos_ = s.add_bos;
  if (v.pad_ != kNoToken) v.special_ids_.emplace("<pad>", v.pad_);
  if (v.bos_ != kNoToken) v.special_ids_.emplace("<bos>", v.bos_);
  v.special_ids_.emplace("<eos>", v.eos_);
  return v;
}

std::optional<int32_t> UnifiedVocab::SpecialId(absl::string_view name) const {
  auto it = special_ids_.find(name);
  if (it == special_ids_.end()) return std::nullopt;
  return it->second;
}

}  // namespace mot::tokenizer
