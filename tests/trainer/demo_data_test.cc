// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/demo_data.h"

#include <filesystem>
#include <set>
#include <string>
#include <utility>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/trainer_test_util.h"
#include "trainer/manifest.h"

namespace mot::trainer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

DemoOptions SmallDemo(const std::string& out, uint64_t seed) {
  DemoOptions o;
  o.out = out;
  o.seed = seed;
  o.train_scenes = 150;
  o.heldout_scenes = 30;
  o.speech_scenes = 0;
  o.heldout_speech_scenes = 0;
  return o;
}

TEST(DemoDataTest, SameSeedGivesIdenticalManifestsAndImages) {
  testing::TempDir tmp;
  ThreadPool pool(2);
  DemoOptions a = SmallDemo(tmp.path("a"), 42), b = SmallDemo(tmp.path("b"), 42);
  b.pool = &pool;  // the thread count must not matter
  ASSERT_THAT(MakeDemoData(a), IsOk());
  ASSERT_THAT(MakeDemoData(b), IsOk());
  for (const char* name : {"train.jsonl", "heldout.jsonl", "info.json"}) {
    EXPECT_EQ(testing::ReadText(tmp.path(std::string("a/") + name)),
              testing::ReadText(tmp.path(std::string("b/") + name)))
        << name;
  }
  int images = 0;
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path("a/images"))) {
    const std::string other = tmp.path("b/images/" + entry.path().filename().string());
    ASSERT_TRUE(std::filesystem::exists(other)) << other;
    EXPECT_EQ(testing::ReadText(entry.path().string()), testing::ReadText(other));
    ++images;
  }
  EXPECT_EQ(images, 180);
  // Another seed is another data set.
  ASSERT_THAT(MakeDemoData(SmallDemo(tmp.path("c"), 43)), IsOk());
  EXPECT_NE(testing::ReadText(tmp.path("a/train.jsonl")),
            testing::ReadText(tmp.path("c/train.jsonl")));
}

TEST(DemoDataTest, HeldOutPairsNeverAppearInTrainingAndEveryColorAndShapeDoes) {
  testing::TempDir tmp;
  const uint64_t seed = 5;
  ASSERT_THAT(MakeDemoData(SmallDemo(tmp.path(), seed)), IsOk());
  std::set<std::pair<std::string, std::string>> held;
  for (const auto& [color, shape] : HeldOutPairs(seed)) {
    held.emplace(ColorName(color), ShapeName(shape));
  }
  ASSERT_EQ(held.size(), static_cast<size_t>(kNumShapes));
  auto read = [&](const std::string& name) {
    absl::StatusOr<Manifest> m = ReadManifest(tmp.path(name), BadRowPolicy::kStrict);
    EXPECT_THAT(m, IsOk());
    return m.ok() ? m->examples : std::vector<ManifestExample>{};
  };
  std::set<std::string> train_colors, train_shapes, tasks;
  const std::vector<ManifestExample> train = read("train.jsonl");
  ASSERT_EQ(train.size(), 150u * 3);
  for (const ManifestExample& e : train) {
    const nlohmann::json meta = nlohmann::json::parse(e.meta_json);
    const std::pair<std::string, std::string> pair{meta["color"], meta["shape"]};
    EXPECT_FALSE(held.contains(pair))
        << "line " << e.line << ": " << pair.first << " " << pair.second;
    // The caption names what the picture shows.
    for (const ManifestPart& p : e.parts) {
      if (p.modality == tokenizer::Modality::kText) {
        EXPECT_THAT(p.value, HasSubstr(" " + pair.first + " "));
        EXPECT_THAT(p.value, HasSubstr(" " + pair.second + " "));
      }
    }
    train_colors.insert(pair.first);
    train_shapes.insert(pair.second);
    tasks.insert(meta["task"]);
  }
  EXPECT_EQ(train_colors.size(), static_cast<size_t>(kNumColors));
  EXPECT_EQ(train_shapes.size(), static_cast<size_t>(kNumShapes));
  EXPECT_EQ(tasks, (std::set<std::string>{"caption", "text_to_image", "text"}));
  const std::vector<ManifestExample> heldout = read("heldout.jsonl");
  ASSERT_EQ(heldout.size(), 30u * 3);
  for (const ManifestExample& e : heldout) {
    const nlohmann::json meta = nlohmann::json::parse(e.meta_json);
    EXPECT_TRUE(held.contains({meta["color"], meta["shape"]})) << "line " << e.line;
  }
}

TEST(DemoDataTest, RenderedSceneShowsShapeColorAtItsPositionOnTheBackground) {
  for (int shape = 0; shape < kNumShapes; ++shape) {
    Scene s;
    s.shape = shape;
    s.color = 0;       // red
    s.background = 2;  // blue
    s.size = 2;        // large
    s.position = 0;    // left: center (18, 32)
    const tokenizer::RgbImage img = RenderScene(s);
    ASSERT_EQ(img.width, kDemoImageSize);
    auto pixel = [&](int x, int y) {
      const uint8_t* p = &img.pixels[static_cast<size_t>((y * img.width + x) * 3)];
      return std::array<uint8_t, 3>{p[0], p[1], p[2]};
    };
    EXPECT_EQ(pixel(18, 32), ColorRgb(0)) << ShapeName(shape);
    EXPECT_EQ(pixel(60, 32), ColorRgb(2)) << ShapeName(shape);  // right half: background
    EXPECT_EQ(pixel(0, 0), ColorRgb(2)) << ShapeName(shape);
  }
  EXPECT_EQ(Caption({.shape = 1, .color = 3, .size = 0, .position = 4, .background = 6}),
            "a small yellow square in the center on a white background");
}

TEST(DemoDataTest, BadOptionsAndANonEmptyOutputAreRefused) {
  testing::TempDir tmp;
  DemoOptions o = SmallDemo(tmp.path("d"), 0);
  o.speech_scenes = 500;
  EXPECT_THAT(MakeDemoData(o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("speech_scenes")));
  testing::WriteText(tmp.path("d/keep.txt"), "x");
  EXPECT_THAT(MakeDemoData(SmallDemo(tmp.path("d"), 0)),
              StatusIs(absl::StatusCode::kAlreadyExists, HasSubstr("--overwrite")));
  o = SmallDemo(tmp.path("e"), 0);
  o.speech_scenes = 1;
  o.espeak = "mot-no-such-program";
  EXPECT_THAT(MakeDemoData(o),
              StatusIs(absl::StatusCode::kFailedPrecondition, HasSubstr("--speech_scenes=0")));
}

TEST(DemoDataTest, SpeechExamplesUseOneWavPerCaption) {
  if (!ProgramOnPath("espeak-ng")) GTEST_SKIP() << "espeak-ng is not installed";
  testing::TempDir tmp;
  ThreadPool pool(2);
  DemoOptions o = SmallDemo(tmp.path(), 1);
  o.train_scenes = 6;
  o.heldout_scenes = 2;
  o.speech_scenes = 3;
  o.heldout_speech_scenes = 1;
  o.pool = &pool;
  absl::StatusOr<DemoReport> r = MakeDemoData(o);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->train_examples, 6 * 3 + 3 * 2);
  EXPECT_EQ(r->heldout_examples, 2 * 3 + 1 * 2);
  EXPECT_GE(r->wavs, 1);
  absl::StatusOr<Manifest> m = ReadManifest(tmp.path("train.jsonl"), BadRowPolicy::kStrict);
  ASSERT_THAT(m, IsOk());  // every referenced WAV exists
  int speech = 0;
  for (const ManifestExample& e : m->examples) {
    for (const ManifestPart& p : e.parts) {
      if (p.modality != tokenizer::Modality::kAudio) continue;
      ++speech;
      EXPECT_GT(std::filesystem::file_size(p.value), 10000u) << p.value;  // ~2-3 s at 22 kHz
    }
  }
  EXPECT_EQ(speech, 6);
}

}  // namespace
}  // namespace mot::trainer
