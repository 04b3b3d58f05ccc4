// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// MotModel on a device backend, checked without a GPU. CheckedDeviceBackend claims
// device_memory() and runs the CPU backend's kernels, but first checks that every pointer an
// op is given lies inside one of its own allocations (and inv_freq, the one host argument,
// outside them): a host pointer reaching a device op, which on a real GPU would be a fault
// or garbage, is recorded as a violation. Over it the model must give exactly the CPU
// model's logits (the same kernels run), with no violation, over a contiguous and a paged
// cache (three pools, partly filled blocks) whose storage is the backend's; a sticky device
// error must come out of Forward and leave the cache's lengths alone. The CUDA backend's
// own parity with the CPU is tests/cuda (label gpu).
#include <cstdint>
#include <cstdlib>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/backend/buffer.h"
#include "engine/core/step_batch.h"
#include "engine/kv/contiguous_kv_cache.h"
#include "engine/kv/paged_kv_cache.h"
#include "engine/model/mot_model.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model/step_script.h"
#include "tests/oracle/oracle_test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot::model {
namespace {

using ::mot::testing::DeviceCases;
using ::mot::testing::IsOk;
using ::mot::testing::ModelCase;
using ::mot::testing::OracleModel;
using ::mot::testing::PagedForTest;
using ::mot::testing::RunSteps;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

class CheckedDeviceBackend final : public backend::Backend {
 public:
  explicit CheckedDeviceBackend(backend::Backend* cpu) : cpu_(cpu) {}
  ~CheckedDeviceBackend() override {
    for (auto& [p, n] : live_) std::free(reinterpret_cast<void*>(p));
  }

  std::string_view name() const override { return "checked-device"; }
  bool device_memory() const override { return true; }

  absl::StatusOr<void*> Allocate(int64_t bytes) override {
    void* p = std::aligned_alloc(
        256, static_cast<size_t>((std::max<int64_t>(bytes, 1) + 255) / 256 * 256));
    if (p == nullptr) return absl::ResourceExhaustedError("checked-device: out of memory");
    live_[reinterpret_cast<uintptr_t>(p)] = bytes;
    allocated_ += bytes;
    return p;
  }
  void Free(void* p) override {
    if (p == nullptr) return;
    if (live_.erase(reinterpret_cast<uintptr_t>(p)) == 0)
      Violation("Free of a pointer not allocated here");
    std::free(p);
  }
  void CopyToBackend(void* dst, const void* src, int64_t bytes) override {
    Dev(dst, bytes, "CopyToBackend dst");
    Host(src, "CopyToBackend src");
    ++uploads_;
    backend::Backend::CopyToBackend(dst, src, bytes);
  }
  void CopyToHost(void* dst, const void* src, int64_t bytes) override {
    Dev(src, bytes, "CopyToHost src");
    Host(dst, "CopyToHost dst");
    backend::Backend::CopyToHost(dst, src, bytes);
  }
  absl::Status Synchronize() override { return sticky_; }
  absl::StatusOr<MemoryInfo> QueryMemory() override {
    return MemoryInfo{int64_t{1} << 30, int64_t{2} << 30};
  }

  void Linear(const float* x, int64_t m, int64_t ldx, const backend::WeightRef& w, float* y,
              int64_t ldy, bool accumulate) override {
    Dev(x, Span(m, ldx, w.cols, 4), "Linear x");
    Dev(w.data, DTypeBytes(w.dtype, w.rows * w.cols), "Linear w");
    Dev(y, Span(m, ldy, w.rows, 4), "Linear y");
    cpu_->Linear(x, m, ldx, w, y, ldy, accumulate);
  }
  void RmsNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
               float eps, float* y, int64_t ldy) override {
    Dev(x, Span(rows, ldx, dim, 4), "RmsNorm x");
    Dev(weight, dim * 4, "RmsNorm weight");
    Dev(y, Span(rows, ldy, dim, 4), "RmsNorm y");
    cpu_->RmsNorm(x, rows, dim, ldx, weight, eps, y, ldy);
  }
  void LayerNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
                 const float* bias, float eps, float* y, int64_t ldy) override {
    Dev(x, Span(rows, ldx, dim, 4), "LayerNorm x");
    Dev(weight, dim * 4, "LayerNorm weight");
    if (bias != nullptr) Dev(bias, dim * 4, "LayerNorm bias");
    Dev(y, Span(rows, ldy, dim, 4), "LayerNorm y");
    cpu_->LayerNorm(x, rows, dim, ldx, weight, bias, eps, y, ldy);
  }
  void Rotary(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
              const int32_t* pos, float theta) override {
    Dev(x, Span(rows, ldx, int64_t{n_heads} * head_dim, 4), "Rotary x");
    Dev(pos, rows * 4, "Rotary pos");
    cpu_->Rotary(x, rows, ldx, n_heads, head_dim, pos, theta);
  }
  void RotaryFreqs(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                   const int32_t* pos, const double* inv_freq) override {
    Dev(x, Span(rows, ldx, int64_t{n_heads} * head_dim, 4), "RotaryFreqs x");
    Dev(pos, rows * 4, "RotaryFreqs pos");
    Host(inv_freq, "RotaryFreqs inv_freq");  // host memory by contract
    cpu_->RotaryFreqs(x, rows, ldx, n_heads, head_dim, pos, inv_freq);
  }
  void SwiGlu(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows, int64_t n,
              float* out, int64_t ldo) override {
    Dev(gate, Span(rows, ldg, n, 4), "SwiGlu gate");
    Dev(up, Span(rows, ldu, n, 4), "SwiGlu up");
    Dev(out, Span(rows, ldo, n, 4), "SwiGlu out");
    cpu_->SwiGlu(gate, ldg, up, ldu, rows, n, out, ldo);
  }
  void Embedding(const int32_t* ids, int64_t rows, const backend::WeightRef& table, float* y,
                 int64_t ldy) override {
    Dev(ids, rows * 4, "Embedding ids");
    Dev(table.data, DTypeBytes(table.dtype, table.rows * table.cols), "Embedding table");
    Dev(y, Span(rows, ldy, table.cols, 4), "Embedding y");
    cpu_->Embedding(ids, rows, table, y, ldy);
  }
  void StoreKv(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
               const kv::KvSlot* slots, const kv::KvLayerView& kv) override {
    Dev(k, Span(rows, ldk, kv.kv_dim, 4), "StoreKv k");
    Dev(v, Span(rows, ldv, kv.kv_dim, 4), "StoreKv v");
    Dev(slots, rows * int64_t{sizeof(kv::KvSlot)}, "StoreKv slots");
    View(kv, "StoreKv");
    cpu_->StoreKv(k, ldk, v, ldv, rows, slots, kv);
  }
  void Attention(const backend::AttentionArgs& a) override {
    const int64_t width = int64_t{a.n_heads} * a.head_dim;
    Dev(a.q, Span(a.rows, a.ldq, width, 4), "Attention q");
    Dev(a.seq, a.rows * 4, "Attention seq");
    Dev(a.pos, a.rows * 4, "Attention pos");
    Dev(a.out, Span(a.rows, a.ldo, width, 4), "Attention out");
    View(a.kv, "Attention");
    cpu_->Attention(a);
  }
  void GatherRows(const float* src, int64_t lds, const int32_t* index, int64_t rows, int64_t cols,
                  float* dst, int64_t ldd) override {
    Dev(index, rows * 4, "GatherRows index");
    Dev(src, 4 * cols, "GatherRows src");
    Dev(dst, Span(rows, ldd, cols, 4), "GatherRows dst");
    cpu_->GatherRows(src, lds, index, rows, cols, dst, ldd);
  }
  void Add(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y,
           int64_t ldy) override {
    Dev(x, ldx == 0 ? cols * 4 : Span(rows, ldx, cols, 4), "Add x");
    Dev(y, Span(rows, ldy, cols, 4), "Add y");
    cpu_->Add(x, ldx, rows, cols, y, ldy);
  }

  void SetSticky(absl::Status s) { sticky_ = std::move(s); }
  const std::vector<std::string>& violations() const { return violations_; }
  int64_t live_allocations() const { return static_cast<int64_t>(live_.size()); }
  int uploads() const { return uploads_; }

 private:
  static int64_t Span(int64_t rows, int64_t ld, int64_t cols, int64_t elem) {
    return rows <= 0 ? 0 : ((rows - 1) * ld + cols) * elem;
  }
  // Whether [p, p + bytes) lies inside one live allocation.
  bool Inside(const void* p, int64_t bytes) const {
    const auto a = reinterpret_cast<uintptr_t>(p);
    auto it = live_.upper_bound(a);
    if (it == live_.begin()) return false;
    --it;
    return a + static_cast<uint64_t>(bytes) <= it->first + static_cast<uint64_t>(it->second);
  }
  void Dev(const void* p, int64_t bytes, const char* what) {
    if (!Inside(p, std::max<int64_t>(bytes, 1)))
      Violation(absl::StrCat(what, ": not device memory"));
  }
  void Host(const void* p, const char* what) {
    if (Inside(p, 1)) Violation(absl::StrCat(what, ": device memory where host memory is due"));
  }
  // The view's tables and every pool's storage are device memory; the tables are read here
  // (the fake device is host-addressable) to check the pools they point at.
  void View(const kv::KvLayerView& kv, const char* op) {
    Dev(kv.pools, kv.num_pools * int64_t{sizeof(kv::KvPoolView)}, op);
    Dev(kv.seq_entry_begin, 4, op);
    if (!violations_.empty()) return;
    for (int32_t p = 0; p < kv.num_pools; ++p) {
      Dev(kv.pools[p].k, 1, "pool k");
      Dev(kv.pools[p].v, 1, "pool v");
    }
    Dev(kv.entries, int64_t{sizeof(kv::KvBlockEntry)}, op);
  }
  void Violation(std::string what) { violations_.push_back(std::move(what)); }

  backend::Backend* cpu_;
  std::map<uintptr_t, int64_t> live_;
  int64_t allocated_ = 0;
  int uploads_ = 0;
  absl::Status sticky_;
  std::vector<std::string> violations_;
};

class DevicePathTest : public ::testing::TestWithParam<ModelCase> {
 protected:
  void SetUp() override {
    auto m = OracleModel::Create(GetParam());
    ASSERT_THAT(m, IsOk());
    cpu_ = *std::move(m);
    device_ = std::make_unique<CheckedDeviceBackend>(&cpu_->backend());
    MotModelOptions options;
    options.fuse_projections = GetParam().fuse;
    auto model = MotModel::Create(&cpu_->checkpoint(), device_.get(), options);
    ASSERT_THAT(model, IsOk());
    model_ = *std::move(model);
  }
  std::unique_ptr<OracleModel> cpu_;
  std::unique_ptr<CheckedDeviceBackend> device_;
  std::unique_ptr<MotModel> model_;
};

TEST_P(DevicePathTest, SameLogitsAsOnTheHostAndOnlyDevicePointers) {
  const MotConfig& config = cpu_->config();
  {
    std::unique_ptr<kv::ContiguousKvCache> host = cpu_->NewCache(2);
    kv::ContiguousKvCacheConfig dc = kv::ContiguousKvCacheConfig::FromModelConfig(config, 2);
    dc.storage = backend::KvStorageOn(device_.get());
    auto dev = kv::ContiguousKvCache::Create(dc);
    ASSERT_THAT(dev, IsOk());
    const auto want = RunSteps(cpu_->model(), host.get(), nullptr);
    const auto got = RunSteps(*model_, dev->get(), nullptr);
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << "contiguous step " << i;
  }
  {
    std::unique_ptr<kv::PagedKvCache> host = PagedForTest(config, {});
    std::unique_ptr<kv::PagedKvCache> dev =
        PagedForTest(config, backend::KvStorageOn(device_.get()));
    ASSERT_NE(host, nullptr);
    ASSERT_NE(dev, nullptr);
    const auto want = RunSteps(cpu_->model(), host.get(), host.get());
    const auto got = RunSteps(*model_, dev.get(), dev.get());
    ASSERT_EQ(got.size(), want.size());
    for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i], want[i]) << "paged step " << i;
  }
  EXPECT_THAT(device_->violations(), ::testing::IsEmpty());
}

INSTANTIATE_TEST_SUITE_P(Variants, DevicePathTest, ::testing::ValuesIn(DeviceCases()),
                         [](const auto& info) { return info.param.name; });

TEST(DevicePathCheckTest, TheCheckerSeesAHostPointer) {
  // The check above can fail: a host activation given to a device op is a violation.
  auto m = OracleModel::Create(DeviceCases()[0]);
  ASSERT_THAT(m, IsOk());
  CheckedDeviceBackend device(&(*m)->backend());
  std::vector<float> host(8, 1.0f);
  std::vector<float> w(8, 1.0f);
  auto dw = device.Allocate(32);
  ASSERT_THAT(dw, IsOk());
  device.Add(host.data(), 8, 1, 8, static_cast<float*>(*dw), 8);
  ASSERT_EQ(device.violations().size(), 1u);
  EXPECT_THAT(device.violations()[0], HasSubstr("Add x: not device memory"));
  device.Free(*dw);
}

TEST(DevicePathErrorTest, AStickyDeviceErrorComesOutOfForwardAndLeavesTheCache) {
  auto m = OracleModel::Create(DeviceCases()[0]);
  ASSERT_THAT(m, IsOk());
  CheckedDeviceBackend device(&(*m)->backend());
  auto model = MotModel::Create(&(*m)->checkpoint(), &device);
  ASSERT_THAT(model, IsOk());
  kv::ContiguousKvCacheConfig dc = kv::ContiguousKvCacheConfig::FromModelConfig((*m)->config(), 1);
  dc.storage = backend::KvStorageOn(&device);
  auto cache = kv::ContiguousKvCache::Create(dc);
  ASSERT_THAT(cache, IsOk());
  StepBatch batch;
  batch.rows.push_back({10, 0, 0, 0, true});
  device.SetSticky(absl::InternalError("cudaMemcpyAsync (x.cc:1): an illegal memory access"));
  EXPECT_THAT((*model)->Forward(batch, cache->get()),
              StatusIs(absl::StatusCode::kInternal, HasSubstr("cudaMemcpyAsync")));
  EXPECT_EQ((*cache)->Length(0), 0);
}

TEST(DevicePathErrorTest, AWeightDTypeTheDeviceCannotRunIsRefusedByName) {
  // A device that runs only F32 refuses a BF16 checkpoint at load, naming the tensor.
  class F32Only final : public backend::Backend {
   public:
    explicit F32Only(backend::Backend* cpu) : checked_(cpu) {}
    std::string_view name() const override { return "f32-only"; }
    bool device_memory() const override { return true; }
    absl::Status SupportsWeightDType(DType d) const override {
      if (d == DType::kF32) return absl::OkStatus();
      return absl::UnimplementedError(absl::StrCat("f32-only: no ", DTypeName(d), " weights"));
    }
    void Linear(const float*, int64_t, int64_t, const backend::WeightRef&, float*, int64_t,
                bool) override {}
    void RmsNorm(const float*, int64_t, int64_t, int64_t, const float*, float, float*,
                 int64_t) override {}
    void LayerNorm(const float*, int64_t, int64_t, int64_t, const float*, const float*, float,
                   float*, int64_t) override {}
    void Rotary(float*, int64_t, int64_t, int32_t, int32_t, const int32_t*, float) override {}
    void SwiGlu(const float*, int64_t, const float*, int64_t, int64_t, int64_t, float*,
                int64_t) override {}
    void Embedding(const int32_t*, int64_t, const backend::WeightRef&, float*, int64_t) override {}
    void StoreKv(const float*, int64_t, const float*, int64_t, int64_t, const kv::KvSlot*,
                 const kv::KvLayerView&) override {}
    void Attention(const backend::AttentionArgs&) override {}
    void GatherRows(const float*, int64_t, const int32_t*, int64_t, int64_t, float*,
                    int64_t) override {}
    void Add(const float*, int64_t, int64_t, int64_t, float*, int64_t) override {}

   private:
    CheckedDeviceBackend checked_;
  };
  ModelCase c = DeviceCases()[0];
  c.dtype = DType::kBF16;
  auto m = OracleModel::Create(c);
  ASSERT_THAT(m, IsOk());
  F32Only device(&(*m)->backend());
  EXPECT_THAT(MotModel::Create(&(*m)->checkpoint(), &device),
              StatusIs(absl::StatusCode::kUnimplemented,
                       HasSubstr("tensor tok_embeddings.weight: f32-only: no BF16 weights")));
}

TEST(DevicePathMemoryTest, EveryDeviceAllocationIsFreedWithTheModelAndTheCache) {
  auto m = OracleModel::Create(DeviceCases()[0]);
  ASSERT_THAT(m, IsOk());
  CheckedDeviceBackend device(&(*m)->backend());
  {
    auto model = MotModel::Create(&(*m)->checkpoint(), &device);
    ASSERT_THAT(model, IsOk());
    std::unique_ptr<kv::PagedKvCache> cache =
        PagedForTest((*m)->config(), backend::KvStorageOn(&device));
    ASSERT_NE(cache, nullptr);
    EXPECT_GT(device.live_allocations(), 0);
    EXPECT_GT(device.uploads(), 0);
    RunSteps(**model, cache.get(), cache.get());
  }
  EXPECT_EQ(device.live_allocations(), 0);
  EXPECT_THAT(device.violations(), ::testing::IsEmpty());
}

}  // namespace
}  // namespace mot::model
