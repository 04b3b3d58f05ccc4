// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/model/step_batch.h"

#include "absl/strings/str_cat.h"

namespace mot::model {

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
