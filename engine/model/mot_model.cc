// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/model/mot_model.h"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "model_loaders/weight_names.h"

namespace mot::model {
namespace {

namespace wn = weight_names;
using backend::WeightRef;

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) absl::StrAppend(&s, i ? ", " : "", shape[i]);
  return s + "]";
}

template <typename T>
void Grow(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}

}  // namespace

MotModel::MotModel(const Checkpoint* checkpoint, backend::Backend* backend, MotConfig config)
    : checkpoint_(checkpoint), backend_(backend), config_(std::move(config)) {}

absl::StatusOr<std::unique_ptr<MotModel>> MotModel::Create(const Checkpoint* checkpoint,
                                                           backend::Backend* backend,
                                                           const MotModelOptions& options) {
  if (checkpoint == nullptr || backend == nullptr) {
    return absl::InvalidArgumentError("MotModel: checkpoint and backend must be non-null");
  }
  std::unique_ptr<MotModel> model(new MotModel(checkpoint, backend, checkpoint->config()));
  MOT_RETURN_IF_ERROR(Annotate(model->Load(options), "MotModel: ", checkpoint->dir()));
  return model;
}

absl::StatusOr<WeightRef> MotModel::GemmWeight(const std::string& name) {
  MOT_ASSIGN_OR_RETURN(Tensor t, checkpoint_->weights().Get(name));
  MOT_RETURN_IF_ERROR(Annotate(backend_->SupportsWeightDType(t.dtype()), "tensor ", name));
  WeightRef w;
  w.data = t.data();
  w.dtype = t.dtype();
  w.rows = t.dim(0);
  w.cols = t.dim(1);
  weight_tensors_.push_back(std::move(t));
  return w;
}

absl::StatusOr<MotModel::Norm> MotModel::LoadNorm(const std::string& weight_name,
                                                  const std::string& bias_name, bool bias) {
  Norm norm;
  auto load = [&](const std::string& name) -> absl::StatusOr<const float*> {
    MOT_ASSIGN_OR_RETURN(Tensor t, checkpoint_->weights().Get(name));
    std::vector<float>& dst = norm_storage_.emplace_back(static_cast<size_t>(t.numel()));
    ConvertToF32(t.dtype(), t.data(), t.numel(), dst.data());
    norm.size = t.numel();
    return dst.data();
  };
  MOT_ASSIGN_OR_RETURN(norm.weight, load(weight_name));
  if (bias) {
    MOT_ASSIGN_OR_RETURN(norm.bias, load(bias_name));
  }
  return norm;
}

WeightRef MotModel::Fuse(const std::vector<WeightRef>& parts) {
  int64_t rows = 0;
  for (const WeightRef& p : parts) rows += p.rows;
  const DType dtype = parts[0].dtype;
  const int64_t cols = parts[0].cols;
  // 2 MiB-aligned and advised as huge pages: a decode step streams these once per token,
  // and fewer TLB misses let the stream run closer to the memory bandwidth.
  constexpr size_t kHuge = size_t{2} << 20;
  const size_t bytes = static_cast<size_t>(DTypeBytes(dtype, rows * cols));
  const size_t rounded = (bytes + kHuge - 1) / kHuge * kHuge;
  void* mem = std::aligned_alloc(kHuge, rounded);
  if (mem == nullptr) return WeightRef{};  // the caller falls back to the unfused parts
  madvise(mem, rounded, MADV_HUGEPAGE);
  fused_storage_.emplace_back(mem, &std::free);
  auto* dst = static_cast<uint8_t*>(mem);
  for (const WeightRef& p : parts) {
    const size_t n = static_cast<size_t>(DTypeBytes(dtype, p.rows * p.cols));
    std::memcpy(dst, p.data, n);
    dst += n;
  }
  return WeightRef{mem, dtype, rows, cols};
}

WeightRef MotModel::HugePageCopy(const WeightRef& w) {
  const WeightRef copy = Fuse({w});
  return copy.data != nullptr ? copy : w;  // out of memory: keep reading the mapping
}

absl::Status MotModel::Load(const MotModelOptions& options) {
  MOT_RETURN_IF_ERROR(ValidateMotConfig(config_));
  const SafetensorsFile& file = checkpoint_->weights();
  // Every expected tensor present, with its shape and a supported dtype; the Norm storage
  // is reserved up front so pointers into it stay valid.
  const std::vector<wn::ExpectedTensor> expected = wn::ExpectedTensors(config_);
  size_t norms = 0;
  for (const wn::ExpectedTensor& e : expected) {
    MOT_ASSIGN_OR_RETURN(Tensor t, file.Get(e.name));
    if (t.shape() != e.shape) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", e.name, ": shape ",
                                                     ShapeString(t.shape()), ", expected ",
                                                     ShapeString(e.shape)));
    }
    num_parameters_ += t.numel();
    if (e.shape.size() == 1 || e.name.find("_normalization.") != std::string::npos) ++norms;
  }
  norm_storage_.reserve(norms);

  MOT_ASSIGN_OR_RETURN(embeddings_, GemmWeight(wn::kTokEmbeddings));
  if (config_.tie_embeddings) {
    lm_head_ = embeddings_;
  } else {
    MOT_ASSIGN_OR_RETURN(lm_head_, GemmWeight(wn::kOutput));
  }
  const int towers = config_.num_towers();
  const bool layer_norm = config_.norm_type == NormType::kLayer;
  const bool copy = options.huge_page_copies && !backend_->device_memory();
  layers_.assign(static_cast<size_t>(config_.n_layers), std::vector<TowerLayer>(towers));
  for (int i = 0; i < config_.n_layers; ++i) {
    for (int m = 0; m < towers; ++m) {
      TowerLayer& t = layers_[i][m];
      MOT_ASSIGN_OR_RETURN(t.wq, GemmWeight(wn::AttentionProj(i, 'q', m)));
      MOT_ASSIGN_OR_RETURN(t.wk, GemmWeight(wn::AttentionProj(i, 'k', m)));
      MOT_ASSIGN_OR_RETURN(t.wv, GemmWeight(wn::AttentionProj(i, 'v', m)));
      MOT_ASSIGN_OR_RETURN(t.wo, GemmWeight(wn::AttentionProj(i, 'o', m)));
      MOT_ASSIGN_OR_RETURN(t.w1, GemmWeight(wn::FfnProj(i, 1, m)));
      MOT_ASSIGN_OR_RETURN(t.w2, GemmWeight(wn::FfnProj(i, 2, m)));
      MOT_ASSIGN_OR_RETURN(t.w3, GemmWeight(wn::FfnProj(i, 3, m)));
      MOT_ASSIGN_OR_RETURN(t.attention_norm, LoadNorm(wn::AttentionNorm(i, m),
                                                      wn::AttentionNorm(i, m, "bias"), layer_norm));
      MOT_ASSIGN_OR_RETURN(t.ffn_norm,
                           LoadNorm(wn::FfnNorm(i, m), wn::FfnNorm(i, m, "bias"), layer_norm));
      if (config_.attention_bias) {
        std::vector<float>& b =
            bias_storage_.emplace_back(static_cast<size_t>(config_.q_dim() + 2 * config_.kv_dim()));
        int64_t offset = 0;
        for (char proj : {'q', 'k', 'v'}) {
          MOT_ASSIGN_OR_RETURN(Tensor bias, file.Get(wn::AttentionProj(i, proj, m, "bias")));
          ConvertToF32(bias.dtype(), bias.data(), bias.numel(), b.data() + offset);
          offset += bias.numel();
        }
        t.bqkv = b.data();  // stays valid: moving the outer vector keeps each buffer
      }
      if (config_.qk_norm) {
        const bool qk_bias = config_.EffectiveQkNorm().bias;
        MOT_ASSIGN_OR_RETURN(
            t.q_norm, LoadNorm(wn::QkNorm(i, 'q', m), wn::QkNorm(i, 'q', m, "bias"), qk_bias));
        MOT_ASSIGN_OR_RETURN(
            t.k_norm, LoadNorm(wn::QkNorm(i, 'k', m), wn::QkNorm(i, 'k', m, "bias"), qk_bias));
      }
      // Fusing needs one dtype across the parts (a mixed checkpoint keeps them separate).
      if (options.fuse_projections && t.wq.dtype == t.wk.dtype && t.wq.dtype == t.wv.dtype) {
        t.wqkv = Fuse({t.wq, t.wk, t.wv});
      }
      if (options.fuse_projections && t.w1.dtype == t.w3.dtype) t.w13 = Fuse({t.w1, t.w3});
      if (copy) {
        t.wo = HugePageCopy(t.wo);
        t.w2 = HugePageCopy(t.w2);
      }
    }
  }
  // The LM head streams whole every decode step; the embedding table (the same tensor when
  // tied) is only gathered from, so it stays mapped.
  if (copy) lm_head_ = HugePageCopy(lm_head_);
  final_norm_.resize(static_cast<size_t>(towers));
  for (int m = 0; m < towers; ++m) {
    MOT_ASSIGN_OR_RETURN(final_norm_[m],
                         LoadNorm(wn::FinalNorm(m), wn::FinalNorm(m, "bias"), layer_norm));
  }
  if (config_.rope_scaling.type != RopeScalingType::kNone) {
    inv_freq_ = RopeInverseFrequencies(config_);
  }
  attention_factor2_ = RopeAttentionFactor(config_) * RopeAttentionFactor(config_);
  tower_begin_.assign(static_cast<size_t>(towers) + 1, 0);
  return PlaceWeights();
}

absl::StatusOr<WeightRef> MotModel::Place(const WeightRef& w) {
  if (!backend_->device_memory() || w.data == nullptr) return w;
  const int64_t bytes = DTypeBytes(w.dtype, w.rows * w.cols);
  MOT_ASSIGN_OR_RETURN(backend::Buffer b, backend::Buffer::Allocate(backend_, bytes));
  backend_->CopyToBackend(b.data(), w.data, bytes);
  WeightRef placed = w;
  placed.data = b.data();
  device_buffers_.push_back(std::move(b));
  return placed;
}

absl::StatusOr<const float*> MotModel::PlaceF32(const float* host, int64_t n) {
  if (!backend_->device_memory() || host == nullptr) return host;
  MOT_ASSIGN_OR_RETURN(WeightRef w, Place(WeightRef{host, DType::kF32, 1, n}));
  return static_cast<const float*>(w.data);
}

absl::Status MotModel::PlaceWeights() {
  if (!backend_->device_memory()) return absl::OkStatus();
  auto place_norm = [&](Norm& norm) -> absl::Status {
    MOT_ASSIGN_OR_RETURN(norm.weight, PlaceF32(norm.weight, norm.size));
    MOT_ASSIGN_OR_RETURN(norm.bias, PlaceF32(norm.bias, norm.size));
    return absl::OkStatus();
  };
  MOT_ASSIGN_OR_RETURN(embeddings_, Place(embeddings_));
  if (config_.tie_embeddings) {
    lm_head_ = embeddings_;
  } else {
    MOT_ASSIGN_OR_RETURN(lm_head_, Place(lm_head_));
  }
  for (std::vector<TowerLayer>& layer : layers_) {
    for (TowerLayer& t : layer) {
      // Only what Forward reads is uploaded: the fused copy, or else the parts. The parts'
      // shapes stay for WeightBytesPerToken.
      if (t.wqkv.data != nullptr) {
        MOT_ASSIGN_OR_RETURN(t.wqkv, Place(t.wqkv));
        t.wq.data = t.wk.data = t.wv.data = nullptr;
      } else {
        MOT_ASSIGN_OR_RETURN(t.wq, Place(t.wq));
        MOT_ASSIGN_OR_RETURN(t.wk, Place(t.wk));
        MOT_ASSIGN_OR_RETURN(t.wv, Place(t.wv));
      }
      if (t.w13.data != nullptr) {
        MOT_ASSIGN_OR_RETURN(t.w13, Place(t.w13));
        t.w1.data = t.w3.data = nullptr;
      } else {
        MOT_ASSIGN_OR_RETURN(t.w1, Place(t.w1));
        MOT_ASSIGN_OR_RETURN(t.w3, Place(t.w3));
      }
      MOT_ASSIGN_OR_RETURN(t.wo, Place(t.wo));
      MOT_ASSIGN_OR_RETURN(t.w2, Place(t.w2));
      MOT_RETURN_IF_ERROR(place_norm(t.attention_norm));
      MOT_RETURN_IF_ERROR(place_norm(t.ffn_norm));
      MOT_RETURN_IF_ERROR(place_norm(t.q_norm));
      MOT_RETURN_IF_ERROR(place_norm(t.k_norm));
      MOT_ASSIGN_OR_RETURN(t.bqkv, PlaceF32(t.bqkv, config_.q_dim() + 2 * config_.kv_dim()));
    }
  }
  for (Norm& norm : final_norm_) MOT_RETURN_IF_ERROR(place_norm(norm));
  // The host copies are no longer read (the uploads above have consumed them).
  MOT_RETURN_IF_ERROR(backend_->Synchronize());
  fused_storage_.clear();
  norm_storage_.clear();
  bias_storage_.clear();
  return absl::OkStatus();
}

int64_t MotModel::WeightBytesPerToken(int tower) const {
  auto bytes = [](const WeightRef& w) { return DTypeBytes(w.dtype, w.rows * w.cols); };
  const int64_t norm_floats = config_.norm_type == NormType::kLayer ? 2 : 1;
  int64_t total = DTypeBytes(embeddings_.dtype, config_.dim) + bytes(lm_head_);
  total += norm_floats * config_.dim * 4;
  for (const auto& layer : layers_) {
    const TowerLayer& t = layer[static_cast<size_t>(tower)];
    total += bytes(t.wq) + bytes(t.wk) + bytes(t.wv) + bytes(t.wo) + bytes(t.w1) + bytes(t.w2) +
             bytes(t.w3);
    total += norm_floats * 4 * 2 * config_.dim;
    if (config_.qk_norm) {
      const QkNormSpec q = config_.EffectiveQkNorm();
      const int64_t heads = q.per_head ? config_.n_heads + config_.n_kv_heads : 2;
      total += (q.bias ? 2 : 1) * 4 * heads * config_.head_dim;
    }
    if (t.bqkv != nullptr) total += 4 * (config_.q_dim() + 2 * config_.kv_dim());
  }
  return total;
}

absl::Status MotModel::Validate(const StepBatch& batch, const kv::KvCache& cache) {
  if (cache.num_layers() != config_.n_layers || cache.kv_dim() != config_.kv_dim()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "Forward: KV cache has n_layers=", cache.num_layers(), " kv_dim=", cache.kv_dim(),
        ", the model needs n_layers=", config_.n_layers, " kv_dim=", config_.kv_dim()));
  }
  const int32_t num_seqs = cache.num_seqs();
  for (size_t i = 0; i < batch.rows.size(); ++i) {
    const StepRow& r = batch.rows[i];
    if (r.token < 0 || r.token >= config_.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("StepBatch row ", i, ": field token: ", r.token,
                       " is outside [0, vocab_size=", config_.vocab_size, ")"));
    }
    if (r.tower < 0 || r.tower >= config_.num_towers()) {
      return absl::InvalidArgumentError(
          absl::StrCat("StepBatch row ", i, ": field tower: ", r.tower,
                       " is outside [0, num_towers=", config_.num_towers(), ")"));
    }
    if (r.seq < 0 || r.seq >= num_seqs) {
      return absl::InvalidArgumentError(absl::StrCat("StepBatch row ", i, ": field seq: ", r.seq,
                                                     " is outside the cache's slots [0, ", num_seqs,
                                                     ")"));
    }
    if (r.pos < 0 || r.pos >= config_.max_seq_len) {
      return absl::InvalidArgumentError(
          absl::StrCat("StepBatch row ", i, ": field pos: ", r.pos,
                       " is outside [0, max_seq_len=", config_.max_seq_len, ")"));
    }
    if (r.pos >= cache.Capacity(r.seq)) {
      return absl::InvalidArgumentError(
          absl::StrCat("StepBatch row ", i, ": field pos: ", r.pos, " is beyond the capacity ",
                       cache.Capacity(r.seq), " of sequence ", r.seq, " in the KV cache"));
    }
  }
  // Per sequence: positions must be exactly Length, Length+1, ..., each once.
  seq_count_.assign(static_cast<size_t>(num_seqs), 0);
  seq_min_.assign(static_cast<size_t>(num_seqs), config_.max_seq_len);
  seq_max_.assign(static_cast<size_t>(num_seqs), -1);
  for (const StepRow& r : batch.rows) {
    ++seq_count_[r.seq];
    seq_min_[r.seq] = std::min(seq_min_[r.seq], r.pos);
    seq_max_[r.seq] = std::max(seq_max_[r.seq], r.pos);
  }
  for (size_t i = 0; i < batch.rows.size(); ++i) {
    const StepRow& r = batch.rows[i];
    const int32_t len = cache.Length(r.seq);
    if (seq_min_[r.seq] != len || seq_max_[r.seq] - seq_min_[r.seq] + 1 != seq_count_[r.seq]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "StepBatch row ", i, ": field pos: the ", seq_count_[r.seq], " rows of sequence ", r.seq,
          " must have positions ", len, "..", len + seq_count_[r.seq] - 1, " (the cache holds ",
          len, "), got ", seq_min_[r.seq], "..", seq_max_[r.seq]));
    }
  }
  // No duplicates: with count == max - min + 1, a duplicate implies a gap; find one.
  std::vector<int64_t>& keys = keys_;
  keys.clear();
  for (const StepRow& r : batch.rows) keys.push_back(int64_t{r.seq} * config_.max_seq_len + r.pos);
  std::sort(keys.begin(), keys.end());
  for (size_t i = 1; i < keys.size(); ++i) {
    if (keys[i] == keys[i - 1]) {
      const int32_t seq = static_cast<int32_t>(keys[i] / config_.max_seq_len);
      const int32_t pos = static_cast<int32_t>(keys[i] % config_.max_seq_len);
      for (size_t j = batch.rows.size(); j-- > 0;) {
        if (batch.rows[j].seq == seq && batch.rows[j].pos == pos) {
          return absl::InvalidArgumentError(absl::StrCat("StepBatch row ", j,
                                                         ": field pos: position ", pos,
                                                         " of sequence ", seq, " appears twice"));
        }
      }
    }
  }
  return absl::OkStatus();
}

void MotModel::ApplyNorm(const Norm& norm, const float* x, int64_t rows, int64_t dim, int64_t ldx,
                         float* y, int64_t ldy) {
  if (rows == 0) return;
  if (config_.norm_type == NormType::kRms) {
    backend_->RmsNorm(x, rows, dim, ldx, norm.weight, config_.norm_eps, y, ldy);
  } else {
    backend_->LayerNorm(x, rows, dim, ldx, norm.weight, norm.bias, config_.norm_eps, y, ldy);
  }
}

void MotModel::ApplyQkNorm(const TowerLayer& t, float* qkv, int64_t rows, int64_t ld) {
  const int64_t hd = config_.head_dim;
  const int64_t q_dim = config_.q_dim();
  const QkNormSpec spec = config_.EffectiveQkNorm();
  const bool classic = !config_.qk_norm_spec.has_value();
  if (classic && rows <= config_.n_heads) {
    // The classic q/k norm, few rows: per row, each row's heads are contiguous (stride
    // head_dim), so one call covers a row's heads.
    for (int64_t r = 0; r < rows; ++r) {
      float* row = qkv + r * ld;
      ApplyNorm(t.q_norm, row, config_.n_heads, hd, hd, row, hd);
      ApplyNorm(t.k_norm, row + q_dim, config_.n_kv_heads, hd, hd, row + q_dim, hd);
    }
    return;
  }
  // Per head over every row (head h of each row is the column slice
  // [h * head_dim, (h + 1) * head_dim) at stride ld): fewer calls when rows outnumber heads,
  // and the only way for a q/k norm of its own kind, whose affine parameters may differ per
  // head (per_head), else are shared.
  auto norm_heads = [&](const Norm& norm, float* x, int32_t heads) {
    for (int32_t h = 0; h < heads; ++h) {
      const int64_t off = spec.per_head ? h * hd : 0;
      const float* w = norm.weight + off;
      float* xh = x + h * hd;
      if (spec.type == NormType::kRms) {
        backend_->RmsNorm(xh, rows, hd, ld, w, spec.eps, xh, ld);
      } else {
        const float* b = norm.bias != nullptr ? norm.bias + off : nullptr;
        backend_->LayerNorm(xh, rows, hd, ld, w, b, spec.eps, xh, ld);
      }
    }
  };
  norm_heads(t.q_norm, qkv, config_.n_heads);
  norm_heads(t.k_norm, qkv + q_dim, config_.n_kv_heads);
}

absl::Status MotModel::EnsureScratch(int64_t rows) {
  if (rows <= scratch_rows_) return absl::OkStatus();
  const int64_t dim = config_.dim;
  const int64_t qkv = config_.q_dim() + 2 * config_.kv_dim();
  Grow(order_, rows);
  Grow(ids_, rows);
  Grow(seq_, rows);
  Grow(pos_, rows);
  Grow(slots_, rows);
  Grow(wanted_, rows);
  Grow(wanted_tower_, rows);
  constexpr int64_t kF = sizeof(float);
  MOT_RETURN_IF_ERROR(x_.Grow(backend_, rows * dim * kF));
  MOT_RETURN_IF_ERROR(xn_.Grow(backend_, rows * dim * kF));
  MOT_RETURN_IF_ERROR(qkv_.Grow(backend_, rows * qkv * kF));
  MOT_RETURN_IF_ERROR(attn_.Grow(backend_, rows * config_.q_dim() * kF));
  MOT_RETURN_IF_ERROR(ffn_.Grow(backend_, rows * 2 * int64_t{config_.ffn_hidden} * kF));
  MOT_RETURN_IF_ERROR(tmp_.Grow(backend_, rows * dim * kF));
  scratch_rows_ = rows;
  return absl::OkStatus();
}

absl::Status MotModel::StageStep(kv::KvCache* cache, int64_t n, int64_t num_wanted) {
  const int32_t layers = config_.n_layers;
  const kv::KvLayerView v0 = cache->LayerView(0);
  const int32_t num_seqs = cache->num_seqs();
  const int64_t num_entries = v0.seq_entry_begin[num_seqs];
  const int32_t num_pools = v0.num_pools;
  size_t end = 0;
  auto take = [&](int64_t count, size_t size) {
    const size_t at = end;
    end = (end + static_cast<size_t>(count) * size + 255) / 256 * 256;
    return at;
  };
  const size_t at_ids = take(n, 4), at_seq = take(n, 4), at_pos = take(n, 4);
  const size_t at_slots = take(n, sizeof(kv::KvSlot));
  const size_t at_wanted = take(num_wanted, 4);
  const size_t at_entries = take(num_entries, sizeof(kv::KvBlockEntry));
  const size_t at_seb = take(num_seqs + 1, 4);
  const size_t at_pools = take(int64_t{layers} * num_pools, sizeof(kv::KvPoolView));
  stage_host_.resize(end);
  uint8_t* h = stage_host_.data();
  std::memcpy(h + at_ids, ids_.data(), static_cast<size_t>(n) * 4);
  std::memcpy(h + at_seq, seq_.data(), static_cast<size_t>(n) * 4);
  std::memcpy(h + at_pos, pos_.data(), static_cast<size_t>(n) * 4);
  std::memcpy(h + at_slots, slots_.data(), static_cast<size_t>(n) * sizeof(kv::KvSlot));
  std::memcpy(h + at_wanted, wanted_.data(), static_cast<size_t>(num_wanted) * 4);
  std::memcpy(h + at_entries, v0.entries,
              static_cast<size_t>(num_entries) * sizeof(kv::KvBlockEntry));
  std::memcpy(h + at_seb, v0.seq_entry_begin, static_cast<size_t>(num_seqs + 1) * 4);
  d_views_.resize(static_cast<size_t>(layers));
  for (int32_t l = 0; l < layers; ++l) {
    d_views_[l] = cache->LayerView(l);
    std::memcpy(h + at_pools + static_cast<size_t>(l) * num_pools * sizeof(kv::KvPoolView),
                d_views_[l].pools, static_cast<size_t>(num_pools) * sizeof(kv::KvPoolView));
  }
  MOT_RETURN_IF_ERROR(stage_.Grow(backend_, static_cast<int64_t>(end)));
  backend_->CopyToBackend(stage_.data(), h, static_cast<int64_t>(end));
  const uint8_t* d = stage_.as<uint8_t>();
  d_ids_ = reinterpret_cast<const int32_t*>(d + at_ids);
  d_seq_ = reinterpret_cast<const int32_t*>(d + at_seq);
  d_pos_ = reinterpret_cast<const int32_t*>(d + at_pos);
  d_slots_ = reinterpret_cast<const kv::KvSlot*>(d + at_slots);
  d_wanted_ = reinterpret_cast<const int32_t*>(d + at_wanted);
  for (int32_t l = 0; l < layers; ++l) {
    d_views_[l].pools =
        reinterpret_cast<const kv::KvPoolView*>(d + at_pools) + static_cast<size_t>(l) * num_pools;
    d_views_[l].entries = reinterpret_cast<const kv::KvBlockEntry*>(d + at_entries);
    d_views_[l].seq_entry_begin = reinterpret_cast<const int32_t*>(d + at_seb);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::vector<float>> MotModel::Forward(const StepBatch& batch, kv::KvCache* cache) {
  std::vector<float> logits(static_cast<size_t>(batch.NumWanted() * config_.vocab_size));
  MOT_RETURN_IF_ERROR(Forward(batch, cache, logits.data()));
  return logits;
}

absl::Status MotModel::Forward(const StepBatch& batch, kv::KvCache* cache, float* logits) {
  if (cache == nullptr) return absl::InvalidArgumentError("Forward: cache is null");
  MOT_RETURN_IF_ERROR(Validate(batch, *cache));
  const int64_t n = static_cast<int64_t>(batch.rows.size());
  if (n == 0) return absl::OkStatus();
  MOT_RETURN_IF_ERROR(EnsureScratch(n));
  const bool device = backend_->device_memory();
  const int towers = config_.num_towers();
  const bool pre = config_.norm_placement == NormPlacement::kPre;
  const int64_t dim = config_.dim;
  const int64_t q_dim = config_.q_dim();
  const int64_t kv_dim = config_.kv_dim();
  const int64_t ld_qkv = q_dim + 2 * kv_dim;
  const int64_t ffn = config_.ffn_hidden;
  const int64_t ld_ffn = 2 * ffn;

  int64_t num_wanted = 0;
  // Sort once: stable counting sort by tower.
  std::fill(tower_begin_.begin(), tower_begin_.end(), 0);
  for (const StepRow& r : batch.rows) ++tower_begin_[r.tower + 1];
  for (int m = 0; m < towers; ++m) tower_begin_[m + 1] += tower_begin_[m];
  {
    std::vector<int64_t>& next = tower_begin_;  // reused below; copy the starts first
    int64_t cursor[kMaxModalities];
    for (int m = 0; m < towers; ++m) cursor[m] = next[m];
    num_wanted = 0;
    for (int64_t i = 0; i < n; ++i) {
      const StepRow& r = batch.rows[i];
      const int64_t s = cursor[r.tower]++;
      order_[s] = static_cast<int32_t>(i);
      ids_[s] = r.token;
      seq_[s] = r.seq;
      pos_[s] = r.pos;
      if (r.want_logits) {
        wanted_[num_wanted] = static_cast<int32_t>(s);
        wanted_tower_[num_wanted] = r.tower;
        ++num_wanted;
      }
    }
  }
  auto rows_of = [&](int m) { return tower_begin_[m + 1] - tower_begin_[m]; };
  // The write slot of every row, once per step: every layer's view has the same entries.
  {
    const kv::KvLayerView view0 = cache->LayerView(0);
    for (int64_t s = 0; s < n; ++s) slots_[s] = view0.Locate(seq_[s], pos_[s]);
  }
  // The step's tables in the backend's memory.
  if (device) MOT_RETURN_IF_ERROR(StageStep(cache, n, num_wanted));
  const int32_t* ids = device ? d_ids_ : ids_.data();
  const int32_t* seq = device ? d_seq_ : seq_.data();
  const int32_t* pos = device ? d_pos_ : pos_.data();
  const kv::KvSlot* slots = device ? d_slots_ : slots_.data();
  const int32_t* wanted = device ? d_wanted_ : wanted_.data();

  float* x = x_.as<float>();
  float* xn = xn_.as<float>();
  float* qkv = qkv_.as<float>();
  float* attn = attn_.as<float>();
  float* gu = ffn_.as<float>();
  float* tmp = tmp_.as<float>();

  backend_->Embedding(ids, n, embeddings_, x, dim);

  for (int layer = 0; layer < config_.n_layers; ++layer) {
    const std::vector<TowerLayer>& tl = layers_[layer];
    const kv::KvLayerView view = device ? d_views_[layer] : cache->LayerView(layer);
    // Attention projections, per tower on its row range.
    for (int m = 0; m < towers; ++m) {
      const int64_t rows = rows_of(m);
      if (rows == 0) continue;
      const TowerLayer& t = tl[m];
      const int64_t b = tower_begin_[m];
      const float* in = x + b * dim;
      if (pre) {
        ApplyNorm(t.attention_norm, in, rows, dim, dim, xn + b * dim, dim);
        in = xn + b * dim;
      }
      float* out = qkv + b * ld_qkv;
      if (t.wqkv.data != nullptr) {
        backend_->Linear(in, rows, dim, t.wqkv, out, ld_qkv, false);
      } else {
        backend_->Linear(in, rows, dim, t.wq, out, ld_qkv, false);
        backend_->Linear(in, rows, dim, t.wk, out + q_dim, ld_qkv, false);
        backend_->Linear(in, rows, dim, t.wv, out + q_dim + kv_dim, ld_qkv, false);
      }
      if (t.bqkv != nullptr) backend_->Add(t.bqkv, 0, rows, ld_qkv, out, ld_qkv);
      if (config_.qk_norm) ApplyQkNorm(t, out, rows, ld_qkv);
    }
    // q and k heads are adjacent in each qkv row: one rotary call covers both.
    if (inv_freq_.empty()) {
      backend_->Rotary(qkv, n, ld_qkv, config_.n_heads + config_.n_kv_heads, config_.head_dim, pos,
                       config_.rope_theta);
    } else {
      backend_->RotaryFreqs(qkv, n, ld_qkv, config_.n_heads + config_.n_kv_heads, config_.head_dim,
                            pos, inv_freq_.data());
    }
    backend_->StoreKv(qkv + q_dim, ld_qkv, qkv + q_dim + kv_dim, ld_qkv, n, slots, view);
    backend::AttentionArgs args;
    args.q = qkv;
    args.ldq = ld_qkv;
    args.rows = n;
    args.seq = seq;
    args.pos = pos;
    args.kv = view;
    args.n_heads = config_.n_heads;
    args.n_kv_heads = config_.n_kv_heads;
    args.head_dim = config_.head_dim;
    // yarn's attention factor scales q and k (transformers multiplies cos and sin by it):
    // the scores by its square.
    args.scale = 1.0f / std::sqrt(static_cast<float>(config_.head_dim));
    if (attention_factor2_ != 1.0) args.scale *= static_cast<float>(attention_factor2_);
    args.window = config_.sliding_window;
    args.out = attn;
    args.ldo = q_dim;
    backend_->Attention(args);

    // Output projection + residual, then the FFN + residual, per tower.
    for (int m = 0; m < towers; ++m) {
      const int64_t rows = rows_of(m);
      if (rows == 0) continue;
      const TowerLayer& t = tl[m];
      const int64_t b = tower_begin_[m];
      float* xb = x + b * dim;
      if (pre) {
        backend_->Linear(attn + b * q_dim, rows, q_dim, t.wo, xb, dim, true);
        ApplyNorm(t.ffn_norm, xb, rows, dim, dim, xn + b * dim, dim);
      } else {
        backend_->Linear(attn + b * q_dim, rows, q_dim, t.wo, tmp + b * dim, dim, false);
        ApplyNorm(t.attention_norm, tmp + b * dim, rows, dim, dim, tmp + b * dim, dim);
        backend_->Add(tmp + b * dim, dim, rows, dim, xb, dim);
      }
      const float* ffn_in = pre ? xn + b * dim : xb;
      float* g = gu + b * ld_ffn;
      if (t.w13.data != nullptr) {
        backend_->Linear(ffn_in, rows, dim, t.w13, g, ld_ffn, false);
      } else {
        backend_->Linear(ffn_in, rows, dim, t.w1, g, ld_ffn, false);
        backend_->Linear(ffn_in, rows, dim, t.w3, g + ffn, ld_ffn, false);
      }
      backend_->SwiGlu(g, ld_ffn, g + ffn, ld_ffn, rows, ffn, g, ld_ffn);
      if (pre) {
        backend_->Linear(g, rows, ld_ffn, t.w2, xb, dim, true);
      } else {
        backend_->Linear(g, rows, ld_ffn, t.w2, tmp + b * dim, dim, false);
        ApplyNorm(t.ffn_norm, tmp + b * dim, rows, dim, dim, tmp + b * dim, dim);
        backend_->Add(tmp + b * dim, dim, rows, dim, xb, dim);
      }
    }
  }

  // Wanted rows back in request order, then the final norm of each row's tower, then the
  // LM head.
  if (num_wanted > 0) {
    // wanted_ was filled in request order of the wanted rows.
    backend_->GatherRows(x, dim, wanted, num_wanted, dim, xn, dim);
    for (int64_t i = 0; i < num_wanted;) {
      int64_t j = i + 1;
      while (j < num_wanted && wanted_tower_[j] == wanted_tower_[i]) ++j;
      ApplyNorm(final_norm_[wanted_tower_[i]], xn + i * dim, j - i, dim, dim, xn + i * dim, dim);
      i = j;
    }
    const int64_t logit_bytes = num_wanted * config_.vocab_size * int64_t{sizeof(float)};
    if (device) MOT_RETURN_IF_ERROR(logits_.Grow(backend_, logit_bytes));
    float* out = device ? logits_.as<float>() : logits;
    backend_->Linear(xn, num_wanted, dim, lm_head_, out, config_.vocab_size, false);
    if (device) backend_->CopyToHost(logits, out, logit_bytes);
  }
  // A device backend's failure anywhere in the step surfaces here, before the cache's
  // lengths move.
  MOT_RETURN_IF_ERROR(backend_->Synchronize());

  // Commit the cache lengths (every sequence's positions were validated as contiguous).
  for (int64_t s = 0; s < n; ++s) {
    if (pos_[s] + 1 > cache->Length(seq_[s])) cache->Commit(seq_[s], pos_[s] + 1);
  }
  if (num_wanted > 0 && !config_.suppressed_token_ids.empty()) {
    constexpr float kSuppressed = -std::numeric_limits<float>::infinity();
    for (int64_t i = 0; i < num_wanted; ++i) {
      float* row = logits + i * config_.vocab_size;
      for (const TokenIdRange& r : config_.suppressed_token_ids) {
        std::fill(row + r.begin, row + r.end, kSuppressed);
      }
    }
  }
  return absl::OkStatus();
}

}  // namespace mot::model
