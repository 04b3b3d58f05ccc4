// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/cli.h
// The subcommand dispatch of `mot-train`: `mot-train <subcommand> [--flag=value ...]`.
// Each subcommand lists the Abseil flags it takes (ABSL_FLAG, defined beside its Run); the
// parser sets them through Abseil's flag reflection, so a flag of another subcommand, an
// unknown flag, a bad value or a stray argument is a usage error naming the flag, with exit
// status 2. Accepted spellings: --name=value, --name value, --bool, --nobool, and dashes
// for underscores inside a name (--text-vocab). --help (or `mot-train help <subcommand>`)
// prints the subcommand's usage and only its flags; `mot-train --help` lists the
// subcommands. A new subcommand is one more Subcommand in the table main() passes.
// Exit status: 0 success, 1 the run failed (the Status printed), 2 usage error.
// Thread rule: main thread only (flags are process globals).
#ifndef MOT_TRAINER_CLI_H_
#define MOT_TRAINER_CLI_H_

#include <functional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mot::trainer {

struct Subcommand {
  std::string name;
  std::string summary;             // one line for `mot-train --help`
  std::string usage;               // the subcommand's --help text before its flag list
  std::vector<std::string> flags;  // the Abseil flags it takes, by name
  // Runs with the flags set. A status made by FlagError() exits 2; any other error exits 1.
  std::function<absl::Status()> run;
};

// A usage error about one flag ("--text_vocab: must be >= 263, got 12"); the CLI exits 2.
absl::Status FlagError(absl::string_view flag, absl::string_view message);
bool IsFlagError(const absl::Status& status);
// The same for a usage error that is about no single flag (a stray argument).
absl::Status UsageStatus(absl::string_view message);

// Parses the arguments after the subcommand name and sets its flags. Returns true when
// --help was given (nothing else is checked then). InvalidArgument (a FlagError) naming
// the flag or argument otherwise.
absl::StatusOr<bool> ParseSubcommandFlags(const Subcommand& command,
                                          std::span<const std::string> args);

// The --help texts.
std::string SubcommandHelp(absl::string_view program, const Subcommand& command);
std::string ProgramHelp(absl::string_view program, std::span<const Subcommand> commands);

// The whole command line: picks the subcommand, parses its flags, runs it, prints errors
// to stderr; returns the exit status.
int RunCli(int argc, char** argv, std::span<const Subcommand> commands);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_CLI_H_
