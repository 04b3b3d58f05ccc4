// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "model_loaders/model_config.h"

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/weight_names.h"
#include "nlohmann/json.hpp"
#include "tests/model_loaders/test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::ScratchDir;
using ::mot::testing::StatusIs;
using ::mot::testing::WriteAllTo;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;

json ValidConfig() {
  return json::parse(R"({
    "format": "mot", "format_version": 1,
    "dim": 64, "n_layers": 2, "n_heads": 8, "n_kv_heads": 2, "head_dim": 8,
    "ffn_hidden": 128, "norm_eps": 1e-6, "rope_theta": 500000.0, "max_seq_len": 256,
    "norm_placement": "post_branch", "norm_type": "layer", "qk_norm": true,
    "tie_embeddings": true,
    "modalities": ["text", "image", "audio"],
    "vocab_size": 100,
    "vocab_ranges": [
      {"name": "special", "begin": 0, "end": 8, "modality": "text"},
      {"name": "text", "begin": 8, "end": 60, "modality": "text"},
      {"name": "image", "begin": 60, "end": 90, "modality": "image"},
      {"name": "audio", "begin": 90, "end": 100, "modality": "audio"}
    ]
  })");
}

TEST(ModelConfigTest, ParsesEveryField) {
  const absl::StatusOr<MotConfig> c = ParseMotConfig(ValidConfig().dump());
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->dim, 64);
  EXPECT_EQ(c->n_layers, 2);
  EXPECT_EQ(c->n_heads, 8);
  EXPECT_EQ(c->n_kv_heads, 2);
  EXPECT_EQ(c->head_dim, 8);
  EXPECT_EQ(c->ffn_hidden, 128);
  EXPECT_FLOAT_EQ(c->norm_eps, 1e-6f);
  EXPECT_FLOAT_EQ(c->rope_theta, 500000.0f);
  EXPECT_EQ(c->max_seq_len, 256);
  EXPECT_EQ(c->norm_placement, NormPlacement::kPostBranch);
  EXPECT_EQ(c->norm_type, NormType::kLayer);
  EXPECT_TRUE(c->qk_norm);
  EXPECT_TRUE(c->tie_embeddings);
  EXPECT_THAT(c->modalities, ElementsAre("text", "image", "audio"));
  EXPECT_EQ(c->vocab_size, 100);
  ASSERT_EQ(c->vocab_ranges.size(), 4u);
  EXPECT_EQ(c->vocab_ranges[2], (VocabRange{"image", 60, 90, 1}));
  EXPECT_EQ(c->num_towers(), 3);
  EXPECT_EQ(c->q_dim(), 64);
  EXPECT_EQ(c->kv_dim(), 16);
}

TEST(ModelConfigTest, OptionalFieldsTakeTheirDefaults) {
  json j = ValidConfig();
  for (const char* key :
       {"norm_eps", "rope_theta", "norm_placement", "norm_type", "qk_norm", "tie_embeddings"}) {
    j.erase(key);
  }
  const absl::StatusOr<MotConfig> c = ParseMotConfig(j.dump());
  ASSERT_THAT(c, IsOk());
  EXPECT_FLOAT_EQ(c->norm_eps, 1e-5f);
  EXPECT_FLOAT_EQ(c->rope_theta, 10000.0f);
  EXPECT_EQ(c->norm_placement, NormPlacement::kPre);
  EXPECT_EQ(c->norm_type, NormType::kRms);
  EXPECT_FALSE(c->qk_norm);
  EXPECT_FALSE(c->tie_embeddings);
}

TEST(ModelConfigTest, TowerOfFollowsTheRanges) {
  const absl::StatusOr<MotConfig> c = ParseMotConfig(ValidConfig().dump());
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->TowerOf(0), 0);
  EXPECT_EQ(c->TowerOf(7), 0);
  EXPECT_EQ(c->TowerOf(8), 0);
  EXPECT_EQ(c->TowerOf(59), 0);
  EXPECT_EQ(c->TowerOf(60), 1);
  EXPECT_EQ(c->TowerOf(89), 1);
  EXPECT_EQ(c->TowerOf(90), 2);
  EXPECT_EQ(c->TowerOf(99), 2);
}

TEST(ModelConfigTest, ToJsonRoundTrips) {
  const absl::StatusOr<MotConfig> c = ParseMotConfig(ValidConfig().dump());
  ASSERT_THAT(c, IsOk());
  const std::string text = MotConfigToJson(*c);
  const absl::StatusOr<MotConfig> again = ParseMotConfig(text);
  ASSERT_THAT(again, IsOk()) << text;
  EXPECT_EQ(*again, *c);
  // Short decimals, keys in the documented order.
  EXPECT_THAT(text, HasSubstr("\"norm_eps\": 1e-06"));
  EXPECT_LT(text.find("\"format\""), text.find("\"dim\""));
  EXPECT_LT(text.find("\"vocab_size\""), text.find("\"vocab_ranges\""));
}

TEST(ModelConfigTest, SpecialTokensNameTheSpecialRange) {
  json j = ValidConfig();
  j["special_tokens"] = {"<pad>", "<bos>", "<eos>", "<boi>", "<eoi>", "<boa>", "<eoa>", "<x>"};
  const absl::StatusOr<MotConfig> c = ParseMotConfig(j.dump());
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->special_tokens.size(), 8u);
  EXPECT_EQ(c->special_tokens[2], "<eos>");
  EXPECT_EQ(*ParseMotConfig(MotConfigToJson(*c)), *c);
}

TEST(ModelConfigTest, ValidateCatchesConfigsBuiltInCode) {
  MotConfig c = *ParseMotConfig(ValidConfig().dump());
  EXPECT_THAT(ValidateMotConfig(c), IsOk());
  c.vocab_ranges[1].tower = 7;
  EXPECT_THAT(ValidateMotConfig(c),
              StatusIs(kInvalid, HasSubstr("field vocab_ranges[1].modality: tower 7")));
}

TEST(ModelConfigTest, LoadPrefixesErrorsWithThePath) {
  ScratchDir dir;
  const std::string path = dir.Join("config.json");
  json j = ValidConfig();
  j["n_kv_heads"] = 3;
  WriteAllTo(path, j.dump());
  EXPECT_THAT(LoadMotConfig(path),
              StatusIs(kInvalid, HasSubstr(path + ": field n_kv_heads: must divide n_heads=8, "
                                                  "got 3")));
  EXPECT_THAT(LoadMotConfig(dir.Join("missing.json")),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("missing.json")));
  WriteAllTo(path, ValidConfig().dump());
  EXPECT_THAT(LoadMotConfig(path), IsOk());
}

struct BadCase {
  const char* name;
  std::function<void(json&)> mutate;
  const char* message;
};

void PrintTo(const BadCase& c, std::ostream* os) { *os << c.name; }

class ModelConfigBadFieldTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(ModelConfigBadFieldTest, IsRejectedNamingTheField) {
  json j = ValidConfig();
  GetParam().mutate(j);
  EXPECT_THAT(ParseMotConfig(j.dump()), StatusIs(kInvalid, HasSubstr(GetParam().message)))
      << j.dump();
}

const BadCase kBadCases[] = {
    {"WrongFormat", [](json& j) { j["format"] = "llama"; }, "field format: must be \"mot\""},
    {"FormatMissing", [](json& j) { j.erase("format"); }, "field format: missing"},
    {"FutureVersion", [](json& j) { j["format_version"] = 2; }, "field format_version"},
    {"DimMissing", [](json& j) { j.erase("dim"); }, "field dim: missing"},
    {"DimZero", [](json& j) { j["dim"] = 0; }, "field dim: must be in [1, 65536], got 0"},
    {"DimNegative", [](json& j) { j["dim"] = -64; }, "field dim: must be in"},
    {"DimHuge", [](json& j) { j["dim"] = 1u << 31; }, "field dim: must be in"},
    {"DimHugerThanInt64", [](json& j) { j["dim"] = UINT64_MAX; }, "field dim: must be in"},
    {"DimFloat", [](json& j) { j["dim"] = 64.0; }, "field dim: must be an integer, got 64.0"},
    {"DimString", [](json& j) { j["dim"] = "64"; }, "field dim: must be an integer"},
    {"LayersZero", [](json& j) { j["n_layers"] = 0; }, "field n_layers"},
    {"HeadsZero", [](json& j) { j["n_heads"] = 0; }, "field n_heads"},
    {"KvHeadsZero", [](json& j) { j["n_kv_heads"] = 0; }, "field n_kv_heads"},
    {"KvHeadsNotDividing", [](json& j) { j["n_kv_heads"] = 3; },
     "field n_kv_heads: must divide n_heads=8, got 3"},
    {"HeadDimOdd", [](json& j) { j["head_dim"] = 7; }, "field head_dim: must be even"},
    {"HeadDimZero", [](json& j) { j["head_dim"] = 0; }, "field head_dim"},
    {"FfnZero", [](json& j) { j["ffn_hidden"] = 0; }, "field ffn_hidden"},
    {"NormEpsZero", [](json& j) { j["norm_eps"] = 0; }, "field norm_eps"},
    {"NormEpsNegative", [](json& j) { j["norm_eps"] = -1e-5; }, "field norm_eps"},
    {"NormEpsInfinite", [](json& j) { j["norm_eps"] = 1e300; }, "field norm_eps"},
    {"NormEpsString", [](json& j) { j["norm_eps"] = "1e-5"; }, "field norm_eps: must be a number"},
    {"RopeThetaZero", [](json& j) { j["rope_theta"] = 0.0; }, "field rope_theta"},
    {"RopeThetaOverflowsFloat", [](json& j) { j["rope_theta"] = 1e39; }, "field rope_theta"},
    {"MaxSeqLenZero", [](json& j) { j["max_seq_len"] = 0; }, "field max_seq_len"},
    {"PlacementUnknown", [](json& j) { j["norm_placement"] = "sandwich"; },
     "field norm_placement: must be \"pre\" or \"post_branch\""},
    {"NormTypeUnknown", [](json& j) { j["norm_type"] = "batch"; }, "field norm_type"},
    {"QkNormNotBool", [](json& j) { j["qk_norm"] = 1; }, "field qk_norm: must be true or false"},
    {"TieNotBool", [](json& j) { j["tie_embeddings"] = "yes"; }, "field tie_embeddings"},
    {"ModalitiesEmpty", [](json& j) { j["modalities"] = json::array(); },
     "field modalities: must list 1 to 8"},
    {"ModalitiesTooMany",
     [](json& j) { j["modalities"] = {"a", "b", "c", "d", "e", "f", "g", "h", "i"}; },
     "field modalities: must list 1 to 8 names, got 9"},
    {"ModalitiesDuplicate",
     [](json& j) {
       j["modalities"] = {"text", "image", "text"};
     },
     "field modalities: 'text' is listed twice"},
    {"ModalityNotString", [](json& j) { j["modalities"][1] = 5; }, "field modalities"},
    {"ModalitiesNotArray", [](json& j) { j["modalities"] = "text"; }, "field modalities"},
    {"VocabSizeZero", [](json& j) { j["vocab_size"] = 0; }, "field vocab_size"},
    {"VocabSizeBeyondRanges", [](json& j) { j["vocab_size"] = 101; },
     "field vocab_ranges: cover [0, 100) but vocab_size is 101"},
    {"RangesEmpty", [](json& j) { j["vocab_ranges"] = json::array(); },
     "field vocab_ranges: must not be empty"},
    {"RangeNotStartingAtZero", [](json& j) { j["vocab_ranges"][0]["begin"] = 1; },
     "field vocab_ranges[0].begin: must be 0"},
    {"RangeGap", [](json& j) { j["vocab_ranges"][2]["begin"] = 61; },
     "field vocab_ranges[2].begin: must be 60"},
    {"RangesUnsorted", [](json& j) { std::swap(j["vocab_ranges"][2], j["vocab_ranges"][3]); },
     "field vocab_ranges[2].begin: must be 60"},
    {"RangeEmpty",
     [](json& j) {
       j["vocab_ranges"][1]["end"] = 8;
       j["vocab_ranges"][2]["begin"] = 8;
     },
     "field vocab_ranges[1].end: must be > begin=8"},
    {"RangePastVocab", [](json& j) { j["vocab_ranges"][3]["end"] = 120; },
     "field vocab_ranges[3].end: must be <= vocab_size=100"},
    {"RangeUnknownModality", [](json& j) { j["vocab_ranges"][2]["modality"] = "video"; },
     "field vocab_ranges[2].modality: \"video\" is not in modalities"},
    {"RangeDuplicateName", [](json& j) { j["vocab_ranges"][2]["name"] = "text"; },
     "field vocab_ranges[2].name: 'text' is used twice"},
    {"RangeUnknownKey", [](json& j) { j["vocab_ranges"][0]["tower"] = 0; },
     "unknown field \"tower\" in vocab_ranges[0]"},
    {"RangeMissingEnd", [](json& j) { j["vocab_ranges"][0].erase("end"); },
     "field vocab_ranges[0].end: missing"},
    {"RangeNotObject", [](json& j) { j["vocab_ranges"][0] = 3; },
     "field vocab_ranges[0]: must be an object"},
    {"SpecialTokensCountMismatch",
     [](json& j) {
       j["special_tokens"] = {"<pad>", "<bos>"};
     },
     "field special_tokens: lists 2 names but the special range is [0, 8)"},
    {"SpecialTokensDuplicate",
     [](json& j) {
       j["special_tokens"] = {"<pad>", "<bos>", "<eos>", "<boi>",
                              "<eoi>", "<boa>", "<eoa>", "<pad>"};
     },
     "field special_tokens: '<pad>' is listed twice"},
    {"SpecialTokensNotStrings",
     [](json& j) {
       j["special_tokens"] = {1, 2};
     },
     "field special_tokens: must hold strings"},
    {"UnknownTopLevelKey", [](json& j) { j["n_head"] = 8; }, "unknown field \"n_head\""},
};

INSTANTIATE_TEST_SUITE_P(Fields, ModelConfigBadFieldTest, ::testing::ValuesIn(kBadCases),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(ModelConfigTest, MalformedJsonIsRejected) {
  EXPECT_THAT(ParseMotConfig("{\"dim\": 64,"), StatusIs(kInvalid, HasSubstr("not well-formed")));
  EXPECT_THAT(ParseMotConfig("[]"), StatusIs(kInvalid, HasSubstr("not a JSON object")));
  EXPECT_THAT(ParseMotConfig(""), StatusIs(kInvalid, HasSubstr("not well-formed")));
  std::string dup = ValidConfig().dump();
  dup.insert(1, "\"dim\": 32, ");
  EXPECT_THAT(ParseMotConfig(dup), StatusIs(kInvalid, HasSubstr("\"dim\" more than once")));
}

// The config extensions of imported checkpoints (attention_bias, rope_scaling,
// sliding_window): absent means the defaults, and MotConfigToJson leaves them out then, so
// every existing config.json reads and writes as before.
TEST(ModelConfigExtensionsTest, AbsentMeansDefaultAndIsNotWritten) {
  const absl::StatusOr<MotConfig> c = ParseMotConfig(ValidConfig().dump());
  ASSERT_THAT(c, IsOk());
  EXPECT_FALSE(c->attention_bias);
  EXPECT_EQ(c->rope_scaling, RopeScaling{});
  EXPECT_EQ(c->sliding_window, 0);
  const json written = json::parse(MotConfigToJson(*c));
  EXPECT_FALSE(written.contains("attention_bias"));
  EXPECT_FALSE(written.contains("rope_scaling"));
  EXPECT_FALSE(written.contains("sliding_window"));
  json nulls = ValidConfig();
  nulls["rope_scaling"] = nullptr;
  nulls["sliding_window"] = nullptr;
  nulls["attention_bias"] = false;
  EXPECT_EQ(*ParseMotConfig(nulls.dump()), *c);
}

TEST(ModelConfigExtensionsTest, ParseAndRoundTrip) {
  json j = ValidConfig();
  j["attention_bias"] = true;
  j["sliding_window"] = 4096;
  j["rope_scaling"] = {{"type", "llama3"},
                       {"factor", 8.0},
                       {"low_freq_factor", 1.0},
                       {"high_freq_factor", 4.0},
                       {"original_max_position_embeddings", 8192}};
  const absl::StatusOr<MotConfig> c = ParseMotConfig(j.dump());
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(c->attention_bias);
  EXPECT_EQ(c->sliding_window, 4096);
  EXPECT_EQ(c->rope_scaling.type, RopeScalingType::kLlama3);
  EXPECT_EQ(c->rope_scaling.original_max_position_embeddings, 8192);
  EXPECT_EQ(*ParseMotConfig(MotConfigToJson(*c)), *c);
  j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}};
  const absl::StatusOr<MotConfig> lin = ParseMotConfig(j.dump());
  ASSERT_THAT(lin, IsOk());
  EXPECT_EQ(lin->rope_scaling.type, RopeScalingType::kLinear);
  EXPECT_EQ(*ParseMotConfig(MotConfigToJson(*lin)), *lin);
  j["rope_scaling"] = {
      {"type", "yarn"},    {"factor", 4.0},    {"original_max_position_embeddings", 32768},
      {"beta_fast", 32.0}, {"beta_slow", 1.0}, {"attention_factor", 1.25}};
  const absl::StatusOr<MotConfig> yarn = ParseMotConfig(j.dump());
  ASSERT_THAT(yarn, IsOk());
  EXPECT_EQ(yarn->rope_scaling.type, RopeScalingType::kYarn);
  EXPECT_EQ(yarn->rope_scaling.original_max_position_embeddings, 32768);
  EXPECT_EQ(yarn->rope_scaling.attention_factor, 1.25f);
  EXPECT_EQ(RopeAttentionFactor(*yarn), 1.25);
  EXPECT_EQ(RopeAttentionFactor(*lin), 1.0);
  EXPECT_EQ(*ParseMotConfig(MotConfigToJson(*yarn)), *yarn);
}

TEST(ModelConfigExtensionsTest, BadValuesNameTheField) {
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& j) {
         j["rope_scaling"] = {{"type", "yarn"}, {"factor", 4.0}};
       },
       "field rope_scaling.original_max_position_embeddings: missing"},
      {[](json& j) {
         j["rope_scaling"] = {
             {"type", "yarn"},   {"factor", 4.0},    {"original_max_position_embeddings", 64},
             {"beta_fast", 1.0}, {"beta_slow", 1.0}, {"attention_factor", 1.1}};
       },
       "field rope_scaling.beta_fast: must be finite and > beta_slow=1"},
      {[](json& j) {
         j["rope_scaling"] = {
             {"type", "yarn"},    {"factor", 4.0},    {"original_max_position_embeddings", 64},
             {"beta_fast", 32.0}, {"beta_slow", 1.0}, {"attention_factor", 0.0}};
       },
       "field rope_scaling.attention_factor"},
      {[](json& j) {
         j["rope_scaling"] = {{"type", "dynamic"}, {"factor", 4.0}};
       },
       "field rope_scaling.type"},
      {[](json& j) {
         j["rope_scaling"] = {{"factor", 4.0}};
       },
       "field rope_scaling.type: missing"},
      {[](json& j) {
         j["rope_scaling"] = {{"type", "linear"}};
       },
       "field rope_scaling.factor: missing"},
      {[](json& j) {
         j["rope_scaling"] = {{"type", "linear"}, {"factor", -1.0}};
       },
       "field rope_scaling.factor"},
      {[](json& j) {
         j["rope_scaling"] = {{"type", "linear"}, {"factor", 2.0}, {"mscale", 1}};
       },
       "unknown field \"mscale\" in rope_scaling"},
      {[](json& j) {
         j["rope_scaling"] = {{"type", "llama3"},
                              {"factor", 8.0},
                              {"low_freq_factor", 4.0},
                              {"high_freq_factor", 4.0},
                              {"original_max_position_embeddings", 64}};
       },
       "field rope_scaling.high_freq_factor: must be > low_freq_factor"},
      {[](json& j) {
         j["rope_scaling"] = {{"type", "llama3"},
                              {"factor", 8.0},
                              {"low_freq_factor", 1.0},
                              {"high_freq_factor", 4.0}};
       },
       "field rope_scaling.original_max_position_embeddings: missing"},
      {[](json& j) { j["rope_scaling"] = "llama3"; }, "field rope_scaling: must be null or"},
      {[](json& j) { j["sliding_window"] = 0; }, "field sliding_window"},
      {[](json& j) { j["sliding_window"] = "8"; }, "field sliding_window: must be an integer"},
      {[](json& j) { j["attention_bias"] = 1; }, "field attention_bias"},
  };
  for (const auto& [edit, message] : cases) {
    json j = ValidConfig();
    edit(j);
    EXPECT_THAT(ParseMotConfig(j.dump()), StatusIs(kInvalid, HasSubstr(message))) << message;
  }
}

TEST(ModelConfigExtensionsTest, RopeInverseFrequencies) {
  MotConfig c = *ParseMotConfig(ValidConfig().dump());
  c.head_dim = 16;
  c.rope_theta = 10000.0f;
  const std::vector<double> plain = RopeInverseFrequencies(c);
  ASSERT_EQ(plain.size(), 8u);
  EXPECT_DOUBLE_EQ(plain[0], 1.0);
  EXPECT_NEAR(plain[4], 0.01, 1e-15);  // 10000^(-8/16)
  c.rope_scaling.type = RopeScalingType::kLinear;
  c.rope_scaling.factor = 4.0f;
  const std::vector<double> linear = RopeInverseFrequencies(c);
  for (size_t i = 0; i < 8; ++i) EXPECT_DOUBLE_EQ(linear[i], plain[i] / 4.0);
  // llama3 with original length 64, factors 1 and 4: wavelengths below 16 kept, above 64
  // divided by 8, between blended (wavelength 2 pi 10000^(i/8): 6.3, 19.9, 62.8, 199, ...).
  c.rope_scaling = {RopeScalingType::kLlama3, 8.0f, 1.0f, 4.0f, 64};
  const std::vector<double> l3 = RopeInverseFrequencies(c);
  EXPECT_DOUBLE_EQ(l3[0], plain[0]);
  for (size_t i = 3; i < 8; ++i) EXPECT_DOUBLE_EQ(l3[i], plain[i] / 8.0);
  for (size_t i = 1; i < 3; ++i) {
    const double wavelen = 2 * 3.14159265358979323846 / plain[i];
    const double s = (64.0 / wavelen - 1.0) / 3.0;
    EXPECT_NEAR(l3[i], (1 - s) * plain[i] / 8 + s * plain[i], 1e-15);
    EXPECT_LT(l3[i], plain[i]);
    EXPECT_GT(l3[i], plain[i] / 8);
  }
  // yarn, factor 4, original length 128, betas 32 and 1: the ramp runs from
  // floor(16 ln(128 / 64 pi) / 2 ln 10^4) < 0 -> 0 to ceil(16 ln(128 / 2 pi) / 2 ln 10^4) = 3;
  // frequency i is blended with weight clamp(i / 3) toward f / 4.
  c.rope_scaling = RopeScaling{};
  c.rope_scaling.type = RopeScalingType::kYarn;
  c.rope_scaling.factor = 4.0f;
  c.rope_scaling.original_max_position_embeddings = 128;
  const std::vector<double> yarn = RopeInverseFrequencies(c);
  EXPECT_DOUBLE_EQ(yarn[0], plain[0]);
  for (size_t i = 1; i < 3; ++i) {
    const double w = i / 3.0;
    EXPECT_NEAR(yarn[i], plain[i] / 4 * w + plain[i] * (1 - w), 1e-15);
  }
  for (size_t i = 3; i < 8; ++i) EXPECT_DOUBLE_EQ(yarn[i], plain[i] / 4.0);
}

// qk_norm as an object (Chameleon's per-head LayerNorm with bias) and suppressed_token_ids:
// absent or qk_norm true/false, nothing changes in what is read or written; set, they
// round-trip, change the expected q/k norm tensors, and bad values name the field.
TEST(ModelConfigQkNormTest, TrueAndFalseReadAndWriteAsBefore) {
  for (bool on : {false, true}) {
    json j = ValidConfig();
    j["qk_norm"] = on;
    const absl::StatusOr<MotConfig> c = ParseMotConfig(j.dump());
    ASSERT_THAT(c, IsOk());
    EXPECT_EQ(c->qk_norm, on);
    EXPECT_FALSE(c->qk_norm_spec.has_value());
    EXPECT_TRUE(c->suppressed_token_ids.empty());
    const json written = json::parse(MotConfigToJson(*c));
    EXPECT_EQ(written["qk_norm"], json(on));
    EXPECT_FALSE(written.contains("suppressed_token_ids"));
  }
  // The classic kind: the block norm (layer here), one [head_dim] weight and bias, norm_eps.
  const MotConfig c = *ParseMotConfig(ValidConfig().dump());
  EXPECT_EQ(c.EffectiveQkNorm(), (QkNormSpec{NormType::kLayer, false, true, 1e-6f}));
}

TEST(ModelConfigQkNormTest, ObjectParsesRoundTripsAndShapesTheTensors) {
  json j = ValidConfig();
  j["qk_norm"] = {{"type", "layer"}, {"per_head", true}, {"bias", true}, {"eps", 1e-5}};
  j["norm_type"] = "rms";
  j["suppressed_token_ids"] = {{60, 80}, {85, 86}};
  const absl::StatusOr<MotConfig> c = ParseMotConfig(j.dump());
  ASSERT_THAT(c, IsOk());
  EXPECT_TRUE(c->qk_norm);
  ASSERT_TRUE(c->qk_norm_spec.has_value());
  EXPECT_EQ(*c->qk_norm_spec, (QkNormSpec{NormType::kLayer, true, true, 1e-5f}));
  EXPECT_EQ(c->EffectiveQkNorm(), *c->qk_norm_spec);
  EXPECT_EQ(c->suppressed_token_ids, (std::vector<TokenIdRange>{{60, 80}, {85, 86}}));
  const std::string text = MotConfigToJson(*c);
  EXPECT_THAT(text, HasSubstr("\"eps\": 1e-05"));
  EXPECT_EQ(*ParseMotConfig(text), *c);
  EXPECT_EQ(json::parse(text)["suppressed_token_ids"], json({{60, 80}, {85, 86}}));

  // Per head: q [n_heads, head_dim], k [n_kv_heads, head_dim], each with a bias, though
  // norm_type is rms (the block norms keep no bias).
  std::vector<weight_names::ExpectedTensor> qk;
  for (const auto& e : weight_names::ExpectedTensors(*c)) {
    if (e.name.find("_normalization.") != std::string::npos) qk.push_back(e);
  }
  ASSERT_EQ(qk.size(), 2u * 2u * 3u * 2u);  // (q, k) x (weight, bias) x towers x layers
  EXPECT_EQ(qk[0].name, weight_names::QkNorm(0, 'q', 0));
  EXPECT_EQ(qk[0].shape, (std::vector<int64_t>{8, 8}));
  EXPECT_EQ(qk[1].name, weight_names::QkNorm(0, 'q', 0, "bias"));
  EXPECT_EQ(qk[2].name, weight_names::QkNorm(0, 'k', 0));
  EXPECT_EQ(qk[2].shape, (std::vector<int64_t>{2, 8}));
  for (const auto& e : weight_names::ExpectedTensors(*c)) {
    EXPECT_NE(e.name, weight_names::AttentionNorm(0, 0, "bias"));
  }
  // Shared, without bias: one [head_dim] weight each.
  j["qk_norm"] = {{"type", "rms"}, {"per_head", false}, {"bias", false}, {"eps", 1e-6}};
  const MotConfig shared = *ParseMotConfig(j.dump());
  int n = 0;
  for (const auto& e : weight_names::ExpectedTensors(shared)) {
    if (e.name.find("_normalization.") == std::string::npos) continue;
    ++n;
    EXPECT_EQ(e.shape, (std::vector<int64_t>{8})) << e.name;
  }
  EXPECT_EQ(n, 2 * 3 * 2);
}

TEST(ModelConfigQkNormTest, BadValuesNameTheField) {
  const std::vector<std::pair<std::function<void(json&)>, std::string>> cases = {
      {[](json& j) { j["qk_norm"] = "layer"; },
       "field qk_norm: must be true or false, or an object"},
      {[](json& j) {
         j["qk_norm"] = {{"type", "group"}, {"per_head", true}, {"bias", true}, {"eps", 1e-5}};
       },
       "field qk_norm.type: must be \"rms\" or \"layer\""},
      {[](json& j) {
         j["qk_norm"] = {{"type", "layer"}, {"bias", true}, {"eps", 1e-5}};
       },
       "field qk_norm.per_head: missing"},
      {[](json& j) {
         j["qk_norm"] = {{"type", "layer"}, {"per_head", 1}, {"bias", true}, {"eps", 1e-5}};
       },
       "field qk_norm.per_head: must be true or false"},
      {[](json& j) {
         j["qk_norm"] = {{"type", "layer"}, {"per_head", true}, {"bias", true}};
       },
       "field qk_norm.eps: missing"},
      {[](json& j) {
         j["qk_norm"] = {{"type", "layer"}, {"per_head", true}, {"bias", true}, {"eps", 0}};
       },
       "field qk_norm.eps: must be finite and in (0, 1)"},
      {[](json& j) {
         j["qk_norm"] = {{"type", "rms"}, {"per_head", true}, {"bias", true}, {"eps", 1e-5}};
       },
       "field qk_norm.bias: true needs type \"layer\""},
      {[](json& j) {
         j["qk_norm"] = {
             {"type", "rms"}, {"per_head", true}, {"bias", false}, {"eps", 1e-5}, {"x", 1}};
       },
       "unknown field \"x\" in qk_norm"},
      {[](json& j) {
         j["suppressed_token_ids"] = {60, 80};
       },
       "field suppressed_token_ids[0]: must be a [begin, end] pair"},
      {[](json& j) {
         j["suppressed_token_ids"] = {{60, 60}};
       },
       "field suppressed_token_ids[0]: [60, 60) is empty"},
      {[](json& j) {
         j["suppressed_token_ids"] = {{60, 101}};
       },
       "field suppressed_token_ids[0]: end 101 is beyond vocab_size=100"},
      {[](json& j) {
         j["suppressed_token_ids"] = {{60, 70}, {65, 80}};
       },
       "field suppressed_token_ids[1]: begins at 65, before the end 70"},
      {[](json& j) {
         j["suppressed_token_ids"] = {{0, 100}};
       },
       "field suppressed_token_ids: suppresses every id"},
      {[](json& j) {
         j["suppressed_token_ids"] = {{-1, 3}};
       },
       "field suppressed_token_ids[0][0]"},
      {[](json& j) { j["suppressed_token_ids"] = "none"; },
       "field suppressed_token_ids: must be an array"},
  };
  for (const auto& [edit, message] : cases) {
    json j = ValidConfig();
    edit(j);
    EXPECT_THAT(ParseMotConfig(j.dump()), StatusIs(kInvalid, HasSubstr(message))) << message;
  }
  // A kind without qk_norm (a config built in code), and every eos suppressed.
  MotConfig c = *ParseMotConfig(ValidConfig().dump());
  c.qk_norm = false;
  c.qk_norm_spec = QkNormSpec{};
  EXPECT_THAT(ValidateMotConfig(c), StatusIs(kInvalid, HasSubstr("field qk_norm: a q/k norm kind "
                                                                 "is set but qk_norm is false")));
  json ids = ValidConfig();
  ids["vocab_ranges"] = {{{"name", "text"}, {"begin", 0}, {"end", 100}, {"modality", "text"}}};
  ids["special_token_ids"] = {{"bos", 1}, {"eos", {2, 3}}, {"pad", nullptr}, {"add_bos", true}};
  ids["suppressed_token_ids"] = {{2, 4}};
  EXPECT_THAT(ParseMotConfig(ids.dump()),
              StatusIs(kInvalid, HasSubstr("field suppressed_token_ids: suppresses every eos id")));
  ids["suppressed_token_ids"] = {{3, 4}};
  EXPECT_THAT(ParseMotConfig(ids.dump()), IsOk());
}

}  // namespace
}  // namespace mot
