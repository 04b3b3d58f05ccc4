// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server/media_sniff.h
// Cheap checks of media bytes before anything is decoded: which format the first bytes
// say, whether it agrees with the declared MIME type, and an image's width and height from
// its header. The server refuses a 0-wide or 100k x 100k image from these few bytes, with
// a message in a user's words ("width 0"), before the decoders see it.
// Thread rule: pure functions.
#ifndef MOT_SERVER_MEDIA_SNIFF_H_
#define MOT_SERVER_MEDIA_SNIFF_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mot::server {

enum class MediaFormat { kUnknown, kPng, kJpeg, kGif, kBmp, kWav, kFlac, kOgg };

// The canonical MIME type ("image/png") of a format; "" for kUnknown.
const char* MimeTypeOf(MediaFormat f);
bool IsImageFormat(MediaFormat f);
bool IsAudioFormat(MediaFormat f);

// The format a MIME type names (case-insensitive, parameters after ';' ignored, common
// aliases such as "image/jpg", "audio/x-wav", "audio/wave" accepted); kUnknown otherwise.
MediaFormat FormatOfMimeType(absl::string_view mime_type);

// The format the leading bytes show (magic numbers); kUnknown when none matches.
MediaFormat SniffFormat(absl::string_view bytes);

struct ImageHeader {
  MediaFormat format = MediaFormat::kUnknown;
  int64_t width = 0;
  int64_t height = 0;
};

// Width and height from a PNG (IHDR), JPEG (first SOFn), GIF (logical screen) or BMP
// (BITMAPINFOHEADER) header. InvalidArgument with a user's-words reason ("PNG header is
// truncated", "no JPEG frame header") when the header cannot be read; width/height as
// written (possibly 0) otherwise — the caller judges them.
absl::StatusOr<ImageHeader> ReadImageHeader(absl::string_view bytes);

}  // namespace mot::server

#endif  // MOT_SERVER_MEDIA_SNIFF_H_
