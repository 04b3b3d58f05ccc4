// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The whole model on the CUDA backend against the CPU backend (label gpu; every test skips,
// saying why, where no CUDA device is usable). The backend comes through the factory
// (--device cuda: the run-time module), as the server gets it. Per model case of
// tests/model/step_script.h (3 towers; q/k norms, biases, rope scaling, post-branch norms,
// sliding window, tied and unfused weights): the logits of every step of a chunked prefill and
// decode over a paged cache with three pools of three dtypes, within bf16 tolerance of the
// CPU's (the GPU rounds a GEMM's inputs to the weight's 16-bit type; f32 weights are exact
// f32 GEMMs); then greedy decoding of f32 weights gives the CPU's tokens.
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "engine/backend/backend_factory.h"
#include "engine/backend/buffer.h"
#include "engine/core/thread_pool.h"
#include "engine/kv/paged_kv_cache.h"
#include "engine/model/mot_model.h"
#include "gtest/gtest.h"
#include "tests/model/step_script.h"
#include "tests/oracle/oracle_test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot {
namespace {

using ::mot::testing::DeviceCases;
using ::mot::testing::IsOk;
using ::mot::testing::ModelCase;
using ::mot::testing::OracleModel;
using ::mot::testing::PagedForTest;
using ::mot::testing::RunSteps;

// The CUDA backend, or null with the reason in *why.
std::unique_ptr<backend::Backend> Cuda(ThreadPool* pool, std::string* why) {
  absl::StatusOr<std::unique_ptr<backend::Backend>> b =
      backend::CreateBackend("cuda", pool, {}, nullptr);
  if (!b.ok()) {
    *why = std::string(b.status().message());
    return nullptr;
  }
  return *std::move(b);
}

// ‖got - want‖ / ‖want‖ over one step's logits.
double RelativeError(const std::vector<float>& got, const std::vector<float>& want) {
  double d = 0, n = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    d += (double{got[i]} - want[i]) * (double{got[i]} - want[i]);
    n += double{want[i]} * want[i];
  }
  return std::sqrt(d / std::max(n, 1e-30));
}

class CudaModelTest : public ::testing::TestWithParam<ModelCase> {
 protected:
  void SetUp() override {
    cuda_ = Cuda(&pool_, &why_);
    if (cuda_ == nullptr) GTEST_SKIP() << "no CUDA device: " << why_;
  }
  ThreadPool pool_{2};
  std::string why_;
  std::unique_ptr<backend::Backend> cuda_;
};

TEST_P(CudaModelTest, LogitsMatchTheCpuOverAPagedCache) {
  for (DType dtype : {DType::kF32, DType::kBF16}) {
    ModelCase c = GetParam();
    c.dtype = dtype;
    auto cpu = OracleModel::Create(c);
    ASSERT_THAT(cpu, IsOk());
    model::MotModelOptions options;
    options.fuse_projections = c.fuse;
    auto gpu = model::MotModel::Create(&(*cpu)->checkpoint(), cuda_.get(), options);
    ASSERT_THAT(gpu, IsOk());
    std::unique_ptr<kv::PagedKvCache> host = PagedForTest((*cpu)->config(), {});
    std::unique_ptr<kv::PagedKvCache> dev =
        PagedForTest((*cpu)->config(), backend::KvStorageOn(cuda_.get()));
    ASSERT_NE(host, nullptr);
    ASSERT_NE(dev, nullptr);
    const auto want = RunSteps((*cpu)->model(), host.get(), host.get());
    const auto got = RunSteps(**gpu, dev.get(), dev.get());
    ASSERT_EQ(got.size(), want.size());
    // f32 weights: f32 GEMMs and kernels in another order; bf16: the GEMM inputs rounded
    // to bf16 (relative rounding 2^-9 per element, accumulated over the layers).
    const double tol = dtype == DType::kF32 ? 1e-4 : 2e-2;
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i].size(), want[i].size());
      for (float v : got[i]) ASSERT_FALSE(std::isnan(v)) << "step " << i;
      EXPECT_LT(RelativeError(got[i], want[i]), tol) << DTypeName(dtype) << " step " << i;
    }
    EXPECT_THAT(cuda_->Synchronize(), IsOk());
  }
}

TEST_P(CudaModelTest, GreedyTokensMatchTheCpu) {
  // f32 weights: the first 24 greedy tokens of one sequence equal the CPU's.
  ModelCase c = GetParam();
  c.dtype = DType::kF32;
  auto cpu = OracleModel::Create(c);
  ASSERT_THAT(cpu, IsOk());
  auto gpu = model::MotModel::Create(&(*cpu)->checkpoint(), cuda_.get());
  ASSERT_THAT(gpu, IsOk());
  const MotConfig& config = (*cpu)->config();
  kv::ContiguousKvCacheConfig dc = kv::ContiguousKvCacheConfig::FromModelConfig(config, 1);
  dc.storage = backend::KvStorageOn(cuda_.get());
  auto dev_cache = kv::ContiguousKvCache::Create(dc);
  ASSERT_THAT(dev_cache, IsOk());
  std::unique_ptr<kv::ContiguousKvCache> host_cache = (*cpu)->NewCache(1);
  auto greedy = [&](model::MotModel& m, kv::KvCache* cache) {
    std::vector<int32_t> out;
    int32_t token = 10;
    for (int pos = 0; pos < 24; ++pos) {
      model::StepBatch b;
      b.rows.push_back({token, config.TowerOf(token), 0, pos, true});
      absl::StatusOr<std::vector<float>> logits = m.Forward(b, cache);
      EXPECT_THAT(logits, IsOk());
      if (!logits.ok()) break;
      token =
          static_cast<int32_t>(std::max_element(logits->begin(), logits->end()) - logits->begin());
      out.push_back(token);
    }
    return out;
  };
  EXPECT_EQ(greedy(**gpu, dev_cache->get()), greedy((*cpu)->model(), host_cache.get()));
}

INSTANTIATE_TEST_SUITE_P(Cases, CudaModelTest, ::testing::ValuesIn(DeviceCases()),
                         [](const auto& info) { return info.param.name; });

TEST(CudaModelErrorTest, AQuantizedCheckpointIsRefusedByTensorName) {
  ThreadPool pool(2);
  std::string why;
  std::unique_ptr<backend::Backend> cuda = Cuda(&pool, &why);
  if (cuda == nullptr) GTEST_SKIP() << "no CUDA device: " << why;
  EXPECT_FALSE(cuda->SupportsWeightDType(DType::kQ8_0).ok());
  EXPECT_TRUE(cuda->SupportsWeightDType(DType::kBF16).ok());
}

}  // namespace
}  // namespace mot
