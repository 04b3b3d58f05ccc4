// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/bench_flags.h
// Command-line parsing shared by the benchmark and evaluation tools: Abseil flags, plus the
// dashed spellings users type. Flags are defined with underscores (ABSL_FLAG(bool, no_fuse,
// ...)); ParseBenchFlags rewrites '-' to '_' inside each flag's name (before any '=') so
// that --no-fuse reaches no_fuse. The value of a non-bool flag given as the next argument
// (--python -odd-name) and everything after a bare "--" are left as they are.
// Exit codes: Abseil's own errors (unknown flag, unparsable value) and --help exit 1 (its
// behaviour in Debian 12's Abseil); UsageError (a leftover argument, a value out of range)
// exits 2.
#ifndef MOT_BENCH_BENCH_FLAGS_H_
#define MOT_BENCH_BENCH_FLAGS_H_

#include "absl/strings/string_view.h"

namespace mot::bench {

// Parses argv (rewritten in place) with absl::ParseCommandLine; exits on any error.
// REQUIRES: absl::SetProgramUsageMessage was called first.
void ParseBenchFlags(int argc, char** argv);

// Prints "<program>: <message> (see --help)" to stderr and exits with status 2.
[[noreturn]] void UsageError(absl::string_view message);

}  // namespace mot::bench

#endif  // MOT_BENCH_BENCH_FLAGS_H_
