// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/core/status_macros.h
// Early-return helpers for absl::Status / absl::StatusOr, with the shape of Abseil's
// status_macros.h (which Debian 12's Abseil lacks). Context is added once per layer with
// Annotate(): MOT_RETURN_IF_ERROR(Annotate(s, "loading ", path)).
#ifndef MOT_ENGINE_CORE_STATUS_MACROS_H_
#define MOT_ENGINE_CORE_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

namespace mot {

// Returns `s` with `parts...` and ": " prepended to its message; OK stays OK.
template <typename... Parts>
absl::Status Annotate(const absl::Status& s, const Parts&... parts) {
  if (s.ok()) return s;
  return absl::Status(s.code(), absl::StrCat(parts..., ": ", s.message()));
}

}  // namespace mot

#define MOT_STATUS_CONCAT_INNER_(a, b) a##b
#define MOT_STATUS_CONCAT_(a, b) MOT_STATUS_CONCAT_INNER_(a, b)

// Evaluates `expr` (an absl::Status) and returns it from the enclosing function if not OK.
#define MOT_RETURN_IF_ERROR(expr)              \
  do {                                         \
    const absl::Status mot_status_ = (expr);   \
    if (!mot_status_.ok()) return mot_status_; \
  } while (0)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status, else moves the
// value into `lhs` (a declaration such as `auto x` or an existing lvalue).
#define MOT_ASSIGN_OR_RETURN(lhs, rexpr) \
  MOT_ASSIGN_OR_RETURN_IMPL_(MOT_STATUS_CONCAT_(mot_statusor_, __LINE__), lhs, rexpr)

#define MOT_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr)   \
  auto statusor = (rexpr);                                 \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

#endif  // MOT_ENGINE_CORE_STATUS_MACROS_H_
