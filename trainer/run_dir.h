// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/run_dir.h
// The output directory of one `mot-train train` run (its --out):
//   OUT/step-000100/   a full checkpoint (model_loaders/checkpoint.h) plus the resumable
//                      state: train_state.safetensors (optimizer moments) and
//                      train_state.json (step, data position, RNG seed, run options);
//                      both are listed in its manifest.json, so they are verified on load
//   OUT/latest         symlink -> "step-000100": the newest complete step checkpoint; moved
//                      (atomically: a new symlink renamed over it) only after that
//                      checkpoint is in place and fsynced. It is the commit point of a save.
//   OUT/final/         the serving checkpoint written at the end (no training state); what
//                      mot-server --checkpoint and mot-train eval take
// A save writes through WriteCheckpoint into "OUT/.saving-step-000100" (itself built in a
// fsynced temporary and renamed), renames that to "step-000100", fsyncs OUT, then moves
// `latest` and removes the oldest step checkpoints beyond `keep`. A crash, a kill or a full
// disk at any moment leaves `latest` and the checkpoint it names intact; leftovers
// (".saving-*", "*.tmp-*") are removed by the next run.
// Test hook: the environment variable MOT_TRAIN_SAVE_HOOK, read at each save between the
// staged checkpoint and its rename: "pause:S" sleeps S seconds (a test SIGKILLs the trainer
// there), "fail" makes the save fail as a full disk would (ResourceExhausted); "...@N"
// applies it only to the save of step N.
// Thread rule: free functions; one writer per run directory.
#ifndef MOT_TRAINER_RUN_DIR_H_
#define MOT_TRAINER_RUN_DIR_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model_loaders/model_config.h"
#include "model_loaders/safetensors.h"

namespace mot::trainer {

inline constexpr char kLatestLink[] = "latest";
inline constexpr char kFinalDir[] = "final";
inline constexpr char kTrainStateJson[] = "train_state.json";
inline constexpr char kTrainStateTensors[] = "train_state.safetensors";
inline constexpr char kSaveHookEnv[] = "MOT_TRAIN_SAVE_HOOK";

// "step-000100" (at least 6 digits).
std::string StepDirName(int64_t step);

// Writes OUT/step-N as described above: config, weights and `extra_files` (tokenizer files,
// train state) through WriteCheckpoint, then `latest`, then prunes to the newest `keep`
// step checkpoints (keep >= 1). On failure (errors of WriteCheckpoint, errno-based errors
// naming the path, ResourceExhausted from the "fail" hook) the staged directory is removed
// and `latest` and every older checkpoint are unchanged.
absl::Status SaveStepCheckpoint(const std::string& out, int64_t step, const MotConfig& config,
                                const std::vector<NamedTensor>& weights,
                                const std::map<std::string, std::string>& extra_files, int keep);

// The directory of the newest complete step checkpoint: the one `latest` names, or when
// `latest` is missing or dangling, the highest step-N holding a manifest.json. NotFound
// when there is none.
absl::StatusOr<std::string> FindLatestStepCheckpoint(const std::string& out);

// Step checkpoints present, ascending by step.
std::vector<std::pair<int64_t, std::string>> ListStepCheckpoints(const std::string& out);

// Removes the leftovers of interrupted saves (".saving-*", "*.tmp-*") in `out`.
void RemoveStaleSaves(const std::string& out);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_RUN_DIR_H_
