// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/trainer/train_batch_util.h
// Tiny MoT configs and seeded packed TrainBatches for the trainer's math tests (unit tests
// here and the gradient check in tests/oracle): every example mixes towers (interleaved
// or in blocks), loss masks have zeros, and every tower appears in the batch.
// Thread rule: pure functions.
#ifndef MOT_TESTS_TRAINER_TRAIN_BATCH_UTIL_H_
#define MOT_TESTS_TRAINER_TRAIN_BATCH_UTIL_H_

#include <cstdint>
#include <vector>

#include "model_loaders/model_config.h"
#include "trainer/train_model.h"

namespace mot::testing {

// A config with the given towers (1..3), layout and head counts at tiny dims.
inline MotConfig TinyTrainConfig(int towers, NormPlacement placement, NormType norm, int n_heads,
                                 int n_kv_heads, bool qk_norm, bool tied) {
  MotConfig cfg;
  cfg.head_dim = 8;
  cfg.n_heads = n_heads;
  cfg.n_kv_heads = n_kv_heads;
  cfg.dim = 32;
  cfg.n_layers = 2;
  cfg.ffn_hidden = 48;
  cfg.max_seq_len = 64;
  cfg.norm_placement = placement;
  cfg.norm_type = norm;
  cfg.qk_norm = qk_norm;
  cfg.tie_embeddings = tied;
  cfg.vocab_size = 60;
  static const char* kNames[] = {"text", "image", "audio"};
  for (int m = 0; m < towers; ++m) cfg.modalities.push_back(kNames[m]);
  cfg.vocab_ranges.push_back({"special", 0, 6, 0});
  const int32_t per = (60 - 6) / towers;
  for (int m = 0; m < towers; ++m) {
    const int32_t end = m + 1 == towers ? 60 : 6 + per * (m + 1);
    cfg.vocab_ranges.push_back({kNames[m], 6 + per * m, end, m});
  }
  return cfg;
}

// Examples of the given lengths packed one after another. Towers: a random tower per
// token (`interleaved`) or blocks; ids drawn from that tower's range; loss_mask 1 with
// probability 3/4 (position 0 included: the model must ignore it).
inline trainer::TrainBatch MakeTrainBatch(const MotConfig& config, const std::vector<int>& lengths,
                                          bool interleaved, uint64_t seed) {
  uint64_t s = seed * 0x9e3779b97f4a7c15ULL + 7;
  auto next = [&]() {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return s >> 33;
  };
  trainer::TrainBatch b;
  const int towers = config.num_towers();
  for (int len : lengths) {
    b.example_begin.push_back(static_cast<int32_t>(b.ids.size()));
    for (int i = 0; i < len; ++i) {
      const int tower =
          interleaved ? static_cast<int>(next() % towers) : std::min(towers - 1, i * towers / len);
      const VocabRange* range = nullptr;
      for (const VocabRange& r : config.vocab_ranges) {
        if (r.tower == tower && r.name != "special") range = &r;
      }
      b.ids.push_back(range->begin + static_cast<int32_t>(next() % (range->end - range->begin)));
      b.towers.push_back(static_cast<uint8_t>(tower));
      b.loss_mask.push_back(next() % 4 != 0 ? 1 : 0);
    }
  }
  // Every tower present (so every parameter gets a gradient): the last tokens cycle them.
  for (int m = 0; m < towers && m < static_cast<int>(b.ids.size()); ++m) {
    const size_t i = b.ids.size() - 1 - static_cast<size_t>(m);
    const VocabRange* range = nullptr;
    for (const VocabRange& r : config.vocab_ranges) {
      if (r.tower == m && r.name != "special") range = &r;
    }
    b.ids[i] = range->begin;
    b.towers[i] = static_cast<uint8_t>(m);
    b.loss_mask[i] = 1;
  }
  return b;
}

}  // namespace mot::testing

#endif  // MOT_TESTS_TRAINER_TRAIN_BATCH_UTIL_H_
