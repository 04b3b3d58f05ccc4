// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/compare.h
// Compare(): `mot-train compare`, MoT against a dense baseline as the MoT paper measures it
// (Liang et al. 2025, "steps to match dense"). Both models have the same width, depth and
// FFN, so the same compute per token (a MoT token runs through one tower of the dense
// size), and train on the same shards in the same order with the same schedule and
// steps. Validation loss (overall and per modality of the predicted token) is taken every
// eval_every steps. The result, per row (overall, then each modality): dense's final
// validation loss, MoT's at the same step, and the fraction of dense's steps MoT needed to
// reach dense's final loss (linear interpolation between validations; "not reached" when
// it never did). Writes OUT/mot/ and OUT/dense/ (run directories with metrics.jsonl),
// OUT/compare.md (the table), OUT/compare.json and OUT/loss_curves.png (via a small
// matplotlib script, when python3 with matplotlib is present; skipped with a note
// otherwise). Thread rule: one caller.
#ifndef MOT_TRAINER_COMPARE_H_
#define MOT_TRAINER_COMPARE_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "trainer/train_loop.h"

namespace mot::trainer {

struct CompareOptions {
  // data, tokenizers, val_data (required), eval_every (required > 0), the model shape and
  // the schedule; `out`, `towers`, `metrics` and `final_dir` are set per run.
  TrainOptions train;
  std::string out;
  std::string plot_script;  // "" : no plot
  // Debian's interpreter, which python3-matplotlib installs into (a python3 earlier on
  // PATH, e.g. a venv, may lack it).
  std::string python = "/usr/bin/python3";
};

struct CompareRow {
  std::string name;  // "overall", "text", "image", "audio"
  double dense_final = 0;
  double mot_at_same_step = 0;
  double mot_steps_to_match = -1;  // -1: not reached
  double fraction = -1;            // of dense's steps; -1: not reached
};

struct CompareReport {
  std::vector<CompareRow> rows;
  int64_t steps = 0;
  double mot_seconds = 0, dense_seconds = 0;
  int64_t mot_parameters = 0, dense_parameters = 0;
  std::string plot;  // the PNG's path, "" when not drawn
  std::string Table() const;
};

// A validation curve: (step, loss) in step order.
using Curve = std::vector<std::pair<int64_t, double>>;
// The first step (interpolated) at which `curve` reaches `target` or lower; -1 if never.
double StepsToReach(const Curve& curve, double target);
// The validation curves in a metrics JSONL: key "val_loss" or "val_loss_<modality>".
absl::StatusOr<Curve> ReadCurve(const std::string& metrics_path, const std::string& key);

absl::StatusOr<CompareReport> Compare(const CompareOptions& options);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_COMPARE_H_
