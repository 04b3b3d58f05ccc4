// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "model_loaders/quantize.h"

#include <cmath>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/core/block_quant.h"
#include "model_loaders/weight_names.h"

namespace mot {
namespace {

namespace wn = weight_names;

std::set<std::string> GemmWeightNames(const MotConfig& config) {
  std::set<std::string> names;
  if (!config.tie_embeddings) names.insert(wn::kOutput);
  for (int i = 0; i < config.n_layers; ++i) {
    for (int m = 0; m < config.num_towers(); ++m) {
      for (char proj : {'q', 'k', 'v', 'o'}) names.insert(wn::AttentionProj(i, proj, m));
      for (int w = 1; w <= 3; ++w) names.insert(wn::FfnProj(i, w, m));
    }
  }
  return names;
}

}  // namespace

bool IsGemmWeight(const MotConfig& config, const std::string& name) {
  return GemmWeightNames(config).count(name) > 0;
}

absl::StatusOr<std::vector<NamedTensor>> ConvertGemmWeights(const MotConfig& config,
                                                            const std::vector<NamedTensor>& tensors,
                                                            DType dtype) {
  const std::set<std::string> gemm = GemmWeightNames(config);
  std::vector<NamedTensor> out;
  out.reserve(tensors.size());
  for (const NamedTensor& t : tensors) {
    if (gemm.count(t.name) == 0) {
      out.push_back(t);
      continue;
    }
    const Tensor& w = t.tensor;
    if (w.rank() != 2) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", t.name, ": shape [",
                                                     absl::StrJoin(w.shape(), ", "),
                                                     "] is not 2-D, cannot convert"));
    }
    if (IsBlockDType(dtype) && w.dim(1) % kQuantBlock != 0) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", t.name, ": rows of ", w.dim(1),
                                                     " inputs are not a multiple of ", kQuantBlock,
                                                     ", cannot quantize to ", DTypeName(dtype)));
    }
    if (w.dtype() == dtype) {
      out.push_back(t);
      continue;
    }
    const Tensor f32 = w.dtype() == DType::kF32 ? w : w.To(DType::kF32);
    const float* v = f32.data_as<const float>();
    for (int64_t i = 0; i < f32.numel(); ++i) {
      if (!std::isfinite(v[i])) {
        return absl::InvalidArgumentError(
            absl::StrCat("tensor ", t.name, ": element ", i, " is not finite (", v[i], ")"));
      }
    }
    out.push_back({t.name, f32.To(dtype)});
  }
  return out;
}

}  // namespace mot
