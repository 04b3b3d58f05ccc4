// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "server/media_sniff.h"

#include <cstdlib>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace mot::server {
namespace {

uint32_t Be32(absl::string_view b, size_t at) {
  return (uint32_t{static_cast<uint8_t>(b[at])} << 24) |
         (uint32_t{static_cast<uint8_t>(b[at + 1])} << 16) |
         (uint32_t{static_cast<uint8_t>(b[at + 2])} << 8) |
         uint32_t{static_cast<uint8_t>(b[at + 3])};
}
uint32_t Be16(absl::string_view b, size_t at) {
  return (uint32_t{static_cast<uint8_t>(b[at])} << 8) | uint32_t{static_cast<uint8_t>(b[at + 1])};
}
uint32_t Le16(absl::string_view b, size_t at) {
  return uint32_t{static_cast<uint8_t>(b[at])} | (uint32_t{static_cast<uint8_t>(b[at + 1])} << 8);
}
int32_t Le32s(absl::string_view b, size_t at) {
  return static_cast<int32_t>(Le16(b, at) | (Le16(b, at + 2) << 16));
}

absl::StatusOr<ImageHeader> PngHeader(absl::string_view b) {
  // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4).
  if (b.size() < 24) return absl::InvalidArgumentError("PNG header is truncated");
  if (b.substr(12, 4) != "IHDR") return absl::InvalidArgumentError("PNG has no IHDR chunk first");
  return ImageHeader{MediaFormat::kPng, Be32(b, 16), Be32(b, 20)};
}

absl::StatusOr<ImageHeader> JpegHeader(absl::string_view b) {
  // Walk the marker segments from after SOI to the first frame header (SOF0..SOF15 except
  // DHT C4, JPG C8, DAC CC): FF Cn len(2) precision(1) height(2) width(2).
  size_t at = 2;
  while (at + 4 <= b.size()) {
    if (static_cast<uint8_t>(b[at]) != 0xFF) {
      return absl::InvalidArgumentError("JPEG markers are corrupt");
    }
    const uint8_t marker = static_cast<uint8_t>(b[at + 1]);
    if (marker == 0xFF) {  // fill byte
      ++at;
      continue;
    }
    if (marker == 0xD8 || (marker >= 0xD0 && marker <= 0xD7) || marker == 0x01) {
      at += 2;  // markers without a length
      continue;
    }
    if (marker == 0xD9 || marker == 0xDA) break;  // end of image / start of scan
    const uint32_t len = Be16(b, at + 2);
    if (len < 2) return absl::InvalidArgumentError("JPEG segment length is corrupt");
    const bool is_sof =
        marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    if (is_sof) {
      if (at + 9 > b.size()) return absl::InvalidArgumentError("JPEG frame header is truncated");
      return ImageHeader{MediaFormat::kJpeg, Be16(b, at + 7), Be16(b, at + 5)};
    }
    at += 2 + len;
  }
  return absl::InvalidArgumentError("JPEG has no frame header (truncated or corrupt)");
}

absl::StatusOr<ImageHeader> GifHeader(absl::string_view b) {
  if (b.size() < 10) return absl::InvalidArgumentError("GIF header is truncated");
  return ImageHeader{MediaFormat::kGif, Le16(b, 6), Le16(b, 8)};
}

absl::StatusOr<ImageHeader> BmpHeader(absl::string_view b) {
  if (b.size() < 26) return absl::InvalidArgumentError("BMP header is truncated");
  const uint32_t dib = static_cast<uint32_t>(Le32s(b, 14));
  if (dib == 12) {  // BITMAPCOREHEADER: 16-bit sizes
    return ImageHeader{MediaFormat::kBmp, Le16(b, 18), Le16(b, 20)};
  }
  // Height is negative for top-down bitmaps.
  const int64_t w = Le32s(b, 18), h = Le32s(b, 22);
  return ImageHeader{MediaFormat::kBmp, w, h < 0 ? -h : h};
}

}  // namespace

const char* MimeTypeOf(MediaFormat f) {
  switch (f) {
    case MediaFormat::kPng:
      return "image/png";
    case MediaFormat::kJpeg:
      return "image/jpeg";
    case MediaFormat::kGif:
      return "image/gif";
    case MediaFormat::kBmp:
      return "image/bmp";
    case MediaFormat::kWav:
      return "audio/wav";
    case MediaFormat::kFlac:
      return "audio/flac";
    case MediaFormat::kOgg:
      return "audio/ogg";
    case MediaFormat::kUnknown:
      break;
  }
  return "";
}

bool IsImageFormat(MediaFormat f) {
  return f == MediaFormat::kPng || f == MediaFormat::kJpeg || f == MediaFormat::kGif ||
         f == MediaFormat::kBmp;
}
bool IsAudioFormat(MediaFormat f) {
  return f == MediaFormat::kWav || f == MediaFormat::kFlac || f == MediaFormat::kOgg;
}

MediaFormat FormatOfMimeType(absl::string_view mime_type) {
  absl::string_view m = mime_type;
  if (size_t semi = m.find(';'); semi != absl::string_view::npos) m = m.substr(0, semi);
  const std::string t = absl::AsciiStrToLower(absl::StripAsciiWhitespace(m));
  if (t == "image/png") return MediaFormat::kPng;
  if (t == "image/jpeg" || t == "image/jpg" || t == "image/pjpeg") return MediaFormat::kJpeg;
  if (t == "image/gif") return MediaFormat::kGif;
  if (t == "image/bmp" || t == "image/x-bmp" || t == "image/x-ms-bmp") return MediaFormat::kBmp;
  if (t == "audio/wav" || t == "audio/x-wav" || t == "audio/wave" || t == "audio/vnd.wave") {
    return MediaFormat::kWav;
  }
  if (t == "audio/flac" || t == "audio/x-flac") return MediaFormat::kFlac;
  if (t == "audio/ogg" || t == "audio/vorbis" || t == "application/ogg") return MediaFormat::kOgg;
  return MediaFormat::kUnknown;
}

MediaFormat SniffFormat(absl::string_view b) {
  if (absl::StartsWith(b, "\x89PNG\r\n\x1a\n")) return MediaFormat::kPng;
  if (absl::StartsWith(b, "\xFF\xD8\xFF")) return MediaFormat::kJpeg;
  if (absl::StartsWith(b, "GIF87a") || absl::StartsWith(b, "GIF89a")) return MediaFormat::kGif;
  if (absl::StartsWith(b, "BM") && b.size() >= 14) return MediaFormat::kBmp;
  if (b.size() >= 12 && (absl::StartsWith(b, "RIFF") || absl::StartsWith(b, "RIFX")) &&
      b.substr(8, 4) == "WAVE") {
    return MediaFormat::kWav;
  }
  if (absl::StartsWith(b, "fLaC")) return MediaFormat::kFlac;
  if (absl::StartsWith(b, "OggS")) return MediaFormat::kOgg;
  return MediaFormat::kUnknown;
}

absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes) {
  switch (SniffFormat(bytes)) {
    case MediaFormat::kPng:
      return PngHeader(bytes);
    case MediaFormat::kJpeg:
      return JpegHeader(bytes);
    case MediaFormat::kGif:
      return GifHeader(bytes);
    case MediaFormat::kBmp:
      return BmpHeader(bytes);
    default:
      break;
  }
  return absl::InvalidArgumentError("not a PNG, JPEG, GIF or BMP image");
}

}  // namespace mot::server
