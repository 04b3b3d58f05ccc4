// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Every CudaBackend op against CpuBackend (the reference backend) on fresh random inputs
// of many shapes: 1 row and many, odd sizes, strided and misaligned views, every weight
// and KV dtype, the head geometries of the model zoo, paged views over mixed-dtype pools
// with partly filled blocks, sliding windows, long contexts. Device outputs are poisoned
// with NaN before each op; stride gaps must keep their bytes. Tolerances are relative to
// the output's largest magnitude and are written beside each check. Skips every test, with
// the reason, where CudaBackend::Create finds no device.
#include "engine/backend/cuda/cuda_backend.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <numeric>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/core/dtype.h"
#include "engine/core/thread_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mot::backend::cuda {
namespace {

using ::testing::AnyOf;
using ::testing::HasSubstr;
using ::testing::StartsWith;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr DType kWeightDTypes[] = {DType::kF32, DType::kBF16, DType::kF16};

std::vector<float> RandomVector(int64_t n, std::mt19937& rng, float lo = -1.0f, float hi = 1.0f) {
  std::uniform_real_distribution<float> dist(lo, hi);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = dist(rng);
  return v;
}

template <typename T>
int64_t Bytes(const std::vector<T>& v) {
  return static_cast<int64_t>(v.size() * sizeof(T));
}

// One allocation of the backend, freed when it goes.
class DeviceBuffer {
 public:
  DeviceBuffer(CudaBackend* backend, int64_t bytes) : backend_(backend) {
    absl::StatusOr<void*> p = backend->Allocate(bytes);
    EXPECT_TRUE(p.ok()) << p.status();
    if (p.ok()) data_ = *p;
  }
  ~DeviceBuffer() {
    if (data_ != nullptr) backend_->Free(data_);
  }
  DeviceBuffer(DeviceBuffer&& o) noexcept
      : backend_(o.backend_), data_(std::exchange(o.data_, nullptr)) {}
  DeviceBuffer& operator=(DeviceBuffer&&) = delete;
  DeviceBuffer(const DeviceBuffer&) = delete;

  template <typename T = void>
  T* get() const {
    return static_cast<T*>(data_);
  }

 private:
  CudaBackend* backend_;
  void* data_ = nullptr;
};

// Compares a [rows, ld] buffer: columns [off, off + cols) within rel_tol * scale of `want`,
// scale = max(max |want|, min_scale) (NaN never passes; rel_tol 0 asks for equality), every
// other column bitwise equal to `before` (what the buffer held before the op: the op must
// not write there). Returns the worst |diff| / scale seen.
double CompareRows(const std::vector<float>& got, const std::vector<float>& want,
                   const std::vector<float>& before, int64_t rows, int64_t ld, int64_t off,
                   int64_t cols, double rel_tol, const std::string& what, double min_scale = 1e-6) {
  double max_abs = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = off; c < off + cols; ++c) {
      max_abs = std::max(max_abs, std::abs(static_cast<double>(want[r * ld + c])));
    }
  }
  const double scale = std::max(max_abs, min_scale);
  const double tol = rel_tol * scale;
  int reported = 0;
  double worst = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < ld; ++c) {
      const size_t i = static_cast<size_t>(r * ld + c);
      if (c >= off && c < off + cols) {
        const double diff = std::abs(static_cast<double>(got[i]) - want[i]);
        if (!(diff <= tol)) {
          worst = std::numeric_limits<double>::infinity();
          if (reported++ < 5) {
            ADD_FAILURE() << what << ": at [" << r << ", " << c - off << "] got " << got[i]
                          << " want " << want[i] << " (tol " << tol << ")";
          }
        } else {
          worst = std::max(worst, diff / scale);
        }
      } else if (std::memcmp(&got[i], &before[i], sizeof(float)) != 0 && reported++ < 5) {
        ADD_FAILURE() << what << ": wrote outside its columns at [" << r << ", " << c << "]";
      }
    }
  }
  if (reported > 0) ADD_FAILURE() << what << ": " << reported << " bad elements";
  return worst;
}

// The CPU reference on 2 threads and the device under test.
class CudaBackendTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::unique_ptr<CudaBackend>> b = CudaBackend::Create();
    if (!b.ok()) {
      if (b.status().code() == absl::StatusCode::kUnavailable) {
        GTEST_SKIP() << "no CUDA device: " << b.status().message();
      }
      FAIL() << b.status();
    }
    gpu_ = std::move(*b);
  }

  template <typename T>
  DeviceBuffer Upload(const std::vector<T>& v) {
    DeviceBuffer d(gpu_.get(), Bytes(v));
    gpu_->CopyToBackend(d.get(), v.data(), Bytes(v));
    return d;
  }
  template <typename T>
  std::vector<T> Download(const DeviceBuffer& d, size_t n) {
    std::vector<T> v(n);
    gpu_->CopyToHost(v.data(), d.get(), static_cast<int64_t>(n * sizeof(T)));
    return v;
  }
  // The device's status after an op: must be OK.
  void ExpectSynced(const std::string& what) {
    const absl::Status s = gpu_->Synchronize();
    ASSERT_TRUE(s.ok()) << what << ": " << s;
  }

  ThreadPool pool_{2};
  cpu::CpuBackend cpu_{&pool_};
  std::unique_ptr<CudaBackend> gpu_;
};

// ---- Memory face and errors.

TEST_F(CudaBackendTest, CreateNamesTheDeviceAndItsMemory) {
  EXPECT_THAT(std::string(gpu_->name()), StartsWith("cuda:"));
  EXPECT_GT(gpu_->name().size(), 5u);
  EXPECT_TRUE(gpu_->device_memory());
  absl::StatusOr<Backend::MemoryInfo> mem = gpu_->QueryMemory();
  ASSERT_TRUE(mem.ok()) << mem.status();
  EXPECT_GT(mem->free_bytes, 0);
  EXPECT_LE(mem->free_bytes, mem->total_bytes);
  std::printf("%s: %lld of %lld bytes free\n", std::string(gpu_->name()).c_str(),
              static_cast<long long>(mem->free_bytes), static_cast<long long>(mem->total_bytes));
}

TEST_F(CudaBackendTest, SupportsF32Bf16F16WeightsOnly) {
  for (DType t : kWeightDTypes) EXPECT_TRUE(gpu_->SupportsWeightDType(t).ok()) << DTypeName(t);
  for (DType t : {DType::kQ8_0, DType::kQ4_0}) {
    const absl::Status s = gpu_->SupportsWeightDType(t);
    EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
    EXPECT_THAT(std::string(s.message()), HasSubstr(DTypeName(t)));
    EXPECT_THAT(std::string(s.message()), HasSubstr("cuda"));
  }
}

TEST_F(CudaBackendTest, CopiesRoundTrip) {
  std::mt19937 rng(1);
  const std::vector<float> x = RandomVector(100003, rng);
  DeviceBuffer d = Upload(x);
  EXPECT_EQ(Download<float>(d, x.size()), x);
  ExpectSynced("round trip");
}

TEST_F(CudaBackendTest, AllocatingTooMuchIsResourceExhaustedAndNotSticky) {
  const int64_t huge = int64_t{1} << 50;
  absl::StatusOr<void*> p = gpu_->Allocate(huge);
  ASSERT_FALSE(p.ok());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kResourceExhausted);
  EXPECT_THAT(std::string(p.status().message()), HasSubstr(std::to_string(huge)));
  EXPECT_THAT(std::string(p.status().message()), HasSubstr("free"));
  // The backend goes on working.
  EXPECT_TRUE(gpu_->Synchronize().ok());
  const std::vector<int32_t> v = {1, 2, 3};
  DeviceBuffer d = Upload(v);
  EXPECT_EQ(Download<int32_t>(d, 3), v);
  EXPECT_TRUE(gpu_->Synchronize().ok());
}

TEST_F(CudaBackendTest, UnsupportedWeightDTypeIsStickyUnimplemented) {
  DeviceBuffer x(gpu_.get(), 1024), y(gpu_.get(), 1024), w(gpu_.get(), 1024);
  gpu_->Linear(x.get<float>(), 1, 32, WeightRef{w.get(), DType::kQ8_0, 4, 32}, y.get<float>(), 4,
               false);
  const absl::Status s = gpu_->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(std::string(s.message()), HasSubstr("Q8_0"));
}

TEST_F(CudaBackendTest, AttentionRejectsHeadDimAbove256) {
  DeviceBuffer buf(gpu_.get(), 1 << 16);
  AttentionArgs a;
  a.q = buf.get<float>();
  a.ldq = 300;
  a.rows = 1;
  a.seq = buf.get<int32_t>();
  a.pos = buf.get<int32_t>();
  a.kv.kv_dim = 300;
  a.n_heads = 1;
  a.n_kv_heads = 1;
  a.head_dim = 300;
  a.out = buf.get<float>() + 1000;
  a.ldo = 300;
  gpu_->Attention(a);
  const absl::Status s = gpu_->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(s.message()), HasSubstr("head_dim 300"));
}

// ---- Linear.

struct LinearShape {
  int64_t rows, cols;
};

// One Linear case on both backends. `strided`: x and y rows have gaps and start off a
// 16-byte boundary (x at column 1, y at column 3), so cuBLASLt sees unaligned pointers.
// Returns the worst relative difference.
double RunLinearCase(cpu::CpuBackend& cpu, CudaBackend& gpu, DType dtype, LinearShape s, int64_t m,
                     bool strided, bool accumulate, std::mt19937& rng) {
  const int64_t x_off = strided ? 1 : 0, y_off = strided ? 3 : 0;
  const int64_t ldx = s.cols + (strided ? 4 : 0), ldy = s.rows + (strided ? 5 : 0);
  const std::vector<float> wf = RandomVector(s.rows * s.cols, rng);
  std::vector<uint8_t> w(static_cast<size_t>(s.rows * s.cols * DTypeSize(dtype)));
  ConvertFromF32(wf.data(), s.rows * s.cols, dtype, w.data());
  const std::vector<float> x = RandomVector(m * ldx, rng);
  const std::vector<float> before =
      accumulate ? RandomVector(m * ldy, rng) : std::vector<float>(m * ldy, kNaN);
  std::vector<float> want = before;
  cpu.Linear(x.data() + x_off, m, ldx, WeightRef{w.data(), dtype, s.rows, s.cols},
             want.data() + y_off, ldy, accumulate);

  DeviceBuffer dw(&gpu, Bytes(w)), dx(&gpu, Bytes(x)), dy(&gpu, Bytes(before));
  gpu.CopyToBackend(dw.get(), w.data(), Bytes(w));
  gpu.CopyToBackend(dx.get(), x.data(), Bytes(x));
  gpu.CopyToBackend(dy.get(), before.data(), Bytes(before));
  gpu.Linear(dx.get<float>() + x_off, m, ldx, WeightRef{dw.get(), dtype, s.rows, s.cols},
             dy.get<float>() + y_off, ldy, accumulate);
  std::vector<float> got(before.size());
  gpu.CopyToHost(got.data(), dy.get(), Bytes(got));
  const std::string what = std::string("Linear ") + DTypeName(dtype) + " [" +
                           std::to_string(s.rows) + ", " + std::to_string(s.cols) + "] m " +
                           std::to_string(m) + (strided ? " strided" : "") +
                           (accumulate ? " accumulate" : "");
  const absl::Status st = gpu.Synchronize();
  EXPECT_TRUE(st.ok()) << what << ": " << st;
  // f32: both sum in f32 (no TF32), in different orders. bf16/f16: the device also rounds
  // x to the weight's type (2^-9 / 2^-12 relative per element), the CPU does not.
  const double tol = dtype == DType::kF32 ? 1e-4 : dtype == DType::kBF16 ? 2e-2 : 5e-3;
  return CompareRows(got, want, before, m, ldy, y_off, s.rows, tol, what);
}

TEST_F(CudaBackendTest, LinearMatchesCpuForEveryWeightDTypeAndShape) {
  std::mt19937 rng(2);
  const LinearShape shapes[] = {{1, 1}, {7, 5}, {64, 33}, {300, 257}, {96, 1024}};
  for (DType dtype : kWeightDTypes) {
    double worst = 0.0;
    for (LinearShape s : shapes) {
      for (int64_t m : {1, 3, 17, 130}) {
        for (bool strided : {false, true}) {
          for (bool accumulate : {false, true}) {
            worst =
                std::max(worst, RunLinearCase(cpu_, *gpu_, dtype, s, m, strided, accumulate, rng));
          }
        }
      }
    }
    std::printf("Linear %s: worst |diff| / max|ref| %.3g\n", DTypeName(dtype), worst);
  }
}

TEST_F(CudaBackendTest, LinearFallbackKernelMatchesCpu) {
  std::mt19937 rng(3);
  gpu_->set_force_linear_fallback(true);
  for (DType dtype : kWeightDTypes) {
    for (LinearShape s : {LinearShape{5, 3}, LinearShape{130, 77}}) {
      for (int64_t m : {1, 17}) {
        RunLinearCase(cpu_, *gpu_, dtype, s, m, /*strided=*/true, /*accumulate=*/m == 17, rng);
      }
    }
  }
}

TEST_F(CudaBackendTest, LinearWithNoColumnsWritesZeros) {
  const int64_t m = 3, rows = 4, ldy = 6;
  std::vector<float> before(m * ldy, kNaN);
  DeviceBuffer dy = Upload(before), dx(gpu_.get(), 256), dw(gpu_.get(), 256);
  gpu_->Linear(dx.get<float>(), m, 1, WeightRef{dw.get(), DType::kBF16, rows, 0}, dy.get<float>(),
               ldy, false);
  const std::vector<float> got = Download<float>(dy, before.size());
  ExpectSynced("Linear cols 0");
  const std::vector<float> want(before.size(), 0.0f);
  CompareRows(got, want, before, m, ldy, 0, rows, 0.0, "Linear cols 0");
}

// ---- Norms.

TEST_F(CudaBackendTest, RmsNormAndLayerNormMatchCpu) {
  std::mt19937 rng(4);
  double worst = 0.0;
  for (int64_t rows : {1, 3, 17, 130}) {
    for (int64_t dim : {1, 7, 64, 768, 4099}) {
      for (int op = 0; op < 3; ++op) {  // RmsNorm, LayerNorm with bias, LayerNorm without
        for (bool in_place : {false, true}) {
          const int64_t ldx = dim + 2, ldy = in_place ? ldx : dim + 1;
          const std::vector<float> x = RandomVector(rows * ldx, rng, -2.0f, 2.0f);
          const std::vector<float> w = RandomVector(dim, rng, 0.5f, 1.5f);
          const std::vector<float> bias = RandomVector(dim, rng);
          const bool with_bias = op == 1;
          const std::vector<float> before = in_place ? x : std::vector<float>(rows * ldy, kNaN);
          std::vector<float> want = before;
          const float* cx = in_place ? want.data() : x.data();
          if (op == 0) {
            cpu_.RmsNorm(cx, rows, dim, ldx, w.data(), 1e-5f, want.data(), ldy);
          } else {
            cpu_.LayerNorm(cx, rows, dim, ldx, w.data(), with_bias ? bias.data() : nullptr, 1e-5f,
                           want.data(), ldy);
          }
          DeviceBuffer dx = Upload(x), dw = Upload(w), db = Upload(bias), dy = Upload(before);
          const float* gx = in_place ? dy.get<float>() : dx.get<float>();
          if (op == 0) {
            gpu_->RmsNorm(gx, rows, dim, ldx, dw.get<float>(), 1e-5f, dy.get<float>(), ldy);
          } else {
            gpu_->LayerNorm(gx, rows, dim, ldx, dw.get<float>(),
                            with_bias ? db.get<float>() : nullptr, 1e-5f, dy.get<float>(), ldy);
          }
          const std::vector<float> got = Download<float>(dy, before.size());
          const std::string what = std::string(op == 0 ? "RmsNorm" : "LayerNorm") +
                                   (with_bias ? " bias" : "") + " rows " + std::to_string(rows) +
                                   " dim " + std::to_string(dim) + (in_place ? " in place" : "");
          ExpectSynced(what);
          // f32 sums over <= 4099 elements in different orders.
          worst = std::max(worst, CompareRows(got, want, before, rows, ldy, 0, dim, 1e-4, what));
        }
      }
    }
  }
  std::printf("norms: worst |diff| / max|ref| %.3g\n", worst);
}

// ---- Rotary.

TEST_F(CudaBackendTest, RotaryAndRotaryFreqsMatchCpu) {
  std::mt19937 rng(5);
  std::uniform_int_distribution<int32_t> pos_dist(0, 40000);
  double worst = 0.0;
  // One host array whose contents change between calls: the device copy must follow.
  std::vector<double> inv_freq;
  for (int32_t head_dim : {32, 64, 80, 128, 256}) {
    for (int32_t n_heads : {1, 3, 8}) {
      for (int64_t rows : {1, 17, 130}) {
        for (int variant = 0; variant < 3; ++variant) {  // theta 1e4, theta 1e6, inv_freq
          const int64_t ldx = int64_t{n_heads} * head_dim + 4;
          std::vector<int32_t> pos(static_cast<size_t>(rows));
          for (int32_t& p : pos) p = pos_dist(rng);
          pos[0] = 0;
          const std::vector<float> x = RandomVector(rows * ldx, rng, -2.0f, 2.0f);
          const float theta = variant == 0 ? 10000.0f : 1e6f;
          inv_freq.resize(static_cast<size_t>(head_dim / 2));
          const double factor = std::uniform_real_distribution<double>(0.1, 1.0)(rng);
          for (int32_t i = 0; i < head_dim / 2; ++i) {
            inv_freq[static_cast<size_t>(i)] = factor * std::pow(5e5, -2.0 * i / head_dim);
          }
          std::vector<float> want = x;
          DeviceBuffer dx = Upload(x), dpos = Upload(pos);
          if (variant < 2) {
            cpu_.Rotary(want.data(), rows, ldx, n_heads, head_dim, pos.data(), theta);
            gpu_->Rotary(dx.get<float>(), rows, ldx, n_heads, head_dim, dpos.get<int32_t>(), theta);
          } else {
            cpu_.RotaryFreqs(want.data(), rows, ldx, n_heads, head_dim, pos.data(),
                             inv_freq.data());
            gpu_->RotaryFreqs(dx.get<float>(), rows, ldx, n_heads, head_dim, dpos.get<int32_t>(),
                              inv_freq.data());
          }
          const std::vector<float> got = Download<float>(dx, x.size());
          const std::string what = std::string(variant < 2 ? "Rotary" : "RotaryFreqs") +
                                   " head_dim " + std::to_string(head_dim) + " heads " +
                                   std::to_string(n_heads) + " rows " + std::to_string(rows) +
                                   " variant " + std::to_string(variant);
          ExpectSynced(what);
          // Same double angles and f32 products; 1 ulp apart at most, besides FMA.
          worst = std::max(worst, CompareRows(got, want, x, rows, ldx, 0,
                                              int64_t{n_heads} * head_dim, 1e-4, what));
        }
      }
    }
  }
  std::printf("rotary: worst |diff| / max|ref| %.3g\n", worst);
}

// ---- Element-wise ops.

TEST_F(CudaBackendTest, SwiGluMatchesCpu) {
  std::mt19937 rng(6);
  double worst = 0.0;
  for (int64_t rows : {1, 17, 130}) {
    for (int64_t n : {1, 33, 1000}) {
      for (bool in_place : {false, true}) {
        const int64_t ldg = n + 1, ldu = n + 2, ldo = in_place ? ldg : n + 3;
        const std::vector<float> gate = RandomVector(rows * ldg, rng, -8.0f, 8.0f);
        const std::vector<float> up = RandomVector(rows * ldu, rng, -2.0f, 2.0f);
        const std::vector<float> before = in_place ? gate : std::vector<float>(rows * ldo, kNaN);
        std::vector<float> want = before;
        cpu_.SwiGlu(in_place ? want.data() : gate.data(), ldg, up.data(), ldu, rows, n, want.data(),
                    ldo);
        DeviceBuffer dg = Upload(gate), du = Upload(up), dout = Upload(before);
        gpu_->SwiGlu(in_place ? dout.get<float>() : dg.get<float>(), ldg, du.get<float>(), ldu,
                     rows, n, dout.get<float>(), ldo);
        const std::vector<float> got = Download<float>(dout, before.size());
        const std::string what = "SwiGlu rows " + std::to_string(rows) + " n " + std::to_string(n) +
                                 (in_place ? " in place" : "");
        ExpectSynced(what);
        worst = std::max(worst, CompareRows(got, want, before, rows, ldo, 0, n, 1e-4, what));
      }
    }
  }
  std::printf("swiglu: worst |diff| / max|ref| %.3g\n", worst);
}

TEST_F(CudaBackendTest, EmbeddingMatchesCpuExactly) {
  std::mt19937 rng(7);
  const int64_t vocab = 50;
  for (DType dtype : kWeightDTypes) {
    for (int64_t rows : {1, 17, 130}) {
      for (int64_t cols : {1, 5, 768}) {
        const std::vector<float> tf = RandomVector(vocab * cols, rng);
        std::vector<uint8_t> table(static_cast<size_t>(vocab * cols * DTypeSize(dtype)));
        ConvertFromF32(tf.data(), vocab * cols, dtype, table.data());
        std::vector<int32_t> ids(static_cast<size_t>(rows));
        for (int32_t& id : ids) id = static_cast<int32_t>(rng() % vocab);
        ids[0] = static_cast<int32_t>(vocab - 1);
        const int64_t ldy = cols + 2;
        const std::vector<float> before(rows * ldy, kNaN);
        std::vector<float> want = before;
        cpu_.Embedding(ids.data(), rows, WeightRef{table.data(), dtype, vocab, cols}, want.data(),
                       ldy);
        DeviceBuffer dt = Upload(table), di = Upload(ids), dy = Upload(before);
        gpu_->Embedding(di.get<int32_t>(), rows, WeightRef{dt.get(), dtype, vocab, cols},
                        dy.get<float>(), ldy);
        const std::vector<float> got = Download<float>(dy, before.size());
        const std::string what = std::string("Embedding ") + DTypeName(dtype) + " rows " +
                                 std::to_string(rows) + " cols " + std::to_string(cols);
        ExpectSynced(what);
        CompareRows(got, want, before, rows, ldy, 0, cols, 0.0, what);  // exact conversions
      }
    }
  }
}

TEST_F(CudaBackendTest, GatherRowsAndAddMatchCpuExactly) {
  std::mt19937 rng(8);
  for (int64_t rows : {1, 17, 130}) {
    for (int64_t cols : {1, 33, 1000}) {
      // GatherRows from 40 source rows, with repeats.
      const int64_t lds = cols + 3, ldd = cols + 1;
      const std::vector<float> src = RandomVector(40 * lds, rng);
      std::vector<int32_t> index(static_cast<size_t>(rows));
      for (int32_t& i : index) i = static_cast<int32_t>(rng() % 40);
      const std::vector<float> before(rows * ldd, kNaN);
      std::vector<float> want = before;
      cpu_.GatherRows(src.data(), lds, index.data(), rows, cols, want.data(), ldd);
      DeviceBuffer ds = Upload(src), di = Upload(index), dd = Upload(before);
      gpu_->GatherRows(ds.get<float>(), lds, di.get<int32_t>(), rows, cols, dd.get<float>(), ldd);
      std::vector<float> got = Download<float>(dd, before.size());
      std::string what =
          "GatherRows rows " + std::to_string(rows) + " cols " + std::to_string(cols);
      ExpectSynced(what);
      CompareRows(got, want, before, rows, ldd, 0, cols, 0.0, what);

      // Add: strided rows, then one row broadcast (ldx 0).
      for (int64_t ldx : {cols + 2, int64_t{0}}) {
        const int64_t ldy = cols + 5;
        const std::vector<float> x = RandomVector(std::max<int64_t>(rows * ldx, cols), rng);
        const std::vector<float> y0 = RandomVector(rows * ldy, rng);
        std::vector<float> want_add = y0;
        cpu_.Add(x.data(), ldx, rows, cols, want_add.data(), ldy);
        DeviceBuffer dx = Upload(x), dy = Upload(y0);
        gpu_->Add(dx.get<float>(), ldx, rows, cols, dy.get<float>(), ldy);
        got = Download<float>(dy, y0.size());
        what = "Add rows " + std::to_string(rows) + " cols " + std::to_string(cols) + " ldx " +
               std::to_string(ldx);
        ExpectSynced(what);
        CompareRows(got, want_add, y0, rows, ldy, 0, cols, 0.0, what);  // one f32 add each
      }
    }
  }
}

// ---- Paged KV: StoreKv and Attention.

// A KV layer on the host (as tests/backend's): pools of the given dtypes filled with NaN
// bit patterns (0xFF bytes), so that reading a slot nobody wrote poisons the output;
// sequence s covers positions 0..lens[s]-1 in runs of 1..block_size positions (a partly
// filled block ends a run half the time, as a modality switch does), each run in a random
// pool, over shuffled physical blocks.
struct HostKv {
  int64_t kv_dim = 0;
  int32_t block_size = 0;
  std::vector<DType> dtypes;
  std::vector<std::vector<uint8_t>> k, v;
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
};

HostKv MakePagedKv(const std::vector<DType>& dtypes, int32_t block_size, int64_t kv_dim,
                   const std::vector<int32_t>& lens, std::mt19937& rng) {
  HostKv t;
  t.kv_dim = kv_dim;
  t.block_size = block_size;
  t.dtypes = dtypes;
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
  std::vector<std::vector<int32_t>> ids(dtypes.size());
  for (size_t p = 0; p < dtypes.size(); ++p) {
    const int32_t blocks = used[p] + 3;  // a few blocks nobody uses
    ids[p].resize(static_cast<size_t>(blocks));
    std::iota(ids[p].begin(), ids[p].end(), 0);
    std::shuffle(ids[p].begin(), ids[p].end(), rng);
    const size_t bytes = static_cast<size_t>(blocks * block_size * kv_dim * DTypeSize(dtypes[p]));
    t.k.emplace_back(bytes, 0xFF);
    t.v.emplace_back(bytes, 0xFF);
  }
  for (size_t p = 0; p < dtypes.size(); ++p) {
    t.pools.push_back({t.k[p].data(), t.v[p].data(), dtypes[p]});
  }
  for (kv::KvBlockEntry& e : t.entries) e.block = ids[static_cast<size_t>(e.pool)][e.block];
  return t;
}

// The same layer in device memory: pools, the pools array, entries and seq_entry_begin.
struct DeviceKv {
  std::vector<DeviceBuffer> k, v;
  std::vector<DeviceBuffer> arrays;  // pools, entries, seq_entry_begin
  kv::KvLayerView view;
};

DeviceKv UploadKv(CudaBackend& gpu, const HostKv& t) {
  DeviceKv d;
  std::vector<kv::KvPoolView> pools;
  for (size_t p = 0; p < t.k.size(); ++p) {
    const int64_t bytes = static_cast<int64_t>(t.k[p].size());
    d.k.emplace_back(&gpu, bytes);
    d.v.emplace_back(&gpu, bytes);
    gpu.CopyToBackend(d.k.back().get(), t.k[p].data(), bytes);
    gpu.CopyToBackend(d.v.back().get(), t.v[p].data(), bytes);
    pools.push_back({d.k.back().get(), d.v.back().get(), t.dtypes[p]});
  }
  auto upload = [&](const auto& vec) {
    d.arrays.emplace_back(&gpu, Bytes(vec));
    gpu.CopyToBackend(d.arrays.back().get(), vec.data(), Bytes(vec));
    return d.arrays.back().get();
  };
  d.arrays.reserve(3);  // get() pointers stay valid: no reallocation below
  d.view = t.view();
  d.view.pools = static_cast<const kv::KvPoolView*>(upload(pools));
  d.view.entries = static_cast<const kv::KvBlockEntry*>(upload(t.entries));
  d.view.seq_entry_begin = static_cast<const int32_t*>(upload(t.seq_entry_begin));
  return d;
}

// Stores the same random keys (in [-range, range]) and values (in [-1, 1]) at positions
// 0..lens[s]-1 of every sequence s, on the CPU into `host` and on the device into `dev`,
// through each backend's StoreKv with the slots of Locate.
void FillKv(cpu::CpuBackend& cpu, CudaBackend& gpu, const HostKv& host, const DeviceKv& dev,
            const std::vector<int32_t>& lens, float range, std::mt19937& rng) {
  const kv::KvLayerView view = host.view();
  for (int32_t s = 0; s < static_cast<int32_t>(lens.size()); ++s) {
    const int32_t n = lens[static_cast<size_t>(s)];
    std::vector<kv::KvSlot> slots(static_cast<size_t>(n));
    for (int32_t p = 0; p < n; ++p) slots[static_cast<size_t>(p)] = view.Locate(s, p);
    std::vector<float> k = RandomVector(n * host.kv_dim, rng, -range, range);
    const std::vector<float> v = RandomVector(n * host.kv_dim, rng);
    if (s == 0) k[0] = 1.0f + std::ldexp(1.0f, -8);  // a bf16 tie: rounds to even (1.0)
    cpu.StoreKv(k.data(), host.kv_dim, v.data(), host.kv_dim, n, slots.data(), view);
    DeviceBuffer dk(&gpu, Bytes(k)), dv(&gpu, Bytes(v)), ds(&gpu, Bytes(slots));
    gpu.CopyToBackend(dk.get(), k.data(), Bytes(k));
    gpu.CopyToBackend(dv.get(), v.data(), Bytes(v));
    gpu.CopyToBackend(ds.get(), slots.data(), Bytes(slots));
    gpu.StoreKv(dk.get<float>(), host.kv_dim, dv.get<float>(), host.kv_dim, n, ds.get<kv::KvSlot>(),
                dev.view);
  }
}

// The device pools hold exactly the host pools' bytes.
void ExpectSamePools(CudaBackend& gpu, const HostKv& host, const DeviceKv& dev,
                     const std::string& what) {
  for (size_t p = 0; p < host.k.size(); ++p) {
    std::vector<uint8_t> k(host.k[p].size()), v(host.v[p].size());
    gpu.CopyToHost(k.data(), dev.k[p].get(), static_cast<int64_t>(k.size()));
    gpu.CopyToHost(v.data(), dev.v[p].get(), static_cast<int64_t>(v.size()));
    EXPECT_TRUE(k == host.k[p]) << what << ": keys of pool " << p << " ("
                                << DTypeName(host.dtypes[p]) << ") differ";
    EXPECT_TRUE(v == host.v[p]) << what << ": values of pool " << p << " ("
                                << DTypeName(host.dtypes[p]) << ") differ";
  }
}

TEST_F(CudaBackendTest, StoreKvWritesTheSameBytesAsCpu) {
  std::mt19937 rng(9);
  for (int64_t kv_dim : {12, 128, 1024}) {
    const std::vector<int32_t> lens = {40, 1, 23};
    HostKv host = MakePagedKv({DType::kF32, DType::kBF16, DType::kF16}, 4, kv_dim, lens, rng);
    DeviceKv dev = UploadKv(*gpu_, host);
    // Values beyond f16's range and below its normals round the same way on both.
    FillKv(cpu_, *gpu_, host, dev, lens, 3.0f, rng);
    const kv::KvLayerView view = host.view();
    std::vector<float> special = {70000.0f, -1e-6f, 3e-8f, -0.0f, 65519.0f, 65520.0f, 1e-30f};
    special.resize(static_cast<size_t>(kv_dim), 0.5f);
    std::vector<kv::KvSlot> slots;
    for (int32_t s = 0; s < 3; ++s) slots.push_back(view.Locate(s, 0));
    const int64_t rows = static_cast<int64_t>(slots.size());
    std::vector<float> kk, vv;
    for (int64_t r = 0; r < rows; ++r) {
      kk.insert(kk.end(), special.begin(), special.end());
      vv.insert(vv.end(), special.rbegin(), special.rend());
    }
    cpu_.StoreKv(kk.data(), kv_dim, vv.data(), kv_dim, rows, slots.data(), view);
    DeviceBuffer dk = Upload(kk), dv = Upload(vv), ds = Upload(slots);
    gpu_->StoreKv(dk.get<float>(), kv_dim, dv.get<float>(), kv_dim, rows, ds.get<kv::KvSlot>(),
                  dev.view);
    const std::string what = "StoreKv kv_dim " + std::to_string(kv_dim);
    ExpectSynced(what);
    ExpectSamePools(*gpu_, host, dev, what);
  }
}

struct AttentionCase {
  int32_t n_heads, n_kv_heads, head_dim;
};

AttentionArgs MakeArgs(const AttentionCase& c, const float* q, int64_t ldq, int64_t rows,
                       const int32_t* seq, const int32_t* pos, const kv::KvLayerView& view,
                       int32_t window, float* out, int64_t ldo) {
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
  a.window = window;
  a.out = out;
  a.ldo = ldo;
  return a;
}

// Attention of the rows (seqs[i], pos[i]) on both backends over the same stored KV;
// q in [-q_range, q_range]. Returns the worst relative difference.
double RunAttentionCase(cpu::CpuBackend& cpu, CudaBackend& gpu, const AttentionCase& c,
                        const HostKv& host, const DeviceKv& dev, const std::vector<int32_t>& seqs,
                        const std::vector<int32_t>& pos, int32_t window, float q_range, double tol,
                        const std::string& label, std::mt19937& rng) {
  const int64_t rows = static_cast<int64_t>(seqs.size());
  const int64_t width = int64_t{c.n_heads} * c.head_dim;
  const int64_t ldq = width + 3, ldo = width + 1;
  const std::vector<float> q = RandomVector(rows * ldq, rng, -q_range, q_range);
  const std::vector<float> before(rows * ldo, kNaN);
  std::vector<float> want = before;
  cpu.Attention(MakeArgs(c, q.data(), ldq, rows, seqs.data(), pos.data(), host.view(), window,
                         want.data(), ldo));
  DeviceBuffer dq(&gpu, Bytes(q)), ds(&gpu, Bytes(seqs)), dp(&gpu, Bytes(pos)),
      dout(&gpu, Bytes(before));
  gpu.CopyToBackend(dq.get(), q.data(), Bytes(q));
  gpu.CopyToBackend(ds.get(), seqs.data(), Bytes(seqs));
  gpu.CopyToBackend(dp.get(), pos.data(), Bytes(pos));
  gpu.CopyToBackend(dout.get(), before.data(), Bytes(before));
  gpu.Attention(MakeArgs(c, dq.get<float>(), ldq, rows, ds.get<int32_t>(), dp.get<int32_t>(),
                         dev.view, window, dout.get<float>(), ldo));
  std::vector<float> got(before.size());
  gpu.CopyToHost(got.data(), dout.get(), Bytes(got));
  std::string what = "Attention " + label + " heads " + std::to_string(c.n_heads) + "/" +
                     std::to_string(c.n_kv_heads) + " head_dim " + std::to_string(c.head_dim) +
                     " window " + std::to_string(window) + " pools";
  for (DType d : host.dtypes) what += std::string(" ") + DTypeName(d);
  const absl::Status st = gpu.Synchronize();
  EXPECT_TRUE(st.ok()) << what << ": " << st;
  // Outputs are convex combinations of values in [-1, 1]: the tolerance is absolute (scale
  // >= 1), since a long context's averages are small while their rounding is not.
  return CompareRows(got, want, before, rows, ldo, 0, width, tol, what, /*min_scale=*/1.0);
}

TEST_F(CudaBackendTest, AttentionOverMixedDTypePoolsMatchesCpu) {
  std::mt19937 rng(10);
  const AttentionCase cases[] = {{1, 1, 32},   {2, 1, 64},   {4, 4, 64},   {8, 2, 80},
                                 {12, 4, 128}, {32, 8, 128}, {32, 1, 256}, {16, 16, 32},
                                 {24, 8, 256}, {32, 32, 80}, {6, 3, 64},   {20, 2, 128}};
  const std::vector<std::vector<DType>> pool_sets = {
      {DType::kF32}, {DType::kBF16, DType::kF32, DType::kF16}, {DType::kF16, DType::kBF16}};
  const int32_t windows[] = {0, 1, 16, 100};
  double worst = 0.0;
  int variant = 0;
  for (const AttentionCase& c : cases) {
    for (const auto& dtypes : pool_sets) {
      const int32_t window = windows[variant++ % 4];
      const int64_t kv_dim = int64_t{c.n_kv_heads} * c.head_dim;
      const std::vector<int32_t> lens = {150, 300, 37, 1};
      HostKv host = MakePagedKv(dtypes, 16, kv_dim, lens, rng);
      DeviceKv dev = UploadKv(*gpu_, host);
      FillKv(cpu_, *gpu_, host, dev, lens, 2.0f, rng);
      ExpectSamePools(*gpu_, host, dev, "StoreKv before attention");
      // A prefill chunk of sequence 1 (positions 100..139) among decode rows of the others,
      // at entry boundaries and inside entries, and the single-position sequence.
      std::vector<int32_t> seqs, pos;
      for (int32_t p = 100; p < 140; ++p) {
        seqs.push_back(1);
        pos.push_back(p);
      }
      seqs.insert(seqs.end(), {0, 2, 2, 0, 1, 3});
      pos.insert(pos.end(), {0, 36, 16, 149, 299, 0});
      // Outputs are convex combinations of values in [-1, 1], summed in f32 on both sides.
      worst = std::max(worst, RunAttentionCase(cpu_, *gpu_, c, host, dev, seqs, pos, window, 2.0f,
                                               1e-4, "mixed", rng));
      // Decode only: one row per sequence (the split path when the grid is small).
      worst =
          std::max(worst, RunAttentionCase(cpu_, *gpu_, c, host, dev, {0, 1, 2, 3},
                                           {149, 299, 36, 0}, window, 2.0f, 1e-4, "decode", rng));
      if (::testing::Test::HasFailure()) return;  // one broken geometry says enough
    }
  }
  std::printf("attention: worst |diff| / max|ref| %.3g\n", worst);
}

TEST_F(CudaBackendTest, AttentionSurvivesHugeScores) {
  std::mt19937 rng(11);
  const AttentionCase c = {8, 2, 64};
  const std::vector<int32_t> lens = {200, 90};
  HostKv host =
      MakePagedKv({DType::kBF16, DType::kF32}, 16, int64_t{c.n_kv_heads} * c.head_dim, lens, rng);
  DeviceKv dev = UploadKv(*gpu_, host);
  FillKv(cpu_, *gpu_, host, dev, lens, 2.0f, rng);
  // q in [-200, 200]: scores in the thousands, softmax nearly one-hot. A score's f32
  // rounding (~1e-4 absolute) moves the weights by ~1e-4 relative.
  RunAttentionCase(cpu_, *gpu_, c, host, dev, {0, 1, 0}, {199, 89, 57}, 0, 200.0f, 1e-3,
                   "huge scores", rng);
}

TEST_F(CudaBackendTest, AttentionOverLongContextsMatchesCpu) {
  std::mt19937 rng(12);
  const std::vector<int32_t> lens = {33000, 5000};
  for (const AttentionCase& c : {AttentionCase{8, 2, 128}, AttentionCase{32, 8, 64}}) {
    HostKv host = MakePagedKv({DType::kBF16, DType::kF32, DType::kF16}, 16,
                              int64_t{c.n_kv_heads} * c.head_dim, lens, rng);
    DeviceKv dev = UploadKv(*gpu_, host);
    FillKv(cpu_, *gpu_, host, dev, lens, 2.0f, rng);
    ExpectSamePools(*gpu_, host, dev, "long context StoreKv");
    for (int32_t window : {0, 4096}) {
      // Decode rows (split over the positions) and the end of a prefill chunk.
      const double tol = 2e-4;  // f32 sums over 33000 positions on both sides
      RunAttentionCase(cpu_, *gpu_, c, host, dev, {0}, {32999}, window, 2.0f, tol, "long decode",
                       rng);
      RunAttentionCase(cpu_, *gpu_, c, host, dev, {0, 1, 0, 0}, {32999, 4999, 20000, 31}, window,
                       2.0f, tol, "long batch", rng);
      std::vector<int32_t> seqs(16, 0), pos(16);
      std::iota(pos.begin(), pos.end(), 32984);
      RunAttentionCase(cpu_, *gpu_, c, host, dev, seqs, pos, window, 2.0f, tol, "long prefill",
                       rng);
    }
  }
}

// Last in the file: the one test that makes the backend fail on purpose.
TEST_F(CudaBackendTest, AFailingCallSurfacesThroughSynchronizeAndStopsLaterOps) {
  // A bogus device address (in the never-mapped first page). The runtime refuses the copy
  // (cudaMemcpyAsync fails); a driver that queued it anyway would fault in the copy, which
  // CopyToHost's wait reports (cudaStreamSynchronize). Either way Synchronize names it.
  DeviceBuffer valid = Upload(std::vector<float>(16, 1.0f));  // before the failure
  ASSERT_TRUE(gpu_->Synchronize().ok());
  std::vector<float> dst(16, 0.0f);
  gpu_->CopyToHost(dst.data(), reinterpret_cast<const void*>(uintptr_t{16}), 64);
  const absl::Status s = gpu_->Synchronize();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal) << s;
  EXPECT_THAT(std::string(s.message()),
              AnyOf(HasSubstr("cudaMemcpyAsync"), HasSubstr("cudaStreamSynchronize")));
  std::printf("the failure reads: %s\n", std::string(s.message()).c_str());
  EXPECT_THAT(std::string(s.message()), HasSubstr("engine/backend/cuda/cuda_backend.cc:"));
  // Later ops are no-ops and the first failure stays.
  std::vector<float> sentinel(16, -7.0f);
  gpu_->CopyToHost(sentinel.data(), valid.get(), 64);
  EXPECT_EQ(sentinel, std::vector<float>(16, -7.0f));
  EXPECT_EQ(gpu_->Synchronize(), s);
  EXPECT_EQ(gpu_->Allocate(256).status(), s);
}

}  // namespace
}  // namespace mot::backend::cuda
