// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/mot_train_main.cc
// mot-train: the offline trainer. `mot-train --help` lists the subcommands,
// `mot-train <subcommand> --help` their flags (trainer/cli.h, trainer/commands.h).
#include <vector>

#include "trainer/cli.h"
#include "trainer/commands.h"

int main(int argc, char** argv) {
  const std::vector<mot::trainer::Subcommand> commands = mot::trainer::AllSubcommands();
  return mot::trainer::RunCli(argc, argv, commands);
}
