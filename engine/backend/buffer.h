// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/buffer.h
// Buffer: an owned allocation in a backend's memory (Backend::Allocate), freed with the
// backend's Free when it goes. Move-only. Grow keeps no contents: it is for scratch that
// is rewritten every step. The backend must outlive its buffers.
// KvStorageOn: a KV cache's storage in a backend's memory (unset for host backends, whose
// caches keep their own host allocation).
#ifndef MOT_ENGINE_BACKEND_BUFFER_H_
#define MOT_ENGINE_BACKEND_BUFFER_H_

#include <cstdint>
#include <utility>

#include "absl/status/status.h"
#include "engine/backend/backend.h"
#include "engine/core/status_macros.h"
#include "engine/kv/kv_storage.h"

namespace mot::backend {

class Buffer {
 public:
  Buffer() = default;
  ~Buffer() { Reset(); }
  Buffer(Buffer&& o) noexcept
      : backend_(std::exchange(o.backend_, nullptr)),
        data_(std::exchange(o.data_, nullptr)),
        bytes_(std::exchange(o.bytes_, 0)) {}
  Buffer& operator=(Buffer&& o) noexcept {
    if (this != &o) {
      Reset();
      backend_ = std::exchange(o.backend_, nullptr);
      data_ = std::exchange(o.data_, nullptr);
      bytes_ = std::exchange(o.bytes_, 0);
    }
    return *this;
  }
  Buffer(const Buffer&) = delete;
  Buffer& operator=(const Buffer&) = delete;

  static absl::StatusOr<Buffer> Allocate(Backend* backend, int64_t bytes) {
    Buffer b;
    MOT_ASSIGN_OR_RETURN(b.data_, backend->Allocate(bytes));
    b.backend_ = backend;
    b.bytes_ = bytes;
    return b;
  }

  // Makes the buffer at least `bytes` long (a fresh allocation when it grows; contents lost).
  absl::Status Grow(Backend* backend, int64_t bytes) {
    if (bytes <= bytes_ && backend == backend_) return absl::OkStatus();
    Reset();
    MOT_ASSIGN_OR_RETURN(*this, Allocate(backend, bytes));
    return absl::OkStatus();
  }

  void Reset() {
    if (backend_ != nullptr) backend_->Free(data_);
    backend_ = nullptr;
    data_ = nullptr;
    bytes_ = 0;
  }

  void* data() const { return data_; }
  template <typename T>
  T* as() const {
    return static_cast<T*>(data_);
  }
  int64_t bytes() const { return bytes_; }

 private:
  Backend* backend_ = nullptr;
  void* data_ = nullptr;
  int64_t bytes_ = 0;
};

inline kv::KvStorage KvStorageOn(Backend* backend) {
  kv::KvStorage s;
  if (backend == nullptr || !backend->device_memory()) return s;
  s.allocate = [backend](int64_t bytes) { return backend->Allocate(bytes); };
  s.free = [backend](void* p) { backend->Free(p); };
  return s;
}

}  // namespace mot::backend

#endif  // MOT_ENGINE_BACKEND_BUFFER_H_
