// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: SafetensorsFile::FromBuffer on arbitrary bytes. Whatever it accepts must be
// safe to use: every tensor view lies inside the input (ASan checks the reads below), and
// re-serializing the tensors gives a file that parses back to the same entries.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "model_loaders/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<mot::SafetensorsFile> f =
      mot::SafetensorsFile::FromBuffer(bytes, "fuzz.safetensors");
  if (!f.ok()) return 0;

  std::vector<mot::NamedTensor> tensors;
  uint64_t covered = 0;
  for (const mot::SafetensorsEntry& e : f->entries()) {
    const absl::StatusOr<mot::Tensor> t = f->Get(e.name);
    if (!t.ok() || t->nbytes() != static_cast<int64_t>(e.end - e.begin)) __builtin_trap();
    // Touch the first and last byte of every tensor.
    if (t->nbytes() > 0) {
      const auto* p = static_cast<const volatile uint8_t*>(t->data());
      (void)p[0];
      (void)p[t->nbytes() - 1];
    }
    covered += e.end - e.begin;
    tensors.push_back({e.name, *t});
  }
  if (covered > size) __builtin_trap();

  const absl::StatusOr<std::string> again = mot::SerializeSafetensors(tensors, f->metadata());
  if (!again.ok()) __builtin_trap();
  const absl::StatusOr<mot::SafetensorsFile> g =
      mot::SafetensorsFile::FromBuffer(*again, "reserialized.safetensors");
  if (!g.ok() || g->entries().size() != f->entries().size() || g->metadata() != f->metadata()) {
    __builtin_trap();
  }
  for (const mot::SafetensorsEntry& e : f->entries()) {
    const mot::SafetensorsEntry* h = g->Find(e.name);
    if (h == nullptr || h->dtype != e.dtype || h->shape != e.shape) __builtin_trap();
  }
  return 0;
}
