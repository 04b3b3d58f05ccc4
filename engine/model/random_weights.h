// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/model/random_weights.h
// RandomMotWeights: a full set of random tensors for a MotConfig (every name and shape of
// weight_names::ExpectedTensors), for tests, oracle comparisons and benchmarks. Fixed by the
// seed (splitmix64, the same on every platform). Projections are uniform with std
// 1/sqrt(fan_in), embeddings std 1, norm weights 1 +- 0.2, biases +- 0.1, so activations stay
// O(1) through the layers. GEMM weights and embeddings get `dtype`; norms are always F32.
// With identical_towers, every tower's tensors equal tower 0's.
// Thread rule: a pure function.
#ifndef MOT_ENGINE_MODEL_RANDOM_WEIGHTS_H_
#define MOT_ENGINE_MODEL_RANDOM_WEIGHTS_H_

#include <cstdint>
#include <vector>

#include "engine/core/dtype.h"
#include "model_loaders/model_config.h"
#include "model_loaders/safetensors.h"

namespace mot::model {

std::vector<NamedTensor> RandomMotWeights(const MotConfig& config, DType dtype, uint64_t seed,
                                          bool identical_towers = false);

}  // namespace mot::model

#endif  // MOT_ENGINE_MODEL_RANDOM_WEIGHTS_H_
