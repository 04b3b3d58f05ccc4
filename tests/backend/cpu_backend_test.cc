// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Every CpuBackend op, at every ISA level this machine has, against the scalar references
// of reference_ops.h. Tolerances are atol + rtol * |ref|, written beside each check.
#include "engine/backend/cpu/cpu_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
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
  CpuBackendTest() : pool_(2), backend_(&pool_, GetParam()) {}
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

// A KV store with two layouts of the same contents: contiguous (one block of max_len per
// sequence) and paged (blocks of 16 in a shuffled order).
struct KvStores {
  int64_t kv_dim;
  int32_t max_len;
  int32_t num_seqs;
  std::vector<float> ck, cv, pk, pv;
  std::vector<int32_t> ctable, ptable;
  kv::KvLayerView contiguous, paged;

  KvStores(int32_t seqs, int32_t len, int64_t dim, std::mt19937& rng)
      : kv_dim(dim), max_len(len), num_seqs(seqs) {
    ck.assign(static_cast<size_t>(seqs * len * dim), 0.0f);
    cv = ck;
    ctable.resize(static_cast<size_t>(seqs));
    std::iota(ctable.begin(), ctable.end(), 0);
    contiguous = {ck.data(), cv.data(), dim, len, ctable.data(), 1};
    const int32_t bs = 16;
    const int32_t per_seq = (len + bs - 1) / bs;
    const int32_t blocks = seqs * per_seq + 3;  // a few unused blocks
    pk.assign(static_cast<size_t>(blocks * bs * dim), 0.0f);
    pv = pk;
    std::vector<int32_t> ids(static_cast<size_t>(blocks));
    std::iota(ids.begin(), ids.end(), 0);
    std::shuffle(ids.begin(), ids.end(), rng);
    ptable.assign(ids.begin(), ids.begin() + seqs * per_seq);
    paged = {pk.data(), pv.data(), dim, bs, ptable.data(), per_seq};
  }
};

struct AttentionCase {
  int32_t n_heads, n_kv_heads, head_dim;
};

TEST_P(CpuBackendTest, StoreKvWritesThePositionsOfBothLayouts) {
  std::mt19937 rng(13);
  KvStores s(2, 40, 12, rng);
  const int32_t seq[] = {0, 1, 1};
  const int32_t pos[] = {5, 0, 39};
  const auto k = RandomVector(3 * 14, rng);
  const auto v = RandomVector(3 * 13, rng);
  backend_.StoreKv(k.data(), 14, v.data(), 13, 3, seq, pos, s.paged);
  backend_.StoreKv(k.data(), 14, v.data(), 13, 3, seq, pos, s.contiguous);
  for (int r = 0; r < 3; ++r) {
    for (int d = 0; d < 12; ++d) {
      EXPECT_EQ(s.paged.KeyAt(seq[r], pos[r])[d], k[static_cast<size_t>(r * 14 + d)]);
      EXPECT_EQ(s.paged.ValueAt(seq[r], pos[r])[d], v[static_cast<size_t>(r * 13 + d)]);
      EXPECT_EQ(s.contiguous.KeyAt(seq[r], pos[r])[d], k[static_cast<size_t>(r * 14 + d)]);
      EXPECT_EQ(s.contiguous.ValueAt(seq[r], pos[r])[d], v[static_cast<size_t>(r * 13 + d)]);
    }
  }
}

TEST_P(CpuBackendTest, AttentionPagedEqualsContiguousAndReference) {
  std::mt19937 rng(14);
  const AttentionCase cases[] = {{4, 4, 64}, {8, 4, 64}, {8, 2, 128}, {4, 1, 6}, {2, 2, 130}};
  for (const AttentionCase& c : cases) {
    const int64_t kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
    KvStores s(3, 300, kv_dim, rng);
    // Fill every position of every sequence through StoreKv (both layouts).
    for (int32_t seq = 0; seq < 3; ++seq) {
      std::vector<int32_t> seqs(300, seq), pos(300);
      std::iota(pos.begin(), pos.end(), 0);
      const auto k = RandomVector(300 * kv_dim, rng, -2.0f, 2.0f);
      const auto v = RandomVector(300 * kv_dim, rng);
      backend_.StoreKv(k.data(), kv_dim, v.data(), kv_dim, 300, seqs.data(), pos.data(), s.paged);
      StoreKvRef(k.data(), kv_dim, v.data(), kv_dim, 300, seqs.data(), pos.data(), s.contiguous);
    }
    // A prefill chunk of sequence 1 (positions 100..139) and decode rows of 0 and 2.
    std::vector<int32_t> seqs, pos;
    for (int32_t p = 100; p < 140; ++p) {
      seqs.push_back(1);
      pos.push_back(p);
    }
    seqs.insert(seqs.end(), {0, 2, 2});
    pos.insert(pos.end(), {0, 299, 16});
    const int64_t rows = static_cast<int64_t>(seqs.size());
    const int64_t width = int64_t{c.n_heads} * c.head_dim;
    const int64_t ldq = width + 3, ldo = width + 1;
    const auto q = RandomVector(rows * ldq, rng, -2.0f, 2.0f);
    AttentionArgs a;
    a.q = q.data();
    a.ldq = ldq;
    a.rows = rows;
    a.seq = seqs.data();
    a.pos = pos.data();
    a.n_heads = c.n_heads;
    a.n_kv_heads = c.n_kv_heads;
    a.head_dim = c.head_dim;
    a.scale = 1.0f / std::sqrt(static_cast<float>(c.head_dim));
    a.ldo = ldo;
    std::vector<float> got_paged(rows * ldo), got_contig(rows * ldo), want(rows * ldo);
    a.kv = s.paged;
    a.out = got_paged.data();
    backend_.Attention(a);
    a.kv = s.contiguous;
    a.out = got_contig.data();
    backend_.Attention(a);
    a.out = want.data();
    AttentionRef(a);
    const std::string what = std::string(backend_.name()) + " Attention heads " +
                             std::to_string(c.n_heads) + "/" + std::to_string(c.n_kv_heads) +
                             " head_dim " + std::to_string(c.head_dim);
    // Outputs are convex combinations of values in [-1, 1]; f32 softmax and sums.
    ExpectClose(got_paged.data(), ldo, want.data(), ldo, rows, width, 2e-6, 1e-5, what + " paged");
    ExpectClose(got_contig.data(), ldo, want.data(), ldo, rows, width, 2e-6, 1e-5,
                what + " contiguous");
    ExpectClose(got_paged.data(), ldo, got_contig.data(), ldo, rows, width, 0, 0,
                what + " paged vs contiguous");
  }
}

TEST_P(CpuBackendTest, AttentionAtPositionZeroReturnsTheValue) {
  std::mt19937 rng(15);
  KvStores s(1, 16, 8, rng);
  const auto k = RandomVector(8, rng);
  const auto v = RandomVector(8, rng);
  const int32_t seq = 0, pos = 0;
  backend_.StoreKv(k.data(), 8, v.data(), 8, 1, &seq, &pos, s.paged);
  const auto q = RandomVector(16, rng);
  std::vector<float> out(16);
  AttentionArgs a;
  a.q = q.data();
  a.ldq = 16;
  a.rows = 1;
  a.seq = &seq;
  a.pos = &pos;
  a.kv = s.paged;
  a.n_heads = 2;
  a.n_kv_heads = 1;
  a.head_dim = 8;
  a.scale = 0.35f;
  a.out = out.data();
  a.ldo = 16;
  backend_.Attention(a);
  for (int h = 0; h < 2; ++h) {
    for (int d = 0; d < 8; ++d) EXPECT_FLOAT_EQ(out[static_cast<size_t>(h * 8 + d)], v[d]);
  }
}

TEST_P(CpuBackendTest, AttentionSurvivesHugeScores) {
  // Scores of +-1e4: a softmax without max-subtraction would overflow. head_dim 4 takes the
  // generic kernel, 64 the register-resident one.
  std::mt19937 rng(16);
  for (int32_t hd : {4, 64}) {
    KvStores s(1, 150, hd, rng);
    std::vector<int32_t> seqs(150, 0), pos(150);
    std::iota(pos.begin(), pos.end(), 0);
    const float range = hd == 4 ? 100.0f : 25.0f;
    const auto k = RandomVector(150 * hd, rng, -range, range);
    const auto v = RandomVector(150 * hd, rng);
    backend_.StoreKv(k.data(), hd, v.data(), hd, 150, seqs.data(), pos.data(), s.paged);
    const auto q = RandomVector(hd, rng, -range, range);
    const int32_t row_seq = 0, row_pos = 149;
    std::vector<float> got(static_cast<size_t>(hd)), want(static_cast<size_t>(hd));
    AttentionArgs a;
    a.q = q.data();
    a.ldq = hd;
    a.rows = 1;
    a.seq = &row_seq;
    a.pos = &row_pos;
    a.kv = s.paged;
    a.n_heads = 1;
    a.n_kv_heads = 1;
    a.head_dim = hd;
    a.scale = 1.0f;
    a.out = got.data();
    a.ldo = hd;
    backend_.Attention(a);
    a.out = want.data();
    AttentionRef(a);
    for (float g : got) EXPECT_TRUE(std::isfinite(g));
    // Scores ~1e4 carry f32 rounding of ~1e-3 into the exponent: loose tolerance.
    ExpectClose(got.data(), hd, want.data(), hd, 1, hd, 1e-3, 1e-2,
                "huge scores head_dim " + std::to_string(hd));
  }
}

std::string LevelName(const ::testing::TestParamInfo<IsaLevel>& info) {
  return IsaName(info.param);
}

INSTANTIATE_TEST_SUITE_P(AllLevels, CpuBackendTest, ::testing::ValuesIn(AvailableIsaLevels()),
                         LevelName);

}  // namespace
}  // namespace mot::backend::cpu
