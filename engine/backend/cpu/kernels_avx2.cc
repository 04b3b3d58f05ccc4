// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The AVX2 kernel table. Compiled with -mavx2 -mfma -mf16c; only reached when
// cpu_features.cc found those and the OS saves YMM state.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "engine/backend/cpu/cpu_kernels.h"

namespace mot::backend::cpu {
namespace {

#include "engine/backend/cpu/kernels_body.inc"

// 8 weights at element `i` of `p` as f32: bf16 by a 16-bit shift, f16 by vcvtph2ps.
template <DType T>
inline __m256 Load8(const char* p, int64_t i) {
  if constexpr (T == DType::kF32) {
    return _mm256_loadu_ps(reinterpret_cast<const float*>(p) + i);
  } else {
    const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 2 * i));
    if constexpr (T == DType::kBF16) {
      return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16));
    } else {
      return _mm256_cvtph_ps(h);
    }
  }
}

inline float HorizontalSum(__m256 v) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

// One output row `o` for M input rows, U accumulators per input row (k unrolled U times);
// the weights are read as one linear stream (see kernels_avx512.cc). The last cols % 8
// columns are scalar.
template <DType T, int M, int U>
inline void LinearRow(const float* x, int64_t ldx, const char* w, int64_t cols, int64_t o, float* y,
                      int64_t ldy, bool accumulate) {
  const char* row = w + DTypeBytes(T, o * cols);
  __m256 acc[M][U];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) acc[i][u] = _mm256_setzero_ps();
  }
  int64_t k = 0;
  for (; k + 8 * U <= cols; k += 8 * U) {
    __m256 wv[U];
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) wv[u] = Load8<T>(row, k + 8 * u);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
#pragma GCC unroll 4
      for (int u = 0; u < U; ++u) {
        acc[i][u] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i * ldx + k + 8 * u), wv[u], acc[i][u]);
      }
    }
  }
  for (; k + 8 <= cols; k += 8) {
    const __m256 wv = Load8<T>(row, k);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      acc[i][0] = _mm256_fmadd_ps(_mm256_loadu_ps(x + i * ldx + k), wv, acc[i][0]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    __m256 sum = acc[i][0];
#pragma GCC unroll 4
    for (int u = 1; u < U; ++u) sum = _mm256_add_ps(sum, acc[i][u]);
    float s = HorizontalSum(sum);
    for (int64_t c = k; c < cols; ++c) s += x[i * ldx + c] * LoadAs<T>(row, c);
    float& out = y[i * ldy + o];
    out = accumulate ? out + s : s;
  }
}

template <DType T, int M, int U>
void LinearRowsM(const float* x, int64_t ldx, const WeightRef& w, int64_t o_begin, int64_t o_end,
                 float* y, int64_t ldy, bool accumulate) {
  const char* base = static_cast<const char*>(w.data);
  for (int64_t o = o_begin; o < o_end; ++o) {
    LinearRow<T, M, U>(x, ldx, base, w.cols, o, y, ldy, accumulate);
  }
}

void LinearSmallM(const float* x, int64_t m, int64_t ldx, const WeightRef& w, int64_t o_begin,
                  int64_t o_end, float* y, int64_t ldy, bool accumulate) {
  VisitDType(w.dtype, [&]<DType T>() {
    VisitRowCount(m, [&]<int M>() {
      // M * U accumulators + U weights + 1 x within the 16 ymm registers.
      constexpr int U = M <= 2 ? 4 : (M <= 4 ? 2 : 1);
      LinearRowsM<T, M, U>(x, ldx, w, o_begin, o_end, y, ldy, accumulate);
    });
  });
}

// U = 2 for every M <= 4 (4 x 2 + 2 + 1 of 16 registers): a row's sum order is then the same
// whatever the number of rows. The caller splits larger m into chunks of <= 4 rows.
void LinearInvariant(const float* x, int64_t m, int64_t ldx, const WeightRef& w, int64_t o_begin,
                     int64_t o_end, float* y, int64_t ldy, bool accumulate) {
  VisitDType(w.dtype, [&]<DType T>() {
    switch (m) {
      case 1:
        return LinearRowsM<T, 1, 2>(x, ldx, w, o_begin, o_end, y, ldy, accumulate);
      case 2:
        return LinearRowsM<T, 2, 2>(x, ldx, w, o_begin, o_end, y, ldy, accumulate);
      case 3:
        return LinearRowsM<T, 3, 2>(x, ldx, w, o_begin, o_end, y, ldy, accumulate);
      default:
        return LinearRowsM<T, 4, 2>(x, ldx, w, o_begin, o_end, y, ldy, accumulate);
    }
  });
}

template <DType T>
void ConvertRowsSimd(const WeightRef& w, int64_t r_begin, int64_t r_end, float* dst) {
  const int64_t n = (r_end - r_begin) * w.cols;
  const char* src = static_cast<const char*>(w.data) + DTypeBytes(T, r_begin * w.cols);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) _mm256_storeu_ps(dst + i, Load8<T>(src, i));
  for (; i < n; ++i) dst[i] = LoadAs<T>(src, i);
}

void ConvertRows(const WeightRef& w, int64_t r_begin, int64_t r_end, float* dst) {
  if (IsBlockDType(w.dtype)) return DequantizeRows(w, r_begin, r_end, dst);
  VisitDType(w.dtype, [&]<DType T>() { ConvertRowsSimd<T>(w, r_begin, r_end, dst); });
}

// e^x on 8 lanes: ExpF's clamp, range reduction and degree-7 polynomial (kernels_body.inc).
inline __m256 Exp8(__m256 x) {
  x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-87.0f)), _mm256_set1_ps(88.0f));
  const __m256 n = _mm256_floor_ps(
      _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f)));
  const __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860682030941723e-6f),
                                    _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145751953125f), x));
  __m256 p = _mm256_set1_ps(1.0f / 5040.0f);
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 720.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
  const __m256i bits =
      _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvttps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

// Attention's inner loops with 8-wide loads (f16 by vcvtph2ps, bf16 by a shift) and two
// accumulators for the dot product. For f32 this measured 0-25% faster than the portable
// `omp simd` loops (1024-2048 positions, head_dim 64, one thread, min CPU time).
// The scores of four keys, from their 8-lane accumulators: [a0 pairs, a1 pairs | ...] ->
// [sum a0 lo, a1 lo, a2 lo, a3 lo | the high halves], then the halves added. One order for
// every key, whichever kernel scores it.
inline __m128 Reduce4x8(__m256 a0, __m256 a1, __m256 a2, __m256 a3) {
  const __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(a0, a1), _mm256_hadd_ps(a2, a3));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

struct Avx2AttentionOps {
  // s[j] = e^(s[j] - m) for j < cnt; returns their sum (8 lanes, then the lane sum).
  static float ExpRun(float* s, int32_t cnt, float m) {
    const __m256 mv = _mm256_set1_ps(m);
    __m256 sumv = _mm256_setzero_ps();
    int32_t j = 0;
    for (; j + 8 <= cnt; j += 8) {
      const __m256 p = Exp8(_mm256_sub_ps(_mm256_loadu_ps(s + j), mv));
      _mm256_storeu_ps(s + j, p);
      sumv = _mm256_add_ps(sumv, p);
    }
    alignas(32) float lanes[8];
    _mm256_store_ps(lanes, sumv);
    float sum = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
                ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
    for (; j < cnt; ++j) {
      s[j] = ExpF(s[j] - m);
      sum += s[j];
    }
    return sum;
  }
  template <DType T>
  static float Dot(const float* q, const char* k, int32_t hd) {
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    int32_t d = 0;
    for (; d + 16 <= hd; d += 16) {
      a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), Load8<T>(k, d), a0);
      a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), Load8<T>(k, d + 8), a1);
    }
    for (; d + 8 <= hd; d += 8) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), Load8<T>(k, d), a0);
    float dot = HorizontalSum(_mm256_add_ps(a0, a1));
    for (; d < hd; ++d) dot += q[d] * LoadAs<T>(k, d);
    return dot;
  }
  template <DType T>
  static void Axpy(float w, const char* v, int32_t hd, float* acc) {
    const __m256 wv = _mm256_set1_ps(w);
    int32_t d = 0;
    for (; d + 8 <= hd; d += 8) {
      _mm256_storeu_ps(acc + d, _mm256_fmadd_ps(wv, Load8<T>(v, d), _mm256_loadu_ps(acc + d)));
    }
    for (; d < hd; ++d) acc[d] += w * LoadAs<T>(v, d);
  }
  // A run's scores four keys at a time: each q vector loaded once for four keys, one
  // accumulator per key, and the four horizontal sums in two hadds. A lone key (the run's
  // tail) is reduced in the same order, so a key's score does not depend on where in its run
  // it falls. head_dim not a multiple of 8: Dot key by key.
  template <DType T>
  static void DotRun(const float* q, const char* k, int64_t step, int32_t cnt, int32_t hd,
                     float* s) {
    if (hd % 8 != 0) {
      for (int32_t j = 0; j < cnt; ++j) s[j] = Dot<T>(q, k + j * step, hd);
      return;
    }
    int32_t j = 0;
    for (; j + 4 <= cnt; j += 4) {
      const char* k0 = k + j * step;
      const char* k1 = k0 + step;
      const char* k2 = k1 + step;
      const char* k3 = k2 + step;
      __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps(), a2 = _mm256_setzero_ps(),
             a3 = _mm256_setzero_ps();
      for (int32_t d = 0; d < hd; d += 8) {
        const __m256 qv = _mm256_loadu_ps(q + d);
        a0 = _mm256_fmadd_ps(qv, Load8<T>(k0, d), a0);
        a1 = _mm256_fmadd_ps(qv, Load8<T>(k1, d), a1);
        a2 = _mm256_fmadd_ps(qv, Load8<T>(k2, d), a2);
        a3 = _mm256_fmadd_ps(qv, Load8<T>(k3, d), a3);
      }
      _mm_storeu_ps(s + j, Reduce4x8(a0, a1, a2, a3));
    }
    for (; j < cnt; ++j) {
      const char* k0 = k + j * step;
      __m256 a0 = _mm256_setzero_ps();
      for (int32_t d = 0; d < hd; d += 8) {
        a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), Load8<T>(k0, d), a0);
      }
      s[j] = _mm_cvtss_f32(Reduce4x8(a0, a0, a0, a0));
    }
  }
  // The run's weighted values with the accumulator in registers, 32 dimensions at a time:
  // one load and store of acc per run instead of per value (the same fma per element, in
  // the same order, as Axpy value by value).
  template <DType T>
  static void AxpyRun(const float* w, const char* v, int64_t step, int32_t cnt, int32_t hd,
                      float* acc) {
    int32_t d = 0;
    for (; d + 32 <= hd; d += 32) {
      __m256 a0 = _mm256_loadu_ps(acc + d), a1 = _mm256_loadu_ps(acc + d + 8);
      __m256 a2 = _mm256_loadu_ps(acc + d + 16), a3 = _mm256_loadu_ps(acc + d + 24);
      const char* vj = v;
      for (int32_t j = 0; j < cnt; ++j, vj += step) {
        const __m256 wv = _mm256_set1_ps(w[j]);
        a0 = _mm256_fmadd_ps(wv, Load8<T>(vj, d), a0);
        a1 = _mm256_fmadd_ps(wv, Load8<T>(vj, d + 8), a1);
        a2 = _mm256_fmadd_ps(wv, Load8<T>(vj, d + 16), a2);
        a3 = _mm256_fmadd_ps(wv, Load8<T>(vj, d + 24), a3);
      }
      _mm256_storeu_ps(acc + d, a0);
      _mm256_storeu_ps(acc + d + 8, a1);
      _mm256_storeu_ps(acc + d + 16, a2);
      _mm256_storeu_ps(acc + d + 24, a3);
    }
    if (d < hd) {
      const int64_t skip = int64_t{d} * DTypeSize(T);  // bytes to element d of a value
      for (int32_t j = 0; j < cnt; ++j) Axpy<T>(w[j], v + j * step + skip, hd - d, acc + d);
    }
  }
};

// The AVX-512 kernel's AttendRun (kernels_avx512.cc) on 8-lane vectors, head_dim = 8 * NV
// (NV even), for NG <= 2 query heads of one kv head (16 vector registers: the scores of two heads x
// four keys take eight): each key and value vector loaded and converted once for the NG heads; the
// run's maximum in a vector; the weighted values in 16-wide slices, even and odd positions in
// separate accumulators. A head's arithmetic does not depend on NG.
template <int NV, int NG, DType T>
inline void AttendRun8(const __m256 (*qv)[NV], const char* k, const char* v, int64_t step,
                       int32_t cnt, float* s, float* running_max, float* running_sum,
                       __m256 (*acc)[NV], bool prefetch) {
  int32_t j = 0;
  __m128 vmax[NG];
  for (int g = 0; g < NG; ++g) vmax[g] = _mm_set1_ps(-INFINITY);
  for (; j + 4 <= cnt; j += 4) {
    const char* k0 = k + j * step;
    // Keys kKvAhead positions ahead, and these keys' values (read after the run's scores):
    // one head's slice of a position is a few lines at a stride of a whole position, a
    // pattern the hardware prefetchers follow poorly, so a decode step at 8k positions
    // streamed its KV at a third of the read bandwidth. Not for a row whose sequence the
    // previous row read (a prefill chunk: the cache is already near).
    for (int t = 0; prefetch && t < 4; ++t) {
      PrefetchSlice<8 * NV * DTypeSize(T)>(k0 + (t + kKvAhead) * step);
      PrefetchSlice<8 * NV * DTypeSize(T)>(v + (j + t) * step);
    }
    __m256 d[NG][4];
    for (int g = 0; g < NG; ++g) {
      for (int t = 0; t < 4; ++t) d[g][t] = _mm256_setzero_ps();
    }
#pragma GCC unroll 16
    for (int u = 0; u < NV; ++u) {
      __m256 kv[4];
      for (int t = 0; t < 4; ++t) kv[t] = Load8<T>(k0 + t * step, 8 * u);
      for (int g = 0; g < NG; ++g) {
        for (int t = 0; t < 4; ++t) d[g][t] = _mm256_fmadd_ps(qv[g][u], kv[t], d[g][t]);
      }
    }
    for (int g = 0; g < NG; ++g) {
      const __m128 r = Reduce4x8(d[g][0], d[g][1], d[g][2], d[g][3]);
      vmax[g] = _mm_max_ps(vmax[g], r);
      _mm_storeu_ps(s + g * kAttentionChunk + j, r);
    }
  }
  float chunk_max[NG];
  for (int g = 0; g < NG; ++g) {
    __m128 m = _mm_max_ps(vmax[g], _mm_movehl_ps(vmax[g], vmax[g]));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    chunk_max[g] = _mm_cvtss_f32(m);
  }
  for (; j < cnt; ++j) {
    const char* k0 = k + j * step;
    __m256 d[NG];
    for (int g = 0; g < NG; ++g) d[g] = _mm256_setzero_ps();
#pragma GCC unroll 16
    for (int u = 0; u < NV; ++u) {
      const __m256 kv = Load8<T>(k0, 8 * u);
      for (int g = 0; g < NG; ++g) d[g] = _mm256_fmadd_ps(qv[g][u], kv, d[g]);
    }
    for (int g = 0; g < NG; ++g) {
      const float x = _mm_cvtss_f32(Reduce4x8(d[g], d[g], d[g], d[g]));
      s[g * kAttentionChunk + j] = x;
      chunk_max[g] = x > chunk_max[g] ? x : chunk_max[g];
    }
  }
  for (int g = 0; g < NG; ++g) {
    if (chunk_max[g] > running_max[g]) {
      const float corr = running_max[g] == -INFINITY ? 0.0f : ExpF(running_max[g] - chunk_max[g]);
      running_sum[g] *= corr;
      const __m256 c = _mm256_set1_ps(corr);
#pragma GCC unroll 16
      for (int u = 0; u < NV; ++u) acc[g][u] = _mm256_mul_ps(acc[g][u], c);
      running_max[g] = chunk_max[g];
    }
    running_sum[g] += Avx2AttentionOps::ExpRun(s + g * kAttentionChunk, cnt, running_max[g]);
  }
  // Two 8-wide slices (one 64-byte line of f32 values) per pass over the run: a pass per
  // 8-wide slice read each line twice, and at 4 KiB between positions (8 f32 KV heads of
  // 128) the second read missed L1.
  for (int u = 0; u < NV; u += 2) {
    __m256 even[NG][2], odd[NG][2];
    for (int g = 0; g < NG; ++g) {
      for (int h = 0; h < 2; ++h) {
        even[g][h] = acc[g][u + h];
        odd[g][h] = _mm256_setzero_ps();
      }
    }
    int32_t i = 0;
    for (; i + 2 <= cnt; i += 2) {
      const char* vp = v + i * step;
      __m256 v0[2], v1[2];
      for (int h = 0; h < 2; ++h) {
        v0[h] = Load8<T>(vp, 8 * (u + h));
        v1[h] = Load8<T>(vp + step, 8 * (u + h));
      }
      for (int g = 0; g < NG; ++g) {
        const float* w = s + g * kAttentionChunk + i;
        const __m256 w0 = _mm256_broadcast_ss(w), w1 = _mm256_broadcast_ss(w + 1);
        for (int h = 0; h < 2; ++h) {
          even[g][h] = _mm256_fmadd_ps(w0, v0[h], even[g][h]);
          odd[g][h] = _mm256_fmadd_ps(w1, v1[h], odd[g][h]);
        }
      }
    }
    if (i < cnt) {
      const char* vp = v + i * step;
      for (int h = 0; h < 2; ++h) {
        const __m256 v0 = Load8<T>(vp, 8 * (u + h));
        for (int g = 0; g < NG; ++g) {
          even[g][h] =
              _mm256_fmadd_ps(_mm256_broadcast_ss(s + g * kAttentionChunk + i), v0, even[g][h]);
        }
      }
    }
    for (int g = 0; g < NG; ++g) {
      for (int h = 0; h < 2; ++h) acc[g][u + h] = _mm256_add_ps(even[g][h], odd[g][h]);
    }
  }
}

// Attention for head_dim = 8 * NV (64, 128), as the AVX-512 AttentionPairsT: the pairs of
// one row that share a kv head go together, in passes of up to two heads.
template <int NV>
void AttentionPairsT8(const AttentionArgs& a, int64_t begin, int64_t end, float* scratch) {
  constexpr int32_t kMaxGroup = 8;
  const int32_t group = a.n_heads / a.n_kv_heads;
  constexpr int32_t kHd = 8 * NV;
  float* s = scratch;
  const __m256 scale = _mm256_set1_ps(a.scale);
  __m256 qv[kMaxGroup][NV];
  __m256 acc[kMaxGroup][NV];
  float running_max[kMaxGroup];
  float running_sum[kMaxGroup];
  for (int64_t idx = begin; idx < end;) {
    const int64_t r = idx / a.n_heads;
    const int32_t h0 = static_cast<int32_t>(idx % a.n_heads);
    const int32_t kvh = h0 / group;
    const int64_t idx_end =
        std::min({end, r * a.n_heads + int64_t{kvh + 1} * group, idx + kMaxGroup});
    const int32_t nh = static_cast<int32_t>(idx_end - idx);
    const int64_t kv_off = static_cast<int64_t>(kvh) * kHd;
    const bool prefetch = r == 0 || a.seq[r - 1] != a.seq[r];
    for (int32_t g = 0; g < nh; ++g) {
      const float* q = a.q + r * a.ldq + static_cast<int64_t>(h0 + g) * kHd;
      for (int u = 0; u < NV; ++u) {
        qv[g][u] = _mm256_mul_ps(_mm256_loadu_ps(q + 8 * u), scale);
        acc[g][u] = _mm256_setzero_ps();
      }
      running_max[g] = -INFINITY;
      running_sum[g] = 0.0f;
    }
    ForEachKvRun(a.kv, a.seq[r], AttentionFirstPos(a, r), a.pos[r] + 1, kv_off,
                 [&](DType dtype, const char* k, const char* v, int32_t cnt) {
                   VisitDType(dtype, [&]<DType T>() {
                     const int64_t step = a.kv.kv_dim * DTypeSize(T);
                     for (int32_t g = 0; g < nh;) {
                       if (nh - g >= 2) {
                         AttendRun8<NV, 2, T>(qv + g, k, v, step, cnt, s, running_max + g,
                                              running_sum + g, acc + g, prefetch);
                         g += 2;
                       } else {
                         AttendRun8<NV, 1, T>(qv + g, k, v, step, cnt, s, running_max + g,
                                              running_sum + g, acc + g, prefetch);
                         g += 1;
                       }
                     }
                   });
                 });
    for (int32_t g = 0; g < nh; ++g) {
      float* out = a.out + r * a.ldo + static_cast<int64_t>(h0 + g) * kHd;
      const __m256 inv = _mm256_set1_ps(1.0f / running_sum[g]);
      for (int u = 0; u < NV; ++u) _mm256_storeu_ps(out + 8 * u, _mm256_mul_ps(acc[g][u], inv));
    }
    idx = idx_end;
  }
}

void AttentionPairs(const AttentionArgs& a, int64_t begin, int64_t end, float* scratch) {
  switch (a.head_dim) {
    case 64:
      return AttentionPairsT8<8>(a, begin, end, scratch);
    case 128:
      return AttentionPairsT8<16>(a, begin, end, scratch);
    default:
      return AttentionPairsWith<Avx2AttentionOps>(a, begin, end, scratch);
  }
}

// LinearQuantized: vpmaddubsw + vpmaddwd integer dot products.
#include "engine/backend/cpu/quant_kernels_x86.inc"

// SwiGluRowsGeneric in 8-lane vectors (see kernels_avx512.cc's SwiGluRows for why).
void SwiGluRows(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t r_begin,
                int64_t r_end, int64_t n, float* out, int64_t ldo) {
  const __m256 one = _mm256_set1_ps(1.0f);
  for (int64_t r = r_begin; r < r_end; ++r) {
    const float* g = gate + r * ldg;
    const float* u = up + r * ldu;
    float* o = out + r * ldo;
    int64_t j = 0;
    for (; j + 8 <= n; j += 8) {
      const __m256 gv = _mm256_loadu_ps(g + j);
      const __m256 e = Exp8(_mm256_sub_ps(_mm256_setzero_ps(), gv));
      _mm256_storeu_ps(
          o + j, _mm256_mul_ps(_mm256_div_ps(gv, _mm256_add_ps(one, e)), _mm256_loadu_ps(u + j)));
    }
    for (; j < n; ++j) o[j] = g[j] / (1.0f + ExpF(-g[j])) * u[j];
  }
}

}  // namespace

const Kernels kAvx2Kernels = {
    .level = IsaLevel::kAvx2,
    .linear_small_m = LinearSmallM,
    .linear_invariant = LinearInvariant,
    .invariant_max_m = 4,
    .convert_rows = ConvertRows,
    .quantize_rows = QuantizeRowsGeneric,
    .linear_quantized = LinearQuantized,
    .linear_quantized_vnni = nullptr,
    .rms_norm_rows = RmsNormRowsGeneric,
    .layer_norm_rows = LayerNormRowsGeneric,
    .swiglu_rows = SwiGluRows,
    .add_rows = AddRowsGeneric,
    .attention_pairs = AttentionPairs,
};

}  // namespace mot::backend::cpu
