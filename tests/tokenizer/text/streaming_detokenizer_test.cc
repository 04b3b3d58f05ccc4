// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Tests of StreamingDetokenizer and the UTF-8 helpers: only whole characters come out,
// incomplete sequences are held back, provably invalid bytes become U+FFFD at once, and
// the concatenated stream equals the one-shot lossy decode.

#include "engine/tokenizer/text/streaming_detokenizer.h"

#include <random>
#include <string>
#include <vector>

#include "engine/tokenizer/text/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/tokenizer/text/text_test_util.h"

namespace mot::tokenizer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

// Byte tokens only: id = byte value, plus one special token.
std::unique_ptr<TextTokenizer> ByteTokenizer() {
  std::vector<std::pair<std::string, int32_t>> vocab;
  for (int b = 0; b < 256; ++b) vocab.emplace_back(std::string(1, static_cast<char>(b)), b);
  auto tok = TextTokenizer::FromParts(vocab, {}, {AddedToken{.id = 256, .content = "<eos>"}});
  EXPECT_THAT(tok, IsOk());
  return std::move(tok).value();
}

std::vector<int32_t> Bytes(std::string_view s) {
  std::vector<int32_t> ids;
  for (char c : s) ids.push_back(static_cast<uint8_t>(c));
  return ids;
}

TEST(Utf8Test, LossyFollowsMaximalSubpartRule) {
  EXPECT_EQ(Utf8Lossy("abc"), "abc");
  EXPECT_EQ(Utf8Lossy("a\xFF"
                      "b"),
            "a\xEF\xBF\xBD"
            "b");
  // E2 82 is one maximal subpart (one U+FFFD); C0 and AF are each invalid.
  EXPECT_EQ(Utf8Lossy("\xE2\x82"
                      "a"),
            "\xEF\xBF\xBD"
            "a");
  EXPECT_EQ(Utf8Lossy("\xC0\xAF"), "\xEF\xBF\xBD\xEF\xBF\xBD");
  // ED A0: A0 cannot follow ED (surrogate), so ED alone, then A0, then 80.
  EXPECT_EQ(Utf8Lossy("\xED\xA0\x80"), "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  EXPECT_EQ(Utf8Lossy("\xF0\x9F\x98"), "\xEF\xBF\xBD");
  EXPECT_TRUE(IsValidUtf8("h\xC3\xA9llo \xF0\x9F\x98\x80"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));  // above U+10FFFF
}

TEST(StreamingDetokenizerTest, HoldsBackIncompleteCharacters) {
  auto tok = ByteTokenizer();
  StreamingDetokenizer d(tok.get());
  const std::string euro = "\xE2\x82\xAC";
  EXPECT_EQ(*d.Push(static_cast<uint8_t>(euro[0])), "");
  EXPECT_EQ(d.pending_bytes(), 1u);
  EXPECT_EQ(*d.Push(static_cast<uint8_t>(euro[1])), "");
  EXPECT_EQ(*d.Push(static_cast<uint8_t>(euro[2])), euro);
  EXPECT_EQ(d.pending_bytes(), 0u);
  EXPECT_EQ(*d.Push('x'), "x");
  EXPECT_EQ(d.Flush(), "");
}

TEST(StreamingDetokenizerTest, ProvablyInvalidBytesComeOutAtOnce) {
  auto tok = ByteTokenizer();
  StreamingDetokenizer d(tok.get());
  EXPECT_EQ(*d.Push(0xFF), kReplacementChar);                    // can never start a character
  EXPECT_EQ(*d.Push(0xE2), "");                                  // may still become a character
  EXPECT_EQ(*d.Push('a'), std::string(kReplacementChar) + "a");  // now it cannot
  EXPECT_EQ(*d.Push(0xF0), "");
  EXPECT_EQ(*d.Push(0x9F), "");
  EXPECT_EQ(d.Flush(), kReplacementChar);  // truncated at the end
  EXPECT_EQ(d.pending_bytes(), 0u);
}

TEST(StreamingDetokenizerTest, AddedTokensAndSkipSpecial) {
  auto tok = ByteTokenizer();
  StreamingDetokenizer keep(tok.get());
  StreamingDetokenizer skip(tok.get(), {.skip_special = true});
  EXPECT_EQ(*keep.Push(256), "<eos>");
  EXPECT_EQ(*skip.Push(256), "");
}

TEST(StreamingDetokenizerTest, UnknownIdIsAnErrorAndKeepsState) {
  auto tok = ByteTokenizer();
  StreamingDetokenizer d(tok.get());
  EXPECT_EQ(*d.Push(0xC3), "");
  EXPECT_THAT(d.Push(5000), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("5000")));
  EXPECT_EQ(*d.Push(0xA9), "\xC3\xA9");
}

TEST(StreamingDetokenizerTest, StreamEqualsLossyDecodeForRandomBytes) {
  auto tok = ByteTokenizer();
  std::mt19937 rng(7);
  for (int n = 0; n < 300; ++n) {
    std::string bytes(rng() % 64, '\0');
    for (char& c : bytes) {
      // Bias towards UTF-8 lead and continuation bytes so sequences form and break.
      const uint32_t r = rng() % 4;
      c = static_cast<char>(r == 0   ? rng() % 128
                            : r == 1 ? 0x80 + rng() % 64
                            : r == 2 ? 0xC0 + rng() % 64
                                     : rng() % 256);
    }
    StreamingDetokenizer d(tok.get());
    std::string streamed;
    for (int32_t id : Bytes(bytes)) {
      auto piece = d.Push(id);
      ASSERT_THAT(piece, IsOk());
      ASSERT_TRUE(IsValidUtf8(*piece));
      streamed += *piece;
    }
    streamed += d.Flush();
    ASSERT_EQ(streamed, Utf8Lossy(bytes));
  }
}

TEST(StreamingDetokenizerTest, RealTokenizerStreamsCorpusTextExactly) {
  auto tok = TextTokenizer::FromFile(testing::DataPath("hf_tokenizer.json"));
  ASSERT_THAT(tok, IsOk());
  for (const std::string& text : testing::ReadJsonl(testing::DataPath("corpus.jsonl"))) {
    auto ids = (*tok)->Encode(text);
    ASSERT_THAT(ids, IsOk());
    StreamingDetokenizer d(tok->get());
    std::string streamed;
    for (int32_t id : *ids) {
      auto piece = d.Push(id);
      ASSERT_THAT(piece, IsOk());
      ASSERT_TRUE(IsValidUtf8(*piece));
      streamed += *piece;
    }
    streamed += d.Flush();
    EXPECT_EQ(streamed, text);
  }
}

}  // namespace
}  // namespace mot::tokenizer
