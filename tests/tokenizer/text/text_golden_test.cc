// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Compares our ids with the committed reference ids of the Hugging Face `tokenizers`
// library (tests/data/text/goldens.json, written by make_goldens.py) for both
// tokenizer.json files: one the library trained, one our trainer wrote.

#include <string>
#include <vector>

#include "engine/tokenizer/text/text_tokenizer.h"
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

class TextGoldenTest : public ::testing::TestWithParam<std::string> {
 protected:
  static void SetUpTestSuite() {
    goldens_ = new nlohmann::json(nlohmann::json::parse(ReadFile(DataPath("goldens.json"))));
    corpus_ = new std::vector<std::string>(ReadJsonl(DataPath("corpus.jsonl")));
    long_ = new std::vector<std::string>(ReadJsonl(DataPath("long_inputs.jsonl")));
    edge_ = new std::vector<std::string>((*goldens_)["edge_cases"].get<std::vector<std::string>>());
  }

  // Checks every input against the golden rows `key` of this tokenizer.
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

  absl::StatusOr<std::unique_ptr<TextTokenizer>> Load() {
    return TextTokenizer::FromFile(DataPath(GetParam()));
  }

  static nlohmann::json* goldens_;
  static std::vector<std::string>* corpus_;
  static std::vector<std::string>* long_;
  static std::vector<std::string>* edge_;
};

nlohmann::json* TextGoldenTest::goldens_ = nullptr;
std::vector<std::string>* TextGoldenTest::corpus_ = nullptr;
std::vector<std::string>* TextGoldenTest::long_ = nullptr;
std::vector<std::string>* TextGoldenTest::edge_ = nullptr;

TEST_P(TextGoldenTest, CorpusIdsMatchLibrary) {
  auto tok = Load();
  ASSERT_THAT(tok, IsOk());
  Check(**tok, *corpus_, "corpus", {});
}

TEST_P(TextGoldenTest, LongInputIdsMatchLibrary) {
  auto tok = Load();
  ASSERT_THAT(tok, IsOk());
  Check(**tok, *long_, "long", {});
}

TEST_P(TextGoldenTest, EdgeCaseIdsMatchLibrary) {
  auto tok = Load();
  ASSERT_THAT(tok, IsOk());
  Check(**tok, *edge_, "edge", {});
}

TEST_P(TextGoldenTest, EdgeCaseIdsWithoutSpecialParsingMatchLibrary) {
  auto tok = Load();
  ASSERT_THAT(tok, IsOk());
  Check(**tok, *edge_, "edge_no_special", {.parse_special = false});
}

TEST_P(TextGoldenTest, EdgeCaseIdsWithPrefixSpaceMatchLibrary) {
  if (!(*goldens_)["tokenizers"][GetParam()].contains("edge_prefix_space")) {
    GTEST_SKIP() << "no add_prefix_space goldens for " << GetParam();
  }
  nlohmann::json j = nlohmann::json::parse(ReadFile(DataPath(GetParam())));
  j["pre_tokenizer"]["add_prefix_space"] = true;
  auto tok = TextTokenizer::FromJson(j.dump());
  ASSERT_THAT(tok, IsOk());
  Check(**tok, *edge_, "edge_prefix_space", {});
}

TEST_P(TextGoldenTest, SaveThenLoadGivesSameIds) {
  auto tok = Load();
  ASSERT_THAT(tok, IsOk());
  auto again = TextTokenizer::FromJson((*tok)->ToJson());
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ((*again)->vocab_size(), (*tok)->vocab_size());
  Check(**again, *corpus_, "corpus", {});
  Check(**again, *edge_, "edge", {});
}

TEST_P(TextGoldenTest, DecodeOfCorpusIdsGivesInputBytes) {
  auto tok = Load();
  ASSERT_THAT(tok, IsOk());
  for (const auto* set : {corpus_, long_}) {
    for (const std::string& text : *set) {
      auto ids = (*tok)->Encode(text);
      ASSERT_THAT(ids, IsOk());
      auto back = (*tok)->Decode(*ids);
      ASSERT_THAT(back, IsOk());
      EXPECT_EQ(*back, text);
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BothFiles, TextGoldenTest,
                         ::testing::Values("hf_tokenizer.json", "ours_tokenizer.json"),
                         [](const auto& info) {
                           return info.param == "hf_tokenizer.json" ? std::string("Library")
                                                                    : std::string("Ours");
                         });

}  // namespace
}  // namespace mot::tokenizer
