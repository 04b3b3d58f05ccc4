// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/backend/cpu/cpu_features.h"

#include <algorithm>
#include <cstdlib>
#include <optional>
#include <string>

#include "engine/backend/backend_factory.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/core/thread_pool.h"
#include "gmock/gmock.h"
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
    static constexpr const char* kSuffix[] = {"", "+bf16dot", "+amx"};
    EXPECT_EQ(backend.name(), std::string("cpu-") + IsaName(level) +
                                  kSuffix[static_cast<int>(backend.bf16_gemm())]);
    backend.set_bf16_gemm(CpuBackend::Bf16Gemm::kF32);
    EXPECT_EQ(backend.name(), std::string("cpu-") + IsaName(level));
  }
}

TEST(CpuFeaturesTest, Bf16GemmDefaultsToAmxAndIsChosenWithinWhatTheCpuHas) {
  using Bf16Gemm = CpuBackend::Bf16Gemm;
  const CpuFeatures& f = DetectCpuFeatures();
  if (f.amx_bf16) {
    EXPECT_TRUE(f.avx512 && f.avx512_bf16) << "AMX-BF16 here implies AVX-512 BF16";
  }
  const Bf16Gemm available = f.amx_bf16      ? Bf16Gemm::kAmx
                             : f.avx512_bf16 ? Bf16Gemm::kDot
                                             : Bf16Gemm::kF32;
  ThreadPool pool(1);
  CpuBackend backend(&pool);
  const bool avx512 = backend.isa() == IsaLevel::kAvx512;
  EXPECT_EQ(CpuBackend::AvailableBf16Gemm(backend.isa()), avx512 ? available : Bf16Gemm::kF32);
  EXPECT_EQ(backend.bf16_gemm(),
            avx512 && available == Bf16Gemm::kAmx ? Bf16Gemm::kAmx : Bf16Gemm::kF32);
  setenv("MOT_CPU_BF16_GEMM", "f32", 1);
  EXPECT_EQ(CpuBackend(&pool).bf16_gemm(), Bf16Gemm::kF32) << "MOT_CPU_BF16_GEMM=f32";
  setenv("MOT_CPU_BF16_GEMM", "dot", 1);
  EXPECT_EQ(CpuBackend(&pool).bf16_gemm(),
            std::min(Bf16Gemm::kDot, CpuBackend::AvailableBf16Gemm(backend.isa())));
  setenv("MOT_CPU_BF16_GEMM", "bogus", 1);  // ignored
  EXPECT_EQ(CpuBackend(&pool).bf16_gemm(), backend.bf16_gemm());
  unsetenv("MOT_CPU_BF16_GEMM");
  EXPECT_EQ(CpuBackend::ParseBf16Gemm("amx"), Bf16Gemm::kAmx);
  EXPECT_EQ(CpuBackend::ParseBf16Gemm("AMX"), std::nullopt);
}

// The factory's --cpu_bf16_gemm (CpuOptions::bf16_gemm): a known path is set (or the note
// says what the CPU gave instead), an unknown one, on the flag or in MOT_CPU_BF16_GEMM, is
// refused by name.
TEST(CpuFeaturesTest, FactoryTakesTheBf16GemmOptionAndRefusesUnknownPaths) {
  using backend::CheckCpuOptions;
  using backend::CpuOptions;
  using backend::CreateBackend;
  using Bf16Gemm = CpuBackend::Bf16Gemm;
  ThreadPool pool(1);
  std::string note;
  auto f32 = CreateBackend("cpu", &pool, CpuOptions{.bf16_gemm = "f32"}, &note);
  ASSERT_TRUE(f32.ok()) << f32.status();
  EXPECT_EQ(static_cast<CpuBackend&>(**f32).bf16_gemm(), Bf16Gemm::kF32);
  EXPECT_EQ(note, "--device cpu");
  auto amx = CreateBackend("cpu", &pool, CpuOptions{.bf16_gemm = "amx"}, &note);
  ASSERT_TRUE(amx.ok()) << amx.status();
  const Bf16Gemm got = static_cast<CpuBackend&>(**amx).bf16_gemm();
  EXPECT_EQ(got, CpuBackend::AvailableBf16Gemm(static_cast<CpuBackend&>(**amx).isa()));
  EXPECT_EQ(note.find("lacks it") != std::string::npos, got != Bf16Gemm::kAmx) << note;

  auto bad = CreateBackend("cpu", &pool, CpuOptions{.bf16_gemm = "tiles"}, &note);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(bad.status().message()), testing::HasSubstr("--cpu_bf16_gemm"));
  EXPECT_THAT(std::string(bad.status().message()), testing::HasSubstr("tiles"));
  setenv("MOT_CPU_BF16_GEMM", "bogus", 1);
  const absl::Status env = CheckCpuOptions(CpuOptions{});
  unsetenv("MOT_CPU_BF16_GEMM");
  EXPECT_EQ(env.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(env.message()), testing::HasSubstr("MOT_CPU_BF16_GEMM"));
  EXPECT_TRUE(CheckCpuOptions(CpuOptions{}).ok());
}

}  // namespace
}  // namespace mot::backend::cpu
