// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/train_model.h
// TrainModel: the MoT model (DESIGN.md "The model") in f32 with gradients, for mot-train.
// Forward runs over the engine's backend::Backend ops (CpuBackend: Linear, RmsNorm,
// LayerNorm, Rotary, SwiGlu, Embedding, Add) on rows sorted once by tower, keeps every
// layer's activations (LayerActs in train_model.cc), and the backward of each op sits
// beside its forward there (as llm.c does); weight and input gradients are OpenBLAS sgemm
// calls split over the ThreadPool. Attention is full causal attention within each packed
// example (global across towers, no KV cache; examples never see each other), run as
// sgemm per (example, head) on position-ordered rows; backward recomputes the
// probabilities from the kept log-sum-exp, so nothing [T, T] is stored.
// Loss: the mean cross-entropy, over the whole unified vocabulary, of every token whose
// loss_mask is 1 (predicted from the previous row of its example), reported per tower of
// the predicted token.
// Storage: every parameter and its gradient live in two flat f32 buffers; each tower's
// Wq/Wk/Wv and W1/W3 are adjacent there, so each is one GEMM (forward and backward).
// Thread rule: one caller at a time; the pool is borrowed, must outlive the model and must
// not be used by anyone else during a call.
#ifndef MOT_TRAINER_TRAIN_MODEL_H_
#define MOT_TRAINER_TRAIN_MODEL_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/core/dtype.h"
#include "engine/core/thread_pool.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/model_config.h"
#include "model_loaders/safetensors.h"

namespace mot::backend::cpu {
class CpuBackend;
}

namespace mot::trainer {

// Several examples packed one after another. Row i of an example sits at position
// i - example_begin[e]; attention never crosses an example's boundary.
struct TrainBatch {
  std::vector<int32_t> ids;            // unified ids, [n]
  std::vector<uint8_t> towers;         // per token (the vocab's TowerOf), [n]
  std::vector<uint8_t> loss_mask;      // [n] 1: predict this token from the previous ones
                                       // (position 0 of an example is never predicted)
  std::vector<int32_t> example_begin;  // start of each example, ascending, first 0

  int64_t size() const { return static_cast<int64_t>(ids.size()); }
};

struct StepStats {
  double loss = 0;                             // mean over predicted tokens (0 when none)
  double loss_per_tower[kMaxModalities] = {};  // mean over predicted tokens of that tower
  int64_t predicted_per_tower[kMaxModalities] = {};
  int64_t predicted = 0;  // predicted tokens in all
  int64_t tokens = 0;     // rows in the batch
};

class TrainModel {
 public:
  // Random GPT-2 style init fixed by `seed` (splitmix64 + Box-Muller): projections and
  // embeddings N(0, 0.02), the residual outputs (Wo, W2) N(0, 0.02 / sqrt(2 n_layers)),
  // norm weights 1, biases 0. InvalidArgument when the config fails ValidateMotConfig.
  // REQUIRES: pool != nullptr, outliving the model.
  static absl::StatusOr<std::unique_ptr<TrainModel>> CreateRandom(const MotConfig& config,
                                                                  uint64_t seed, ThreadPool* pool);
  // Every tensor of `ckpt` (F32, BF16 or F16) converted to f32; gradients zero. The
  // checkpoint may be closed afterwards.
  static absl::StatusOr<std::unique_ptr<TrainModel>> FromCheckpoint(const Checkpoint& ckpt,
                                                                    ThreadPool* pool);
  // The same from named tensors (exactly weight_names::ExpectedTensors(config), any
  // order); InvalidArgument / NotFound naming the tensor.
  static absl::StatusOr<std::unique_ptr<TrainModel>> FromTensors(
      const MotConfig& config, const std::vector<NamedTensor>& tensors, ThreadPool* pool);
  ~TrainModel();

  const MotConfig& config() const { return config_; }
  int64_t NumParameters() const { return static_cast<int64_t>(values_.size()); }

  // Forward + backward on one batch; ADDS grad_scale * d(loss)/d(param) into the gradient
  // buffers (so several calls accumulate). Returns the loss of this batch (unscaled).
  // InvalidArgument naming the field and the row for: sizes that differ, an id outside
  // [0, vocab_size), a tower outside [0, num_towers), example_begin not ascending from 0
  // inside [0, n), an example longer than max_seq_len. Gradients are unchanged on failure.
  // A batch with no predicted token returns loss 0 and adds nothing.
  absl::StatusOr<StepStats> ForwardBackward(const TrainBatch& batch, float grad_scale = 1.0f);
  // Loss only (no gradients touched), for validation. Errors as ForwardBackward.
  absl::StatusOr<StepStats> Evaluate(const TrainBatch& batch);

  void ZeroGrad();
  // Global L2 norm of all gradients (accumulated in double).
  double GradNorm() const;
  // Scales every gradient by max_norm / norm when the norm exceeds max_norm; returns the
  // norm before clipping.
  double ClipGradNorm(double max_norm);

  // One parameter tensor with its native name (model_loaders/weight_names.h) and its
  // gradient; spans into the model's buffers, valid while the model lives.
  struct Param {
    std::string name;
    std::vector<int64_t> shape;
    std::span<float> value;
    std::span<float> grad;
    bool decay = false;  // weight decay applies: true for matrices (and embeddings), false
                         // for norm weights and biases
  };
  // Every parameter, in weight_names::ExpectedTensors(config) order.
  std::vector<Param> Params();
  // Tensors for WriteCheckpoint, in the same order: f32 copies, or converted to `dtype`
  // (round to nearest even).
  std::vector<NamedTensor> ToTensors(DType dtype = DType::kF32) const;

 private:
  struct Impl;
  TrainModel(const MotConfig& config, ThreadPool* pool);
  absl::Status Allocate();
  absl::StatusOr<StepStats> Run(const TrainBatch& batch, bool backward, float grad_scale);

  MotConfig config_;
  ThreadPool* pool_;
  std::unique_ptr<backend::cpu::CpuBackend> backend_;
  std::vector<float> values_;  // every parameter, f32
  std::vector<float> grads_;   // same layout
  struct Slot {
    std::string name;
    std::vector<int64_t> shape;
    int64_t offset = 0;
    int64_t size = 0;
    bool decay = false;
  };
  std::vector<Slot> slots_;  // ExpectedTensors order
  std::unique_ptr<Impl> impl_;
};

}  // namespace mot::trainer

#endif  // MOT_TRAINER_TRAIN_MODEL_H_
