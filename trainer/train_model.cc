// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The training forward and backward. Layout of one step (n rows, sorted once by tower):
//   x[0] = Embedding(ids)
//   per layer l, per tower m on its row range (pre):
//     xn1 = AttnNorm(x); qkv_lin = xn1 Wqkvᵀ; qkv = Rotary(QkNorm(qkv_lin))
//     att = Attention(qkv) (per example, causal, all towers)            -> lse kept
//     h = x + att Woᵀ; xn2 = FfnNorm(h); gu = xn2 W13ᵀ; act = SwiGlu(gu); x[l+1] = h + act W2ᵀ
//   (post_branch: qkv_lin = x Wqkvᵀ; o = att Woᵀ; h = x + AttnNorm(o); gu = h W13ᵀ;
//    f = act W2ᵀ; x[l+1] = h + FfnNorm(f))
//   xnf = FinalNorm(x[L]); logits = xnf[predicting rows] Headᵀ, in chunks; cross-entropy.
// Backward walks the same steps in exact reverse order; each op's backward follows its
// forward below. Norm statistics are recomputed from the saved inputs in backward (one pass
// over a row, cheaper than storing them per norm and per head).
#include "trainer/train_model.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/core/status_macros.h"
#include "engine/core/tensor.h"
#include "model_loaders/weight_names.h"

namespace mot::trainer {
namespace {

namespace wn = weight_names;
using backend::WeightRef;

// ---------------------------------------------------------------------------------------
// GEMMs for the backward, split over the pool (OpenBLAS runs one thread per call: the
// CpuBackend set that process-wide).

// C[m, n] = A[m, k] · B[k, n] + beta C; split over the rows of C.
void GemmNN(ThreadPool* pool, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
            const float* b, int64_t ldb, float* c, int64_t ldc, float beta) {
  if (m <= 0 || n <= 0) return;
  pool->ParallelFor(m, 16, [&](int64_t begin, int64_t end, int) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, static_cast<int>(end - begin),
                static_cast<int>(n), static_cast<int>(k), 1.0f, a + begin * lda,
                static_cast<int>(lda), b, static_cast<int>(ldb), beta, c + begin * ldc,
                static_cast<int>(ldc));
  });
}

// C[m, n] += A[k, m]ᵀ · B[k, n] (a weight gradient: A = dY, B = X); split over rows of C.
void GemmTNAcc(ThreadPool* pool, int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
               const float* b, int64_t ldb, float* c, int64_t ldc) {
  if (m <= 0 || n <= 0 || k <= 0) return;
  pool->ParallelFor(m, 16, [&](int64_t begin, int64_t end, int) {
    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, static_cast<int>(end - begin),
                static_cast<int>(n), static_cast<int>(k), 1.0f, a + begin, static_cast<int>(lda), b,
                static_cast<int>(ldb), 1.0f, c + begin * ldc, static_cast<int>(ldc));
  });
}

// ---------------------------------------------------------------------------------------
// Norms. Forward: the backend's RmsNorm / LayerNorm. Backward (x: the forward's input,
// [rows, d] stride ldx; dy stride lddy): dx = or += ∂L/∂x (dx may equal dy when not
// accumulating: a row's dy is fully read before its dx is written); dw (and db) += the
// parameter gradients, summed per thread then reduced.
//   rms:   y = x r w, r = 1/sqrt(mean(x²) + eps)
//          dx = r (dy w) - x r³ mean(dy w x)
//   layer: x̂ = (x - μ) r, y = x̂ w + b
//          dx = r (g - mean(g) - x̂ mean(g x̂)), g = dy w

struct NormParams {
  const float* w = nullptr;
  const float* b = nullptr;  // layer norm only
  float* dw = nullptr;
  float* db = nullptr;
};

void NormBackward(ThreadPool* pool, NormType type, float eps, const float* x, int64_t ldx,
                  const float* dy, int64_t lddy, int64_t rows, int64_t d, const NormParams& p,
                  float* dx, int64_t lddx, bool accumulate, std::vector<float>& partial) {
  if (rows <= 0) return;
  const int threads = pool->num_threads();
  partial.assign(static_cast<size_t>(threads) * 2 * d, 0.0f);
  const bool layer = type == NormType::kLayer;
  pool->ParallelFor(rows, 8, [&](int64_t begin, int64_t end, int t) {
    float* pdw = partial.data() + static_cast<int64_t>(t) * 2 * d;
    float* pdb = pdw + d;
    for (int64_t r = begin; r < end; ++r) {
      const float* xr = x + r * ldx;
      const float* dyr = dy + r * lddy;
      float* dxr = dx + r * lddx;
      if (!layer) {
        float ss = 0;
        for (int64_t j = 0; j < d; ++j) ss += xr[j] * xr[j];
        const float rs = 1.0f / std::sqrt(ss / static_cast<float>(d) + eps);
        float dot = 0;
        for (int64_t j = 0; j < d; ++j) {
          pdw[j] += dyr[j] * xr[j] * rs;
          dot += dyr[j] * p.w[j] * xr[j];
        }
        const float c = rs * rs * rs * dot / static_cast<float>(d);
        for (int64_t j = 0; j < d; ++j) {
          const float v = rs * dyr[j] * p.w[j] - xr[j] * c;
          dxr[j] = accumulate ? dxr[j] + v : v;
        }
      } else {
        float mean = 0;
        for (int64_t j = 0; j < d; ++j) mean += xr[j];
        mean /= static_cast<float>(d);
        float var = 0;
        for (int64_t j = 0; j < d; ++j) var += (xr[j] - mean) * (xr[j] - mean);
        const float rs = 1.0f / std::sqrt(var / static_cast<float>(d) + eps);
        float mg = 0, mgx = 0;
        for (int64_t j = 0; j < d; ++j) {
          const float xh = (xr[j] - mean) * rs;
          const float g = dyr[j] * p.w[j];
          pdw[j] += dyr[j] * xh;
          pdb[j] += dyr[j];
          mg += g;
          mgx += g * xh;
        }
        mg /= static_cast<float>(d);
        mgx /= static_cast<float>(d);
        for (int64_t j = 0; j < d; ++j) {
          const float xh = (xr[j] - mean) * rs;
          const float v = rs * (dyr[j] * p.w[j] - mg - xh * mgx);
          dxr[j] = accumulate ? dxr[j] + v : v;
        }
      }
    }
  });
  for (int t = 0; t < threads; ++t) {
    const float* pdw = partial.data() + static_cast<int64_t>(t) * 2 * d;
    for (int64_t j = 0; j < d; ++j) p.dw[j] += pdw[j];
    if (layer) {
      for (int64_t j = 0; j < d; ++j) p.db[j] += pdw[d + j];
    }
  }
}

// ---------------------------------------------------------------------------------------
// SwiGLU. Forward: the backend's SwiGlu, act = silu(g) u. Backward:
//   dg = dact u σ(g) (1 + g (1 - σ(g))),  du = dact silu(g).
// gu: [rows, 2 ffn] (g | u); dact: [rows, ffn]; dgu: [rows, 2 ffn].
void SwiGluBackward(ThreadPool* pool, const float* gu, const float* dact, int64_t rows, int64_t ffn,
                    float* dgu) {
  pool->ParallelFor(rows, 4, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const float* g = gu + r * 2 * ffn;
      const float* u = g + ffn;
      const float* da = dact + r * ffn;
      float* dg = dgu + r * 2 * ffn;
      float* du = dg + ffn;
      for (int64_t j = 0; j < ffn; ++j) {
        const float s = 1.0f / (1.0f + std::exp(-g[j]));
        du[j] = da[j] * g[j] * s;
        dg[j] = da[j] * u[j] * s * (1.0f + g[j] * (1.0f - s));
      }
    }
  });
}

// ---------------------------------------------------------------------------------------
// Rotary. Forward: the backend's Rotary (rotate-half, angle pos·θ^(-2i/d), in double).
// Backward: the inverse rotation of the gradient, in place:
//   (da, db) <- (da cos + db sin, db cos - da sin),
// with cos/sin from `table` ([max_seq_len, half] cos, then the same of sin), computed once
// in double exactly as the forward computes them.
std::vector<float> RotaryTable(int32_t max_len, int32_t head_dim, float theta) {
  const int32_t half = head_dim / 2;
  std::vector<float> table(static_cast<size_t>(2) * max_len * half);
  for (int32_t i = 0; i < half; ++i) {
    const double inv_freq =
        std::pow(static_cast<double>(theta), -2.0 * i / static_cast<double>(head_dim));
    for (int32_t p = 0; p < max_len; ++p) {
      const double angle = static_cast<double>(p) * inv_freq;
      table[static_cast<size_t>(p) * half + i] = static_cast<float>(std::cos(angle));
      table[(static_cast<size_t>(max_len) + p) * half + i] = static_cast<float>(std::sin(angle));
    }
  }
  return table;
}

void RotaryBackward(ThreadPool* pool, const std::vector<float>& table, int32_t max_len, float* dx,
                    int64_t rows, int64_t ldx, int32_t heads, int32_t head_dim,
                    const int32_t* pos) {
  const int32_t half = head_dim / 2;
  pool->ParallelFor(rows, 8, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const float* cs = table.data() + static_cast<int64_t>(pos[r]) * half;
      const float* sn = cs + static_cast<int64_t>(max_len) * half;
      for (int32_t h = 0; h < heads; ++h) {
        float* a = dx + r * ldx + static_cast<int64_t>(h) * head_dim;
        float* b = a + half;
        for (int32_t i = 0; i < half; ++i) {
          const float da = a[i], db = b[i];
          a[i] = da * cs[i] + db * sn[i];
          b[i] = db * cs[i] - da * sn[i];
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------
// Attention within packed examples, as GEMMs per (example, head). The rows of example e
// are the contiguous rows [begin_e, end_e) of position-ordered buffers (the caller gathers
// them from the tower-sorted rows once per layer): q (rotated), k (rotated) and v are
// column slices of qkv [n, ld_qkv]; head h reads kv head h / (n_heads / n_kv_heads).
struct AttentionShape {
  int32_t n_heads = 0, n_kv_heads = 0, head_dim = 0;
  int64_t ld_qkv = 0, q_dim = 0, kv_dim = 0;
  float scale = 0;
};

// Per-thread scratch of at least `floats` floats.
float* ThreadScratch(std::vector<std::vector<float>>& scratch, int thread, int64_t floats) {
  std::vector<float>& v = scratch[static_cast<size_t>(thread)];
  if (static_cast<int64_t>(v.size()) < floats) v.resize(static_cast<size_t>(floats));
  return v.data();
}

// P[i, j] = exp(S[i, j] - lse_i) for j <= i, 0 above the diagonal (S: [t, t], scaled
// scores). With lse == nullptr, computes lse_i into lse_out first (the forward).
void CausalSoftmax(float* s, int64_t t, const float* lse_in, int64_t lse_stride, float* lse_out) {
  for (int64_t i = 0; i < t; ++i) {
    float* row = s + i * t;
    if (lse_in == nullptr) {
      float mx = -INFINITY;
      for (int64_t j = 0; j <= i; ++j) mx = std::max(mx, row[j]);
      float sum = 0;
      for (int64_t j = 0; j <= i; ++j) {
        row[j] = std::exp(row[j] - mx);
        sum += row[j];
      }
      const float inv = 1.0f / sum;
      for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
      lse_out[i * lse_stride] = mx + std::log(sum);
    } else {
      const float l = lse_in[i * lse_stride];
      for (int64_t j = 0; j <= i; ++j) row[j] = std::exp(row[j] - l);
    }
    std::fill(row + i + 1, row + t, 0.0f);
  }
}

// out[i, h] = Σ_{j<=i} softmax_j(scale q_i·k_j) v_j; lse[i, h] = log Σ_j exp(scale q_i·k_j).
// qkv, out [n, q_dim], lse [n, n_heads]: position order.
void AttentionForward(ThreadPool* pool, const AttentionShape& s, const float* qkv,
                      const std::vector<int32_t>& ex_begin, int64_t n, int64_t max_len,
                      std::vector<std::vector<float>>& scratch, float* out, float* lse) {
  const int32_t group = s.n_heads / s.n_kv_heads;
  const int64_t hd = s.head_dim;
  const int64_t examples = static_cast<int64_t>(ex_begin.size());
  const int ld = static_cast<int>(s.ld_qkv);
  pool->ParallelFor(examples * s.n_heads, 1, [&](int64_t begin, int64_t end, int thread) {
    float* sc = ThreadScratch(scratch, thread, max_len * max_len);
    for (int64_t task = begin; task < end; ++task) {
      const int64_t e = task / s.n_heads;
      const int32_t h = static_cast<int32_t>(task % s.n_heads);
      const int64_t b = ex_begin[e];
      const int t = static_cast<int>((e + 1 < examples ? ex_begin[e + 1] : n) - b);
      const float* q = qkv + b * s.ld_qkv + h * hd;
      const float* k = qkv + b * s.ld_qkv + s.q_dim + (h / group) * hd;
      const float* v = k + s.kv_dim;
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, static_cast<int>(hd), s.scale, q,
                  ld, k, ld, 0.0f, sc, t);
      CausalSoftmax(sc, t, nullptr, s.n_heads, lse + b * s.n_heads + h);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, static_cast<int>(hd), t, 1.0f, sc,
                  t, v, ld, 0.0f, out + b * s.q_dim + h * hd, static_cast<int>(s.q_dim));
    }
  });
}

// The gradient of AttentionForward, probabilities recomputed from lse (nothing T x T is
// kept between forward and backward):
//   P = exp(scale Q Kᵀ - lse) (causal), dP = dO Vᵀ, D_i = dO_i·O_i, dS = P ∘ (dP - D),
//   dQ = scale dS K, dK = scale Σ_heads dSᵀ Q, dV = Σ_heads Pᵀ dO.
// One task per (example, kv head) owns its dk/dv rows and its query heads' dq: no races.
// Writes every element of dqkv's rows (position order).
void AttentionBackward(ThreadPool* pool, const AttentionShape& s, const float* qkv,
                       const float* out, const float* lse, const float* dout,
                       const std::vector<int32_t>& ex_begin, int64_t n, int64_t max_len,
                       std::vector<std::vector<float>>& scratch, float* dqkv) {
  const int32_t group = s.n_heads / s.n_kv_heads;
  const int64_t hd = s.head_dim;
  const int64_t examples = static_cast<int64_t>(ex_begin.size());
  const int ld = static_cast<int>(s.ld_qkv);
  const int ldo = static_cast<int>(s.q_dim);
  pool->ParallelFor(examples * s.n_kv_heads, 1, [&](int64_t begin, int64_t end, int thread) {
    float* p = ThreadScratch(scratch, thread, 2 * max_len * max_len);
    float* dp = p + max_len * max_len;
    for (int64_t task = begin; task < end; ++task) {
      const int64_t e = task / s.n_kv_heads;
      const int32_t g = static_cast<int32_t>(task % s.n_kv_heads);
      const int64_t b = ex_begin[e];
      const int t = static_cast<int>((e + 1 < examples ? ex_begin[e + 1] : n) - b);
      const float* k = qkv + b * s.ld_qkv + s.q_dim + g * hd;
      const float* v = k + s.kv_dim;
      float* dk = dqkv + b * s.ld_qkv + s.q_dim + g * hd;
      float* dv = dk + s.kv_dim;
      for (int32_t h = g * group; h < (g + 1) * group; ++h) {
        const float* q = qkv + b * s.ld_qkv + h * hd;
        const float* o = out + b * s.q_dim + h * hd;
        const float* dO = dout + b * s.q_dim + h * hd;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, static_cast<int>(hd), s.scale, q,
                    ld, k, ld, 0.0f, p, t);
        CausalSoftmax(p, t, lse + b * s.n_heads + h, s.n_heads, nullptr);
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, t, t, static_cast<int>(hd), 1.0f, dO,
                    ldo, v, ld, 0.0f, dp, t);
        for (int64_t i = 0; i < t; ++i) {
          float d = 0;
          for (int64_t c = 0; c < hd; ++c) d += dO[i * ldo + c] * o[i * ldo + c];
          float* dpr = dp + i * t;
          const float* pr = p + i * t;
          for (int64_t j = 0; j <= i; ++j) dpr[j] = pr[j] * (dpr[j] - d);
          std::fill(dpr + i + 1, dpr + t, 0.0f);
        }
        const float beta = h == g * group ? 0.0f : 1.0f;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t, static_cast<int>(hd), t, s.scale,
                    dp, t, k, ld, 0.0f, dqkv + b * s.ld_qkv + h * hd, ld);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t, static_cast<int>(hd), t, s.scale,
                    dp, t, q, ld, beta, dk, ld);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t, static_cast<int>(hd), t, 1.0f, p, t,
                    dO, ldo, beta, dv, ld);
      }
    }
  });
}

// dst[i, :] = src[index[i], :] (gather) or dst[index[i], :] = src[i, :] (scatter), cols
// floats per row; used to move rows between tower-sorted and position order.
void PermuteRows(ThreadPool* pool, const float* src, const int32_t* index, int64_t rows,
                 int64_t cols, float* dst, bool scatter) {
  pool->ParallelFor(rows, 64, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      const int64_t from = scatter ? i : index[i];
      const int64_t to = scatter ? index[i] : i;
      std::memcpy(dst + to * cols, src + from * cols, static_cast<size_t>(cols) * sizeof(float));
    }
  });
}

// ---------------------------------------------------------------------------------------
// Init: splitmix64 + Box-Muller, the same on every platform for a seed.
uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

double Uniform01(uint64_t& state) {  // in (0, 1]
  return (static_cast<double>(SplitMix64(state) >> 11) + 1.0) * (1.0 / 9007199254740992.0);
}

void FillNormal(float* dst, int64_t n, double stddev, uint64_t& state) {
  for (int64_t i = 0; i < n; i += 2) {
    const double r = std::sqrt(-2.0 * std::log(Uniform01(state)));
    const double a = 2.0 * M_PI * Uniform01(state);
    dst[i] = static_cast<float>(stddev * r * std::cos(a));
    if (i + 1 < n) dst[i + 1] = static_cast<float>(stddev * r * std::sin(a));
  }
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  std::string s = "[";
  for (size_t i = 0; i < shape.size(); ++i) absl::StrAppend(&s, i ? ", " : "", shape[i]);
  return s + "]";
}

}  // namespace

// ---------------------------------------------------------------------------------------
// Offsets of one tower's parameters in a layer (into values_ / grads_), -1 when absent.
struct TowerOffsets {
  int64_t wqkv = -1, wo = -1, w13 = -1, w2 = -1;
  int64_t attn_w = -1, attn_b = -1, ffn_w = -1, ffn_b = -1;
  int64_t qn_w = -1, qn_b = -1, kn_w = -1, kn_b = -1;
};

// Per-layer activations kept for the backward (pointers into Impl::acts), [n, *] sorted.
struct LayerActs {
  float* x = nullptr;        // layer input (residual)      [n, dim]
  float* xn1 = nullptr;      // pre: AttnNorm(x)             [n, dim]
  float* qkv_lin = nullptr;  // qk_norm: Linear output      [n, ld_qkv]
  float* qkv = nullptr;      // q, k normed + rotated; v    [n, ld_qkv]
  float* lse = nullptr;      // attention log-sum-exp, position order [n, n_heads]
  float* att = nullptr;      // attention output            [n, q_dim]
  float* o = nullptr;        // post: att Woᵀ               [n, dim]
  float* h = nullptr;        // after the attention residual [n, dim]
  float* xn2 = nullptr;      // pre: FfnNorm(h)             [n, dim]
  float* gu = nullptr;       // gate | up pre-activation    [n, 2 ffn]
  float* act = nullptr;      // SwiGlu                      [n, ffn]
  float* f = nullptr;        // post: act W2ᵀ               [n, dim]
};

struct TrainModel::Impl {
  std::vector<std::vector<TowerOffsets>> layers;  // [layer][tower]
  std::vector<int64_t> final_w, final_b;          // [tower]
  int64_t emb = -1, head = -1;

  // Per-step indexing (sizes n).
  std::vector<int32_t> order, inv, ids_s, pos_s, row_begin, ex_begin;
  std::vector<int64_t> tower_begin;
  std::vector<int32_t> pred_src, pred_tgt, pred_tower;  // predicting sorted row, target
  // Activations and backward scratch, grown on demand.
  int64_t rows_cap = 0;
  std::vector<float> acts;
  std::vector<LayerActs> la;  // [n_layers + 1]: la[L].x is the final residual
  std::vector<float> xnf, tmp, dres, dtmp, dqkv, datt, dgu, dact;
  std::vector<float> logits, hbuf, dhbuf, row_loss;
  std::vector<float> partial;
  // Attention on position-ordered rows.
  std::vector<float> qkv_pos, att_pos, datt_pos, dqkv_pos;
  std::vector<std::vector<float>> attn_scratch;  // per pool thread
  std::vector<float> rotary;                     // RotaryTable of the config
};

TrainModel::TrainModel(const MotConfig& config, ThreadPool* pool)
    : config_(config), pool_(pool), impl_(std::make_unique<Impl>()) {}

TrainModel::~TrainModel() = default;

absl::Status TrainModel::Allocate() {
  MOT_RETURN_IF_ERROR(ValidateMotConfig(config_));
  // The backward pass knows the classic q/k norm only; training another kind (Chameleon's
  // per-head LayerNorm) would silently train a different model, so refuse it by name. Nor
  // does the loss mask suppressed ids as the forward does.
  if (config_.qk_norm_spec.has_value()) {
    return absl::UnimplementedError(
        "TrainModel: field qk_norm: a q/k norm given as an object (its own type, per-head or "
        "bias parameters, eps) is not supported by the trainer; only qk_norm true/false");
  }
  if (!config_.suppressed_token_ids.empty()) {
    return absl::UnimplementedError(
        "TrainModel: field suppressed_token_ids: not supported by the trainer (its loss does "
        "not mask them)");
  }
  // Imported-model fields the training math does not implement (it would train a model
  // that the forward pass then runs differently).
  if (config_.rope_scaling.type != RopeScalingType::kNone) {
    return absl::UnimplementedError(
        "TrainModel: field rope_scaling: not supported by the trainer (its rotary is plain "
        "rope_theta)");
  }
  if (config_.attention_bias) {
    return absl::UnimplementedError(
        "TrainModel: field attention_bias: not supported by the trainer (no q/k/v bias "
        "gradients)");
  }
  if (config_.sliding_window != 0) {
    return absl::UnimplementedError(
        "TrainModel: field sliding_window: not supported by the trainer (its attention is "
        "global)");
  }
  backend_ = std::make_unique<backend::cpu::CpuBackend>(pool_);
  impl_->attn_scratch.resize(static_cast<size_t>(pool_->num_threads()));
  impl_->rotary = RotaryTable(config_.max_seq_len, config_.head_dim, config_.rope_theta);
  const MotConfig& c = config_;
  const std::vector<wn::ExpectedTensor> expected = wn::ExpectedTensors(c);
  // Storage order: ExpectedTensors order (wq, wk, wv adjacent there), except that each w3
  // follows its w1 directly, so W13 is one [2 ffn, dim] matrix. Padding to 16 floats goes
  // only before a tensor that starts a group.
  std::map<std::string, int64_t> offset;
  int64_t total = 0;
  auto place = [&](const std::string& name, int64_t size, bool pad) {
    if (pad) total = (total + 15) / 16 * 16;
    offset[name] = total;
    total += size;
  };
  for (const wn::ExpectedTensor& e : expected) {
    if (offset.count(e.name)) continue;
    const int64_t size = Tensor::NumElements(e.shape);
    bool pad = true;
    for (int i = 0; i < c.n_layers && pad; ++i) {
      for (int m = 0; m < c.num_towers() && pad; ++m) {
        if (e.name == wn::AttentionProj(i, 'k', m) || e.name == wn::AttentionProj(i, 'v', m)) {
          pad = false;
        }
      }
    }
    place(e.name, size, pad);
    for (int i = 0; i < c.n_layers; ++i) {
      for (int m = 0; m < c.num_towers(); ++m) {
        if (e.name == wn::FfnProj(i, 1, m)) place(wn::FfnProj(i, 3, m), size, false);
      }
    }
  }
  values_.assign(static_cast<size_t>(total), 0.0f);
  grads_.assign(static_cast<size_t>(total), 0.0f);
  slots_.clear();
  for (const wn::ExpectedTensor& e : expected) {
    Slot s;
    s.name = e.name;
    s.shape = e.shape;
    s.offset = offset.at(e.name);
    s.size = Tensor::NumElements(e.shape);
    s.decay = e.shape.size() == 2;
    slots_.push_back(std::move(s));
  }
  auto at = [&](const std::string& name) -> int64_t {
    auto it = offset.find(name);
    return it == offset.end() ? -1 : it->second;
  };
  Impl& im = *impl_;
  im.layers.assign(static_cast<size_t>(c.n_layers),
                   std::vector<TowerOffsets>(static_cast<size_t>(c.num_towers())));
  for (int i = 0; i < c.n_layers; ++i) {
    for (int m = 0; m < c.num_towers(); ++m) {
      TowerOffsets& t = im.layers[i][m];
      t.wqkv = at(wn::AttentionProj(i, 'q', m));
      t.wo = at(wn::AttentionProj(i, 'o', m));
      t.w13 = at(wn::FfnProj(i, 1, m));
      t.w2 = at(wn::FfnProj(i, 2, m));
      t.attn_w = at(wn::AttentionNorm(i, m));
      t.attn_b = at(wn::AttentionNorm(i, m, "bias"));
      t.ffn_w = at(wn::FfnNorm(i, m));
      t.ffn_b = at(wn::FfnNorm(i, m, "bias"));
      t.qn_w = at(wn::QkNorm(i, 'q', m));
      t.qn_b = at(wn::QkNorm(i, 'q', m, "bias"));
      t.kn_w = at(wn::QkNorm(i, 'k', m));
      t.kn_b = at(wn::QkNorm(i, 'k', m, "bias"));
    }
  }
  im.final_w.resize(static_cast<size_t>(c.num_towers()));
  im.final_b.resize(static_cast<size_t>(c.num_towers()));
  for (int m = 0; m < c.num_towers(); ++m) {
    im.final_w[m] = at(wn::FinalNorm(m));
    im.final_b[m] = at(wn::FinalNorm(m, "bias"));
  }
  im.emb = at(wn::kTokEmbeddings);
  im.head = c.tie_embeddings ? im.emb : at(wn::kOutput);
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<TrainModel>> TrainModel::CreateRandom(const MotConfig& config,
                                                                     uint64_t seed,
                                                                     ThreadPool* pool) {
  if (pool == nullptr) return absl::InvalidArgumentError("TrainModel: pool is null");
  std::unique_ptr<TrainModel> model(new TrainModel(config, pool));
  MOT_RETURN_IF_ERROR(model->Allocate());
  uint64_t state = seed * 0x2545f4914f6cdd1dULL + 0x632be59bd9b4e019ULL;
  const double residual_std = 0.02 / std::sqrt(2.0 * config.n_layers);
  for (const Slot& s : model->slots_) {
    float* dst = model->values_.data() + s.offset;
    if (s.shape.size() == 1) {
      const bool bias = s.name.size() >= 5 && s.name.compare(s.name.size() - 5, 5, ".bias") == 0;
      std::fill(dst, dst + s.size, bias ? 0.0f : 1.0f);
      continue;
    }
    const bool residual = s.name.find("local_experts_wo") != std::string::npos ||
                          s.name.find(".w2.weight") != std::string::npos;
    FillNormal(dst, s.size, residual ? residual_std : 0.02, state);
  }
  return model;
}

absl::StatusOr<std::unique_ptr<TrainModel>> TrainModel::FromTensors(
    const MotConfig& config, const std::vector<NamedTensor>& tensors, ThreadPool* pool) {
  if (pool == nullptr) return absl::InvalidArgumentError("TrainModel: pool is null");
  std::unique_ptr<TrainModel> model(new TrainModel(config, pool));
  MOT_RETURN_IF_ERROR(model->Allocate());
  std::map<std::string, const Tensor*> by_name;
  for (const NamedTensor& t : tensors) by_name[t.name] = &t.tensor;
  for (const Slot& s : model->slots_) {
    auto it = by_name.find(s.name);
    if (it == by_name.end())
      return absl::NotFoundError(absl::StrCat("tensor ", s.name, ": missing"));
    const Tensor& t = *it->second;
    if (t.shape() != s.shape) {
      return absl::InvalidArgumentError(absl::StrCat("tensor ", s.name, ": shape ",
                                                     ShapeString(t.shape()), ", expected ",
                                                     ShapeString(s.shape)));
    }
    ConvertToF32(t.dtype(), t.data(), t.numel(), model->values_.data() + s.offset);
    by_name.erase(it);
  }
  if (!by_name.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("tensor ", by_name.begin()->first, ": not a tensor of this config"));
  }
  return model;
}

absl::StatusOr<std::unique_ptr<TrainModel>> TrainModel::FromCheckpoint(const Checkpoint& ckpt,
                                                                       ThreadPool* pool) {
  std::vector<NamedTensor> tensors;
  for (const SafetensorsEntry& e : ckpt.weights().entries()) {
    MOT_ASSIGN_OR_RETURN(Tensor t, ckpt.weights().Get(e.name));
    tensors.push_back({e.name, std::move(t)});
  }
  auto model = FromTensors(ckpt.config(), tensors, pool);
  if (!model.ok()) return Annotate(model.status(), "TrainModel: ", ckpt.dir());
  return model;
}

void TrainModel::ZeroGrad() { std::fill(grads_.begin(), grads_.end(), 0.0f); }

double TrainModel::GradNorm() const {
  // Fixed chunks summed in order: the same result whatever the thread count.
  constexpr int64_t kChunk = int64_t{1} << 16;
  const int64_t n = static_cast<int64_t>(grads_.size());
  const int64_t chunks = (n + kChunk - 1) / kChunk;
  std::vector<double> part(static_cast<size_t>(chunks), 0.0);
  pool_->ParallelFor(chunks, 1, [&](int64_t begin, int64_t end, int) {
    for (int64_t c = begin; c < end; ++c) {
      double s = 0;
      for (int64_t i = c * kChunk; i < std::min(n, (c + 1) * kChunk); ++i) {
        s += static_cast<double>(grads_[i]) * grads_[i];
      }
      part[c] = s;
    }
  });
  double total = 0;
  for (double s : part) total += s;
  return std::sqrt(total);
}

double TrainModel::ClipGradNorm(double max_norm) {
  const double norm = GradNorm();
  if (norm > max_norm && norm > 0) {
    const float scale = static_cast<float>(max_norm / norm);
    for (float& g : grads_) g *= scale;
  }
  return norm;
}

std::vector<TrainModel::Param> TrainModel::Params() {
  std::vector<Param> out;
  out.reserve(slots_.size());
  for (const Slot& s : slots_) {
    out.push_back({s.name, s.shape, std::span<float>(values_.data() + s.offset, s.size),
                   std::span<float>(grads_.data() + s.offset, s.size), s.decay});
  }
  return out;
}

std::vector<NamedTensor> TrainModel::ToTensors(DType dtype) const {
  std::vector<NamedTensor> out;
  out.reserve(slots_.size());
  for (const Slot& s : slots_) {
    Tensor t = Tensor::Empty(DType::kF32, s.shape);
    std::memcpy(t.data(), values_.data() + s.offset, static_cast<size_t>(s.size) * sizeof(float));
    out.push_back({s.name, dtype == DType::kF32 ? std::move(t) : t.To(dtype)});
  }
  return out;
}

absl::StatusOr<StepStats> TrainModel::ForwardBackward(const TrainBatch& batch, float grad_scale) {
  return Run(batch, /*backward=*/true, grad_scale);
}

absl::StatusOr<StepStats> TrainModel::Evaluate(const TrainBatch& batch) {
  return Run(batch, /*backward=*/false, 0.0f);
}

namespace {

absl::Status ValidateBatch(const TrainBatch& b, const MotConfig& c) {
  const int64_t n = b.size();
  if (static_cast<int64_t>(b.towers.size()) != n || static_cast<int64_t>(b.loss_mask.size()) != n) {
    return absl::InvalidArgumentError(absl::StrCat(
        "TrainBatch: fields ids, towers, loss_mask must have one entry per token, got ", n, ", ",
        b.towers.size(), ", ", b.loss_mask.size()));
  }
  for (int64_t i = 0; i < n; ++i) {
    if (b.ids[i] < 0 || b.ids[i] >= c.vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("TrainBatch row ", i, ": field ids: ", b.ids[i],
                       " is outside [0, vocab_size=", c.vocab_size, ")"));
    }
    if (b.towers[i] >= c.num_towers()) {
      return absl::InvalidArgumentError(
          absl::StrCat("TrainBatch row ", i, ": field towers: ", int{b.towers[i]},
                       " is outside [0, num_towers=", c.num_towers(), ")"));
    }
  }
  if (n == 0) return absl::OkStatus();
  if (b.example_begin.empty() || b.example_begin[0] != 0) {
    return absl::InvalidArgumentError("TrainBatch: field example_begin: must start with 0");
  }
  for (size_t e = 0; e < b.example_begin.size(); ++e) {
    const int64_t begin = b.example_begin[e];
    const int64_t end = e + 1 < b.example_begin.size() ? b.example_begin[e + 1] : n;
    if (end <= begin || begin >= n) {
      return absl::InvalidArgumentError(
          absl::StrCat("TrainBatch: field example_begin[", e, "]: ", begin,
                       " must be below the next start and below n=", n));
    }
    if (end - begin > c.max_seq_len) {
      return absl::InvalidArgumentError(absl::StrCat("TrainBatch: example ", e, " has ",
                                                     end - begin,
                                                     " tokens, over max_seq_len=", c.max_seq_len));
    }
  }
  return absl::OkStatus();
}

template <typename T>
void Grow(std::vector<T>& v, int64_t n) {
  if (static_cast<int64_t>(v.size()) < n) v.resize(static_cast<size_t>(n));
}

}  // namespace

absl::StatusOr<StepStats> TrainModel::Run(const TrainBatch& batch, bool backward,
                                          float grad_scale) {
  MOT_RETURN_IF_ERROR(ValidateBatch(batch, config_));
  StepStats stats;
  const int64_t n = batch.size();
  stats.tokens = n;
  if (n == 0) return stats;
  const MotConfig& c = config_;
  Impl& im = *impl_;
  const int towers = c.num_towers();
  const bool pre = c.norm_placement == NormPlacement::kPre;
  const int64_t dim = c.dim, q_dim = c.q_dim(), kv_dim = c.kv_dim();
  const int64_t ld_qkv = q_dim + 2 * kv_dim;
  const int64_t ffn = c.ffn_hidden;
  const int64_t vocab = c.vocab_size;
  const int32_t hd = c.head_dim;
  float* V = values_.data();
  float* G = grads_.data();

  // --- Sort once: stable counting sort by tower; examples and predicted rows.
  Grow(im.order, n);
  Grow(im.inv, n);
  Grow(im.ids_s, n);
  Grow(im.pos_s, n);
  Grow(im.row_begin, n);
  im.tower_begin.assign(static_cast<size_t>(towers) + 1, 0);
  for (int64_t i = 0; i < n; ++i) ++im.tower_begin[batch.towers[i] + 1];
  for (int m = 0; m < towers; ++m) im.tower_begin[m + 1] += im.tower_begin[m];
  im.ex_begin.assign(batch.example_begin.begin(), batch.example_begin.end());
  int64_t max_len = 0;
  {
    int64_t cursor[kMaxModalities];
    for (int m = 0; m < towers; ++m) cursor[m] = im.tower_begin[m];
    size_t e = 0;
    for (int64_t i = 0; i < n; ++i) {
      while (e + 1 < im.ex_begin.size() && im.ex_begin[e + 1] <= i) ++e;
      const int64_t s = cursor[batch.towers[i]]++;
      im.order[s] = static_cast<int32_t>(i);
      im.inv[i] = static_cast<int32_t>(s);
      im.ids_s[s] = batch.ids[i];
      im.pos_s[s] = static_cast<int32_t>(i - im.ex_begin[e]);
      im.row_begin[i] = im.ex_begin[e];
      max_len = std::max<int64_t>(max_len, i - im.ex_begin[e] + 1);
    }
  }
  im.pred_src.clear();
  im.pred_tgt.clear();
  im.pred_tower.clear();
  for (int64_t i = 1; i < n; ++i) {
    if (batch.loss_mask[i] && im.row_begin[i] != i) {
      im.pred_src.push_back(im.inv[i - 1]);
      im.pred_tgt.push_back(batch.ids[i]);
      im.pred_tower.push_back(batch.towers[i]);
    }
  }
  const int64_t num_pred = static_cast<int64_t>(im.pred_src.size());
  stats.predicted = num_pred;
  auto rows_of = [&](int m) { return im.tower_begin[m + 1] - im.tower_begin[m]; };

  // --- Activation storage.
  if (n > im.rows_cap) {
    const int64_t per_layer =
        dim * (pre ? 4 : 4) + ld_qkv * (c.qk_norm ? 2 : 1) + c.n_heads + q_dim + 3 * ffn + 64;
    im.acts.assign(static_cast<size_t>(n * (per_layer * c.n_layers + dim)), 0.0f);
    im.la.assign(static_cast<size_t>(c.n_layers) + 1, LayerActs{});
    float* p = im.acts.data();
    auto take = [&](int64_t cols) {
      float* r = p;
      p += n * cols;
      return r;
    };
    for (int l = 0; l < c.n_layers; ++l) {
      LayerActs& a = im.la[l];
      a.x = take(dim);
      if (pre) {
        a.xn1 = take(dim);
        a.xn2 = take(dim);
      } else {
        a.o = take(dim);
        a.f = take(dim);
      }
      if (c.qk_norm) a.qkv_lin = take(ld_qkv);
      a.qkv = take(ld_qkv);
      a.lse = take(c.n_heads);
      a.att = take(q_dim);
      a.h = take(dim);
      a.gu = take(2 * ffn);
      a.act = take(ffn);
    }
    im.la[c.n_layers].x = take(dim);
    im.xnf.assign(static_cast<size_t>(n * dim), 0.0f);
    im.tmp.assign(static_cast<size_t>(n * dim), 0.0f);
    im.qkv_pos.assign(static_cast<size_t>(n * ld_qkv), 0.0f);
    im.att_pos.assign(static_cast<size_t>(n * q_dim), 0.0f);
    im.rows_cap = n;
  }

  backend::Backend& be = *backend_;
  auto weight = [&](int64_t off, int64_t rows, int64_t cols) {
    return WeightRef{V + off, DType::kF32, rows, cols};
  };
  auto norm_fwd = [&](int64_t w, int64_t b, const float* x, int64_t rows, int64_t d, int64_t ldx,
                      float* y, int64_t ldy) {
    if (rows == 0) return;
    if (c.norm_type == NormType::kRms) {
      be.RmsNorm(x, rows, d, ldx, V + w, c.norm_eps, y, ldy);
    } else {
      be.LayerNorm(x, rows, d, ldx, V + w, V + b, c.norm_eps, y, ldy);
    }
  };
  auto norm_params = [&](int64_t w, int64_t b) {
    NormParams p;
    p.w = V + w;
    p.dw = G + w;
    if (b >= 0) {
      p.b = V + b;
      p.db = G + b;
    }
    return p;
  };
  AttentionShape ash;
  ash.n_heads = c.n_heads;
  ash.n_kv_heads = c.n_kv_heads;
  ash.head_dim = hd;
  ash.ld_qkv = ld_qkv;
  ash.q_dim = q_dim;
  ash.kv_dim = kv_dim;
  ash.scale = 1.0f / std::sqrt(static_cast<float>(hd));

  // --- Forward.
  be.Embedding(im.ids_s.data(), n, weight(im.emb, vocab, dim), im.la[0].x, dim);
  for (int l = 0; l < c.n_layers; ++l) {
    const LayerActs& a = im.la[l];
    float* x_next = im.la[l + 1].x;
    for (int m = 0; m < towers; ++m) {
      const int64_t rows = rows_of(m), b = im.tower_begin[m];
      if (rows == 0) continue;
      const TowerOffsets& t = im.layers[l][m];
      const float* in = a.x + b * dim;
      if (pre) {
        norm_fwd(t.attn_w, t.attn_b, in, rows, dim, dim, a.xn1 + b * dim, dim);
        in = a.xn1 + b * dim;
      }
      float* lin = (c.qk_norm ? a.qkv_lin : a.qkv) + b * ld_qkv;
      be.Linear(in, rows, dim, weight(t.wqkv, ld_qkv, dim), lin, ld_qkv, false);
      if (c.qk_norm) {
        std::memcpy(a.qkv + b * ld_qkv, lin, static_cast<size_t>(rows * ld_qkv) * sizeof(float));
        for (int32_t h = 0; h < c.n_heads; ++h) {
          norm_fwd(t.qn_w, t.qn_b, lin + h * hd, rows, hd, ld_qkv, a.qkv + b * ld_qkv + h * hd,
                   ld_qkv);
        }
        for (int32_t h = 0; h < c.n_kv_heads; ++h) {
          const int64_t off = q_dim + h * hd;
          norm_fwd(t.kn_w, t.kn_b, lin + off, rows, hd, ld_qkv, a.qkv + b * ld_qkv + off, ld_qkv);
        }
      }
    }
    // q and k heads are adjacent in each qkv row: one rotary call covers both.
    be.Rotary(a.qkv, n, ld_qkv, c.n_heads + c.n_kv_heads, hd, im.pos_s.data(), c.rope_theta);
    // Attention runs on position-ordered rows: gather q, k, v, scatter the output back.
    PermuteRows(pool_, a.qkv, im.inv.data(), n, ld_qkv, im.qkv_pos.data(), false);
    AttentionForward(pool_, ash, im.qkv_pos.data(), im.ex_begin, n, max_len, im.attn_scratch,
                     im.att_pos.data(), a.lse);
    PermuteRows(pool_, im.att_pos.data(), im.inv.data(), n, q_dim, a.att, true);
    std::memcpy(a.h, a.x, static_cast<size_t>(n * dim) * sizeof(float));
    for (int m = 0; m < towers; ++m) {
      const int64_t rows = rows_of(m), b = im.tower_begin[m];
      if (rows == 0) continue;
      const TowerOffsets& t = im.layers[l][m];
      float* hb = a.h + b * dim;
      if (pre) {
        be.Linear(a.att + b * q_dim, rows, q_dim, weight(t.wo, dim, q_dim), hb, dim, true);
        norm_fwd(t.ffn_w, t.ffn_b, hb, rows, dim, dim, a.xn2 + b * dim, dim);
      } else {
        be.Linear(a.att + b * q_dim, rows, q_dim, weight(t.wo, dim, q_dim), a.o + b * dim, dim,
                  false);
        norm_fwd(t.attn_w, t.attn_b, a.o + b * dim, rows, dim, dim, im.tmp.data() + b * dim, dim);
        be.Add(im.tmp.data() + b * dim, dim, rows, dim, hb, dim);
      }
      const float* ffn_in = pre ? a.xn2 + b * dim : hb;
      float* gu = a.gu + b * 2 * ffn;
      be.Linear(ffn_in, rows, dim, weight(t.w13, 2 * ffn, dim), gu, 2 * ffn, false);
      be.SwiGlu(gu, 2 * ffn, gu + ffn, 2 * ffn, rows, ffn, a.act + b * ffn, ffn);
      float* xb = x_next + b * dim;
      std::memcpy(xb, hb, static_cast<size_t>(rows * dim) * sizeof(float));
      if (pre) {
        be.Linear(a.act + b * ffn, rows, ffn, weight(t.w2, dim, ffn), xb, dim, true);
      } else {
        be.Linear(a.act + b * ffn, rows, ffn, weight(t.w2, dim, ffn), a.f + b * dim, dim, false);
        norm_fwd(t.ffn_w, t.ffn_b, a.f + b * dim, rows, dim, dim, im.tmp.data() + b * dim, dim);
        be.Add(im.tmp.data() + b * dim, dim, rows, dim, xb, dim);
      }
    }
  }
  const float* x_final = im.la[c.n_layers].x;
  for (int m = 0; m < towers; ++m) {
    const int64_t b = im.tower_begin[m];
    norm_fwd(im.final_w[m], im.final_b[m], x_final + b * dim, rows_of(m), dim, dim,
             im.xnf.data() + b * dim, dim);
  }

  // --- LM head and cross-entropy, in chunks of predicting rows (the logits of a whole
  // batch over a large vocabulary would not fit). dlogits = (softmax - onehot) coef.
  if (num_pred == 0) return stats;
  const bool do_backward = backward;
  const float coef = grad_scale / static_cast<float>(num_pred);
  const int64_t chunk = std::clamp<int64_t>((int64_t{1} << 21) / vocab, 16, 1024);
  Grow(im.logits, chunk * vocab);
  Grow(im.hbuf, chunk * dim);
  Grow(im.dhbuf, chunk * dim);
  Grow(im.row_loss, num_pred);
  if (do_backward) {
    Grow(im.dres, n * dim);
    Grow(im.dtmp, n * dim);
    std::fill(im.dtmp.begin(), im.dtmp.begin() + n * dim, 0.0f);  // d xnf
  }
  const WeightRef head = weight(im.head, vocab, dim);
  for (int64_t p0 = 0; p0 < num_pred; p0 += chunk) {
    const int64_t cr = std::min(chunk, num_pred - p0);
    be.GatherRows(im.xnf.data(), dim, im.pred_src.data() + p0, cr, dim, im.hbuf.data(), dim);
    be.Linear(im.hbuf.data(), cr, dim, head, im.logits.data(), vocab, false);
    pool_->ParallelFor(cr, 4, [&](int64_t begin, int64_t end, int) {
      for (int64_t r = begin; r < end; ++r) {
        float* lg = im.logits.data() + r * vocab;
        const int32_t tgt = im.pred_tgt[p0 + r];
        const float target_logit = lg[tgt];
        float mx = -INFINITY;
        for (int64_t j = 0; j < vocab; ++j) mx = std::max(mx, lg[j]);
        // One exp per logit: the exponentials stay in place and become the gradient.
        double sum = 0;
        for (int64_t j = 0; j < vocab; ++j) {
          lg[j] = std::exp(lg[j] - mx);
          sum += lg[j];
        }
        im.row_loss[p0 + r] = static_cast<float>(mx + std::log(sum) - target_logit);
        if (do_backward) {
          const float scale = static_cast<float>(coef / sum);
          for (int64_t j = 0; j < vocab; ++j) lg[j] *= scale;
          lg[tgt] -= coef;
        }
      }
    });
    if (!do_backward) continue;
    // d hbuf = dlogits · Head; d Head += dlogitsᵀ · hbuf.
    GemmNN(pool_, cr, dim, vocab, im.logits.data(), vocab, V + im.head, dim, im.dhbuf.data(), dim,
           0.0f);
    GemmTNAcc(pool_, vocab, dim, cr, im.logits.data(), vocab, im.hbuf.data(), dim, G + im.head,
              dim);
    // Each sorted row predicts at most one token: a plain scatter.
    for (int64_t r = 0; r < cr; ++r) {
      std::memcpy(im.dtmp.data() + int64_t{im.pred_src[p0 + r]} * dim, im.dhbuf.data() + r * dim,
                  static_cast<size_t>(dim) * sizeof(float));
    }
  }
  double total = 0;
  double per_tower[kMaxModalities] = {};
  for (int64_t p = 0; p < num_pred; ++p) {
    total += im.row_loss[p];
    per_tower[im.pred_tower[p]] += im.row_loss[p];
    ++stats.predicted_per_tower[im.pred_tower[p]];
  }
  stats.loss = total / static_cast<double>(num_pred);
  for (int m = 0; m < towers; ++m) {
    if (stats.predicted_per_tower[m] > 0) {
      stats.loss_per_tower[m] = per_tower[m] / static_cast<double>(stats.predicted_per_tower[m]);
    }
  }
  if (!do_backward) return stats;

  // --- Backward, in exact reverse order of the forward.
  Grow(im.dqkv, n * ld_qkv);
  Grow(im.datt, n * q_dim);
  Grow(im.dgu, n * 2 * ffn);
  Grow(im.dact, n * ffn);
  Grow(im.datt_pos, n * q_dim);
  Grow(im.dqkv_pos, n * ld_qkv);
  float* dres = im.dres.data();
  float* dtmp = im.dtmp.data();
  float* dqkv = im.dqkv.data();
  float* datt = im.datt.data();
  float* dgu = im.dgu.data();
  float* dact = im.dact.data();
  for (int m = 0; m < towers; ++m) {
    const int64_t b = im.tower_begin[m];
    NormBackward(pool_, c.norm_type, c.norm_eps, x_final + b * dim, dim, dtmp + b * dim, dim,
                 rows_of(m), dim, norm_params(im.final_w[m], im.final_b[m]), dres + b * dim, dim,
                 false, im.partial);
  }
  for (int l = c.n_layers - 1; l >= 0; --l) {
    const LayerActs& a = im.la[l];
    // FFN sublayer and the attention output projection, per tower. dres holds d x[l+1]
    // and becomes d h.
    for (int m = 0; m < towers; ++m) {
      const int64_t rows = rows_of(m), b = im.tower_begin[m];
      if (rows == 0) continue;
      const TowerOffsets& t = im.layers[l][m];
      float* dr = dres + b * dim;
      float* dt = dtmp + b * dim;
      float* da = dact + b * ffn;
      float* dg = dgu + b * 2 * ffn;
      const float* ffn_in = pre ? a.xn2 + b * dim : a.h + b * dim;
      // d(out of W2): dres (pre) or FfnNorm's backward of it (post).
      const float* dy2 = dr;
      if (!pre) {
        NormBackward(pool_, c.norm_type, c.norm_eps, a.f + b * dim, dim, dr, dim, rows, dim,
                     norm_params(t.ffn_w, t.ffn_b), dt, dim, false, im.partial);
        dy2 = dt;
      }
      GemmNN(pool_, rows, ffn, dim, dy2, dim, V + t.w2, ffn, da, ffn, 0.0f);
      GemmTNAcc(pool_, dim, ffn, rows, dy2, dim, a.act + b * ffn, ffn, G + t.w2, ffn);
      SwiGluBackward(pool_, a.gu + b * 2 * ffn, da, rows, ffn, dg);
      GemmTNAcc(pool_, 2 * ffn, dim, rows, dg, 2 * ffn, ffn_in, dim, G + t.w13, dim);
      if (pre) {
        GemmNN(pool_, rows, dim, 2 * ffn, dg, 2 * ffn, V + t.w13, dim, dt, dim, 0.0f);
        NormBackward(pool_, c.norm_type, c.norm_eps, a.h + b * dim, dim, dt, dim, rows, dim,
                     norm_params(t.ffn_w, t.ffn_b), dr, dim, true, im.partial);
      } else {
        GemmNN(pool_, rows, dim, 2 * ffn, dg, 2 * ffn, V + t.w13, dim, dr, dim, 1.0f);
      }
      // dres is d h now. d(out of Wo): dres (pre) or AttnNorm's backward of it (post).
      const float* dyo = dr;
      if (!pre) {
        NormBackward(pool_, c.norm_type, c.norm_eps, a.o + b * dim, dim, dr, dim, rows, dim,
                     norm_params(t.attn_w, t.attn_b), dt, dim, false, im.partial);
        dyo = dt;
      }
      GemmNN(pool_, rows, q_dim, dim, dyo, dim, V + t.wo, q_dim, datt + b * q_dim, q_dim, 0.0f);
      GemmTNAcc(pool_, dim, q_dim, rows, dyo, dim, a.att + b * q_dim, q_dim, G + t.wo, q_dim);
    }
    // Attention (all towers), then rotary, back to the post-norm q and k.
    PermuteRows(pool_, a.qkv, im.inv.data(), n, ld_qkv, im.qkv_pos.data(), false);
    PermuteRows(pool_, a.att, im.inv.data(), n, q_dim, im.att_pos.data(), false);
    PermuteRows(pool_, datt, im.inv.data(), n, q_dim, im.datt_pos.data(), false);
    AttentionBackward(pool_, ash, im.qkv_pos.data(), im.att_pos.data(), a.lse, im.datt_pos.data(),
                      im.ex_begin, n, max_len, im.attn_scratch, im.dqkv_pos.data());
    PermuteRows(pool_, im.dqkv_pos.data(), im.inv.data(), n, ld_qkv, dqkv, true);
    RotaryBackward(pool_, im.rotary, c.max_seq_len, dqkv, n, ld_qkv, c.n_heads + c.n_kv_heads, hd,
                   im.pos_s.data());
    for (int m = 0; m < towers; ++m) {
      const int64_t rows = rows_of(m), b = im.tower_begin[m];
      if (rows == 0) continue;
      const TowerOffsets& t = im.layers[l][m];
      float* dq = dqkv + b * ld_qkv;
      if (c.qk_norm) {
        const float* lin = a.qkv_lin + b * ld_qkv;
        for (int32_t h = 0; h < c.n_heads; ++h) {
          NormBackward(pool_, c.norm_type, c.norm_eps, lin + h * hd, ld_qkv, dq + h * hd, ld_qkv,
                       rows, hd, norm_params(t.qn_w, t.qn_b), dq + h * hd, ld_qkv, false,
                       im.partial);
        }
        for (int32_t h = 0; h < c.n_kv_heads; ++h) {
          const int64_t off = q_dim + h * hd;
          NormBackward(pool_, c.norm_type, c.norm_eps, lin + off, ld_qkv, dq + off, ld_qkv, rows,
                       hd, norm_params(t.kn_w, t.kn_b), dq + off, ld_qkv, false, im.partial);
        }
      }
      const float* qkv_in = pre ? a.xn1 + b * dim : a.x + b * dim;
      GemmTNAcc(pool_, ld_qkv, dim, rows, dq, ld_qkv, qkv_in, dim, G + t.wqkv, dim);
      float* dr = dres + b * dim;
      if (pre) {
        float* dt = dtmp + b * dim;
        GemmNN(pool_, rows, dim, ld_qkv, dq, ld_qkv, V + t.wqkv, dim, dt, dim, 0.0f);
        NormBackward(pool_, c.norm_type, c.norm_eps, a.x + b * dim, dim, dt, dim, rows, dim,
                     norm_params(t.attn_w, t.attn_b), dr, dim, true, im.partial);
      } else {
        GemmNN(pool_, rows, dim, ld_qkv, dq, ld_qkv, V + t.wqkv, dim, dr, dim, 1.0f);
      }
    }
  }
  // Embedding: scatter-add each row's gradient into its id's row; threads own column ranges.
  float* gemb = G + im.emb;
  pool_->ParallelFor(dim, 16, [&](int64_t begin, int64_t end, int) {
    for (int64_t s = 0; s < n; ++s) {
      float* dst = gemb + int64_t{im.ids_s[s]} * dim;
      const float* src = dres + s * dim;
      for (int64_t j = begin; j < end; ++j) dst[j] += src[j];
    }
  });
  return stats;
}

}  // namespace mot::trainer
