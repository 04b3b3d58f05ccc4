// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/backend/cpu/cpu_backend.h
// CpuBackend: the Backend on host memory. Picks its SIMD level once at construction
// (cpu_features.h: detected, optionally forced lower by argument or MOT_CPU_ISA) and
// splits every op over the ThreadPool it is given. Results match the scalar references in
// reference_ops.h to within f32 rounding (see tests/backend for the tolerances).
// Linear: m <= kSmallM rows stream each weight row once for all rows (bandwidth bound);
// larger m uses OpenBLAS sgemm (bf16/f16 weights are converted to f32 in panels), called
// from every pool thread on its own range of output rows. Construction therefore sets
// OpenBLAS to one thread per call (openblas_set_num_threads(1), a process-wide setting) so
// that OpenBLAS's threads and the pool's never oversubscribe the cores.
// Q8_0 / Q4_0 weights (block_quant.h): up to kQuantizedIntegerM rows, and any m in the
// batch-invariant mode, quantize the input rows per 32-block to int8 once per call and take
// integer dot products (Kernels::linear_quantized; AVX-512 VNNI's vpdpbusd where CPUID has
// it, else vpmaddubsw); more rows dequantize panels of weights for sgemm, as bf16 does.
// The integer path adds the activations' int8 rounding (relative ~1/254 per block) to the
// weights' own.
//
// bf16 weights at m >= kBf16GemmMinM (Bf16Gemm): on AMX tiles (amx_gemm.h), on AVX-512 BF16
// dot products (dpbf16_gemm.h), or as converted panels and sgemm. The first two round the
// activations to bf16 (as PyTorch and llama.cpp do for bf16 weights) and pack them once per
// call; the weights are read in place. With AMX, Q8_0/Q4_0 weights above kQuantizedIntegerM
// rows take the tiles too, their panels dequantized and rounded to bf16. The default is AMX
// where the CPU has it (~2-5x sgemm), else sgemm: the dot path ran at 0.50-0.91x sgemm on our
// Intel Xeon with AMX turned off (bench/results/cpu_bf16_prefill_2026-12-02.md) and is
// unmeasured on Zen 4, so it is only taken when asked for. MOT_CPU_BF16_GEMM=f32|dot|amx or
// set_bf16_gemm choose (within what the CPU has); the batch-invariant mode never uses them.
//
// Batch-invariant mode (set_batch_invariant): every row of Linear is summed in one order
// whatever m is (Kernels::linear_invariant over chunks of <= invariant_max_m rows, never
// sgemm), so a sequence's logits are bitwise the same alone or batched with others. The
// other ops are per-row invariant in either mode: a row's RmsNorm, LayerNorm, Rotary,
// SwiGlu, Add and Attention never read another row (tests/backend checks it bitwise).
// Thread rule: one caller at a time (Backend's rule); the pool must outlive the backend
// and must not be used by anyone else while an op runs.
#ifndef MOT_ENGINE_BACKEND_CPU_CPU_BACKEND_H_
#define MOT_ENGINE_BACKEND_CPU_CPU_BACKEND_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "engine/backend/backend.h"
#include "engine/backend/cpu/cpu_features.h"
#include "engine/core/tensor.h"
#include "engine/core/thread_pool.h"

namespace mot::backend::cpu {

struct Kernels;
struct QuantizedRows;

class CpuBackend final : public Backend {
 public:
  // Up to this many rows, Linear streams the weights once for all rows (decode path).
  static constexpr int64_t kSmallM = 8;
  // bf16/f16 weights with m up to this run as chunks of <= kSmallM rows (each streaming the
  // weights again) instead of converting them for sgemm: ~2x faster at m = 9..16 for
  // 768x2048-class matrices, measured (bench/results/backend_2026-11-23.md). f32 weights
  // go to sgemm from m = 9.
  static constexpr int64_t kChunkedM = 16;
  // Q8_0/Q4_0 weights with m up to this take the integer path; above, dequantized panels
  // and sgemm. Measured with backend_bench --dtypes=Q8_0,Q4_0 --prefill_m=17,32,64, with
  // and without --batch_invariant (which forces the integer path), AVX2 EPYC, 2 threads:
  // at m = 17 the integer path took 0.5-0.75x sgemm's time, at m = 32 0.8-1.2x (a tie),
  // at m = 64 1.1-1.4x (bench/results/quantized_2026-12-02.md).
  static constexpr int64_t kQuantizedIntegerM = 32;
  // bf16 weights with at least this many rows take the bf16_gemm() path.
  static constexpr int64_t kBf16GemmMinM = 9;

  // How bf16-weight Linear runs at m >= kBf16GemmMinM, fastest last.
  enum class Bf16Gemm {
    kF32 = 0,  // weights converted to f32 panels, OpenBLAS sgemm; f32 activations
    kDot = 1,  // AVX-512 BF16 vdpbf16ps (dpbf16_gemm.h); bf16 activations
    kAmx = 2,  // AMX tiles (amx_gemm.h); bf16 activations
  };
  // "f32", "dot", "amx"; nullopt for any other name.
  static std::optional<Bf16Gemm> ParseBf16Gemm(std::string_view name);
  // The highest path this machine allows at `level` (both bf16 paths need the avx512 level).
  static Bf16Gemm AvailableBf16Gemm(IsaLevel level);
  // The path a backend starts with: AMX where available, else kF32.
  static Bf16Gemm DefaultBf16Gemm(IsaLevel level);

  // REQUIRES: pool != nullptr and outlives the backend.
  explicit CpuBackend(ThreadPool* pool, std::optional<IsaLevel> forced_isa = std::nullopt);
  ~CpuBackend() override;

  IsaLevel isa() const { return isa_; }
  // Whether Q8_0/Q4_0 Linear runs the AVX-512 VNNI kernel.
  bool uses_vnni() const;

  Bf16Gemm bf16_gemm() const { return bf16_gemm_; }
  // Sets the path, lowered to AvailableBf16Gemm(isa()). Takes effect at the next op.
  void set_bf16_gemm(Bf16Gemm path);

  // Turns the batch-invariant mode on or off (off at construction). Takes effect at the
  // next op.
  void set_batch_invariant(bool on) { batch_invariant_ = on; }
  bool batch_invariant() const { return batch_invariant_; }
  std::string_view name() const override { return name_; }

  void Linear(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y, int64_t ldy,
              bool accumulate) override;
  void RmsNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
               float eps, float* y, int64_t ldy) override;
  void LayerNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
                 const float* bias, float eps, float* y, int64_t ldy) override;
  void Rotary(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
              const int32_t* pos, float theta) override;
  void RotaryFreqs(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                   const int32_t* pos, const double* inv_freq) override;
  void SwiGlu(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows, int64_t n,
              float* out, int64_t ldo) override;
  void Embedding(const int32_t* ids, int64_t rows, const WeightRef& table, float* y,
                 int64_t ldy) override;
  void StoreKv(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
               const kv::KvSlot* slots, const kv::KvLayerView& kv) override;
  void Attention(const AttentionArgs& args) override;
  void GatherRows(const float* src, int64_t lds, const int32_t* index, int64_t rows, int64_t cols,
                  float* dst, int64_t ldd) override;
  void Add(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y, int64_t ldy) override;

 private:
  // Linear with Q8_0/Q4_0 weights on the integer path, split over output rows.
  void LinearQuantized(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                       int64_t ldy, bool accumulate);
  // Output rows per thread chunk for a streaming Linear over w.
  static int64_t StreamGrain(const WeightRef& w);
  // Linear for m <= kSmallM, split over output rows.
  void LinearSmall(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                   int64_t ldy, bool accumulate);
  // Linear in the batch-invariant mode, any m: per thread, panels of output rows (about
  // 256 KiB of weights, kept in cache) times chunks of <= invariant_max_m input rows.
  void LinearInvariant(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                       int64_t ldy, bool accumulate);
  // Linear on the bf16_gemm() path (kDot: bf16 weights; kAmx: bf16, Q8_0 or Q4_0 weights,
  // the latter dequantized per panel and rounded to bf16): the rows packed once, then split
  // over output rows; the output rows past the last whole 16 go to sgemm on the same
  // bf16-rounded rows and weights.
  void LinearBf16(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y, int64_t ldy,
                  bool accumulate);
  // Linear for larger m: OpenBLAS sgemm per thread over output-row ranges.
  void LinearLarge(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                   int64_t ldy, bool accumulate);
  // Rotary with the given inverse frequencies (head_dim / 2 of them), split over rows.
  void RotaryWith(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                  const int32_t* pos, const double* inv_freq);
  // Per-thread scratch of at least `floats` floats (grown on demand, never shrunk).
  float* Scratch(int thread, int64_t floats);

  ThreadPool* pool_;
  IsaLevel isa_;
  std::string name_;
  const Kernels* kernels_;
  // kernels_->linear_quantized, or its VNNI variant where the CPU has AVX512_VNNI.
  void (*linear_quantized_)(const QuantizedRows&, const WeightRef&, int64_t, int64_t, float*,
                            int64_t, bool);
  bool batch_invariant_ = false;
  Bf16Gemm bf16_gemm_ = Bf16Gemm::kF32;
  Tensor bf16_x_;  // LinearBf16's packed input rows (bf16, 64-byte aligned; grown on demand)
  std::vector<int8_t> xq_;                   // LinearQuantized's quantized input rows
  std::vector<float> xq_scales_;             // and their per-block d and s
  std::vector<std::vector<float>> scratch_;  // one per pool thread
  std::vector<int64_t> attention_bounds_;    // per-thread (row, head) ranges of Attention
  // Rotary inverse frequencies theta^(-2i/head_dim), cached for the last (head_dim, theta).
  std::vector<double> inv_freq_;
  int32_t inv_freq_dim_ = 0;
  float inv_freq_theta_ = 0;
};

}  // namespace mot::backend::cpu

#endif  // MOT_ENGINE_BACKEND_CPU_CPU_BACKEND_H_
