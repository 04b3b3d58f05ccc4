// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/commands.h
// The subcommands of `mot-train` that exist so far, each with its flags (defined in
// commands.cc) and its --help text: `data` (demo data set, manifest import, packing into
// shards) and `tokenizers` (BPE, image and audio codebooks). The training, evaluation and
// comparison subcommands add their own Subcommand here as they land.
// Thread rule: main thread only (the flags are process globals).
#ifndef MOT_TRAINER_COMMANDS_H_
#define MOT_TRAINER_COMMANDS_H_

#include <vector>

#include "trainer/cli.h"

namespace mot::trainer {

Subcommand DataCommand();
Subcommand TokenizersCommand();
// Defined in train_commands.cc.
Subcommand TrainCommand();
Subcommand EvalCommand();
Subcommand CompareCommand();
Subcommand DefaultModelCommand();

// Every subcommand, in the order `mot-train --help` lists them.
std::vector<Subcommand> AllSubcommands();

}  // namespace mot::trainer

#endif  // MOT_TRAINER_COMMANDS_H_
