// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Compares our ids with the committed reference ids of the Hugging Face `tokenizers`
// library (tests/data/text/configs/goldens.json, written by make_config_goldens.py) for
// tokenizer.json files in the configurations real models use: Llama-3's Split pattern with
// ignore_merges, string merges and a BOS template; Qwen2's pattern with NFC; vocabularies
// without every byte, with and without unk_token; SentencePiece-style files as Llama-2's
// (Prepend/Replace normalizer, byte fallback) and Mistral's (Metaspace). Ids and decoded
// text. text_oracle_test re-checks the ids live.

#include <string>
#include <vector>

#include "engine/tokenizer/text/text_tokenizer.h"
#include "engine/tokenizer/text/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"
#include "tests/tokenizer/text/text_test_util.h"

namespace mot::tokenizer {
namespace {

using ::mot::testing::IsOk;
using ::mot::tokenizer::testing::DataPath;
using ::mot::tokenizer::testing::FirstDifference;
using ::mot::tokenizer::testing::ReadFile;
using ::mot::tokenizer::testing::ReadJsonl;

class TextConfigGoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    goldens_ =
        new nlohmann::json(nlohmann::json::parse(ReadFile(DataPath("configs/goldens.json"))));
    corpus_ = new std::vector<std::string>(ReadJsonl(DataPath("corpus.jsonl")));
    long_ = new std::vector<std::string>(ReadJsonl(DataPath("long_inputs.jsonl")));
    edge_ = new std::vector<std::string>((*goldens_)["edge_cases"].get<std::vector<std::string>>());
  }

  std::unique_ptr<TextTokenizer> Load() {
    auto tok = TextTokenizer::FromFile(DataPath("configs/" + GetParam() + ".json"));
    EXPECT_THAT(tok, IsOk());
    return tok.ok() ? *std::move(tok) : nullptr;
  }

  void Check(const TextTokenizer& tok, const std::vector<std::string>& inputs,
             const std::string& key, const EncodeOptions& options) {
    const auto& rows = (*goldens_)["tokenizers"][GetParam()][key];
    ASSERT_EQ(rows.size(), inputs.size()) << key;
    int failures = 0;
    for (size_t i = 0; i < inputs.size() && failures < 10; ++i) {
      auto ids = tok.Encode(inputs[i], options);
      ASSERT_THAT(ids, IsOk());
      const std::string diff = FirstDifference(*ids, rows[i].get<std::vector<int32_t>>());
      if (!diff.empty()) {
        ++failures;
        ADD_FAILURE() << GetParam() << " " << key << "[" << i << "] "
                      << nlohmann::json(inputs[i]).dump().substr(0, 200) << ": " << diff;
      }
    }
  }

  static nlohmann::json* goldens_;
  static std::vector<std::string>* corpus_;
  static std::vector<std::string>* long_;
  static std::vector<std::string>* edge_;
};

nlohmann::json* TextConfigGoldenTest::goldens_ = nullptr;
std::vector<std::string>* TextConfigGoldenTest::corpus_ = nullptr;
std::vector<std::string>* TextConfigGoldenTest::long_ = nullptr;
std::vector<std::string>* TextConfigGoldenTest::edge_ = nullptr;

TEST_P(TextConfigGoldenTest, CorpusAndLongInputIdsMatchLibrary) {
  auto tok = Load();
  ASSERT_NE(tok, nullptr);
  Check(*tok, *corpus_, "corpus", {});
  Check(*tok, *long_, "long", {});
}

TEST_P(TextConfigGoldenTest, EdgeCaseIdsMatchLibrary) {
  auto tok = Load();
  ASSERT_NE(tok, nullptr);
  Check(*tok, *edge_, "edge", {});
}

TEST_P(TextConfigGoldenTest, EdgeCaseIdsWithTheTemplatesSpecialTokensMatchLibrary) {
  auto tok = Load();
  ASSERT_NE(tok, nullptr);
  Check(*tok, *edge_, "edge_with_specials", {.add_special_tokens = true});
}

// Decode of the ids with the post-processor's special tokens, keeping and skipping them: the
// library's decoder (ByteLevel; or Replace/ByteFallback/Fuse/Strip, Metaspace).
TEST_P(TextConfigGoldenTest, DecodeOfEdgeCaseIdsMatchesLibrary) {
  auto tok = Load();
  ASSERT_NE(tok, nullptr);
  const auto& sets = (*goldens_)["tokenizers"][GetParam()];
  const auto& rows = sets["edge_with_specials"];
  int failures = 0;
  for (size_t i = 0; i < rows.size() && failures < 10; ++i) {
    const std::vector<int32_t> ids = rows[i].get<std::vector<int32_t>>();
    for (const bool skip : {false, true}) {
      auto text = tok->Decode(ids, {.skip_special = skip});
      ASSERT_THAT(text, IsOk());
      const std::string want =
          sets[skip ? "edge_decoded_skip" : "edge_decoded"][i].get<std::string>();
      // Decode gives bytes (a dropped byte can leave a partial character); the library's
      // text replaces ill-formed bytes with U+FFFD as from_utf8_lossy does, like Utf8Lossy.
      if (Utf8Lossy(*text) != want) {
        ++failures;
        ADD_FAILURE() << GetParam() << " edge[" << i << "] skip_special=" << skip << ": got "
                      << nlohmann::json(Utf8Lossy(*text)).dump() << ", want "
                      << nlohmann::json(want).dump();
      }
    }
  }
}

TEST_P(TextConfigGoldenTest, SaveThenLoadGivesSameIds) {
  auto tok = Load();
  ASSERT_NE(tok, nullptr);
  auto again = TextTokenizer::FromJson(tok->ToJson());
  ASSERT_THAT(again, IsOk());
  Check(**again, *edge_, "edge", {});
  Check(**again, *edge_, "edge_with_specials", {.add_special_tokens = true});
}

INSTANTIATE_TEST_SUITE_P(Configs, TextConfigGoldenTest,
                         ::testing::Values("llama3_style", "qwen2_style", "partial_bytes",
                                           "partial_bytes_unk", "llama2_style", "mistral_style"));

}  // namespace
}  // namespace mot::tokenizer
