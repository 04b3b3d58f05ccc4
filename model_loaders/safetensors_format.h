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

}  // namespace mot::safetensors_format

namespace mot {

// The number of elements of `shape`, or nullopt on a negative dimension or overflow. Use
// before Tensor::NumElements on untrusted shapes.
inline std::optional<int64_t> CheckedNumElements(const std::vector<int64_t>& shape) {
  return safetensors_format::CheckedNumBytes(shape, 1);
}

}  // namespace mot

#endif  // MOT_MODEL_LOADERS_SAFETENSORS_FORMAT_H_
