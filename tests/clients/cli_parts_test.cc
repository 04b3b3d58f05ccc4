// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// mot-cli's ordered prompt flags and its progress bar.
#include "clients/cli_parts.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/model_loaders/test_util.h"
#include "tests/testing/status_matchers.h"

namespace mot::cli {
namespace {

using ::mot::testing::StatusIs;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(CliPartsTest, PartFlagsKeepTheirCommandLineOrder) {
  std::vector<std::string> args = {"mot-cli", "generate", "--text",  "a",     "--image=x.png",
                                   "--json",  "-text=b",  "--audio", "y.wav", "--seed=3"};
  auto flags = ExtractPartFlags(&args);
  ASSERT_TRUE(flags.ok()) << flags.status();
  ASSERT_EQ(flags->size(), 4u);
  EXPECT_EQ((*flags)[0].kind, PartFlag::kText);
  EXPECT_EQ((*flags)[0].value, "a");
  EXPECT_EQ((*flags)[1].kind, PartFlag::kImage);
  EXPECT_EQ((*flags)[1].value, "x.png");
  EXPECT_EQ((*flags)[2].value, "b");
  EXPECT_EQ((*flags)[3].kind, PartFlag::kAudio);
  EXPECT_THAT(args, ElementsAre("mot-cli", "generate", "--json", "--seed=3"));
}

TEST(CliPartsTest, MissingValueAndUnreadableFileAreNamed) {
  std::vector<std::string> args = {"mot-cli", "generate", "--image"};
  EXPECT_THAT(ExtractPartFlags(&args),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("--image: missing value")));
  EXPECT_THAT(LoadParts({{PartFlag::kAudio, "/nonexistent.wav"}}),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("--audio: cannot read")));
}

TEST(CliPartsTest, FilesGetTheirMimeTypeFromTheExtension) {
  mot::testing::ScratchDir dir;
  mot::testing::WriteAllTo(dir.Join("a.JPG"), "jpegbytes");
  auto parts = LoadParts({{PartFlag::kText, "hi"}, {PartFlag::kImage, dir.Join("a.JPG")}});
  ASSERT_TRUE(parts.ok()) << parts.status();
  EXPECT_EQ((*parts)[0].text(), "hi");
  EXPECT_EQ((*parts)[1].image().data(), "jpegbytes");
  EXPECT_EQ((*parts)[1].image().mime_type(), "image/jpeg");
}

TEST(CliPartsTest, ProgressBarFillsInProportion) {
  EXPECT_EQ(ProgressBar(0, 4, 4), "[    ] 0/4");
  EXPECT_EQ(ProgressBar(2, 4, 4), "[##  ] 2/4");
  EXPECT_EQ(ProgressBar(9, 4, 4), "[####] 4/4");
  EXPECT_EQ(ProgressBar(5, 64, 8), "[        ]  5/64");
}

}  // namespace
}  // namespace mot::cli
