// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/core/tensor.h
// Tensor: a dtype, a row-major shape and a pointer to the elements. Either owns its buffer
// (64-byte aligned, from Tensor::Empty/Zeros) or views memory owned elsewhere (an mmapped
// checkpoint, a caller's array): a view must not outlive that memory. Copying a Tensor is
// cheap and shares the buffer (shared ownership); use Clone() for a deep copy.
// Thread rule: const methods from any thread; writes to the elements need external sync.
#ifndef MOT_ENGINE_CORE_TENSOR_H_
#define MOT_ENGINE_CORE_TENSOR_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/core/dtype.h"

namespace mot {

class Tensor {
 public:
  Tensor() = default;

  // An owning tensor with uninitialized (Empty) or zeroed (Zeros) elements.
  static Tensor Empty(DType dtype, std::vector<int64_t> shape);
  static Tensor Zeros(DType dtype, std::vector<int64_t> shape);
  // A non-owning view of `data`, which must hold NumElements(shape) elements of `dtype`
  // and stay alive (and unmoved) while the view or any copy of it is used.
  static Tensor View(DType dtype, std::vector<int64_t> shape, const void* data);

  // A deep copy that owns its buffer.
  Tensor Clone() const;
  // A copy converted to `dtype` (an owning tensor; a plain Clone when dtype is the same).
  Tensor To(DType dtype) const;

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t numel() const { return numel_; }
  // Block dtypes: REQUIRES the last dimension to be a multiple of 32 (as every reader checks).
  int64_t nbytes() const { return DTypeBytes(dtype_, numel_); }
  bool empty() const { return data_ == nullptr; }
  bool owns_data() const { return buffer_ != nullptr; }

  void* data() const { return data_; }
  template <typename T>
  T* data_as() const {
    return static_cast<T*>(data_);
  }

  // "[2, 3] BF16", for messages.
  std::string DebugString() const;

  // Product of `shape`; REQUIRES: no overflow (callers validating untrusted shapes use
  // CheckedNumElements in model_loaders first).
  static int64_t NumElements(const std::vector<int64_t>& shape);

 private:
  DType dtype_ = DType::kF32;
  std::vector<int64_t> shape_;
  int64_t numel_ = 0;
  void* data_ = nullptr;
  std::shared_ptr<void> buffer_;  // null for views
};

}  // namespace mot

#endif  // MOT_ENGINE_CORE_TENSOR_H_
