// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/tokenizer_training.h
// TrainTokenizers: `mot-train tokenizers`. Reads a manifest (manifest.h), then learns
//   - the text BPE from every text part (TrainByteLevelBpe, the seven special tokens first),
//   - the image codebook by k-means over the patches of every distinct image, each resized
//     and center-cropped to image_size first (ImageTokenizer::Train),
//   - the audio codebook from every distinct audio file at 16 kHz (AudioTokenizer::Train),
// and writes a tokenizer directory (tokenizer_dir.h) atomically. A modality absent from the
// data gets no tokenizer and no vocabulary range. An image or audio file the decoder refuses
// is a bad row ("<manifest>:<line>: ..."), skipped or fatal as `policy` says.
// Results are deterministic for a seed at a given k-means SIMD level (see kmeans.h).
// Thread rule: one call at a time per pool; the function itself is reentrant.
#ifndef MOT_TRAINER_TOKENIZER_TRAINING_H_
#define MOT_TRAINER_TOKENIZER_TRAINING_H_

#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/statusor.h"
#include "engine/core/thread_pool.h"
#include "trainer/manifest.h"

namespace mot::trainer {

struct TokenizerTrainingOptions {
  std::string manifest;  // the JSONL manifest (ResolveManifestPath applied by the caller)
  std::string out;       // the tokenizer directory to write
  bool overwrite = false;
  BadRowPolicy policy = BadRowPolicy::kSkip;
  // Text BPE size, special tokens and the 256 bytes included (>= 263). The BPE may stop
  // short when no pair is left to merge; the vocabulary then uses the size reached.
  int32_t text_vocab = 512;
  // Image geometry and codebook (the demo's 64x64 in 8x8 patches: 64 tokens per image).
  int image_size = 64;
  int patch = 8;
  int64_t image_codes = 64;
  int64_t max_image_patches = 200000;  // k-means sample (0: all patches)
  // Audio: `audio_codes` shape codes per gain level, `audio_gain_levels` levels, one token
  // per 20 ms frame (50 tokens/s: a 3 s sentence is 150 tokens). Ids: levels x codes.
  int audio_codes = 256;
  int audio_gain_levels = 4;
  int kmeans_iterations = 20;
  uint64_t seed = 0;
  ThreadPool* pool = nullptr;
  // Called for each skipped bad row with its "<manifest>:<line>: <reason>" text.
  std::function<void(const std::string&)> on_bad_row;
};

struct TokenizerTrainingReport {
  int64_t examples = 0;      // good rows
  int64_t bad_rows = 0;      // skipped
  int64_t texts = 0;         // text parts in the BPE corpus
  int64_t images = 0;        // distinct images clustered
  int64_t audio_files = 0;   // distinct audio files
  double audio_seconds = 0;  // their total duration
  int32_t text_vocab = 0;    // ids of the trained BPE (special tokens included)
  int32_t vocab_size = 0;    // unified vocabulary size
};

// InvalidArgument naming the option for a bad option or data too small for a codebook
// ("image_codes=64 needs at least 64 patches, got 12"); the manifest's errors (strict);
// file errors naming the path. On failure `out` is unchanged.
absl::StatusOr<TokenizerTrainingReport> TrainTokenizers(const TokenizerTrainingOptions& options);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_TOKENIZER_TRAINING_H_
