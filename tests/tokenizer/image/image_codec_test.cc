// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/image/image_codec.h"

#include <cstdint>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

// The test writes its inputs with its own private copy of stb_image_write.
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "stb_image_write.h"
#pragma GCC diagnostic pop

namespace mot::tokenizer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

void Append(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
}

enum class Format { kPng, kBmp, kTga, kJpg };

// Encodes w x h pixels of `comp` channels with stb_image_write.
std::string Write(Format format, int w, int h, int comp, const std::vector<uint8_t>& pixels) {
  std::string out;
  int ok = 0;
  switch (format) {
    case Format::kPng:
      ok = stbi_write_png_to_func(Append, &out, w, h, comp, pixels.data(), w * comp);
      break;
    case Format::kBmp:
      ok = stbi_write_bmp_to_func(Append, &out, w, h, comp, pixels.data());
      break;
    case Format::kTga:
      ok = stbi_write_tga_to_func(Append, &out, w, h, comp, pixels.data());
      break;
    case Format::kJpg:
      ok = stbi_write_jpg_to_func(Append, &out, w, h, comp, pixels.data(), 95);
      break;
  }
  EXPECT_NE(ok, 0);
  return out;
}

// A smooth RGB test card, w x h.
std::vector<uint8_t> Card(int w, int h) {
  std::vector<uint8_t> p;
  for (int y = 0; y < h; ++y) {
    for (int x = 0; x < w; ++x) {
      p.push_back(static_cast<uint8_t>(x * 255 / (w - 1)));
      p.push_back(static_cast<uint8_t>(y * 255 / (h - 1)));
      p.push_back(static_cast<uint8_t>((x + y) * 127 / (w + h - 2) + 64));
    }
  }
  return p;
}

double PsnrBytes(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) {
  double se = 0;
  for (size_t i = 0; i < a.size(); ++i) se += (a[i] - b[i]) * (a[i] - b[i]);
  return se == 0 ? 1e9 : 10 * std::log10(255.0 * 255.0 * a.size() / se);
}

// A PNG chunk with a zero CRC (stb_image does not check CRCs).
std::string Chunk(const std::string& type, const std::string& data) {
  std::string c;
  const uint32_t n = static_cast<uint32_t>(data.size());
  c += static_cast<char>(n >> 24);
  c += static_cast<char>(n >> 16);
  c += static_cast<char>(n >> 8);
  c += static_cast<char>(n);
  c += type + data + std::string(4, '\0');
  return c;
}

std::string Be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
          static_cast<char>(v)};
}

// PNG signature + IHDR for a w x h 8-bit RGB image, then `rest`.
std::string PngHeader(uint32_t w, uint32_t h) {
  return std::string("\x89PNG\r\n\x1a\n", 8) +
         Chunk("IHDR", Be32(w) + Be32(h) + std::string("\x08\x02\x00\x00\x00", 5));
}

TEST(ImageCodecTest, LosslessFormatsDecodeExactly) {
  const int w = 40, h = 30;
  const std::vector<uint8_t> card = Card(w, h);
  for (Format f : {Format::kPng, Format::kBmp, Format::kTga}) {
    absl::StatusOr<RgbImage> image = DecodeImage(Write(f, w, h, 3, card), "image part 0");
    ASSERT_THAT(image, IsOk()) << static_cast<int>(f);
    EXPECT_EQ(image->width, w);
    EXPECT_EQ(image->height, h);
    EXPECT_EQ(image->pixels, card) << "format " << static_cast<int>(f);
  }
}

TEST(ImageCodecTest, JpegDecodesClose) {
  const int w = 48, h = 32;
  const std::vector<uint8_t> card = Card(w, h);
  absl::StatusOr<RgbImage> image = DecodeImage(Write(Format::kJpg, w, h, 3, card), "img");
  ASSERT_THAT(image, IsOk());
  EXPECT_EQ(image->width, w);
  EXPECT_EQ(image->height, h);
  EXPECT_GT(PsnrBytes(image->pixels, card), 30.0);
}

TEST(ImageCodecTest, GifFirstFrameDecodes) {
  // GIF89a, 2x2, global palette {red, green, blue, white}, one frame with pixels 0 1 / 2 3
  // (LZW, minimum code size 2: clear, 0, 1, 2 in 3 bits, then 3 and end in 4 bits).
  const std::string gif = std::string("GIF89a\x02\x00\x02\x00\x81\x00\x00", 13) +
                          std::string("\xff\x00\x00\x00\xff\x00\x00\x00\xff\xff\xff\xff", 12) +
                          std::string("\x2c\x00\x00\x00\x00\x02\x00\x02\x00\x00", 10) +
                          std::string("\x02\x03\x44\x34\x05\x00\x3b", 7);
  absl::StatusOr<RgbImage> image = DecodeImage(gif, "image part 1");
  ASSERT_THAT(image, IsOk());
  EXPECT_EQ(image->width, 2);
  EXPECT_EQ(image->height, 2);
  EXPECT_EQ(image->pixels, (std::vector<uint8_t>{255, 0, 0, 0, 255, 0, 0, 0, 255, 255, 255, 255}));
}

TEST(ImageCodecTest, PnmDecodes) {
  const std::string ppm =
      std::string("P6\n2 1\n255\n") + std::string("\x01\x02\x03\xfa\xfb\xfc", 6);
  absl::StatusOr<RgbImage> image = DecodeImage(ppm, "img");
  ASSERT_THAT(image, IsOk());
  EXPECT_EQ(image->pixels, (std::vector<uint8_t>{1, 2, 3, 250, 251, 252}));
}

TEST(ImageCodecTest, GrayIsReplicatedAndAlphaCompositedOnWhite) {
  absl::StatusOr<RgbImage> gray = DecodeImage(Write(Format::kPng, 2, 1, 1, {10, 200}), "img");
  ASSERT_THAT(gray, IsOk());
  EXPECT_EQ(gray->pixels, (std::vector<uint8_t>{10, 10, 10, 200, 200, 200}));

  // Gray + alpha: opaque 10, transparent, half-covered 0 -> 255 - 255*128/255 = 127.
  absl::StatusOr<RgbImage> ga =
      DecodeImage(Write(Format::kPng, 3, 1, 2, {10, 255, 10, 0, 0, 128}), "img");
  ASSERT_THAT(ga, IsOk());
  EXPECT_EQ(ga->pixels, (std::vector<uint8_t>{10, 10, 10, 255, 255, 255, 127, 127, 127}));

  absl::StatusOr<RgbImage> rgba =
      DecodeImage(Write(Format::kPng, 2, 1, 4, {1, 2, 3, 255, 0, 0, 0, 0}), "img");
  ASSERT_THAT(rgba, IsOk());
  EXPECT_EQ(rgba->pixels, (std::vector<uint8_t>{1, 2, 3, 255, 255, 255}));
}

TEST(ImageCodecTest, ResizeCropsTheCenterSquareOfWideAndTallImages) {
  // 300 x 200: red for x < 100, green for x < 200, blue after. The centered 200 x 200
  // square spans x in [50, 250): red on its first quarter, green on the middle half.
  RgbImage wide;
  wide.width = 300;
  wide.height = 200;
  for (int y = 0; y < 200; ++y) {
    for (int x = 0; x < 300; ++x) {
      const int band = x / 100;
      for (int c = 0; c < 3; ++c) wide.pixels.push_back(c == band ? 255 : 0);
    }
  }
  absl::StatusOr<RgbImage> out = ResizeAndCenterCrop(wide, 100);
  ASSERT_THAT(out, IsOk());
  ASSERT_EQ(out->width, 100);
  ASSERT_EQ(out->height, 100);
  auto at = [&](int x, int y, int c) { return out->pixels[(y * 100 + x) * 3 + c]; };
  for (int y : {0, 50, 99}) {
    EXPECT_EQ(at(10, y, 0), 255);
    EXPECT_EQ(at(10, y, 1), 0);
    EXPECT_EQ(at(50, y, 1), 255);
    EXPECT_EQ(at(50, y, 0), 0);
    EXPECT_EQ(at(90, y, 2), 255);
  }
  // Band edges land at 25 and 75 (within the filter's reach).
  EXPECT_GT(at(22, 50, 0), 200);
  EXPECT_GT(at(28, 50, 1), 200);
  EXPECT_GT(at(72, 50, 1), 200);
  EXPECT_GT(at(78, 50, 2), 200);

  // Tall: 20 x 60 upscaled to 40 x 40 from the rows [20, 40).
  RgbImage tall;
  tall.width = 20;
  tall.height = 60;
  for (int y = 0; y < 60; ++y) {
    for (int x = 0; x < 20; ++x) {
      const uint8_t v = y < 20 ? 0 : (y < 40 ? 128 : 255);
      tall.pixels.insert(tall.pixels.end(), {v, v, v});
    }
  }
  absl::StatusOr<RgbImage> up = ResizeAndCenterCrop(tall, 40);
  ASSERT_THAT(up, IsOk());
  EXPECT_EQ(up->width, 40);
  EXPECT_EQ(up->height, 40);
  for (uint8_t v : up->pixels) EXPECT_NEAR(v, 128, 1);

  // Same size: an exact copy of the crop.
  absl::StatusOr<RgbImage> same = ResizeAndCenterCrop(tall, 20);
  ASSERT_THAT(same, IsOk());
  EXPECT_EQ(same->pixels, std::vector<uint8_t>(tall.pixels.begin() + 20 * 20 * 3,
                                               tall.pixels.begin() + 40 * 20 * 3));
}

TEST(ImageCodecTest, PngEncodeDecodeRoundTrip) {
  RgbImage image;
  image.width = 17;
  image.height = 5;
  image.pixels = Card(17, 5);
  absl::StatusOr<std::string> png = EncodePng(image);
  ASSERT_THAT(png, IsOk());
  EXPECT_EQ(png->substr(1, 3), "PNG");
  absl::StatusOr<RgbImage> back = DecodeImage(*png, "img");
  ASSERT_THAT(back, IsOk());
  EXPECT_EQ(back->pixels, image.pixels);
  image.pixels.pop_back();
  EXPECT_THAT(EncodePng(image), StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("png")));
}

TEST(ImageCodecTest, RejectsEmptyUnknownCorruptAndTruncated) {
  EXPECT_THAT(DecodeImage("", "image part 2"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("image part 2: empty")));
  EXPECT_THAT(DecodeImage("hello, this is not an image", "image part 3"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("image part 3: unknown or corrupt image format")));
  const std::string png = Write(Format::kPng, 40, 30, 3, Card(40, 30));
  // Truncated inside the image data: the header is fine, decoding fails with stb's reason.
  EXPECT_THAT(DecodeImage(png.substr(0, png.size() / 2), "image part 4"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("image part 4: cannot decode image (")));
  // Corrupt zlib stream.
  std::string corrupt = png;
  for (size_t i = 45; i < 80; ++i) corrupt[i] = static_cast<char>(0xff);
  EXPECT_THAT(DecodeImage(corrupt, "image part 5"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("image part 5")));
  EXPECT_THAT(ResizeAndCenterCrop(RgbImage{}, 8),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("resize: bad image")));
}

TEST(ImageCodecTest, RejectsJpegHuffmanTableWithTooManyCodes) {
  // SOI, then a DHT whose 16 counts claim 16 * 255 codes (stb 2.27 would write past its
  // table arrays), then a fake SOF. Found by tests/fuzz/image_fuzz.cc.
  std::string jpeg("\xff\xd8\xff\xc4\x00\x13\x00", 7);
  jpeg += std::string(16, '\xff');
  jpeg += std::string("\xff\xc0\x00\x0b\x08\x00\x10\x00\x10\x01\x01\x11\x00", 13);
  EXPECT_THAT(DecodeImage(jpeg, "image part 6"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("image part 6: cannot decode image (bad DHT header")));
  // The same table after the first scan (progressive JPEGs define tables between scans).
  const std::string good = Write(Format::kJpg, 16, 16, 3, Card(16, 16));
  std::string late = good.substr(0, good.size() - 2) + "\xff\xc4\x00\x13\x10" +
                     std::string(16, '\x20') + "\xff\xd9";
  EXPECT_THAT(DecodeImage(late, "image part 7"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad DHT header")));
  // stb skips 0xFF fill bytes before SOI too.
  EXPECT_THAT(DecodeImage("\xff\xff" + jpeg, "image part 9"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad DHT header")));
  EXPECT_THAT(DecodeImage(good, "image part 8"), IsOk());
}

TEST(ImageCodecTest, RejectsPnmHeaderNumbersOverflowingInt) {
  // stb 2.27 would overflow a signed int reading this width. Found by image_fuzz.
  EXPECT_THAT(DecodeImage("P5\n12 # comment\n 080000000000\n255\n\x01\x02", "image part 3"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("image part 3: cannot decode image (bad PNM header")));
  EXPECT_THAT(DecodeImage("P6 2147483648 1 255 abcdef", "img"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("bad PNM header")));
}

TEST(ImageCodecTest, RejectsTooManyPixelsFromTheHeaderBeforeDecoding) {
  // The header alone claims 100000 x 100000; there is no image data at all, so only the
  // header check (not a decoding failure) can produce ResourceExhausted.
  // stb's own header reader refuses it (over 2^30 bytes of pixels).
  const std::string bomb = PngHeader(100000, 100000) + Chunk("IEND", "");
  EXPECT_THAT(DecodeImage(bomb, "image part 1"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("image part 1: image header claims dimensions too large")));
  // 15000 x 15000 passes stb's header checks; ours refuses it (default limit 2^25).
  const std::string big = PngHeader(15000, 15000) + Chunk("IEND", "");
  EXPECT_THAT(DecodeImage(big, "image part 2"),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("image part 2: image is 15000x15000 = 225000000 pixels")));
  ImageLimits tight;
  tight.max_pixels = 40 * 30 - 1;
  EXPECT_THAT(DecodeImage(Write(Format::kPng, 40, 30, 3, Card(40, 30)), "img", tight),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("over the limit of 1199")));
}

TEST(ImageCodecTest, RejectsTooManyBytes) {
  const std::string png = Write(Format::kPng, 40, 30, 3, Card(40, 30));
  ImageLimits tight;
  tight.max_bytes = static_cast<int64_t>(png.size()) - 1;
  EXPECT_THAT(
      DecodeImage(png, "image part 7", tight),
      StatusIs(absl::StatusCode::kResourceExhausted,
               HasSubstr("image part 7: image is " + std::to_string(png.size()) + " bytes")));
  tight.max_bytes = static_cast<int64_t>(png.size());
  EXPECT_THAT(DecodeImage(png, "img", tight), IsOk());
}

TEST(ImageCodecTest, CapsDecoderAllocationsForZlibBombs) {
  // A 16 x 16 PNG whose IDAT inflates to 8 MiB: the per-image allocation cap (16 bytes per
  // header pixel + 1 MiB) stops the inflater long before that.
  std::vector<uint8_t> zeros(8 << 20, 0);
  int len = 0;
  unsigned char* z = stbi_zlib_compress(zeros.data(), static_cast<int>(zeros.size()), &len, 1);
  ASSERT_NE(z, nullptr);
  const std::string idat(reinterpret_cast<const char*>(z), static_cast<size_t>(len));
  STBIW_FREE(z);
  const std::string bomb = PngHeader(16, 16) + Chunk("IDAT", idat) + Chunk("IEND", "");
  EXPECT_LT(bomb.size(), 100000u);
  EXPECT_THAT(DecodeImage(bomb, "image part 3"),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("image part 3: cannot decode image (outofmem")));
}

}  // namespace
}  // namespace mot::tokenizer
