// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/kv/kv_storage.h
// KvStorage: where a KV cache's K/V bytes come from. Unset (the default): host memory, owned
// by the cache. Set: a backend's Allocate and Free (backend::KvStorageOn), so the K/V live in
// the memory that backend's StoreKv and Attention read; the cache then never touches them on
// the host. Kept as two functions so engine/kv does not depend on the backends.
#ifndef MOT_ENGINE_KV_KV_STORAGE_H_
#define MOT_ENGINE_KV_KV_STORAGE_H_

#include <cstdint>
#include <functional>

#include "absl/status/statusor.h"

namespace mot::kv {

struct KvStorage {
  std::function<absl::StatusOr<void*>(int64_t bytes)> allocate;
  std::function<void(void*)> free;
  bool is_set() const { return static_cast<bool>(allocate); }
};

}  // namespace mot::kv

#endif  // MOT_ENGINE_KV_KV_STORAGE_H_
