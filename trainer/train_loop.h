// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/train_loop.h
// Train(): the training run of `mot-train train`. Reads token shards (ShardReader, seeded
// shuffle, trainer/batch_stream.h), builds a MoT (one tower per modality of the tokenizer
// directory) or a dense baseline (one tower, same width), and runs AdamW with linear
// warm-up and cosine decay, global gradient clipping and gradient accumulation over
// `accum` micro-batches of at most `batch_tokens` rows. Writes:
//   - a JSONL metrics line per step: {"step", "loss", "loss_<modality>" (MoT: per modality
//     of the predicted token), "lr", "grad_norm", "tokens", "tokens_per_s", "elapsed_s"},
//     and with validation data {"step", "val_loss", "val_loss_<modality>"} every
//     eval_every steps and at the end;
//   - checkpoints every save_every steps and at the end, laid out as trainer/run_dir.h
//     says (step-N/ with the resumable state, `latest`, and final/ for serving).
// Resume: continues from OUT/latest and reproduces the uninterrupted run bit for bit (same
// thread count): weights and optimizer moments are stored in f32, the data position and
// the step are part of the state, the learning rate is a function of the step. The metrics
// file is cut back to the resumed step. A model field or training option given explicitly
// that contradicts the resumed run is InvalidArgument naming the field and the file.
// Thread rule: one caller; the pool is borrowed for the duration of the call.
#ifndef MOT_TRAINER_TRAIN_LOOP_H_
#define MOT_TRAINER_TRAIN_LOOP_H_

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/thread_pool.h"
#include "model_loaders/model_config.h"

namespace mot::trainer {

enum class TowerLayout { kMot, kDense };

struct TrainOptions {
  std::string data;            // shard set (mot-train data --pack)
  std::string tokenizers;      // tokenizer directory or checkpoint the shards were packed with
  std::string out;             // run directory (run_dir.h)
  std::string val_data;        // optional shard set for validation loss
  int64_t eval_every = 0;      // steps between validations (0: only at the end)
  int64_t val_examples = 256;  // the first usable validation examples used (0: all)
  std::string metrics;         // JSONL file ("" : OUT/metrics.jsonl)

  // Model; 0 means "unset": the resumed checkpoint's value, or the default in brackets.
  TowerLayout towers = TowerLayout::kMot;
  int32_t dim = 0;          // [128]
  int32_t layers = 0;       // [2]
  int32_t heads = 0;        // [4]
  int32_t kv_heads = 0;     // [heads]
  int32_t ffn = 0;          // [round_up(8/3 dim, 32)]
  int32_t max_seq_len = 0;  // [512]

  // Schedule and optimizer.
  int64_t steps = 1000;
  int64_t batch_tokens = 2048;
  int32_t accum = 1;
  float lr = 3e-3f;
  float min_lr = 3e-4f;
  int64_t warmup = 50;
  float clip = 1.0f;  // 0: no clipping
  float weight_decay = 0.1f;
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f;
  uint64_t seed = 0;  // weights and data order

  int64_t save_every = 0;  // 0: only at the end
  int32_t keep = 2;
  bool resume = false;
  bool overwrite = false;  // start over in an OUT that holds checkpoints
  bool write_final = true;
  std::string final_dir;  // where the serving checkpoint goes ("": OUT/final); replaced
                          // atomically when it exists

  // Options the user gave explicitly (flag names). On --resume these must equal the saved
  // run's; the others take the saved values.
  std::set<std::string> explicit_options;

  ThreadPool* pool = nullptr;  // REQUIRES: non-null
  bool progress = true;        // the progress bar on stderr
};

struct TrainReport {
  int64_t first_step = 0;  // 0, or the step resumed from
  int64_t steps = 0;       // the last step done
  double last_loss = 0;
  double seconds = 0;
  double tokens_per_second = 0;
  int64_t parameters = 0;
  MotConfig config;
  std::string final_dir;       // OUT/final ("" when !write_final)
  double final_val_loss = -1;  // with val_data; -1 otherwise
};

// Runs (or resumes) the training described above. Errors name the flag, file or field:
// InvalidArgument for a bad option, shards that do not fit the tokenizer vocabulary, a
// contradiction with the resumed run; AlreadyExists when OUT holds checkpoints and neither
// resume nor overwrite is set; errors of the loaders, the model and the saves otherwise
// (after a failed save the previous checkpoint is intact).
absl::StatusOr<TrainReport> Train(const TrainOptions& options);

// The model config for `options` on the vocabulary of `vocab` (a tokenizer directory's
// config.json): defaults filled in, dense layout mapping every range to tower 0.
// InvalidArgument naming the option when the result fails ValidateMotConfig.
absl::StatusOr<MotConfig> BuildModelConfig(const TrainOptions& options, const MotConfig& vocab);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_TRAIN_LOOP_H_
