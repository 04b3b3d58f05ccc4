// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/text/internal/byte_level.h
// The byte-level pieces of GPT-2 style BPE, as the Hugging Face `tokenizers` library does
// them:
//  * the byte <-> unicode alphabet (each of the 256 bytes is spelled as one printable code
//    point: '!'..'~', U+00A1..U+00AC, U+00AE..U+00FF map to themselves, the other 68 bytes
//    to U+0100.. in byte order);
//  * ByteLevelSplitter, the pre-tokenizer split with the GPT-2 pattern
//      's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//    run with RE2. \s is the Unicode White_Space property (what Oniguruma, the library's
//    regex engine, uses): U+0009..U+000D, U+0020, U+0085, U+00A0, U+1680, U+2000..U+200A,
//    U+2028, U+2029, U+202F, U+205F, U+3000. RE2 has no lookahead, so `\s+(?!\S)` is
//    emulated: a whitespace match of two or more characters that is followed by a
//    non-space loses its last character, which then starts the next match (as " ?X+" when
//    it is U+0020, else alone). This equals the backtracking engine's result.
//  * Invalid UTF-8 (the library cannot take it at all; our rule, so that every byte string
//    round-trips): the input is cut into maximal well-formed runs and maximal ill-formed
//    runs. Each ill-formed run is one piece; the pattern runs over each well-formed run
//    alone, as if it were the whole text.
// Thread rule: immutable after construction; Split() may be called from any thread.
#ifndef MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_BYTE_LEVEL_H_
#define MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_BYTE_LEVEL_H_

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace re2 {
class RE2;
}

namespace mot::tokenizer {

// Code point that spells byte `b` in the byte-level alphabet.
char32_t ByteToCodePoint(uint8_t b);

// The byte a code point spells, or nullopt if it is not in the byte-level alphabet.
std::optional<uint8_t> CodePointToByte(char32_t cp);

// Raw bytes -> byte-level spelling (UTF-8 of the mapped code points).
std::string BytesToByteLevel(std::string_view bytes);

// Byte-level spelling -> raw bytes; nullopt if `s` is not valid UTF-8 or holds a code
// point outside the alphabet.
std::optional<std::string> ByteLevelToBytes(std::string_view s);

// The White_Space code points listed above as the inside of an RE2 character class.
inline constexpr std::string_view kRe2WhiteSpaceClass =
    R"(\t-\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000})";

// True for the Unicode White_Space code points listed above.
bool IsUnicodeWhiteSpace(char32_t cp);

class ByteLevelSplitter {
 public:
  ByteLevelSplitter();
  ~ByteLevelSplitter();
  ByteLevelSplitter(const ByteLevelSplitter&) = delete;
  ByteLevelSplitter& operator=(const ByteLevelSplitter&) = delete;

  // Appends the pieces of `text` (views into it, in order, covering it exactly, none
  // empty) to `pieces`.
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const;

 private:
  void SplitValid(std::string_view text, std::vector<std::string_view>* pieces) const;
  std::unique_ptr<re2::RE2> re_;
};

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_BYTE_LEVEL_H_
