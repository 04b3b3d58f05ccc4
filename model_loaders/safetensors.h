// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: model_loaders/safetensors.h
// SafetensorsFile: a read-only, memory-mapped .safetensors file. Open() checks the whole
// header before anything is used (length limit, well-formed JSON, known dtypes, shape
// products without overflow, data offsets inside the file, in order and not overlapping,
// sizes that match dtype x shape, "__metadata__" as a string map) and fails with the file,
// the tensor and the reason named. Tensors are zero-copy views into the mapping: they are
// valid while the SafetensorsFile (or a copy of its shared mapping, see mapping()) lives.
// F32, F16 and BF16 tensors are accepted, and our own block-quantized Q8_0 and Q4_0 (last
// dimension a multiple of 32); other safetensors dtypes are an error naming the tensor.
// Byte layout: safetensors_format.h.
// Thread rule: immutable after Open; const methods from any thread.
#ifndef MOT_MODEL_LOADERS_SAFETENSORS_H_
#define MOT_MODEL_LOADERS_SAFETENSORS_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/tensor.h"

namespace mot {

struct SafetensorsEntry {
  std::string name;
  DType dtype = DType::kF32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte offsets into the data section
  uint64_t end = 0;
};

class SafetensorsFile {
 public:
  // Maps and validates `path`. NotFound when it does not exist; InvalidArgument (or
  // DataLoss for a truncated file) naming the path and the field otherwise.
  static absl::StatusOr<SafetensorsFile> Open(const std::string& path);

  // Validates an in-memory image of a file (the fuzz target's entry point). `bytes` must
  // outlive the result; `name` is used in messages.
  static absl::StatusOr<SafetensorsFile> FromBuffer(std::string_view bytes, std::string_view name);

  const std::string& path() const { return path_; }
  // Entries in data-offset order.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool Contains(std::string_view name) const;
  // The entry of tensor `name`, or nullptr.
  const SafetensorsEntry* Find(std::string_view name) const;
  // Total size of the file (or buffer) in bytes.
  uint64_t size() const { return size_; }
  // The shared mmap (null for FromBuffer): hold a copy to keep views valid after this
  // object is gone.
  const std::shared_ptr<const void>& mapping() const { return mapping_; }

  // A zero-copy view of tensor `name`; NotFound naming the file and the tensor. (A tensor
  // not aligned to its element size, which neither our writer nor the Python library
  // produces, is returned as an aligned owning copy instead.)
  absl::StatusOr<Tensor> Get(std::string_view name) const;

 private:
  SafetensorsFile() = default;

  std::string path_;
  std::shared_ptr<const void> mapping_;  // keeps the mmap (or nothing, for FromBuffer)
  uint64_t size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data section
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: its name and contents (any dtype; written as it is).
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// Writes `tensors` (names unique, any order) and `metadata` to `path` atomically (a
// temporary file in the same directory, fsynced and renamed into place; `path` is unchanged
// on failure). The layout is the Python library's, byte for byte: header padded with spaces
// to a multiple of 8, tensors ordered by dtype size (largest first) then by name, so every
// tensor is aligned. InvalidArgument for a duplicate name, "__metadata__" as a name, a
// tensor without data or names that are not UTF-8; the errno's code for I/O failures.
absl::Status WriteSafetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// The bytes WriteSafetensors would write (for tests and in-memory use).
absl::StatusOr<std::string> SerializeSafetensors(
    const std::vector<NamedTensor>& tensors,
    const std::map<std::string, std::string>& metadata = {});

}  // namespace mot

#endif  // MOT_MODEL_LOADERS_SAFETENSORS_H_
