// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/adamw.h
// AdamW (Loshchilov & Hutter) over TrainModel::Params(), as torch.optim.AdamW computes it:
//   t += 1; m = β1 m + (1-β1) g; v = β2 v + (1-β2) g²
//   p -= lr wd p            (decoupled weight decay, only where Param::decay)
//   p -= lr (m / (1-β1^t)) / (sqrt(v / (1-β2^t)) + eps)
// Moments are f32, one pair per parameter, in Params() order. The state round-trips
// exactly through named tensors (StateTensors / LoadState), so a resumed run continues bit
// for bit. CosineLr is the warm-up + cosine schedule.
// Thread rule: one caller at a time; the optional pool is borrowed and must outlive it.
#ifndef MOT_TRAINER_ADAMW_H_
#define MOT_TRAINER_ADAMW_H_

#include <cstdint>
#include <vector>

#include "absl/status/status.h"
#include "engine/core/thread_pool.h"
#include "model_loaders/safetensors.h"
#include "trainer/train_model.h"

namespace mot::trainer {

struct AdamWOptions {
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0.1f;
};

class AdamW {
 public:
  // `pool` (may be null: single-threaded) splits the update of large tensors.
  explicit AdamW(const AdamWOptions& o, ThreadPool* pool = nullptr);

  // One update of every parameter from its gradient (gradients are read, not cleared).
  // The moments are created (zero) on the first call; REQUIRES: `params` lists the same
  // tensors (names and sizes) on every call, as TrainModel::Params() does.
  void Step(std::vector<TrainModel::Param>& params, float lr);
  // Updates done so far (the t of the bias correction).
  int64_t step() const { return step_; }
  const AdamWOptions& options() const { return options_; }

  // "adamw.m.<param>", "adamw.v.<param>" (f32, the param's shape) for every parameter of
  // the last Step/LoadState, and "adamw.step" (F32 [3]: step = a + b·2^21 + c·2^42, each
  // part an exact integer in f32). Before the first Step or LoadState there are no
  // moments yet and only "adamw.step" is returned.
  std::vector<NamedTensor> StateTensors() const;
  // Restores the state for `params` from `file` (every adamw.m/v tensor of every param, any
  // float dtype, with the param's shape, and adamw.step). NotFound / InvalidArgument naming
  // the tensor; the optimizer is unchanged on failure.
  absl::Status LoadState(const SafetensorsFile& file, const std::vector<TrainModel::Param>& params);

 private:
  AdamWOptions options_;
  ThreadPool* pool_;
  int64_t step_ = 0;
  std::vector<std::string> names_;
  std::vector<std::vector<int64_t>> shapes_;
  std::vector<std::vector<float>> m_, v_;
};

// Learning rate at `step` (0-based): linear warm-up max_lr (step + 1) / warmup for
// step < warmup, then cosine from max_lr (at step = warmup) down to min_lr (at step =
// total), min_lr after total.
float CosineLr(int64_t step, int64_t warmup, int64_t total, float max_lr, float min_lr);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_ADAMW_H_
