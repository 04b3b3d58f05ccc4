// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/fuzz/image_fuzz.cc
// libFuzzer target for the image entry point: arbitrary bytes -> ImageTokenizer::Encode
// (stb decode with limits, RGB conversion, resize + crop, VQ) and, when that succeeds,
// DecodeToPng of the codes and a decode of that PNG. Any crash, sanitizer report or a
// broken invariant (wrong code count, codes out of range, PNG not decodable) is a finding.
// Run strict: UBSan reports fatal, one benign stb report suppressed (see the .supp file):
//   S=tests/fuzz/image_fuzz.ubsan.supp
//   UBSAN_OPTIONS=halt_on_error=1:suppressions=$PWD/$S scripts/fuzz.sh image_fuzz 660
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "engine/tokenizer/image/image_codec.h"
#include "engine/tokenizer/image/image_tokenizer.h"

namespace {

const mot::tokenizer::ImageTokenizer& Tokenizer() {
  static const mot::tokenizer::ImageTokenizer* tok = [] {
    // 32 x 32 images, 8 x 8 patches, 16 codes: gray levels, so every image has an answer.
    constexpr int kDim = 8 * 8 * 3;
    std::vector<float> codebook(16 * kDim);
    for (int c = 0; c < 16; ++c) {
      for (int j = 0; j < kDim; ++j) codebook[c * kDim + j] = c / 15.0f;
    }
    mot::tokenizer::ImageLimits limits;
    limits.max_bytes = 1 << 20;
    // 512 x 512: a tiny BMP may claim that many pixels and stb reads past its end as
    // zeros; under ASan a 4 MP one took seconds, which only slowed the fuzzer down.
    limits.max_pixels = 1 << 18;
    auto t = mot::tokenizer::ImageTokenizer::Create(32, 8, std::move(codebook), limits);
    if (!t.ok()) std::abort();
    return new mot::tokenizer::ImageTokenizer(*std::move(t));
  }();
  return *tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const mot::tokenizer::ImageTokenizer& tok = Tokenizer();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto codes = tok.Encode(bytes, "image part 0");
  if (!codes.ok()) return 0;
  if (static_cast<int64_t>(codes->size()) != tok.tokens_per_image()) std::abort();
  for (int32_t c : *codes) {
    if (c < 0 || c >= tok.codebook_size()) std::abort();
  }
  auto png = tok.DecodeToPng(*codes);
  if (!png.ok()) std::abort();
  auto back = mot::tokenizer::DecodeImage(*png, "round trip");
  if (!back.ok() || back->width != tok.resolution() || back->height != tok.resolution()) {
    std::abort();
  }
  return 0;
}
