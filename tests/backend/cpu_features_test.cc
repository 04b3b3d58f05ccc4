// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/backend/cpu/cpu_features.h"

#include <cstdlib>

#include "engine/backend/cpu/cpu_backend.h"
#include "engine/core/thread_pool.h"
#include "gtest/gtest.h"

namespace mot::backend::cpu {
namespace {

TEST(CpuFeaturesTest, NamesRoundTrip) {
  for (IsaLevel level : {IsaLevel::kScalar, IsaLevel::kAvx2, IsaLevel::kAvx512}) {
    EXPECT_EQ(ParseIsa(IsaName(level)), level);
  }
  EXPECT_EQ(ParseIsa("sse9"), std::nullopt);
  EXPECT_EQ(ParseIsa(""), std::nullopt);
}

TEST(CpuFeaturesTest, LevelsAreConsistentWithFeatures) {
  const CpuFeatures& f = DetectCpuFeatures();
  if (f.avx512) {
    EXPECT_TRUE(f.avx2);  // AVX-512 implies the AVX2 set
  }
  const IsaLevel level = DetectIsa();
  EXPECT_EQ(level == IsaLevel::kAvx512, f.avx512);
  const auto levels = AvailableIsaLevels();
  ASSERT_FALSE(levels.empty());
  EXPECT_EQ(levels.front(), IsaLevel::kScalar);
  EXPECT_EQ(levels.back(), level);
}

TEST(CpuFeaturesTest, ForcingLowersButNeverRaises) {
  unsetenv("MOT_CPU_ISA");
  EXPECT_EQ(ResolveIsa(IsaLevel::kScalar), IsaLevel::kScalar);
  EXPECT_EQ(ResolveIsa(std::nullopt), DetectIsa());
  EXPECT_EQ(ResolveIsa(IsaLevel::kAvx512), DetectIsa());  // clamped to the machine
}

TEST(CpuFeaturesTest, EnvironmentVariableForcesALowerLevel) {
  setenv("MOT_CPU_ISA", "scalar", 1);
  EXPECT_EQ(ResolveIsa(std::nullopt), IsaLevel::kScalar);
  ThreadPool pool(1);
  CpuBackend backend(&pool);
  EXPECT_EQ(backend.name(), "cpu-scalar");
  setenv("MOT_CPU_ISA", "bogus", 1);  // ignored
  EXPECT_EQ(ResolveIsa(std::nullopt), DetectIsa());
  unsetenv("MOT_CPU_ISA");
}

TEST(CpuFeaturesTest, BackendNameReportsTheLevel) {
  unsetenv("MOT_CPU_ISA");
  ThreadPool pool(1);
  for (IsaLevel level : AvailableIsaLevels()) {
    CpuBackend backend(&pool, level);
    EXPECT_EQ(backend.isa(), level);
    EXPECT_EQ(backend.name(),
              std::string("cpu-") + IsaName(level) + (backend.uses_amx() ? "+amx" : ""));
    backend.set_amx(false);
    EXPECT_EQ(backend.name(), std::string("cpu-") + IsaName(level));
  }
}

TEST(CpuFeaturesTest, AmxNeedsItsCpuidBitsAndTheLevel) {
  const CpuFeatures& f = DetectCpuFeatures();
  if (f.amx_bf16) {
    EXPECT_TRUE(f.avx512 && f.avx512_bf16) << "AMX-BF16 here implies AVX-512 BF16";
  }
  ThreadPool pool(1);
  setenv("MOT_CPU_AMX", "0", 1);
  CpuBackend off(&pool);
  EXPECT_FALSE(off.uses_amx()) << "MOT_CPU_AMX=0 turns it off";
  unsetenv("MOT_CPU_AMX");
  CpuBackend on(&pool);
  EXPECT_EQ(on.uses_amx(), f.amx_bf16 && on.isa() == IsaLevel::kAvx512);
}

}  // namespace
}  // namespace mot::backend::cpu
