// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/model/step_batch.h
// The model's names for the step rows (the value itself lives in engine/core/step_batch.h,
// so the scheduler builds steps without the model), and FillTowersFromVocab, which derives
// each row's tower from the config's vocab ranges (for callers without the prompt
// builder's towers, e.g. tools and tests of dense models).
// Thread rule: plain values and a pure function.
#ifndef MOT_ENGINE_MODEL_STEP_BATCH_H_
#define MOT_ENGINE_MODEL_STEP_BATCH_H_

#include "absl/status/status.h"
#include "engine/core/step_batch.h"
#include "model_loaders/model_config.h"

namespace mot::model {

using StepBatch = mot::StepBatch;
using StepRow = mot::StepRow;

// Sets every row's tower to config.TowerOf(token). InvalidArgument naming the row when a
// token is outside [0, vocab_size); `batch` is unchanged on failure.
absl::Status FillTowersFromVocab(const MotConfig& config, StepBatch* batch);

}  // namespace mot::model

#endif  // MOT_ENGINE_MODEL_STEP_BATCH_H_
