// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/model/step_batch.h
// StepBatch: the rows of one forward step. Each row is one token with its tower (modality
// id), its sequence slot in the KV cache, its position in that sequence, and whether its
// next-token logits are wanted. Prefill of a prompt, decode of one token and a step that
// mixes prefill chunks and decode tokens of many sequences are all one StepBatch. The tower
// is given per row (not derived from the token inside the model) so that any modality mask
// can be run; FillTowersFromVocab derives it from the config's vocab ranges.
// Thread rule: a plain value.
#ifndef MOT_ENGINE_MODEL_STEP_BATCH_H_
#define MOT_ENGINE_MODEL_STEP_BATCH_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "model_loaders/model_config.h"

namespace mot::model {

struct StepRow {
  int32_t token = 0;
  int32_t tower = 0;
  int32_t seq = 0;
  int32_t pos = 0;
  bool want_logits = false;
};

struct StepBatch {
  std::vector<StepRow> rows;

  // Appends `tokens` of sequence `seq` at positions start_pos, start_pos+1, ... (tower 0);
  // only the last row wants logits unless `all_logits`.
  void AddSequence(const std::vector<int32_t>& tokens, int32_t seq, int32_t start_pos,
                   bool all_logits = false);
  // Number of rows whose logits are wanted (rows of the output of MotModel::Forward).
  int64_t NumWanted() const;
};

// Sets every row's tower to config.TowerOf(token). InvalidArgument naming the row when a
// token is outside [0, vocab_size); `batch` is unchanged on failure.
absl::Status FillTowersFromVocab(const MotConfig& config, StepBatch* batch);

}  // namespace mot::model

#endif  // MOT_ENGINE_MODEL_STEP_BATCH_H_
