// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/core/step_batch.h"

namespace mot {

void StepBatch::AddSequence(std::span<const int32_t> tokens, std::span<const uint8_t> towers,
                            int32_t seq, int32_t start_pos, bool all_logits) {
  rows.reserve(rows.size() + tokens.size());
  for (size_t i = 0; i < tokens.size(); ++i) {
    StepRow row;
    row.token = tokens[i];
    row.tower = towers[i];
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

}  // namespace mot
