// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// hf::MapHfConfig, hf::HfTensorNames and hf::ImportHfModel on Hugging Face directories made
// here (config.json text and safetensors written by our writer in transformers' names):
// the mapping of each architecture, and every refusal naming its file and field or tensor,
// with nothing written. The numerics against transformers itself are in
// tests/oracle/hf_import_oracle_test.cc.
#include "model_loaders/hf_import.h"

#include <cstring>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/safetensors.h"
#include "model_loaders/weight_names.h"
#include "nlohmann/json.hpp"
#include "tests/model_loaders/test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot::hf {
namespace {

namespace fs = std::filesystem;
using ::mot::testing::IsOk;
using ::mot::testing::ReadAll;
using ::mot::testing::ScratchDir;
using ::mot::testing::StatusIs;
using ::mot::testing::WriteAllTo;
using ::testing::AllOf;
using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
constexpr auto kNotFound = absl::StatusCode::kNotFound;

json BaseConfig(const std::string& arch) {
  json c = {{"architectures", {arch}},
            {"hidden_size", 16},
            {"num_hidden_layers", 2},
            {"num_attention_heads", 4},
            {"num_key_value_heads", 2},
            {"intermediate_size", 24},
            {"max_position_embeddings", 64},
            {"vocab_size", 40},
            {"rms_norm_eps", 1e-6},
            {"rope_theta", 10000.0},
            {"hidden_act", "silu"},
            {"tie_word_embeddings", false},
            {"torch_dtype", "float32"},
            {"transformers_version", "4.46.3"},
            {"bos_token_id", 1},
            {"eos_token_id", 2}};
  if (arch == "LlamaForCausalLM") {
    c["model_type"] = "llama";
    c["attention_bias"] = false;
    c["mlp_bias"] = false;
    c["rope_scaling"] = nullptr;
  } else if (arch == "MistralForCausalLM") {
    c["model_type"] = "mistral";
    c["sliding_window"] = 8;
  } else if (arch == "Qwen2ForCausalLM") {
    c["model_type"] = "qwen2";
    c["use_sliding_window"] = false;
    c["sliding_window"] = 4096;
    c["max_window_layers"] = 28;
  }
  return c;
}

absl::StatusOr<HfConfig> Map(const json& c) { return MapHfConfig(c.dump()); }

TEST(MapHfConfigTest, LlamaWithLlama3RopeScaling) {
  json c = BaseConfig("LlamaForCausalLM");
  c["rope_scaling"] = {{"rope_type", "llama3"},   {"type", "llama3"},
                       {"factor", 8.0},           {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0}, {"original_max_position_embeddings", 32}};
  auto m = Map(c);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->architecture, "LlamaForCausalLM");
  const MotConfig& mc = m->config;
  EXPECT_EQ(mc.dim, 16);
  EXPECT_EQ(mc.n_layers, 2);
  EXPECT_EQ(mc.n_heads, 4);
  EXPECT_EQ(mc.n_kv_heads, 2);
  EXPECT_EQ(mc.head_dim, 4);
  EXPECT_EQ(mc.ffn_hidden, 24);
  EXPECT_EQ(mc.max_seq_len, 64);
  EXPECT_EQ(mc.vocab_size, 40);
  EXPECT_FLOAT_EQ(mc.norm_eps, 1e-6f);
  EXPECT_FALSE(mc.attention_bias);
  EXPECT_EQ(mc.sliding_window, 0);
  EXPECT_EQ(mc.rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(mc.rope_scaling.factor, 8.0f);
  EXPECT_EQ(mc.rope_scaling.original_max_position_embeddings, 32);
  EXPECT_EQ(mc.modalities, std::vector<std::string>{"text"});
  ASSERT_EQ(mc.vocab_ranges.size(), 1u);
  EXPECT_EQ(mc.vocab_ranges[0].end, 40);
}

TEST(MapHfConfigTest, LinearScalingTiedAndDefaults) {
  json c = BaseConfig("LlamaForCausalLM");
  c["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  c["tie_word_embeddings"] = true;
  c.erase("num_key_value_heads");  // transformers' default: = num_attention_heads
  auto m = Map(c);
  ASSERT_THAT(m, IsOk());
  EXPECT_EQ(m->config.rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_EQ(m->config.rope_scaling.factor, 2.0f);
  EXPECT_TRUE(m->config.tie_embeddings);
  EXPECT_EQ(m->config.n_kv_heads, 4);
  c["rope_scaling"] = {{"rope_type", "default"}};
  ASSERT_THAT(Map(c), IsOk());
  EXPECT_EQ(Map(c)->config.rope_scaling.type, RopeScalingType::kNone);
}

TEST(MapHfConfigTest, MistralSlidingWindowAndQwen2Biases) {
  auto mistral = Map(BaseConfig("MistralForCausalLM"));
  ASSERT_THAT(mistral, IsOk());
  EXPECT_EQ(mistral->config.sliding_window, 8);
  json no_window = BaseConfig("MistralForCausalLM");
  no_window["sliding_window"] = nullptr;
  ASSERT_THAT(Map(no_window), IsOk());
  EXPECT_EQ(Map(no_window)->config.sliding_window, 0);

  auto qwen = Map(BaseConfig("Qwen2ForCausalLM"));
  ASSERT_THAT(qwen, IsOk());
  EXPECT_TRUE(qwen->config.attention_bias);
  EXPECT_EQ(qwen->config.sliding_window, 0);  // use_sliding_window false: no window
}

// Each bad config.json: the status names the field.
struct BadConfig {
  const char* name;
  std::string arch;
  std::function<void(json&)> edit;
  std::string field;  // expected in the message
};

TEST(MapHfConfigTest, RefusesWhatItCannotExpressNamingTheField) {
  const std::vector<BadConfig> cases = {
      {"unknown architecture", "GemmaForCausalLM", [](json&) {}, "GemmaForCausalLM"},
      {"longrope", "Qwen2ForCausalLM",
       [](json& c) {
         c["rope_scaling"] = {{"type", "longrope"}, {"factor", 4.0}};
       },
       "longrope"},
      {"yarn whose original context is not max_position_embeddings", "Qwen2ForCausalLM",
       [](json& c) {
         c["rope_scaling"] = {
             {"type", "yarn"}, {"factor", 4.0}, {"original_max_position_embeddings", 7}};
       },
       "field rope_scaling.original_max_position_embeddings: 7 differs"},
      {"yarn with mscale", "Qwen2ForCausalLM",
       [](json& c) {
         c["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}, {"mscale", 0.7}};
       },
       "rope_scaling.mscale"},
      {"dynamic", "LlamaForCausalLM",
       [](json& c) {
         c["rope_scaling"] = {{"rope_type", "dynamic"}, {"factor", 2.0}};
       },
       "field rope_scaling.rope_type"},
      {"type disagreement", "LlamaForCausalLM",
       [](json& c) {
         c["rope_scaling"] = {{"rope_type", "linear"}, {"type", "dynamic"}, {"factor", 2.0}};
       },
       "field rope_scaling.type"},
      {"llama3 missing field", "LlamaForCausalLM",
       [](json& c) {
         c["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", 8.0}, {"low_freq_factor", 1.0}};
       },
       "field rope_scaling.high_freq_factor: missing"},
      {"extra rope key", "LlamaForCausalLM",
       [](json& c) {
         c["rope_scaling"] = {{"rope_type", "linear"}, {"factor", 2.0}, {"attention_factor", 1.0}};
       },
       "field rope_scaling.attention_factor"},
      {"llama3 high <= low", "LlamaForCausalLM",
       [](json& c) {
         c["rope_scaling"] = {{"rope_type", "llama3"},
                              {"factor", 8.0},
                              {"low_freq_factor", 4.0},
                              {"high_freq_factor", 1.0},
                              {"original_max_position_embeddings", 32}};
       },
       "rope_scaling.high_freq_factor"},
      {"gelu", "MistralForCausalLM", [](json& c) { c["hidden_act"] = "gelu"; }, "field hidden_act"},
      {"unknown key", "LlamaForCausalLM",
       [](json& c) {
         c["quantization_config"] = {{"bits", 4}};
       },
       "field quantization_config"},
      {"llama attention_bias", "LlamaForCausalLM", [](json& c) { c["attention_bias"] = true; },
       "field attention_bias"},
      {"llama mlp_bias", "LlamaForCausalLM", [](json& c) { c["mlp_bias"] = true; },
       "field mlp_bias"},
      {"qwen2 sliding window", "Qwen2ForCausalLM", [](json& c) { c["use_sliding_window"] = true; },
       "field use_sliding_window"},
      {"partial rotary", "LlamaForCausalLM", [](json& c) { c["partial_rotary_factor"] = 0.5; },
       "field partial_rotary_factor"},
      {"model_type mismatch", "MistralForCausalLM", [](json& c) { c["model_type"] = "llama"; },
       "field model_type"},
      {"no architectures", "LlamaForCausalLM", [](json& c) { c.erase("architectures"); },
       "field architectures: missing"},
      {"two architectures", "LlamaForCausalLM",
       [](json& c) {
         c["architectures"] = {"LlamaForCausalLM", "MistralForCausalLM"};
       },
       "field architectures"},
      {"vocab missing", "LlamaForCausalLM", [](json& c) { c.erase("vocab_size"); },
       "field vocab_size: missing"},
      {"kv heads", "LlamaForCausalLM", [](json& c) { c["num_key_value_heads"] = 3; }, "n_kv_heads"},
      {"window zero", "MistralForCausalLM", [](json& c) { c["sliding_window"] = 0; },
       "field sliding_window"},
      {"string int", "LlamaForCausalLM", [](json& c) { c["hidden_size"] = "16"; },
       "field hidden_size: must be an integer"},
  };
  for (const BadConfig& bad : cases) {
    json c = BaseConfig(bad.arch == "GemmaForCausalLM" ? "LlamaForCausalLM" : bad.arch);
    if (bad.arch == "GemmaForCausalLM") c["architectures"] = {bad.arch};
    bad.edit(c);
    EXPECT_THAT(Map(c), StatusIs(kInvalid, HasSubstr(bad.field))) << bad.name;
  }
}

TEST(MapHfConfigTest, JsonSyntaxErrorNamesLineAndColumn) {
  EXPECT_THAT(MapHfConfig("{\n  \"architectures\": [\"LlamaForCausalLM\"],\n  \"x\": }\n"),
              StatusIs(kInvalid, AllOf(HasSubstr("not well-formed JSON"), HasSubstr("line 3"),
                                       HasSubstr("column"))));
}

TEST(HfTensorNamesTest, OneTablePerArchitecture) {
  auto llama = Map(BaseConfig("LlamaForCausalLM"));
  ASSERT_THAT(llama, IsOk());
  auto names = HfTensorNames("LlamaForCausalLM", llama->config);
  ASSERT_THAT(names, IsOk());
  EXPECT_EQ(names->size(), weight_names::ExpectedTensors(llama->config).size());
  auto has = [&](const auto& list, const std::string& hf, const std::string& native) {
    for (const auto& [h, n] : list) {
      if (h == hf) return n == native;
    }
    return false;
  };
  EXPECT_TRUE(has(*names, "model.embed_tokens.weight", "tok_embeddings.weight"));
  EXPECT_TRUE(has(*names, "lm_head.weight", "output.weight"));
  EXPECT_TRUE(has(*names, "model.layers.1.mlp.gate_proj.weight",
                  "layers.1.feed_forward.local_experts.0.w1.weight"));
  EXPECT_TRUE(has(*names, "model.layers.1.mlp.down_proj.weight",
                  "layers.1.feed_forward.local_experts.0.w2.weight"));
  EXPECT_TRUE(has(*names, "model.layers.0.post_attention_layernorm.weight",
                  "layers.0.feed_forward.local_experts_ffn_norm.0.weight"));
  EXPECT_FALSE(has(*names, "model.layers.0.self_attn.q_proj.bias",
                   "layers.0.attention.local_experts_wq.0.bias"));

  auto qwen = Map(BaseConfig("Qwen2ForCausalLM"));
  ASSERT_THAT(qwen, IsOk());
  auto qnames = HfTensorNames("Qwen2ForCausalLM", qwen->config);
  ASSERT_THAT(qnames, IsOk());
  EXPECT_TRUE(has(*qnames, "model.layers.1.self_attn.v_proj.bias",
                  "layers.1.attention.local_experts_wv.0.bias"));
  EXPECT_EQ(qnames->size(), names->size() + 2 * 3);

  MotConfig tied = llama->config;
  tied.tie_embeddings = true;
  auto tnames = HfTensorNames("LlamaForCausalLM", tied);
  ASSERT_THAT(tnames, IsOk());
  EXPECT_EQ(tnames->size(), names->size() - 1);
  EXPECT_THAT(HfTensorNames("GPT2LMHeadModel", tied), StatusIs(kInvalid, HasSubstr("GPT2")));
}

// An HF directory in transformers' names: config.json and random weights, one file or
// `shards` files with an index.
struct HfDir {
  std::vector<NamedTensor> tensors;  // HF names
};

HfDir WriteHfDir(const std::string& dir, const json& config, int shards = 1) {
  fs::create_directories(dir);
  WriteAllTo(dir + "/config.json", config.dump(2));
  auto mapped = Map(config);
  EXPECT_THAT(mapped, IsOk());
  auto names = HfTensorNames(mapped->architecture, mapped->config);
  EXPECT_THAT(names, IsOk());
  const auto expected = weight_names::ExpectedTensors(mapped->config);
  HfDir out;
  float v = 0.001f;
  for (size_t i = 0; i < expected.size(); ++i) {
    Tensor t = Tensor::Empty(DType::kF32, expected[i].shape);
    float* p = static_cast<float*>(t.data());
    for (int64_t j = 0; j < t.numel(); ++j) p[j] = (v += 0.001f);
    out.tensors.push_back({(*names)[i].first, t});
  }
  if (shards == 1) {
    EXPECT_THAT(WriteSafetensors(dir + "/model.safetensors", out.tensors), IsOk());
    return out;
  }
  json map = json::object();
  for (int s = 0; s < shards; ++s) {
    std::vector<NamedTensor> part;
    const std::string file =
        "model-0000" + std::to_string(s + 1) + "-of-0000" + std::to_string(shards) + ".safetensors";
    for (size_t i = s; i < out.tensors.size(); i += shards) {
      part.push_back(out.tensors[i]);
      map[out.tensors[i].name] = file;
    }
    EXPECT_THAT(WriteSafetensors(dir + "/" + file, part), IsOk());
  }
  WriteAllTo(dir + "/model.safetensors.index.json",
             json{{"metadata", {{"total_size", 0}}}, {"weight_map", map}}.dump(2));
  return out;
}

// Nothing under `parent` but the HF directory: no checkpoint, no temporary sibling.
void ExpectNothingWritten(const ScratchDir& scratch) {
  for (const auto& e : fs::directory_iterator(scratch.path())) {
    EXPECT_EQ(e.path().filename(), "hf") << "left behind: " << e.path();
  }
}

TEST(ImportHfModelTest, SingleFileRoundTripsEveryTensor) {
  ScratchDir scratch;
  const std::string hf = scratch.Join("hf");
  json config = BaseConfig("Qwen2ForCausalLM");
  const HfDir made = WriteHfDir(hf, config);
  WriteAllTo(hf + "/generation_config.json", R"({"bos_token_id": 1, "eos_token_id": 2})");
  WriteAllTo(hf + "/tokenizer.json", R"({"model": {"type": "BPE"}})");
  int checked = 0;
  HfImportOptions options;
  options.check_tokenizer = [&](std::string_view text) {
    ++checked;
    EXPECT_THAT(std::string(text), HasSubstr("BPE"));
    return absl::OkStatus();
  };
  auto r = ImportHfModel(hf, scratch.Join("ckpt"), options);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(checked, 1);
  EXPECT_EQ(r->architecture, "Qwen2ForCausalLM");
  EXPECT_EQ(r->num_tensors, static_cast<int64_t>(made.tensors.size()));
  EXPECT_EQ(r->copied, (std::vector<std::string>{"generation_config.json", "tokenizer.json"}));

  auto ckpt = Checkpoint::Open(scratch.Join("ckpt"));
  ASSERT_THAT(ckpt, IsOk());
  EXPECT_TRUE(ckpt->config().attention_bias);
  EXPECT_NE(ckpt->OptionalFile("tokenizer.json"), "");
  EXPECT_NE(ckpt->OptionalFile("generation_config.json"), "");
  auto names = HfTensorNames("Qwen2ForCausalLM", ckpt->config());
  ASSERT_THAT(names, IsOk());
  for (size_t i = 0; i < names->size(); ++i) {
    auto t = ckpt->weights().Get((*names)[i].second);
    ASSERT_THAT(t, IsOk());
    ASSERT_EQ((*names)[i].first, made.tensors[i].name);
    EXPECT_EQ(std::memcmp(t->data(), made.tensors[i].tensor.data(), t->numel() * 4), 0)
        << (*names)[i].second;
  }
}

TEST(ImportHfModelTest, ShardedWithIndexAndIgnoredBuffers) {
  ScratchDir scratch;
  const std::string hf = scratch.Join("hf");
  json config = BaseConfig("MistralForCausalLM");
  WriteHfDir(hf, config, /*shards=*/3);
  auto r = ImportHfModel(hf, scratch.Join("ckpt"));
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->shards.size(), 3u);
  auto ckpt = Checkpoint::Open(scratch.Join("ckpt"));
  ASSERT_THAT(ckpt, IsOk());
  EXPECT_EQ(ckpt->config().sliding_window, 8);
  EXPECT_EQ(ckpt->OptionalFile("tokenizer.json"), "");
  // Refuses to replace it, then replaces it when asked.
  EXPECT_THAT(ImportHfModel(hf, scratch.Join("ckpt")),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("ckpt")));
  HfImportOptions overwrite;
  overwrite.overwrite = true;
  EXPECT_THAT(ImportHfModel(hf, scratch.Join("ckpt"), overwrite), IsOk());
}

TEST(ImportHfModelTest, RotaryBufferOfOldCheckpointsIsSkipped) {
  ScratchDir scratch;
  const std::string hf = scratch.Join("hf");
  HfDir made = WriteHfDir(hf, BaseConfig("LlamaForCausalLM"));
  Tensor inv = Tensor::Empty(DType::kF32, {2});
  made.tensors.push_back({"model.layers.0.self_attn.rotary_emb.inv_freq", inv});
  ASSERT_THAT(WriteSafetensors(hf + "/model.safetensors", made.tensors), IsOk());
  EXPECT_THAT(ImportHfModel(hf, scratch.Join("ckpt")), IsOk());
}

TEST(ImportHfModelTest, BadInputIsRefusedNamingFileAndTensorAndNothingIsWritten) {
  struct Case {
    const char* name;
    std::function<void(const std::string& hf)> damage;
    absl::StatusCode code;
    std::vector<std::string> said;
  };
  const std::vector<Case> cases = {
      {"missing shard",
       [](const std::string& hf) { fs::remove(hf + "/model-00002-of-00003.safetensors"); },
       kNotFound,
       {"model.safetensors.index.json", "model-00002-of-00003.safetensors"}},
      {"index names a tensor its shard lacks",
       [](const std::string& hf) {
         json index = json::parse(ReadAll(hf + "/model.safetensors.index.json"));
         index["weight_map"]["model.layers.0.self_attn.q_proj.weight"] =
             "model-00003-of-00003.safetensors";
         WriteAllTo(hf + "/model.safetensors.index.json", index.dump());
       },
       kInvalid,
       {"model.layers.0.self_attn.q_proj.weight", "model-00003-of-00003.safetensors",
        "model.safetensors.index.json"}},
      {"tensor in no file",
       [](const std::string& hf) {
         json index = json::parse(ReadAll(hf + "/model.safetensors.index.json"));
         index["weight_map"].erase("model.norm.weight");
         WriteAllTo(hf + "/model.safetensors.index.json", index.dump());
       },
       kInvalid,
       {"model.norm.weight", "in no weight file"}},
      {"shape disagrees with config",
       [](const std::string& hf) {
         json c = json::parse(ReadAll(hf + "/config.json"));
         c["intermediate_size"] = 32;
         WriteAllTo(hf + "/config.json", c.dump());
       },
       kInvalid,
       {"mlp.", "has shape", "config.json implies", ".safetensors"}},
      {"bad index json",
       [](const std::string& hf) { WriteAllTo(hf + "/model.safetensors.index.json", "{\"w"); },
       kInvalid,
       {"model.safetensors.index.json", "not well-formed JSON"}},
      {"no weights",
       [](const std::string& hf) {
         for (const auto& e : fs::directory_iterator(hf)) {
           if (e.path().string().find("safetensors") != std::string::npos) fs::remove(e.path());
         }
       },
       kNotFound,
       {"model.safetensors", "safe_serialization"}},
      {"unsupported config field",
       [](const std::string& hf) {
         json c = json::parse(ReadAll(hf + "/config.json"));
         c["rope_scaling"] = {{"rope_type", "longrope"}, {"factor", 4.0}};
         WriteAllTo(hf + "/config.json", c.dump());
       },
       kInvalid,
       {"config.json", "rope_scaling.rope_type", "longrope"}},
      {"unknown architecture",
       [](const std::string& hf) {
         json c = json::parse(ReadAll(hf + "/config.json"));
         c["architectures"] = {"FalconForCausalLM"};
         WriteAllTo(hf + "/config.json", c.dump());
       },
       kInvalid,
       {"config.json", "field architectures", "FalconForCausalLM"}},
      {"tokenizer refused",
       [](const std::string& hf) { WriteAllTo(hf + "/tokenizer.json", "{\"model\": {}}"); },
       kInvalid,
       {"tokenizer.json", "refused", "model.type: only BPE"}},
  };
  for (const Case& c : cases) {
    ScratchDir scratch;
    const std::string hf = scratch.Join("hf");
    WriteHfDir(hf, BaseConfig("Qwen2ForCausalLM"), /*shards=*/3);
    c.damage(hf);
    HfImportOptions options;
    options.check_tokenizer = [](std::string_view) {
      return absl::InvalidArgumentError("model.type: only BPE is supported");
    };
    auto r = ImportHfModel(hf, scratch.Join("ckpt"), options);
    EXPECT_EQ(r.status().code(), c.code) << c.name << ": " << r.status();
    for (const std::string& s : c.said) {
      EXPECT_THAT(std::string(r.status().message()), HasSubstr(s)) << c.name;
    }
    ExpectNothingWritten(scratch);
  }
}

TEST(ImportHfModelTest, UnexpectedTensorAndSkipTokenizer) {
  ScratchDir scratch;
  const std::string hf = scratch.Join("hf");
  HfDir made = WriteHfDir(hf, BaseConfig("LlamaForCausalLM"));
  made.tensors.push_back(
      {"model.layers.0.self_attn.o_proj.bias", Tensor::Empty(DType::kF32, {16})});
  ASSERT_THAT(WriteSafetensors(hf + "/model.safetensors", made.tensors), IsOk());
  EXPECT_THAT(ImportHfModel(hf, scratch.Join("ckpt")),
              StatusIs(kInvalid, AllOf(HasSubstr("model.safetensors"),
                                       HasSubstr("unexpected tensor "
                                                 "'model.layers.0.self_attn.o_proj.bias'"))));
  ExpectNothingWritten(scratch);

  made.tensors.pop_back();
  ASSERT_THAT(WriteSafetensors(hf + "/model.safetensors", made.tensors), IsOk());
  WriteAllTo(hf + "/tokenizer.json", "{}");
  HfImportOptions options;
  options.skip_tokenizer = true;
  options.check_tokenizer = [](std::string_view) { return absl::InvalidArgumentError("no"); };
  auto r = ImportHfModel(hf, scratch.Join("ckpt"), options);
  ASSERT_THAT(r, IsOk());
  EXPECT_TRUE(r->copied.empty());
}

// --- special_token_ids (MapSpecialTokenIds) ---

// A tokenizer.json with the specials at ids 0..2 and the given post_processor.
std::string TokenizerJson(const json& post_processor) {
  json t = {
      {"version", "1.0"},
      {"added_tokens",
       {{{"id", 0}, {"content", "<unk>"}, {"special", true}},
        {{"id", 1}, {"content", "<s>"}, {"special", true}},
        {{"id", 2}, {"content", "</s>"}, {"special", true}}}},
      {"post_processor", post_processor},
      {"model", {{"type", "BPE"}, {"vocab", {{"<unk>", 0}, {"<s>", 1}, {"</s>", 2}, {"a", 3}}}}}};
  return t.dump();
}

json Template(const json& single) {
  return {{"type", "TemplateProcessing"},
          {"single", single},
          {"pair", json::array()},
          {"special_tokens",
           {{"<s>", {{"id", "<s>"}, {"ids", {1}}, {"tokens", {"<s>"}}}},
            {"</s>", {{"id", "</s>"}, {"ids", {2}}, {"tokens", {"</s>"}}}}}}};
}

const json kBos = {{"SpecialToken", {{"id", "<s>"}, {"type_id", 0}}}};
const json kSeqA = {{"Sequence", {{"id", "A"}, {"type_id", 0}}}};

absl::StatusOr<SpecialTokenIds> Specials(const std::string& arch, const json& config,
                                         const json& generation, const json& tok_config,
                                         const std::string& tokenizer) {
  HfSideFiles f;
  f.config = config.dump();
  if (!generation.is_null()) f.generation_config = generation.dump();
  if (!tok_config.is_null()) f.tokenizer_config = tok_config.dump();
  f.tokenizer = tokenizer;
  return MapSpecialTokenIds(arch, 40, f);
}

TEST(MapSpecialTokenIdsTest, IdsFromGenerationConfigThenConfig) {
  json c = BaseConfig("Qwen2ForCausalLM");
  c["pad_token_id"] = 0;
  // generation_config.json's eos list wins over config.json's single id; bos comes from
  // config.json where generation_config.json leaves it null.
  auto s = Specials("Qwen2ForCausalLM", c, {{"bos_token_id", nullptr}, {"eos_token_id", {2, 5}}},
                    nullptr, TokenizerJson({{"type", "ByteLevel"}}));
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->bos, 1);
  EXPECT_EQ(s->eos, (std::vector<int32_t>{2, 5}));
  EXPECT_EQ(s->pad, 0);
  EXPECT_FALSE(s->add_bos);  // Qwen2TokenizerFast keeps the ByteLevel post-processor
}

TEST(MapSpecialTokenIdsTest, AddBosAsTransformersTokenizersDo) {
  const json c = BaseConfig("LlamaForCausalLM");
  const std::string plain = TokenizerJson(nullptr);
  // LlamaTokenizerFast (the default class of llama) rebuilds its template: BOS by default.
  auto s = Specials("LlamaForCausalLM", c, nullptr, json::object(), plain);
  ASSERT_THAT(s, IsOk());
  EXPECT_TRUE(s->add_bos);
  EXPECT_EQ(s->bos, 1);
  // No tokenizer_config.json: no class to go by, tokenizer.json's post-processor decides.
  s = Specials("LlamaForCausalLM", c, nullptr, nullptr, plain);
  ASSERT_THAT(s, IsOk());
  EXPECT_FALSE(s->add_bos);
  s = Specials("LlamaForCausalLM", c, nullptr,
               {{"tokenizer_class", "LlamaTokenizer"}, {"add_bos_token", false}}, plain);
  ASSERT_THAT(s, IsOk());
  EXPECT_FALSE(s->add_bos);
  // PreTrainedTokenizerFast keeps tokenizer.json's post-processor.
  const json fast = {{"tokenizer_class", "PreTrainedTokenizerFast"}};
  s = Specials("LlamaForCausalLM", c, nullptr, fast, plain);
  ASSERT_THAT(s, IsOk());
  EXPECT_FALSE(s->add_bos);
  s = Specials("LlamaForCausalLM", c, nullptr, fast, TokenizerJson(Template({kBos, kSeqA})));
  ASSERT_THAT(s, IsOk());
  EXPECT_TRUE(s->add_bos);
  json seq = {{"type", "Sequence"},
              {"processors", {{{"type", "ByteLevel"}}, Template({kBos, kSeqA})}}};
  s = Specials("LlamaForCausalLM", c, nullptr, fast, TokenizerJson(seq));
  ASSERT_THAT(s, IsOk());
  EXPECT_TRUE(s->add_bos);
  // A model without bos_token_id takes the tokenizer's.
  json no_bos = c;
  no_bos.erase("bos_token_id");
  s = Specials("LlamaForCausalLM", no_bos, nullptr, fast, TokenizerJson(Template({kBos, kSeqA})));
  ASSERT_THAT(s, IsOk());
  EXPECT_EQ(s->bos, 1);
}

TEST(MapSpecialTokenIdsTest, RefusalsNameTheFileAndField) {
  const json c = BaseConfig("LlamaForCausalLM");
  const json fast = {{"tokenizer_class", "PreTrainedTokenizerFast"}};
  const std::string plain = TokenizerJson(nullptr);
  json no_eos = c;
  no_eos.erase("eos_token_id");
  EXPECT_THAT(Specials("LlamaForCausalLM", no_eos, nullptr, fast, plain),
              StatusIs(kInvalid, AllOf(HasSubstr("config.json"), HasSubstr("eos_token_id"))));
  EXPECT_THAT(Specials("LlamaForCausalLM", c, {{"eos_token_id", 40}}, fast, plain),
              StatusIs(kInvalid, AllOf(HasSubstr("generation_config.json: field eos_token_id"),
                                       HasSubstr("vocab_size=40"))));
  EXPECT_THAT(Specials("LlamaForCausalLM", c, {{"eos_token_id", json::array()}}, fast, plain),
              StatusIs(kInvalid, HasSubstr("field eos_token_id: an empty list")));
  EXPECT_THAT(Specials("LlamaForCausalLM", c, {{"bos_token_id", {1, 2}}}, fast, plain),
              StatusIs(kInvalid, HasSubstr("field bos_token_id: must be an id")));
  EXPECT_THAT(Specials("LlamaForCausalLM", c, nullptr, {{"add_eos_token", true}}, plain),
              StatusIs(kInvalid, HasSubstr("tokenizer_config.json: field add_eos_token")));
  EXPECT_THAT(Specials("LlamaForCausalLM", c, nullptr, {{"bos_token", "<bos>"}}, plain),
              StatusIs(kInvalid, AllOf(HasSubstr("tokenizer_config.json: field bos_token"),
                                       HasSubstr("not a token of tokenizer.json"))));
  EXPECT_THAT(
      Specials("LlamaForCausalLM", c, nullptr, fast, TokenizerJson(Template({kBos, kSeqA, kBos}))),
      StatusIs(kInvalid, HasSubstr("post_processor.single[2]")));
  EXPECT_THAT(
      Specials("LlamaForCausalLM", c, nullptr, fast, TokenizerJson({{"type", "BertProcessing"}})),
      StatusIs(kInvalid, HasSubstr("post_processor.type")));
  json other_bos = c;
  other_bos["bos_token_id"] = 3;
  EXPECT_THAT(Specials("LlamaForCausalLM", other_bos, nullptr, json::object(), plain),
              StatusIs(kInvalid, AllOf(HasSubstr("config.json: field bos_token_id"),
                                       HasSubstr("disagrees"))));
}

}  // namespace
}  // namespace mot::hf
