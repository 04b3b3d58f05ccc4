// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/make_default_model.h
// MakeDefaultModel(): `mot-train default-model`, everything the README demo needs in one
// call: the demo data set -> the tokenizers (64x64 images in 8x8 patches with 64 codes =
// 64 tokens an image; BPE; audio codebook) -> token shards (train and held-out) -> a small
// MoT with text, image and audio towers -> its checkpoint in `out` (by default
// DefaultModelDir(), where mot-server looks), written atomically (WriteCheckpoint into a
// temporary sibling, renamed into place; an existing model is swapped out only whole).
// The work files (data, tokenizers, shards, step checkpoints, metrics.jsonl) stay in
// `work`. The defaults are sized to finish in about 10 minutes on 2 cores; `eval` runs the
// held-out evaluation on the result afterwards (not counted in that budget).
// Thread rule: one caller.
#ifndef MOT_TRAINER_MAKE_DEFAULT_MODEL_H_
#define MOT_TRAINER_MAKE_DEFAULT_MODEL_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "trainer/eval.h"
#include "trainer/train_loop.h"

namespace mot::trainer {

struct DefaultModelOptions {
  std::string out;   // the checkpoint directory ("" : DefaultModelDir())
  std::string work;  // "" : "<out>.work"
  uint64_t seed = 0;
  int scenes = 2000;
  int heldout_scenes = 200;
  int speech_scenes = 300;
  int heldout_speech_scenes = 40;
  // The model and its schedule; data, tokenizers, out, val_data and final_dir are set here.
  TrainOptions train;
  bool eval = true;
  int64_t eval_per_task = 50;
  ThreadPool* pool = nullptr;  // REQUIRES: non-null
};

struct DefaultModelReport {
  std::string checkpoint;
  double data_seconds = 0, tokenizer_seconds = 0, pack_seconds = 0;
  TrainReport train;
  double total_seconds = 0;  // data to checkpoint, the evaluation excluded
  bool evaluated = false;
  EvalReport eval;
};

// The defaults of `mot-train default-model` for the model and schedule.
TrainOptions DefaultModelTrainOptions();

// Errors of each stage, prefixed with the stage ("demo data: ...", "training: ...").
absl::StatusOr<DefaultModelReport> MakeDefaultModel(const DefaultModelOptions& options);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_MAKE_DEFAULT_MODEL_H_
