// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Unit tests of TextTokenizer (and the BpeModel / ByteLevelSplitter it is made of): merge
// order, the split rules, added-token flags, exact round trips of arbitrary bytes, limits,
// and errors for malformed tokenizer.json that name the JSON path.

#include "engine/tokenizer/text/text_tokenizer.h"

#include <random>
#include <string>
#include <vector>

#include "engine/tokenizer/text/internal/byte_level.h"
#include "engine/tokenizer/text/utf8.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"
#include "tests/tokenizer/text/text_test_util.h"

namespace mot::tokenizer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::mot::tokenizer::testing::DataPath;
using ::mot::tokenizer::testing::ReadFile;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

// 256 byte tokens (id = byte value) plus the merges given, in rank order; merged tokens get
// ids from 256 on.
std::unique_ptr<TextTokenizer> MakeTiny(
    const std::vector<std::pair<std::string, std::string>>& merges,
    std::vector<AddedToken> added = {}) {
  std::vector<std::pair<std::string, int32_t>> vocab;
  for (int b = 0; b < 256; ++b) vocab.emplace_back(std::string(1, static_cast<char>(b)), b);
  int32_t next = 256;
  for (const auto& [a, b] : merges) {
    bool exists = false;
    for (const auto& v : vocab) exists |= v.first == a + b;
    if (!exists) vocab.emplace_back(a + b, next++);
  }
  auto tok = TextTokenizer::FromParts(vocab, merges, std::move(added));
  EXPECT_THAT(tok, IsOk());
  return std::move(tok).value();
}

std::vector<std::string> Pieces(std::string_view text) {
  ByteLevelSplitter splitter;
  std::vector<std::string_view> pieces;
  splitter.Split(text, &pieces);
  return {pieces.begin(), pieces.end()};
}

nlohmann::json LibraryJson() {
  return nlohmann::json::parse(ReadFile(DataPath("hf_tokenizer.json")));
}

absl::Status LoadStatus(const nlohmann::json& j) {
  return TextTokenizer::FromJson(j.dump()).status();
}

TEST(ByteLevelTest, AlphabetIsABijectionOnAllBytes) {
  for (int b = 0; b < 256; ++b) {
    const char32_t cp = ByteToCodePoint(static_cast<uint8_t>(b));
    ASSERT_EQ(CodePointToByte(cp), std::optional<uint8_t>(b));
  }
  EXPECT_EQ(ByteToCodePoint(' '), U'\u0120');   // "Ġ"
  EXPECT_EQ(ByteToCodePoint('\n'), U'\u010A');  // "Ċ"
  EXPECT_EQ(ByteToCodePoint('A'), U'A');
  EXPECT_EQ(CodePointToByte(U'\u0200'), std::nullopt);
  EXPECT_EQ(BytesToByteLevel(" the"), "\xC4\xA0the");
  EXPECT_EQ(ByteLevelToBytes("\xC4\xA0the"), std::optional<std::string>(" the"));
}

TEST(ByteLevelSplitterTest, FollowsTheGpt2Pattern) {
  EXPECT_THAT(Pieces("Hello world"), ElementsAre("Hello", " world"));
  EXPECT_THAT(Pieces("it's we'll"), ElementsAre("it", "'s", " we", "'ll"));
  EXPECT_THAT(Pieces("abc123 45"), ElementsAre("abc", "123", " 45"));
  EXPECT_THAT(Pieces("hi!!  ?"), ElementsAre("hi", "!!", " ", " ?"));
}

TEST(ByteLevelSplitterTest, WhitespaceRunLeavesItsLastCharacterToTheNextPiece) {
  // `\s+(?!\S)`: the run minus its last character, then " x" or the lone last character.
  EXPECT_THAT(Pieces("a   b"), ElementsAre("a", "  ", " b"));
  EXPECT_THAT(Pieces("a  \nb"), ElementsAre("a", "  ", "\n", "b"));
  EXPECT_THAT(Pieces("a \xC2\xA0"
                     "b"),
              ElementsAre("a", " ", "\xC2\xA0", "b"));
  EXPECT_THAT(Pieces("x   "), ElementsAre("x", "   "));  // at the end: the whole run
  EXPECT_THAT(Pieces("\n\nx"), ElementsAre("\n", "\n", "x"));
}

TEST(ByteLevelSplitterTest, InvalidUtf8RunsArePiecesOfTheirOwn) {
  EXPECT_THAT(Pieces("ab\xFF\xFE cd"), ElementsAre("ab", "\xFF\xFE", " cd"));
  EXPECT_THAT(Pieces(" \x80"), ElementsAre(" ", "\x80"));
  // A truncated 3-byte sequence then a valid letter.
  EXPECT_THAT(Pieces("\xE2\x82z"), ElementsAre("\xE2\x82", "z"));
  // Surrogates and overlong forms are ill-formed.
  EXPECT_THAT(Pieces("a\xED\xA0\x80"
                     "b"),
              ElementsAre("a", "\xED\xA0\x80", "b"));
  EXPECT_THAT(Pieces("\xC0\xAF"), ElementsAre("\xC0\xAF"));
}

TEST(BpeModelTest, MergesByRankThenLeftmost) {
  // Ranks: "b c" before "a b": "abc" -> a, bc. Equal pairs merge leftmost first: "aaa" with
  // "a a" -> aa, a.
  auto tok = MakeTiny({{"b", "c"}, {"a", "b"}, {"a", "a"}});
  auto ids = tok->Encode("abc");
  ASSERT_THAT(ids, IsOk());
  EXPECT_THAT(*ids, ElementsAre('a', 256));
  ids = tok->Encode("aaa");
  ASSERT_THAT(ids, IsOk());
  EXPECT_THAT(*ids, ElementsAre(258, 'a'));
  ids = tok->Encode("ab");
  ASSERT_THAT(ids, IsOk());
  EXPECT_THAT(*ids, ElementsAre(257));
}

TEST(BpeModelTest, LongWordMergesCompletelyAndCacheGivesSameIds) {
  auto tok = MakeTiny({{"a", "a"}, {"aa", "aa"}, {"aaaa", "aaaa"}});
  const std::string word(100001, 'a');  // 12500 x "aaaaaaaa" + "a"
  auto ids = tok->Encode(word);
  ASSERT_THAT(ids, IsOk());
  ASSERT_EQ(ids->size(), 12501u);
  EXPECT_EQ(ids->front(), 258);
  EXPECT_EQ(ids->back(), 'a');
  // Short words go through the cache; the second call must give the same ids.
  auto first = tok->Encode("aaaaa aaaaa");
  auto second = tok->Encode("aaaaa aaaaa");
  ASSERT_THAT(first, IsOk());
  ASSERT_THAT(second, IsOk());
  EXPECT_EQ(*first, *second);
}

TEST(BpeModelTest, IgnoreMergesEmitsWholeVocabWords) {
  // "abc" is a token but no merge chain reaches it; with ignore_merges it is used whole.
  nlohmann::json j = nlohmann::json::parse(MakeTiny({{"a", "b"}})->ToJson());
  j["model"]["vocab"]["abc"] = 300;
  auto plain = TextTokenizer::FromJson(j.dump());
  ASSERT_THAT(plain, IsOk());
  EXPECT_THAT(*(*plain)->Encode("abc"), ElementsAre(256, 'c'));
  j["model"]["ignore_merges"] = true;
  auto ignoring = TextTokenizer::FromJson(j.dump());
  ASSERT_THAT(ignoring, IsOk());
  EXPECT_THAT(*(*ignoring)->Encode("abc"), ElementsAre(300));
}

TEST(TextTokenizerTest, MergesAcceptBothSpellings) {
  nlohmann::json j = nlohmann::json::parse(MakeTiny({{"a", "b"}, {"ab", "c"}})->ToJson());
  ASSERT_TRUE(j["model"]["merges"][0].is_array());
  auto pairs = TextTokenizer::FromJson(j.dump());
  j["model"]["merges"] = {"a b", "ab c"};
  auto strings = TextTokenizer::FromJson(j.dump());
  ASSERT_THAT(pairs, IsOk());
  ASSERT_THAT(strings, IsOk());
  EXPECT_THAT(*(*pairs)->Encode("abc"), ElementsAre(257));
  EXPECT_THAT(*(*strings)->Encode("abc"), ElementsAre(257));
}

// model.vocab and model.merges are taken out of the document as it is parsed (to keep the
// load's peak memory down): the result must be what the document said, element by element.
TEST(TextTokenizerTest, VocabAndMergesParsedOutsideTheDocumentKeepTheirMeaning) {
  nlohmann::json j = nlohmann::json::parse(MakeTiny({{"a", "b"}, {"ab", "c"}})->ToJson());
  // Both merge spellings in one list.
  j["model"]["merges"] = nlohmann::json::array({"a b", nlohmann::json::array({"ab", "c"})});
  auto mixed = TextTokenizer::FromJson(j.dump());
  ASSERT_THAT(mixed, IsOk());
  EXPECT_THAT(*(*mixed)->Encode("abc"), ElementsAre(257));

  // A vocabulary key written twice: the last entry wins, as in a parsed document.
  std::string text = j.dump();
  const std::string entry = "\"abc\":257";
  const size_t at = text.find(entry);
  ASSERT_NE(at, std::string::npos) << text;
  text.insert(at, "\"abc\":999,");
  auto twice = TextTokenizer::FromJson(text);
  ASSERT_THAT(twice, IsOk());
  EXPECT_THAT(*(*twice)->Encode("abc"), ElementsAre(257));

  // Bad elements are still named by their index and key.
  j["model"]["merges"] = nlohmann::json::array({"a b", 7});
  EXPECT_THAT(TextTokenizer::FromJson(j.dump()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.merges[1]")));
  j["model"]["merges"] = nlohmann::json::array({"a b", nlohmann::json::array({"ab", "c", "d"})});
  EXPECT_THAT(TextTokenizer::FromJson(j.dump()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.merges[1]")));
  j["model"]["merges"] = {{"x", "y"}};
  EXPECT_THAT(TextTokenizer::FromJson(j.dump()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.merges")));
  j = nlohmann::json::parse(MakeTiny({{"a", "b"}})->ToJson());
  j["model"]["vocab"]["ab"] = "x";
  EXPECT_THAT(TextTokenizer::FromJson(j.dump()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.vocab[\"ab\"]")));
  j["model"]["vocab"] = nlohmann::json::array({1, 2});
  EXPECT_THAT(TextTokenizer::FromJson(j.dump()),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.vocab")));
}

TEST(TextTokenizerTest, SequenceOfOneByteLevelIsAccepted) {
  nlohmann::json j = LibraryJson();
  const nlohmann::json bl = j["pre_tokenizer"];
  j["pre_tokenizer"] = {{"type", "Sequence"}, {"pretokenizers", {bl}}};
  auto seq = TextTokenizer::FromJson(j.dump());
  auto plain = TextTokenizer::FromFile(DataPath("hf_tokenizer.json"));
  ASSERT_THAT(seq, IsOk());
  ASSERT_THAT(plain, IsOk());
  EXPECT_EQ(*(*seq)->Encode("Hello  world, it's 2026!"),
            *(*plain)->Encode("Hello  world, it's 2026!"));
}

TEST(TextTokenizerTest, RoundTripsRandomBytesAndInvalidUtf8) {
  auto tok = TextTokenizer::FromFile(DataPath("hf_tokenizer.json"));
  ASSERT_THAT(tok, IsOk());
  std::vector<std::string> inputs = {"",
                                     "\xFF",
                                     "\x80\x80\x80",
                                     "a\xC3",
                                     "\xE2\x82\xAC\xE2\x82",
                                     "\xF0\x9F\x98",
                                     "\xED\xA0\x80",
                                     "\xC0\x80",
                                     "\xF4\x90\x80\x80",
                                     std::string("nul\0byte", 8),
                                     "ok \xFF\xFE\xFD ok",
                                     "<bos>\xFF<eos>",
                                     "  \xA0\xA0  "};
  std::mt19937 rng(1234);
  for (int n = 0; n < 200; ++n) {
    std::string s(rng() % 300, '\0');
    for (char& c : s) c = static_cast<char>(rng() % 256);
    inputs.push_back(s);
    // Mostly ASCII with a few high bytes: exercises the splitter more than pure noise.
    for (char& c : s)
      c = (rng() % 8 == 0) ? static_cast<char>(0x80 + rng() % 128) : " a1'.\n\t"[rng() % 8];
    inputs.push_back(s);
  }
  for (const std::string& text : inputs) {
    auto ids = (*tok)->Encode(text);
    ASSERT_THAT(ids, IsOk());
    auto back = (*tok)->Decode(*ids);
    ASSERT_THAT(back, IsOk());
    ASSERT_EQ(*back, text) << nlohmann::json(Utf8Lossy(text)).dump();
  }
}

TEST(TextTokenizerTest, SpecialTokensAreParsedOrNotOnRequest) {
  auto tok = TextTokenizer::FromFile(DataPath("ours_tokenizer.json"));
  ASSERT_THAT(tok, IsOk());
  const TextTokenizer& t = **tok;
  ASSERT_EQ(t.TokenToId("<boi>"), std::optional<int32_t>(3));
  ASSERT_EQ(t.TokenToId("<bos>"), std::optional<int32_t>(1));
  auto with = t.Encode("<bos>hi<boi>");
  ASSERT_THAT(with, IsOk());
  EXPECT_EQ(with->front(), 1);
  EXPECT_EQ(with->back(), 3);
  auto without = t.Encode("<bos>hi<boi>", {.parse_special = false});
  ASSERT_THAT(without, IsOk());
  for (int32_t id : *without) EXPECT_FALSE(t.IsSpecial(id));
  EXPECT_EQ(*t.Decode(*without), "<bos>hi<boi>");
  EXPECT_EQ(*t.Decode(*with), "<bos>hi<boi>");
  EXPECT_EQ(*t.Decode(*with, {.skip_special = true}), "hi");
  EXPECT_EQ(t.vocab_size(), 3000);
  EXPECT_EQ(t.IdToToken(1), std::optional<std::string>("<bos>"));
  EXPECT_EQ(t.TokenToId("not a token"), std::nullopt);
}

TEST(TextTokenizerTest, AddedTokenFlagsFollowTheLibrary) {
  AddedToken mask{.id = 300, .content = "[M]", .single_word = true, .lstrip = true};
  AddedToken tool{.id = 301, .content = "<t>", .normalized = true, .special = false};
  AddedToken rs{.id = 302, .content = "<r>", .rstrip = true};
  auto tok = MakeTiny({}, {mask, tool, rs});
  // lstrip absorbs the spaces before; single_word refuses a match inside a word.
  EXPECT_THAT(*tok->Encode("a  [M]"), ElementsAre('a', 300));
  EXPECT_THAT(*tok->Encode("a[M]"), ElementsAre('a', '[', 'M', ']'));
  EXPECT_THAT(*tok->Encode("<r>  b"), ElementsAre(302, 'b'));
  // Non-special tokens are matched even when special tokens are not parsed.
  EXPECT_THAT(*tok->Encode("<t><r>", {.parse_special = false}), ElementsAre(301, '<', 'r', '>'));
}

TEST(TextTokenizerTest, LongestAddedTokenWinsAtTheLeftmostPosition) {
  // The same inputs through the library (tokenizers 0.23.3, these five tokens added as
  // special) give: <a>b <a> c <  |  ab c d  |  x bcd ab  |  < <a>.
  std::vector<AddedToken> added;
  int32_t id = 300;
  for (const char* c : {"<a>", "<a>b", "ab", "bcd", "<"}) {
    added.push_back(AddedToken{.id = id++, .content = c});
  }
  auto tok = MakeTiny({}, added);
  EXPECT_THAT(*tok->Encode("<a>b<a>c<"), ElementsAre(301, 300, 'c', 304));
  EXPECT_THAT(*tok->Encode("abcd"), ElementsAre(302, 'c', 'd'));
  EXPECT_THAT(*tok->Encode("xbcdab"), ElementsAre('x', 303, 302));
  EXPECT_THAT(*tok->Encode("<<a>"), ElementsAre(304, 300));
}

TEST(TextTokenizerTest, InputOverLimitIsRefusedNamingTheLimit) {
  std::vector<std::pair<std::string, int32_t>> vocab;
  for (int b = 0; b < 256; ++b) vocab.emplace_back(std::string(1, static_cast<char>(b)), b);
  auto tok = TextTokenizer::FromParts(vocab, {}, {}, false, {.max_input_bytes = 16});
  ASSERT_THAT(tok, IsOk());
  EXPECT_THAT((*tok)->Encode(std::string(16, 'x')), IsOk());
  EXPECT_THAT((*tok)->Encode(std::string(17, 'x')),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_input_bytes=16")));
  auto big = TextTokenizer::FromJson(std::string(100, ' '), {.max_json_bytes = 50});
  EXPECT_THAT(big, StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_json_bytes")));
}

TEST(TextTokenizerTest, DecodeOfUnknownIdNamesItsIndex) {
  auto tok = MakeTiny({});
  const std::vector<int32_t> ids = {'a', 999, 'b'};
  EXPECT_THAT(tok->Decode(ids), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr("ids[1]: text tokenizer: id 999")));
}

TEST(TextTokenizerTest, MissingFileIsNotFound) {
  EXPECT_THAT(TextTokenizer::FromFile("/nonexistent/tokenizer.json"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("/nonexistent/tokenizer.json")));
}

TEST(TextTokenizerJsonErrorTest, NotJsonNamesTheParseError) {
  EXPECT_THAT(TextTokenizer::FromJson("{\"model\": [1, 2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
  EXPECT_THAT(TextTokenizer::FromJson("[]"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be a JSON object")));
}

nlohmann::json J(const char* text) { return nlohmann::json::parse(text); }

TEST(TextTokenizerJsonErrorTest, UnsupportedPartsAreNamedByPath) {
  struct Case {
    std::string pointer;
    nlohmann::json value;
    std::string message;
  };
  const std::vector<Case> cases = {
      {"/model/type", "WordPiece", "model.type: \"WordPiece\" is not supported"},
      {"/model/dropout", 0.1, "model.dropout"},
      {"/model/continuing_subword_prefix", "##", "model.continuing_subword_prefix"},
      {"/model/end_of_word_suffix", "</w>", "model.end_of_word_suffix"},
      {"/model/ignore_merges", "yes", "model.ignore_merges: must be a boolean"},
      {"/model/vocab", nlohmann::json::array(), "model.vocab: missing or not an object"},
      {"/model/vocab/abc", -3, "model.vocab[\"abc\"]: id out of range"},
      {"/model/vocab/abc", "x", "model.vocab[\"abc\"]: must be a non-negative integer"},
      {"/model/merges/0", 5, "model.merges[0]: must be a string"},
      {"/model/merges/1", "onlyone", "model.merges[1]: a merge string must be two tokens"},
      {"/model/merges/2", nlohmann::json::array({"zzqq", "x"}),
       "model.merges[2]: token \"zzqq\" is not in model.vocab"},
      {"/normalizer", {{"type", "Lowercase"}}, "normalizer.type: \"Lowercase\" is not supported"},
      {"/normalizer", J(R"({"type": "Sequence", "normalizers": [{"type": "NFC"},
                                                              {"type": "Strip"}]})"),
       "normalizer.normalizers[1].type: \"Strip\""},
      {"/pre_tokenizer", {{"type", "Whitespace"}}, "pre_tokenizer.type: \"Whitespace\""},
      {"/pre_tokenizer", nullptr,
       "decoder.type: \"ByteLevel\" is not supported for a SentencePiece-style BPE"},
      {"/pre_tokenizer/add_prefix_space", 1, "pre_tokenizer.add_prefix_space: must be a boolean"},
      {"/post_processor", {{"type", "RobertaProcessing"}}, "post_processor.type"},
      {"/post_processor", {{"type", "TemplateProcessing"}}, "post_processor.single: missing"},
      {"/post_processor", J(R"({"type": "TemplateProcessing",
          "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                     {"Sequence": {"id": "A", "type_id": 0}}],
          "special_tokens": {}})"),
       "post_processor.single[0]: special token \"<s>\" is not in special_tokens"},
      {"/pre_tokenizer", J(R"({"type": "Sequence", "pretokenizers": [
          {"type": "Split", "pattern": {"Regex": "(?<=a)b"}, "behavior": "Isolated"},
          {"type": "ByteLevel", "add_prefix_space": false, "use_regex": false}]})"),
       "pre_tokenizer.pretokenizers[0].pattern.Regex: pattern: the lookaround (?<="},
      {"/pre_tokenizer", J(R"({"type": "Sequence", "pretokenizers": [
          {"type": "Split", "pattern": {"Regex": "a"}, "behavior": "Sideways"},
          {"type": "ByteLevel"}]})"),
       "pre_tokenizer.pretokenizers[0].behavior: \"Sideways\" is not a split behavior"},
      {"/pre_tokenizer", J(R"({"type": "Sequence", "pretokenizers": [
          {"type": "ByteLevel"},
          {"type": "Split", "pattern": {"String": " "}, "behavior": "Isolated"}]})"),
       "pre_tokenizer: a byte-level BPE needs exactly one ByteLevel pre-tokenizer, the last"},
      {"/pre_tokenizer", J(R"({"type": "Sequence", "pretokenizers": [
          {"type": "Split", "pattern": {"Regex": "\\s++"}, "behavior": "Isolated"},
          {"type": "ByteLevel"}]})"),
       "the possessive quantifier"},
      {"/pre_tokenizer", {{"type", "Metaspace"}}, "pre_tokenizer.replacement: missing"},
      {"/pre_tokenizer", {{"type", "WhitespaceSplit"}}, "pre_tokenizer.type: \"WhitespaceSplit\""},
      {"/model/unk_token", "<nope>", "model.unk_token: \"<nope>\" is not in model.vocab"},
      {"/decoder", {{"type", "WordPiece"}}, "decoder.type"},
      {"/truncation", {{"max_length", 5}}, "truncation: not supported"},
      {"/padding", {{"strategy", "BatchLongest"}}, "padding: not supported"},
      {"/added_tokens/0/content", 7, "added_tokens[0].content: missing or not a string"},
      {"/added_tokens/0/content", "", "added_tokens[0].content: must not be empty"},
      {"/added_tokens/1/id", 0, "added_tokens[1].id: id 0 is used twice"},
      {"/added_tokens/0/special", "no", "added_tokens[0].special: must be a boolean"},
      {"/model", "BPE", "model: missing or not an object"},
  };
  for (const Case& c : cases) {
    nlohmann::json j = LibraryJson();
    j[nlohmann::json::json_pointer(c.pointer)] = c.value;
    EXPECT_THAT(LoadStatus(j), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr(c.message)))
        << c.pointer;
  }
}

TEST(TextTokenizerJsonErrorTest, MissingMergedTokenAndIncompleteAlphabetAreNamed) {
  nlohmann::json j = LibraryJson();
  const auto merge = j["model"]["merges"][0];  // ["Ġ", "t"]
  j["model"]["vocab"].erase(merge[0].get<std::string>() + merge[1].get<std::string>());
  EXPECT_THAT(LoadStatus(j), StatusIs(absl::StatusCode::kInvalidArgument,
                                      HasSubstr("model.merges[0]: merged token")));
}

TEST(TextTokenizerJsonTest, AByteWithoutATokenIsDroppedOrUnknown) {
  // The library accepts a vocabulary without some bytes: a missing one is dropped (its
  // neighbours become adjacent) or becomes unk_token. (Goldens check it against the library.)
  nlohmann::json j = LibraryJson();
  j["model"]["vocab"].erase("A");
  j["model"]["merges"] = nlohmann::json::array();
  auto tok = TextTokenizer::FromJson(j.dump());
  ASSERT_THAT(tok, IsOk());
  auto a = (*tok)->Encode("A");
  ASSERT_THAT(a, IsOk());
  EXPECT_THAT(*a, ::testing::IsEmpty());
  EXPECT_EQ(*(*tok)->Encode("xAAy"), *(*tok)->Encode("xy"));
  j["model"]["unk_token"] = "<pad>";
  j["model"]["fuse_unk"] = true;
  tok = TextTokenizer::FromJson(j.dump());
  ASSERT_THAT(tok, IsOk());
  const int32_t unk = *(*tok)->TokenToId("<pad>");
  const int32_t x = *(*tok)->TokenToId("x");
  auto fused = (*tok)->Encode("xAAy");
  ASSERT_THAT(fused, IsOk());
  EXPECT_THAT(*fused, ElementsAre(x, unk, *(*tok)->TokenToId("y")));
  j["model"]["byte_fallback"] = true;
  EXPECT_THAT(LoadStatus(j),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("model.byte_fallback")));
}

}  // namespace
}  // namespace mot::tokenizer
