// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// config.json's special_token_ids (model_config.h): parsing, validation errors naming the
// field, the UnifiedVocab layout it selects (one text range, the specials named by id,
// absent frame tokens saying so), and what the callers do with it: PromptBuilder (BOS only
// when the model's tokenizer adds one, output ends at any eos id, the tokenizer must have
// the named ids), ModalityStateMachine (every id allowed, as transformers' generate) and
// StopChecker (every eos id stops).
#include <cmath>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "engine/sampling/modality_state.h"
#include "engine/sampling/stop_checker.h"
#include "engine/tokenizer/prompt_builder.h"
#include "engine/tokenizer/text/text_tokenizer.h"
#include "engine/tokenizer/unified_vocab.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/model_config.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"

namespace mot::tokenizer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;
using json = nlohmann::json;

constexpr auto kInvalid = absl::StatusCode::kInvalidArgument;
constexpr int32_t kVocab = 300;

// A text model of kVocab ids whose specials are <unk> <s> </s> at 0..2 and id 3 a second
// eos (as generation_config.json's eos lists do).
json HfConfigJson() {
  return {
      {"format", "mot"},
      {"format_version", 1},
      {"dim", 16},
      {"n_layers", 1},
      {"n_heads", 2},
      {"n_kv_heads", 1},
      {"head_dim", 8},
      {"ffn_hidden", 32},
      {"max_seq_len", 64},
      {"modalities", {"text"}},
      {"vocab_size", kVocab},
      {"vocab_ranges", {{{"name", "text"}, {"begin", 0}, {"end", kVocab}, {"modality", "text"}}}},
      {"special_token_ids", {{"bos", 1}, {"eos", {2, 3}}, {"pad", nullptr}, {"add_bos", true}}}};
}

absl::StatusOr<MotConfig> Parse(const json& j) { return ParseMotConfig(j.dump()); }

TEST(SpecialTokenIdsConfigTest, ParsesAndRoundTrips) {
  auto c = Parse(HfConfigJson());
  ASSERT_THAT(c, IsOk());
  ASSERT_TRUE(c->special_token_ids.has_value());
  EXPECT_EQ(c->special_token_ids->bos, 1);
  EXPECT_EQ(c->special_token_ids->eos, (std::vector<int32_t>{2, 3}));
  EXPECT_EQ(c->special_token_ids->pad, SpecialTokenIds::kNone);
  EXPECT_TRUE(c->special_token_ids->add_bos);
  auto again = ParseMotConfig(MotConfigToJson(*c));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*again, *c);
  // One eos as a plain id; bos and pad absent.
  json j = HfConfigJson();
  j["special_token_ids"] = {{"eos", 7}, {"add_bos", false}};
  c = Parse(j);
  ASSERT_THAT(c, IsOk());
  EXPECT_EQ(c->special_token_ids->eos, std::vector<int32_t>{7});
  EXPECT_EQ(c->special_token_ids->bos, SpecialTokenIds::kNone);
  again = ParseMotConfig(MotConfigToJson(*c));
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*again, *c);
  // A config without the field writes none (MoT checkpoints stay byte for byte).
  json plain = HfConfigJson();
  plain.erase("special_token_ids");
  c = Parse(plain);
  ASSERT_THAT(c, IsOk());
  EXPECT_FALSE(c->special_token_ids.has_value());
  EXPECT_EQ(MotConfigToJson(*c).find("special_token_ids"), std::string::npos);
}

TEST(SpecialTokenIdsConfigTest, ErrorsNameTheField) {
  struct Case {
    json ids;
    const char* message;
  };
  const Case cases[] = {
      {json::array({1}), "field special_token_ids: must be an object"},
      {{{"bos", 1}, {"add_bos", true}}, "field special_token_ids.eos: missing"},
      {{{"eos", json::array()}, {"add_bos", false}},
       "field special_token_ids.eos: must name at least one id"},
      {{{"eos", {2, 2}}, {"add_bos", false}},
       "field special_token_ids.eos[1]: id 2 is listed twice"},
      {{{"eos", kVocab}, {"add_bos", false}},
       "field special_token_ids.eos: must be in [0, vocab_size=300)"},
      {{{"eos", {2, "x"}}, {"add_bos", false}},
       "field special_token_ids.eos[1]: must be an integer"},
      {{{"eos", 2}, {"bos", -1}, {"add_bos", false}}, "field special_token_ids.bos: must be in"},
      {{{"eos", 2}, {"pad", 500}, {"add_bos", false}},
       "field special_token_ids.pad: must be in [0, vocab_size"},
      {{{"eos", 2}}, "field special_token_ids.add_bos: missing"},
      {{{"eos", 2}, {"add_bos", 1}}, "field special_token_ids.add_bos: must be true or false"},
      {{{"eos", 2}, {"add_bos", true}},
       "field special_token_ids.add_bos: true, but special_token_ids.bos is null"},
      {{{"eos", 2}, {"add_bos", false}, {"unk", 0}}, "unknown field \"unk\" in special_token_ids"},
  };
  for (const Case& c : cases) {
    json j = HfConfigJson();
    j["special_token_ids"] = c.ids;
    EXPECT_THAT(Parse(j), StatusIs(kInvalid, HasSubstr(c.message))) << c.ids.dump();
  }
  // Not together with the MoT layout's names or its "special" range.
  json j = HfConfigJson();
  j["vocab_ranges"] = {{{"name", "special"}, {"begin", 0}, {"end", 7}, {"modality", "text"}},
                       {{"name", "text"}, {"begin", 7}, {"end", kVocab}, {"modality", "text"}}};
  EXPECT_THAT(Parse(j), StatusIs(kInvalid, HasSubstr("field special_token_ids: cannot be combined "
                                                     "with a vocab range named \"special\"")));
  j["special_tokens"] = {"<pad>", "<bos>", "<eos>", "<boi>", "<eoi>", "<boa>", "<eoa>"};
  EXPECT_THAT(Parse(j), StatusIs(kInvalid, HasSubstr("cannot be combined with special_tokens")));
}

TEST(SpecialTokenIdsVocabTest, OneTextRangeAndTheNamedIds) {
  auto c = Parse(HfConfigJson());
  ASSERT_THAT(c, IsOk());
  auto v = UnifiedVocab::Create(*c);
  ASSERT_THAT(v, IsOk());
  EXPECT_TRUE(v->specials_by_id());
  EXPECT_EQ(v->size(), kVocab);
  EXPECT_EQ(v->bos_id(), 1);
  EXPECT_EQ(v->eos_id(), 2);
  EXPECT_EQ(v->eos_ids(), (std::vector<int32_t>{2, 3}));
  EXPECT_TRUE(v->IsEos(2));
  EXPECT_TRUE(v->IsEos(3));
  EXPECT_FALSE(v->IsEos(1));
  EXPECT_EQ(v->pad_id(), UnifiedVocab::kNoToken);
  for (int32_t id : {v->boi_id(), v->eoi_id(), v->boa_id(), v->eoa_id()}) {
    EXPECT_EQ(id, UnifiedVocab::kNoToken);
  }
  EXPECT_FALSE(v->has_image());
  EXPECT_FALSE(v->has_audio());
  EXPECT_TRUE(v->adds_bos());
  EXPECT_EQ(v->num_special(), 0);
  EXPECT_TRUE(v->special_tokens().empty());
  EXPECT_EQ(v->text_end(), kVocab);
  for (int32_t id = 0; id < kVocab; ++id) {
    EXPECT_TRUE(v->IsText(id));
    EXPECT_EQ(v->TowerOf(id), 0);
    EXPECT_EQ(v->IsSpecial(id), id >= 1 && id <= 3) << id;  // bos, eos, eos
  }
  EXPECT_FALSE(v->IsSpecial(UnifiedVocab::kNoToken));
  EXPECT_EQ(v->SpecialId("<bos>"), 1);
  EXPECT_EQ(v->SpecialId("<eos>"), 2);
  EXPECT_EQ(v->SpecialId("<pad>"), std::nullopt);
  EXPECT_EQ(v->SpecialId("<boi>"), std::nullopt);

  // Other ranges are refused: the layout is a text model's.
  MotConfig two = *c;
  two.modalities = {"text", "image"};
  two.vocab_ranges = {{"text", 0, 200, 0}, {"image", 200, kVocab, 1}};
  ASSERT_THAT(ValidateMotConfig(two), IsOk());
  EXPECT_THAT(UnifiedVocab::Create(two),
              StatusIs(kInvalid, HasSubstr("one range named \"text\" over [0, vocab_size=300)")));
  // Built in code, unvalidated: ids are still checked before they index anything.
  MotConfig bad = *c;
  bad.special_token_ids->eos = {kVocab + 5};
  EXPECT_THAT(UnifiedVocab::Create(bad),
              StatusIs(kInvalid, HasSubstr("field special_token_ids.eos: must be in")));
}

TEST(SpecialTokenIdsVocabTest, MotLayoutIsUnchanged) {
  MotConfig c;
  c.dim = 16, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 1, c.head_dim = 8, c.ffn_hidden = 32;
  c.max_seq_len = 64;
  c.modalities = {"text"};
  c.vocab_size = 20;
  c.vocab_ranges = {{"special", 0, 7, 0}, {"text", 7, 20, 0}};
  c.special_tokens = {"<pad>", "<bos>", "<eos>", "<boi>", "<eoi>", "<boa>", "<eoa>"};
  auto v = UnifiedVocab::Create(c);
  ASSERT_THAT(v, IsOk());
  EXPECT_FALSE(v->specials_by_id());
  EXPECT_TRUE(v->adds_bos());
  EXPECT_EQ(v->eos_ids(), std::vector<int32_t>{2});
  EXPECT_EQ(v->boi_id(), 3);
  EXPECT_EQ(v->boa_id(), 5);
  EXPECT_EQ(v->num_special(), 7);
  EXPECT_TRUE(v->IsSpecial(6));
  EXPECT_FALSE(v->IsSpecial(7));
}

// A byte-level tokenizer with <unk> <s> </s> at 0..2 and the 256 bytes after: 259 ids.
std::unique_ptr<TextTokenizer> Tokenizer() {
  std::vector<std::pair<std::string, int32_t>> vocab;
  for (int b = 0; b < 256; ++b) vocab.emplace_back(std::string(1, static_cast<char>(b)), 3 + b);
  std::vector<AddedToken> added = {{0, "<unk>"}, {1, "<s>"}, {2, "</s>"}};
  auto t = TextTokenizer::FromParts(std::move(vocab), {}, std::move(added));
  return t.ok() ? std::move(t).value() : nullptr;
}

TEST(SpecialTokenIdsPromptTest, BosOnlyWhenTheTokenizerAddsOne) {
  auto c = Parse(HfConfigJson());
  ASSERT_THAT(c, IsOk());
  ASSERT_NE(Tokenizer(), nullptr);
  auto b = PromptBuilder::Create(*c, Tokenizer(), nullptr, nullptr);
  ASSERT_THAT(b, IsOk());
  const std::vector<Part> parts = {{Modality::kText, "ab"}};
  auto p = (*b)->Build(parts);
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->ids, (std::vector<int32_t>{1, 3 + 'a', 3 + 'b'}));
  p = (*b)->Build(parts, {.add_bos = false});
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->ids, (std::vector<int32_t>{3 + 'a', 3 + 'b'}));

  MotConfig no_bos = *c;
  no_bos.special_token_ids->add_bos = false;
  b = PromptBuilder::Create(no_bos, Tokenizer(), nullptr, nullptr);
  ASSERT_THAT(b, IsOk());
  p = (*b)->Build(parts);  // asks for a BOS; this model's tokenizer adds none
  ASSERT_THAT(p, IsOk());
  EXPECT_EQ(p->ids, (std::vector<int32_t>{3 + 'a', 3 + 'b'}));

  // Output: specials skipped, any eos id ends it (3 is the second eos).
  auto out = (*b)->ToParts(std::vector<int32_t>{1, 3 + 'h', 3 + 'i', 3, 3 + 'x'});
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->size(), 1u);
  EXPECT_EQ((*out)[0].data, "hi");
}

TEST(SpecialTokenIdsPromptTest, TokenizerMustFit) {
  auto c = Parse(HfConfigJson());
  ASSERT_THAT(c, IsOk());
  // The model may have ids past the tokenizer's (padded embeddings), not fewer.
  MotConfig small = *c;
  small.vocab_size = 200;
  small.vocab_ranges = {{"text", 0, 200, 0}};
  EXPECT_THAT(PromptBuilder::Create(small, Tokenizer(), nullptr, nullptr),
              StatusIs(kInvalid, HasSubstr("tokenizer.json: has 259 ids but config.json's "
                                           "vocab_size is 200")));
  MotConfig far = *c;
  far.special_token_ids->eos = {2, 280};  // in the model, past the tokenizer
  EXPECT_THAT(PromptBuilder::Create(far, Tokenizer(), nullptr, nullptr),
              StatusIs(kInvalid, HasSubstr("tokenizer.json: has no token of id 280, which "
                                           "config.json's special_token_ids.eos names")));
}

TEST(SpecialTokenIdsSamplingTest, EveryIdAllowedAndEveryEosStops) {
  auto c = Parse(HfConfigJson());
  ASSERT_THAT(c, IsOk());
  auto v = UnifiedVocab::Create(*c);
  ASSERT_THAT(v, IsOk());
  sampling::ModalityRules rules;
  rules.allowed_modalities = sampling::kText;
  rules.max_text_tokens = 2;
  sampling::ModalityStateMachine state(&*v, rules);
  std::vector<float> logits(kVocab, 1.0f);
  state.Mask(logits);
  for (int32_t id = 0; id < kVocab; ++id) {
    EXPECT_EQ(logits[static_cast<size_t>(id)], 1.0f) << id;  // bos and pad too, as HF does
  }
  ASSERT_THAT(state.Advance(1), IsOk());
  ASSERT_THAT(state.Advance(100), IsOk());
  // The text budget is spent: only eos may come.
  std::fill(logits.begin(), logits.end(), 1.0f);
  state.Mask(logits);
  for (int32_t id = 0; id < kVocab; ++id) {
    EXPECT_EQ(std::isinf(logits[static_cast<size_t>(id)]), id != 2) << id;
  }

  sampling::SamplingParams params;
  const sampling::StopChecker stop = sampling::StopChecker::FromParams(params, *v);
  EXPECT_TRUE(stop.IsStopId(2));
  EXPECT_TRUE(stop.IsStopId(3));
  EXPECT_FALSE(stop.IsStopId(1));
}

}  // namespace
}  // namespace mot::tokenizer
