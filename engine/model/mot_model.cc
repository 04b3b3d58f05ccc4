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
    }
  }
  final_norm_.resize(static_cast<size_t>(towers));
  for (int m = 0; m < towers; ++m) {
    MOT_ASSIGN_OR_RETURN(final_norm_[m],
                         LoadNorm(wn::FinalNorm(m), wn::FinalNorm(m, "bias"), layer_norm));
  }
  if (config_.rope_scaling.type != RopeScalingType::kNone) {
    inv_freq_ = RopeInverseFrequencies(config_);
  }
  tower_begin_.assign(static_cast<size_t>(towers) + 1, 0);
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
  if (!config_.qk_norm_spec.has_value()) {
    // The classic q/k norm: per row, each row's heads are contiguous (stride head_dim).
    for (int64_t r = 0; r < rows; ++r) {
      float* row = qkv + r * ld;
      ApplyNorm(t.q_norm, row, config_.n_heads, hd, hd, row, hd);
      ApplyNorm(t.k_norm, row + q_dim, config_.n_kv_heads, hd, hd, row + q_dim, hd);
    }
    return;
  }
  // A q/k norm of its own kind: one call per head over every row (head h of each row is the
  // column slice [h * head_dim, (h + 1) * head_dim) at stride ld), with that head's affine
  // parameters when per_head, else the shared ones.
  const QkNormSpec& spec = *config_.qk_norm_spec;
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

void MotModel::EnsureScratch(int64_t rows) {
  if (rows <= scratch_rows_) return;
  const int64_t dim = config_.dim;
  const int64_t qkv = config_.q_dim() + 2 * config_.kv_dim();
  Grow(order_, rows);
  Grow(ids_, rows);
  Grow(seq_, rows);
  Grow(pos_, rows);
  Grow(slots_, rows);
  Grow(wanted_, rows);
  Grow(wanted_tower_, rows);
  Grow(x_, rows * dim);
  Grow(xn_, rows * dim);
  Grow(qkv_, rows * qkv);
  Grow(attn_, rows * config_.q_dim());
  Grow(ffn_, rows * 2 * int64_t{config_.ffn_hidden});
  Grow(tmp_, rows * dim);
  scratch_rows_ = rows;
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
  EnsureScratch(n);
  const int towers = config_.num_towers();
  const bool pre = config_.norm_placement == NormPlacement::kPre;
  const int64_t dim = config_.dim;
  const int64_t q_dim = config_.q_dim();
  const int64_t kv_dim = config_.kv_dim();
  const int64_t ld_qkv = q_dim + 2 * kv_dim;
  const int64_t ffn = config_.ffn_hidden;
  const int64_t ld_ffn = 2 * ffn;

  // Sort once: stable counting sort by tower.
  std::fill(tower_begin_.begin(), tower_begin_.end(), 0);
  for (const StepRow& r : batch.rows) ++tower_begin_[r.tower + 1];
  for (int m = 0; m < towers; ++m) tower_begin_[m + 1] += tower_begin_[m];
  {
    std::vector<int64_t>& next = tower_begin_;  // reused below; copy the starts first
    int64_t cursor[kMaxModalities];
    for (int m = 0; m < towers; ++m) cursor[m] = next[m];
    int64_t num_wanted = 0;
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

  float* x = x_.data();
  float* xn = xn_.data();
  float* qkv = qkv_.data();
  float* attn = attn_.data();
  float* gu = ffn_.data();
  float* tmp = tmp_.data();

  backend_->Embedding(ids_.data(), n, embeddings_, x, dim);

  for (int layer = 0; layer < config_.n_layers; ++layer) {
    const std::vector<TowerLayer>& tl = layers_[layer];
    const kv::KvLayerView view = cache->LayerView(layer);
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
      backend_->Rotary(qkv, n, ld_qkv, config_.n_heads + config_.n_kv_heads, config_.head_dim,
                       pos_.data(), config_.rope_theta);
    } else {
      backend_->RotaryFreqs(qkv, n, ld_qkv, config_.n_heads + config_.n_kv_heads, config_.head_dim,
                            pos_.data(), inv_freq_.data());
    }
    backend_->StoreKv(qkv + q_dim, ld_qkv, qkv + q_dim + kv_dim, ld_qkv, n, slots_.data(), view);
    backend::AttentionArgs args;
    args.q = qkv;
    args.ldq = ld_qkv;
    args.rows = n;
    args.seq = seq_.data();
    args.pos = pos_.data();
    args.kv = view;
    args.n_heads = config_.n_heads;
    args.n_kv_heads = config_.n_kv_heads;
    args.head_dim = config_.head_dim;
    args.scale = 1.0f / std::sqrt(static_cast<float>(config_.head_dim));
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

  // Commit the cache lengths (every sequence's positions were validated as contiguous).
  for (int64_t s = 0; s < n; ++s) {
    const int32_t seq = seq_[s];
    if (pos_[s] + 1 > cache->Length(seq)) cache->Commit(seq, pos_[s] + 1);
  }

  // Wanted rows back in request order, then the final norm of each row's tower, then the
  // LM head.
  const int64_t num_wanted = batch.NumWanted();
  if (num_wanted == 0) return absl::OkStatus();
  // wanted_ was filled in request order of the wanted rows.
  backend_->GatherRows(x, dim, wanted_.data(), num_wanted, dim, xn, dim);
  for (int64_t i = 0; i < num_wanted;) {
    int64_t j = i + 1;
    while (j < num_wanted && wanted_tower_[j] == wanted_tower_[i]) ++j;
    ApplyNorm(final_norm_[wanted_tower_[i]], xn + i * dim, j - i, dim, dim, xn + i * dim, dim);
    i = j;
  }
  backend_->Linear(xn, num_wanted, dim, lm_head_, logits, config_.vocab_size, false);
  if (!config_.suppressed_token_ids.empty()) {
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
