// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: model_loaders/internal/json_util.h
// Strict, exception-free JSON parsing for untrusted headers and configs: nlohmann::json
// with duplicate keys detected (nlohmann silently keeps the last one), and a short
// printable form of a value for error messages. Thread rule: free functions.
#ifndef MOT_MODEL_LOADERS_INTERNAL_JSON_UTIL_H_
#define MOT_MODEL_LOADERS_INTERNAL_JSON_UTIL_H_

#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"

namespace mot::loaders_internal {

// Parses `text` as one JSON value. InvalidArgument "<what> is not well-formed JSON" or
// "<what> has the key 'k' more than once" (duplicates within one object).
absl::StatusOr<nlohmann::json> ParseStrictJson(std::string_view text, std::string_view what);

// `v` as compact JSON, cut to about 40 characters, for messages. Never throws.
std::string ShortDump(const nlohmann::json& v);

}  // namespace mot::loaders_internal

#endif  // MOT_MODEL_LOADERS_INTERNAL_JSON_UTIL_H_
