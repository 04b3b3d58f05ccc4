// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/text/utf8.h
// UTF-8 helpers for the text tokenizer: strict validation (no overlong forms, no
// surrogates, nothing above U+10FFFF) and lossy decoding by the Unicode "maximal subpart"
// rule (each maximal ill-formed subpart becomes one U+FFFD; the same result as Python's
// bytes.decode("utf-8", "replace") and WHATWG's decoder).
// Thread rule: pure functions, callable from any thread.
#ifndef MOT_ENGINE_TOKENIZER_TEXT_UTF8_H_
#define MOT_ENGINE_TOKENIZER_TEXT_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace mot::tokenizer {

// The replacement character U+FFFD in UTF-8.
inline constexpr std::string_view kReplacementChar = "\xEF\xBF\xBD";

// Result of looking at the bytes at the start of a buffer.
struct Utf8Prefix {
  enum Kind {
    kComplete,    // `length` bytes form one well-formed character
    kIncomplete,  // all `length` bytes (the whole buffer) are a proper prefix of a char
    kInvalid,     // `length` bytes (>= 1) are a maximal ill-formed subpart
  };
  Kind kind;
  size_t length;
  char32_t code_point;  // valid only when kind == kComplete
};

// Classifies the first character of `s`. REQUIRES: !s.empty().
Utf8Prefix ClassifyUtf8Prefix(std::string_view s);

// Length of the longest prefix of `s` that is well-formed UTF-8.
size_t ValidUtf8PrefixLength(std::string_view s);

inline bool IsValidUtf8(std::string_view s) { return ValidUtf8PrefixLength(s) == s.size(); }

// Length of the maximal run of ill-formed bytes that `s` starts with (everything up to the
// next well-formed character); 0 when s starts with one. The splitters make each such run a
// piece of its own.
size_t IllFormedPrefixLength(std::string_view s);

// `s` with every maximal ill-formed subpart (and a truncated final sequence) replaced by
// U+FFFD.
std::string Utf8Lossy(std::string_view s);

// Appends the UTF-8 encoding of `cp` to `out`. REQUIRES: cp is a Unicode scalar value.
void AppendUtf8(char32_t cp, std::string* out);

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_TEXT_UTF8_H_
