// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0

#include "engine/tokenizer/text/utf8.h"

namespace mot::tokenizer {
namespace {

// Allowed range of the second byte for a lead byte (Unicode Table 3-7); the third and
// fourth bytes are always 80..BF.
struct LeadInfo {
  int length;  // 0: not a lead byte
  uint8_t lo, hi;
};

LeadInfo Lead(uint8_t b) {
  if (b < 0x80) return {1, 0, 0};
  if (b < 0xC2) return {0, 0, 0};
  if (b < 0xE0) return {2, 0x80, 0xBF};
  if (b == 0xE0) return {3, 0xA0, 0xBF};
  if (b == 0xED) return {3, 0x80, 0x9F};
  if (b < 0xF0) return {3, 0x80, 0xBF};
  if (b == 0xF0) return {4, 0x90, 0xBF};
  if (b < 0xF4) return {4, 0x80, 0xBF};
  if (b == 0xF4) return {4, 0x80, 0x8F};
  return {0, 0, 0};
}

}  // namespace

Utf8Prefix ClassifyUtf8Prefix(std::string_view s) {
  const auto* p = reinterpret_cast<const uint8_t*>(s.data());
  const uint8_t b0 = p[0];
  if (b0 < 0x80) return {Utf8Prefix::kComplete, 1, b0};
  const LeadInfo li = Lead(b0);
  if (li.length == 0) return {Utf8Prefix::kInvalid, 1, 0};
  char32_t cp = b0 & (li.length == 2 ? 0x1F : li.length == 3 ? 0x0F : 0x07);
  for (int i = 1; i < li.length; ++i) {
    if (static_cast<size_t>(i) >= s.size()) return {Utf8Prefix::kIncomplete, s.size(), 0};
    const uint8_t lo = i == 1 ? li.lo : 0x80;
    const uint8_t hi = i == 1 ? li.hi : 0xBF;
    if (p[i] < lo || p[i] > hi) return {Utf8Prefix::kInvalid, static_cast<size_t>(i), 0};
    cp = (cp << 6) | (p[i] & 0x3F);
  }
  return {Utf8Prefix::kComplete, static_cast<size_t>(li.length), cp};
}

size_t IllFormedPrefixLength(std::string_view s) {
  size_t end = 0;
  while (end < s.size()) {
    const Utf8Prefix c = ClassifyUtf8Prefix(s.substr(end));
    if (c.kind == Utf8Prefix::kComplete) break;
    end += c.length;
  }
  return end;
}

size_t ValidUtf8PrefixLength(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    // ASCII fast path, 8 bytes at a time.
    while (i + 8 <= s.size()) {
      uint64_t w;
      __builtin_memcpy(&w, s.data() + i, 8);
      if (w & 0x8080808080808080ull) break;
      i += 8;
    }
    if (i >= s.size()) break;
    if (static_cast<uint8_t>(s[i]) < 0x80) {
      ++i;
      continue;
    }
    const Utf8Prefix c = ClassifyUtf8Prefix(s.substr(i));
    if (c.kind != Utf8Prefix::kComplete) return i;
    i += c.length;
  }
  return s.size();
}

std::string Utf8Lossy(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const Utf8Prefix c = ClassifyUtf8Prefix(s.substr(i));
    if (c.kind == Utf8Prefix::kComplete) {
      out.append(s.substr(i, c.length));
    } else {
      out.append(kReplacementChar);
    }
    i += c.length;
  }
  return out;
}

void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

}  // namespace mot::tokenizer
