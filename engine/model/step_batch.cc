// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/model/step_batch.h"

#include "absl/strings/str_cat.h"

namespace mot::model {

void StepBatch::AddSequence(const std::vector<int32_t>& tokens, int32_t seq, int32_t start_pos,
                            bool all_logits) {
  for (size_t i = 0; i < tokens.size(); ++i) {
    StepRow row;
    row.token = tokens[i];
    row.seq = seq;
    row.pos = start_pos + static_cast<int32_t>(i);
    row.want_logits = all_logits || i + 1 == tokens.size();
    rows.push_back(row);
  }
}

int64_t StepBatch::NumWanted() const {
  int64_t n = 0;
  for (const StepRow& r : rows) n += r.want_logits ? 1 : 0;
  return n;
}

absl::Status FillTowersFromVocab(const MotConfig& config, StepBatch* batch) {
  for (size_t i = 0; i < batch->rows.size(); ++i) {
    const int32_t t = batch->rows[i].token;
    if (t < 0 || t >= config.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("StepBatch row ", i, ": field token: ", t,
                       " is outside [0, vocab_size=", config.vocab_size, ")"));
    }
  }
  for (StepRow& r : batch->rows) r.tower = config.TowerOf(r.token);
  return absl::OkStatus();
}

}  // namespace mot::model
