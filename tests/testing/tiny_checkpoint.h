// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/testing/tiny_checkpoint.h
// WriteTinyCheckpoint: a complete multimodal checkpoint directory for tests and benchmarks,
// made on the spot: a byte-level BPE trained on a few sentences, an image VQ tokenizer with
// flat-colour codes, an audio codec trained on tones, and random MoT weights for three
// towers (text, image, audio). Small enough that an engine step takes microseconds, real
// enough that every path (detokenizer, PNG, WAV) runs.
// Thread rule: a plain function.
#ifndef MOT_TESTS_TESTING_TINY_CHECKPOINT_H_
#define MOT_TESTS_TESTING_TINY_CHECKPOINT_H_

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "engine/core/dtype.h"

namespace mot::testing {

struct TinyCheckpointOptions {
  int32_t dim = 32;
  int32_t n_layers = 2;
  int32_t n_heads = 4;
  int32_t n_kv_heads = 2;
  int32_t head_dim = 8;
  int32_t ffn_hidden = 64;
  int32_t max_seq_len = 1024;
  int32_t text_vocab = 300;       // BPE size, specials included
  int32_t image_resolution = 16;  // pixels; 8x8 patches
  int32_t image_codes = 8;
  DType dtype = DType::kF32;
  uint64_t seed = 1;
};

// Writes the checkpoint to `dir` (replacing what is there).
absl::Status WriteTinyCheckpoint(const std::string& dir, const TinyCheckpointOptions& options = {});

}  // namespace mot::testing

#endif  // MOT_TESTS_TESTING_TINY_CHECKPOINT_H_
