// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/backend/cpu/reference_ops.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "engine/core/block_quant.h"

namespace mot::backend::cpu {

float LoadWeight(const void* data, DType t, int64_t i) {
  switch (t) {
    case DType::kF32:
      return static_cast<const float*>(data)[i];
    case DType::kBF16:
      return BF16ToF32(static_cast<const uint16_t*>(data)[i]);
    case DType::kF16:
      return F16ToF32(static_cast<const uint16_t*>(data)[i]);
    case DType::kQ8_0: {
      const BlockQ8_0& b = static_cast<const BlockQ8_0*>(data)[i / kQuantBlock];
      return F16ToF32(b.d) * static_cast<float>(b.qs[i % kQuantBlock]);
    }
    case DType::kQ4_0: {
      const BlockQ4_0& b = static_cast<const BlockQ4_0*>(data)[i / kQuantBlock];
      const int64_t j = i % kQuantBlock;
      const int nibble = j < kQuantBlock / 2 ? b.qs[j] & 0x0f : b.qs[j - kQuantBlock / 2] >> 4;
      return F16ToF32(b.d) * static_cast<float>(nibble - 8);
    }
  }
  return 0.0f;
}

void QuantizeRowRef(const float* x, int64_t cols, int8_t* q, float* d, float* s) {
  for (int64_t b = 0; b < cols / kQuantBlock; ++b) {
    float amax = 0.0f;
    for (int64_t j = 0; j < kQuantBlock; ++j) amax = std::max(amax, std::abs(x[b * 32 + j]));
    const float db = amax / 127.0f;
    const float id = db != 0.0f ? 1.0f / db : 0.0f;
    int64_t sum = 0;
    for (int64_t j = 0; j < kQuantBlock; ++j) {
      const float v = std::nearbyint(x[b * kQuantBlock + j] * id);
      q[b * kQuantBlock + j] = static_cast<int8_t>(v);
      sum += static_cast<int64_t>(v);
    }
    d[b] = db;
    s[b] = db * static_cast<float>(sum);
  }
}

void LinearQuantizedRef(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                        int64_t ldy, bool accumulate) {
  const int64_t nb = w.cols / kQuantBlock;
  std::vector<int8_t> q(static_cast<size_t>(w.cols));
  std::vector<float> d(static_cast<size_t>(nb)), s(static_cast<size_t>(nb));
  for (int64_t i = 0; i < m; ++i) {
    QuantizeRowRef(x + i * ldx, w.cols, q.data(), d.data(), s.data());
    for (int64_t o = 0; o < w.rows; ++o) {
      double acc = 0.0;
      for (int64_t b = 0; b < nb; ++b) {
        // The block's weights as integers (Q4_0: the nibble, its -8 applied below).
        int64_t dot = 0;
        float dw = 0.0f;
        for (int64_t j = 0; j < kQuantBlock; ++j) {
          const int64_t e = (o * nb + b) * kQuantBlock + j;
          int wq;
          if (w.dtype == DType::kQ8_0) {
            const BlockQ8_0& blk = static_cast<const BlockQ8_0*>(w.data)[e / kQuantBlock];
            wq = blk.qs[j];
            dw = F16ToF32(blk.d);
          } else {
            const BlockQ4_0& blk = static_cast<const BlockQ4_0*>(w.data)[e / kQuantBlock];
            wq = j < kQuantBlock / 2 ? blk.qs[j] & 0x0f : blk.qs[j - kQuantBlock / 2] >> 4;
            dw = F16ToF32(blk.d);
          }
          dot += int64_t{wq} * q[static_cast<size_t>(b * kQuantBlock + j)];
        }
        acc += static_cast<double>(dw) * d[static_cast<size_t>(b)] * static_cast<double>(dot);
        if (w.dtype == DType::kQ4_0) acc -= 8.0 * dw * s[static_cast<size_t>(b)];
      }
      float& out = y[i * ldy + o];
      out = accumulate ? static_cast<float>(out + acc) : static_cast<float>(acc);
    }
  }
}

void LinearRef(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y, int64_t ldy,
               bool accumulate) {
  for (int64_t i = 0; i < m; ++i) {
    const float* xi = x + i * ldx;
    float* yi = y + i * ldy;
    for (int64_t o = 0; o < w.rows; ++o) {
      double acc = 0.0;
      const int64_t base = o * w.cols;
      for (int64_t k = 0; k < w.cols; ++k) {
        acc += static_cast<double>(xi[k]) * LoadWeight(w.data, w.dtype, base + k);
      }
      yi[o] = accumulate ? static_cast<float>(yi[o] + acc) : static_cast<float>(acc);
    }
  }
}

void RmsNormRef(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
                float eps, float* y, int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ldx;
    float* yr = y + r * ldy;
    double ss = 0.0;
    for (int64_t i = 0; i < dim; ++i) ss += static_cast<double>(xr[i]) * xr[i];
    const double inv = 1.0 / std::sqrt(ss / static_cast<double>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) yr[i] = static_cast<float>(xr[i] * inv * weight[i]);
  }
}

void LayerNormRef(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
                  const float* bias, float eps, float* y, int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = x + r * ldx;
    float* yr = y + r * ldy;
    double sum = 0.0;
    for (int64_t i = 0; i < dim; ++i) sum += xr[i];
    const double mean = sum / static_cast<double>(dim);
    double var = 0.0;
    for (int64_t i = 0; i < dim; ++i) var += (xr[i] - mean) * (xr[i] - mean);
    const double inv = 1.0 / std::sqrt(var / static_cast<double>(dim) + eps);
    for (int64_t i = 0; i < dim; ++i) {
      const double v = (xr[i] - mean) * inv * weight[i] + (bias != nullptr ? bias[i] : 0.0);
      yr[i] = static_cast<float>(v);
    }
  }
}

void RotaryRef(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
               const int32_t* pos, float theta) {
  const int32_t half = head_dim / 2;
  for (int64_t r = 0; r < rows; ++r) {
    for (int32_t h = 0; h < n_heads; ++h) {
      float* xh = x + r * ldx + static_cast<int64_t>(h) * head_dim;
      for (int32_t i = 0; i < half; ++i) {
        const double inv_freq =
            std::pow(static_cast<double>(theta), -2.0 * i / static_cast<double>(head_dim));
        const double angle = static_cast<double>(pos[r]) * inv_freq;
        const double c = std::cos(angle);
        const double s = std::sin(angle);
        const double a = xh[i];
        const double b = xh[i + half];
        xh[i] = static_cast<float>(a * c - b * s);
        xh[i + half] = static_cast<float>(b * c + a * s);
      }
    }
  }
}

void RotaryFreqsRef(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                    const int32_t* pos, const double* inv_freq) {
  const int32_t half = head_dim / 2;
  for (int64_t r = 0; r < rows; ++r) {
    for (int32_t h = 0; h < n_heads; ++h) {
      float* xh = x + r * ldx + static_cast<int64_t>(h) * head_dim;
      for (int32_t i = 0; i < half; ++i) {
        const double angle = static_cast<double>(pos[r]) * inv_freq[i];
        const double c = std::cos(angle);
        const double s = std::sin(angle);
        const double a = xh[i];
        const double b = xh[i + half];
        xh[i] = static_cast<float>(a * c - b * s);
        xh[i + half] = static_cast<float>(b * c + a * s);
      }
    }
  }
}

void SwiGluRef(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows,
               int64_t n, float* out, int64_t ldo) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < n; ++j) {
      const double g = gate[r * ldg + j];
      const double u = up[r * ldu + j];
      out[r * ldo + j] = static_cast<float>(g / (1.0 + std::exp(-g)) * u);
    }
  }
}

void EmbeddingRef(const int32_t* ids, int64_t rows, const WeightRef& table, float* y, int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) {
    const int64_t base = static_cast<int64_t>(ids[r]) * table.cols;
    for (int64_t j = 0; j < table.cols; ++j) {
      y[r * ldy + j] = LoadWeight(table.data, table.dtype, base + j);
    }
  }
}

void StoreKvRef(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
                const kv::KvSlot* slots, const kv::KvLayerView& kv) {
  for (int64_t r = 0; r < rows; ++r) {
    const DType t = kv.pools[slots[r].pool].dtype;
    ConvertFromF32(k + r * ldk, kv.kv_dim, t, kv.KeyAt(slots[r]));
    ConvertFromF32(v + r * ldv, kv.kv_dim, t, kv.ValueAt(slots[r]));
  }
}

void AttentionRef(const AttentionArgs& a) {
  const int32_t group = a.n_heads / a.n_kv_heads;
  const kv::KvLayerView& kv = a.kv;
  // Where each position 0..pos[r] of the row's sequence lives, from its entries in order.
  struct Loc {
    const void* k;
    const void* v;
    DType dtype;
  };
  std::vector<Loc> locs;
  std::vector<double> scores;
  for (int64_t r = 0; r < a.rows; ++r) {
    const int32_t n_pos = a.pos[r] + 1;
    locs.clear();
    for (int32_t e = kv.seq_entry_begin[a.seq[r]];
         e < kv.seq_entry_begin[a.seq[r] + 1] && static_cast<int32_t>(locs.size()) < n_pos; ++e) {
      const kv::KvBlockEntry& entry = kv.entries[e];
      for (int32_t j = 0; j < entry.num_pos && static_cast<int32_t>(locs.size()) < n_pos; ++j) {
        const kv::KvSlot slot{entry.pool, entry.block * kv.block_size + j};
        locs.push_back({kv.KeyAt(slot), kv.ValueAt(slot), kv.pools[entry.pool].dtype});
      }
    }
    // A sliding window skips the positions <= pos[r] - window.
    const int32_t first = a.window > 0 ? std::max(0, a.pos[r] - a.window + 1) : 0;
    scores.resize(static_cast<size_t>(n_pos));
    for (int32_t h = 0; h < a.n_heads; ++h) {
      const float* q = a.q + r * a.ldq + static_cast<int64_t>(h) * a.head_dim;
      const int64_t kv_off = static_cast<int64_t>(h / group) * a.head_dim;
      double max_score = -INFINITY;
      for (int32_t p = first; p < n_pos; ++p) {
        const Loc& l = locs[static_cast<size_t>(p)];
        double dot = 0.0;
        for (int32_t d = 0; d < a.head_dim; ++d) {
          dot += static_cast<double>(q[d]) * LoadWeight(l.k, l.dtype, kv_off + d);
        }
        scores[static_cast<size_t>(p)] = dot * a.scale;
        max_score = std::max(max_score, dot * a.scale);
      }
      double denom = 0.0;
      for (int32_t p = first; p < n_pos; ++p) {
        scores[static_cast<size_t>(p)] = std::exp(scores[static_cast<size_t>(p)] - max_score);
        denom += scores[static_cast<size_t>(p)];
      }
      float* out = a.out + r * a.ldo + static_cast<int64_t>(h) * a.head_dim;
      for (int32_t d = 0; d < a.head_dim; ++d) {
        double acc = 0.0;
        for (int32_t p = first; p < n_pos; ++p) {
          const Loc& l = locs[static_cast<size_t>(p)];
          acc += scores[static_cast<size_t>(p)] * LoadWeight(l.v, l.dtype, kv_off + d);
        }
        out[d] = static_cast<float>(acc / denom);
      }
    }
  }
}

void GatherRowsRef(const float* src, int64_t lds, const int32_t* index, int64_t rows, int64_t cols,
                   float* dst, int64_t ldd) {
  for (int64_t r = 0; r < rows; ++r) {
    std::memcpy(dst + r * ldd, src + static_cast<int64_t>(index[r]) * lds,
                static_cast<size_t>(cols) * 4);
  }
}

void AddRef(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y, int64_t ldy) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t j = 0; j < cols; ++j) y[r * ldy + j] += x[r * ldx + j];
  }
}

}  // namespace mot::backend::cpu
