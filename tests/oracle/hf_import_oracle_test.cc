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
// BAGEL (hf_oracle.py --arch bagel): a BAGEL directory whose und tower is one random Qwen2 (A)
// and whose *_moe_gen tower another (B), both with BAGEL's RMS q/k norm added to transformers'
// forward by a hook; the import's tower 0 ("text") must give A's logits and greedy ids, and
// tower 1 ("image") B's, with the same tolerance; the q/k norms and the routing must matter;
// a BAGEL directory missing a *_moe_gen tensor or with an unknown llm_config.json key is
// refused naming it and the file.
// Chameleon (hf_oracle.py --arch chameleon, chameleon_swin): a ChameleonForConditionalGeneration
// with swin_norm false and true; its per-head q/k LayerNorm (weight and bias per head) and
// layout must matter, the logits of its image tokens (vocabulary_map's IMGIMG*) must be -inf
// in ours where transformers sets the float32 minimum, every other logit within the
// tolerance, greedy ids equal; the VQ-VAE's tensors are counted as not imported; mlp_bias,
// attention_bias, head_dim, a dynamic rope and a missing vocabulary_map are refused by name.
// Skips (with the reason) only when transformers cannot be imported.
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <ostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "engine/model/step_batch.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/safetensors.h"
#include "model_loaders/weight_names.h"
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

  // Logits of every token of `tokens` at positions start.., in one step, every token routed
  // to `tower`.
  absl::StatusOr<std::vector<float>> Step(const std::vector<int32_t>& tokens,
                                          kv::ContiguousKvCache* cache, uint8_t tower = 0) {
    model::StepBatch batch;
    const std::vector<uint8_t> towers(tokens.size(), tower);
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

// transformers' outputs for one prompt (hf_oracle.py): prefill logits, greedy ids and the
// logits of each decode step.
struct HfReference {
  std::vector<int32_t> prompt;
  std::vector<int32_t> generated;
  std::vector<float> prefill;  // [prompt, vocab]
  std::vector<float> decode;   // [generated, vocab]
  double min_margin = 0;
};

// Reads `dir`'s ref.json ids `generated<suffix>` and prefill<suffix>.bin, decode<suffix>.bin.
HfReference ReadReference(const std::string& dir, const std::string& suffix = "") {
  std::ifstream ref_file(dir + "/ref.json");
  const nlohmann::json ref = nlohmann::json::parse(ref_file);
  HfReference r;
  r.prompt = ref["prompt"].get<std::vector<int32_t>>();
  r.generated = ref["generated" + suffix].get<std::vector<int32_t>>();
  r.min_margin = ref["min_margin" + suffix].get<double>();
  r.prefill = ReadFloats(dir + "/prefill" + suffix + ".bin");
  r.decode = ReadFloats(dir + "/decode" + suffix + ".bin");
  return r;
}

// Runs hf_oracle.py --arch `arch` into `dir`: its exit status (77: transformers cannot be
// imported); its stderr is in dir/make.log.
int MakeHfModel(const std::string& arch, const std::string& dir, bool shard) {
  const std::string make =
      absl::StrCat(MOT_PYTHON, " ", MOT_SOURCE_DIR, "/tests/oracle/hf_oracle.py --arch ", arch,
                   " --out '", dir, "'", shard ? " --shard" : "", " 2> '", dir, "/make.log'");
  const int rc = std::system(make.c_str());
  return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128;
}

// Runs mot-import on `hf_dir`; its exit status, with its output in `log_path`.
int RunImport(const std::string& hf_dir, const std::string& out, const std::string& log_path) {
  const std::string import = absl::StrCat(MOT_IMPORT_BIN, " --hf_dir '", hf_dir, "' --out '", out,
                                          "' > '", log_path, "' 2>&1");
  return std::system(import.c_str());
}

std::string ReadText(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), std::istreambuf_iterator<char>());
}

bool IsSuppressed(int64_t id, const std::vector<TokenIdRange>& suppressed) {
  return std::any_of(suppressed.begin(), suppressed.end(),
                     [&](const TokenIdRange& r) { return id >= r.begin && id < r.end; });
}

// The logits of the ids outside `suppressed`, row by row ([rows, vocab] in).
std::vector<float> Unsuppressed(const std::vector<float>& logits, int64_t vocab,
                                const std::vector<TokenIdRange>& suppressed) {
  if (suppressed.empty()) return logits;
  std::vector<float> out;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (!IsSuppressed(static_cast<int64_t>(i) % vocab, suppressed)) out.push_back(logits[i]);
  }
  return out;
}

// How many logits of suppressed ids are not `value` (ours -inf; transformers' Chameleon the
// float32 minimum).
int64_t SuppressedNot(const std::vector<float>& logits, int64_t vocab,
                      const std::vector<TokenIdRange>& suppressed, float value) {
  int64_t bad = 0;
  for (size_t i = 0; i < logits.size(); ++i) {
    if (IsSuppressed(static_cast<int64_t>(i) % vocab, suppressed) && logits[i] != value) ++bad;
  }
  return bad;
}

// Our logits against transformers' on the ids outside `suppressed`; on those, ours must be
// -inf and transformers' the float32 minimum (ChameleonForConditionalGeneration's mask).
Diff CompareUnsuppressed(const std::vector<float>& got, const std::vector<float>& ref,
                         int64_t vocab, const std::vector<TokenIdRange>& suppressed,
                         const std::string& what) {
  if (!suppressed.empty()) {
    EXPECT_EQ(SuppressedNot(got, vocab, suppressed, -std::numeric_limits<float>::infinity()), 0)
        << what << ": a suppressed id's logit is not -inf";
    EXPECT_EQ(SuppressedNot(ref, vocab, suppressed, std::numeric_limits<float>::lowest()), 0)
        << what << ": transformers did not suppress exactly these ids";
  }
  return CompareLogits(Unsuppressed(got, vocab, suppressed), Unsuppressed(ref, vocab, suppressed));
}

// Our prefill, greedy decode and token-by-token prompt against `ref`, every token routed to
// `tower`; `label` names the case in the printed lines. With `suppressed` (Chameleon's image
// tokens) the logits are compared on the other ids, and those must be suppressed in both.
void ExpectMatches(Loaded& loaded, const std::string& label, uint8_t tower, const HfReference& ref,
                   int64_t vocab, const std::vector<TokenIdRange>& suppressed = {}) {
  ASSERT_EQ(ref.prefill.size(), ref.prompt.size() * vocab);
  ASSERT_EQ(ref.decode.size(), ref.generated.size() * vocab);
  // Prefill of the prompt in one step.
  auto cache = loaded.NewCache();
  auto prefill = loaded.Step(ref.prompt, cache.get(), tower);
  ASSERT_THAT(prefill, IsOk());
  const Diff dp = CompareUnsuppressed(*prefill, ref.prefill, vocab, suppressed, label + " prefill");
  std::printf("[hf] %-10s prefill      max|diff| %.3g (max|ref| %.3g)\n", label.c_str(), dp.max_abs,
              dp.max_ref);
  EXPECT_TRUE(dp.within) << label << " prefill: max |diff| " << dp.max_abs << " at " << dp.worst;

  // Greedy generation, decoding our own tokens one at a time; each decode step's logits
  // against transformers' step that fed the same token.
  std::vector<int32_t> ours;
  std::vector<float> decode;
  int32_t next = Argmax(prefill->data() + (ref.prompt.size() - 1) * vocab, vocab);
  for (size_t k = 0; k < ref.generated.size(); ++k) {
    ours.push_back(next);
    auto step = loaded.Step({next}, cache.get(), tower);
    ASSERT_THAT(step, IsOk());
    decode.insert(decode.end(), step->begin(), step->end());
    next = Argmax(step->data(), vocab);
  }
  EXPECT_EQ(ours, ref.generated) << label << ": greedy generations differ (transformers' "
                                 << "smallest top-2 margin " << ref.min_margin << ")";
  const Diff dd = CompareUnsuppressed(decode, ref.decode, vocab, suppressed, label + " decode");
  std::printf("[hf] %-10s decode       max|diff| %.3g (max|ref| %.3g)\n", label.c_str(), dd.max_abs,
              dd.max_ref);
  EXPECT_TRUE(dd.within) << label << " decode: max |diff| " << dd.max_abs << " at " << dd.worst;

  // The prompt decoded token by token equals transformers' prefill.
  auto cache2 = loaded.NewCache();
  std::vector<float> stepwise;
  for (int32_t t : ref.prompt) {
    auto step = loaded.Step({t}, cache2.get(), tower);
    ASSERT_THAT(step, IsOk());
    stepwise.insert(stepwise.end(), step->begin(), step->end());
  }
  const Diff ds =
      CompareUnsuppressed(stepwise, ref.prefill, vocab, suppressed, label + " token-wise");
  std::printf("[hf] %-10s token-wise   max|diff| %.3g\n", label.c_str(), ds.max_abs);
  EXPECT_TRUE(ds.within) << label << " token-by-token prompt: max |diff| " << ds.max_abs;
}

// The checkpoint's tensors that `config` has (weight_names::ExpectedTensors), written with
// `config` to `dir` and loaded: the same weights with a config extension removed.
absl::StatusOr<Loaded> RewriteWith(const Loaded& loaded, const MotConfig& config,
                                   const std::string& dir) {
  std::vector<NamedTensor> tensors;
  for (const weight_names::ExpectedTensor& e : weight_names::ExpectedTensors(config)) {
    MOT_ASSIGN_OR_RETURN(Tensor t, loaded.ckpt->weights().Get(e.name));
    tensors.push_back({e.name, std::move(t)});
  }
  MOT_RETURN_IF_ERROR(WriteCheckpoint(dir, config, tensors));
  return Load(dir);
}

class HfImportOracleTest : public ::testing::TestWithParam<HfCase> {};

TEST_P(HfImportOracleTest, MatchesTransformers) {
  const HfCase& c = GetParam();
  if (std::string(MOT_IMPORT_BIN).empty()) GTEST_SKIP() << "mot-import is not built here";
  const std::string dir = MakeTempDir("hf_" + c.arch);
  ASSERT_FALSE(dir.empty());
  // 1. transformers makes the model and its outputs.
  const int made = MakeHfModel(c.arch, dir, c.shard);
  if (made == 77) {
    GTEST_SKIP() << "transformers is not importable by " << MOT_PYTHON
                 << " (run scripts/setup.sh): " << ReadText(dir + "/make.log");
  }
  ASSERT_EQ(made, 0) << ReadText(dir + "/make.log");
  const HfReference ref = ReadReference(dir);
  const int64_t vocab = nlohmann::json::parse(ReadText(dir + "/ref.json"))["vocab_size"];

  // 2. mot-import converts it.
  const std::string ckpt_dir = dir + "/ckpt";
  ASSERT_EQ(RunImport(dir + "/hf", ckpt_dir, dir + "/import.log"), 0)
      << ReadText(dir + "/import.log");
  auto loaded = Load(ckpt_dir);
  ASSERT_THAT(loaded, IsOk());
  const MotConfig& config = loaded->ckpt->config();
  EXPECT_NE(loaded->ckpt->OptionalFile("tokenizer.json"), "")
      << "our BPE loader refused transformers' tokenizer.json";
  if (c.arch == "llama3") {
    EXPECT_EQ(config.rope_scaling.type, RopeScalingType::kLlama3);
  }
  if (c.arch == "linear") {
    EXPECT_EQ(config.rope_scaling.type, RopeScalingType::kLinear);
    EXPECT_TRUE(config.tie_embeddings);
  }
  if (c.arch == "mistral") {
    EXPECT_EQ(config.sliding_window, 8);
  }
  if (c.arch == "qwen2") {
    EXPECT_TRUE(config.attention_bias);
  }
  if (c.arch == "qwen2_yarn") {
    EXPECT_EQ(config.rope_scaling.type, RopeScalingType::kYarn);
    EXPECT_NEAR(config.rope_scaling.attention_factor, 0.1 * std::log(4.0) + 1.0, 1e-6);
    EXPECT_EQ(config.rope_scaling.original_max_position_embeddings, 128);
  }

  // 3. Prefill, decode and greedy ids, and the prompt token by token.
  ExpectMatches(*loaded, c.arch, 0, ref, vocab);

  // 4. The extension under test matters: without it the logits miss transformers by far.
  MotConfig without = config;
  if (c.arch == "llama3" || c.arch == "linear" || c.arch == "qwen2_yarn") {
    without.rope_scaling = RopeScaling{};
  }
  if (c.arch == "mistral") without.sliding_window = 0;
  if (!(without == config)) {
    auto plain = RewriteWith(*loaded, without, dir + "/without");
    ASSERT_THAT(plain, IsOk());
    auto plain_cache = plain->NewCache();
    auto logits = plain->Step(ref.prompt, plain_cache.get());
    ASSERT_THAT(logits, IsOk());
    const Diff dw = CompareLogits(*logits, ref.prefill);
    std::printf("[hf] %-10s without it   max|diff| %.3g\n", c.arch.c_str(), dw.max_abs);
    EXPECT_GT(dw.max_abs, 100 * kRtol * dw.max_ref) << "the extension did not change the logits";
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

INSTANTIATE_TEST_SUITE_P(Architectures, HfImportOracleTest,
                         ::testing::Values(HfCase{"llama3", false, "LlamaForCausalLM"},
                                           HfCase{"linear", false, "LlamaForCausalLM"},
                                           HfCase{"mistral", false, "MistralForCausalLM"},
                                           HfCase{"qwen2", true, "Qwen2ForCausalLM"},
                                           HfCase{"qwen2_yarn", false, "Qwen2ForCausalLM"}),
                         [](const ::testing::TestParamInfo<HfCase>& info) {
                           return info.param.arch;
                         });

// BAGEL: tower 0 ("text", BAGEL's und modules) is model A, tower 1 ("image", the *_moe_gen
// modules) model B; both with q/k norms.
TEST(BagelImportOracleTest, EachTowerMatchesItsQwen2WithQkNorm) {
  if (std::string(MOT_IMPORT_BIN).empty()) GTEST_SKIP() << "mot-import is not built here";
  const std::string dir = MakeTempDir("hf_bagel");
  ASSERT_FALSE(dir.empty());
  const int made = MakeHfModel("bagel", dir, false);
  if (made == 77) {
    GTEST_SKIP() << "transformers is not importable by " << MOT_PYTHON
                 << " (run scripts/setup.sh): " << ReadText(dir + "/make.log");
  }
  ASSERT_EQ(made, 0) << ReadText(dir + "/make.log");
  const HfReference und = ReadReference(dir);
  const HfReference gen = ReadReference(dir, "_gen");
  ASSERT_EQ(und.prompt, gen.prompt);
  const int64_t vocab = nlohmann::json::parse(ReadText(dir + "/ref.json"))["vocab_size"];

  ASSERT_EQ(RunImport(dir + "/hf", dir + "/ckpt", dir + "/import.log"), 0)
      << ReadText(dir + "/import.log");
  const std::string log = ReadText(dir + "/import.log");
  // Every non-LLM module of the Bagel state dict is named as not imported.
  for (const char* prefix : {"vit_model.", "connector.", "vit_pos_embed.", "time_embedder.",
                             "vae2llm.", "llm2vae.", "latent_pos_embed."}) {
    EXPECT_THAT(log, ::testing::HasSubstr(absl::StrCat("not imported: 1 tensors ", prefix))) << log;
  }
  auto loaded = Load(dir + "/ckpt");
  ASSERT_THAT(loaded, IsOk());
  const MotConfig& config = loaded->ckpt->config();
  EXPECT_EQ(config.modalities, (std::vector<std::string>{"text", "image"}));
  EXPECT_TRUE(config.qk_norm);
  EXPECT_TRUE(config.attention_bias);
  EXPECT_FALSE(config.tie_embeddings);
  EXPECT_EQ(config.vocab_ranges,
            (std::vector<VocabRange>{{"text", 0, static_cast<int32_t>(vocab), 0}}));
  EXPECT_NE(loaded->ckpt->OptionalFile("tokenizer.json"), "");

  // (1) every token in tower 0: model A; (2) every token in tower 1: model B.
  ExpectMatches(*loaded, "bagel-und", 0, und, vocab);
  ExpectMatches(*loaded, "bagel-gen", 1, gen, vocab);

  // The routing matters: tower 0 misses B by far (and so tower 1 misses A).
  {
    auto cache = loaded->NewCache();
    auto logits = loaded->Step(und.prompt, cache.get(), 0);
    ASSERT_THAT(logits, IsOk());
    const Diff d = CompareLogits(*logits, gen.prefill);
    std::printf("[hf] %-10s tower 0 vs B max|diff| %.3g\n", "bagel", d.max_abs);
    EXPECT_GT(d.max_abs, 100 * kRtol * d.max_ref) << "the towers give the same logits";
  }
  // The q/k norms matter: without them both towers miss by far.
  MotConfig without = config;
  without.qk_norm = false;
  auto plain = RewriteWith(*loaded, without, dir + "/without");
  ASSERT_THAT(plain, IsOk());
  for (uint8_t tower : {0, 1}) {
    auto cache = plain->NewCache();
    auto logits = plain->Step(und.prompt, cache.get(), tower);
    ASSERT_THAT(logits, IsOk());
    const Diff d = CompareLogits(*logits, tower == 0 ? und.prefill : gen.prefill);
    std::printf("[hf] %-10s no q/k norm, tower %d max|diff| %.3g\n", "bagel", tower, d.max_abs);
    EXPECT_GT(d.max_abs, 100 * kRtol * d.max_ref)
        << "the q/k norms did not change tower " << static_cast<int>(tower);
  }

  // (3) Bad input, refused naming the tensor or field and the file, nothing written.
  auto bad_copy = [&](const std::string& name) {
    const std::string bad = dir + "/" + name;
    std::filesystem::create_directories(bad);
    for (const char* f : {"llm_config.json", "tokenizer.json", "ema.safetensors"}) {
      std::filesystem::copy_file(dir + "/hf/" + f, bad + "/" + f);
    }
    return bad;
  };
  {
    const std::string missing = "language_model.model.layers.1.mlp_moe_gen.up_proj.weight";
    const std::string bad = bad_copy("missing_gen");
    auto ema = SafetensorsFile::Open(dir + "/hf/ema.safetensors");
    ASSERT_THAT(ema, IsOk());
    std::vector<NamedTensor> kept;
    for (const SafetensorsEntry& e : ema->entries()) {
      if (e.name == missing) continue;
      auto t = ema->Get(e.name);
      ASSERT_THAT(t, IsOk());
      kept.push_back({e.name, *t});
    }
    ASSERT_EQ(kept.size() + 1, ema->entries().size());
    ASSERT_THAT(WriteSafetensors(bad + "/ema.safetensors", kept), IsOk());
    EXPECT_NE(RunImport(bad, bad + "/ckpt", bad + "/import.log"), 0);
    const std::string said = ReadText(bad + "/import.log");
    EXPECT_THAT(said, ::testing::HasSubstr(bad + "/ema.safetensors: tensor '" + missing + "'"))
        << said;
    EXPECT_FALSE(std::filesystem::exists(bad + "/ckpt"));
  }
  {
    const std::string bad = bad_copy("unknown_key");
    nlohmann::json c = nlohmann::json::parse(ReadText(bad + "/llm_config.json"));
    c["use_mrope"] = true;
    std::ofstream(bad + "/llm_config.json") << c.dump();
    EXPECT_NE(RunImport(bad, bad + "/ckpt", bad + "/import.log"), 0);
    const std::string said = ReadText(bad + "/import.log");
    EXPECT_THAT(said, ::testing::HasSubstr("llm_config.json: field use_mrope: not supported"))
        << said;
    EXPECT_FALSE(std::filesystem::exists(bad + "/ckpt"));
  }
  {
    // Settings BAGEL's loaders force whatever llm_config.json says: forced here too, with a
    // note each; the checkpoint is the same.
    const std::string forced = bad_copy("forced");
    nlohmann::json c = nlohmann::json::parse(ReadText(forced + "/llm_config.json"));
    c["qk_norm"] = false;
    c["tie_word_embeddings"] = true;
    c["layer_module"] = "Qwen2DecoderLayer";
    std::ofstream(forced + "/llm_config.json") << c.dump();
    ASSERT_EQ(RunImport(forced, forced + "/ckpt", forced + "/import.log"), 0)
        << ReadText(forced + "/import.log");
    const std::string said = ReadText(forced + "/import.log");
    for (const char* note :
         {"qk_norm false is taken as true", "tie_word_embeddings true is taken as false",
          "layer_module \"Qwen2DecoderLayer\" is taken as"}) {
      EXPECT_THAT(said, ::testing::HasSubstr(note)) << said;
    }
    auto same = Checkpoint::Open(forced + "/ckpt");
    ASSERT_THAT(same, IsOk());
    EXPECT_EQ(same->config(), config);
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

// Chameleon (hf_oracle.py --arch chameleon, chameleon_swin): ChameleonForConditionalGeneration
// with swin_norm false ("pre") and true ("post_branch"); its per-head q/k LayerNorm with bias,
// its image tokens suppressed, its VQ-VAE skipped.
class ChameleonImportOracleTest : public ::testing::TestWithParam<std::string> {};

TEST_P(ChameleonImportOracleTest, MatchesTransformersOnTextTokens) {
  const std::string arch = GetParam();
  const bool swin = arch == "chameleon_swin";
  if (std::string(MOT_IMPORT_BIN).empty()) GTEST_SKIP() << "mot-import is not built here";
  const std::string dir = MakeTempDir("hf_" + arch);
  ASSERT_FALSE(dir.empty());
  const int made = MakeHfModel(arch, dir, false);
  if (made == 77) {
    GTEST_SKIP() << "transformers is not importable by " << MOT_PYTHON
                 << " (run scripts/setup.sh): " << ReadText(dir + "/make.log");
  }
  ASSERT_EQ(made, 0) << ReadText(dir + "/make.log");
  const HfReference ref = ReadReference(dir);
  const nlohmann::json ref_json = nlohmann::json::parse(ReadText(dir + "/ref.json"));
  const int64_t vocab = ref_json["vocab_size"];
  // transformers' image-token ids as ranges: what suppressed_token_ids must be.
  std::vector<TokenIdRange> image_ranges;
  for (int32_t id : ref_json["image_token_ids"].get<std::vector<int32_t>>()) {
    if (!image_ranges.empty() && image_ranges.back().end == id) {
      ++image_ranges.back().end;
    } else {
      image_ranges.push_back({id, id + 1});
    }
  }
  ASSERT_GE(image_ranges.size(), 2u) << "the oracle's image ids should make several ranges";
  int64_t vq_tensors = 0;
  {
    auto hf = SafetensorsFile::Open(dir + "/hf/model.safetensors");
    ASSERT_THAT(hf, IsOk());
    for (const SafetensorsEntry& e : hf->entries()) {
      if (e.name.rfind("model.vqmodel.", 0) == 0) ++vq_tensors;
    }
  }
  ASSERT_GT(vq_tensors, 0);

  ASSERT_EQ(RunImport(dir + "/hf", dir + "/ckpt", dir + "/import.log"), 0)
      << ReadText(dir + "/import.log");
  const std::string log = ReadText(dir + "/import.log");
  EXPECT_THAT(log, ::testing::HasSubstr(absl::StrCat("not imported: ", vq_tensors,
                                                     " tensors model.vqmodel.* of "
                                                     "model.safetensors")))
      << log;
  EXPECT_THAT(log, ::testing::HasSubstr("image tokens (IMGIMG*")) << log;
  auto loaded = Load(dir + "/ckpt");
  ASSERT_THAT(loaded, IsOk());
  const MotConfig& config = loaded->ckpt->config();
  EXPECT_EQ(config.modalities, (std::vector<std::string>{"text"}));
  EXPECT_EQ(config.vocab_ranges,
            (std::vector<VocabRange>{{"text", 0, static_cast<int32_t>(vocab), 0}}));
  EXPECT_EQ(config.norm_placement, swin ? NormPlacement::kPostBranch : NormPlacement::kPre);
  EXPECT_TRUE(config.qk_norm);
  ASSERT_TRUE(config.qk_norm_spec.has_value());
  EXPECT_EQ(*config.qk_norm_spec, (QkNormSpec{NormType::kLayer, true, true, 1e-5f}));
  EXPECT_EQ(config.suppressed_token_ids, image_ranges);
  EXPECT_FALSE(config.attention_bias);
  EXPECT_NE(loaded->ckpt->OptionalFile("tokenizer.json"), "");

  ExpectMatches(*loaded, arch, 0, ref, vocab, image_ranges);

  // What Chameleon adds matters: without its q/k norm, or with the other block layout, the
  // text logits miss transformers' by far.
  auto expect_far = [&](const MotConfig& changed, const std::string& what) {
    auto plain = RewriteWith(*loaded, changed, dir + "/" + what);
    ASSERT_THAT(plain, IsOk());
    auto cache = plain->NewCache();
    auto logits = plain->Step(ref.prompt, cache.get());
    ASSERT_THAT(logits, IsOk());
    const Diff d = CompareUnsuppressed(*logits, ref.prefill, vocab, image_ranges, what);
    std::printf("[hf] %-14s %-14s max|diff| %.3g\n", arch.c_str(), what.c_str(), d.max_abs);
    EXPECT_GT(d.max_abs, 100 * kRtol * d.max_ref) << what << " did not change the logits";
  };
  MotConfig no_qk = config;
  no_qk.qk_norm = false;
  no_qk.qk_norm_spec.reset();
  expect_far(no_qk, "no_qk_norm");
  MotConfig other_layout = config;
  other_layout.norm_placement = swin ? NormPlacement::kPre : NormPlacement::kPostBranch;
  expect_far(other_layout, "other_layout");

  // Bad config.json, refused naming the file and the field, nothing written.
  if (!swin) {
    auto refused = [&](const std::string& name, const std::string& key, const nlohmann::json& value,
                       const std::string& expected) {
      const std::string bad = dir + "/" + name;
      std::filesystem::create_directories(bad);
      std::filesystem::copy_file(dir + "/hf/model.safetensors", bad + "/model.safetensors");
      nlohmann::json c = nlohmann::json::parse(ReadText(dir + "/hf/config.json"));
      if (value.is_null()) {
        c.erase(key);
      } else {
        c[key] = value;
      }
      std::ofstream(bad + "/config.json") << c.dump();
      EXPECT_NE(RunImport(bad, bad + "/ckpt", bad + "/import.log"), 0) << name;
      const std::string said = ReadText(bad + "/import.log");
      EXPECT_THAT(said, ::testing::HasSubstr(bad + "/config.json: field " + expected)) << said;
      EXPECT_FALSE(std::filesystem::exists(bad + "/ckpt"));
    };
    refused("mlp_bias", "mlp_bias", true, "mlp_bias: true is not supported");
    refused("attention_bias", "attention_bias", true, "attention_bias: true is not supported");
    refused("head_dim", "head_dim", 32, "head_dim: not supported");
    refused("dynamic_rope", "rope_scaling", {{"type", "dynamic"}, {"factor", 2.0}},
            "rope_scaling.rope_type: unsupported rope scaling type \"dynamic\"");
    refused("no_vocabulary_map", "vocabulary_map", nullptr, "vocabulary_map: must be an object");
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

INSTANTIATE_TEST_SUITE_P(SwinNorm, ChameleonImportOracleTest,
                         ::testing::Values("chameleon", "chameleon_swin"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace mot::testing
