// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/prompt_builder.h"

#include <functional>
#include <optional>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"

namespace mot::tokenizer {

const char* ModalityName(Modality m) {
  switch (m) {
    case Modality::kText:
      return "text";
    case Modality::kImage:
      return "image";
    case Modality::kAudio:
      return "audio";
  }
  return "?";
}

absl::StatusOr<std::unique_ptr<PromptBuilder>> PromptBuilder::Create(
    const MotConfig& config, std::unique_ptr<TextTokenizer> text,
    std::unique_ptr<ImageTokenizer> image, std::unique_ptr<AudioTokenizer> audio,
    const PromptLimits& limits) {
  MOT_ASSIGN_OR_RETURN(UnifiedVocab vocab, UnifiedVocab::Create(config));
  if (text == nullptr) return absl::InvalidArgumentError("tokenizer.json: missing");
  if (vocab.specials_by_id()) {
    // A Hugging Face text model: the tokenizer's ids are the model's, special tokens
    // included; the embedding may have rows past the tokenizer's last id (Qwen2 pads them).
    if (text->vocab_size() > vocab.size()) {
      return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: has ", text->vocab_size(),
                                                     " ids but config.json's vocab_size is ",
                                                     vocab.size()));
    }
    std::vector<std::pair<std::string, int32_t>> named = {{"bos", vocab.bos_id()},
                                                          {"pad", vocab.pad_id()}};
    for (int32_t id : vocab.eos_ids()) named.emplace_back("eos", id);
    for (const auto& [field, id] : named) {
      if (id != UnifiedVocab::kNoToken && !text->IdToToken(id).has_value()) {
        return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: has no token of id ", id,
                                                       ", which config.json's special_token_ids.",
                                                       field, " names"));
      }
    }
  } else if (text->vocab_size() != vocab.text_end()) {
    // The text BPE carries the special tokens as its first ids, so its ids are unified ids.
    return absl::InvalidArgumentError(absl::StrCat("tokenizer.json: has ", text->vocab_size(),
                                                   " ids but config.json's special+text ranges "
                                                   "hold ",
                                                   vocab.text_end()));
  }
  for (int32_t id = 0; id < vocab.num_special(); ++id) {  // none with specials_by_id
    const std::string& name = vocab.special_tokens()[static_cast<size_t>(id)];
    const std::optional<std::string> token = text->IdToToken(id);
    if (!token.has_value() || *token != name || !text->IsSpecial(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat("tokenizer.json: id ", id, " must be the special token ", name,
                       " of config.json, got ", token.value_or("nothing")));
    }
  }
  if (vocab.has_image()) {
    if (image == nullptr) return absl::InvalidArgumentError("image_tokenizer.safetensors: missing");
    if (image->codebook_size() != vocab.image_codebook_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("image_tokenizer.safetensors: codebook has ", image->codebook_size(),
                       " codes but config.json's image range holds ", vocab.image_codebook_size()));
    }
  } else {
    image.reset();
  }
  if (vocab.has_audio()) {
    if (audio == nullptr) return absl::InvalidArgumentError("audio_tokenizer.safetensors: missing");
    if (audio->codebook_size() != vocab.audio_codebook_size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("audio_tokenizer.safetensors: codebook has ", audio->codebook_size(),
                       " codes but config.json's audio range holds ", vocab.audio_codebook_size()));
    }
  } else {
    audio.reset();
  }
  auto builder = std::unique_ptr<PromptBuilder>(
      new PromptBuilder(std::move(vocab), config.max_seq_len, limits));
  builder->text_ = std::move(text);
  builder->image_ = std::move(image);
  builder->audio_ = std::move(audio);
  return builder;
}

absl::StatusOr<std::unique_ptr<PromptBuilder>> PromptBuilder::FromCheckpoint(
    const Checkpoint& checkpoint, const PromptLimits& limits) {
  const std::string text_path = checkpoint.OptionalFile("tokenizer.json");
  if (text_path.empty()) {
    return absl::NotFoundError(absl::StrCat(checkpoint.dir(), ": no tokenizer.json"));
  }
  MOT_ASSIGN_OR_RETURN(std::unique_ptr<TextTokenizer> text, TextTokenizer::FromFile(text_path));
  std::unique_ptr<ImageTokenizer> image;
  if (const std::string path = checkpoint.OptionalFile("image_tokenizer.safetensors");
      !path.empty()) {
    MOT_ASSIGN_OR_RETURN(ImageTokenizer loaded, ImageTokenizer::Load(path));
    image = std::make_unique<ImageTokenizer>(std::move(loaded));
  }
  std::unique_ptr<AudioTokenizer> audio;
  if (const std::string path = checkpoint.OptionalFile("audio_tokenizer.safetensors");
      !path.empty()) {
    MOT_ASSIGN_OR_RETURN(AudioTokenizer loaded, AudioTokenizer::Load(path));
    audio = std::make_unique<AudioTokenizer>(std::move(loaded));
  }
  absl::StatusOr<std::unique_ptr<PromptBuilder>> builder =
      Create(checkpoint.config(), std::move(text), std::move(image), std::move(audio), limits);
  if (!builder.ok()) return Annotate(builder.status(), checkpoint.dir());
  return builder;
}

absl::Status PromptBuilder::AppendPart(const Part& part, const std::string& label,
                                       bool parse_special, std::vector<int32_t>* ids) const {
  if (part.data.empty()) return absl::InvalidArgumentError(absl::StrCat(label, ": empty"));
  switch (part.modality) {
    case Modality::kText: {
      if (static_cast<int64_t>(part.data.size()) > limits_.max_text_bytes) {
        return absl::ResourceExhaustedError(
            absl::StrCat(label, ": ", part.data.size(),
                         " bytes exceed max_text_bytes=", limits_.max_text_bytes));
      }
      // User text never produces control tokens (parse_special is for rendered templates).
      absl::StatusOr<std::vector<int32_t>> text =
          text_->Encode(part.data, EncodeOptions{.parse_special = parse_special});
      if (!text.ok()) return Annotate(text.status(), label);
      ids->insert(ids->end(), text->begin(), text->end());
      return absl::OkStatus();
    }
    case Modality::kImage: {
      if (image_ == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(label, ": this model has no image tokenizer"));
      }
      MOT_ASSIGN_OR_RETURN(const std::vector<int32_t> codes, image_->Encode(part.data, label));
      ids->push_back(vocab_.boi_id());
      for (int32_t c : codes) ids->push_back(vocab_.ImageCodeToId(c));
      ids->push_back(vocab_.eoi_id());
      return absl::OkStatus();
    }
    case Modality::kAudio: {
      if (audio_ == nullptr) {
        return absl::InvalidArgumentError(
            absl::StrCat(label, ": this model has no audio tokenizer"));
      }
      MOT_ASSIGN_OR_RETURN(const std::vector<int32_t> codes, audio_->Encode(part.data, label));
      ids->push_back(vocab_.boa_id());
      for (int32_t c : codes) ids->push_back(vocab_.AudioCodeToId(c));
      ids->push_back(vocab_.eoa_id());
      return absl::OkStatus();
    }
  }
  return absl::InvalidArgumentError(absl::StrCat(label, ": unknown modality"));
}

absl::StatusOr<Prompt> PromptBuilder::Build(std::span<const Part> parts,
                                            const PromptOptions& options) const {
  if (parts.empty()) return absl::InvalidArgumentError("prompt: no parts");
  if (static_cast<int64_t>(parts.size()) > limits_.max_parts) {
    return absl::ResourceExhaustedError(
        absl::StrCat("prompt: ", parts.size(), " parts exceed max_parts=", limits_.max_parts));
  }
  if (options.start_position < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("prompt: start_position must be >= 0, got ", options.start_position));
  }
  const int64_t max_tokens = limits_.max_tokens > 0 ? limits_.max_tokens : max_seq_len_;
  Prompt prompt;
  if (options.add_bos && vocab_.adds_bos()) prompt.ids.push_back(vocab_.bos_id());
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string label = absl::StrCat("part ", i, " (", ModalityName(parts[i].modality), ")");
    MOT_RETURN_IF_ERROR(AppendPart(parts[i], label, options.parse_special, &prompt.ids));
    if (static_cast<int64_t>(prompt.ids.size()) + options.start_position > max_tokens) {
      return absl::ResourceExhaustedError(absl::StrCat(label, ": the prompt reaches ",
                                                       prompt.ids.size() + options.start_position,
                                                       " tokens, over the limit of ", max_tokens));
    }
  }
  prompt.towers.resize(prompt.ids.size());
  prompt.positions.resize(prompt.ids.size());
  for (size_t i = 0; i < prompt.ids.size(); ++i) {
    prompt.towers[i] = vocab_.TowerOf(prompt.ids[i]);
    prompt.positions[i] = options.start_position + static_cast<int32_t>(i);
  }
  return prompt;
}

absl::StatusOr<std::vector<Part>> PromptBuilder::ToParts(std::span<const int32_t> ids) const {
  // An image or audio frame: its closing token, its code range and its decoder.
  struct FrameKind {
    Modality modality;
    const char* open_name;
    const char* close_name;
    int32_t close_id;
    int32_t first_code_id;
    int32_t num_codes;
    std::function<absl::StatusOr<std::string>(const std::vector<int32_t>&)> decode;
  };
  std::optional<FrameKind> image_frame, audio_frame;
  if (image_ != nullptr) {
    image_frame =
        FrameKind{Modality::kImage,
                  "<boi>",
                  "<eoi>",
                  vocab_.eoi_id(),
                  vocab_.ImageCodeToId(0),
                  vocab_.image_codebook_size(),
                  [this](const std::vector<int32_t>& c) { return image_->DecodeToPng(c); }};
  }
  if (audio_ != nullptr) {
    audio_frame =
        FrameKind{Modality::kAudio,
                  "<boa>",
                  "<eoa>",
                  vocab_.eoa_id(),
                  vocab_.AudioCodeToId(0),
                  vocab_.audio_codebook_size(),
                  [this](const std::vector<int32_t>& c) { return audio_->DecodeToWav(c); }};
  }

  std::vector<Part> parts;
  std::vector<int32_t> text_ids;     // the pending text run
  std::vector<int32_t> codes;        // the codes of the open frame
  const FrameKind* frame = nullptr;  // the open frame, if any
  size_t frame_start = 0;

  auto flush_text = [&]() -> absl::Status {
    if (text_ids.empty()) return absl::OkStatus();
    MOT_ASSIGN_OR_RETURN(std::string bytes,
                         text_->Decode(text_ids, DecodeOptions{.skip_special = true}));
    text_ids.clear();
    if (!bytes.empty()) parts.push_back({Modality::kText, std::move(bytes)});
    return absl::OkStatus();
  };

  for (size_t i = 0; i < ids.size(); ++i) {
    const int32_t id = ids[i];
    if (!vocab_.InRange(id)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "output token ", i, ": id ", id, " is outside the vocabulary [0, ", vocab_.size(), ")"));
    }
    if (frame != nullptr) {
      if (id >= frame->first_code_id && id < frame->first_code_id + frame->num_codes) {
        codes.push_back(id - frame->first_code_id);
        continue;
      }
      const char* name = ModalityName(frame->modality);
      if (id != frame->close_id) {
        return absl::InvalidArgumentError(
            absl::StrCat("output token ", i, ": id ", id, " inside the ", name, " opened at token ",
                         frame_start, " (only ", name, " codes and ", frame->close_name,
                         " may follow ", frame->open_name, ")"));
      }
      absl::StatusOr<std::string> bytes = frame->decode(codes);
      if (!bytes.ok()) return Annotate(bytes.status(), "output ", name, " at token ", frame_start);
      parts.push_back({frame->modality, *std::move(bytes)});
      codes.clear();
      frame = nullptr;
      continue;
    }
    if (vocab_.IsEos(id)) break;
    if (id == vocab_.boi_id() || id == vocab_.boa_id()) {
      const std::optional<FrameKind>& kind = id == vocab_.boi_id() ? image_frame : audio_frame;
      if (!kind.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat("output token ", i, ": ",
                                                       id == vocab_.boi_id() ? "<boi>" : "<boa>",
                                                       " but this model has no such tokenizer"));
      }
      MOT_RETURN_IF_ERROR(flush_text());
      frame = &*kind;
      frame_start = i;
      continue;
    }
    if (vocab_.IsImageCode(id) || vocab_.IsAudioCode(id) || id == vocab_.eoi_id() ||
        id == vocab_.eoa_id()) {
      return absl::InvalidArgumentError(
          absl::StrCat("output token ", i, ": id ", id, " outside an image or audio frame"));
    }
    text_ids.push_back(id);  // text, or a special token that Decode skips
  }
  if (frame != nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("output: the ", ModalityName(frame->modality),
                                                   " opened at token ", frame_start,
                                                   " is not closed"));
  }
  MOT_RETURN_IF_ERROR(flush_text());
  return parts;
}

}  // namespace mot::tokenizer
