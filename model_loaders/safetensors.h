// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: model_loaders/safetensors.h
// SafetensorsFile: a read-only, memory-mapped .safetensors file. Open() checks the whole
// header before anything is used (length limit, well-formed JSON, known dtypes, shape
// products without overflow, data offsets inside the file, in order and not overlapping,
// sizes that match dtype x shape, "__metadata__" as a string map) and fails with the file,
// the tensor and the reason named. Tensors are zero-copy views into the mapping: they are
// valid while the SafetensorsFile (or a copy of its shared mapping) lives.
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
  static absl::StatusOr<SafetensorsFile> FromBuffer(std::string_view bytes,
                                                    std::string_view name);

  const std::string& path() const { return path_; }
  // Entries in data-offset order.
  const std::vector<SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool Contains(std::string_view name) const;

  // A zero-copy view of tensor `name`; NotFound naming the file and the tensor.
  absl::StatusOr<Tensor> Get(std::string_view name) const;

 private:
  SafetensorsFile() = default;

  std::string path_;
  std::shared_ptr<const void> mapping_;  // keeps the mmap (or nothing, for FromBuffer)
  const uint8_t* data_ = nullptr;        // start of the data section
  std::vector<SafetensorsEntry> entries_;
  std::map<std::string, size_t, std::less<>> index_;
  std::map<std::string, std::string> metadata_;
};

// One tensor to write: its name and contents (any dtype; written as it is).
struct NamedTensor {
  std::string name;
  Tensor tensor;
};

// Writes `tensors` (names unique, any order; written sorted by name, as the Python library
// does) and `metadata` to `path` atomically (a temporary file renamed into place).
absl::Status WriteSafetensors(const std::string& path, const std::vector<NamedTensor>& tensors,
                              const std::map<std::string, std::string>& metadata = {});

// The bytes WriteSafetensors would write (for tests and in-memory use).
absl::StatusOr<std::string> SerializeSafetensors(
    const std::vector<NamedTensor>& tensors,
    const std::map<std::string, std::string>& metadata = {});

}  // namespace mot

#endif  // MOT_MODEL_LOADERS_SAFETENSORS_H_
