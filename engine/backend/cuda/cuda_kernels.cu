// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The CUDA kernels of CudaBackend (contracts in cuda_kernels.h and backend.h). Every sum and
// every softmax is f32; 16-bit values are converted on load and rounded to nearest even on
// store. No Abseil here (nvcc): the launchers return cudaError_t.
#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "engine/backend/cuda/cuda_kernels.h"

namespace mot::backend::cuda {
namespace {

// 8 warps per row-wise block: enough loads in flight for rows of a few thousand floats.
constexpr int kRowThreads = 256;
// Element-wise kernels: 256 threads, a grid-stride loop over at most kMaxBlocks blocks
// (plenty for 132 SMs; the loop covers any count).
constexpr int kEltThreads = 256;
constexpr int64_t kMaxBlocks = 1 << 16;

unsigned EltBlocks(int64_t n) {
  return static_cast<unsigned>(
      std::clamp<int64_t>((n + kEltThreads - 1) / kEltThreads, 1, kMaxBlocks));
}

// ---- dtype traits: f32, bf16, f16 -> f32 on load; f32 -> dtype (RNE) on store.

__device__ __forceinline__ float LoadF32(const void* p, DType t, int64_t i) {
  switch (t) {
    case DType::kBF16:
      return __bfloat162float(static_cast<const __nv_bfloat16*>(p)[i]);
    case DType::kF16:
      return __half2float(static_cast<const __half*>(p)[i]);
    default:
      return static_cast<const float*>(p)[i];
  }
}

__device__ __forceinline__ void StoreFromF32(void* p, DType t, int64_t i, float v) {
  switch (t) {
    case DType::kBF16:
      static_cast<__nv_bfloat16*>(p)[i] = __float2bfloat16_rn(v);
      break;
    case DType::kF16:
      static_cast<__half*>(p)[i] = __float2half_rn(v);
      break;
    default:
      static_cast<float*>(p)[i] = v;
      break;
  }
}

// v rounded to the precision of t (f32: unchanged).
__device__ __forceinline__ float RoundTo(DType t, float v) {
  switch (t) {
    case DType::kBF16:
      return __bfloat162float(__float2bfloat16_rn(v));
    case DType::kF16:
      return __half2float(__float2half_rn(v));
    default:
      return v;
  }
}

__device__ __forceinline__ int64_t ElemBytes(DType t) { return t == DType::kF32 ? 4 : 2; }

__device__ __forceinline__ float WarpSum(float v) {
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  return v;
}

__device__ __forceinline__ float WarpMax(float v) {
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// Sum over a block of kThreads threads; every thread gets the total. `red` is 32 floats of
// shared memory, reused by consecutive calls (the leading barrier protects it).
template <int kThreads>
__device__ float BlockSum(float v, float* red) {
  v = WarpSum(v);
  __syncthreads();
  if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
  __syncthreads();
  const int lane = threadIdx.x & 31;
  return WarpSum(lane < kThreads / 32 ? red[lane] : 0.0f);
}

// ---- Linear's helpers.

// Grid-stride over the m * cols elements.
__global__ void ConvertRowsKernel(const float* __restrict__ x, int64_t m, int64_t cols, int64_t ldx,
                                  DType dtype, void* __restrict__ dst) {
  const int64_t n = m * cols;
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < n;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = idx / cols;
    const int64_t c = idx - r * cols;
    StoreFromF32(dst, dtype, idx, x[r * ldx + c]);
  }
}

// One warp per output y[i, o], grid-stride over the m * rows outputs (uniform per warp, so
// the shuffles see every lane); lanes stride over k.
__global__ void LinearFallbackKernel(const float* __restrict__ x, int64_t m, int64_t ldx,
                                     const void* __restrict__ w, DType dtype, int64_t rows,
                                     int64_t cols, float* __restrict__ y, int64_t ldy,
                                     bool accumulate) {
  const int lane = threadIdx.x & 31;
  const int64_t warps = int64_t{gridDim.x} * (blockDim.x / 32);
  for (int64_t out = blockIdx.x * int64_t{blockDim.x / 32} + (threadIdx.x >> 5); out < m * rows;
       out += warps) {
    const int64_t i = out / rows;
    const int64_t o = out - i * rows;
    float acc = 0.0f;
    for (int64_t k = lane; k < cols; k += 32) {
      acc += RoundTo(dtype, x[i * ldx + k]) * LoadF32(w, dtype, o * cols + k);
    }
    acc = WarpSum(acc);
    if (lane == 0) y[i * ldy + o] = accumulate ? y[i * ldy + o] + acc : acc;
  }
}

// ---- Norms: one block of kRowThreads per row (grid.x = rows).

__global__ void __launch_bounds__(kRowThreads)
    RmsNormKernel(const float* x, int64_t dim, int64_t ldx, const float* __restrict__ w, float eps,
                  float* y, int64_t ldy) {
  __shared__ float red[32];
  const float* xr = x + blockIdx.x * ldx;
  float* yr = y + blockIdx.x * ldy;
  float ss = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += kRowThreads) ss += xr[i] * xr[i];
  ss = BlockSum<kRowThreads>(ss, red);
  const float inv = 1.0f / sqrtf(ss / static_cast<float>(dim) + eps);
  // y may equal x: each element is read and written by the same thread, after the sums.
  for (int64_t i = threadIdx.x; i < dim; i += kRowThreads) yr[i] = xr[i] * inv * w[i];
}

__global__ void __launch_bounds__(kRowThreads)
    LayerNormKernel(const float* x, int64_t dim, int64_t ldx, const float* __restrict__ w,
                    const float* __restrict__ b, float eps, float* y, int64_t ldy) {
  __shared__ float red[32];
  const float* xr = x + blockIdx.x * ldx;
  float* yr = y + blockIdx.x * ldy;
  float sum = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += kRowThreads) sum += xr[i];
  const float mean = BlockSum<kRowThreads>(sum, red) / static_cast<float>(dim);
  // Two passes (mean, then squared deviations): no cancellation for rows with a large mean.
  float var = 0.0f;
  for (int64_t i = threadIdx.x; i < dim; i += kRowThreads) {
    const float d = xr[i] - mean;
    var += d * d;
  }
  var = BlockSum<kRowThreads>(var, red) / static_cast<float>(dim);
  const float inv = 1.0f / sqrtf(var + eps);
  for (int64_t i = threadIdx.x; i < dim; i += kRowThreads) {
    yr[i] = (xr[i] - mean) * inv * w[i] + (b != nullptr ? b[i] : 0.0f);
  }
}

// ---- Rotary: one block per row. The row's cos/sin (angles in double, as CpuBackend: f32
// angles lose ~pos * 6e-8 rad) go to dynamic shared memory, [2 * half] floats; then every
// (head, i) pair of the row.
constexpr int kRotaryThreads = 128;

__global__ void __launch_bounds__(kRotaryThreads)
    RotaryKernel(float* x, int64_t ldx, int32_t n_heads, int32_t head_dim,
                 const int32_t* __restrict__ pos, const double* __restrict__ inv_freq) {
  extern __shared__ float cs[];
  const int32_t half = head_dim / 2;
  float* sn = cs + half;
  const double p = static_cast<double>(pos[blockIdx.x]);
  for (int32_t i = threadIdx.x; i < half; i += kRotaryThreads) {
    double s, c;
    sincos(p * inv_freq[i], &s, &c);
    cs[i] = static_cast<float>(c);
    sn[i] = static_cast<float>(s);
  }
  __syncthreads();
  float* xr = x + blockIdx.x * ldx;
  const int32_t pairs = n_heads * half;
  for (int32_t idx = threadIdx.x; idx < pairs; idx += kRotaryThreads) {
    const int32_t h = idx / half;
    const int32_t i = idx - h * half;
    float* a = xr + static_cast<int64_t>(h) * head_dim;
    const float xa = a[i];
    const float xb = a[i + half];
    a[i] = xa * cs[i] - xb * sn[i];
    a[i + half] = xb * cs[i] + xa * sn[i];
  }
}

// ---- Element-wise kernels: grid-stride over rows * cols.

__global__ void SwiGluKernel(const float* gate, int64_t ldg, const float* up, int64_t ldu,
                             int64_t rows, int64_t n, float* out, int64_t ldo) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < rows * n;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = idx / n;
    const int64_t j = idx - r * n;
    // out may equal gate: read before write, by the same thread.
    const float g = gate[r * ldg + j];
    out[r * ldo + j] = g / (1.0f + expf(-g)) * up[r * ldu + j];
  }
}

__global__ void EmbeddingKernel(const int32_t* __restrict__ ids, int64_t rows,
                                const void* __restrict__ table, DType dtype, int64_t vocab,
                                int64_t cols, float* __restrict__ y, int64_t ldy) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < rows * cols;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = idx / cols;
    const int64_t j = idx - r * cols;
    const int64_t id = ids[r];
    y[r * ldy + j] = (id >= 0 && id < vocab) ? LoadF32(table, dtype, id * cols + j) : NAN;
  }
}

__global__ void StoreKvKernel(const float* __restrict__ k, int64_t ldk, const float* __restrict__ v,
                              int64_t ldv, int64_t rows, const kv::KvSlot* __restrict__ slots,
                              kv::KvLayerView kv) {
  const int64_t dim = kv.kv_dim;
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < rows * dim;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = idx / dim;
    const int64_t j = idx - r * dim;
    const kv::KvSlot s = slots[r];
    const kv::KvPoolView pool = kv.pools[s.pool];
    const int64_t off = static_cast<int64_t>(s.slot) * dim + j;
    StoreFromF32(pool.k, pool.dtype, off, k[r * ldk + j]);
    StoreFromF32(pool.v, pool.dtype, off, v[r * ldv + j]);
  }
}

__global__ void GatherRowsKernel(const float* __restrict__ src, int64_t lds,
                                 const int32_t* __restrict__ index, int64_t rows, int64_t cols,
                                 float* __restrict__ dst, int64_t ldd) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < rows * cols;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = idx / cols;
    const int64_t j = idx - r * cols;
    dst[r * ldd + j] = src[static_cast<int64_t>(index[r]) * lds + j];
  }
}

__global__ void AddKernel(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y,
                          int64_t ldy) {
  for (int64_t idx = blockIdx.x * int64_t{blockDim.x} + threadIdx.x; idx < rows * cols;
       idx += int64_t{gridDim.x} * blockDim.x) {
    const int64_t r = idx / cols;
    const int64_t j = idx - r * cols;
    y[r * ldy + j] += x[r * ldx + j];
  }
}

// ---- Attention.
//
// Grid: x = row, y = (kv head, chunk of <= kAttnHeads of its query heads), z = split of the
// row's positions. Block: kAttnThreads threads. The block walks its positions in tiles of
// kAttnTile: threads < kAttnTile locate one position each (a forward scan of the
// sequence's entries from a cursor, after one binary search for the first), the block
// loads the tile's keys and values of its kv head as f32 into shared memory, computes the
// [heads, tile] scores (one dot product per thread), a warp per head updates the online
// softmax (running max m, sum l, rescale alpha), and every thread accumulates P·V for its
// kAttnDimsPerThread dimensions of every head in registers. Without a split the block
// writes acc / l; with splits it writes (acc, m, l) and AttentionCombineKernel merges them.
// Dynamic shared memory: AttnSmemFloats(head_dim) floats (~73 KiB at head_dim 256).
constexpr int kAttnThreads = 128;  // 4 warps
constexpr int kAttnWarps = kAttnThreads / 32;
constexpr int kAttnTile = 32;  // positions per tile = lanes: one warp holds one head's tile
constexpr int kAttnHeads = 8;  // query heads per block: 8 x 2 accumulators in registers
constexpr int kAttnDimsPerThread = kAttentionMaxHeadDim / kAttnThreads;

int64_t AttnSmemFloats(int32_t head_dim) {
  return int64_t{kAttnTile} * (head_dim + 1)  // keys, row padded: conflict-free column reads
         + int64_t{kAttnTile} * head_dim      // values
         + int64_t{kAttnHeads} * head_dim     // queries, pre-scaled
         + int64_t{kAttnHeads} * kAttnTile;   // scores, then probabilities
}

struct AttnParams {
  const float* q;
  int64_t ldq;
  const int32_t* seq;
  const int32_t* pos;
  kv::KvLayerView kv;
  int32_t n_heads;
  int32_t head_dim;
  int32_t group;        // query heads per kv head
  int32_t head_chunks;  // ceil(group / kAttnHeads)
  int32_t window;
  int32_t splits;
  float scale;
  float* out;
  int64_t ldo;
  float* part_acc;  // [rows, n_heads, splits, head_dim] when splits > 1
  float* part_ml;   // [rows, n_heads, splits, 2]
};

__global__ void __launch_bounds__(kAttnThreads) AttentionKernel(AttnParams p) {
  extern __shared__ float smem[];
  __shared__ float m_s[kAttnHeads], l_s[kAttnHeads], alpha_s[kAttnHeads];
  __shared__ const void* kp_s[kAttnTile];
  __shared__ const void* vp_s[kAttnTile];
  __shared__ DType dt_s[kAttnTile];
  __shared__ int32_t ent_s[kAttnTile];

  const int32_t hd = p.head_dim;
  const int32_t ks_ld = hd + 1;
  float* ks = smem;
  float* vs = ks + kAttnTile * ks_ld;
  float* qs = vs + kAttnTile * hd;
  float* ss = qs + kAttnHeads * hd;

  const int64_t r = blockIdx.x;
  const int32_t kvh = blockIdx.y / p.head_chunks;
  const int32_t chunk = blockIdx.y - kvh * p.head_chunks;
  const int32_t h0 = kvh * p.group + chunk * kAttnHeads;
  const int32_t left = p.group - chunk * kAttnHeads;
  const int32_t nh = left < kAttnHeads ? left : kAttnHeads;
  const int32_t split = blockIdx.z;
  const int tid = threadIdx.x;
  const int lane = tid & 31;
  const int warp = tid >> 5;

  // This block's positions [begin, end): the split's share of whole tiles of the row's
  // range [first, last].
  const int32_t last = p.pos[r];
  const int32_t first = p.window > 0 && last - p.window + 1 > 0 ? last - p.window + 1 : 0;
  const int32_t tiles = (last + 1 - first + kAttnTile - 1) / kAttnTile;
  const int32_t tiles_per_split = (tiles + p.splits - 1) / p.splits;
  const int64_t begin64 = first + int64_t{split} * tiles_per_split * kAttnTile;
  const int64_t stop64 = begin64 + int64_t{tiles_per_split} * kAttnTile;
  const int32_t begin = static_cast<int32_t>(begin64 < last + 1 ? begin64 : last + 1);
  const int32_t end = static_cast<int32_t>(stop64 < last + 1 ? stop64 : last + 1);

  for (int idx = tid; idx < nh * hd; idx += kAttnThreads) {
    const int g = idx / hd;
    const int d = idx - g * hd;
    qs[idx] = p.q[r * p.ldq + static_cast<int64_t>(h0 + g) * hd + d] * p.scale;
  }
  if (tid < kAttnHeads) {
    m_s[tid] = -INFINITY;
    l_s[tid] = 0.0f;
  }

  const kv::KvBlockEntry* entries = p.kv.entries;
  const int32_t s = p.seq[r];
  const int32_t e_begin = p.kv.seq_entry_begin[s];
  const int32_t e_end = p.kv.seq_entry_begin[s + 1];
  // The last entry starting at or before `begin` (every thread does the same loads).
  int32_t cursor = e_begin;
  if (begin < end) {
    int32_t lo = e_begin, hi = e_end - 1;
    while (lo < hi) {
      const int32_t mid = lo + (hi - lo + 1) / 2;
      if (entries[mid].first_pos <= begin) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    cursor = lo;
  }

  float acc[kAttnHeads][kAttnDimsPerThread];
#pragma unroll
  for (int g = 0; g < kAttnHeads; ++g) {
#pragma unroll
    for (int j = 0; j < kAttnDimsPerThread; ++j) acc[g][j] = 0.0f;
  }
  __syncthreads();

  for (int32_t t0 = begin; t0 < end; t0 += kAttnTile) {
    const int32_t cnt = end - t0 < kAttnTile ? end - t0 : kAttnTile;
    // 1. Where each position of the tile lives.
    if (tid < kAttnTile) {
      const void* kp = nullptr;
      const void* vp = nullptr;
      DType dt = DType::kF32;
      int32_t e = cursor;
      if (tid < cnt) {
        const int32_t position = t0 + tid;
        while (e < e_end - 1 && entries[e].first_pos + entries[e].num_pos <= position) ++e;
        const kv::KvBlockEntry en = entries[e];
        const kv::KvPoolView pool = p.kv.pools[en.pool];
        const int64_t off =
            (static_cast<int64_t>(en.block) * p.kv.block_size + (position - en.first_pos)) *
                p.kv.kv_dim +
            static_cast<int64_t>(kvh) * hd;
        kp = static_cast<const char*>(pool.k) + off * ElemBytes(pool.dtype);
        vp = static_cast<const char*>(pool.v) + off * ElemBytes(pool.dtype);
        dt = pool.dtype;
      }
      kp_s[tid] = kp;
      vp_s[tid] = vp;
      dt_s[tid] = dt;
      ent_s[tid] = e;
    }
    __syncthreads();
    // The next tile starts in or after the entry of this tile's last position. ent_s is
    // rewritten only after the barriers below.
    cursor = ent_s[cnt - 1];
    // 2. Keys and values of the tile as f32.
    for (int idx = tid; idx < cnt * hd; idx += kAttnThreads) {
      const int t = idx / hd;
      const int d = idx - t * hd;
      ks[t * ks_ld + d] = LoadF32(kp_s[t], dt_s[t], d);
      vs[t * hd + d] = LoadF32(vp_s[t], dt_s[t], d);
    }
    __syncthreads();
    // 3. Scores (q is pre-scaled); positions past cnt get -inf.
    for (int idx = tid; idx < nh * kAttnTile; idx += kAttnThreads) {
      const int g = idx / kAttnTile;
      const int t = idx - g * kAttnTile;
      float sc = -INFINITY;
      if (t < cnt) {
        const float* qg = qs + g * hd;
        const float* kt = ks + t * ks_ld;
        float dot = 0.0f;
        for (int d = 0; d < hd; ++d) dot += qg[d] * kt[d];
        sc = dot;
      }
      ss[idx] = sc;
    }
    __syncthreads();
    // 4. Online softmax, a warp per head (lane = position in the tile).
    for (int g = warp; g < nh; g += kAttnWarps) {
      const float sc = ss[g * kAttnTile + lane];
      const float m_old = m_s[g];
      const float m_new = fmaxf(m_old, WarpMax(sc));
      const float pr = sc == -INFINITY ? 0.0f : expf(sc - m_new);
      const float sum = WarpSum(pr);
      ss[g * kAttnTile + lane] = pr;
      if (lane == 0) {
        const float alpha = m_old == -INFINITY ? 0.0f : expf(m_old - m_new);
        alpha_s[g] = alpha;
        l_s[g] = l_s[g] * alpha + sum;
        m_s[g] = m_new;
      }
    }
    __syncthreads();
    // 5. acc = acc * alpha + P V for this thread's dimensions d = tid + j * kAttnThreads.
#pragma unroll
    for (int g = 0; g < kAttnHeads; ++g) {
      if (g < nh) {
        const float alpha = alpha_s[g];
#pragma unroll
        for (int j = 0; j < kAttnDimsPerThread; ++j) acc[g][j] *= alpha;
      }
    }
    for (int t = 0; t < cnt; ++t) {
      float v[kAttnDimsPerThread];
#pragma unroll
      for (int j = 0; j < kAttnDimsPerThread; ++j) {
        const int d = tid + j * kAttnThreads;
        v[j] = d < hd ? vs[t * hd + d] : 0.0f;
      }
#pragma unroll
      for (int g = 0; g < kAttnHeads; ++g) {
        if (g < nh) {
          const float pr = ss[g * kAttnTile + t];
#pragma unroll
          for (int j = 0; j < kAttnDimsPerThread; ++j) acc[g][j] += pr * v[j];
        }
      }
    }
    __syncthreads();  // the next tile overwrites the tile buffers
  }

#pragma unroll
  for (int g = 0; g < kAttnHeads; ++g) {
    if (g >= nh) continue;
    const int64_t h = h0 + g;
    if (p.splits == 1) {
      const float l = l_s[g];
      const float inv_l = l > 0.0f ? 1.0f / l : 0.0f;
      float* o = p.out + r * p.ldo + h * hd;
#pragma unroll
      for (int j = 0; j < kAttnDimsPerThread; ++j) {
        const int d = tid + j * kAttnThreads;
        if (d < hd) o[d] = acc[g][j] * inv_l;
      }
    } else {
      const int64_t part = (r * p.n_heads + h) * p.splits + split;
      float* o = p.part_acc + part * hd;
#pragma unroll
      for (int j = 0; j < kAttnDimsPerThread; ++j) {
        const int d = tid + j * kAttnThreads;
        if (d < hd) o[d] = acc[g][j];
      }
      if (tid == 0) {
        p.part_ml[part * 2] = m_s[g];
        p.part_ml[part * 2 + 1] = l_s[g];
      }
    }
  }
}

// Merges the splits of one (row, head): grid (rows, n_heads), threads over head_dim. An
// empty split has m = -inf and l = 0 and weighs nothing.
constexpr int kCombineThreads = 128;

__global__ void __launch_bounds__(kCombineThreads)
    AttentionCombineKernel(const float* __restrict__ part_acc, const float* __restrict__ part_ml,
                           int32_t n_heads, int32_t head_dim, int32_t splits,
                           float* __restrict__ out, int64_t ldo) {
  const int64_t r = blockIdx.x;
  const int64_t h = blockIdx.y;
  const int64_t base = (r * n_heads + h) * splits;
  float m = -INFINITY;
  for (int32_t s = 0; s < splits; ++s) m = fmaxf(m, part_ml[(base + s) * 2]);
  float l = 0.0f;
  for (int32_t s = 0; s < splits; ++s) {
    const float ms = part_ml[(base + s) * 2];
    if (ms != -INFINITY) l += part_ml[(base + s) * 2 + 1] * expf(ms - m);
  }
  const float inv_l = l > 0.0f ? 1.0f / l : 0.0f;
  for (int32_t d = threadIdx.x; d < head_dim; d += kCombineThreads) {
    float acc = 0.0f;
    for (int32_t s = 0; s < splits; ++s) {
      const float ms = part_ml[(base + s) * 2];
      if (ms != -INFINITY) acc += part_acc[(base + s) * head_dim + d] * expf(ms - m);
    }
    out[r * ldo + h * head_dim + d] = acc * inv_l;
  }
}

}  // namespace

cudaError_t InitKernels() {
  return cudaFuncSetAttribute(
      AttentionKernel, cudaFuncAttributeMaxDynamicSharedMemorySize,
      static_cast<int>(AttnSmemFloats(kAttentionMaxHeadDim) * sizeof(float)));
}

cudaError_t LaunchConvertRows(const float* x, int64_t m, int64_t cols, int64_t ldx, DType dtype,
                              void* dst, cudaStream_t stream) {
  if (m <= 0 || cols <= 0) return cudaSuccess;
  ConvertRowsKernel<<<EltBlocks(m * cols), kEltThreads, 0, stream>>>(x, m, cols, ldx, dtype, dst);
  return cudaGetLastError();
}

cudaError_t LaunchLinearFallback(const float* x, int64_t m, int64_t ldx, const void* w, DType dtype,
                                 int64_t rows, int64_t cols, float* y, int64_t ldy, bool accumulate,
                                 cudaStream_t stream) {
  if (m <= 0 || rows <= 0) return cudaSuccess;
  constexpr int kWarpsPerBlock = kEltThreads / 32;
  const int64_t blocks =
      std::clamp<int64_t>((m * rows + kWarpsPerBlock - 1) / kWarpsPerBlock, 1, kMaxBlocks);
  LinearFallbackKernel<<<static_cast<unsigned>(blocks), kEltThreads, 0, stream>>>(
      x, m, ldx, w, dtype, rows, cols, y, ldy, accumulate);
  return cudaGetLastError();
}

cudaError_t LaunchRmsNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx,
                          const float* weight, float eps, float* y, int64_t ldy,
                          cudaStream_t stream) {
  if (rows <= 0 || dim <= 0) return cudaSuccess;
  RmsNormKernel<<<static_cast<unsigned>(rows), kRowThreads, 0, stream>>>(x, dim, ldx, weight, eps,
                                                                         y, ldy);
  return cudaGetLastError();
}

cudaError_t LaunchLayerNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx,
                            const float* weight, const float* bias, float eps, float* y,
                            int64_t ldy, cudaStream_t stream) {
  if (rows <= 0 || dim <= 0) return cudaSuccess;
  LayerNormKernel<<<static_cast<unsigned>(rows), kRowThreads, 0, stream>>>(x, dim, ldx, weight,
                                                                           bias, eps, y, ldy);
  return cudaGetLastError();
}

cudaError_t LaunchRotary(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                         const int32_t* pos, const double* inv_freq, cudaStream_t stream) {
  const int32_t half = head_dim / 2;
  if (rows <= 0 || half <= 0 || n_heads <= 0) return cudaSuccess;
  const size_t smem = 2 * static_cast<size_t>(half) * sizeof(float);
  RotaryKernel<<<static_cast<unsigned>(rows), kRotaryThreads, smem, stream>>>(
      x, ldx, n_heads, head_dim, pos, inv_freq);
  return cudaGetLastError();
}

cudaError_t LaunchSwiGlu(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows,
                         int64_t n, float* out, int64_t ldo, cudaStream_t stream) {
  if (rows <= 0 || n <= 0) return cudaSuccess;
  SwiGluKernel<<<EltBlocks(rows * n), kEltThreads, 0, stream>>>(gate, ldg, up, ldu, rows, n, out,
                                                                ldo);
  return cudaGetLastError();
}

cudaError_t LaunchEmbedding(const int32_t* ids, int64_t rows, const void* table, DType dtype,
                            int64_t vocab, int64_t cols, float* y, int64_t ldy,
                            cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  EmbeddingKernel<<<EltBlocks(rows * cols), kEltThreads, 0, stream>>>(ids, rows, table, dtype,
                                                                      vocab, cols, y, ldy);
  return cudaGetLastError();
}

cudaError_t LaunchStoreKv(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
                          const kv::KvSlot* slots, const kv::KvLayerView& kv, cudaStream_t stream) {
  if (rows <= 0 || kv.kv_dim <= 0) return cudaSuccess;
  StoreKvKernel<<<EltBlocks(rows * kv.kv_dim), kEltThreads, 0, stream>>>(k, ldk, v, ldv, rows,
                                                                         slots, kv);
  return cudaGetLastError();
}

cudaError_t LaunchGatherRows(const float* src, int64_t lds, const int32_t* index, int64_t rows,
                             int64_t cols, float* dst, int64_t ldd, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  GatherRowsKernel<<<EltBlocks(rows * cols), kEltThreads, 0, stream>>>(src, lds, index, rows, cols,
                                                                       dst, ldd);
  return cudaGetLastError();
}

cudaError_t LaunchAdd(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y,
                      int64_t ldy, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return cudaSuccess;
  AddKernel<<<EltBlocks(rows * cols), kEltThreads, 0, stream>>>(x, ldx, rows, cols, y, ldy);
  return cudaGetLastError();
}

int32_t AttentionSplits(int64_t rows, int32_t n_heads, int32_t n_kv_heads, int sm_count) {
  const int64_t group = n_heads / std::max(n_kv_heads, 1);
  const int64_t blocks =
      std::max<int64_t>(1, rows * n_kv_heads * ((group + kAttnHeads - 1) / kAttnHeads));
  const int64_t target = 2 * int64_t{std::max(sm_count, 1)};
  if (blocks >= target) return 1;
  return static_cast<int32_t>(
      std::min<int64_t>(kAttentionMaxSplits, (target + blocks - 1) / blocks));
}

int64_t AttentionScratchFloats(int64_t rows, int32_t n_heads, int32_t head_dim, int32_t splits) {
  if (splits <= 1) return 0;
  return rows * n_heads * splits * (int64_t{head_dim} + 2);
}

cudaError_t LaunchAttention(const AttentionLaunch& a, cudaStream_t stream) {
  if (a.rows <= 0 || a.n_heads <= 0) return cudaSuccess;
  AttnParams p;
  p.q = a.q;
  p.ldq = a.ldq;
  p.seq = a.seq;
  p.pos = a.pos;
  p.kv = a.kv;
  p.n_heads = a.n_heads;
  p.head_dim = a.head_dim;
  p.group = a.n_heads / a.n_kv_heads;
  p.head_chunks = (p.group + kAttnHeads - 1) / kAttnHeads;
  p.window = a.window;
  p.splits = std::max(a.splits, 1);
  p.scale = a.scale;
  p.out = a.out;
  p.ldo = a.ldo;
  p.part_acc = a.partial;
  p.part_ml =
      p.splits > 1 ? a.partial + a.rows * a.n_heads * p.splits * int64_t{a.head_dim} : nullptr;
  const dim3 grid(static_cast<unsigned>(a.rows),
                  static_cast<unsigned>(a.n_kv_heads * p.head_chunks),
                  static_cast<unsigned>(p.splits));
  const size_t smem = static_cast<size_t>(AttnSmemFloats(a.head_dim)) * sizeof(float);
  AttentionKernel<<<grid, kAttnThreads, smem, stream>>>(p);
  const cudaError_t err = cudaGetLastError();
  if (err != cudaSuccess || p.splits == 1) return err;
  const dim3 combine_grid(static_cast<unsigned>(a.rows), static_cast<unsigned>(a.n_heads));
  AttentionCombineKernel<<<combine_grid, kCombineThreads, 0, stream>>>(
      p.part_acc, p.part_ml, a.n_heads, a.head_dim, p.splits, a.out, a.ldo);
  return cudaGetLastError();
}

}  // namespace mot::backend::cuda
