// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The one translation unit that compiles stb_image, stb_image_resize and stb_image_write.
// All three are built with static linkage (STB_*_STATIC), so their symbols stay private
// to this file and cannot collide with Debian's libstb.so if another module links it.
#include "engine/tokenizer/image/image_codec.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace {

// Per-thread cap on any single allocation made by stb_image while decoding one image
// (see DecodeImage). 0 means no cap (the writer and resizer never come here).
thread_local size_t g_stbi_alloc_cap = 0;

// Zeroed, not just allocated: stb_image 2.27 can read state it never wrote (a JPEG scan
// that names a Huffman table no DHT defined reads the table's uninitialized arrays and
// indexes out of bounds with them; found by our fuzzer, range-checked upstream in 2.28).
// A zeroed table decodes every code as symbol 0 without reading outside it.
void* CappedMalloc(size_t size) {
  if (g_stbi_alloc_cap != 0 && size > g_stbi_alloc_cap) return nullptr;
  return std::calloc(1, size == 0 ? 1 : size);
}

void* CappedRealloc(void* p, size_t size) {
  if (g_stbi_alloc_cap != 0 && size > g_stbi_alloc_cap) return nullptr;
  return std::realloc(p, size);
}

}  // namespace

#define STBI_MALLOC(sz) CappedMalloc(sz)
#define STBI_REALLOC(p, sz) CappedRealloc(p, sz)
#define STBI_FREE(p) std::free(p)
#define STB_IMAGE_STATIC
#define STB_IMAGE_IMPLEMENTATION
#define STBI_NO_STDIO
#define STB_IMAGE_RESIZE_STATIC
#define STB_IMAGE_RESIZE_IMPLEMENTATION
#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wsign-compare"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wimplicit-fallthrough"
#pragma GCC diagnostic ignored "-Wunused-but-set-variable"
#pragma GCC diagnostic ignored "-Wtype-limits"
#include "stb_image.h"
#include "stb_image_resize.h"
#include "stb_image_write.h"
#pragma GCC diagnostic pop

namespace mot::tokenizer {
namespace {

// Bytes per pixel of the largest buffer stb_image allocates for an image (4 channels of
// f32 for HDR, 4 x 16 bits for PNG) and slack for small images.
constexpr size_t kAllocBytesPerPixel = 16;
constexpr size_t kAllocSlack = size_t{1} << 20;

struct StbImageDeleter {
  void operator()(stbi_uc* p) const { stbi_image_free(p); }
};

// Sets the allocation cap for this thread while alive.
class ScopedAllocCap {
 public:
  explicit ScopedAllocCap(size_t cap) : saved_(g_stbi_alloc_cap) { g_stbi_alloc_cap = cap; }
  ~ScopedAllocCap() { g_stbi_alloc_cap = saved_; }

 private:
  size_t saved_;
};

// True when one of stb's per-format header readers rejects `data` as too large for it
// (stb refuses headers over 2^24 per side or 2^30 bytes of pixels before allocating).
// stbi_info tries every format in turn, so the "too large" reason of the format that
// matched is overwritten by later ones; this asks each format on its own.
bool HeaderTooLargeForStb(const stbi_uc* data, int len) {
  using InfoFn = int (*)(stbi__context*, int*, int*, int*);
  for (InfoFn info :
       {stbi__png_info, stbi__jpeg_info, stbi__bmp_info, stbi__gif_info, stbi__psd_info,
        stbi__pic_info, stbi__pnm_info, stbi__hdr_info, stbi__tga_info}) {
    stbi__context s;
    stbi__start_mem(&s, data, len);
    int x = 0, y = 0, comp = 0;
    stbi__g_failure_reason = nullptr;
    if (!info(&s, &x, &y, &comp) && stbi__g_failure_reason != nullptr &&
        std::strcmp(stbi__g_failure_reason, "too large") == 0) {
      return true;
    }
  }
  return false;
}

// Debian's stb_image 2.27 trusts the 16 code-length counts of a JPEG Huffman table
// (DHT): a table claiming more than 256 codes writes past stbi__huffman's arrays inside the
// decoder's heap object (fixed upstream in 2.28 by rejecting n > 256). Found by our fuzzer.
// This check runs before stb sees the bytes and refuses such tables. Segments are walked by
// their lengths up to the first start-of-scan, as stb does; from there on (entropy-coded
// data, where a real 0xFF byte is always stuffed as FF 00) every FF C4 is checked, which
// covers every DHT stb could reach. Returns false when a table is bad.
bool JpegHuffmanTablesValid(std::string_view bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t size = bytes.size();
  // stb takes any run of 0xFF fill bytes before a marker, SOI included.
  size_t pos = 0;
  while (pos < size && b[pos] == 0xff) ++pos;
  if (pos == 0 || pos >= size || b[pos] != 0xd8) return true;  // not a JPEG to stb
  ++pos;
  // Checks the DHT segment whose length field starts at `pos`.
  auto dht_ok = [&](size_t at) {
    if (at + 2 > size) return true;  // stb's length reads 0 then: no table
    int64_t left = ((b[at] << 8) | b[at + 1]) - 2;
    at += 2;
    while (left > 0 && at < size) {
      // stb reads bytes past the end as 0, so a truncated table counts what is there.
      int n = 0;
      for (size_t i = at + 1; i <= at + 16 && i < size; ++i) n += b[i];
      if (n > 256) return false;
      at += 17 + static_cast<size_t>(n);
      left -= 17 + n;
    }
    return true;
  };
  // Header segments, by length, as stb's marker loop reads them.
  while (pos < size) {
    if (b[pos] != 0xff) break;  // stb fails here ("expected marker"); check the rest anyway
    while (pos < size && b[pos] == 0xff) ++pos;  // fill bytes
    if (pos >= size) return true;
    const unsigned char marker = b[pos++];
    if (marker == 0xc4 && !dht_ok(pos)) return false;
    if (marker == 0xda || marker == 0xd9 || pos + 2 > size) break;  // SOS: entropy data next
    if (marker == 0xd8 || marker == 0x01 || (marker >= 0xd0 && marker <= 0xd7)) break;
    pos += (static_cast<size_t>(b[pos]) << 8) | b[pos + 1];
  }
  // Everything after: any FF (FF...) C4 is treated as a DHT.
  for (; pos + 1 < size; ++pos) {
    if (b[pos] != 0xff) continue;
    size_t m = pos + 1;
    while (m < size && b[m] == 0xff) ++m;
    if (m < size && b[m] == 0xc4 && !dht_ok(m + 1)) return false;
  }
  return true;
}

// Debian's stb_image 2.27 reads the integers of a binary PNM header (P5/P6: width,
// height, maximum value) into an int without an overflow check: signed overflow, undefined
// behaviour (fixed upstream in 2.28). Found by our fuzzer. This reads the header the way
// stb does (same whitespace, '#' comments and end-of-input rules) and returns false when
// a number would not fit an int.
bool PnmHeaderIntegersFit(std::string_view bytes) {
  const auto* b = reinterpret_cast<const unsigned char*>(bytes.data());
  const size_t size = bytes.size();
  if (size < 2 || b[0] != 'P' || (b[1] != '5' && b[1] != '6')) return true;
  size_t next = 2;
  auto at_eof = [&] { return next >= size; };
  auto get8 = [&]() -> unsigned char { return next < size ? b[next++] : 0; };
  auto is_space = [](unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
  };
  unsigned char c = get8();
  for (int field = 0; field < 3; ++field) {
    for (;;) {
      while (!at_eof() && is_space(c)) c = get8();
      if (at_eof() || c != '#') break;
      while (!at_eof() && c != '\n' && c != '\r') c = get8();
    }
    int64_t value = 0;
    while (!at_eof() && c >= '0' && c <= '9') {
      value = value * 10 + (c - '0');
      if (value > std::numeric_limits<int>::max()) return false;
      c = get8();
    }
  }
  return true;
}

std::string FailureReason() {
  const char* reason = stbi_failure_reason();
  return reason != nullptr ? reason : "unknown error";
}

}  // namespace

absl::StatusOr<RgbImage> DecodeImage(std::string_view bytes, std::string_view part,
                                     const ImageLimits& limits) {
  const std::string where(part);
  if (bytes.empty()) return absl::InvalidArgumentError(absl::StrCat(where, ": empty image"));
  const int64_t max_bytes = std::min<int64_t>(limits.max_bytes, std::numeric_limits<int>::max());
  if (static_cast<int64_t>(bytes.size()) > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(where, ": image is ", bytes.size(), " bytes, over the limit of ", max_bytes));
  }
  // Before stbi_info: its JPEG header reader builds the Huffman tables too.
  if (!JpegHuffmanTablesValid(bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": cannot decode image (bad DHT header: a Huffman table with over 256 codes)"));
  }
  if (!PnmHeaderIntegersFit(bytes)) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": cannot decode image (bad PNM header: a number does not fit in 31 bits)"));
  }
  const auto* data = reinterpret_cast<const stbi_uc*>(bytes.data());
  const int len = static_cast<int>(bytes.size());
  int width = 0, height = 0, channels = 0;
  if (!stbi_info_from_memory(data, len, &width, &height, &channels)) {
    const std::string reason = FailureReason();
    if (HeaderTooLargeForStb(data, len)) {
      return absl::ResourceExhaustedError(
          absl::StrCat(where,
                       ": image header claims dimensions too large to decode (over 2^24 per side "
                       "or 2^30 bytes of pixels), over the limit of ",
                       limits.max_pixels, " pixels"));
    }
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": unknown or corrupt image format (", reason, ")"));
  }
  if (width <= 0 || height <= 0 || channels < 1 || channels > 4) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": bad image header: ", width, "x",
                                                   height, " with ", channels, " channels"));
  }
  const int64_t pixels = int64_t{width} * height;
  if (pixels > limits.max_pixels) {
    return absl::ResourceExhaustedError(absl::StrCat(where, ": image is ", width, "x", height,
                                                     " = ", pixels, " pixels, over the limit of ",
                                                     limits.max_pixels));
  }

  int w = 0, h = 0, n = 0;
  std::unique_ptr<stbi_uc, StbImageDeleter> decoded;
  {
    ScopedAllocCap cap(static_cast<size_t>(pixels) * kAllocBytesPerPixel + kAllocSlack);
    decoded.reset(stbi_load_from_memory(data, len, &w, &h, &n, 0));
  }
  if (decoded == nullptr) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": cannot decode image (", FailureReason(), ")"));
  }
  // The decoder's dimensions must be the header's (the limit was checked on those).
  if (w != width || h != height || n < 1 || n > 4) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": decoded image is ", w, "x", h,
                                                   " with ", n, " channels, header said ", width,
                                                   "x", height));
  }

  RgbImage out;
  out.width = w;
  out.height = h;
  out.pixels.resize(static_cast<size_t>(pixels) * 3);
  const stbi_uc* src = decoded.get();
  uint8_t* dst = out.pixels.data();
  for (int64_t i = 0; i < pixels; ++i, src += n, dst += 3) {
    switch (n) {
      case 1:
        dst[0] = dst[1] = dst[2] = src[0];
        break;
      case 2: {
        // Gray + alpha over white: v*a + 255*(1-a), rounded.
        const int a = src[1];
        dst[0] = dst[1] = dst[2] = static_cast<uint8_t>((src[0] * a + 255 * (255 - a) + 127) / 255);
        break;
      }
      case 3:
        dst[0] = src[0];
        dst[1] = src[1];
        dst[2] = src[2];
        break;
      default: {
        const int a = src[3];
        for (int c = 0; c < 3; ++c) {
          dst[c] = static_cast<uint8_t>((src[c] * a + 255 * (255 - a) + 127) / 255);
        }
        break;
      }
    }
  }
  return out;
}

absl::StatusOr<RgbImage> ResizeAndCenterCrop(const RgbImage& image, int size) {
  if (size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("resize: size must be >= 1, got ", size));
  }
  if (image.width < 1 || image.height < 1 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return absl::InvalidArgumentError(absl::StrCat("resize: bad image ", image.width, "x",
                                                   image.height, " with ", image.pixels.size(),
                                                   " bytes"));
  }
  // The centered square of side min(w, h); resampling only that keeps the work bounded by
  // the square for very elongated images.
  const int side = std::min(image.width, image.height);
  const int x0 = (image.width - side) / 2;
  const int y0 = (image.height - side) / 2;
  const int stride = image.width * 3;
  const uint8_t* origin = image.pixels.data() + static_cast<size_t>(y0) * stride + x0 * 3;
  RgbImage out;
  out.width = size;
  out.height = size;
  out.pixels.resize(static_cast<size_t>(size) * size * 3);
  if (side == size) {
    for (int y = 0; y < size; ++y) {
      std::memcpy(out.pixels.data() + static_cast<size_t>(y) * size * 3,
                  origin + static_cast<size_t>(y) * stride, static_cast<size_t>(size) * 3);
    }
    return out;
  }
  if (!stbir_resize_uint8_srgb(origin, side, side, stride, out.pixels.data(), size, size, size * 3,
                               3, STBIR_ALPHA_CHANNEL_NONE, 0)) {
    return absl::InternalError(absl::StrCat("resize: stb_image_resize failed for ", side, "x", side,
                                            " -> ", size, "x", size));
  }
  return out;
}

absl::StatusOr<std::string> EncodePng(const RgbImage& image) {
  if (image.width < 1 || image.height < 1 ||
      image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return absl::InvalidArgumentError(absl::StrCat("png: bad image ", image.width, "x",
                                                   image.height, " with ", image.pixels.size(),
                                                   " bytes"));
  }
  std::string png;
  auto append = [](void* context, void* data, int size) {
    static_cast<std::string*>(context)->append(static_cast<const char*>(data),
                                               static_cast<size_t>(size));
  };
  if (!stbi_write_png_to_func(append, &png, image.width, image.height, 3, image.pixels.data(),
                              image.width * 3)) {
    return absl::InternalError(
        absl::StrCat("png: stb_image_write failed for ", image.width, "x", image.height));
  }
  return png;
}

}  // namespace mot::tokenizer
