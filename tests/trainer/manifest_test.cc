// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/manifest.h"

#include <sys/stat.h>

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/trainer/trainer_test_util.h"

namespace mot::trainer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using tokenizer::Modality;

class ManifestTest : public ::testing::Test {
 protected:
  void SetUp() override {
    testing::WriteText(dir_.path("img/a.png"), "not really a png");
    testing::WriteText(dir_.path("a.wav"), "RIFF");
  }
  // Writes `lines` as the manifest and returns its path.
  std::string Write(const std::vector<std::string>& lines) {
    std::string text;
    for (const std::string& l : lines) text += l + "\n";
    testing::WriteText(dir_.path("m.jsonl"), text);
    return dir_.path("m.jsonl");
  }
  testing::TempDir dir_;
};

TEST_F(ManifestTest, ParsesPartsLossAndMetaWithPathsResolvedAgainstTheManifest) {
  absl::StatusOr<ManifestExample> e = ParseManifestLine(
      R"({"parts": [{"text": "hi"}, {"image": "img/a.png"}, {"audio": "a.wav"}],
          "loss": "all", "meta": {"k": 1}})",
      dir_.path());
  ASSERT_THAT(e, IsOk());
  EXPECT_THAT(e->parts, ElementsAre(ManifestPart{Modality::kText, "hi"},
                                    ManifestPart{Modality::kImage, dir_.path("img/a.png")},
                                    ManifestPart{Modality::kAudio, dir_.path("a.wav")}));
  EXPECT_EQ(e->loss, LossMode::kAll);
  EXPECT_EQ(e->meta_json, R"({"k":1})");
}

TEST_F(ManifestTest, LossDefaultsToLast) {
  absl::StatusOr<ManifestExample> e = ParseManifestLine(R"({"parts": [{"text": "x"}]})", "");
  ASSERT_THAT(e, IsOk());
  EXPECT_EQ(e->loss, LossMode::kLast);
}

TEST_F(ManifestTest, JsonRoundTripKeepsRelativePaths) {
  absl::StatusOr<ManifestExample> e = ParseManifestLine(
      R"({"parts": [{"image": "img/a.png"}, {"text": "a \"quoted\" caption"}], "meta": [1]})",
      dir_.path());
  ASSERT_THAT(e, IsOk());
  const std::string line = ManifestExampleToJson(*e, dir_.path());
  EXPECT_THAT(line, HasSubstr(R"("image":"img/a.png")"));
  absl::StatusOr<ManifestExample> back = ParseManifestLine(line, dir_.path());
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(*back, *e);
}

TEST_F(ManifestTest, FieldErrorsNameTheField) {
  EXPECT_THAT(ParseManifestLine("{\"parts\": [{\"text\": \"a\"}", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not well-formed JSON")));
  EXPECT_THAT(ParseManifestLine(R"({"loss": "all"})", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("missing field parts")));
  EXPECT_THAT(ParseManifestLine(R"({"parts": []})", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field parts")));
  EXPECT_THAT(
      ParseManifestLine(R"({"parts": [{"text": "a"}, {"video": "v.mp4"}]})", ""),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parts[1]: unknown key \"video\"")));
  EXPECT_THAT(ParseManifestLine(R"({"parts": [{"text": 3}]})", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("parts[0]: \"text\"")));
  EXPECT_THAT(ParseManifestLine(R"({"parts": [{"text": "a"}], "loss": "first"})", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field loss")));
  EXPECT_THAT(ParseManifestLine(R"({"parts": [{"text": "a"}], "los": "all"})", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown field \"los\"")));
  EXPECT_THAT(ParseManifestLine(R"([1, 2])", ""),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("JSON object")));
}

TEST_F(ManifestTest, MissingFileIsNotFoundNamingThePath) {
  EXPECT_THAT(ParseManifestLine(R"({"parts": [{"image": "nope.png"}]})", dir_.path()),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("nope.png")));
  // Unless files are not checked.
  EXPECT_THAT(ParseManifestLine(R"({"parts": [{"image": "nope.png"}]})", dir_.path(), false),
              IsOk());
}

TEST_F(ManifestTest, UnreadableFileIsPermissionDenied) {
  if (geteuid() == 0) GTEST_SKIP() << "root reads every file";
  const std::string path = dir_.path("secret.png");
  testing::WriteText(path, "x");
  ASSERT_EQ(chmod(path.c_str(), 0), 0);
  EXPECT_THAT(ParseManifestLine(R"({"parts": [{"image": "secret.png"}]})", dir_.path()),
              StatusIs(absl::StatusCode::kPermissionDenied, HasSubstr("secret.png")));
}

TEST_F(ManifestTest, SkipModeReportsEachBadRowWithItsLineAndKeepsTheRest) {
  const std::string path = Write({
      R"({"parts": [{"text": "good one"}]})",                   // 1
      "this is not json",                                       // 2
      "",                                                       // 3: blank, skipped silently
      R"({"loss": "all"})",                                     // 4
      R"({"parts": [{"image": "gone.png"}]})",                  // 5
      R"({"parts": [{"image": "img/a.png"}, {"text": "t"}]})",  // 6
  });
  std::vector<std::string> reported;
  absl::StatusOr<Manifest> m = ReadManifest(path, BadRowPolicy::kSkip, true, [&](const BadRow& r) {
    reported.push_back(FormatBadRow(path, r));
  });
  ASSERT_THAT(m, IsOk());
  ASSERT_EQ(m->examples.size(), 2u);
  EXPECT_EQ(m->examples[0].line, 1);
  EXPECT_EQ(m->examples[1].line, 6);
  ASSERT_EQ(reported.size(), 3u);
  EXPECT_THAT(reported[0], HasSubstr(path + ":2: the line is not well-formed JSON"));
  EXPECT_THAT(reported[1], HasSubstr(path + ":4: missing field parts"));
  EXPECT_THAT(reported[2], HasSubstr(path + ":5: parts[0] (image): file "));
  EXPECT_THAT(reported[2], HasSubstr("gone.png does not exist"));
  EXPECT_EQ(m->bad_rows.size(), 3u);
}

TEST_F(ManifestTest, StrictModeFailsAtTheFirstBadRowNamingTheLine) {
  const std::string path =
      Write({R"({"parts": [{"text": "ok"}]})", R"({"parts": [{"audio": "x.wav"}]})", "not json"});
  EXPECT_THAT(ReadManifest(path, BadRowPolicy::kStrict),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr(path + ":2: parts[0] (audio)")));
}

TEST_F(ManifestTest, MissingManifestIsNotFound) {
  EXPECT_THAT(ReadManifest(dir_.path("absent.jsonl"), BadRowPolicy::kSkip),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("absent.jsonl")));
}

TEST_F(ManifestTest, ResolveManifestPathPicksTrainJsonlInADirectory) {
  EXPECT_EQ(ResolveManifestPath(dir_.path()), dir_.path("train.jsonl"));
  const std::string file = Write({R"({"parts": [{"text": "a"}]})"});
  EXPECT_EQ(ResolveManifestPath(file), file);
}

}  // namespace
}  // namespace mot::trainer
