// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Every CpuBackend op, at every ISA level this machine has, against the scalar references
// of reference_ops.h. Tolerances are atol + rtol * |ref|, written beside each check.
#include "engine/backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <numeric>
#include <random>
#include <string>
#include <vector>

#include "engine/backend/cpu/cpu_features.h"
#include "engine/backend/cpu/reference_ops.h"
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

// A weight matrix stored in `dtype` (the reference reads the same bits).
struct HostWeight {
  std::vector<uint8_t> bytes;
  WeightRef ref;
};

HostWeight MakeWeight(DType dtype, int64_t rows, int64_t cols, std::mt19937& rng,
                      float range = 1.0f) {
  const auto f = RandomVector(rows * cols, rng, -range, range);
  HostWeight w;
  w.bytes.resize(static_cast<size_t>(rows * cols * DTypeSize(dtype)) + 64);
  ConvertFromF32(f.data(), rows * cols, dtype, w.bytes.data());
  w.ref = WeightRef{w.bytes.data(), dtype, rows, cols};
  return w;
}

// |got - ref| <= atol + rtol * |ref| for every element of a [rows, cols] block.
void ExpectClose(const float* got, int64_t ldg, const float* ref, int64_t ldr, int64_t rows,
                 int64_t cols, double atol, double rtol, const std::string& what) {
  int reported = 0;
  double max_diff = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      const double g = got[r * ldg + c];
      const double e = ref[r * ldr + c];
      const double diff = std::abs(g - e);
      max_diff = std::max(max_diff, diff);
      if (!(diff <= atol + rtol * std::abs(e)) && reported++ < 5) {
        ADD_FAILURE() << what << ": at [" << r << ", " << c << "] got " << g << " want " << e
                      << " (diff " << diff << ", tol " << atol + rtol * std::abs(e) << ")";
      }
    }
  }
  if (reported > 0)
    ADD_FAILURE() << what << ": " << reported << " mismatches, max |diff| " << max_diff;
}

class CpuBackendTest : public ::testing::TestWithParam<IsaLevel> {
 protected:
  // The bf16 GEMMs (bf16 activations) off: these tests hold every path to f32 rounding of
  // the exact products; cpu_bf16_gemm_test.cc checks those against bf16-rounded inputs.
  CpuBackendTest() : pool_(2), backend_(&pool_, GetParam()) {
    backend_.set_bf16_gemm(CpuBackend::Bf16Gemm::kF32);
  }
  ThreadPool pool_;
  CpuBackend backend_;
};

constexpr DType kDTypes[] = {DType::kF32, DType::kBF16, DType::kF16};

TEST_P(CpuBackendTest, UsesTheRequestedLevel) { EXPECT_EQ(backend_.isa(), GetParam()); }

// Runs Linear and LinearRef on the same inputs (y pre-filled for accumulate) and compares.
void CheckLinear(CpuBackend& backend, DType dtype, int64_t m, int64_t out, int64_t in, int64_t pad,
                 bool accumulate, std::mt19937& rng) {
  const HostWeight w = MakeWeight(dtype, out, in, rng);
  const int64_t ldx = in + pad;
  const int64_t ldy = out + pad;
  const auto x = RandomVector(m * ldx, rng);
  const auto y0 = RandomVector(m * ldy, rng);
  std::vector<float> got = y0;
  std::vector<float> want = y0;
  backend.Linear(x.data(), m, ldx, w.ref, got.data(), ldy, accumulate);
  LinearRef(x.data(), m, ldx, w.ref, want.data(), ldy, accumulate);
  // f32 accumulation of `in` products of magnitude <= 1 (the reference sums in f64).
  const double atol = 2e-6 * static_cast<double>(in) + 1e-6;
  const std::string what = std::string(backend.name()) + " Linear " + DTypeName(dtype) +
                           " m=" + std::to_string(m) + " out=" + std::to_string(out) +
                           " in=" + std::to_string(in) + (accumulate ? " acc" : "");
  ExpectClose(got.data(), ldy, want.data(), ldy, m, out, atol, 1e-5, what);
  // Padding between rows is untouched.
  for (int64_t i = 0; i < m; ++i) {
    for (int64_t c = out; c < ldy; ++c) {
      ASSERT_EQ(got[static_cast<size_t>(i * ldy + c)], y0[static_cast<size_t>(i * ldy + c)])
          << what << " wrote past the row";
    }
  }
}

TEST_P(CpuBackendTest, LinearDecodeAllInputWidths) {
  std::mt19937 rng(1);
  for (DType dtype : kDTypes) {
    for (int64_t in = 1; in <= 130; ++in) {
      CheckLinear(backend_, dtype, in % 3 == 0 ? 3 : 1, 37, in, in % 2, in % 4 == 1, rng);
    }
  }
}

TEST_P(CpuBackendTest, LinearEverySmallM) {
  std::mt19937 rng(2);
  for (DType dtype : kDTypes) {
    for (int64_t m = 1; m <= 8; ++m) {
      for (bool acc : {false, true}) {
        CheckLinear(backend_, dtype, m, 83, 67, 3, acc, rng);
        CheckLinear(backend_, dtype, m, 130, 128, 0, acc, rng);
      }
    }
  }
}

TEST_P(CpuBackendTest, LinearOutputsNotAMultipleOfTheChunk) {
  std::mt19937 rng(3);
  for (DType dtype : kDTypes) {
    for (int64_t out : {1, 7, 15, 17, 31, 33, 100, 257}) {
      CheckLinear(backend_, dtype, 1, out, 48, 5, false, rng);
      CheckLinear(backend_, dtype, 2, out, 33, 0, true, rng);
    }
  }
}

TEST_P(CpuBackendTest, LinearSplitsLargerMatricesAcrossThreads) {
  // >= 64 KiB of weights per chunk: these are split over the pool's two threads, at row
  // counts that are not a multiple of the chunk.
  std::mt19937 rng(17);
  for (DType dtype : kDTypes) {
    for (int64_t out : {1001, 2049}) {
      CheckLinear(backend_, dtype, 1, out, 130, 3, false, rng);
      CheckLinear(backend_, dtype, 3, out, 67, 0, true, rng);
    }
  }
}

TEST_P(CpuBackendTest, LinearLargerMChunkedOrSgemm) {
  std::mt19937 rng(4);
  for (DType dtype : kDTypes) {
    for (int64_t m : {9, 12, 16, 17, 64}) {  // chunked (bf16/f16 <= 16) or sgemm
      for (bool acc : {false, true}) {
        CheckLinear(backend_, dtype, m, 97, 130, 7, acc, rng);
      }
    }
    CheckLinear(backend_, dtype, 33, 600, 300, 1, true, rng);
    // in = 4096: conversion panels of 256 rows, so each thread's 300 rows take two.
    CheckLinear(backend_, dtype, 9, 600, 4096, 0, false, rng);
  }
}

TEST_P(CpuBackendTest, LinearLargeValuesKeepRelativeAccuracy) {
  std::mt19937 rng(5);
  for (DType dtype : kDTypes) {
    const HostWeight w = MakeWeight(dtype, 50, 96, rng, 100.0f);
    const auto x = RandomVector(4 * 96, rng, -100.0f, 100.0f);
    std::vector<float> got(4 * 50), want(4 * 50);
    backend_.Linear(x.data(), 4, 96, w.ref, got.data(), 50, false);
    LinearRef(x.data(), 4, 96, w.ref, want.data(), 50, false);
    // Products up to 1e4, 96 of them: f32 rounding ~1e4 * 96 * 6e-8.
    ExpectClose(got.data(), 50, want.data(), 50, 4, 50, 0.1, 1e-5, "large values");
  }
}

TEST_P(CpuBackendTest, RmsNormMatchesReference) {
  std::mt19937 rng(6);
  for (int64_t dim : {1, 7, 16, 64, 130, 1000, 4096}) {
    const int64_t rows = 5, ld = dim + 3;
    const auto x = RandomVector(rows * ld, rng, -3.0f, 3.0f);
    const auto weight = RandomVector(dim, rng, 0.5f, 1.5f);
    std::vector<float> got(x.size(), 7.0f), want(x.size(), 7.0f);
    backend_.RmsNorm(x.data(), rows, dim, ld, weight.data(), 1e-6f, got.data(), ld);
    RmsNormRef(x.data(), rows, dim, ld, weight.data(), 1e-6f, want.data(), ld);
    // f32 sum of squares (the reference uses f64): a few ulp.
    ExpectClose(got.data(), ld, want.data(), ld, rows, dim, 1e-6, 2e-6, "RmsNorm");
    // In place (y == x).
    std::vector<float> inplace = x;
    backend_.RmsNorm(inplace.data(), rows, dim, ld, weight.data(), 1e-6f, inplace.data(), ld);
    ExpectClose(inplace.data(), ld, want.data(), ld, rows, dim, 1e-6, 2e-6, "RmsNorm in place");
  }
}

TEST_P(CpuBackendTest, LayerNormMatchesReferenceWithAndWithoutBias) {
  std::mt19937 rng(7);
  for (int64_t dim : {1, 5, 64, 257, 1024}) {
    const int64_t rows = 4, ld = dim + 1;
    auto x = RandomVector(rows * ld, rng, -2.0f, 2.0f);
    for (auto& v : x) v += 10.0f;  // an offset mean: catches one-pass variance
    const auto weight = RandomVector(dim, rng, 0.5f, 1.5f);
    const auto bias = RandomVector(dim, rng);
    for (const float* b : {static_cast<const float*>(nullptr), bias.data()}) {
      std::vector<float> got(x.size()), want(x.size());
      backend_.LayerNorm(x.data(), rows, dim, ld, weight.data(), b, 1e-5f, got.data(), ld);
      LayerNormRef(x.data(), rows, dim, ld, weight.data(), b, 1e-5f, want.data(), ld);
      // Normalized values are O(1); f32 mean/variance of values near 10: ~1e-5 absolute.
      ExpectClose(got.data(), ld, want.data(), ld, rows, dim, 2e-5, 1e-5,
                  b != nullptr ? "LayerNorm bias" : "LayerNorm");
      std::vector<float> inplace = x;
      backend_.LayerNorm(inplace.data(), rows, dim, ld, weight.data(), b, 1e-5f, inplace.data(),
                         ld);
      ExpectClose(inplace.data(), ld, want.data(), ld, rows, dim, 2e-5, 1e-5, "LayerNorm in place");
    }
  }
}

TEST_P(CpuBackendTest, RotaryMatchesReferenceUpToLongPositions) {
  std::mt19937 rng(8);
  for (int32_t head_dim : {2, 8, 64, 128}) {
    for (float theta : {10000.0f, 500000.0f}) {
      const int32_t n_heads = 3;
      const int64_t rows = 40, ld = n_heads * head_dim + 4;
      std::vector<int32_t> pos(static_cast<size_t>(rows));
      std::uniform_int_distribution<int32_t> pd(0, 4096);
      for (auto& p : pos) p = pd(rng);
      pos[0] = 0;
      pos[1] = 4095;
      pos[2] = 4096;
      const auto x = RandomVector(rows * ld, rng);
      std::vector<float> got = x, want = x;
      backend_.Rotary(got.data(), rows, ld, n_heads, head_dim, pos.data(), theta);
      RotaryRef(want.data(), rows, ld, n_heads, head_dim, pos.data(), theta);
      // cos/sin from f64 angles rounded to f32, rotation in f32: a few ulp of |x| <= 1.
      ExpectClose(got.data(), ld, want.data(), ld, rows, ld, 1e-6, 1e-6,
                  "Rotary head_dim " + std::to_string(head_dim));
    }
  }
}

TEST_P(CpuBackendTest, RotaryAtPositionZeroIsIdentity) {
  std::mt19937 rng(9);
  const auto x = RandomVector(2 * 64, rng);
  std::vector<float> got = x;
  const int32_t pos[2] = {0, 0};
  backend_.Rotary(got.data(), 2, 64, 2, 32, pos, 10000.0f);
  EXPECT_EQ(got, x);
}

TEST_P(CpuBackendTest, SwiGluMatchesReference) {
  std::mt19937 rng(10);
  for (int64_t n : {1, 15, 16, 17, 100, 1000}) {
    const int64_t rows = 3, ld = n + 2;
    const auto gate = RandomVector(rows * ld, rng, -30.0f, 30.0f);
    const auto up = RandomVector(rows * ld, rng, -2.0f, 2.0f);
    std::vector<float> got(gate.size()), want(gate.size());
    backend_.SwiGlu(gate.data(), ld, up.data(), ld, rows, n, got.data(), ld);
    SwiGluRef(gate.data(), ld, up.data(), ld, rows, n, want.data(), ld);
    // Polynomial exp (~2 ulp) plus a division and a product: within ~1e-6 relative.
    ExpectClose(got.data(), ld, want.data(), ld, rows, n, 1e-30, 1.5e-6, "SwiGlu");
    std::vector<float> inplace = gate;  // out == gate
    backend_.SwiGlu(inplace.data(), ld, up.data(), ld, rows, n, inplace.data(), ld);
    ExpectClose(inplace.data(), ld, want.data(), ld, rows, n, 1e-30, 1.5e-6, "SwiGlu in place");
  }
}

TEST_P(CpuBackendTest, SwiGluDenseSweepWithinOneMicroRelative) {
  const int n = 20001;
  std::vector<float> gate(n), up(n, 1.0f), got(n), want(n);
  for (int i = 0; i < n; ++i) gate[static_cast<size_t>(i)] = -40.0f + 80.0f * i / (n - 1);
  backend_.SwiGlu(gate.data(), n, up.data(), n, 1, n, got.data(), n);
  SwiGluRef(gate.data(), n, up.data(), n, 1, n, want.data(), n);
  // The polynomial exp must stay within 1e-6 relative of the f64 reference everywhere.
  ExpectClose(got.data(), n, want.data(), n, 1, n, 1e-30, 1e-6, "SwiGlu sweep");
}

TEST_P(CpuBackendTest, SwiGluSmallAndExtremeGates) {
  const float gate[] = {0.0f, 1e-8f, -1e-8f, 1e-3f, -80.0f, -100.0f, 80.0f, 100.0f};
  const float up[] = {1, 1, 1, 1, 1, 1, 1, 1};
  float got[8], want[8];
  backend_.SwiGlu(gate, 8, up, 8, 1, 8, got, 8);
  SwiGluRef(gate, 8, up, 8, 1, 8, want, 8);
  // silu(-100) ~ -4e-42: absolute error only (denormal range).
  ExpectClose(got, 8, want, 8, 1, 8, 1e-30, 1.5e-6, "SwiGlu extremes");
}

TEST_P(CpuBackendTest, EmbeddingCopiesRowsExactlyForEveryDType) {
  std::mt19937 rng(11);
  for (DType dtype : kDTypes) {
    for (int64_t cols : {1, 17, 64, 100}) {
      const HostWeight table = MakeWeight(dtype, 50, cols, rng);
      const int32_t ids[] = {0, 49, 3, 3, 17};
      const int64_t ld = cols + 2;
      std::vector<float> got(5 * ld, -1.0f), want(5 * ld, -1.0f);
      backend_.Embedding(ids, 5, table.ref, got.data(), ld);
      EmbeddingRef(ids, 5, table.ref, want.data(), ld);
      EXPECT_EQ(got, want) << DTypeName(dtype) << " cols " << cols;
    }
  }
}

TEST_P(CpuBackendTest, AddAndGatherRows) {
  std::mt19937 rng(12);
  const int64_t rows = 7, cols = 45, ld = 50;
  const auto x = RandomVector(rows * ld, rng);
  const auto y0 = RandomVector(rows * ld, rng);
  std::vector<float> got = y0, want = y0;
  backend_.Add(x.data(), ld, rows, cols, got.data(), ld);
  AddRef(x.data(), ld, rows, cols, want.data(), ld);
  EXPECT_EQ(got, want);
  const int32_t index[] = {6, 0, 0, 3};
  std::vector<float> dst(4 * 46, 9.0f);
  backend_.GatherRows(x.data(), ld, index, 4, cols, dst.data(), 46);
  for (int64_t r = 0; r < 4; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      ASSERT_EQ(dst[static_cast<size_t>(r * 46 + c)], x[static_cast<size_t>(index[r] * ld + c)]);
    }
    EXPECT_EQ(dst[static_cast<size_t>(r * 46 + 45)], 9.0f);
  }
}

// A KV layer for tests: pools of the given dtypes, filled with NaN bit patterns (0xFF
// bytes) so that a kernel reading a slot nobody wrote poisons its output; entries listed as
// KvLayerView wants them.
struct TestKv {
  int64_t kv_dim = 0;
  int32_t block_size = 0;
  std::vector<std::vector<uint8_t>> k, v;  // [pool] bytes
  std::vector<kv::KvPoolView> pools;
  std::vector<kv::KvBlockEntry> entries;
  std::vector<int32_t> seq_entry_begin = {0};

  kv::KvLayerView view() const {
    kv::KvLayerView view;
    view.pools = pools.data();
    view.num_pools = static_cast<int32_t>(pools.size());
    view.kv_dim = kv_dim;
    view.block_size = block_size;
    view.entries = entries.data();
    view.seq_entry_begin = seq_entry_begin.data();
    return view;
  }
  void AddPool(DType dtype, int32_t blocks) {
    const size_t bytes = static_cast<size_t>(blocks * block_size * kv_dim * DTypeSize(dtype));
    k.emplace_back(bytes, 0xFF);
    v.emplace_back(bytes, 0xFF);
    pools.push_back({k.back().data(), v.back().data(), dtype});
  }
};

// One pool of `dtype`, block_size = max_len, sequence s = block s: the contiguous cache.
TestKv MakeContiguousKv(int32_t seqs, int32_t max_len, int64_t kv_dim, DType dtype = DType::kF32) {
  TestKv t;
  t.kv_dim = kv_dim;
  t.block_size = max_len;
  t.AddPool(dtype, seqs);
  for (int32_t s = 0; s < seqs; ++s) {
    t.entries.push_back({0, s, 0, max_len});
    t.seq_entry_begin.push_back(s + 1);
  }
  return t;
}

// Pools of `dtypes` with blocks of `block_size` in shuffled order; sequence s covers
// positions 0..lens[s]-1 in runs of 1..block_size positions (a partly filled block ends a
// run half the time, as a modality switch does), each run in a random pool.
TestKv MakePagedKv(const std::vector<DType>& dtypes, int32_t block_size, int64_t kv_dim,
                   const std::vector<int32_t>& lens, std::mt19937& rng) {
  TestKv t;
  t.kv_dim = kv_dim;
  t.block_size = block_size;
  const int32_t num_pools = static_cast<int32_t>(dtypes.size());
  std::uniform_int_distribution<int32_t> pool_dist(0, num_pools - 1);
  std::uniform_int_distribution<int32_t> run_dist(1, block_size);
  std::vector<int32_t> used(dtypes.size(), 0);
  for (int32_t len : lens) {
    for (int32_t p = 0; p < len;) {
      const int32_t run = std::min(len - p, rng() % 2 ? block_size : run_dist(rng));
      const int32_t pool = pool_dist(rng);
      t.entries.push_back({pool, used[static_cast<size_t>(pool)]++, p, run});
      p += run;
    }
    t.seq_entry_begin.push_back(static_cast<int32_t>(t.entries.size()));
  }
  // Physical blocks: a shuffled permutation per pool, with a few unused blocks.
  std::vector<std::vector<int32_t>> ids(dtypes.size());
  for (int32_t p = 0; p < num_pools; ++p) {
    ids[static_cast<size_t>(p)].resize(static_cast<size_t>(used[static_cast<size_t>(p)] + 3));
    std::iota(ids[static_cast<size_t>(p)].begin(), ids[static_cast<size_t>(p)].end(), 0);
    std::shuffle(ids[static_cast<size_t>(p)].begin(), ids[static_cast<size_t>(p)].end(), rng);
    t.AddPool(dtypes[static_cast<size_t>(p)], used[static_cast<size_t>(p)] + 3);
  }
  for (kv::KvBlockEntry& e : t.entries) e.block = ids[static_cast<size_t>(e.pool)][e.block];
  return t;
}

// Stores random keys (in [-range, range]) and values (in [-1, 1]) at positions 0..lens[s]-1
// of every sequence s through backend.StoreKv with the slots of view.Locate.
void FillKv(Backend& backend, const TestKv& t, const std::vector<int32_t>& lens, float range,
            std::mt19937& rng) {
  const kv::KvLayerView view = t.view();
  for (int32_t s = 0; s < static_cast<int32_t>(lens.size()); ++s) {
    const int32_t n = lens[static_cast<size_t>(s)];
    std::vector<kv::KvSlot> slots(static_cast<size_t>(n));
    for (int32_t p = 0; p < n; ++p) slots[static_cast<size_t>(p)] = view.Locate(s, p);
    const auto k = RandomVector(n * t.kv_dim, rng, -range, range);
    const auto v = RandomVector(n * t.kv_dim, rng);
    backend.StoreKv(k.data(), t.kv_dim, v.data(), t.kv_dim, n, slots.data(), view);
  }
}

struct AttentionCase {
  int32_t n_heads, n_kv_heads, head_dim;
};

AttentionArgs MakeArgs(const AttentionCase& c, const float* q, int64_t ldq, int64_t rows,
                       const int32_t* seq, const int32_t* pos, const kv::KvLayerView& view,
                       float* out, int64_t ldo) {
  AttentionArgs a;
  a.q = q;
  a.ldq = ldq;
  a.rows = rows;
  a.seq = seq;
  a.pos = pos;
  a.kv = view;
  a.n_heads = c.n_heads;
  a.n_kv_heads = c.n_kv_heads;
  a.head_dim = c.head_dim;
  a.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
  a.out = out;
  a.ldo = ldo;
  return a;
}

TEST_P(CpuBackendTest, LocateFindsEveryPositionOfPagedEntries) {
  std::mt19937 rng(13);
  const TestKv t = MakePagedKv({DType::kF32, DType::kBF16}, 16, 8, {40, 1, 70}, rng);
  const kv::KvLayerView view = t.view();
  for (int32_t s = 0; s < 3; ++s) {
    for (int32_t e = t.seq_entry_begin[s]; e < t.seq_entry_begin[s + 1]; ++e) {
      const kv::KvBlockEntry& entry = t.entries[static_cast<size_t>(e)];
      for (int32_t j = 0; j < entry.num_pos; ++j) {
        const kv::KvSlot slot = view.Locate(s, entry.first_pos + j);
        EXPECT_EQ(slot.pool, entry.pool);
        EXPECT_EQ(slot.slot, entry.block * 16 + j);
      }
    }
  }
}

TEST_P(CpuBackendTest, StoreKvWritesItsSlotsInEachPoolDType) {
  std::mt19937 rng(13);
  const int64_t kv_dim = 12;
  TestKv t = MakePagedKv({DType::kF32, DType::kBF16, DType::kF16}, 4, kv_dim, {40, 40}, rng);
  // Every pool sees writes: one slot of each pool, plus two more.
  std::vector<kv::KvSlot> slots;
  for (int32_t p = 0; p < 3; ++p) {
    for (const kv::KvBlockEntry& e : t.entries) {
      if (e.pool == p) {
        slots.push_back({p, e.block * 4});
        break;
      }
    }
  }
  slots.push_back(t.view().Locate(1, 39));
  slots.push_back(t.view().Locate(0, 17));
  const int64_t rows = static_cast<int64_t>(slots.size());
  // Values that round differently in bf16 and f16 (and an exact tie for bf16).
  auto k = RandomVector(rows * 14, rng, -3.0f, 3.0f);
  const auto v = RandomVector(rows * 13, rng, -3.0f, 3.0f);
  k[0] = BF16ToF32(0x3f80) + std::ldexp(1.0f, -8);  // 1 + 2^-8: tie, rounds to even (1.0)
  const std::vector<std::vector<uint8_t>> k_before = t.k;
  backend_.StoreKv(k.data(), 14, v.data(), 13, rows, slots.data(), t.view());
  int64_t changed = 0;
  for (size_t p = 0; p < 3; ++p) {
    for (size_t b = 0; b < t.k[p].size(); ++b) changed += t.k[p][b] != k_before[p][b];
  }
  for (int64_t r = 0; r < rows; ++r) {
    const kv::KvSlot s = slots[static_cast<size_t>(r)];
    const DType dtype = t.pools[static_cast<size_t>(s.pool)].dtype;
    std::vector<uint8_t> want_k(static_cast<size_t>(kv_dim * DTypeSize(dtype)));
    std::vector<uint8_t> want_v(want_k.size());
    ConvertFromF32(k.data() + r * 14, kv_dim, dtype, want_k.data());
    ConvertFromF32(v.data() + r * 13, kv_dim, dtype, want_v.data());
    EXPECT_EQ(std::memcmp(t.view().KeyAt(s), want_k.data(), want_k.size()), 0)
        << "row " << r << " " << DTypeName(dtype);
    EXPECT_EQ(std::memcmp(t.view().ValueAt(s), want_v.data(), want_v.size()), 0)
        << "row " << r << " " << DTypeName(dtype);
  }
  // Nothing but the written slots changed (bytes that happen to equal 0xFF aside).
  int64_t written_bytes = 0;
  for (const kv::KvSlot& s : slots) {
    written_bytes += kv_dim * DTypeSize(t.pools[static_cast<size_t>(s.pool)].dtype);
  }
  EXPECT_LE(changed, written_bytes);
  EXPECT_GT(changed, written_bytes / 2);
  // Round to nearest even: the tie 1 + 2^-8 is stored as bf16 1.0 in the bf16 pool.
  if (t.pools[static_cast<size_t>(slots[0].pool)].dtype == DType::kBF16) {
    EXPECT_EQ(*static_cast<const uint16_t*>(t.view().KeyAt(slots[0])), 0x3f80);
  }
}

TEST_P(CpuBackendTest, AttentionOverMixedDTypePoolsMatchesReference) {
  std::mt19937 rng(14);
  // Query heads per kv head 1, 2, 3, 4, 5 and 8: the AVX-512 and AVX2 kernels for head
  // sizes 64 and 128 run them in passes of up to 4 and 2 heads.
  const AttentionCase cases[] = {{4, 4, 64},  {8, 4, 64},  {8, 2, 128}, {4, 1, 6},  {2, 2, 130},
                                 {12, 4, 64}, {6, 2, 128}, {5, 1, 64},  {8, 1, 128}};
  const std::vector<std::vector<DType>> pool_sets = {
      {DType::kF32}, {DType::kBF16, DType::kF32, DType::kF16}, {DType::kF16}};
  for (const AttentionCase& c : cases) {
    for (const auto& dtypes : pool_sets) {
      const int64_t kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
      const std::vector<int32_t> lens = {150, 300, 37};
      const TestKv t = MakePagedKv(dtypes, 16, kv_dim, lens, rng);
      FillKv(backend_, t, lens, 2.0f, rng);
      // A prefill chunk of sequence 1 (positions 100..139) and decode rows of 0 and 2, at
      // entry boundaries and inside entries.
      std::vector<int32_t> seqs, pos;
      for (int32_t p = 100; p < 140; ++p) {
        seqs.push_back(1);
        pos.push_back(p);
      }
      seqs.insert(seqs.end(), {0, 2, 2, 0, 1});
      pos.insert(pos.end(), {0, 36, 16, 149, 299});
      const int64_t rows = static_cast<int64_t>(seqs.size());
      const int64_t width = int64_t{c.n_heads} * c.head_dim;
      const int64_t ldq = width + 3, ldo = width + 1;
      const auto q = RandomVector(rows * ldq, rng, -2.0f, 2.0f);
      std::vector<float> got(static_cast<size_t>(rows * ldo)), want(got.size());
      AttentionArgs a =
          MakeArgs(c, q.data(), ldq, rows, seqs.data(), pos.data(), t.view(), got.data(), ldo);
      backend_.Attention(a);
      a.out = want.data();
      AttentionRef(a);
      std::string what = std::string(backend_.name()) + " Attention heads " +
                         std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv_heads) +
                         " head_dim " + std::to_string(c.head_dim) + " pools";
      for (DType d : dtypes) what += std::string(" ") + DTypeName(d);
      // Outputs are convex combinations of values in [-1, 1]; f32 softmax and sums over the
      // same stored (rounded) keys and values as the reference reads.
      ExpectClose(got.data(), ldo, want.data(), ldo, rows, width, 2e-6, 1e-5, what);
    }
  }
}

TEST_P(CpuBackendTest, AttentionPagedEqualsContiguous) {
  // The same keys and values in a contiguous f32 layout and in paged f32 blocks of 16.
  std::mt19937 rng(18);
  const AttentionCase c = {8, 2, 64};
  const int64_t kv_dim = 2 * 64;
  const std::vector<int32_t> lens = {200, 90};
  const TestKv paged = MakePagedKv({DType::kF32, DType::kF32}, 16, kv_dim, lens, rng);
  const TestKv contiguous = MakeContiguousKv(2, 256, kv_dim);
  for (int32_t s = 0; s < 2; ++s) {
    const int32_t n = lens[static_cast<size_t>(s)];
    const auto k = RandomVector(n * kv_dim, rng, -2.0f, 2.0f);
    const auto v = RandomVector(n * kv_dim, rng);
    for (const TestKv* t : {&paged, &contiguous}) {
      std::vector<kv::KvSlot> slots;
      for (int32_t p = 0; p < n; ++p) slots.push_back(t->view().Locate(s, p));
      backend_.StoreKv(k.data(), kv_dim, v.data(), kv_dim, n, slots.data(), t->view());
    }
  }
  const int32_t seqs[] = {0, 1, 0, 1};
  const int32_t pos[] = {199, 89, 63, 0};
  const auto q = RandomVector(4 * 512, rng, -2.0f, 2.0f);
  std::vector<float> got_paged(4 * 512), got_contig(4 * 512);
  backend_.Attention(MakeArgs(c, q.data(), 512, 4, seqs, pos, paged.view(), got_paged.data(), 512));
  backend_.Attention(
      MakeArgs(c, q.data(), 512, 4, seqs, pos, contiguous.view(), got_contig.data(), 512));
  // Runs of <= 16 vs <= 64 positions: the online softmax rescales at other points.
  ExpectClose(got_paged.data(), 512, got_contig.data(), 512, 4, 512, 2e-6, 1e-5,
              "paged vs contiguous");
}

TEST_P(CpuBackendTest, AttentionAtPositionZeroReturnsTheValue) {
  std::mt19937 rng(15);
  for (DType dtype : kDTypes) {
    const TestKv t = MakeContiguousKv(1, 16, 8, dtype);
    const auto k = RandomVector(8, rng);
    const auto v = RandomVector(8, rng);
    const kv::KvSlot slot = t.view().Locate(0, 0);
    backend_.StoreKv(k.data(), 8, v.data(), 8, 1, &slot, t.view());
    const auto q = RandomVector(16, rng);
    std::vector<float> out(16);
    const int32_t seq = 0, pos = 0;
    backend_.Attention(MakeArgs({2, 1, 8}, q.data(), 16, 1, &seq, &pos, t.view(), out.data(), 16));
    std::vector<float> stored(8);
    ConvertToF32(dtype, t.view().ValueAt(slot), 8, stored.data());
    for (int h = 0; h < 2; ++h) {
      for (int d = 0; d < 8; ++d) EXPECT_FLOAT_EQ(out[static_cast<size_t>(h * 8 + d)], stored[d]);
    }
  }
}

TEST_P(CpuBackendTest, AttentionSurvivesHugeScores) {
  // Scores of +-1e4: a softmax without max-subtraction would overflow. head_dim 4 takes the
  // generic kernel, 64 the register-resident one.
  std::mt19937 rng(16);
  for (int32_t hd : {4, 64}) {
    const std::vector<int32_t> lens = {150};
    const TestKv t = MakePagedKv({DType::kF32, DType::kBF16}, 16, hd, lens, rng);
    FillKv(backend_, t, lens, hd == 4 ? 100.0f : 25.0f, rng);
    const auto q = RandomVector(hd, rng, hd == 4 ? -100.0f : -25.0f, hd == 4 ? 100.0f : 25.0f);
    const int32_t row_seq = 0, row_pos = 149;
    std::vector<float> got(static_cast<size_t>(hd)), want(static_cast<size_t>(hd));
    AttentionArgs a =
        MakeArgs({1, 1, hd}, q.data(), hd, 1, &row_seq, &row_pos, t.view(), got.data(), hd);
    a.scale = 1.0f;
    backend_.Attention(a);
    a.out = want.data();
    AttentionRef(a);
    for (float g : got) EXPECT_TRUE(std::isfinite(g));
    // Scores ~1e4 carry f32 rounding of ~1e-3 into the exponent: loose tolerance.
    ExpectClose(got.data(), hd, want.data(), hd, 1, hd, 1e-3, 1e-2,
                "huge scores head_dim " + std::to_string(hd));
  }
}

// ---- Batch invariance: a row's result does not depend on the rows beside it. ----

// Row `row` of a [m, ld] batch of random rows, with `probe` (one row) copied in.
std::vector<float> BatchWith(const std::vector<float>& probe, int64_t m, int64_t ld, int64_t row,
                             std::mt19937& rng) {
  auto x = RandomVector(m * ld, rng);
  std::copy(probe.begin(), probe.end(), x.begin() + row * ld);
  return x;
}

TEST_P(CpuBackendTest, BatchInvariantLinearGivesBitwiseTheSameRowForAnyM) {
  std::mt19937 rng(19);
  backend_.set_batch_invariant(true);
  for (DType dtype : kDTypes) {
    // 600 x 300: split over both threads; 97 x 130: one range, odd widths (tails).
    for (auto [out, in] : {std::pair<int64_t, int64_t>{600, 300}, {97, 130}}) {
      const HostWeight w = MakeWeight(dtype, out, in, rng);
      const int64_t ldx = in + 1;
      const auto probe = RandomVector(in, rng);
      std::vector<float> alone(static_cast<size_t>(out));
      backend_.Linear(probe.data(), 1, in, w.ref, alone.data(), out, false);
      for (int64_t m : {1, 7, 33, 100}) {
        for (int64_t row : {int64_t{0}, m / 2, m - 1}) {
          const auto x = BatchWith(probe, m, ldx, row, rng);
          std::vector<float> y(static_cast<size_t>(m * out));
          backend_.Linear(x.data(), m, ldx, w.ref, y.data(), out, false);
          ASSERT_EQ(std::memcmp(y.data() + row * out, alone.data(), alone.size() * 4), 0)
              << backend_.name() << " " << DTypeName(dtype) << " " << out << "x" << in << " m=" << m
              << " row " << row;
          if (row == 0) {
            std::vector<float> want(y.size());
            LinearRef(x.data(), m, ldx, w.ref, want.data(), out, false);
            ExpectClose(y.data(), out, want.data(), out, m, out, 2e-6 * in + 1e-6, 1e-5,
                        "invariant Linear vs reference");
          }
        }
      }
    }
  }
}

TEST_P(CpuBackendTest, RowOpsAreBitwiseTheSameAloneOrInABatch) {
  std::mt19937 rng(20);
  const int64_t m = 37, row = 21, dim = 200, ld = 208;  // rows 64-byte aligned alike
  const auto probe = RandomVector(dim, rng, -3.0f, 3.0f);
  const auto x = BatchWith(probe, m, ld, row, rng);
  const auto weight = RandomVector(dim, rng, 0.5f, 1.5f);
  const auto bias = RandomVector(dim, rng);
  auto expect_row = [&](const std::vector<float>& batch, const std::vector<float>& alone,
                        const char* what) {
    EXPECT_EQ(std::memcmp(batch.data() + row * ld, alone.data(), dim * 4), 0) << what;
  };
  {
    std::vector<float> yb(x.size()), ya(static_cast<size_t>(ld));
    backend_.RmsNorm(x.data(), m, dim, ld, weight.data(), 1e-5f, yb.data(), ld);
    backend_.RmsNorm(probe.data(), 1, dim, ld, weight.data(), 1e-5f, ya.data(), ld);
    expect_row(yb, ya, "RmsNorm");
    backend_.LayerNorm(x.data(), m, dim, ld, weight.data(), bias.data(), 1e-5f, yb.data(), ld);
    backend_.LayerNorm(probe.data(), 1, dim, ld, weight.data(), bias.data(), 1e-5f, ya.data(), ld);
    expect_row(yb, ya, "LayerNorm");
    backend_.SwiGlu(x.data(), ld, x.data() + 8, ld, m, 192, yb.data(), ld);
    std::vector<float> up(probe.begin() + 8, probe.end());
    backend_.SwiGlu(probe.data(), ld, up.data(), ld, 1, 192, ya.data(), ld);
    EXPECT_EQ(std::memcmp(yb.data() + row * ld, ya.data(), 192 * 4), 0) << "SwiGlu";
  }
  {
    // Rotary: 5 heads of 40 at a long position; the other rows at random positions.
    std::vector<int32_t> pos(static_cast<size_t>(m));
    for (auto& p : pos) p = static_cast<int32_t>(rng() % 5000);
    std::vector<float> xb = x, xa = probe;
    backend_.Rotary(xb.data(), m, ld, 5, 40, pos.data(), 10000.0f);
    backend_.Rotary(xa.data(), 1, ld, 5, 40, &pos[row], 10000.0f);
    expect_row(xb, xa, "Rotary");
  }
  {
    // Attention: the probe row (sequence 1, position 120) among the rows of a prefill
    // chunk of sequence 0 and decode rows of 1 and 2, over mixed-dtype pools.
    const AttentionCase c = {4, 2, 64};
    const std::vector<int32_t> lens = {200, 150, 80};
    const TestKv t = MakePagedKv({DType::kF32, DType::kBF16, DType::kF16}, 16, 128, lens, rng);
    FillKv(backend_, t, lens, 2.0f, rng);
    std::vector<int32_t> seqs, pos;
    for (int32_t p = 150; p < 200; ++p) {
      seqs.push_back(0);
      pos.push_back(p);
    }
    seqs.insert(seqs.begin() + 10, {1, 2});
    pos.insert(pos.begin() + 10, {120, 79});
    const int64_t rows = static_cast<int64_t>(seqs.size());
    const auto q = RandomVector(rows * 256, rng, -2.0f, 2.0f);
    std::vector<float> batch(static_cast<size_t>(rows * 256)), alone(256);
    backend_.Attention(
        MakeArgs(c, q.data(), 256, rows, seqs.data(), pos.data(), t.view(), batch.data(), 256));
    backend_.Attention(
        MakeArgs(c, q.data() + 10 * 256, 256, 1, &seqs[10], &pos[10], t.view(), alone.data(), 256));
    EXPECT_EQ(std::memcmp(batch.data() + 10 * 256, alone.data(), 256 * 4), 0) << "Attention";
  }
}

std::string LevelName(const ::testing::TestParamInfo<IsaLevel>& info) {
  return IsaName(info.param);
}

INSTANTIATE_TEST_SUITE_P(AllLevels, CpuBackendTest, ::testing::ValuesIn(AvailableIsaLevels()),
                         LevelName);

}  // namespace
}  // namespace mot::backend::cpu
