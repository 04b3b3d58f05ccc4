// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// CpuBackend's bf16 Linear on AMX tiles (amx_gemm.h) and on AVX-512 BF16 dot products
// (dpbf16_gemm.h), each against the scalar reference run on the same inputs rounded to bf16:
// shapes with whole and partial 16-row input blocks, output rows past the last whole tile
// (the streaming tail), padded strides, accumulate, and the switches that turn them off.
// Each path skips, saying why, where the CPU or OS does not have it.
#include <cstdint>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "engine/backend/cpu/amx_gemm.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/cpu_features.h"
#include "engine/backend/cpu/dpbf16_gemm.h"
#include "engine/backend/cpu/reference_ops.h"
#include "engine/core/block_quant.h"
#include "engine/core/dtype.h"
#include "engine/core/thread_pool.h"
#include "gtest/gtest.h"

namespace mot::backend::cpu {
namespace {

using Bf16Gemm = CpuBackend::Bf16Gemm;

class CpuBf16GemmTest : public ::testing::TestWithParam<Bf16Gemm> {
 protected:
  CpuBf16GemmTest() : pool_(2), backend_(&pool_) {}
  void SetUp() override {
    const CpuFeatures& f = DetectCpuFeatures();
    if (GetParam() == Bf16Gemm::kAmx && !f.amx_bf16) {
      GTEST_SKIP() << "no AMX-BF16 here (CPUID, XCR0 tile state or the Linux grant missing)";
    }
    if (GetParam() == Bf16Gemm::kDot && !f.avx512_bf16) {
      GTEST_SKIP() << "no AVX512_BF16 here";
    }
    backend_.set_bf16_gemm(GetParam());
    if (backend_.bf16_gemm() != GetParam()) {
      GTEST_SKIP() << "the ISA level is below avx512 (MOT_CPU_ISA or MOT_CPU_BF16_GEMM set?)";
    }
  }
  ThreadPool pool_;
  CpuBackend backend_;
};

std::vector<float> Uniform(int64_t n, std::mt19937& rng, float range = 1.0f) {
  std::uniform_real_distribution<float> dist(-range, range);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

// Linear on the backend against LinearRef on bf16-rounded x: the same math up to the order of
// f32 sums. Returns the max |diff| for the caller's message.
void CheckBf16Linear(CpuBackend& backend, int64_t m, int64_t out, int64_t in, int64_t pad,
                     bool accumulate, std::mt19937& rng) {
  const auto wf = Uniform(out * in, rng);
  std::vector<uint16_t> wb(static_cast<size_t>(out * in));
  ConvertFromF32(wf.data(), out * in, DType::kBF16, wb.data());
  const WeightRef w{wb.data(), DType::kBF16, out, in};
  const int64_t ldx = in + pad;
  const int64_t ldy = out + pad;
  const auto x = Uniform(m * ldx, rng);
  std::vector<float> x_bf16 = x;
  for (float& v : x_bf16) v = BF16ToF32(F32ToBF16(v));
  const auto y0 = Uniform(m * ldy, rng);
  std::vector<float> got = y0;
  std::vector<float> want = y0;
  backend.Linear(x.data(), m, ldx, w, got.data(), ldy, accumulate);
  LinearRef(x_bf16.data(), m, ldx, w, want.data(), ldy, accumulate);
  const std::string what = "m=" + std::to_string(m) + " out=" + std::to_string(out) +
                           " in=" + std::to_string(in) + (accumulate ? " acc" : "");
  // f32 sums of `in` exact products of magnitude <= 1 (the reference sums in f64).
  const double atol = 2e-6 * static_cast<double>(in) + 1e-6;
  int bad = 0;
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t o = 0; o < ldy; ++o) {
      const size_t at = static_cast<size_t>(i * ldy + o);
      if (o >= out) {
        ASSERT_EQ(got[at], y0[at]) << what << ": wrote past the row at [" << i << ", " << o << "]";
        continue;
      }
      const double diff = std::abs(static_cast<double>(got[at]) - want[at]);
      if (!(diff <= atol + 1e-5 * std::abs(want[at])) && bad++ < 5) {
        ADD_FAILURE() << what << ": at [" << i << ", " << o << "] got " << got[at] << " want "
                      << want[at];
      }
    }
  }
}

TEST_P(CpuBf16GemmTest, MatchesTheReferenceOnBf16RoundedInputs) {
  std::mt19937 rng(11);
  // m: just above the streaming path, one block, a block and a row, odd blocks, many.
  for (int64_t m : {9, 16, 17, 31, 33, 48, 100}) {
    // out: one tile, two, three (a 16-row remainder), tails of 2 and 1 rows after tiles.
    for (int64_t out : {16, 32, 48, 50, 97}) {
      for (int64_t in : {32, 96}) {
        CheckBf16Linear(backend_, m, out, in, (m + out) % 3, (m + out) % 2 == 1, rng);
      }
    }
  }
}

TEST_P(CpuBf16GemmTest, LargerMatricesSplitAcrossThreadsAndChunks) {
  std::mt19937 rng(12);
  // in = 4096: a 1 MiB packed chunk is 8 input blocks, so m = 300 takes several chunks.
  CheckBf16Linear(backend_, 300, 600, 4096, 0, false, rng);
  CheckBf16Linear(backend_, 130, 1030, 2048, 5, true, rng);
}

TEST_P(CpuBf16GemmTest, QuantizedWeightsAboveTheIntegerPathRunOnTheTilesWithAmx) {
  // Q8_0/Q4_0 at m > kQuantizedIntegerM: panels dequantized and rounded to bf16 (AMX only;
  // the dot path leaves them to sgemm). The reference: LinearRef on bf16(x) and on the
  // dequantized weights rounded to bf16, stored as a bf16 matrix.
  std::mt19937 rng(14);
  for (DType dtype : {DType::kQ8_0, DType::kQ4_0}) {
    for (auto [m, out, in] :
         {std::tuple<int64_t, int64_t, int64_t>{33, 50, 64}, {64, 600, 512}, {130, 96, 2048}}) {
      const auto wf = Uniform(out * in, rng);
      std::vector<uint8_t> wq(static_cast<size_t>(DTypeBytes(dtype, out * in)));
      ConvertFromF32(wf.data(), out * in, dtype, wq.data());
      std::vector<float> deq(static_cast<size_t>(out * in));
      if (dtype == DType::kQ8_0) {
        DequantizeQ8_0(reinterpret_cast<const BlockQ8_0*>(wq.data()), out * in, deq.data());
      } else {
        DequantizeQ4_0(reinterpret_cast<const BlockQ4_0*>(wq.data()), out * in, deq.data());
      }
      std::vector<uint16_t> wb(deq.size());
      ConvertFromF32(deq.data(), out * in, DType::kBF16, wb.data());
      auto x = Uniform(m * in, rng);
      std::vector<float> x_bf16 = x;
      for (float& v : x_bf16) v = BF16ToF32(F32ToBF16(v));
      std::vector<float> got(static_cast<size_t>(m * out)), want(got.size());
      backend_.Linear(x.data(), m, in, WeightRef{wq.data(), dtype, out, in}, got.data(), out,
                      false);
      const bool tiles = GetParam() == Bf16Gemm::kAmx;
      LinearRef(tiles ? x_bf16.data() : x.data(), m, in,
                tiles ? WeightRef{wb.data(), DType::kBF16, out, in}
                      : WeightRef{wq.data(), dtype, out, in},
                want.data(), out, false);
      int bad = 0;
      for (size_t i = 0; i < got.size(); ++i) {
        const double diff = std::abs(static_cast<double>(got[i]) - want[i]);
        if (!(diff <= 2e-6 * in + 1e-6 + 1e-5 * std::abs(want[i])) && bad++ < 5) {
          ADD_FAILURE() << DTypeName(dtype) << " m=" << m << " " << out << "x" << in << " at " << i
                        << ": got " << got[i] << " want " << want[i];
        }
      }
    }
  }
}

TEST_P(CpuBf16GemmTest, PackedElementsRoundRowsUpToWholeBlocks) {
  EXPECT_EQ(amx::PackedElems(1, 32), 16 * 32);
  EXPECT_EQ(amx::PackedElems(16, 64), 16 * 64);
  EXPECT_EQ(amx::PackedElems(17, 64), 32 * 64);
}

TEST_P(CpuBf16GemmTest, OffByFlagOrByLowerLevelOrInTheBatchInvariantMode) {
  // set_bf16_gemm(kF32), a backend at a lower level and the batch-invariant mode take the
  // exact f32 path: the result equals the reference on the unrounded inputs to f32
  // rounding, which bf16-rounded inputs (relative error ~2^-9 each) would not.
  std::mt19937 rng(13);
  const int64_t m = 64, out = 64, in = 256;
  const auto wf = Uniform(out * in, rng);
  std::vector<uint16_t> wb(static_cast<size_t>(out * in));
  ConvertFromF32(wf.data(), out * in, DType::kBF16, wb.data());
  const WeightRef w{wb.data(), DType::kBF16, out, in};
  const auto x = Uniform(m * in, rng);
  std::vector<float> want(static_cast<size_t>(m * out));
  LinearRef(x.data(), m, in, w, want.data(), out, false);
  auto max_diff = [&](CpuBackend& b) {
    std::vector<float> got(static_cast<size_t>(m * out));
    b.Linear(x.data(), m, in, w, got.data(), out, false);
    double d = 0;
    for (size_t i = 0; i < got.size(); ++i) d = std::max(d, std::abs(double{got[i]} - want[i]));
    return d;
  };
  EXPECT_GT(max_diff(backend_), 1e-4) << "the bf16 path shows the rounding of its inputs";
  backend_.set_bf16_gemm(Bf16Gemm::kF32);
  EXPECT_EQ(backend_.bf16_gemm(), Bf16Gemm::kF32);
  EXPECT_LT(max_diff(backend_), 1e-4);
  CpuBackend avx2(&pool_, IsaLevel::kAvx2);
  avx2.set_bf16_gemm(GetParam());
  EXPECT_EQ(avx2.bf16_gemm(), Bf16Gemm::kF32) << "the bf16 paths need the avx512 level";
  backend_.set_bf16_gemm(GetParam());
  backend_.set_batch_invariant(true);
  EXPECT_LT(max_diff(backend_), 1e-4) << "the batch-invariant mode never uses a bf16 path";
}

INSTANTIATE_TEST_SUITE_P(Paths, CpuBf16GemmTest, ::testing::Values(Bf16Gemm::kDot, Bf16Gemm::kAmx),
                         [](const ::testing::TestParamInfo<Bf16Gemm>& info) {
                           return std::string(info.param == Bf16Gemm::kAmx ? "amx" : "dot");
                         });

}  // namespace
}  // namespace mot::backend::cpu
