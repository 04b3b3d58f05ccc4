// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/image/image_codec.h
// Image bytes <-> 8-bit RGB pixels, with stb_image / stb_image_resize / stb_image_write
// (compiled privately into image_codec.cc with static linkage, so they never clash with
// Debian's libstb.so). DecodeImage reads every format stb_image reads (PNG, JPEG, BMP, GIF
// first frame, TGA, PSD composite, HDR tone-mapped to 8 bits, PIC, PNM) and checks the
// limits BEFORE decoding: the encoded size, then width*height from the header alone; while
// decoding, no single allocation may exceed 16 bytes per header pixel (+1 MiB), which stops
// zlib bombs inside a small-looking PNG. Three defects of Debian's stb_image 2.27 that our
// fuzzer found are closed here, not in stb: JPEG Huffman tables over 256 codes and binary
// PNM header numbers over INT_MAX are refused before stb reads them, and stb's allocations
// are zeroed (a scan naming an undefined Huffman table read uninitialized tables).
// Gray is replicated to RGB; alpha is composited on white (a transparent pixel becomes
// white, not black). 16-bit PNGs and HDR are reduced to 8 bits by stb.
// Thread rule: pure functions, safe from any thread.
#ifndef MOT_ENGINE_TOKENIZER_IMAGE_IMAGE_CODEC_H_
#define MOT_ENGINE_TOKENIZER_IMAGE_IMAGE_CODEC_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mot::tokenizer {

// Limits on one untrusted image.
struct ImageLimits {
  int64_t max_bytes = int64_t{32} << 20;  // encoded size; at most INT32_MAX is accepted
  int64_t max_pixels = int64_t{1} << 25;  // width * height from the header (~33.5 MP)
};

// 8-bit RGB pixels, row-major [height, width, 3].
struct RgbImage {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> pixels;
};

// Decodes `bytes` to RGB. `part` names the image in messages ("image part 2").
// InvalidArgument: empty input, unknown format, corrupt or truncated data (stb's reason is
// in the message). ResourceExhausted: more than limits.max_bytes bytes, or a header
// claiming more than limits.max_pixels pixels (nothing is decoded then), or a decoder
// allocation over the per-image cap.
absl::StatusOr<RgbImage> DecodeImage(std::string_view bytes, std::string_view part,
                                     const ImageLimits& limits = {});

// Scales `image` so its short side is `size` and crops the centered size x size square:
// the centered square of side min(width, height) is cut first, then resampled with
// stb_image_resize's default filters (Mitchell when shrinking, Catmull-Rom when growing),
// in linear light (sRGB decoded and re-encoded). InvalidArgument for an empty image or
// size < 1.
absl::StatusOr<RgbImage> ResizeAndCenterCrop(const RgbImage& image, int size);

// PNG bytes (stb_image_write, in memory) of `image`. InvalidArgument for an empty image or
// pixels.size() != width*height*3; Internal if the writer fails.
absl::StatusOr<std::string> EncodePng(const RgbImage& image);

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_IMAGE_IMAGE_CODEC_H_
