// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "model_loaders/weight_names.h"

#include "absl/strings/str_cat.h"

namespace mot::weight_names {

std::string AttentionProj(int layer, char proj, int tower, const char* suffix) {
  return absl::StrCat("layers.", layer, ".attention.local_experts_w", std::string(1, proj), ".",
                      tower, ".", suffix);
}

std::string QkNorm(int layer, char which, int tower, const char* suffix) {
  return absl::StrCat("layers.", layer, ".attention.local_experts_", std::string(1, which),
                      "_normalization.", tower, ".", suffix);
}

std::string AttentionNorm(int layer, int tower, const char* suffix) {
  return absl::StrCat("layers.", layer, ".attention.local_experts_attention_norm.", tower, ".",
                      suffix);
}

std::string FfnProj(int layer, int w, int tower) {
  return absl::StrCat("layers.", layer, ".feed_forward.local_experts.", tower, ".w", w, ".weight");
}

std::string FfnNorm(int layer, int tower, const char* suffix) {
  return absl::StrCat("layers.", layer, ".feed_forward.local_experts_ffn_norm.", tower, ".",
                      suffix);
}

std::string FinalNorm(int tower, const char* suffix) {
  return absl::StrCat("norm.", tower, ".", suffix);
}

std::vector<ExpectedTensor> ExpectedTensors(const MotConfig& c) {
  std::vector<ExpectedTensor> out;
  const int64_t dim = c.dim;
  const bool layer_norm = c.norm_type == NormType::kLayer;
  auto add_norm = [&](const std::string& weight, const std::string& bias, int64_t size) {
    out.push_back({weight, {size}});
    if (layer_norm) out.push_back({bias, {size}});
  };
  out.push_back({kTokEmbeddings, {c.vocab_size, dim}});
  for (int i = 0; i < c.n_layers; ++i) {
    for (int m = 0; m < c.num_towers(); ++m) {
      out.push_back({AttentionProj(i, 'q', m), {c.q_dim(), dim}});
      out.push_back({AttentionProj(i, 'k', m), {c.kv_dim(), dim}});
      out.push_back({AttentionProj(i, 'v', m), {c.kv_dim(), dim}});
      out.push_back({AttentionProj(i, 'o', m), {dim, c.q_dim()}});
      if (c.attention_bias) {
        out.push_back({AttentionProj(i, 'q', m, "bias"), {c.q_dim()}});
        out.push_back({AttentionProj(i, 'k', m, "bias"), {c.kv_dim()}});
        out.push_back({AttentionProj(i, 'v', m, "bias"), {c.kv_dim()}});
      }
      if (c.qk_norm && !c.qk_norm_spec.has_value()) {
        add_norm(QkNorm(i, 'q', m), QkNorm(i, 'q', m, "bias"), c.head_dim);
        add_norm(QkNorm(i, 'k', m), QkNorm(i, 'k', m, "bias"), c.head_dim);
      } else if (c.qk_norm) {
        // A q/k norm of its own kind: per head [heads, head_dim], a bias only when it says.
        const QkNormSpec& q = *c.qk_norm_spec;
        for (const auto& [which, heads] : {std::pair<char, int64_t>{'q', c.n_heads},
                                           std::pair<char, int64_t>{'k', c.n_kv_heads}}) {
          std::vector<int64_t> shape = {c.head_dim};
          if (q.per_head) shape = {heads, c.head_dim};
          out.push_back({QkNorm(i, which, m), shape});
          if (q.bias) out.push_back({QkNorm(i, which, m, "bias"), shape});
        }
      }
      add_norm(AttentionNorm(i, m), AttentionNorm(i, m, "bias"), dim);
      out.push_back({FfnProj(i, 1, m), {c.ffn_hidden, dim}});
      out.push_back({FfnProj(i, 2, m), {dim, c.ffn_hidden}});
      out.push_back({FfnProj(i, 3, m), {c.ffn_hidden, dim}});
      add_norm(FfnNorm(i, m), FfnNorm(i, m, "bias"), dim);
    }
  }
  for (int m = 0; m < c.num_towers(); ++m) add_norm(FinalNorm(m), FinalNorm(m, "bias"), dim);
  if (!c.tie_embeddings) out.push_back({kOutput, {c.vocab_size, dim}});
  return out;
}

}  // namespace mot::weight_names
