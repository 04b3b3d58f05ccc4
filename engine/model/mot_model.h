// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/model/mot_model.h
// MotModel: the Mixture-of-Transformers forward pass (DESIGN.md "The model") over a
// backend::Backend, with weights from a Checkpoint.
//
// Weights: GEMM weights are zero-copy views into the checkpoint's mmapped safetensors and
// keep their dtype (F32, BF16, F16), except that with options.fuse_projections (the default)
// each tower's Wq/Wk/Wv are copied once at load into one [q_dim + 2 kv_dim, dim] matrix and
// W1/W3 into one [2 ffn_hidden, dim] matrix (same dtype), so a decode step issues fewer,
// larger matvecs; this costs one copy of those weights in memory (2 MiB-aligned and advised
// as huge pages: the fused W13 then streamed 8.7 instead of 6.9 GB/s, mot_bench --profile on
// 2026-11-23). Norm weights (and LayerNorm biases) are converted to f32 at load.
//
// Forward runs one step (a StepBatch, any mix of prefill chunks and decode tokens of many
// sequences). "Sort once per step": rows are stably ordered by tower at the start, every
// untied projection then runs as one Linear on each tower's contiguous row range, with no
// gather or scatter inside the layers; attention reads each row's (seq, pos). The rows'
// KV write slots are located once per step and serve every layer. The wanted
// rows are gathered back in request order before the final norm (per row's tower) and the
// LM head (output.weight, or tok_embeddings.weight when tie_embeddings).
// Config extensions: attention_bias adds each tower's bq|bk|bv (f32, converted at load) to
// its q/k/v rows right after the projections (before the q/k norm and rotary);
// rope_scaling makes rotary use RopeInverseFrequencies(config) (Backend::RotaryFreqs; without
// it Backend::Rotary with rope_theta, as before); sliding_window is passed to attention.
// A q/k norm of its own kind (config.qk_norm_spec, Chameleon's per-head LayerNorm with bias)
// runs the backend's RmsNorm/LayerNorm once per head over the tower's rows (head h of every
// row is a column slice at stride q_dim + 2 kv_dim, with head h's weight and bias); the
// classic q/k norm keeps its per-row calls. suppressed_token_ids: the logits of those ids
// are set to -inf after the LM head, as transformers' Chameleon does in its forward.
//
// Device backends (Backend::device_memory()): at load every weight the forward pass reads is
// copied once into the backend's memory (fused projections fused on the host first, and only
// the fused copy uploaded); norms and biases likewise as f32. Each step packs its small host
// tables (ids, seq, pos, write slots, wanted rows, and the cache's block entries and pool
// views for every layer) into one staging upload, runs the ops, and copies the wanted logits
// back; Forward returns the backend's sticky error (Synchronize), if any. The KV cache's
// storage must then be in the backend's memory (PagedKvCacheConfig's allocator).
//
// The Checkpoint and the Backend must outlive the model.
// Thread rule: one caller at a time (the engine thread); Forward reuses scratch buffers.
#ifndef MOT_ENGINE_MODEL_MOT_MODEL_H_
#define MOT_ENGINE_MODEL_MOT_MODEL_H_

#include <cstdint>
#include <memory>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/backend/backend.h"
#include "engine/backend/buffer.h"
#include "engine/core/tensor.h"
#include "engine/kv/kv_cache.h"
#include "engine/model/step_batch.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/model_config.h"

namespace mot::model {

struct MotModelOptions {
  // Fuse Wq/Wk/Wv and W1/W3 per tower at load (copies those weights once).
  bool fuse_projections = true;
  // On a host backend, copy Wo, W2 and the LM head at load into 2 MiB-aligned memory advised
  // as huge pages, as the fused weights are, so that a decode step streams every GEMM weight
  // from huge pages (the checkpoint's mmapped pages are 4 KiB: measured slower to stream).
  // Costs their size in anonymous memory; the mmapped originals become clean page cache.
  bool huge_page_copies = true;
};

class MotModel {
 public:
  // Builds the model from `checkpoint` (whose tensors must all be present with the shapes of
  // weight_names::ExpectedTensors and dtype F32, BF16 or F16; InvalidArgument or NotFound
  // naming the tensor otherwise). `checkpoint` and `backend` are borrowed.
  static absl::StatusOr<std::unique_ptr<MotModel>> Create(const Checkpoint* checkpoint,
                                                          backend::Backend* backend,
                                                          const MotModelOptions& options = {});

  const MotConfig& config() const { return config_; }

  // Runs one step. On success writes the logits of the rows with want_logits, in request
  // order, to `logits` ([batch.NumWanted(), vocab_size] f32), stores every row's keys and
  // values in `cache` and advances the cache length of every sequence in the batch.
  // InvalidArgument naming the row and the field when a token is outside the vocabulary, a
  // tower outside [0, num_towers), a seq outside the cache's slots, a pos outside
  // [0, max_seq_len) or the sequence's capacity, or when the positions of a sequence are not
  // exactly Length(seq), Length(seq)+1, ... (each once, in any row order); also when the
  // cache does not match the config. Nothing is changed on failure. An empty batch is OK.
  absl::Status Forward(const StepBatch& batch, kv::KvCache* cache, float* logits);

  // Forward into a vector sized [NumWanted, vocab_size].
  absl::StatusOr<std::vector<float>> Forward(const StepBatch& batch, kv::KvCache* cache);

  // Bytes of weights read to decode one token of tower `tower` (embedding row, that tower's
  // projections, norms, final norm and the LM head), without the KV cache.
  int64_t WeightBytesPerToken(int tower) const;
  // Parameters in the checkpoint (every tensor, counted once).
  int64_t NumParameters() const { return num_parameters_; }

 private:
  struct Norm {
    const float* weight = nullptr;
    const float* bias = nullptr;  // LayerNorm only
    int64_t size = 0;             // floats in weight (and bias)
  };
  struct TowerLayer {
    backend::WeightRef wq, wk, wv, wqkv;  // wqkv set when fused
    backend::WeightRef wo;
    backend::WeightRef w1, w3, w13;  // w13 set when fused
    backend::WeightRef w2;
    Norm attention_norm, ffn_norm, q_norm, k_norm;
    const float* bqkv = nullptr;  // attention_bias: [q_dim + 2 kv_dim] f32, bq | bk | bv
  };

  MotModel(const Checkpoint* checkpoint, backend::Backend* backend, MotConfig config);
  absl::Status Load(const MotModelOptions& options);
  absl::StatusOr<backend::WeightRef> GemmWeight(const std::string& name);
  // The weight in the backend's memory: `w` itself on a host backend, else an uploaded copy
  // (kept in device_buffers_). Unimplemented when the backend cannot run its dtype.
  absl::StatusOr<backend::WeightRef> Place(const backend::WeightRef& w);
  // f32 parameters (norms, biases) in the backend's memory, likewise.
  absl::StatusOr<const float*> PlaceF32(const float* host, int64_t n);
  // Puts the weights a step reads in the backend's memory (after Load built them on host).
  absl::Status PlaceWeights();
  // Device backends: uploads this step's host tables and builds the device KV views.
  absl::Status StageStep(kv::KvCache* cache, int64_t n, int64_t num_wanted);
  // `bias`: whether the norm has a bias tensor (LayerNorm).
  absl::StatusOr<Norm> LoadNorm(const std::string& weight_name, const std::string& bias_name,
                                bool bias);
  // The parts' rows, one after another, in new 2 MiB-aligned huge-page-advised memory
  // (owned by fused_storage_); {} when it cannot be allocated.
  backend::WeightRef Fuse(const std::vector<backend::WeightRef>& parts);
  // Fuse({w}), or w itself when the copy cannot be allocated.
  backend::WeightRef HugePageCopy(const backend::WeightRef& w);
  absl::Status Validate(const StepBatch& batch, const kv::KvCache& cache);
  void ApplyNorm(const Norm& norm, const float* x, int64_t rows, int64_t dim, int64_t ldx, float* y,
                 int64_t ldy);
  // The q/k norm of a tower's `rows` qkv rows (stride ld) at `qkv`, in place.
  void ApplyQkNorm(const TowerLayer& t, float* qkv, int64_t rows, int64_t ld);
  absl::Status EnsureScratch(int64_t rows);

  const Checkpoint* checkpoint_;
  backend::Backend* backend_;
  MotConfig config_;
  int64_t num_parameters_ = 0;

  backend::WeightRef embeddings_;
  backend::WeightRef lm_head_;
  std::vector<std::vector<TowerLayer>> layers_;   // [layer][tower]
  std::vector<Norm> final_norm_;                  // [tower]
  std::vector<std::vector<float>> norm_storage_;  // owns every Norm's f32 data
  std::vector<std::vector<float>> bias_storage_;  // owns every bqkv
  std::vector<double> inv_freq_;    // rotary inverse frequencies when rope_scaling is set
  double attention_factor2_ = 1.0;  // RopeAttentionFactor(config) squared
  std::vector<std::unique_ptr<void, void (*)(void*)>> fused_storage_;  // fused weights
  std::vector<Tensor> weight_tensors_;           // keeps every weight view (or copy) alive
  std::vector<backend::Buffer> device_buffers_;  // device backends: the placed weights

  // Per-step scratch, grown on demand.
  int64_t scratch_rows_ = 0;
  std::vector<int32_t> order_;            // sorted row -> request row
  std::vector<int32_t> ids_, seq_, pos_;  // in sorted order
  std::vector<kv::KvSlot> slots_;         // in sorted order: where each row's k/v go
  std::vector<int32_t> wanted_;           // sorted index of each wanted row, request order
  std::vector<int32_t> wanted_tower_;
  std::vector<int64_t> tower_begin_;                    // [num_towers + 1]
  std::vector<int32_t> seq_count_, seq_min_, seq_max_;  // validation, per cache slot
  std::vector<int64_t> keys_;                           // validation: (seq, pos) keys
  backend::Buffer x_, xn_, qkv_, attn_, ffn_, tmp_;     // activations, backend memory
  // Device backends only: this step's tables (host staging, one upload), the wanted logits,
  // and the per-layer KV views pointing at device copies of the tables.
  std::vector<uint8_t> stage_host_;
  backend::Buffer stage_, logits_;
  const int32_t *d_ids_ = nullptr, *d_seq_ = nullptr, *d_pos_ = nullptr, *d_wanted_ = nullptr;
  const kv::KvSlot* d_slots_ = nullptr;
  std::vector<kv::KvLayerView> d_views_;  // [layer]
};

}  // namespace mot::model

#endif  // MOT_ENGINE_MODEL_MOT_MODEL_H_
