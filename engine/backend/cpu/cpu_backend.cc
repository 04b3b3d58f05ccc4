// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/backend/cpu/cpu_backend.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <string_view>

#include "engine/backend/cpu/amx_gemm.h"
#include "engine/backend/cpu/cpu_kernels.h"
#include "engine/backend/cpu/dpbf16_gemm.h"
#include "engine/backend/cpu/reference_ops.h"
#include "engine/core/dtype.h"

namespace mot::backend::cpu {
namespace {

// Rows per parallel chunk so that a chunk carries at least ~`work` elements: small ops run
// on the calling thread, where a wake-up of the pool would cost more than the op.
int64_t GrainFor(int64_t per_row, int64_t work = 32768) {
  return std::max<int64_t>(1, work / std::max<int64_t>(per_row, 1));
}

}  // namespace

CpuBackend::CpuBackend(ThreadPool* pool, std::optional<IsaLevel> forced_isa)
    : pool_(pool),
      isa_(ResolveIsa(forced_isa)),
      name_(std::string("cpu-") + IsaName(isa_)),
      kernels_(&KernelsFor(isa_)),
      linear_quantized_(kernels_->linear_quantized_vnni != nullptr &&
                                DetectCpuFeatures().avx512_vnni
                            ? kernels_->linear_quantized_vnni
                            : kernels_->linear_quantized),
      scratch_(static_cast<size_t>(pool->num_threads())) {
  // sgemm is called from every pool thread on its own column range: OpenBLAS's own threads
  // would oversubscribe the cores (bench/results/backend_2026-11-23.md compares the two).
  openblas_set_num_threads(1);
  Bf16Gemm path = DefaultBf16Gemm(isa_);
  if (const char* env = std::getenv("MOT_CPU_BF16_GEMM"); env != nullptr) {
    if (auto parsed = ParseBf16Gemm(env); parsed.has_value()) path = *parsed;
  }
  set_bf16_gemm(path);
}

std::optional<CpuBackend::Bf16Gemm> CpuBackend::ParseBf16Gemm(std::string_view name) {
  if (name == "f32") return Bf16Gemm::kF32;
  if (name == "dot") return Bf16Gemm::kDot;
  if (name == "amx") return Bf16Gemm::kAmx;
  return std::nullopt;
}

CpuBackend::Bf16Gemm CpuBackend::AvailableBf16Gemm(IsaLevel level) {
  const CpuFeatures& f = DetectCpuFeatures();
  if (level < IsaLevel::kAvx512) return Bf16Gemm::kF32;
  if (f.amx_bf16) return Bf16Gemm::kAmx;
  if (f.avx512_bf16) return Bf16Gemm::kDot;
  return Bf16Gemm::kF32;
}

CpuBackend::Bf16Gemm CpuBackend::DefaultBf16Gemm(IsaLevel level) {
  return AvailableBf16Gemm(level) == Bf16Gemm::kAmx ? Bf16Gemm::kAmx : Bf16Gemm::kF32;
}

void CpuBackend::set_bf16_gemm(Bf16Gemm path) {
  bf16_gemm_ = std::min(path, AvailableBf16Gemm(isa_));
  static constexpr const char* kSuffix[] = {"", "+bf16dot", "+amx"};
  name_ = std::string("cpu-") + IsaName(isa_) + kSuffix[static_cast<int>(bf16_gemm_)];
}

CpuBackend::~CpuBackend() = default;

bool CpuBackend::uses_vnni() const {
  return kernels_->linear_quantized_vnni != nullptr &&
         linear_quantized_ == kernels_->linear_quantized_vnni;
}

float* CpuBackend::Scratch(int thread, int64_t floats) {
  auto& buf = scratch_[static_cast<size_t>(thread)];
  if (static_cast<int64_t>(buf.size()) < floats) buf.resize(static_cast<size_t>(floats));
  return buf.data();
}

void CpuBackend::Linear(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                        int64_t ldy, bool accumulate) {
  if (m <= 0 || w.rows <= 0) return;
  if (w.cols <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; ++i) std::fill_n(y + i * ldy, w.rows, 0.0f);
    }
    return;
  }
  if (IsBlockDType(w.dtype) && (batch_invariant_ || m <= kQuantizedIntegerM)) {
    LinearQuantized(x, m, ldx, w, y, ldy, accumulate);
    return;
  }
  if (IsBlockDType(w.dtype) && bf16_gemm_ == Bf16Gemm::kAmx && w.cols % amx::kDepth == 0) {
    // Dequantized panels rounded to bf16 (relative 2^-9, far below the blocks' own rounding)
    // on the tiles, instead of f32 panels and sgemm.
    LinearBf16(x, m, ldx, w, y, ldy, accumulate);
    return;
  }
  if (batch_invariant_) {
    LinearInvariant(x, m, ldx, w, y, ldy, accumulate);
    return;
  }
  if (m <= kSmallM) {
    LinearSmall(x, m, ldx, w, y, ldy, accumulate);
    return;
  }
  if (bf16_gemm_ != Bf16Gemm::kF32 && w.dtype == DType::kBF16 && m >= kBf16GemmMinM &&
      w.cols % amx::kDepth == 0) {
    LinearBf16(x, m, ldx, w, y, ldy, accumulate);
    return;
  }
  if ((w.dtype == DType::kBF16 || w.dtype == DType::kF16) && m <= kChunkedM) {
    // Balanced chunks of at most kSmallM rows, each streaming the weights once.
    const int64_t chunks = (m + kSmallM - 1) / kSmallM;
    for (int64_t c = 0, begin = 0; c < chunks; ++c) {
      const int64_t rows = (m - begin) / (chunks - c);
      LinearSmall(x + begin * ldx, rows, ldx, w, y + begin * ldy, ldy, accumulate);
      begin += rows;
    }
    return;
  }
  LinearLarge(x, m, ldx, w, y, ldy, accumulate);
}

// Output rows per parallel chunk of a streaming Linear: whole cache lines of the weight, 16
// outputs (a line of y), and at least 64 KiB of weights so that a tiny matrix is not split
// (a pool wake-up costs a few microseconds, about what 64 KiB takes to stream).
int64_t CpuBackend::StreamGrain(const WeightRef& w) {
  const int64_t row_bytes = std::max<int64_t>(1, DTypeBytes(w.dtype, w.cols));
  const int64_t line_rows = 64 / std::gcd<int64_t>(row_bytes, 64);
  int64_t grain = std::lcm<int64_t>(16, line_rows);
  const int64_t min_rows = (65536 + row_bytes - 1) / row_bytes;
  grain *= (min_rows + grain - 1) / grain;
  return grain;
}

void CpuBackend::LinearQuantized(const float* x, int64_t m, int64_t ldx, const WeightRef& w,
                                 float* y, int64_t ldy, bool accumulate) {
  // The input rows are quantized once (m * cols elements, small beside rows * cols weights),
  // then every thread streams its output rows' weight blocks against all of them.
  assert(w.cols % kQuantBlock == 0 && "block-dtype rows hold whole blocks (loaders check)");
  const int64_t nb = w.cols / kQuantBlock;
  if (static_cast<int64_t>(xq_.size()) < m * w.cols) xq_.resize(static_cast<size_t>(m * w.cols));
  if (static_cast<int64_t>(xq_scales_.size()) < 2 * m * nb) {
    xq_scales_.resize(static_cast<size_t>(2 * m * nb));
  }
  int8_t* q = xq_.data();
  float* d = xq_scales_.data();
  float* s = d + m * nb;
  const Kernels* k = kernels_;
  pool_->ParallelFor(m, GrainFor(w.cols), [&](int64_t begin, int64_t end, int) {
    k->quantize_rows(x, ldx, begin, end, w.cols, q, d, s);
  });
  const QuantizedRows xq{q, d, s, m, w.cols};
  const auto kernel = linear_quantized_;
  pool_->ParallelFor(w.rows, StreamGrain(w), [&](int64_t begin, int64_t end, int) {
    kernel(xq, w, begin, end, y, ldy, accumulate);
  });
}

void CpuBackend::LinearSmall(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                             int64_t ldy, bool accumulate) {
  const int64_t grain = StreamGrain(w);
  const Kernels* k = kernels_;
  pool_->ParallelFor(w.rows, grain, [&](int64_t begin, int64_t end, int) {
    k->linear_small_m(x, m, ldx, w, begin, end, y, ldy, accumulate);
  });
}

void CpuBackend::LinearInvariant(const float* x, int64_t m, int64_t ldx, const WeightRef& w,
                                 float* y, int64_t ldy, bool accumulate) {
  // Same thread split as LinearSmall (whole cache lines, >= 64 KiB of weights per range).
  const int64_t row_bytes = DTypeBytes(w.dtype, w.cols);
  const int64_t grain = StreamGrain(w);
  // A panel of output rows is read once from memory and then from cache for every chunk
  // of input rows; with m <= chunk it is one pass, as LinearSmall.
  const int64_t panel = std::max<int64_t>(16, (262144 / row_bytes) / 16 * 16);
  const int64_t chunk = kernels_->invariant_max_m;
  const Kernels* k = kernels_;
  pool_->ParallelFor(w.rows, grain, [&](int64_t begin, int64_t end, int) {
    for (int64_t p0 = begin; p0 < end; p0 += panel) {
      const int64_t p1 = std::min(end, p0 + panel);
      for (int64_t i = 0; i < m; i += chunk) {
        k->linear_invariant(x + i * ldx, std::min(chunk, m - i), ldx, w, p0, p1, y + i * ldy, ldy,
                            accumulate);
      }
    }
  });
}

void CpuBackend::LinearBf16(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                            int64_t ldy, bool accumulate) {
  const int64_t k = w.cols;
  const int64_t elems = amx::PackedElems(m, k);
  if (bf16_x_.rank() == 0 || bf16_x_.dim(0) < elems) bf16_x_ = Tensor::Empty(DType::kBF16, {elems});
  auto* packed = static_cast<uint16_t*>(bf16_x_.data());
  const int64_t blocks = (m + amx::kRowBlock - 1) / amx::kRowBlock;
  pool_->ParallelFor(blocks, GrainFor(amx::kRowBlock * k), [&](int64_t begin, int64_t end, int) {
    amx::Pack(x, m, ldx, k, begin, end, packed);
  });
  const int64_t tiles = w.rows / amx::kRowBlock;
  if (bf16_gemm_ == Bf16Gemm::kAmx) {
    struct Source {
      const Kernels* kernels;
      const WeightRef* w;
    } source{kernels_, &w};
    amx::Weights weights;
    if (w.dtype == DType::kBF16) {
      weights.bf16 = static_cast<const uint16_t*>(w.data);
    } else {
      weights.ctx = &source;
      weights.to_f32 = [](const void* ctx, int64_t row, int64_t rows, float* dst) {
        const auto* src = static_cast<const Source*>(ctx);
        src->kernels->convert_rows(*src->w, row, row + rows, dst);
      };
    }
    const int64_t scratch_floats = (amx::ScratchBytes(m, k, weights.bf16 == nullptr) + 3) / 4;
    for (int t = 0; t < pool_->num_threads(); ++t) Scratch(t, scratch_floats);
    // Two tiles (32 output rows) per grain: the kernel's 2 x 2 blocking.
    pool_->ParallelFor(tiles, 2, [&](int64_t begin, int64_t end, int slot) {
      amx::Linear(packed, m, k, weights, begin * amx::kRowBlock, end * amx::kRowBlock, y, ldy,
                  accumulate, scratch_[static_cast<size_t>(slot)].data());
    });
  } else {
    const auto* wb = static_cast<const uint16_t*>(w.data);
    pool_->ParallelFor(tiles, 1, [&](int64_t begin, int64_t end, int) {
      dpbf16::Linear(packed, m, k, wb, begin * amx::kRowBlock, end * amx::kRowBlock, y, ldy,
                     accumulate);
    });
  }
  const int64_t tail = tiles * amx::kRowBlock;
  if (tail < w.rows) {
    // The last < 16 output rows, on the same bf16-rounded inputs and weights: converted, then
    // sgemm over chunks of input rows.
    const int64_t tail_rows = w.rows - tail;
    constexpr int64_t kChunk = 64;
    float* wt = Scratch(0, (tail_rows + kChunk) * k);
    float* xr = wt + tail_rows * k;
    kernels_->convert_rows(w, tail, w.rows, wt);
    for (int64_t i = 0; i < tail_rows * k; ++i) wt[i] = BF16ToF32(F32ToBF16(wt[i]));
    for (int64_t i0 = 0; i0 < m; i0 += kChunk) {
      const int64_t rows = std::min(kChunk, m - i0);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t c = 0; c < k; ++c) {
          xr[r * k + c] = BF16ToF32(F32ToBF16(x[(i0 + r) * ldx + c]));
        }
      }
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(rows),
                  static_cast<int>(tail_rows), static_cast<int>(k), 1.0f, xr, static_cast<int>(k),
                  wt, static_cast<int>(k), accumulate ? 1.0f : 0.0f, y + i0 * ldy + tail,
                  static_cast<int>(ldy));
    }
  }
}

void CpuBackend::LinearLarge(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                             int64_t ldy, bool accumulate) {
  const float beta = accumulate ? 1.0f : 0.0f;
  const int64_t k = w.cols;
  const int mi = static_cast<int>(m);
  const int ki = static_cast<int>(k);
  if (w.dtype == DType::kF32) {
    const float* wf = static_cast<const float*>(w.data);
    pool_->ParallelFor(w.rows, 16, [&](int64_t begin, int64_t end, int) {
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mi, static_cast<int>(end - begin), ki,
                  1.0f, x, static_cast<int>(ldx), wf + begin * k, ki, beta, y + begin,
                  static_cast<int>(ldy));
    });
    return;
  }
  // bf16 / f16 / Q8_0 / Q4_0: convert (dequantize) a panel of output rows to f32 (about 4 MiB per
  // thread), then sgemm on it. Every sgemm call repacks x, so fewer, larger panels win: measured
  // with backend_bench (CPU-time GFLOP/s, 2 threads, m = 512), 4 MiB panels ran ~5-10% faster than
  // 256 KiB or 1 MiB ones (bench/results/backend_2026-11-23.md).
  const int64_t panel = std::clamp<int64_t>((1048576 / k) / 16 * 16, 16, 4096);
  for (int t = 0; t < pool_->num_threads(); ++t) Scratch(t, panel * k);
  const Kernels* kern = kernels_;
  pool_->ParallelFor(w.rows, 16, [&](int64_t begin, int64_t end, int thread) {
    float* buf = scratch_[static_cast<size_t>(thread)].data();
    for (int64_t p0 = begin; p0 < end; p0 += panel) {
      const int64_t pn = std::min(panel, end - p0);
      kern->convert_rows(w, p0, p0 + pn, buf);
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, mi, static_cast<int>(pn), ki, 1.0f, x,
                  static_cast<int>(ldx), buf, ki, beta, y + p0, static_cast<int>(ldy));
    }
  });
}

void CpuBackend::RmsNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx,
                         const float* weight, float eps, float* y, int64_t ldy) {
  const Kernels* k = kernels_;
  pool_->ParallelFor(rows, GrainFor(dim), [&](int64_t begin, int64_t end, int) {
    k->rms_norm_rows(x, begin, end, dim, ldx, weight, eps, y, ldy);
  });
}

void CpuBackend::LayerNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx,
                           const float* weight, const float* bias, float eps, float* y,
                           int64_t ldy) {
  const Kernels* k = kernels_;
  pool_->ParallelFor(rows, GrainFor(dim), [&](int64_t begin, int64_t end, int) {
    k->layer_norm_rows(x, begin, end, dim, ldx, weight, bias, eps, y, ldy);
  });
}

void CpuBackend::Rotary(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                        const int32_t* pos, float theta) {
  const int32_t half = head_dim / 2;
  if (rows <= 0 || half <= 0) return;
  if (inv_freq_dim_ != head_dim || inv_freq_theta_ != theta) {
    inv_freq_.resize(static_cast<size_t>(half));
    for (int32_t i = 0; i < half; ++i) {
      inv_freq_[static_cast<size_t>(i)] =
          std::pow(static_cast<double>(theta), -2.0 * i / static_cast<double>(head_dim));
    }
    inv_freq_dim_ = head_dim;
    inv_freq_theta_ = theta;
  }
  RotaryWith(x, rows, ldx, n_heads, head_dim, pos, inv_freq_.data());
}

void CpuBackend::RotaryFreqs(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                             const int32_t* pos, const double* inv_freq) {
  if (rows <= 0 || head_dim / 2 <= 0) return;
  RotaryWith(x, rows, ldx, n_heads, head_dim, pos, inv_freq);
}

void CpuBackend::RotaryWith(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                            const int32_t* pos, const double* inv_freq) {
  const int32_t half = head_dim / 2;
  for (int t = 0; t < pool_->num_threads(); ++t) Scratch(t, 2 * half);
  pool_->ParallelFor(rows, GrainFor(int64_t{n_heads} * head_dim, 8192),
                     [&](int64_t begin, int64_t end, int thread) {
                       float* cs = scratch_[static_cast<size_t>(thread)].data();
                       float* sn = cs + half;
                       for (int64_t r = begin; r < end; ++r) {
                         // Angles in double: exact enough for any position (f32 angles lose
                         // ~pos*6e-8 rad).
                         for (int32_t i = 0; i < half; ++i) {
                           const double angle = static_cast<double>(pos[r]) * inv_freq[i];
                           cs[i] = static_cast<float>(std::cos(angle));
                           sn[i] = static_cast<float>(std::sin(angle));
                         }
                         for (int32_t h = 0; h < n_heads; ++h) {
                           float* a = x + r * ldx + static_cast<int64_t>(h) * head_dim;
                           float* b = a + half;
#pragma omp simd
                           for (int32_t i = 0; i < half; ++i) {
                             const float xa = a[i];
                             const float xb = b[i];
                             a[i] = xa * cs[i] - xb * sn[i];
                             b[i] = xb * cs[i] + xa * sn[i];
                           }
                         }
                       }
                     });
}

void CpuBackend::SwiGlu(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows,
                        int64_t n, float* out, int64_t ldo) {
  const Kernels* k = kernels_;
  pool_->ParallelFor(rows, GrainFor(n, 8192), [&](int64_t begin, int64_t end, int) {
    k->swiglu_rows(gate, ldg, up, ldu, begin, end, n, out, ldo);
  });
}

void CpuBackend::Embedding(const int32_t* ids, int64_t rows, const WeightRef& table, float* y,
                           int64_t ldy) {
  const Kernels* k = kernels_;
  pool_->ParallelFor(rows, GrainFor(table.cols), [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) k->convert_rows(table, ids[r], ids[r] + 1, y + r * ldy);
  });
}

void CpuBackend::StoreKv(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
                         const kv::KvSlot* slots, const kv::KvLayerView& kv) {
  // rows * kv_dim per layer: small next to the projections that made k and v, so it stays
  // on this thread (ConvertFromF32 rounds to nearest even, as the contract asks).
  StoreKvRef(k, ldk, v, ldv, rows, slots, kv);
}

void CpuBackend::Attention(const AttentionArgs& a) {
  if (a.rows <= 0 || a.n_heads <= 0) return;
  const int threads = pool_->num_threads();
  for (int t = 0; t < threads; ++t)
    Scratch(t, AttentionScratchFloats(a.head_dim, a.n_heads / std::max(a.n_kv_heads, 1)));
  // Split the (row, head) pairs into one range per thread of equal cost: a pair's cost is
  // the number of positions it reads, so causal prefill rows are not all in one range.
  // With a sliding window a row reads at most `window` positions.
  auto cost = [&](int64_t r) -> int64_t {
    const int64_t n = int64_t{a.pos[r]} + 1;
    return a.window > 0 ? std::min<int64_t>(n, a.window) : n;
  };
  int64_t total = 0;
  for (int64_t r = 0; r < a.rows; ++r) total += cost(r);
  std::vector<int64_t>& bounds = attention_bounds_;
  bounds.assign(static_cast<size_t>(threads) + 1, 0);
  {
    int t = 1;
    int64_t cum = 0;
    const int64_t n_pairs = a.rows * a.n_heads;
    for (int64_t idx = 0; idx < n_pairs && t < threads; ++idx) {
      cum += cost(idx / a.n_heads);
      while (t < threads && cum * threads >= total * a.n_heads * t) {
        bounds[static_cast<size_t>(t++)] = idx + 1;
      }
    }
    for (; t <= threads; ++t) bounds[static_cast<size_t>(t)] = n_pairs;
  }
  const Kernels* k = kernels_;
  const int64_t work = total * a.n_heads * a.head_dim;
  if (threads == 1 || work < 16384) {
    k->attention_pairs(a, 0, a.rows * a.n_heads, scratch_[0].data());
    return;
  }
  pool_->ParallelFor(threads, 1, [&](int64_t begin, int64_t end, int thread) {
    for (int64_t t = begin; t < end; ++t) {
      k->attention_pairs(a, bounds[static_cast<size_t>(t)], bounds[static_cast<size_t>(t) + 1],
                         scratch_[static_cast<size_t>(thread)].data());
    }
  });
}

void CpuBackend::GatherRows(const float* src, int64_t lds, const int32_t* index, int64_t rows,
                            int64_t cols, float* dst, int64_t ldd) {
  GatherRowsRef(src, lds, index, rows, cols, dst, ldd);
}

void CpuBackend::Add(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y,
                     int64_t ldy) {
  const Kernels* k = kernels_;
  pool_->ParallelFor(rows, GrainFor(cols), [&](int64_t begin, int64_t end, int) {
    k->add_rows(x, ldx, begin, end, cols, y, ldy);
  });
}

}  // namespace mot::backend::cpu
