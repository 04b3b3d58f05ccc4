// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Q8_0 / Q4_0 in our safetensors files (the shape rule, sizes, round trip) and
// ConvertGemmWeights (which tensors it converts, what it refuses), and the mot-quantize
// binary (MOT_QUANTIZE_BIN): its output checkpoint and its refusals.
#include "model_loaders/quantize.h"

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <string>
#include <vector>

#include "engine/core/block_quant.h"
#include "engine/model/random_weights.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/safetensors.h"
#include "model_loaders/weight_names.h"
#include "tests/oracle/oracle_test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

Tensor Quantized(DType dtype, std::vector<int64_t> shape, float scale) {
  Tensor f = Tensor::Empty(DType::kF32, shape);
  for (int64_t i = 0; i < f.numel(); ++i) f.data_as<float>()[i] = scale * std::sin(0.1f * i);
  return f.To(dtype);
}

TEST(QuantizedSafetensorsTest, BlockDTypesRoundTripWithTheirByteSizes) {
  std::vector<NamedTensor> tensors = {{"a", Quantized(DType::kQ8_0, {3, 64}, 2.0f)},
                                      {"b", Quantized(DType::kQ4_0, {5, 32}, 1.0f)},
                                      {"c", Tensor::Zeros(DType::kF32, {7})}};
  EXPECT_EQ(tensors[0].tensor.nbytes(), 3 * 2 * 34);
  EXPECT_EQ(tensors[1].tensor.nbytes(), 5 * 18);
  auto bytes = SerializeSafetensors(tensors);
  ASSERT_THAT(bytes, IsOk());
  auto file = SafetensorsFile::FromBuffer(*bytes, "q.safetensors");
  ASSERT_THAT(file, IsOk());
  for (const NamedTensor& want : tensors) {
    auto got = file->Get(want.name);
    ASSERT_THAT(got, IsOk());
    EXPECT_EQ(got->dtype(), want.tensor.dtype()) << want.name;
    EXPECT_EQ(got->shape(), want.tensor.shape()) << want.name;
    ASSERT_EQ(got->nbytes(), want.tensor.nbytes()) << want.name;
    EXPECT_EQ(std::memcmp(got->data(), want.tensor.data(), got->nbytes()), 0) << want.name;
    EXPECT_EQ(reinterpret_cast<uintptr_t>(got->data()) % 2, 0u) << want.name;
  }
  EXPECT_THAT(*bytes, HasSubstr("\"dtype\":\"Q8_0\""));
  EXPECT_THAT(*bytes, HasSubstr("\"dtype\":\"Q4_0\""));
}

// A header declaring a Q8_0 tensor whose rows are not whole blocks is refused by name.
TEST(QuantizedSafetensorsTest, ReaderRefusesRowsThatAreNotWholeBlocks) {
  const std::string header = R"({"w":{"dtype":"Q8_0","shape":[2,48],"data_offsets":[0,102]}})";
  std::string file(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  file += header + std::string(102, '\0');
  EXPECT_THAT(SafetensorsFile::FromBuffer(file, "bad.safetensors").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("bad.safetensors: tensor 'w': shape [2, 48] of Q8_0: the last "
                                 "dimension must be a multiple of 32")));
}

TEST(QuantizedSafetensorsTest, ReaderChecksTheBlockByteSize) {
  const std::string header = R"({"w":{"dtype":"Q4_0","shape":[2,32],"data_offsets":[0,64]}})";
  std::string file(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) file[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  file += header + std::string(64, '\0');
  EXPECT_THAT(SafetensorsFile::FromBuffer(file, "q.safetensors").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("of Q4_0 needs 36")));
}

TEST(QuantizedSafetensorsTest, WriterRefusesRowsThatAreNotWholeBlocks) {
  Tensor t = Tensor::Zeros(DType::kQ8_0, {2, 32});
  Tensor bad = Tensor::View(DType::kQ8_0, {64, 1}, t.data());
  EXPECT_THAT(
      SerializeSafetensors({{"w", bad}}).status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tensor 'w': shape [64, 1] of Q8_0")));
}

TEST(ConvertGemmWeightsTest, ConvertsProjectionsAndLmHeadOnly) {
  testing::ModelCase c{"q",         2, NormPlacement::kPre, NormType::kRms, 4, 2, false, false,
                       DType::kF32, 3};
  const MotConfig config = testing::MakeConfig(c);
  const auto tensors = model::RandomMotWeights(config, DType::kBF16, 3);
  auto out = ConvertGemmWeights(config, tensors, DType::kQ4_0);
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), tensors.size());
  int quantized = 0;
  for (size_t i = 0; i < out->size(); ++i) {
    const NamedTensor& t = (*out)[i];
    EXPECT_EQ(t.name, tensors[i].name);
    EXPECT_EQ(t.tensor.shape(), tensors[i].tensor.shape()) << t.name;
    const bool gemm = IsGemmWeight(config, t.name);
    EXPECT_EQ(t.tensor.dtype(), gemm ? DType::kQ4_0 : tensors[i].tensor.dtype()) << t.name;
    quantized += gemm;
  }
  // 2 layers x 2 towers x 7 projections + the untied LM head.
  EXPECT_EQ(quantized, config.n_layers * 2 * 7 + 1);
  EXPECT_FALSE(IsGemmWeight(config, weight_names::kTokEmbeddings));
  EXPECT_TRUE(IsGemmWeight(config, weight_names::kOutput));
}

TEST(ConvertGemmWeightsTest, RefusesRowsThatAreNotWholeBlocksAndNonFiniteValues) {
  testing::ModelCase c{"q",         1, NormPlacement::kPre, NormType::kRms, 4, 2, false, false,
                       DType::kF32, 3};
  const MotConfig config = testing::MakeConfig(c);
  const std::string name = weight_names::FfnProj(0, 2, 0);
  std::vector<NamedTensor> tensors = {{name, Tensor::Zeros(DType::kF32, {64, 40})}};
  EXPECT_THAT(
      ConvertGemmWeights(config, tensors, DType::kQ8_0).status(),
      StatusIs(absl::StatusCode::kInvalidArgument,
               HasSubstr("tensor " + name + ": rows of 40 inputs are not a multiple of 32")));
  tensors[0].tensor = Tensor::Zeros(DType::kF32, {64, 96});
  tensors[0].tensor.data_as<float>()[100] = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(ConvertGemmWeights(config, tensors, DType::kQ8_0).status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("tensor " + name + ": element 100 is not finite")));
}

#ifdef MOT_QUANTIZE_BIN
struct CommandResult {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

CommandResult RunQuantize(const std::string& args) {
  CommandResult r;
  const std::string cmd = std::string(MOT_QUANTIZE_BIN) + " " + args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) return r;
  char buf[512];
  while (fgets(buf, sizeof buf, p) != nullptr) r.output += buf;
  const int status = pclose(p);
  r.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return r;
}

TEST(MotQuantizeTest, WritesAVerifiedCheckpointWithQuantizedGemmWeights) {
  testing::ModelCase c{"q",          2, NormPlacement::kPre, NormType::kRms, 4, 2, false, false,
                       DType::kBF16, 5};
  const MotConfig config = testing::MakeConfig(c);
  const std::string dir = testing::MakeTempDir("mot_quantize");
  const std::string in = dir + "/in", out = dir + "/out";
  ASSERT_THAT(WriteCheckpoint(in, config, model::RandomMotWeights(config, DType::kBF16, 5),
                              {{"tokenizer.json", "{}"}}),
              IsOk());
  const CommandResult r = RunQuantize("--in " + in + " --out " + out + " --dtype Q8_0");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_THAT(r.output, HasSubstr("29 of"));  // 2 layers x 2 towers x 7 + the LM head
  auto ckpt = Checkpoint::Open(out);          // manifest sizes and SHA-256 verified
  ASSERT_THAT(ckpt, IsOk());
  EXPECT_NE(ckpt->OptionalFile("tokenizer.json"), "");
  for (const SafetensorsEntry& e : ckpt->weights().entries()) {
    const DType want = IsGemmWeight(config, e.name) ? DType::kQ8_0
                       : e.shape.size() == 1        ? DType::kF32
                                                    : DType::kBF16;
    EXPECT_EQ(e.dtype, want) << e.name;
  }
  std::filesystem::remove_all(dir);
}

TEST(MotQuantizeTest, RefusesBadFlagsAndInputByName) {
  const std::string dir = testing::MakeTempDir("mot_quantize_bad");
  CommandResult r = RunQuantize("--in " + dir + "/none --out " + dir + "/o --dtype Q5_1");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--dtype='Q5_1': must be Q8_0 or Q4_0"));
  r = RunQuantize("--out " + dir + "/o --dtype Q8_0");
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.output, HasSubstr("--in is required"));
  r = RunQuantize("--in " + dir + "/none --out " + dir + "/o --dtype Q4_0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("--in: cannot open " + dir + "/none/manifest.json"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/o"));
  // A row of 40 inputs (ffn_hidden 40: w2 is [dim, 40]) cannot be quantized.
  testing::ModelCase c{"q",         1, NormPlacement::kPre, NormType::kRms, 4, 2, false, false,
                       DType::kF32, 5};
  MotConfig config = testing::MakeConfig(c);
  config.ffn_hidden = 40;
  ASSERT_THAT(
      WriteCheckpoint(dir + "/odd", config, model::RandomMotWeights(config, DType::kF32, 5)),
      IsOk());
  r = RunQuantize("--in " + dir + "/odd --out " + dir + "/o --dtype Q8_0");
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_THAT(r.output, HasSubstr("tensor layers.0.feed_forward.local_experts.0.w2.weight: rows "
                                  "of 40 inputs are not a multiple of 32"));
  EXPECT_FALSE(std::filesystem::exists(dir + "/o"));
  std::filesystem::remove_all(dir);
}
#endif  // MOT_QUANTIZE_BIN

}  // namespace
}  // namespace mot
