// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "bench/bench_flags.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "absl/flags/parse.h"
#include "absl/flags/reflection.h"

namespace mot::bench {
namespace {

std::string& ProgramName() {
  static std::string name = "bench";
  return name;
}

}  // namespace

void ParseBenchFlags(int argc, char** argv) {
  if (argc > 0) {
    const char* slash = std::strrchr(argv[0], '/');
    ProgramName() = slash != nullptr ? slash + 1 : argv[0];
  }
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (arg[0] != '-' || arg[1] == '\0') continue;  // a value or a positional argument
    if (std::strcmp(arg, "--") == 0) break;
    char* name = arg + (arg[1] == '-' ? 2 : 1);
    char* end = std::strchr(name, '=');
    const bool inline_value = end != nullptr;
    if (!inline_value) end = name + std::strlen(name);
    std::replace(name, end, '-', '_');
    // "--flag value": the next argument is the value, not a flag to rewrite.
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(std::string(name, end));
    if (!inline_value && flag != nullptr && !flag->IsOfType<bool>()) ++i;
  }
  const std::vector<char*> rest = absl::ParseCommandLine(argc, argv);
  if (rest.size() > 1) UsageError(std::string("unexpected argument '") + rest[1] + "'");
}

void UsageError(absl::string_view message) {
  std::fprintf(stderr, "%s: %.*s (see --help)\n", ProgramName().c_str(),
               static_cast<int>(message.size()), message.data());
  std::exit(2);
}

}  // namespace mot::bench
