// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: model_loaders/safetensors_format.h
// The byte layout of a .safetensors file, shared by the reader and the writer:
//   [8 bytes: N, little-endian u64][N bytes: JSON header, UTF-8][data section]
// The header maps each tensor name to {"dtype", "shape", "data_offsets": [begin, end]}
// (offsets relative to the data section) plus an optional "__metadata__" string map. The
// Python library pads the header with spaces to a multiple of 8 bytes and writes tensors
// ordered by dtype size (largest first), then by name, so every tensor is aligned to its
// element size in a page-aligned mapping; our writer does the same, byte for byte.
// Our own dtypes (not the Python library's; it refuses them): "Q8_0" and "Q4_0", block-
// quantized GEMM weights in llama.cpp's block layout (engine/core/block_quant.h):
//   Q8_0: per 32 consecutive elements of the last dimension, 34 bytes: f16 scale d, then
//         32 int8 q; x = d * q.
//   Q4_0: per 32 elements, 18 bytes: f16 scale d, then 16 bytes; element j < 16 is the low
//         nibble of byte j, element j + 16 its high nibble; x = d * (nibble - 8).
// Shape rule: rank >= 1 and the last dimension a multiple of 32 (the reader refuses others,
// naming the tensor); the byte size is numel / 32 * block bytes. The writer places them
// after every F32/BF16 tensor (beside F16), so their 2-byte scales stay aligned.
// Thread rule: constants and pure functions.
#ifndef MOT_MODEL_LOADERS_SAFETENSORS_FORMAT_H_
#define MOT_MODEL_LOADERS_SAFETENSORS_FORMAT_H_

#include <cstdint>
#include <optional>
#include <vector>

namespace mot::safetensors_format {

inline constexpr uint64_t kHeaderLengthBytes = 8;
// The reference library's limit on N (MAX_HEADER_SIZE).
inline constexpr uint64_t kMaxHeaderBytes = 100'000'000;
inline constexpr uint64_t kHeaderAlignment = 8;
inline constexpr char kMetadataKey[] = "__metadata__";

// The product of `shape`, or nullopt when a dimension is negative or the product (or the
// product times `element_size` bytes) does not fit in int64.
std::optional<int64_t> CheckedNumBytes(const std::vector<int64_t>& shape, int64_t element_size);

// Elements per quantization block of Q8_0 / Q4_0, and bytes per block.
inline constexpr int64_t kQuantBlockElements = 32;
inline constexpr int64_t kQ8_0BlockBytes = 34;
inline constexpr int64_t kQ4_0BlockBytes = 18;

}  // namespace mot::safetensors_format

namespace mot {

// The number of elements of `shape`, or nullopt on a negative dimension or overflow. Use
// before Tensor::NumElements on untrusted shapes.
inline std::optional<int64_t> CheckedNumElements(const std::vector<int64_t>& shape) {
  return safetensors_format::CheckedNumBytes(shape, 1);
}

}  // namespace mot

#endif  // MOT_MODEL_LOADERS_SAFETENSORS_FORMAT_H_
