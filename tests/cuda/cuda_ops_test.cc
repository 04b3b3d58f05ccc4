// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// CUDA kernels against a plain CPU loop. Skips (with the reason) where no GPU is present.
#include "engine/backend/cuda/cuda_ops.h"

#include <cmath>
#include <random>
#include <vector>

#include "gtest/gtest.h"

namespace mot::backend::cuda {
namespace {

bool HaveGpu(std::string* why) {
  auto devices = ListDevices();
  if (!devices.ok()) *why = std::string(devices.status().message());
  return devices.ok();
}

TEST(CudaOpsTest, ListDevicesNamesEachDevice) {
  std::string why;
  if (!HaveGpu(&why)) GTEST_SKIP() << "no GPU on this machine: " << why;
  auto devices = ListDevices();
  ASSERT_TRUE(devices.ok());
  for (const DeviceInfo& d : *devices) {
    EXPECT_FALSE(d.name.empty());
    EXPECT_GE(d.compute_major, 7);
    EXPECT_GT(d.total_memory_bytes, 0);
  }
}

TEST(CudaOpsTest, RmsNormMatchesCpuLoop) {
  std::string why;
  if (!HaveGpu(&why)) GTEST_SKIP() << "no GPU on this machine: " << why;
  for (int64_t dim : {1, 31, 64, 768, 4099}) {
    const int64_t rows = 7;
    std::mt19937 rng(static_cast<uint32_t>(dim));
    std::normal_distribution<float> normal(0.f, 2.f);
    std::vector<float> x(static_cast<size_t>(rows * dim)), w(static_cast<size_t>(dim));
    for (float& v : x) v = normal(rng);
    for (float& v : w) v = normal(rng);
    std::vector<float> y(x.size());
    ASSERT_TRUE(RmsNormOnDevice(x.data(), rows, dim, w.data(), 1e-5f, y.data()).ok());
    double max_diff = 0;
    for (int64_t r = 0; r < rows; ++r) {
      double ss = 0;
      for (int64_t i = 0; i < dim; ++i) ss += double(x[r * dim + i]) * x[r * dim + i];
      const double inv = 1.0 / std::sqrt(ss / double(dim) + 1e-5);
      for (int64_t i = 0; i < dim; ++i) {
        const double ref = x[r * dim + i] * inv * w[i];
        const double diff = std::abs(y[r * dim + i] - ref);
        max_diff = std::max(max_diff, diff);
        EXPECT_LE(diff, 1e-5 + 1e-5 * std::abs(ref)) << "dim " << dim << " row " << r;
      }
    }
    std::printf("dim %lld: max |diff| %.3g\n", static_cast<long long>(dim), max_diff);
  }
}

}  // namespace
}  // namespace mot::backend::cuda
