// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/cli.h"

#include <algorithm>
#include <cstdio>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace mot::trainer {
namespace {

constexpr char kFlagErrorPayload[] = "type.mot/trainer.FlagError";

// Wraps `text` at about 80 columns with `indent` spaces before every line.
std::string Wrap(absl::string_view text, int indent) {
  std::string out, line;
  const std::string pad(static_cast<size_t>(indent), ' ');
  size_t i = 0;
  while (i < text.size()) {
    size_t j = text.find(' ', i);
    if (j == absl::string_view::npos) j = text.size();
    const absl::string_view word = text.substr(i, j - i);
    if (!line.empty() && line.size() + 1 + word.size() + pad.size() > 96) {
      absl::StrAppend(&out, pad, line, "\n");
      line.clear();
    }
    absl::StrAppend(&line, line.empty() ? "" : " ", word);
    i = j + 1;
  }
  if (!line.empty()) absl::StrAppend(&out, pad, line, "\n");
  return out;
}

}  // namespace

absl::Status UsageStatus(absl::string_view message) {
  absl::Status s = absl::InvalidArgumentError(message);
  s.SetPayload(kFlagErrorPayload, absl::Cord("1"));
  return s;
}

absl::Status FlagError(absl::string_view flag, absl::string_view message) {
  return UsageStatus(absl::StrCat("--", flag, ": ", message));
}

bool IsFlagError(const absl::Status& status) {
  return status.GetPayload(kFlagErrorPayload).has_value();
}

absl::StatusOr<bool> ParseSubcommandFlags(const Subcommand& command,
                                          std::span<const std::string> args) {
  if (std::any_of(args.begin(), args.end(), [](const std::string& a) {
        return a == "--help" || a == "-h" || a == "--helpfull";
      })) {
    return true;
  }
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg.size() < 2 || arg[0] != '-') {
      return UsageStatus(absl::StrCat("unexpected argument '", arg,
                                      "' (flags are spelled "
                                      "--name=value)"));
    }
    std::string body = arg.substr(arg[1] == '-' ? 2 : 1);
    std::string name = body, value;
    bool has_value = false;
    if (const size_t eq = body.find('='); eq != std::string::npos) {
      name = body.substr(0, eq);
      value = body.substr(eq + 1);
      has_value = true;
    }
    std::replace(name.begin(), name.end(), '-', '_');
    auto allowed = [&](const std::string& n) {
      return std::find(command.flags.begin(), command.flags.end(), n) != command.flags.end();
    };
    absl::CommandLineFlag* flag = allowed(name) ? absl::FindCommandLineFlag(name) : nullptr;
    // --noname for a bool flag `name`.
    if (flag == nullptr && !has_value && absl::StartsWith(name, "no") && allowed(name.substr(2))) {
      absl::CommandLineFlag* negated = absl::FindCommandLineFlag(name.substr(2));
      if (negated != nullptr && negated->IsOfType<bool>()) {
        flag = negated;
        name = name.substr(2);
        value = "false";
        has_value = true;
      }
    }
    if (flag == nullptr) {
      return FlagError(name, absl::StrCat("unknown flag for 'mot-train ", command.name, "'"));
    }
    if (!has_value) {
      if (flag->IsOfType<bool>()) {
        value = "true";
      } else if (i + 1 < args.size()) {
        value = args[++i];
      } else {
        return FlagError(name, "needs a value");
      }
    }
    std::string error;
    if (!flag->ParseFrom(value, &error)) {
      return FlagError(name, absl::StrCat("bad value '", value, "': ", error));
    }
  }
  return false;
}

std::string SubcommandHelp(absl::string_view program, const Subcommand& command) {
  std::string out = absl::StrCat(command.usage, "\n\nFlags:\n");
  for (const std::string& name : command.flags) {
    const absl::CommandLineFlag* flag = absl::FindCommandLineFlag(name);
    if (flag == nullptr) continue;
    const std::string def = flag->DefaultValue();
    absl::StrAppend(&out, "  --", name, def.empty() ? "" : absl::StrCat(" (default: ", def, ")"),
                    "\n", Wrap(flag->Help(), 6));
  }
  return out;
}

std::string ProgramHelp(absl::string_view program, std::span<const Subcommand> commands) {
  std::string out = absl::StrCat(
      "usage: ", program, " <subcommand> [--flag=value ...]\n\n",
      "The offline trainer of MoT Serve: makes data, trains tokenizers (and, as they land, "
      "models).\n\nSubcommands:\n");
  size_t width = 0;
  for (const Subcommand& c : commands) width = std::max(width, c.name.size());
  for (const Subcommand& c : commands) {
    absl::StrAppend(&out, "  ", c.name, std::string(width - c.name.size() + 2, ' '), c.summary,
                    "\n");
  }
  absl::StrAppend(&out, "\n", program, " <subcommand> --help lists a subcommand's flags.\n");
  return out;
}

int RunCli(int argc, char** argv, std::span<const Subcommand> commands) {
  const std::string program = "mot-train";
  std::vector<std::string> args(argv + std::min(argc, 1), argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    const bool named = args.size() >= 2 && args[0] == "help";
    if (!named) {
      std::fputs(ProgramHelp(program, commands).c_str(), args.empty() ? stderr : stdout);
      return args.empty() ? 2 : 0;
    }
    args = {args[1], "--help"};
  }
  const auto it = std::find_if(commands.begin(), commands.end(),
                               [&](const Subcommand& c) { return c.name == args[0]; });
  if (it == commands.end()) {
    std::fprintf(stderr, "%s: unknown subcommand '%s' (see %s --help)\n", program.c_str(),
                 args[0].c_str(), program.c_str());
    return 2;
  }
  absl::StatusOr<bool> help =
      ParseSubcommandFlags(*it, std::span<const std::string>(args).subspan(1));
  if (!help.ok()) {
    std::fprintf(stderr, "%s %s: %s (see %s %s --help)\n", program.c_str(), it->name.c_str(),
                 std::string(help.status().message()).c_str(), program.c_str(), it->name.c_str());
    return 2;
  }
  if (*help) {
    std::fputs(SubcommandHelp(program, *it).c_str(), stdout);
    return 0;
  }
  const absl::Status status = it->run();
  if (status.ok()) return 0;
  std::fprintf(stderr, "%s %s: %s\n", program.c_str(), it->name.c_str(),
               std::string(status.message()).c_str());
  if (IsFlagError(status)) {
    std::fprintf(stderr, "(see %s %s --help)\n", program.c_str(), it->name.c_str());
    return 2;
  }
  return 1;
}

}  // namespace mot::trainer
