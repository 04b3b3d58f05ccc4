// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/image/image_tokenizer.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "engine/core/tensor.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/safetensors.h"
#include "tests/testing/status_matchers.h"

namespace mot::tokenizer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

constexpr int kResolution = 32;
constexpr int kPatch = 8;
constexpr int kDim = kPatch * kPatch * 3;

// A codebook of `k` random patches whose values are multiples of 1/255, so decoding them
// gives exactly the bytes they came from.
std::vector<float> ByteCodebook(int k, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_int_distribution<int> byte(0, 255);
  std::vector<float> codebook(static_cast<size_t>(k) * kDim);
  for (float& v : codebook) v = static_cast<float>(byte(gen)) / 255.0f;
  return codebook;
}

// A smooth image: a sum of two low-frequency waves per channel with random phases.
RgbImage Smooth(int size, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> u(0.0f, 6.2832f);
  RgbImage image;
  image.width = image.height = size;
  float phase[3][2];
  for (auto& p : phase) p[0] = u(gen), p[1] = u(gen);
  for (int y = 0; y < size; ++y) {
    for (int x = 0; x < size; ++x) {
      for (int c = 0; c < 3; ++c) {
        const float v = 127.5f + 60.0f * std::sin(x * 0.07f + phase[c][0]) +
                        60.0f * std::cos(y * 0.05f + phase[c][1]);
        image.pixels.push_back(static_cast<uint8_t>(std::lround(v)));
      }
    }
  }
  return image;
}

std::string TempPath(const std::string& name) {
  return (std::filesystem::path(::testing::TempDir()) / name).string();
}

std::map<std::string, std::string> GoodMetadata() {
  return {{"format", "mot-image-vq"}, {"resolution", "32"}, {"patch_size", "8"}, {"channels", "3"}};
}

TEST(ImageTokenizerTest, RoundTripOfCodebookPatchesIsExact) {
  absl::StatusOr<ImageTokenizer> tok =
      ImageTokenizer::Create(kResolution, kPatch, ByteCodebook(64, 1));
  ASSERT_THAT(tok, IsOk());
  EXPECT_EQ(tok->tokens_per_image(), 16);
  EXPECT_EQ(tok->codebook_size(), 64);
  std::mt19937 gen(2);
  std::vector<int32_t> codes(16);
  for (int32_t& c : codes) c = static_cast<int32_t>(gen() % 64);
  absl::StatusOr<RgbImage> image = tok->Decode(codes);
  ASSERT_THAT(image, IsOk());
  EXPECT_EQ(image->width, kResolution);
  absl::StatusOr<std::vector<int32_t>> again = tok->EncodeImage(*image, "image part 0");
  ASSERT_THAT(again, IsOk());
  EXPECT_EQ(*again, codes);
  // Through PNG bytes and the full decode path.
  absl::StatusOr<std::string> png = tok->DecodeToPng(codes);
  ASSERT_THAT(png, IsOk());
  absl::StatusOr<std::vector<int32_t>> from_png = tok->Encode(*png, "image part 0");
  ASSERT_THAT(from_png, IsOk());
  EXPECT_EQ(*from_png, codes);
}

TEST(ImageTokenizerTest, TrainedCodebookReconstructsHeldOutSmoothImage) {
  std::vector<RgbImage> train;
  for (uint32_t s = 0; s < 12; ++s) train.push_back(Smooth(64, 100 + s));
  ImageTrainOptions opts;
  opts.resolution = 64;
  opts.patch_size = 4;
  opts.codebook_size = 128;
  opts.iterations = 10;
  opts.seed = 3;
  absl::StatusOr<ImageTokenizer> tok = ImageTokenizer::Train(train, opts);
  ASSERT_THAT(tok, IsOk());
  EXPECT_EQ(tok->tokens_per_image(), 256);
  const RgbImage held_out = Smooth(64, 999);
  absl::StatusOr<std::vector<int32_t>> codes = tok->EncodeImage(held_out, "img");
  ASSERT_THAT(codes, IsOk());
  absl::StatusOr<RgbImage> back = tok->Decode(*codes);
  ASSERT_THAT(back, IsOk());
  const double psnr = Psnr(held_out, *back);
  std::printf("held-out smooth image PSNR: %.2f dB\n", psnr);
  EXPECT_GT(psnr, 22.0);  // measured 24.0 dB (12 training images, 128 codes)
}

TEST(ImageTokenizerTest, SaveLoadRoundTrip) {
  absl::StatusOr<ImageTokenizer> tok =
      ImageTokenizer::Create(kResolution, kPatch, ByteCodebook(10, 4));
  ASSERT_THAT(tok, IsOk());
  const std::string path = TempPath("image_tokenizer_roundtrip.safetensors");
  ASSERT_THAT(tok->Save(path), IsOk());
  absl::StatusOr<ImageTokenizer> loaded = ImageTokenizer::Load(path);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->resolution(), kResolution);
  EXPECT_EQ(loaded->patch_size(), kPatch);
  EXPECT_EQ(loaded->codebook(), tok->codebook());
}

TEST(ImageTokenizerTest, EncodeResizesAndNamesThePartInErrors) {
  absl::StatusOr<ImageTokenizer> tok =
      ImageTokenizer::Create(kResolution, kPatch, ByteCodebook(8, 5));
  ASSERT_THAT(tok, IsOk());
  absl::StatusOr<std::vector<int32_t>> codes = tok->EncodeImage(Smooth(50, 1), "img");
  ASSERT_THAT(codes, IsOk());
  EXPECT_EQ(codes->size(), 16u);
  EXPECT_THAT(tok->Encode("", "image part 2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("image part 2: empty")));
  EXPECT_THAT(tok->Encode("GIF89a", "image part 4"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("image part 4")));
  ImageLimits limits;
  limits.max_bytes = 10;
  absl::StatusOr<ImageTokenizer> small =
      ImageTokenizer::Create(kResolution, kPatch, ByteCodebook(8, 5), limits);
  ASSERT_THAT(small, IsOk());
  EXPECT_THAT(small->Encode(std::string(11, 'x'), "image part 1"),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("image part 1")));
}

TEST(ImageTokenizerTest, DecodeRejectsBadCodes) {
  absl::StatusOr<ImageTokenizer> tok =
      ImageTokenizer::Create(kResolution, kPatch, ByteCodebook(8, 6));
  ASSERT_THAT(tok, IsOk());
  std::vector<int32_t> codes(16, 0);
  codes[5] = 8;
  EXPECT_THAT(tok->Decode(codes), StatusIs(absl::StatusCode::kInvalidArgument,
                                           HasSubstr("code 8 at position 5 is outside [0, 8)")));
  codes[5] = -1;
  EXPECT_THAT(tok->DecodeToPng(codes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("code -1 at position 5")));
  codes.pop_back();
  EXPECT_THAT(tok->Decode(codes),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected 16 codes, got 15")));
}

TEST(ImageTokenizerTest, CreateAndTrainRejectBadGeometry) {
  EXPECT_THAT(ImageTokenizer::Create(30, 8, ByteCodebook(4, 7)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("patch_size 8 does not divide resolution 30")));
  EXPECT_THAT(ImageTokenizer::Create(32, 8, std::vector<float>(kDim + 1, 0.5f)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("not a positive multiple of the patch dimension 192")));
  std::vector<float> nan_book = ByteCodebook(2, 7);
  nan_book[kDim + 3] = NAN;
  EXPECT_THAT(ImageTokenizer::Create(32, 8, nan_book),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("code 1 value 3")));
  ImageTrainOptions opts;
  opts.resolution = 32;
  opts.patch_size = 8;
  opts.codebook_size = 17;
  EXPECT_THAT(ImageTokenizer::Train({Smooth(32, 1)}, opts),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("16 patches for 17 codes")));
  EXPECT_THAT(ImageTokenizer::Train({}, opts),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no images")));
}

// Writes a safetensors file with `codebook` (shape `shape`) and `metadata`.
std::string WriteFile(const std::string& name, const std::vector<int64_t>& shape,
                      const std::map<std::string, std::string>& metadata,
                      const std::string& tensor_name = "codebook") {
  const std::string path = TempPath(name);
  Tensor t = Tensor::Zeros(DType::kF32, shape);
  EXPECT_THAT(WriteSafetensors(path, {{tensor_name, t}}, metadata), IsOk());
  return path;
}

TEST(ImageTokenizerTest, LoadRejectsBadFiles) {
  EXPECT_THAT(ImageTokenizer::Load(TempPath("no_such_image_tokenizer.safetensors")),
              StatusIs(absl::StatusCode::kNotFound, ::testing::_));

  const std::string wrong_dim = WriteFile("wrong_dim.safetensors", {4, 100}, GoodMetadata());
  EXPECT_THAT(ImageTokenizer::Load(wrong_dim),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       ::testing::AllOf(HasSubstr("wrong_dim.safetensors"),
                                        HasSubstr("tensor \"codebook\": shape must be"))));
  const std::string rank3 = WriteFile("rank3.safetensors", {4, 192, 1}, GoodMetadata());
  EXPECT_THAT(ImageTokenizer::Load(rank3),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("[4, 192, 1]")));

  const std::string missing_tensor =
      WriteFile("missing_tensor.safetensors", {4, 192}, GoodMetadata(), "other");
  EXPECT_THAT(
      ImageTokenizer::Load(missing_tensor),
      StatusIs(absl::StatusCode::kNotFound,
               ::testing::AllOf(HasSubstr("missing_tensor.safetensors"), HasSubstr("codebook"))));

  std::map<std::string, std::string> no_patch = GoodMetadata();
  no_patch.erase("patch_size");
  EXPECT_THAT(ImageTokenizer::Load(WriteFile("no_patch.safetensors", {4, 192}, no_patch)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("__metadata__ key \"patch_size\": missing")));

  std::map<std::string, std::string> bad_res = GoodMetadata();
  bad_res["resolution"] = "36";
  EXPECT_THAT(ImageTokenizer::Load(WriteFile("bad_res.safetensors", {4, 192}, bad_res)),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("patch_size 8 does not divide resolution 36")));

  std::map<std::string, std::string> not_int = GoodMetadata();
  not_int["resolution"] = "32px";
  EXPECT_THAT(ImageTokenizer::Load(WriteFile("not_int.safetensors", {4, 192}, not_int)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not an integer")));

  std::map<std::string, std::string> no_format = GoodMetadata();
  no_format.erase("format");
  EXPECT_THAT(ImageTokenizer::Load(WriteFile("no_format.safetensors", {4, 192}, no_format)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("\"format\"")));

  std::map<std::string, std::string> gray = GoodMetadata();
  gray["channels"] = "1";
  EXPECT_THAT(ImageTokenizer::Load(WriteFile("gray.safetensors", {4, 192}, gray)),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("must be 3, got 1")));

  EXPECT_THAT(ImageTokenizer::Load(WriteFile("good.safetensors", {4, 192}, GoodMetadata())),
              IsOk());
}

}  // namespace
}  // namespace mot::tokenizer
