// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/model/random_weights.h"

#include <cmath>
#include <map>
#include <string>

#include "absl/strings/str_cat.h"
#include "model_loaders/weight_names.h"

namespace mot::model {
namespace {

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

// Uniform in [-1, 1).
float Uniform(uint64_t& state) {
  return static_cast<float>(static_cast<double>(SplitMix64(state) >> 11) * 0x1.0p-52 - 1.0);
}

// The name with its tower index replaced by 0 ("layers.3.attention.local_experts_wq.2.weight"
// -> "...wq.0.weight", "norm.2.weight" -> "norm.0.weight"); "" when it has no tower.
std::string TowerZeroName(const std::string& name) {
  // The tower index is the component before the last ("weight"/"bias") for every per-tower
  // name in weight_names.h.
  const size_t last = name.rfind('.');
  if (last == std::string::npos || last == 0) return "";
  const size_t prev = name.rfind('.', last - 1);
  const std::string mid = name.substr(prev == std::string::npos ? 0 : prev + 1,
                                      last - (prev == std::string::npos ? 0 : prev + 1));
  if (mid.empty() || mid.find_first_not_of("0123456789") != std::string::npos) return "";
  return name.substr(0, prev == std::string::npos ? 0 : prev + 1) + "0" + name.substr(last);
}

// ffn: "layers.1.feed_forward.local_experts.2.w1.weight" has the tower before "w1".
std::string FfnTowerZeroName(const std::string& name) {
  const std::string key = ".local_experts.";
  const size_t at = name.find(key);
  if (at == std::string::npos) return "";
  const size_t begin = at + key.size();
  const size_t end = name.find('.', begin);
  return name.substr(0, begin) + "0" + name.substr(end);
}

}  // namespace

std::vector<NamedTensor> RandomMotWeights(const MotConfig& config, DType dtype, uint64_t seed,
                                          bool identical_towers) {
  std::vector<NamedTensor> out;
  std::map<std::string, size_t> index;
  uint64_t state = seed * 0x2545f4914f6cdd1dULL + 1;
  for (const weight_names::ExpectedTensor& e : weight_names::ExpectedTensors(config)) {
    if (identical_towers) {
      std::string zero = FfnTowerZeroName(e.name);
      if (zero.empty()) zero = TowerZeroName(e.name);
      auto it = index.find(zero);
      if (!zero.empty() && zero != e.name && it != index.end()) {
        index[e.name] = out.size();
        out.push_back({e.name, out[it->second].tensor});
        continue;
      }
    }
    // Per-head q/k norms ([heads, head_dim], model_config.h "qk_norm" as an object) are
    // norms too.
    const bool is_norm = e.shape.size() == 1 || e.name.find("_normalization.") != std::string::npos;
    const bool is_bias = is_norm && e.name.size() > 5 && e.name.ends_with(".bias");
    const int64_t n = Tensor::NumElements(e.shape);
    Tensor t = Tensor::Empty(is_norm ? DType::kF32 : dtype, e.shape);
    std::vector<float> values(static_cast<size_t>(n));
    if (is_bias) {
      for (float& v : values) v = 0.1f * Uniform(state);
    } else if (is_norm) {
      for (float& v : values) v = 1.0f + 0.2f * Uniform(state);
    } else {
      const bool embedding = e.name == weight_names::kTokEmbeddings;
      const float scale =
          embedding ? std::sqrt(3.0f) : std::sqrt(3.0f / static_cast<float>(e.shape[1]));
      for (float& v : values) v = scale * Uniform(state);
    }
    ConvertFromF32(values.data(), n, t.dtype(), t.data());
    index[e.name] = out.size();
    out.push_back({e.name, t});
  }
  return out;
}

}  // namespace mot::model
