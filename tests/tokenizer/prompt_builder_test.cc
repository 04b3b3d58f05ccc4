// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The unified vocabulary and the prompt builder over small real tokenizers: a BPE trained
// here, a 4-token image VQ and a small audio codec trained on tones.
#include "engine/tokenizer/prompt_builder.h"

#include <sndfile.h>

#include <random>

#include "engine/tokenizer/image/image_codec.h"
#include "engine/tokenizer/text/bpe_trainer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/tokenizer/audio/audio_test_util.h"

namespace mot::tokenizer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

constexpr int kImageCodes = 8;

std::unique_ptr<TextTokenizer> SmallText() {
  std::vector<std::string> corpus = {"hello world", "the quick brown fox", "hello there",
                                     "a picture of a cat", "listen to this sound"};
  BpeTrainerOptions o;
  o.vocab_size = 300;
  o.min_frequency = 1;
  for (const char* s : kRequiredSpecialTokens) o.special_tokens.push_back(s);
  auto t = TrainByteLevelBpe(corpus, o);
  EXPECT_THAT(t, IsOk());
  return std::move(t).value();
}

std::unique_ptr<ImageTokenizer> SmallImage() {
  // 16x16 images, 8x8 patches: 4 codes per image; 8 flat-colour codes.
  std::vector<float> codebook;
  for (int c = 0; c < kImageCodes; ++c) {
    for (int p = 0; p < 64; ++p) {
      codebook.push_back((c & 1) ? 1.f : 0.f);
      codebook.push_back((c & 2) ? 1.f : 0.f);
      codebook.push_back((c & 4) ? 1.f : 0.f);
    }
  }
  auto t = ImageTokenizer::Create(16, 8, std::move(codebook));
  EXPECT_THAT(t, IsOk());
  return std::make_unique<ImageTokenizer>(*std::move(t));
}

std::unique_ptr<AudioTokenizer> SmallAudio() {
  AudioTrainOptions o;
  o.config.n_mels = 24;
  o.config.codebook_size = 16;
  o.config.gain_levels = 2;
  o.config.stages = 1;
  o.config.griffin_lim_iterations = 4;
  o.kmeans_iterations = 5;
  std::vector<std::vector<float>> waves;
  for (double f0 : {110.0, 220.0, 330.0}) {
    waves.push_back(mot::tokenizer::testing::HarmonicTone(f0, 6, 16000, 8000, 0.3f));
  }
  auto t = AudioTokenizer::Train(waves, o);
  EXPECT_THAT(t, IsOk());
  return std::make_unique<AudioTokenizer>(*std::move(t));
}

MotConfig ConfigFor(int32_t text_vocab, int32_t image_codes, int32_t audio_codes) {
  MotConfig c;
  c.dim = 8, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 1, c.head_dim = 4, c.ffn_hidden = 8;
  c.max_seq_len = 4096;
  c.modalities = {"text", "image", "audio"};
  for (const char* s : kRequiredSpecialTokens) c.special_tokens.push_back(s);
  const int32_t n_special = static_cast<int32_t>(c.special_tokens.size());
  c.vocab_ranges = {{"special", 0, n_special, 0},
                    {"text", n_special, text_vocab, 0},
                    {"image", text_vocab, text_vocab + image_codes, 1},
                    {"audio", text_vocab + image_codes, text_vocab + image_codes + audio_codes, 2}};
  c.vocab_size = text_vocab + image_codes + audio_codes;
  return c;
}

class PromptBuilderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    auto text = SmallText();
    auto image = SmallImage();
    auto audio = SmallAudio();
    config_ = new MotConfig(ConfigFor(
        text->vocab_size(), static_cast<int32_t>(image->codebook_size()), audio->codebook_size()));
    ASSERT_THAT(ValidateMotConfig(*config_), IsOk());
    auto b = PromptBuilder::Create(*config_, std::move(text), std::move(image), std::move(audio));
    ASSERT_THAT(b, IsOk());
    builder_ = b->release();
  }
  static void TearDownTestSuite() {
    delete builder_;
    delete config_;
  }

  static std::string Png() {
    RgbImage img;
    img.width = img.height = 32;
    img.pixels.assign(32 * 32 * 3, 0);
    for (int y = 0; y < 32; ++y) {
      for (int x = 0; x < 32; ++x)
        img.pixels[static_cast<size_t>((y * 32 + x) * 3)] = x < 16 ? 255 : 0;
    }
    return *EncodePng(img);
  }
  static std::string Wav(double seconds) {
    auto tone = mot::tokenizer::testing::HarmonicTone(220, 6, 16000,
                                                      static_cast<int>(16000 * seconds), 0.3f);
    return mot::tokenizer::testing::MakeAudioFile(tone, 1, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  }

  static MotConfig* config_;
  static PromptBuilder* builder_;
};
MotConfig* PromptBuilderTest::config_ = nullptr;
PromptBuilder* PromptBuilderTest::builder_ = nullptr;

TEST_F(PromptBuilderTest, VocabularyMapsRangesToTowers) {
  const UnifiedVocab& v = builder_->vocab();
  EXPECT_EQ(v.bos_id(), 1);
  EXPECT_EQ(v.SpecialId("<boi>"), 3);
  EXPECT_EQ(v.SpecialId("<nope>"), std::nullopt);
  EXPECT_EQ(v.TowerOf(v.boi_id()), 0);  // specials belong to the text tower
  EXPECT_EQ(v.TowerOf(v.ImageCodeToId(0)), 1);
  EXPECT_EQ(v.TowerOf(v.AudioCodeToId(v.audio_codebook_size() - 1)), 2);
  EXPECT_EQ(v.IdToImageCode(v.ImageCodeToId(5)), 5);
}

TEST_F(PromptBuilderTest, InterleavedPartsGiveFramedCodesTowersAndPositions) {
  const std::vector<Part> parts = {{Modality::kText, "hello world"},
                                   {Modality::kImage, Png()},
                                   {Modality::kText, "listen"},
                                   {Modality::kAudio, Wav(0.2)}};
  auto prompt = builder_->Build(parts, {.add_bos = true, .start_position = 5});
  ASSERT_THAT(prompt, IsOk());
  const UnifiedVocab& v = builder_->vocab();
  const auto& ids = prompt->ids;
  ASSERT_EQ(ids.size(), prompt->towers.size());
  ASSERT_EQ(ids.size(), prompt->positions.size());
  EXPECT_EQ(ids[0], v.bos_id());
  auto boi = std::find(ids.begin(), ids.end(), v.boi_id());
  ASSERT_NE(boi, ids.end());
  const size_t b = static_cast<size_t>(boi - ids.begin());
  ASSERT_LT(b + 5, ids.size());
  for (size_t i = b + 1; i <= b + 4; ++i) {
    EXPECT_TRUE(v.IsImageCode(ids[i])) << i;
    EXPECT_EQ(prompt->towers[i], 1) << i;
  }
  EXPECT_EQ(ids[b + 5], v.eoi_id());
  // The left half is red, the right black: codes 1 (red) and 0 (black) per 8x8 patch row.
  EXPECT_THAT(
      std::vector<int32_t>(ids.begin() + b + 1, ids.begin() + b + 5),
      ElementsAre(v.ImageCodeToId(1), v.ImageCodeToId(0), v.ImageCodeToId(1), v.ImageCodeToId(0)));
  auto boa = std::find(ids.begin(), ids.end(), v.boa_id());
  ASSERT_NE(boa, ids.end());
  EXPECT_EQ(ids.back(), v.eoa_id());
  const size_t a = static_cast<size_t>(boa - ids.begin());
  // 0.2 s at 50 frames/s, one token per frame.
  EXPECT_EQ(ids.size() - a - 2, 10u);
  for (size_t i = a + 1; i + 1 < ids.size(); ++i) EXPECT_EQ(prompt->towers[i], 2) << i;
  for (size_t i = 0; i < ids.size(); ++i) {
    EXPECT_EQ(prompt->positions[i], 5 + static_cast<int32_t>(i));
    if (i < b || (i > b + 5 && i < a)) {
      EXPECT_EQ(prompt->towers[i], 0) << i;
    }
  }
}

TEST_F(PromptBuilderTest, ControlTokenNamesInUserTextStayText) {
  auto prompt = builder_->Build(std::vector<Part>{{Modality::kText, "look <boi> here <eos>"}});
  ASSERT_THAT(prompt, IsOk());
  const UnifiedVocab& v = builder_->vocab();
  for (size_t i = 1; i < prompt->ids.size(); ++i) {
    EXPECT_FALSE(v.IsSpecial(prompt->ids[i])) << "token " << i << " is a control token";
  }
  auto parts = builder_->ToParts(prompt->ids);
  ASSERT_THAT(parts, IsOk());
  ASSERT_EQ(parts->size(), 1u);
  EXPECT_EQ((*parts)[0].data, "look <boi> here <eos>");
}

TEST_F(PromptBuilderTest, ToPartsReturnsTextPngAndWavInOrder) {
  const std::vector<Part> parts = {{Modality::kText, "a picture of"},
                                   {Modality::kImage, Png()},
                                   {Modality::kText, " and a sound"},
                                   {Modality::kAudio, Wav(0.1)}};
  auto prompt = builder_->Build(parts);
  ASSERT_THAT(prompt, IsOk());
  std::vector<int32_t> out = prompt->ids;
  out.push_back(builder_->vocab().eos_id());
  out.push_back(builder_->vocab().ImageCodeToId(0));  // after <eos>: ignored
  auto back = builder_->ToParts(out);
  ASSERT_THAT(back, IsOk());
  ASSERT_EQ(back->size(), 4u);
  EXPECT_EQ((*back)[0].modality, Modality::kText);
  EXPECT_EQ((*back)[0].data, "a picture of");
  EXPECT_EQ((*back)[1].modality, Modality::kImage);
  EXPECT_EQ((*back)[1].data.substr(1, 3), "PNG");
  auto decoded = DecodeImage((*back)[1].data, "png");
  ASSERT_THAT(decoded, IsOk());
  EXPECT_EQ(decoded->width, 16);
  EXPECT_EQ(decoded->pixels[0], 255);  // top-left patch is red
  EXPECT_EQ(decoded->pixels[(8 * 16 + 12) * 3], 0);
  EXPECT_EQ((*back)[2].data, " and a sound");
  EXPECT_EQ((*back)[3].modality, Modality::kAudio);
  EXPECT_EQ((*back)[3].data.substr(0, 4), "RIFF");
}

TEST_F(PromptBuilderTest, ErrorsNameThePartAndReason) {
  EXPECT_THAT(builder_->Build(std::vector<Part>{{Modality::kText, "ok"}, {Modality::kImage, ""}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("part 1 (image): empty")));
  EXPECT_THAT(builder_->Build(std::vector<Part>{{Modality::kImage, "\x89PNG\r\n\x1a\n garbage"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("part 0 (image)")));
  EXPECT_THAT(builder_->Build(std::vector<Part>{{Modality::kAudio, "RIFF not really a wav"}}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("part 0 (audio)")));
  EXPECT_THAT(builder_->Build(std::vector<Part>{}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no parts")));
  // 4096-token context: 100 s of audio is 5000 codes.
  EXPECT_THAT(
      builder_->Build(std::vector<Part>{{Modality::kText, "x"}, {Modality::kAudio, Wav(100)}}),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("part 1 (audio)")));
}

TEST_F(PromptBuilderTest, ToPartsRejectsMalformedFrames) {
  const UnifiedVocab& v = builder_->vocab();
  const int32_t code = v.ImageCodeToId(0);
  EXPECT_THAT(builder_->ToParts(std::vector<int32_t>{v.boi_id(), code, code}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not closed")));
  EXPECT_THAT(builder_->ToParts(std::vector<int32_t>{code}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside an image")));
  EXPECT_THAT(builder_->ToParts(std::vector<int32_t>{v.boi_id(), code, v.eoi_id()}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("output image at token 0")));
  EXPECT_THAT(builder_->ToParts(std::vector<int32_t>{v.boi_id(), 10, v.eoi_id()}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("inside the image")));
  EXPECT_THAT(builder_->ToParts(std::vector<int32_t>{v.size()}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("outside the vocabulary")));
}

TEST(UnifiedVocabTest, RejectsVocabulariesWithoutTheRequiredSpecials) {
  MotConfig c = ConfigFor(300, 8, 32);
  c.special_tokens[3] = "<image>";
  EXPECT_THAT(UnifiedVocab::Create(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("entry 3 must be <boi>")));
  c = ConfigFor(300, 8, 32);
  c.vocab_ranges[2].tower = 2;  // image codes on the audio tower
  EXPECT_THAT(UnifiedVocab::Create(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("range image")));
  c = ConfigFor(300, 8, 32);
  c.vocab_ranges[0].name = "specials";
  EXPECT_THAT(UnifiedVocab::Create(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"special\"")));
}

TEST(UnifiedVocabTest, DenseModelMapsEveryRangeToTowerZero) {
  // The dense baseline: one tower, so image and audio codes share it with text.
  MotConfig c = ConfigFor(300, 8, 32);
  c.modalities = {"text"};
  for (VocabRange& r : c.vocab_ranges) r.tower = 0;
  ASSERT_THAT(ValidateMotConfig(c), IsOk());
  absl::StatusOr<UnifiedVocab> v = UnifiedVocab::Create(c);
  ASSERT_THAT(v, IsOk());
  EXPECT_EQ(v->num_towers(), 1);
  EXPECT_TRUE(v->has_image());
  EXPECT_TRUE(v->has_audio());
  EXPECT_EQ(v->image_tower(), 0);
  EXPECT_EQ(v->audio_tower(), 0);
  EXPECT_EQ(v->TowerOf(v->ImageCodeToId(3)), 0);
  EXPECT_EQ(v->TowerOf(v->AudioCodeToId(31)), 0);
  // With several towers the names still have to agree.
  c = ConfigFor(300, 8, 32);
  c.modalities = {"text", "audio", "image"};
  EXPECT_THAT(UnifiedVocab::Create(c),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("range image")));
}

TEST(PromptBuilderCreateTest, RejectsTokenizersThatDoNotFitTheVocabulary) {
  auto text = SmallText();
  const int32_t text_vocab = text->vocab_size();
  MotConfig c = ConfigFor(text_vocab + 1, kImageCodes, 0);
  c.modalities = {"text", "image"};
  c.vocab_ranges.pop_back();
  c.vocab_size = text_vocab + 1 + kImageCodes;
  EXPECT_THAT(PromptBuilder::Create(c, std::move(text), SmallImage(), nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tokenizer.json: has")));
  c = ConfigFor(text_vocab, kImageCodes + 1, 0);
  c.modalities = {"text", "image"};
  c.vocab_ranges.pop_back();
  c.vocab_size = text_vocab + kImageCodes + 1;
  EXPECT_THAT(PromptBuilder::Create(c, SmallText(), SmallImage(), nullptr),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("image_tokenizer")));
}

}  // namespace
}  // namespace mot::tokenizer
