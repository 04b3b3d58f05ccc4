// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: model_loaders/quantize.h
// Converting a checkpoint's GEMM weights to the block-quantized dtypes Q8_0 / Q4_0
// (engine/core/block_quant.h): what mot-quantize does, also used by benchmarks and tests.
// Only GEMM weights are converted: every layer's and tower's w{q,k,v,o} and w{1,2,3}, and
// output.weight (the untied LM head). The embedding table, norms and biases stay as they
// are (a tied LM head therefore stays unquantized with the embeddings).
// Thread rule: pure functions.
#ifndef MOT_MODEL_LOADERS_QUANTIZE_H_
#define MOT_MODEL_LOADERS_QUANTIZE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/dtype.h"
#include "model_loaders/model_config.h"
#include "model_loaders/safetensors.h"

namespace mot {

// Whether `name` is a GEMM weight of a checkpoint of `config` (see the file comment).
bool IsGemmWeight(const MotConfig& config, const std::string& name);

// `tensors` with every GEMM weight converted to `dtype` (a block dtype: quantized from its
// f32 value; f32/bf16/f16: converted), and every other tensor unchanged (shared, not
// copied). Quantizing an already quantized weight goes through its dequantized f32 value.
// InvalidArgument naming the tensor when a GEMM weight is not 2-D, has a row length that is
// not a multiple of 32 (block dtypes), or holds a value that is not finite.
absl::StatusOr<std::vector<NamedTensor>> ConvertGemmWeights(const MotConfig& config,
                                                            const std::vector<NamedTensor>& tensors,
                                                            DType dtype);

}  // namespace mot

#endif  // MOT_MODEL_LOADERS_QUANTIZE_H_
