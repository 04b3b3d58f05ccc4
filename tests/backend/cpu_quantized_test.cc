// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Q8_0 / Q4_0 weights on the CPU backend, at every ISA level this machine has (and the
// AVX-512 VNNI kernel where the CPU has AVX512_VNNI): the integer kernels against
// LinearQuantizedRef (same quantized activations, f64 sums), the backend's Linear against
// LinearRef on the dequantized weights (integer path: within the activations' int8
// rounding; dequantize + sgemm path: f32 rounding), the activation quantizer bit for bit,
// and batch invariance. Tolerances are atol + rtol * |ref|, written beside each check.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/cpu_features.h"
#include "engine/backend/cpu/cpu_kernels.h"
#include "engine/backend/cpu/reference_ops.h"
#include "engine/core/block_quant.h"
#include "engine/core/dtype.h"
#include "engine/core/thread_pool.h"
#include "gtest/gtest.h"

namespace mot::backend::cpu {
namespace {

std::vector<float> RandomVector(int64_t n, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (auto& x : v) x = dist(rng);
  return v;
}

struct HostWeight {
  std::vector<uint8_t> bytes;
  WeightRef ref;
};

HostWeight MakeWeight(DType dtype, int64_t rows, int64_t cols, std::mt19937& rng) {
  const auto f = RandomVector(rows * cols, rng);
  HostWeight w;
  w.bytes.resize(static_cast<size_t>(DTypeBytes(dtype, rows * cols)) + 64);
  ConvertFromF32(f.data(), rows * cols, dtype, w.bytes.data());
  w.ref = WeightRef{w.bytes.data(), dtype, rows, cols};
  return w;
}

// Max |got - ref| where it exceeds atol + rtol * |ref| (0 if none), reporting the first few.
void ExpectClose(const float* got, const float* ref, int64_t rows, int64_t cols, int64_t ld,
                 double atol, double rtol, const std::string& what) {
  int reported = 0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const double g = got[r * ld + c], e = ref[r * ld + c];
      if (!(std::abs(g - e) <= atol + rtol * std::abs(e)) && reported++ < 5) {
        ADD_FAILURE() << what << ": at [" << r << ", " << c << "] got " << g << " want " << e;
      }
    }
  }
}

constexpr DType kQuantDTypes[] = {DType::kQ8_0, DType::kQ4_0};

class CpuQuantizedTest : public ::testing::TestWithParam<IsaLevel> {
 protected:
  // m > 32 on the sgemm path (f32 rounding only); cpu_bf16_gemm_test.cc checks the AMX one.
  CpuQuantizedTest() : pool_(2), backend_(&pool_, GetParam()) {
    backend_.set_bf16_gemm(CpuBackend::Bf16Gemm::kF32);
  }
  ThreadPool pool_;
  CpuBackend backend_;
};

TEST_P(CpuQuantizedTest, QuantizeRowsEqualsTheReferenceBitForBit) {
  std::mt19937 rng(1);
  const Kernels& k = KernelsFor(GetParam());
  for (int64_t cols : {32, 96, 2048}) {
    auto x = RandomVector(3 * cols, rng, -3.0f, 3.0f);
    std::fill_n(x.begin(), 32, 0.0f);  // an all-zero block: d = 0, q = 0
    x[40] = 1e-30f;                    // a tiny block maximum
    const int64_t nb = cols / 32;
    std::vector<int8_t> q(3 * cols), q_ref(cols);
    std::vector<float> d(3 * nb), s(3 * nb), d_ref(nb), s_ref(nb);
    k.quantize_rows(x.data(), cols, 0, 3, cols, q.data(), d.data(), s.data());
    for (int64_t r = 0; r < 3; ++r) {
      QuantizeRowRef(x.data() + r * cols, cols, q_ref.data(), d_ref.data(), s_ref.data());
      EXPECT_EQ(std::memcmp(q.data() + r * cols, q_ref.data(), cols), 0) << "row " << r;
      EXPECT_EQ(std::memcmp(d.data() + r * nb, d_ref.data(), nb * 4), 0) << "row " << r;
      EXPECT_EQ(std::memcmp(s.data() + r * nb, s_ref.data(), nb * 4), 0) << "row " << r;
    }
  }
}

// The integer kernel(s) of this level against LinearQuantizedRef: only the f32 summation
// order differs (terms |w x| <= 1, so atol grows with the row length).
void CheckKernel(const char* name,
                 void (*kernel)(const QuantizedRows&, const WeightRef&, int64_t, int64_t, float*,
                                int64_t, bool),
                 const Kernels& k, DType dtype, int64_t m, int64_t out, int64_t in, bool acc,
                 std::mt19937& rng) {
  const HostWeight w = MakeWeight(dtype, out, in, rng);
  const int64_t ldx = in + 8, ldy = out + 3;
  const auto x = RandomVector(m * ldx, rng);
  const auto y0 = RandomVector(m * ldy, rng);
  const int64_t nb = in / 32;
  std::vector<int8_t> q(static_cast<size_t>(m * in));
  std::vector<float> d(static_cast<size_t>(m * nb)), s(static_cast<size_t>(m * nb));
  k.quantize_rows(x.data(), ldx, 0, m, in, q.data(), d.data(), s.data());
  std::vector<float> got = y0, want = y0;
  // Two output ranges, as two threads would run them.
  const QuantizedRows xq{q.data(), d.data(), s.data(), m, in};
  kernel(xq, w.ref, 0, out / 2, got.data(), ldy, acc);
  kernel(xq, w.ref, out / 2, out, got.data(), ldy, acc);
  LinearQuantizedRef(x.data(), m, ldx, w.ref, want.data(), ldy, acc);
  const std::string what = std::string(name) + " " + DTypeName(dtype) + " m=" + std::to_string(m) +
                           " out=" + std::to_string(out) + " in=" + std::to_string(in) +
                           (acc ? " acc" : "");
  ExpectClose(got.data(), want.data(), m, out, ldy, 2e-6 * static_cast<double>(in) + 1e-6, 1e-5,
              what);
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t c = out; c < ldy; ++c) {
      ASSERT_EQ(got[i * ldy + c], y0[i * ldy + c]) << what << " wrote past the row";
    }
  }
}

TEST_P(CpuQuantizedTest, KernelsMatchTheIntegerReferenceOnRandomShapes) {
  std::mt19937 rng(2);
  const Kernels& k = KernelsFor(GetParam());
  for (DType dtype : kQuantDTypes) {
    for (int64_t m : {1, 2, 3, 4, 5, 7, 8, 9, 13}) {
      // 4128 = 129 blocks: two full runs of converted scales (kScaleRun) and a partial one
      // with an odd block count.
      for (auto [out, in] : {std::pair<int64_t, int64_t>{1, 32},
                             {17, 64},
                             {37, 96},
                             {130, 320},
                             {9, 2048},
                             {5, 4128}}) {
        CheckKernel(IsaName(GetParam()), k.linear_quantized, k, dtype, m, out, in, m % 2 == 1, rng);
      }
    }
  }
}

TEST_P(CpuQuantizedTest, VnniKernelMatchesTheReferenceWhereTheCpuHasIt) {
  const Kernels& k = KernelsFor(GetParam());
  if (k.linear_quantized_vnni == nullptr) {
    GTEST_SKIP() << IsaName(GetParam()) << " has no VNNI kernel";
  }
  if (!DetectCpuFeatures().avx512_vnni) {
    GTEST_SKIP() << "this CPU has no AVX512_VNNI: the vpdpbusd kernel is compiled but not run";
  }
  std::mt19937 rng(3);
  for (DType dtype : kQuantDTypes) {
    for (int64_t m : {1, 3, 4, 9}) {
      CheckKernel("avx512-vnni", k.linear_quantized_vnni, k, dtype, m, 37, 320, m == 3, rng);
      CheckKernel("avx512-vnni", k.linear_quantized_vnni, k, dtype, m, 5, 4128, m == 3, rng);
    }
  }
}

// Backend Linear against LinearRef on the dequantized weights. The integer path (m <= 32)
// adds the activations' rounding: |x - x^| <= max|x_block| / 254, so per output at most
// in / 254 (|w| <= 1), and in RMS about 0.4% of the output's RMS for uniform x; the sgemm
// path (m > 32) differs by f32 rounding only.
TEST_P(CpuQuantizedTest, BackendLinearMatchesDequantizedWeights) {
  std::mt19937 rng(4);
  for (DType dtype : kQuantDTypes) {
    for (int64_t m : {1, 3, 8, 17, 32, 33, 40}) {
      for (auto [out, in] : {std::pair<int64_t, int64_t>{37, 64}, {600, 512}}) {
        const HostWeight w = MakeWeight(dtype, out, in, rng);
        const auto x = RandomVector(m * in, rng);
        std::vector<float> got(static_cast<size_t>(m * out)), want(got.size());
        backend_.Linear(x.data(), m, in, w.ref, got.data(), out, false);
        LinearRef(x.data(), m, in, w.ref, want.data(), out, false);
        const std::string what = std::string(backend_.name()) + " " + DTypeName(dtype) +
                                 " m=" + std::to_string(m) + " " + std::to_string(out) + "x" +
                                 std::to_string(in);
        if (m > CpuBackend::kQuantizedIntegerM) {
          ExpectClose(got.data(), want.data(), m, out, out, 2e-6 * in + 1e-6, 1e-5, what);
          continue;
        }
        ExpectClose(got.data(), want.data(), m, out, out, static_cast<double>(in) / 254.0, 0, what);
        double err2 = 0, ref2 = 0;
        for (size_t i = 0; i < got.size(); ++i) {
          err2 += (got[i] - want[i]) * (got[i] - want[i]);
          ref2 += want[i] * want[i];
        }
        EXPECT_LT(std::sqrt(err2 / ref2), 0.01) << what << ": RMS relative error";
      }
    }
  }
}

TEST_P(CpuQuantizedTest, BatchInvariantRowsAreBitwiseTheSameAloneOrBatched) {
  std::mt19937 rng(5);
  backend_.set_batch_invariant(true);
  for (DType dtype : kQuantDTypes) {
    const int64_t out = 300, in = 256;
    const HostWeight w = MakeWeight(dtype, out, in, rng);
    const auto probe = RandomVector(in, rng);
    std::vector<float> alone(static_cast<size_t>(out));
    backend_.Linear(probe.data(), 1, in, w.ref, alone.data(), out, false);
    for (int64_t m : {2, 5, 33}) {
      auto x = RandomVector(m * in, rng);
      const int64_t row = m / 2;
      std::copy(probe.begin(), probe.end(), x.begin() + row * in);
      std::vector<float> y(static_cast<size_t>(m * out));
      backend_.Linear(x.data(), m, in, w.ref, y.data(), out, false);
      EXPECT_EQ(std::memcmp(y.data() + row * out, alone.data(), out * 4), 0)
          << backend_.name() << " " << DTypeName(dtype) << " m=" << m;
    }
  }
}

TEST_P(CpuQuantizedTest, EmbeddingOfAQuantizedTableDequantizesItsRows) {
  std::mt19937 rng(6);
  for (DType dtype : kQuantDTypes) {
    const HostWeight table = MakeWeight(dtype, 10, 64, rng);
    const int32_t ids[] = {3, 0, 9};
    std::vector<float> got(3 * 64), want(3 * 64);
    backend_.Embedding(ids, 3, table.ref, got.data(), 64);
    EmbeddingRef(ids, 3, table.ref, want.data(), 64);
    EXPECT_EQ(got, want) << DTypeName(dtype);
  }
}

INSTANTIATE_TEST_SUITE_P(AllLevels, CpuQuantizedTest, ::testing::ValuesIn(AvailableIsaLevels()),
                         [](const auto& info) { return std::string(IsaName(info.param)); });

}  // namespace
}  // namespace mot::backend::cpu
