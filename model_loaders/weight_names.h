// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: model_loaders/weight_names.h
// The native tensor names of a MoT checkpoint, which follow the module names of the public
// MoT reference code so that its state dict saved as safetensors loads as it is:
//   tok_embeddings.weight                                          [vocab, dim]
//   layers.{i}.attention.local_experts_w{q,k,v,o}.{m}.weight       [out, in]
//   layers.{i}.attention.local_experts_w{q,k,v}.{m}.bias           [out] (attention_bias)
//   layers.{i}.attention.local_experts_{q,k}_normalization.{m}.weight   [head_dim] (qk_norm)
//   layers.{i}.attention.local_experts_attention_norm.{m}.weight   [dim]
//   layers.{i}.feed_forward.local_experts.{m}.w{1,2,3}.weight      [out, in]
//   layers.{i}.feed_forward.local_experts_ffn_norm.{m}.weight      [dim]
//   norm.{m}.weight                                                [dim]
//   output.weight                                                  [vocab, dim] (untied)
// With norm_type "layer" every norm also has a ".bias" of the weight's shape.
// A q/k norm of its own kind (config.json "qk_norm" as an object, model_config.h) keeps the
// q/k norm names; per_head makes their shape [n_heads, head_dim] (q) and
// [n_kv_heads, head_dim] (k), and they have a ".bias" exactly when its "bias" is true
// (whatever norm_type says).
// The reference has no pre-norm layout; we give its two norms the same names in both
// layouts: attention_norm is the norm of the attention sublayer (on its input for "pre", on
// its output for "post_branch"), ffn_norm likewise for the feed-forward sublayer.
#ifndef MOT_MODEL_LOADERS_WEIGHT_NAMES_H_
#define MOT_MODEL_LOADERS_WEIGHT_NAMES_H_

#include <cstdint>
#include <string>
#include <vector>

#include "model_loaders/model_config.h"

namespace mot::weight_names {

inline constexpr char kTokEmbeddings[] = "tok_embeddings.weight";
inline constexpr char kOutput[] = "output.weight";

// proj is one of 'q', 'k', 'v', 'o'; `suffix` is "weight" or "bias" (q, k, v only).
std::string AttentionProj(int layer, char proj, int tower, const char* suffix = "weight");
// which is 'q' or 'k'; `suffix` is "weight" or "bias".
std::string QkNorm(int layer, char which, int tower, const char* suffix = "weight");
std::string AttentionNorm(int layer, int tower, const char* suffix = "weight");
// w is 1, 2 or 3 (w1 gate, w2 down, w3 up).
std::string FfnProj(int layer, int w, int tower);
std::string FfnNorm(int layer, int tower, const char* suffix = "weight");
std::string FinalNorm(int tower, const char* suffix = "weight");

struct ExpectedTensor {
  std::string name;
  std::vector<int64_t> shape;
};

// Every tensor a checkpoint of `config` must hold, with its shape, in a stable order.
std::vector<ExpectedTensor> ExpectedTensors(const MotConfig& config);

}  // namespace mot::weight_names

#endif  // MOT_MODEL_LOADERS_WEIGHT_NAMES_H_
