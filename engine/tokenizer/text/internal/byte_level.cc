// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0

#include "engine/tokenizer/text/internal/byte_level.h"

#include "engine/tokenizer/text/utf8.h"
#include "re2/re2.h"

namespace mot::tokenizer {
namespace {

struct Tables {
  std::array<char32_t, 256> byte_to_cp;
  std::array<int16_t, 324> cp_to_byte;  // code points 0..323; -1: not in the alphabet
  std::array<std::string, 256> byte_to_utf8;
};

const Tables& GetTables() {
  static const Tables* tables = [] {
    auto* t = new Tables;
    t->cp_to_byte.fill(-1);
    int n = 0;
    for (int b = 0; b < 256; ++b) {
      const bool printable =
          (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      t->byte_to_cp[b] = printable ? static_cast<char32_t>(b) : static_cast<char32_t>(256 + n++);
      t->cp_to_byte[t->byte_to_cp[b]] = static_cast<int16_t>(b);
      AppendUtf8(t->byte_to_cp[b], &t->byte_to_utf8[b]);
    }
    return t;
  }();
  return *tables;
}

std::string Gpt2Pattern() {
  // \s as Oniguruma sees it in Unicode mode: the White_Space property.
  const std::string ws(kRe2WhiteSpaceClass);
  return "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^" + ws + "\\p{L}\\p{N}]+|[" + ws + "]+";
}

}  // namespace

char32_t ByteToCodePoint(uint8_t b) { return GetTables().byte_to_cp[b]; }

std::optional<uint8_t> CodePointToByte(char32_t cp) {
  const Tables& t = GetTables();
  if (cp >= t.cp_to_byte.size() || t.cp_to_byte[cp] < 0) return std::nullopt;
  return static_cast<uint8_t>(t.cp_to_byte[cp]);
}

std::string BytesToByteLevel(std::string_view bytes) {
  const Tables& t = GetTables();
  std::string out;
  out.reserve(bytes.size() * 2);
  for (char c : bytes) out.append(t.byte_to_utf8[static_cast<uint8_t>(c)]);
  return out;
}

std::optional<std::string> ByteLevelToBytes(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    const Utf8Prefix c = ClassifyUtf8Prefix(s.substr(i));
    if (c.kind != Utf8Prefix::kComplete) return std::nullopt;
    const std::optional<uint8_t> b = CodePointToByte(c.code_point);
    if (!b) return std::nullopt;
    out.push_back(static_cast<char>(*b));
    i += c.length;
  }
  return out;
}

bool IsUnicodeWhiteSpace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

ByteLevelSplitter::ByteLevelSplitter() {
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingUTF8);
  options.set_log_errors(false);
  options.set_max_mem(64 << 20);
  re_ = std::make_unique<RE2>(Gpt2Pattern(), options);
}

ByteLevelSplitter::~ByteLevelSplitter() = default;

void ByteLevelSplitter::Split(std::string_view text, std::vector<std::string_view>* pieces) const {
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t valid = ValidUtf8PrefixLength(text.substr(pos));
    if (valid > 0) {
      SplitValid(text.substr(pos, valid), pieces);
      pos += valid;
      continue;
    }
    // A maximal ill-formed run: everything up to the next well-formed character.
    const size_t bad = IllFormedPrefixLength(text.substr(pos));
    pieces->push_back(text.substr(pos, bad));
    pos += bad;
  }
}

void ByteLevelSplitter::SplitValid(std::string_view text,
                                   std::vector<std::string_view>* pieces) const {
  // REQUIRES: text is well-formed UTF-8. Every code point matches one of the last
  // alternatives, so the anchored match below always succeeds; the guard is defensive.
  const re2::StringPiece all(text.data(), text.size());
  size_t pos = 0;
  re2::StringPiece match;
  while (pos < text.size()) {
    if (!re_->Match(all, pos, text.size(), RE2::ANCHOR_START, &match, 1) || match.empty()) {
      // Cannot happen for valid UTF-8; take one character so that progress is made.
      const Utf8Prefix c = ClassifyUtf8Prefix(text.substr(pos));
      pieces->push_back(text.substr(pos, c.length));
      pos += c.length;
      continue;
    }
    size_t len = match.size();
    const size_t end = pos + len;
    if (end < text.size()) {
      // Emulate `\s+(?!\S)`: find the last character of the match; if it is whitespace the
      // match is a whitespace run (every other alternative ends in a non-space), and since
      // `\s+` is greedy the next character is a non-space.
      size_t last = end - 1;
      while (last > pos && (static_cast<uint8_t>(text[last]) & 0xC0) == 0x80) --last;
      const Utf8Prefix c = ClassifyUtf8Prefix(text.substr(last, end - last));
      if (last > pos && c.kind == Utf8Prefix::kComplete && IsUnicodeWhiteSpace(c.code_point)) {
        len = last - pos;
      }
    }
    pieces->push_back(text.substr(pos, len));
    pos += len;
  }
}

}  // namespace mot::tokenizer
