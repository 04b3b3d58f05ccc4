// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Oracle test: re-runs the Hugging Face `tokenizers` library live (make_goldens.py --emit,
// with MOT_PYTHON) on the committed tokenizer files and inputs, and compares its ids with
// ours, so CI re-checks the goldens wherever the library is installed. Skips, saying why,
// when MOT_PYTHON cannot import `tokenizers`.

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "engine/tokenizer/text/text_tokenizer.h"
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

TEST(TextOracleTest, OurIdsEqualTheLibrarysLiveIds) {
  const std::string python = MOT_PYTHON;
  const std::string probe = "'" + python + "' -c 'import tokenizers' > /dev/null 2>&1";
  if (std::system(probe.c_str()) != 0) {
    GTEST_SKIP() << "MOT_PYTHON=" << python
                 << " cannot import the `tokenizers` library; the committed goldens are still "
                    "checked by text_golden_test";
  }
  const std::string out =
      ::testing::TempDir() + "/text_oracle_ids_" + std::to_string(getpid()) + ".json";
  const std::string cmd = "'" + python + "' '" + std::string(MOT_SOURCE_DIR) +
                          "/tests/tokenizer/text/make_goldens.py' --emit '" + out + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const nlohmann::json live = nlohmann::json::parse(ReadFile(out));
  std::remove(out.c_str());
  std::cout << "oracle: " << live["library"].get<std::string>() << "\n";

  const std::vector<std::string> corpus = ReadJsonl(DataPath("corpus.jsonl"));
  const std::vector<std::string> long_inputs = ReadJsonl(DataPath("long_inputs.jsonl"));
  const auto edge = live["edge_cases"].get<std::vector<std::string>>();
  for (const std::string name : {"hf_tokenizer.json", "ours_tokenizer.json"}) {
    auto tok = TextTokenizer::FromFile(DataPath(name));
    ASSERT_THAT(tok, IsOk());
    nlohmann::json j = nlohmann::json::parse(ReadFile(DataPath(name)));
    j["pre_tokenizer"]["add_prefix_space"] = true;
    auto prefixed = TextTokenizer::FromJson(j.dump());
    ASSERT_THAT(prefixed, IsOk());
    struct Set {
      const char* key;
      const std::vector<std::string>* inputs;
      const TextTokenizer* tok;
      EncodeOptions options;
    };
    const Set sets[] = {{"corpus", &corpus, tok->get(), {}},
                        {"long", &long_inputs, tok->get(), {}},
                        {"edge", &edge, tok->get(), {}},
                        {"edge_no_special", &edge, tok->get(), {.parse_special = false}},
                        {"edge_prefix_space", &edge, prefixed->get(), {}}};
    size_t compared = 0;
    for (const Set& s : sets) {
      const auto& rows = live["tokenizers"][name][s.key];
      ASSERT_EQ(rows.size(), s.inputs->size()) << name << " " << s.key;
      for (size_t i = 0; i < rows.size(); ++i) {
        auto ids = s.tok->Encode((*s.inputs)[i], s.options);
        ASSERT_THAT(ids, IsOk());
        const std::string diff = FirstDifference(*ids, rows[i].get<std::vector<int32_t>>());
        EXPECT_EQ(diff, "") << name << " " << s.key << "[" << i << "]";
        ++compared;
      }
    }
    std::cout << name << ": " << compared << " inputs compared with the live library\n";
  }
}

// The same for the real-model configurations (make_config_goldens.py; see
// text_config_golden_test.cc).
TEST(TextOracleTest, ConfigurationIdsEqualTheLibrarysLiveIds) {
  const std::string python = MOT_PYTHON;
  const std::string probe = "'" + python + "' -c 'import tokenizers' > /dev/null 2>&1";
  if (std::system(probe.c_str()) != 0) {
    GTEST_SKIP() << "MOT_PYTHON=" << python
                 << " cannot import the `tokenizers` library; the committed goldens are still "
                    "checked by text_config_golden_test";
  }
  const std::string out =
      ::testing::TempDir() + "/text_config_oracle_ids_" + std::to_string(getpid()) + ".json";
  const std::string cmd = "'" + python + "' '" + std::string(MOT_SOURCE_DIR) +
                          "/tests/tokenizer/text/make_config_goldens.py' --emit '" + out + "'";
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
  const nlohmann::json live = nlohmann::json::parse(ReadFile(out));
  std::remove(out.c_str());
  std::cout << "oracle: " << live["library"].get<std::string>() << "\n";
  const std::vector<std::string> corpus = ReadJsonl(DataPath("corpus.jsonl"));
  const std::vector<std::string> long_inputs = ReadJsonl(DataPath("long_inputs.jsonl"));
  const auto edge = live["edge_cases"].get<std::vector<std::string>>();
  ASSERT_FALSE(live["tokenizers"].empty());
  for (const auto& [name, sets] : live["tokenizers"].items()) {
    auto tok = TextTokenizer::FromFile(DataPath("configs/" + name + ".json"));
    ASSERT_THAT(tok, IsOk());
    struct Set {
      const char* key;
      const std::vector<std::string>* inputs;
      EncodeOptions options;
    };
    const Set checks[] = {{"corpus", &corpus, {}},
                          {"long", &long_inputs, {}},
                          {"edge", &edge, {}},
                          {"edge_with_specials", &edge, {.add_special_tokens = true}}};
    size_t compared = 0;
    for (const Set& s : checks) {
      const auto& rows = sets[s.key];
      ASSERT_EQ(rows.size(), s.inputs->size()) << name << " " << s.key;
      for (size_t i = 0; i < rows.size(); ++i) {
        auto ids = (*tok)->Encode((*s.inputs)[i], s.options);
        ASSERT_THAT(ids, IsOk());
        const std::string diff = FirstDifference(*ids, rows[i].get<std::vector<int32_t>>());
        EXPECT_EQ(diff, "") << name << " " << s.key << "[" << i << "]";
        ++compared;
      }
    }
    std::cout << name << ": " << compared << " inputs compared with the live library\n";
  }
}

}  // namespace
}  // namespace mot::tokenizer
