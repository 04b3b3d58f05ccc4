// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
// Tokenizer training on a tiny demo set, loading back, and packing into shards.
#include "trainer/tokenizer_training.h"

#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "engine/tokenizer/image/image_codec.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/trainer_test_util.h"
#include "trainer/demo_data.h"
#include "trainer/pack.h"
#include "trainer/shard.h"
#include "trainer/tokenizer_dir.h"

namespace mot::trainer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;
using tokenizer::Modality;

// One tiny demo set and its tokenizers for the whole suite (speech when espeak-ng exists).
class TokenizerTrainingTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    tmp_ = new testing::TempDir();
    pool_ = new ThreadPool(2);
    has_speech_ = ProgramOnPath("espeak-ng");
    DemoOptions d;
    d.out = tmp_->path("demo");
    d.seed = 3;
    d.train_scenes = 60;
    d.heldout_scenes = 10;
    d.speech_scenes = has_speech_ ? 8 : 0;
    d.heldout_speech_scenes = 0;
    d.pool = pool_;
    ASSERT_THAT(MakeDemoData(d), IsOk());
    TokenizerTrainingOptions t = Options(tmp_->path("tok"));
    report_ = new absl::StatusOr<TokenizerTrainingReport>(TrainTokenizers(t));
  }
  static void TearDownTestSuite() {
    delete report_;
    delete pool_;
    delete tmp_;
  }
  static TokenizerTrainingOptions Options(const std::string& out) {
    TokenizerTrainingOptions t;
    t.manifest = tmp_->path("demo/train.jsonl");
    t.out = out;
    t.text_vocab = 300;
    t.image_codes = 16;
    t.audio_codes = 32;
    t.audio_gain_levels = 2;
    t.kmeans_iterations = 8;
    t.pool = pool_;
    return t;
  }

  static testing::TempDir* tmp_;
  static ThreadPool* pool_;
  static bool has_speech_;
  static absl::StatusOr<TokenizerTrainingReport>* report_;
};
testing::TempDir* TokenizerTrainingTest::tmp_ = nullptr;
ThreadPool* TokenizerTrainingTest::pool_ = nullptr;
bool TokenizerTrainingTest::has_speech_ = false;
absl::StatusOr<TokenizerTrainingReport>* TokenizerTrainingTest::report_ = nullptr;

TEST_F(TokenizerTrainingTest, WritesEveryFileAndAVocabularyThatMatchesThem) {
  ASSERT_THAT(*report_, IsOk());
  const TokenizerTrainingReport& r = **report_;
  EXPECT_EQ(r.images, 60);
  EXPECT_EQ(r.bad_rows, 0);
  EXPECT_LE(r.text_vocab, 300);
  EXPECT_GT(r.text_vocab, 7 + 256);
  absl::StatusOr<MotConfig> vocab = LoadVocabConfig(tmp_->path("tok/config.json"));
  ASSERT_THAT(vocab, IsOk());
  EXPECT_EQ(vocab->vocab_size, r.vocab_size);
  EXPECT_EQ(vocab->dim, 0);  // the model fields are model training's to fill
  const int32_t audio_ids = has_speech_ ? 2 * 32 : 0;
  EXPECT_EQ(r.vocab_size, r.text_vocab + 16 + audio_ids);
  EXPECT_EQ(std::filesystem::exists(tmp_->path("tok/audio_tokenizer.safetensors")), has_speech_);
}

TEST_F(TokenizerTrainingTest, LoadsBackAndRoundTripsACaptionAndAnImage) {
  ASSERT_THAT(*report_, IsOk());
  absl::StatusOr<std::unique_ptr<tokenizer::PromptBuilder>> b =
      LoadPromptBuilder(tmp_->path("tok"));
  ASSERT_THAT(b, IsOk());
  const tokenizer::PromptBuilder& builder = **b;
  ASSERT_NE(builder.image(), nullptr);
  EXPECT_EQ(builder.image()->tokens_per_image(), 64);

  // Caption: text ids only, decoded back to the same words, fewer tokens than bytes.
  const Scene scene{.shape = 2, .color = 5, .size = 2, .position = 4, .background = 1};
  const std::string caption = Caption(scene);
  const std::vector<tokenizer::Part> text = {{Modality::kText, caption}};
  absl::StatusOr<tokenizer::Prompt> p = builder.Build(text, {.add_bos = false});
  ASSERT_THAT(p, IsOk());
  EXPECT_LT(p->ids.size(), caption.size() / 2);  // the BPE learned the demo's words
  absl::StatusOr<std::vector<tokenizer::Part>> back = builder.ToParts(p->ids);
  ASSERT_THAT(back, IsOk());
  ASSERT_EQ(back->size(), 1u);
  EXPECT_EQ((*back)[0].data, caption);

  // Image: <boi> 64 codes <eoi>, decoded to a picture with the scene's colors.
  absl::StatusOr<std::string> png = tokenizer::EncodePng(RenderScene(scene));
  ASSERT_THAT(png, IsOk());
  const std::vector<tokenizer::Part> image = {{Modality::kImage, *png}};
  p = builder.Build(image, {.add_bos = false});
  ASSERT_THAT(p, IsOk());
  ASSERT_EQ(p->ids.size(), 66u);
  EXPECT_EQ(p->ids.front(), builder.vocab().boi_id());
  EXPECT_EQ(p->towers[1], builder.vocab().image_tower());
  back = builder.ToParts(p->ids);
  ASSERT_THAT(back, IsOk());
  ASSERT_EQ(back->size(), 1u);
  absl::StatusOr<tokenizer::RgbImage> decoded = tokenizer::DecodeImage((*back)[0].data, "out");
  ASSERT_THAT(decoded, IsOk());
  auto near = [&](int x, int y, int color) {
    const uint8_t* px = &decoded->pixels[static_cast<size_t>((y * 64 + x) * 3)];
    const auto want = ColorRgb(color);
    for (int c = 0; c < 3; ++c) {
      if (std::abs(px[c] - want[c]) > 48) return false;
    }
    return true;
  };
  EXPECT_TRUE(near(32, 32, scene.color));     // a large shape in the center
  EXPECT_TRUE(near(2, 2, scene.background));  // a corner
  EXPECT_TRUE(near(61, 61, scene.background));
}

TEST_F(TokenizerTrainingTest, TooManyImageCodesForTheDataNamesTheOption) {
  TokenizerTrainingOptions t = Options(tmp_->path("tok-big"));
  t.image_codes = 100000;
  EXPECT_THAT(TrainTokenizers(t),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("image_codes=100000")));
  EXPECT_FALSE(std::filesystem::exists(tmp_->path("tok-big")));
  t.text_vocab = 100;
  EXPECT_THAT(TrainTokenizers(t),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("text_vocab must be")));
}

TEST_F(TokenizerTrainingTest, PackWritesBosPartsEosWithTheLastPartScored) {
  ASSERT_THAT(*report_, IsOk());
  absl::StatusOr<std::unique_ptr<tokenizer::PromptBuilder>> b =
      LoadPromptBuilder(tmp_->path("tok"));
  ASSERT_THAT(b, IsOk());
  PackOptions o;
  o.manifest = tmp_->path("demo/train.jsonl");
  o.out = tmp_->path("shards");
  o.pool = pool_;
  o.max_shard_tokens = 2000;
  absl::StatusOr<PackReport> r = PackManifest(**b, o);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->bad_rows, 0);
  absl::StatusOr<std::unique_ptr<ShardReader>> shards = ShardReader::Open(o.out);
  ASSERT_THAT(shards, IsOk());
  ASSERT_EQ((*shards)->num_examples(), r->examples);
  EXPECT_EQ((*shards)->num_tokens(), r->tokens);
  const tokenizer::UnifiedVocab& v = (*b)->vocab();
  // Example 0 is a caption: <bos> <boi> 64 codes <eoi> caption <eos>, scored from the caption.
  const ExampleView caption = (*shards)->example(0);
  ASSERT_GT(caption.ids.size(), 68u);
  EXPECT_EQ(caption.ids[0], v.bos_id());
  EXPECT_EQ(caption.ids[1], v.boi_id());
  EXPECT_EQ(caption.ids[66], v.eoi_id());
  EXPECT_EQ(caption.ids.back(), v.eos_id());
  for (size_t i = 0; i < caption.ids.size(); ++i) {
    EXPECT_EQ(caption.loss[i], i >= 67 ? 1 : 0) << i;
    EXPECT_EQ(caption.towers[i], v.TowerOf(caption.ids[i]));
  }
  EXPECT_EQ(caption.towers[10], v.image_tower());
  // Example 1 is text-to-image: the image part and <eos> are scored.
  const ExampleView t2i = (*shards)->example(1);
  const size_t n = t2i.ids.size();
  EXPECT_EQ(t2i.ids[n - 67], v.boi_id());
  EXPECT_EQ(t2i.loss[n - 68], 0);
  EXPECT_EQ(t2i.loss[n - 67], 1);
  // Example 2 is plain text, loss "all": everything but <bos>.
  const ExampleView plain = (*shards)->example(2);
  EXPECT_EQ(plain.loss[0], 0);
  for (size_t i = 1; i < plain.loss.size(); ++i) EXPECT_EQ(plain.loss[i], 1);
}

TEST_F(TokenizerTrainingTest, PackReportsARefusedImageWithItsLineAndSkipsOrStops) {
  ASSERT_THAT(*report_, IsOk());
  absl::StatusOr<std::unique_ptr<tokenizer::PromptBuilder>> b =
      LoadPromptBuilder(tmp_->path("tok"));
  ASSERT_THAT(b, IsOk());
  testing::WriteText(tmp_->path("user/broken.png"), "this is no image at all");
  testing::WriteText(tmp_->path("user/m.jsonl"),
                     "{\"parts\": [{\"text\": \"a red circle\"}]}\n"
                     "{\"parts\": [{\"text\": \"draw\"}, {\"image\": \"broken.png\"}]}\n"
                     "{\"parts\": [{\"text\": \"x\"}, {\"image\": \"missing.png\"}]}\n"
                     "{\"parts\": [{\"text\": \"the end\"}], \"loss\": \"all\"}\n");
  PackOptions o;
  o.manifest = tmp_->path("user/m.jsonl");
  o.out = tmp_->path("user-shards");
  std::vector<std::string> reported;
  o.on_bad_row = [&](const std::string& s) { reported.push_back(s); };
  absl::StatusOr<PackReport> r = PackManifest(**b, o);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->examples, 2);
  EXPECT_EQ(r->bad_rows, 2);
  ASSERT_EQ(reported.size(), 2u);
  // Missing files are found while reading the manifest, refused images while packing.
  EXPECT_THAT(reported[0], HasSubstr("m.jsonl:3: parts[1] (image): file "));
  EXPECT_THAT(reported[1], HasSubstr("m.jsonl:2: parts[1] (image) "));
  EXPECT_THAT(reported[1], HasSubstr("broken.png"));

  o.policy = BadRowPolicy::kStrict;
  o.out = tmp_->path("user-shards-strict");
  EXPECT_THAT(PackManifest(**b, o),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("m.jsonl:3: parts[1] (image)")));
  testing::WriteText(tmp_->path("user/m2.jsonl"),
                     "{\"parts\": [{\"text\": \"draw\"}, {\"image\": \"broken.png\"}]}\n");
  o.manifest = tmp_->path("user/m2.jsonl");
  EXPECT_THAT(PackManifest(**b, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("m2.jsonl:1: parts[1]")));
  EXPECT_FALSE(std::filesystem::exists(o.out));
}

TEST_F(TokenizerTrainingTest, ARefusedImageIsABadRowForTrainingToo) {
  testing::WriteText(tmp_->path("bad/broken.png"), "nope");
  testing::WriteText(tmp_->path("bad/m.jsonl"),
                     "{\"parts\": [{\"text\": \"a\"}, {\"image\": \"broken.png\"}]}\n");
  TokenizerTrainingOptions t = Options(tmp_->path("tok-bad"));
  t.manifest = tmp_->path("bad/m.jsonl");
  t.policy = BadRowPolicy::kStrict;
  EXPECT_THAT(TrainTokenizers(t), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("m.jsonl:1: parts[1] (image)")));
}

}  // namespace
}  // namespace mot::trainer
