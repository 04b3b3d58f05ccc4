// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Tests of TrainByteLevelBpe: id layout, the merge order and its tie rule, determinism,
// the vocabulary size bound, and that the saved file loads back with the same ids.

#include "engine/tokenizer/text/bpe_trainer.h"

#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"
#include "tests/tokenizer/text/text_test_util.h"

namespace mot::tokenizer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

const std::vector<std::string> kSpecials = {"<pad>", "<bos>", "<eos>", "<boi>",
                                            "<eoi>", "<boa>", "<eoa>"};

TEST(BpeTrainerTest, IdLayoutIsSpecialsThenBytesThenMerges) {
  const std::vector<std::string> corpus = {"aaab aaab aaab"};
  auto tok = TrainByteLevelBpe(corpus, {.vocab_size = 7 + 256 + 2, .special_tokens = kSpecials});
  ASSERT_THAT(tok, IsOk());
  const TextTokenizer& t = **tok;
  EXPECT_EQ(t.vocab_size(), 7 + 256 + 2);
  EXPECT_EQ(t.TokenToId("<pad>"), std::optional<int32_t>(0));
  EXPECT_EQ(t.TokenToId("<eoa>"), std::optional<int32_t>(6));
  EXPECT_EQ(t.TokenToId("a"), std::optional<int32_t>(7 + 'a'));
  // Words: "aaab" x1, " aaab" x2. Pair counts: (a,a) 6, (a,b) 3, (" ",a) 2. First merge
  // "aa" (id 263); then (aa,a) and (a,b) both count 3: the tie goes to the smaller pair of
  // ids, (104, 105) before (263, 104), so "ab" (id 264) is next.
  ASSERT_EQ(t.model().merges().size(), 2u);
  EXPECT_EQ(t.model().merges()[0], std::make_pair(7 + 'a', 7 + 'a'));
  EXPECT_EQ(t.model().merges()[1], std::make_pair(7 + 'a', 7 + 'b'));
  EXPECT_THAT(*t.Encode("aaab"), ElementsAre(263, 264));
}

TEST(BpeTrainerTest, SpecialTokensAreNotCountedAsText) {
  const std::vector<std::string> corpus = {"<bos>xy<eos>", "<bos>xy<eos>", "<bos>xy<eos>"};
  auto tok = TrainByteLevelBpe(corpus, {.vocab_size = 300, .special_tokens = kSpecials});
  ASSERT_THAT(tok, IsOk());
  // Only "xy" is a word; "<b", "os" etc. never become merges.
  ASSERT_EQ((*tok)->model().merges().size(), 1u);
  EXPECT_THAT(*(*tok)->Encode("<bos>xy"), ElementsAre(1, 263));
}

TEST(BpeTrainerTest, IsDeterministicAndSaveLoadKeepsIds) {
  const auto corpus = testing::ReadJsonl(testing::DataPath("corpus.jsonl"));
  const BpeTrainerOptions options{.vocab_size = 1000, .special_tokens = kSpecials};
  auto a = TrainByteLevelBpe(corpus, options);
  auto b = TrainByteLevelBpe(corpus, options);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ((*a)->ToJson(), (*b)->ToJson());
  EXPECT_EQ((*a)->vocab_size(), 1000);
  const std::string path =
      ::testing::TempDir() + "/trained_tokenizer_" + std::to_string(getpid()) + ".json";
  ASSERT_THAT((*a)->Save(path), IsOk());
  auto loaded = TextTokenizer::FromFile(path);
  std::remove(path.c_str());
  ASSERT_THAT(loaded, IsOk());
  for (const std::string& text : corpus) {
    auto x = (*a)->Encode(text);
    auto y = (*loaded)->Encode(text);
    ASSERT_THAT(x, IsOk());
    ASSERT_THAT(y, IsOk());
    ASSERT_EQ(*x, *y);
    EXPECT_EQ(*(*loaded)->Decode(*y), text);
  }
  // The file has the library's layout: ByteLevel pre-tokenizer and decoder, pairs as merges.
  const auto j = nlohmann::json::parse((*a)->ToJson());
  EXPECT_EQ(j["pre_tokenizer"]["type"], "ByteLevel");
  EXPECT_EQ(j["decoder"]["type"], "ByteLevel");
  EXPECT_EQ(j["model"]["type"], "BPE");
  EXPECT_TRUE(j["model"]["merges"][0].is_array());
  EXPECT_EQ(j["added_tokens"].size(), 7u);
}

TEST(BpeTrainerTest, StopsWhenNoPairIsFrequentEnough) {
  const std::vector<std::string> corpus = {"ab cd"};
  auto tok =
      TrainByteLevelBpe(corpus, {.vocab_size = 1000, .special_tokens = {}, .min_frequency = 2});
  ASSERT_THAT(tok, IsOk());
  EXPECT_EQ((*tok)->model().merges().size(), 0u);
  EXPECT_EQ((*tok)->vocab_size(), 256);
}

TEST(BpeTrainerTest, BadOptionsAreRefused) {
  const std::vector<std::string> corpus = {"x"};
  EXPECT_THAT(TrainByteLevelBpe(corpus, {.vocab_size = 100, .special_tokens = {}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("vocab_size=100")));
  EXPECT_THAT(TrainByteLevelBpe(corpus, {.vocab_size = 300, .special_tokens = {"<a>", "<a>"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("special_tokens[1]")));
  EXPECT_THAT(TrainByteLevelBpe(corpus, {.vocab_size = 300, .special_tokens = {""}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("special_tokens[0]")));
}

}  // namespace
}  // namespace mot::tokenizer
