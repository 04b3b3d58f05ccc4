// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Fuzz target: ParseMotConfig on arbitrary text. An accepted config must be internally
// consistent: TowerOf is in range for every range boundary, and MotConfigToJson parses back
// to an equal config.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "model_loaders/model_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const absl::StatusOr<mot::MotConfig> c = mot::ParseMotConfig(text);
  if (!c.ok()) return 0;
  if (!mot::ValidateMotConfig(*c).ok()) __builtin_trap();
  for (const mot::VocabRange& r : c->vocab_ranges) {
    for (int32_t id : {r.begin, r.end - 1}) {
      if (c->TowerOf(id) != r.tower) __builtin_trap();
    }
  }
  const absl::StatusOr<mot::MotConfig> again = mot::ParseMotConfig(mot::MotConfigToJson(*c));
  if (!again.ok() || !(*again == *c)) __builtin_trap();
  return 0;
}
