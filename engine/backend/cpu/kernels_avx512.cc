// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The AVX-512 (F/BW/VL) kernel table. Compiled with -mavx512f -mavx512bw -mavx512vl -mfma
// -mf16c; only reached when cpu_features.cc found those and the OS saves ZMM state.
#include <immintrin.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "engine/backend/cpu/cpu_kernels.h"

namespace mot::backend::cpu {
namespace {

#include "engine/backend/cpu/kernels_body.inc"

// 16 weights at element `i` of `p` as f32: bf16 by a 16-bit shift, f16 by vcvtph2ps.
template <DType T>
inline __m512 Load16(const char* p, int64_t i) {
  if constexpr (T == DType::kF32) {
    return _mm512_loadu_ps(reinterpret_cast<const float*>(p) + i);
  } else {
    const __m256i h = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p + 2 * i));
    if constexpr (T == DType::kBF16) {
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    } else {
      return _mm512_cvtph_ps(h);
    }
  }
}

template <DType T>
inline __m512 Load16Masked(const char* p, int64_t i, __mmask16 k) {
  if constexpr (T == DType::kF32) {
    return _mm512_maskz_loadu_ps(k, reinterpret_cast<const float*>(p) + i);
  } else {
    const __m256i h = _mm256_maskz_loadu_epi16(k, p + 2 * i);
    if constexpr (T == DType::kBF16) {
      return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_cvtepu16_epi32(h), 16));
    } else {
      return _mm512_cvtph_ps(h);
    }
  }
}

// 16-bit weights only: on the Xeon of bench/results/peers_2026-12-02.md, whole-model decode
// (mot_bench 125m, 1 thread, two A/B rounds) ran f16 12-16% faster with it, bf16 the same,
// and f32 ~10% slower (its hardware prefetch already keeps up; more prefetches per byte).
constexpr int64_t kLinearPrefetchBytes = 4096;

// One output row `o` for M input rows, U accumulators per input row (k unrolled U times).
// Output rows are contiguous, so a thread walking its rows reads its part of the weight as
// one linear stream, which the hardware prefetcher follows well. (Measured against R = 8 rows
// at a time, i.e. 8 interleaved short streams: the linear walk streamed bf16 ~2x faster for
// in = 768; see bench/results/backend_2026-11-23.md.) Each weight vector is loaded and converted
// once for all M input rows.
template <DType T, int M, int U>
inline void LinearRow(const float* x, int64_t ldx, const char* w, int64_t cols, int64_t o, float* y,
                      int64_t ldy, bool accumulate) {
  const char* row = w + DTypeBytes(T, o * cols);
  __m512 acc[M][U];
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) acc[i][u] = _mm512_setzero_ps();
  }
  int64_t k = 0;
  for (; k + 16 * U <= cols; k += 16 * U) {
    if constexpr (T != DType::kF32) {
      // Software prefetch kLinearPrefetchBytes ahead on the thread's linear weight stream
      // (past this row's end it reaches the next rows, which this thread reads next).
      constexpr int64_t kStepBytes = DTypeBytes(T, 16 * U);
      for (int64_t line = 0; line < kStepBytes; line += 64) {
        _mm_prefetch(row + DTypeBytes(T, k) + line + kLinearPrefetchBytes, _MM_HINT_T0);
      }
    }
    __m512 wv[U];
#pragma GCC unroll 4
    for (int u = 0; u < U; ++u) wv[u] = Load16<T>(row, k + 16 * u);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
#pragma GCC unroll 4
      for (int u = 0; u < U; ++u) {
        acc[i][u] = _mm512_fmadd_ps(_mm512_loadu_ps(x + i * ldx + k + 16 * u), wv[u], acc[i][u]);
      }
    }
  }
  for (; k + 16 <= cols; k += 16) {
    const __m512 wv = Load16<T>(row, k);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      acc[i][0] = _mm512_fmadd_ps(_mm512_loadu_ps(x + i * ldx + k), wv, acc[i][0]);
    }
  }
  if (k < cols) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (cols - k)) - 1u);
    const __m512 wv = Load16Masked<T>(row, k, mask);
#pragma GCC unroll 8
    for (int i = 0; i < M; ++i) {
      acc[i][U - 1] =
          _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, x + i * ldx + k), wv, acc[i][U - 1]);
    }
  }
#pragma GCC unroll 8
  for (int i = 0; i < M; ++i) {
    __m512 sum = acc[i][0];
#pragma GCC unroll 4
    for (int u = 1; u < U; ++u) sum = _mm512_add_ps(sum, acc[i][u]);
    const float s = _mm512_reduce_add_ps(sum);
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
      // M * U accumulators (of 32 zmm registers): at least 4 independent FMA chains.
      constexpr int U = M <= 2 ? 4 : 2;
      LinearRowsM<T, M, U>(x, ldx, w, o_begin, o_end, y, ldy, accumulate);
    });
  });
}

// U = 2 for every M: a row's sum order (U interleaved accumulators, then their sum, then
// one reduce) is then the same whatever the number of rows; 8 x 2 + 2 + 1 of 32 registers.
void LinearInvariant(const float* x, int64_t m, int64_t ldx, const WeightRef& w, int64_t o_begin,
                     int64_t o_end, float* y, int64_t ldy, bool accumulate) {
  VisitDType(w.dtype, [&]<DType T>() {
    VisitRowCount(
        m, [&]<int M>() { LinearRowsM<T, M, 2>(x, ldx, w, o_begin, o_end, y, ldy, accumulate); });
  });
}

template <DType T>
void ConvertRowsSimd(const WeightRef& w, int64_t r_begin, int64_t r_end, float* dst) {
  const int64_t n = (r_end - r_begin) * w.cols;
  const char* src = static_cast<const char*>(w.data) + DTypeBytes(T, r_begin * w.cols);
  int64_t i = 0;
  for (; i + 16 <= n; i += 16) _mm512_storeu_ps(dst + i, Load16<T>(src, i));
  if (i < n) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (n - i)) - 1u);
    _mm512_mask_storeu_ps(dst + i, mask, Load16Masked<T>(src, i, mask));
  }
}

void ConvertRows(const WeightRef& w, int64_t r_begin, int64_t r_end, float* dst) {
  if (IsBlockDType(w.dtype)) return DequantizeRows(w, r_begin, r_end, dst);
  VisitDType(w.dtype, [&]<DType T>() { ConvertRowsSimd<T>(w, r_begin, r_end, dst); });
}

// Horizontal sums of four vectors: {sum(a), sum(b), sum(c), sum(d)}.
inline __m128 Reduce4(__m512 a, __m512 b, __m512 c, __m512 d) {
  const __m512 ab = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
  const __m512 cd = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));
  // Per 128-bit lane: {a0+a2, b0+b2, a1+a3, b1+b3} and the same for c, d.
  const __m512 abcd =
      _mm512_add_ps(_mm512_shuffle_ps(ab, cd, 0x44), _mm512_shuffle_ps(ab, cd, 0xee));
  // Per lane {a, b, c, d} partial sums; add the four lanes.
  const __m256 h =
      _mm256_add_ps(_mm512_castps512_ps256(abcd),
                    _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(abcd), 1)));
  return _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
}

// e^x on 16 lanes: ExpF's clamp, range reduction and degree-7 polynomial (kernels_body.inc).
inline __m512 Exp16(__m512 x) {
  x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-87.0f)), _mm512_set1_ps(88.0f));
  const __m512 n = _mm512_roundscale_ps(
      _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f)),
      _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(1.42860682030941723e-6f),
                                    _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693145751953125f), x));
  __m512 p = _mm512_set1_ps(1.0f / 5040.0f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 720.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 120.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 24.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f / 6.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(0.5f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.0f));
  const __m512i bits =
      _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(n), _mm512_set1_epi32(127)), 23);
  return _mm512_mul_ps(p, _mm512_castsi512_ps(bits));
}

// s[j] = e^(s[j] - m) for j < cnt in explicit vectors (Exp16; the compiler's own
// vectorization of this loop ran several times slower, as it did for SwiGlu); returns their
// sum (16 lanes, then the lane sum).
inline float ExpRun16(float* s, int32_t cnt, float m) {
  const __m512 mv = _mm512_set1_ps(m);
  __m512 sumv = _mm512_setzero_ps();
  int32_t j = 0;
  for (; j + 16 <= cnt; j += 16) {
    const __m512 p = Exp16(_mm512_sub_ps(_mm512_loadu_ps(s + j), mv));
    _mm512_storeu_ps(s + j, p);
    sumv = _mm512_add_ps(sumv, p);
  }
  if (j < cnt) {
    const __mmask16 mask = static_cast<__mmask16>((1u << (cnt - j)) - 1u);
    const __m512 p = Exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, s + j), mv));
    _mm512_mask_storeu_ps(s + j, mask, p);
    sumv = _mm512_add_ps(sumv, _mm512_maskz_mov_ps(mask, p));
  }
  return _mm512_reduce_add_ps(sumv);
}

// One run of `cnt` positions (ForEachKvRun) for NG query heads that share a kv head, at
// head_dim = 16 * NV: keys/values of dtype T at k/v, `step` bytes apart; qv[g] is head g's
// scaled query, s[g * kAttentionChunk ...] its scores. Updates each head's online softmax
// state (running max, sum, accumulator) as AttentionPairsWith does. Each key and value
// vector is loaded (and converted from 16 bits) once for the NG heads. Written for the
// dependency chains rather than the instruction count: the run's maximum is kept in a
// vector beside the scores (a scalar max loop is one 4-cycle chain per position), and the
// weighted values go into two accumulator sets, even and odd positions, added at the end
// of the run (at head_dim 64 one set is four FMA chains, which held the loop at one
// position per FMA latency). A head's arithmetic and its order do not depend on NG or on
// anything else in the batch.
template <int NV, int NG, DType T>
inline void AttendRun(const __m512 (*qv)[NV], const char* k, const char* v, int64_t step,
                      int32_t cnt, float* s, float* running_max, float* running_sum,
                      __m512 (*acc)[NV], bool prefetch) {
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
      PrefetchSlice<16 * NV * DTypeSize(T)>(k0 + (t + kKvAhead) * step);
      PrefetchSlice<16 * NV * DTypeSize(T)>(v + (j + t) * step);
    }
    __m512 d[NG][4];
    for (int g = 0; g < NG; ++g) {
      for (int t = 0; t < 4; ++t) d[g][t] = _mm512_setzero_ps();
    }
#pragma GCC unroll 16
    for (int u = 0; u < NV; ++u) {
      __m512 kv[4];
      for (int t = 0; t < 4; ++t) kv[t] = Load16<T>(k0 + t * step, 16 * u);
      for (int g = 0; g < NG; ++g) {
        for (int t = 0; t < 4; ++t) d[g][t] = _mm512_fmadd_ps(qv[g][u], kv[t], d[g][t]);
      }
    }
    for (int g = 0; g < NG; ++g) {
      const __m128 r = Reduce4(d[g][0], d[g][1], d[g][2], d[g][3]);
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
    __m512 d[NG];
    for (int g = 0; g < NG; ++g) d[g] = _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int u = 0; u < NV; ++u) {
      const __m512 kv = Load16<T>(k0, 16 * u);
      for (int g = 0; g < NG; ++g) d[g] = _mm512_fmadd_ps(qv[g][u], kv, d[g]);
    }
    for (int g = 0; g < NG; ++g) {
      const float x = _mm512_reduce_add_ps(d[g]);
      s[g * kAttentionChunk + j] = x;
      chunk_max[g] = x > chunk_max[g] ? x : chunk_max[g];
    }
  }
  for (int g = 0; g < NG; ++g) {
    if (chunk_max[g] > running_max[g]) {
      const float corr = running_max[g] == -INFINITY ? 0.0f : ExpF(running_max[g] - chunk_max[g]);
      running_sum[g] *= corr;
      const __m512 c = _mm512_set1_ps(corr);
#pragma GCC unroll 16
      for (int u = 0; u < NV; ++u) acc[g][u] = _mm512_mul_ps(acc[g][u], c);
      running_max[g] = chunk_max[g];
    }
    running_sum[g] += ExpRun16(s + g * kAttentionChunk, cnt, running_max[g]);
  }
  // One 16-wide slice of the values at a time: its even/odd accumulators of the NG heads
  // stay in registers over the whole run.
#pragma GCC unroll 16
  for (int u = 0; u < NV; ++u) {
    __m512 even[NG], odd[NG];
    for (int g = 0; g < NG; ++g) {
      even[g] = acc[g][u];
      odd[g] = _mm512_setzero_ps();
    }
    int32_t i = 0;
    for (; i + 2 <= cnt; i += 2) {
      const char* vp = v + i * step;
      const __m512 v0 = Load16<T>(vp, 16 * u);
      const __m512 v1 = Load16<T>(vp + step, 16 * u);
      for (int g = 0; g < NG; ++g) {
        const float* w = s + g * kAttentionChunk + i;
        even[g] = _mm512_fmadd_ps(_mm512_set1_ps(w[0]), v0, even[g]);
        odd[g] = _mm512_fmadd_ps(_mm512_set1_ps(w[1]), v1, odd[g]);
      }
    }
    if (i < cnt) {
      const __m512 v0 = Load16<T>(v + i * step, 16 * u);
      for (int g = 0; g < NG; ++g) {
        even[g] = _mm512_fmadd_ps(_mm512_set1_ps(s[g * kAttentionChunk + i]), v0, even[g]);
      }
    }
    for (int g = 0; g < NG; ++g) acc[g][u] = _mm512_add_ps(even[g], odd[g]);
  }
}

// Attention for head_dim = 16 * NV: the scaled query and the output accumulator stay in
// registers; scores of four positions are reduced together. Same online softmax and runs
// as AttentionPairsWith (kernels_body.inc), and like it the pairs of one row that share a
// kv head go together (up to kMaxGroup at a time): each run of keys and values is read from
// memory once for all of them and then from L1, instead of once per query head (at long
// context a GQA group re-read the whole cache per head). Each head's arithmetic is the
// per-pair one, in the same order, so the bits do not depend on the grouping.
template <int NV>
void AttentionPairsT(const AttentionArgs& a, int64_t begin, int64_t end, float* scratch) {
  constexpr int32_t kMaxGroup = 8;
  const int32_t group = a.n_heads / a.n_kv_heads;
  constexpr int32_t kHd = 16 * NV;
  float* s = scratch;
  const __m512 scale = _mm512_set1_ps(a.scale);
  __m512 qv[kMaxGroup][NV];
  __m512 acc[kMaxGroup][NV];
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
#pragma GCC unroll 16
      for (int u = 0; u < NV; ++u) {
        qv[g][u] = _mm512_mul_ps(_mm512_loadu_ps(q + 16 * u), scale);
        acc[g][u] = _mm512_setzero_ps();
      }
      running_max[g] = -INFINITY;
      running_sum[g] = 0.0f;
    }
    ForEachKvRun(a.kv, a.seq[r], AttentionFirstPos(a, r), a.pos[r] + 1, kv_off,
                 [&](DType dtype, const char* k, const char* v, int32_t cnt) {
                   VisitDType(dtype, [&]<DType T>() {
                     const int64_t step = a.kv.kv_dim * DTypeSize(T);
                     // Passes of up to four heads (the score accumulators of four heads x
                     // four keys fill half the vector registers).
                     for (int32_t g = 0; g < nh;) {
                       const int32_t n = nh - g >= 4 ? 4 : nh - g;
                       auto run = [&]<int NG>() {
                         AttendRun<NV, NG, T>(qv + g, k, v, step, cnt, s, running_max + g,
                                              running_sum + g, acc + g, prefetch);
                       };
                       if (n == 4)
                         run.template operator()<4>();
                       else if (n == 3)
                         run.template operator()<3>();
                       else if (n == 2)
                         run.template operator()<2>();
                       else
                         run.template operator()<1>();
                       g += n;
                     }
                   });
                 });
    for (int32_t g = 0; g < nh; ++g) {
      float* out = a.out + r * a.ldo + static_cast<int64_t>(h0 + g) * kHd;
      const __m512 inv = _mm512_set1_ps(1.0f / running_sum[g]);
#pragma GCC unroll 16
      for (int u = 0; u < NV; ++u) _mm512_storeu_ps(out + 16 * u, _mm512_mul_ps(acc[g][u], inv));
    }
    idx = idx_end;
  }
}

// Attention's inner loops for other head sizes, with 16-wide (masked) loads of every
// dtype (the portable LoadAs<kF16> would call F16ToF32 per element).
struct Avx512AttentionOps {
  static float ExpRun(float* s, int32_t cnt, float m) { return ExpRun16(s, cnt, m); }
  template <DType T>
  static float Dot(const float* q, const char* k, int32_t hd) {
    __m512 acc = _mm512_setzero_ps();
    int32_t d = 0;
    for (; d + 16 <= hd; d += 16) {
      acc = _mm512_fmadd_ps(_mm512_loadu_ps(q + d), Load16<T>(k, d), acc);
    }
    if (d < hd) {
      const __mmask16 mask = static_cast<__mmask16>((1u << (hd - d)) - 1u);
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mask, q + d), Load16Masked<T>(k, d, mask), acc);
    }
    return _mm512_reduce_add_ps(acc);
  }
  template <DType T>
  static void Axpy(float w, const char* v, int32_t hd, float* acc) {
    const __m512 wv = _mm512_set1_ps(w);
    int32_t d = 0;
    for (; d + 16 <= hd; d += 16) {
      _mm512_storeu_ps(acc + d, _mm512_fmadd_ps(wv, Load16<T>(v, d), _mm512_loadu_ps(acc + d)));
    }
    if (d < hd) {
      const __mmask16 mask = static_cast<__mmask16>((1u << (hd - d)) - 1u);
      _mm512_mask_storeu_ps(
          acc + d, mask,
          _mm512_fmadd_ps(wv, Load16Masked<T>(v, d, mask), _mm512_maskz_loadu_ps(mask, acc + d)));
    }
  }
  template <DType T>
  static void DotRun(const float* q, const char* k, int64_t step, int32_t cnt, int32_t hd,
                     float* s) {
    for (int32_t j = 0; j < cnt; ++j) s[j] = Dot<T>(q, k + j * step, hd);
  }
  template <DType T>
  static void AxpyRun(const float* w, const char* v, int64_t step, int32_t cnt, int32_t hd,
                      float* acc) {
    for (int32_t j = 0; j < cnt; ++j) Axpy<T>(w[j], v + j * step, hd, acc);
  }
};

void AttentionPairs(const AttentionArgs& a, int64_t begin, int64_t end, float* scratch) {
  switch (a.head_dim) {
    case 64:
      return AttentionPairsT<4>(a, begin, end, scratch);
    case 128:
      return AttentionPairsT<8>(a, begin, end, scratch);
    default:
      return AttentionPairsWith<Avx512AttentionOps>(a, begin, end, scratch);
  }
}

// LinearQuantized on 256-bit vectors (AVX-512VL): vpmaddubsw + vpmaddwd for AVX-512 CPUs
// without VNNI (Skylake-SP) ...
#include "engine/backend/cpu/quant_kernels_x86.inc"

// ... and the same kernel with vpdpbusd (AVX512_VNNI + VL: Cascade Lake, Ice Lake, Sapphire
// Rapids, Zen 4), compiled for that target only; CpuBackend calls it only where CPUID says
// AVX512_VNNI. (Not run on the machine this was written on, an AVX2-only EPYC: the kernel
// tests exercise it wherever the CPU has VNNI.)
namespace vnni {
#pragma GCC push_options
#pragma GCC target("avx512vnni")
#define MOT_QUANT_DOT_VNNI 1
#include "engine/backend/cpu/quant_kernels_x86.inc"
#undef MOT_QUANT_DOT_VNNI
#pragma GCC pop_options
}  // namespace vnni

// SwiGluRowsGeneric in 16-lane vectors: the compiler's own vectorization of it ran ~7x
// slower than this loop (0.45 vs 3.4 ms for 512 x 2048 in one process on the same data; not
// explained), and without -fno-trapping-math it stayed scalar (~2.5 ms). Whole-model
// prefill of the 125m bf16 config at 512 tokens: SwiGlu 24 ms -> 3 ms of 145 ms.
void SwiGluRows(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t r_begin,
                int64_t r_end, int64_t n, float* out, int64_t ldo) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int64_t r = r_begin; r < r_end; ++r) {
    const float* g = gate + r * ldg;
    const float* u = up + r * ldu;
    float* o = out + r * ldo;
    int64_t j = 0;
    for (; j + 16 <= n; j += 16) {
      const __m512 gv = _mm512_loadu_ps(g + j);
      const __m512 e = Exp16(_mm512_sub_ps(_mm512_setzero_ps(), gv));
      _mm512_storeu_ps(
          o + j, _mm512_mul_ps(_mm512_div_ps(gv, _mm512_add_ps(one, e)), _mm512_loadu_ps(u + j)));
    }
    if (j < n) {
      const __mmask16 mask = static_cast<__mmask16>((1u << (n - j)) - 1u);
      const __m512 gv = _mm512_maskz_loadu_ps(mask, g + j);
      const __m512 e = Exp16(_mm512_sub_ps(_mm512_setzero_ps(), gv));
      _mm512_mask_storeu_ps(o + j, mask,
                            _mm512_mul_ps(_mm512_div_ps(gv, _mm512_add_ps(one, e)),
                                          _mm512_maskz_loadu_ps(mask, u + j)));
    }
  }
}

}  // namespace

const Kernels kAvx512Kernels = {
    .level = IsaLevel::kAvx512,
    .linear_small_m = LinearSmallM,
    .linear_invariant = LinearInvariant,
    .invariant_max_m = 8,
    .convert_rows = ConvertRows,
    .quantize_rows = QuantizeRowsGeneric,
    .linear_quantized = LinearQuantized,
    .linear_quantized_vnni = vnni::LinearQuantized,
    .rms_norm_rows = RmsNormRowsGeneric,
    .layer_norm_rows = LayerNormRowsGeneric,
    .swiglu_rows = SwiGluRows,
    .add_rows = AddRowsGeneric,
    .attention_pairs = AttentionPairs,
};

}  // namespace mot::backend::cpu
