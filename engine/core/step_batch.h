// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/core/step_batch.h
// StepBatch: the rows of one forward step. Each row is one token with its tower (modality
// id), its sequence slot in the KV cache, its position in that sequence, and whether its
// next-token logits are wanted. Prefill of a prompt, decode of one token and a step that
// mixes prefill chunks and decode tokens of many sequences are all one StepBatch. The tower
// is carried per token from the prompt builder (tokenizer::Prompt::towers) through the
// scheduler to the model, so any modality mask can be run; the model does not derive it.
// It lives in engine/core so that the scheduler builds steps without depending on the model.
// Thread rule: a plain value.
#ifndef MOT_ENGINE_CORE_STEP_BATCH_H_
#define MOT_ENGINE_CORE_STEP_BATCH_H_

#include <cstdint>
#include <span>
#include <vector>

namespace mot {

struct StepRow {
  int32_t token = 0;
  int32_t tower = 0;
  int32_t seq = 0;
  int32_t pos = 0;
  bool want_logits = false;
};

struct StepBatch {
  std::vector<StepRow> rows;

  // Appends tokens[i] with tower towers[i] of sequence `seq` at positions start_pos + i;
  // only the last row wants logits unless `all_logits`.
  // REQUIRES: towers.size() == tokens.size().
  void AddSequence(std::span<const int32_t> tokens, std::span<const uint8_t> towers, int32_t seq,
                   int32_t start_pos, bool all_logits = false);
  // Number of rows whose logits are wanted (rows of the output of MotModel::Forward).
  int64_t NumWanted() const;
};

}  // namespace mot

#endif  // MOT_ENGINE_CORE_STEP_BATCH_H_
