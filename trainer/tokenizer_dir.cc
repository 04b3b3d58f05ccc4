// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/tokenizer_dir.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "engine/tokenizer/unified_vocab.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/internal/json_util.h"
#include "nlohmann/json.hpp"

namespace mot::trainer {
namespace {

using json = nlohmann::json;

// The vocabulary keys of config.json, in the order MotConfigToJson writes them.
constexpr const char* kVocabKeys[] = {"format",     "format_version", "modalities",
                                      "vocab_size", "vocab_ranges",   "special_tokens"};

// Model fields that make a vocabulary-only config pass ValidateMotConfig; replaced by
// zeros after validation (they are no model's).
void FillPlaceholderModel(MotConfig* c) {
  c->dim = 8;
  c->n_layers = 1;
  c->n_heads = 1;
  c->n_kv_heads = 1;
  c->head_dim = 8;
  c->ffn_hidden = 8;
  c->max_seq_len = 1;
}

void ClearModel(MotConfig* c) {
  MotConfig blank;
  blank.modalities = std::move(c->modalities);
  blank.vocab_size = c->vocab_size;
  blank.vocab_ranges = std::move(c->vocab_ranges);
  blank.special_tokens = std::move(c->special_tokens);
  *c = std::move(blank);
}

}  // namespace

MotConfig MakeVocabConfig(int32_t text_vocab, int32_t image_codes, int32_t audio_codes) {
  MotConfig c;
  const auto n_special = static_cast<int32_t>(std::size(tokenizer::kRequiredSpecialTokens));
  for (const char* name : tokenizer::kRequiredSpecialTokens) c.special_tokens.push_back(name);
  c.modalities = {"text"};
  c.vocab_ranges.push_back({"special", 0, n_special, 0});
  c.vocab_ranges.push_back({"text", n_special, text_vocab, 0});
  int32_t next = text_vocab;
  if (image_codes > 0) {
    c.modalities.push_back("image");
    c.vocab_ranges.push_back({"image", next, next + image_codes, c.num_towers() - 1});
    next += image_codes;
  }
  if (audio_codes > 0) {
    c.modalities.push_back("audio");
    c.vocab_ranges.push_back({"audio", next, next + audio_codes, c.num_towers() - 1});
    next += audio_codes;
  }
  c.vocab_size = next;
  return c;
}

std::string VocabConfigToJson(const MotConfig& config) {
  MotConfig full = config;
  FillPlaceholderModel(&full);
  const json all = json::parse(MotConfigToJson(full), nullptr, /*allow_exceptions=*/false);
  json out = json::object();
  for (const char* key : kVocabKeys) {
    if (all.is_object() && all.contains(key)) out[key] = all[key];
  }
  return out.dump(2) + "\n";
}

absl::StatusOr<MotConfig> LoadVocabConfig(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string text = buffer.str();
  MOT_ASSIGN_OR_RETURN(json root, loaders_internal::ParseStrictJson(text, path));
  if (root.is_object() && root.contains("dim")) {
    absl::StatusOr<MotConfig> full = ParseMotConfig(text);
    if (!full.ok()) return Annotate(full.status(), path);
    return full;
  }
  if (!root.is_object()) return absl::InvalidArgumentError(absl::StrCat(path, ": not an object"));
  // Validate the vocabulary with the full parser over placeholder model fields.
  MotConfig placeholder;
  FillPlaceholderModel(&placeholder);
  placeholder.modalities = {"text"};
  placeholder.vocab_size = 1;
  placeholder.vocab_ranges = {{"text", 0, 1, 0}};
  json merged = json::parse(MotConfigToJson(placeholder), nullptr, false);
  for (const auto& [key, value] : root.items()) merged[key] = value;
  if (!root.contains("special_tokens")) merged.erase("special_tokens");
  absl::StatusOr<MotConfig> config = ParseMotConfig(merged.dump());
  if (!config.ok()) return Annotate(config.status(), path);
  ClearModel(&*config);
  return config;
}

absl::StatusOr<std::unique_ptr<tokenizer::PromptBuilder>> LoadPromptBuilder(const std::string& dir,
                                                                            int64_t max_tokens) {
  namespace fs = std::filesystem;
  tokenizer::PromptLimits limits;
  limits.max_tokens = max_tokens;
  std::error_code ec;
  if (fs::exists(fs::path(dir) / "manifest.json", ec)) {
    MOT_ASSIGN_OR_RETURN(Checkpoint checkpoint, Checkpoint::Open(dir));
    return tokenizer::PromptBuilder::FromCheckpoint(checkpoint, limits);
  }
  MOT_ASSIGN_OR_RETURN(MotConfig config, LoadVocabConfig((fs::path(dir) / "config.json").string()));
  config.max_seq_len = 1 << 20;  // a tokenizer directory has no model, hence no context limit
  MOT_ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::TextTokenizer> text,
                       tokenizer::TextTokenizer::FromFile((fs::path(dir) / "tokenizer.json")));
  std::unique_ptr<tokenizer::ImageTokenizer> image;
  if (const fs::path p = fs::path(dir) / "image_tokenizer.safetensors"; fs::exists(p, ec)) {
    MOT_ASSIGN_OR_RETURN(tokenizer::ImageTokenizer loaded, tokenizer::ImageTokenizer::Load(p));
    image = std::make_unique<tokenizer::ImageTokenizer>(std::move(loaded));
  }
  std::unique_ptr<tokenizer::AudioTokenizer> audio;
  if (const fs::path p = fs::path(dir) / "audio_tokenizer.safetensors"; fs::exists(p, ec)) {
    MOT_ASSIGN_OR_RETURN(tokenizer::AudioTokenizer loaded, tokenizer::AudioTokenizer::Load(p));
    audio = std::make_unique<tokenizer::AudioTokenizer>(std::move(loaded));
  }
  absl::StatusOr<std::unique_ptr<tokenizer::PromptBuilder>> builder =
      tokenizer::PromptBuilder::Create(config, std::move(text), std::move(image), std::move(audio),
                                       limits);
  if (!builder.ok()) return Annotate(builder.status(), dir);
  return builder;
}

}  // namespace mot::trainer
