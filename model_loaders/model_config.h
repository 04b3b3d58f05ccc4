// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: model_loaders/model_config.h
// MotConfig: the hyperparameters of a Mixture-of-Transformers model, as stored in a
// checkpoint's config.json, and the unified vocabulary's id ranges (each range maps to one
// tower). ParseMotConfig validates every field and the relations between fields; a value
// that passed it is safe to size buffers with.
//
// config.json (every key required except norm_eps (default 1e-5), rope_theta (10000),
// norm_placement ("pre"), norm_type ("rms"), qk_norm, tie_embeddings and attention_bias
// (false), rope_scaling and sliding_window (null)):
//   {
//     "format": "mot", "format_version": 1,
//     "dim": 768, "n_layers": 12, "n_heads": 12, "n_kv_heads": 4, "head_dim": 64,
//     "ffn_hidden": 2048, "norm_eps": 1e-5, "rope_theta": 10000.0, "max_seq_len": 4096,
//     "norm_placement": "pre" | "post_branch", "norm_type": "rms" | "layer",
//     "qk_norm": false, "tie_embeddings": false,
//     "attention_bias": false,
//     "rope_scaling": null | {"type": "linear", "factor": 2.0}
//                        | {"type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
//                           "high_freq_factor": 4.0, "original_max_position_embeddings": 8192},
//     "sliding_window": null | 4096,
//     "modalities": ["text", "image", "audio"],
//     "vocab_size": 40000,
//     "vocab_ranges": [ {"name": "special", "begin": 0, "end": 16, "modality": "text"},
//                       {"name": "text", "begin": 16, "end": 32000, "modality": "text"},
//                       {"name": "image", "begin": 32000, "end": 40000, "modality": "image"} ],
//     "special_tokens": ["<pad>", "<bos>", "<eos>", "<boi>", "<eoi>", "<boa>", "<eoa>", ...]
//   }
// special_tokens is optional; when present it names the ids of the range called "special".
// special_token_ids (optional, instead of special_tokens and a "special" range): a vocabulary
// that keeps its special tokens at ids of its own, as Hugging Face text models do (Llama-3:
// <|begin_of_text|> 128000, <|end_of_text|> 128001); mot-import writes it:
//     "special_token_ids": {"bos": 128000, "eos": [128001, 128009], "pad": null,
//                           "add_bos": true}
//   bos      the id a prompt starts with; null or absent: the model has none
//   eos      one id, or a non-empty list of distinct ids (generation_config.json's eos_token_id
//            list): generating any of them ends a sequence; the first is the one training
//            data ends with
//   pad      null, absent or an id
//   add_bos  required: whether a prompt built from text starts with bos (what the model's
//            own tokenizer does when it adds special tokens); true needs a bos
// Every id is in [0, vocab_size). It excludes special_tokens and a range named "special"; the
// tokenizer layer (unified_vocab.h) then requires one range "text" over every id.
// attention_bias: every tower's Wq, Wk and Wv have a bias (added after the projection, before
// the q/k norm and rotary), as Qwen2's q/k/v projections do; Wo and the FFN have none.
// rope_scaling: the rotary inverse frequencies inv_freq[i] = rope_theta^(-2i/head_dim) are
// rescaled as Hugging Face transformers does (modeling_rope_utils.py): "linear" divides every
// one by factor (positions / factor); "llama3" (Llama 3.1) keeps those of wavelength
// 2 pi / inv_freq < original_max_position_embeddings / high_freq_factor, divides those of
// wavelength > original_max_position_embeddings / low_freq_factor by factor, and blends the
// band between with s = (original_max_position_embeddings / wavelength - low_freq_factor) /
// (high_freq_factor - low_freq_factor): (1 - s) inv_freq / factor + s inv_freq. Any other
// type is refused by name (YaRN, dynamic NTK, longrope are not implemented).
// sliding_window: a query at position p attends only to keys at positions > p - window (the
// window includes the query itself), in every layer (Mistral); null: full causal attention.
// qk_norm: false (none), true (the classic q/k norm: the block norm_type over each head's
// head_dim, one [head_dim] weight (and LayerNorm bias) shared by every head, eps norm_eps),
// or an object naming a q/k norm of its own kind (Chameleon's):
//     "qk_norm": {"type": "rms" | "layer", "per_head": true, "bias": true, "eps": 1e-5}
//   type      required: RMSNorm or LayerNorm over each head's head_dim
//   per_head  required: true: each head has its own affine parameters, q's weight is
//             [n_heads, head_dim] and k's [n_kv_heads, head_dim]; false: one [head_dim]
//   bias      required: an additive bias of the weight's shape (type "layer" only)
//   eps       required: finite, in (0, 1); independent of norm_eps
// It applies after the q/k projection (and attention_bias), before rotary, as true does.
// suppressed_token_ids: [[begin, end], ...] half-open id ranges, sorted, disjoint, non-empty,
// inside [0, vocab_size): ids the model never generates. The model's Forward sets their
// logits to -inf (as transformers' ChameleonForConditionalGeneration sets its image-token
// logits to the dtype's minimum); empty (absent): none.
// These five are written by MotConfigToJson only when they differ from the default (qk_norm
// as an object only when it is one), so a config without them reads and writes exactly as
// before they existed.
// Ranges are sorted, contiguous, non-empty and cover [0, vocab_size) exactly; each names a
// listed modality. Unknown keys are errors (a typo must not silently become a default).
// Thread rule: a plain value.
#ifndef MOT_MODEL_LOADERS_MODEL_CONFIG_H_
#define MOT_MODEL_LOADERS_MODEL_CONFIG_H_

#include <cstdint>
#include <optional>
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

enum class RopeScalingType { kNone, kLinear, kLlama3, kYarn };

// config.json "rope_scaling" (see the file comment); the fields a type does not use keep
// their defaults.
struct RopeScaling {
  RopeScalingType type = RopeScalingType::kNone;
  float factor = 1.0f;                           // linear, llama3, yarn: finite, > 0
  float low_freq_factor = 1.0f;                  // llama3: finite, > 0
  float high_freq_factor = 4.0f;                 // llama3: finite, > low_freq_factor
  int32_t original_max_position_embeddings = 0;  // llama3, yarn: >= 1
  // yarn (transformers' _compute_yarn_parameters, 4.46): the ramp between interpolated and
  // extrapolated frequencies runs over the dimensions where a position range of
  // original_max_position_embeddings turns beta_fast .. beta_slow times; attention_factor
  // multiplies cos and sin (so q·k by its square), written resolved (0.1 ln(factor) + 1
  // when the source config gave none).
  float beta_fast = 32.0f;        // yarn: finite, > beta_slow
  float beta_slow = 1.0f;         // yarn: finite, > 0
  float attention_factor = 1.0f;  // yarn: finite, > 0

  bool operator==(const RopeScaling&) const = default;
};

// config.json "qk_norm" as an object: a q/k norm of its own kind (see the file comment).
struct QkNormSpec {
  NormType type = NormType::kRms;
  bool per_head = false;  // weights [n_heads | n_kv_heads, head_dim] instead of [head_dim]
  bool bias = false;      // LayerNorm bias of the weight's shape; kLayer only
  float eps = 1e-5f;

  bool operator==(const QkNormSpec&) const = default;
};

// A half-open id range [begin, end) of suppressed_token_ids.
struct TokenIdRange {
  int32_t begin = 0;
  int32_t end = 0;

  bool operator==(const TokenIdRange&) const = default;
};

// config.json "special_token_ids": special tokens named by id (see the file comment).
struct SpecialTokenIds {
  static constexpr int32_t kNone = -1;
  int32_t bos = kNone;       // kNone: no bos (null in config.json)
  std::vector<int32_t> eos;  // >= 1 distinct ids
  int32_t pad = kNone;       // kNone: no pad
  bool add_bos = false;

  bool operator==(const SpecialTokenIds&) const = default;
};

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
  bool qk_norm = false;  // q and k are normalized per head (the kind: qk_norm_spec)
  // config.json "qk_norm" as an object; nullopt: the classic kind (true). Set only with
  // qk_norm.
  std::optional<QkNormSpec> qk_norm_spec;
  bool tie_embeddings = false;
  bool attention_bias = false;  // q/k/v projection biases
  RopeScaling rope_scaling;
  int32_t sliding_window = 0;  // 0: none (null in config.json); else the window in positions
  std::vector<std::string> modalities;  // 1 to kMaxModalities names, tower order
  int32_t vocab_size = 0;
  std::vector<VocabRange> vocab_ranges;
  // Names of the special tokens, id i = special_tokens[i]; optional (empty for a bare model).
  // When given, a range named "special" starts at 0 and holds exactly these ids. The
  // tokenizer layer (engine/tokenizer/unified_vocab.h) requires <pad> <bos> <eos> <boi> <eoi>
  // <boa> <eoa> first.
  std::vector<std::string> special_tokens;
  // config.json "special_token_ids" (see the file comment); nullopt when absent.
  std::optional<SpecialTokenIds> special_token_ids;
  // config.json "suppressed_token_ids" (see the file comment): never generated.
  std::vector<TokenIdRange> suppressed_token_ids;

  int num_towers() const { return static_cast<int>(modalities.size()); }
  int64_t q_dim() const { return int64_t{n_heads} * head_dim; }
  int64_t kv_dim() const { return int64_t{n_kv_heads} * head_dim; }
  // The tower of token `id` (a binary search over vocab_ranges).
  // REQUIRES: 0 <= id < vocab_size and a validated config.
  int TowerOf(int32_t id) const;
  // The q/k norm's kind: qk_norm_spec, or the classic one ({norm_type, per_head false,
  // bias = norm_type is layer, norm_eps}). Meaningful only when qk_norm.
  QkNormSpec EffectiveQkNorm() const;

  bool operator==(const MotConfig&) const = default;
};

// Parses and validates config.json text. Errors are InvalidArgument and name the key and
// the reason, e.g. "field n_kv_heads: must divide n_heads=16, got 5"; the caller prefixes
// the file name.
absl::StatusOr<MotConfig> ParseMotConfig(std::string_view json_text);

// Validates the ranges of the fields and the relations between them for a config built in
// code (ParseMotConfig calls it): positive dims under generous limits, n_kv_heads divides
// n_heads, even head_dim, finite norm_eps in (0, 1), rope_theta > 0, 1..kMaxModalities
// unique non-empty modality names, vocab ranges as described above, rope_scaling's fields
// for its type ("field rope_scaling.factor: ..."), sliding_window in [0, 2^24]
// (0: none), special_token_ids ("field special_token_ids.eos: ..."), qk_norm_spec only with
// qk_norm ("field qk_norm.eps: ..."), suppressed_token_ids ("field
// suppressed_token_ids[2]: ..."). InvalidArgument "field <name>: <reason>".
absl::Status ValidateMotConfig(const MotConfig& config);

// The rotary inverse frequencies of `config` (head_dim / 2 values, rope_theta and
// rope_scaling applied), in double. REQUIRES: a validated config.
std::vector<double> RopeInverseFrequencies(const MotConfig& config);

// What rotary scales q and k by (transformers multiplies cos and sin by it): yarn's
// attention_factor, else 1. The attention scores are then scaled by its square.
double RopeAttentionFactor(const MotConfig& config);

// Reads and parses `path`; errors are prefixed with the path.
absl::StatusOr<MotConfig> LoadMotConfig(const std::string& path);

// The config.json text for `config` (pretty-printed, keys in the documented order);
// ParseMotConfig(MotConfigToJson(c)) == c.
std::string MotConfigToJson(const MotConfig& config);

}  // namespace mot

#endif  // MOT_MODEL_LOADERS_MODEL_CONFIG_H_
