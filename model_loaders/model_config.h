// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: model_loaders/model_config.h
// MotConfig: the hyperparameters of a Mixture-of-Transformers model, as stored in a
// checkpoint's config.json, and the unified vocabulary's id ranges (each range maps to one
// tower). ParseMotConfig validates every field and the relations between fields; a value
// that passed it is safe to size buffers with.
//
// config.json (every key required except norm_eps (default 1e-5), rope_theta (10000),
// norm_placement ("pre"), norm_type ("rms"), qk_norm and tie_embeddings (false)):
//   {
//     "format": "mot", "format_version": 1,
//     "dim": 768, "n_layers": 12, "n_heads": 12, "n_kv_heads": 4, "head_dim": 64,
//     "ffn_hidden": 2048, "norm_eps": 1e-5, "rope_theta": 10000.0, "max_seq_len": 4096,
//     "norm_placement": "pre" | "post_branch", "norm_type": "rms" | "layer",
//     "qk_norm": false, "tie_embeddings": false,
//     "modalities": ["text", "image", "audio"],
//     "vocab_size": 40000,
//     "vocab_ranges": [ {"name": "special", "begin": 0, "end": 16, "modality": "text"},
//                       {"name": "text", "begin": 16, "end": 32000, "modality": "text"},
//                       {"name": "image", "begin": 32000, "end": 40000, "modality": "image"} ],
//     "special_tokens": ["<pad>", "<bos>", "<eos>", "<boi>", "<eoi>", "<boa>", "<eoa>", ...]
//   }
// special_tokens is optional; when present it names the ids of the range called "special".
// Ranges are sorted, contiguous, non-empty and cover [0, vocab_size) exactly; each names a
// listed modality. Unknown keys are errors (a typo must not silently become a default).
// Thread rule: a plain value.
#ifndef MOT_MODEL_LOADERS_MODEL_CONFIG_H_
#define MOT_MODEL_LOADERS_MODEL_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mot {

enum class NormPlacement { kPre, kPostBranch };
enum class NormType { kRms, kLayer };

struct VocabRange {
  std::string name;   // "special", "text", "image", "audio", ...
  int32_t begin = 0;  // first id
  int32_t end = 0;    // one past the last id
  int32_t tower = 0;  // index into MotConfig::modalities

  bool operator==(const VocabRange&) const = default;
};

inline constexpr int kMaxModalities = 8;

struct MotConfig {
  int32_t dim = 0;
  int32_t n_layers = 0;
  int32_t n_heads = 0;
  int32_t n_kv_heads = 0;
  int32_t head_dim = 0;
  int32_t ffn_hidden = 0;
  float norm_eps = 1e-5f;
  float rope_theta = 10000.0f;
  int32_t max_seq_len = 0;
  NormPlacement norm_placement = NormPlacement::kPre;
  NormType norm_type = NormType::kRms;
  bool qk_norm = false;
  bool tie_embeddings = false;
  std::vector<std::string> modalities;  // 1 to kMaxModalities names, tower order
  int32_t vocab_size = 0;
  std::vector<VocabRange> vocab_ranges;
  // Names of the special tokens, id i = special_tokens[i]; optional (empty for a bare model).
  // When given, a range named "special" starts at 0 and holds exactly these ids. The
  // tokenizer layer (engine/tokenizer/unified_vocab.h) requires <pad> <bos> <eos> <boi> <eoi>
  // <boa> <eoa> first.
  std::vector<std::string> special_tokens;

  int num_towers() const { return static_cast<int>(modalities.size()); }
  int64_t q_dim() const { return int64_t{n_heads} * head_dim; }
  int64_t kv_dim() const { return int64_t{n_kv_heads} * head_dim; }
  // The tower of token `id` (a binary search over vocab_ranges).
  // REQUIRES: 0 <= id < vocab_size and a validated config.
  int TowerOf(int32_t id) const;

  bool operator==(const MotConfig&) const = default;
};

// Parses and validates config.json text. Errors are InvalidArgument and name the key and
// the reason, e.g. "field n_kv_heads: must divide n_heads=16, got 5"; the caller prefixes
// the file name.
absl::StatusOr<MotConfig> ParseMotConfig(std::string_view json_text);

// Validates the ranges of the fields and the relations between them for a config built in
// code (ParseMotConfig calls it): positive dims under generous limits, n_kv_heads divides
// n_heads, even head_dim, finite norm_eps in (0, 1), rope_theta > 0, 1..kMaxModalities
// unique non-empty modality names, vocab ranges as described above. InvalidArgument
// "field <name>: <reason>".
absl::Status ValidateMotConfig(const MotConfig& config);

// Reads and parses `path`; errors are prefixed with the path.
absl::StatusOr<MotConfig> LoadMotConfig(const std::string& path);

// The config.json text for `config` (pretty-printed, keys in the documented order);
// ParseMotConfig(MotConfigToJson(c)) == c.
std::string MotConfigToJson(const MotConfig& config);

}  // namespace mot

#endif  // MOT_MODEL_LOADERS_MODEL_CONFIG_H_
