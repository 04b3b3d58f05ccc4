// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Hugging Face transformers itself as the oracle of imported checkpoints: hf_oracle.py builds
// a tiny random LlamaForCausalLM (rope_scaling llama3; linear with tied embeddings),
// MistralForCausalLM (sliding window 8 under a 24-token prompt) and Qwen2ForCausalLM (q/k/v
// biases; saved in shards with an index), mot-import converts each, and our CPU forward must
// give transformers' float32 prefill logits, its decode logits step by step and its greedy
// generation. Tolerance: |ours - hf| <= 1e-4 (|hf| + max |hf|): relative 1e-4 at the scale
// of the logits. Each case also checks that its extension matters: the same weights with
// the rope scaling or the window removed miss transformers by far more than the tolerance.
// Skips (with the reason) only when transformers cannot be imported.
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "engine/model/step_batch.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/oracle/oracle_test_util.h"
#include "tests/testing/status_matchers.h"

#ifndef MOT_IMPORT_BIN
#define MOT_IMPORT_BIN ""  // no mot-import target in this build (MOT_FUZZ)
#endif

namespace mot::testing {
namespace {

constexpr double kRtol = 1e-4;

struct HfCase {
  std::string arch;  // hf_oracle.py --arch
  bool shard = false;
  std::string architecture;
};
// Test names show the case, not its bytes.
void PrintTo(const HfCase& c, std::ostream* os) { *os << c.arch; }

std::vector<float> ReadFloats(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::vector<float> out;
  float v;
  while (f.read(reinterpret_cast<char*>(&v), sizeof v)) out.push_back(v);
  return out;
}

// Relative to the scale of the logits: atol = rtol * max |ref|.
Diff CompareLogits(const std::vector<float>& got, const std::vector<float>& ref) {
  double scale = 0;
  for (float v : ref) scale = std::max(scale, std::fabs(static_cast<double>(v)));
  return Compare(got, ref, kRtol * scale, kRtol);
}

int Argmax(const float* row, int64_t n) {
  int best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (row[i] > row[best]) best = static_cast<int>(i);
  }
  return best;
}

// A checkpoint loaded on the CPU backend.
struct Loaded {
  std::unique_ptr<Checkpoint> ckpt;
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<backend::cpu::CpuBackend> backend;
  std::unique_ptr<model::MotModel> model;

  std::unique_ptr<kv::ContiguousKvCache> NewCache() const {
    const MotConfig& c = ckpt->config();
    auto cache = kv::ContiguousKvCache::Create(
        kv::ContiguousKvCacheConfig::FromModelConfig(c, 1, c.max_seq_len, DType::kF32));
    return cache.ok() ? std::move(cache).value() : nullptr;
  }

  // Logits of every token of `tokens` at positions start.., in one step.
  absl::StatusOr<std::vector<float>> Step(const std::vector<int32_t>& tokens,
                                          kv::ContiguousKvCache* cache) {
    model::StepBatch batch;
    const std::vector<uint8_t> towers(tokens.size(), 0);
    batch.AddSequence(tokens, towers, 0, cache->Length(0), /*all_logits=*/true);
    return model->Forward(batch, cache);
  }
};

absl::StatusOr<Loaded> Load(const std::string& dir) {
  Loaded l;
  MOT_ASSIGN_OR_RETURN(Checkpoint ckpt, Checkpoint::Open(dir));
  l.ckpt = std::make_unique<Checkpoint>(std::move(ckpt));
  l.pool = std::make_unique<ThreadPool>(2);
  l.backend = std::make_unique<backend::cpu::CpuBackend>(l.pool.get());
  MOT_ASSIGN_OR_RETURN(l.model, model::MotModel::Create(l.ckpt.get(), l.backend.get()));
  return l;
}

class HfImportOracleTest : public ::testing::TestWithParam<HfCase> {};

TEST_P(HfImportOracleTest, MatchesTransformers) {
  const HfCase& c = GetParam();
  if (std::string(MOT_IMPORT_BIN).empty()) GTEST_SKIP() << "mot-import is not built here";
  const std::string dir = MakeTempDir("hf_" + c.arch);
  ASSERT_FALSE(dir.empty());
  // 1. transformers makes the model and its outputs.
  const std::string make =
      absl::StrCat(MOT_PYTHON, " ", MOT_SOURCE_DIR, "/tests/oracle/hf_oracle.py --arch ", c.arch,
                   " --out '", dir, "'", c.shard ? " --shard" : "", " 2> '", dir, "/make.log'");
  const int rc = std::system(make.c_str());
  if (WIFEXITED(rc) && WEXITSTATUS(rc) == 77) {
    GTEST_SKIP() << "transformers is not importable by " << MOT_PYTHON
                 << " (run scripts/setup.sh): " << std::ifstream(dir + "/make.log").rdbuf();
  }
  ASSERT_EQ(rc, 0) << make << "\n" << std::ifstream(dir + "/make.log").rdbuf();
  std::ifstream ref_file(dir + "/ref.json");
  const nlohmann::json ref = nlohmann::json::parse(ref_file);
  const std::vector<int32_t> prompt = ref["prompt"].get<std::vector<int32_t>>();
  const std::vector<int32_t> generated = ref["generated"].get<std::vector<int32_t>>();
  const int64_t vocab = ref["vocab_size"].get<int64_t>();
  const std::vector<float> hf_prefill = ReadFloats(dir + "/prefill.bin");
  const std::vector<float> hf_decode = ReadFloats(dir + "/decode.bin");
  ASSERT_EQ(hf_prefill.size(), prompt.size() * vocab);
  ASSERT_EQ(hf_decode.size(), generated.size() * vocab);

  // 2. mot-import converts it.
  const std::string ckpt_dir = dir + "/ckpt";
  const std::string import = absl::StrCat(MOT_IMPORT_BIN, " --hf_dir '", dir, "/hf' --out '",
                                          ckpt_dir, "' > '", dir, "/import.log' 2>&1");
  ASSERT_EQ(std::system(import.c_str()), 0) << import << "\n"
                                            << std::ifstream(dir + "/import.log").rdbuf();
  auto loaded = Load(ckpt_dir);
  ASSERT_THAT(loaded, IsOk());
  const MotConfig& config = loaded->ckpt->config();
  EXPECT_NE(loaded->ckpt->OptionalFile("tokenizer.json"), "")
      << "our BPE loader refused transformers' tokenizer.json";
  if (c.arch == "llama3") EXPECT_EQ(config.rope_scaling.type, RopeScalingType::kLlama3);
  if (c.arch == "linear") {
    EXPECT_EQ(config.rope_scaling.type, RopeScalingType::kLinear);
    EXPECT_TRUE(config.tie_embeddings);
  }
  if (c.arch == "mistral") EXPECT_EQ(config.sliding_window, 8);
  if (c.arch == "qwen2") EXPECT_TRUE(config.attention_bias);

  // 3a. Prefill of the prompt in one step.
  auto cache = loaded->NewCache();
  auto prefill = loaded->Step(prompt, cache.get());
  ASSERT_THAT(prefill, IsOk());
  const Diff dp = CompareLogits(*prefill, hf_prefill);
  std::printf("[hf] %-8s prefill      max|diff| %.3g (max|ref| %.3g)\n", c.arch.c_str(), dp.max_abs,
              dp.max_ref);
  EXPECT_TRUE(dp.within) << "prefill: max |diff| " << dp.max_abs << " at " << dp.worst;

  // 3b. Greedy generation, decoding our own tokens one at a time; each decode step's logits
  // against transformers' step that fed the same token.
  std::vector<int32_t> ours;
  std::vector<float> decode;
  int32_t next = Argmax(prefill->data() + (prompt.size() - 1) * vocab, vocab);
  for (size_t k = 0; k < generated.size(); ++k) {
    ours.push_back(next);
    auto step = loaded->Step({next}, cache.get());
    ASSERT_THAT(step, IsOk());
    decode.insert(decode.end(), step->begin(), step->end());
    next = Argmax(step->data(), vocab);
  }
  EXPECT_EQ(ours, generated) << "greedy generations differ (transformers' smallest top-2 "
                             << "margin " << ref["min_margin"] << ")";
  const Diff dd = CompareLogits(decode, hf_decode);
  std::printf("[hf] %-8s decode       max|diff| %.3g (max|ref| %.3g)\n", c.arch.c_str(), dd.max_abs,
              dd.max_ref);
  EXPECT_TRUE(dd.within) << "decode: max |diff| " << dd.max_abs << " at " << dd.worst;

  // 3c. The prompt decoded token by token equals transformers' prefill.
  auto cache2 = loaded->NewCache();
  std::vector<float> stepwise;
  for (int32_t t : prompt) {
    auto step = loaded->Step({t}, cache2.get());
    ASSERT_THAT(step, IsOk());
    stepwise.insert(stepwise.end(), step->begin(), step->end());
  }
  const Diff ds = CompareLogits(stepwise, hf_prefill);
  std::printf("[hf] %-8s token-wise   max|diff| %.3g\n", c.arch.c_str(), ds.max_abs);
  EXPECT_TRUE(ds.within) << "token-by-token prompt: max |diff| " << ds.max_abs;

  // 4. The extension under test matters: without it the logits miss transformers by far.
  MotConfig without = config;
  if (c.arch == "llama3" || c.arch == "linear") without.rope_scaling = RopeScaling{};
  if (c.arch == "mistral") without.sliding_window = 0;
  if (!(without == config)) {
    std::vector<NamedTensor> tensors;
    for (const SafetensorsEntry& e : loaded->ckpt->weights().entries()) {
      auto t = loaded->ckpt->weights().Get(e.name);
      ASSERT_THAT(t, IsOk());
      tensors.push_back({e.name, *t});
    }
    ASSERT_THAT(WriteCheckpoint(dir + "/without", without, tensors), IsOk());
    auto plain = Load(dir + "/without");
    ASSERT_THAT(plain, IsOk());
    auto plain_cache = plain->NewCache();
    auto logits = plain->Step(prompt, plain_cache.get());
    ASSERT_THAT(logits, IsOk());
    const Diff dw = CompareLogits(*logits, hf_prefill);
    std::printf("[hf] %-8s without it   max|diff| %.3g\n", c.arch.c_str(), dw.max_abs);
    EXPECT_GT(dw.max_abs, 100 * kRtol * dw.max_ref) << "the extension did not change the logits";
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

INSTANTIATE_TEST_SUITE_P(Architectures, HfImportOracleTest,
                         ::testing::Values(HfCase{"llama3", false, "LlamaForCausalLM"},
                                           HfCase{"linear", false, "LlamaForCausalLM"},
                                           HfCase{"mistral", false, "MistralForCausalLM"},
                                           HfCase{"qwen2", true, "Qwen2ForCausalLM"}),
                         [](const ::testing::TestParamInfo<HfCase>& info) {
                           return info.param.arch;
                         });

}  // namespace
}  // namespace mot::testing
