// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/text/internal/regex_split.h
// RegexSplitter: the `Split` pre-tokenizer of tokenizer.json, e.g. Llama-3's and Qwen2's
//   {"type": "Split", "pattern": {"Regex": "(?i:'s|'t|...)|[^\r\n\p{L}\p{N}]?\p{L}+|...|
//    \s+(?!\S)|\s+"}, "behavior": "Isolated", "invert": false}
// The library runs the pattern with Oniguruma (backtracking, Unicode); we run it with RE2
// after a translation that keeps its meaning:
//   \s \S   the White_Space property (byte_level.h lists it), not RE2's ASCII \s;
//   \d \D   \p{Nd};  \w \W  letters, marks, decimal digits and connector punctuation;
//   \uHHHH  \x{HHHH};  (...)  non-capturing (the match, not the groups, is what counts);
//   (?i:...), \p{..}, classes, {m,n}, lazy quantifiers: as they are (RE2 has them).
//   `\s+(?!\S)` as a whole alternative that the alternative `\s+` follows: emulated (a
//   whitespace run of two or more characters followed by a non-space loses its last
//   character, which is exactly what the backtracking engine gives; a run of one falls to
//   the `\s+` after it).
// Any other lookaround, atomic group, possessive quantifier, back-reference or nested
// class is refused (InvalidArgument naming the construct): RE2 cannot run it, and
// approximating it would give other ids than the library.
// Matches are found left to right as the library's find_iter does (leftmost, then the
// first alternative that matches; an empty match is skipped and the search goes on one
// character later); matches and the gaps between them become pieces per `behavior`
// (Removed, Isolated, MergedWithPrevious, MergedWithNext, Contiguous) after `invert`.
// Invalid UTF-8 (our rule; the library cannot take it): each maximal ill-formed run is a
// piece of its own, and the pattern runs over each well-formed run alone.
// Thread rule: immutable after Create(); Split() may be called from any thread.
#ifndef MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_REGEX_SPLIT_H_
#define MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_REGEX_SPLIT_H_

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace re2 {
class RE2;
}

namespace mot::tokenizer {

enum class SplitBehavior { kRemoved, kIsolated, kMergedWithPrevious, kMergedWithNext, kContiguous };

// "Removed", "Isolated", ... as tokenizer.json spells them; InvalidArgument otherwise.
absl::StatusOr<SplitBehavior> ParseSplitBehavior(std::string_view name);
std::string_view SplitBehaviorName(SplitBehavior b);

// The RE2 pattern for an Oniguruma pattern (see the file comment). When
// `emulates_lookahead`, capture group 1 (the only one) is the `\s+(?!\S)` alternative.
struct TranslatedPattern {
  std::string re2;
  bool emulates_lookahead = false;
};
absl::StatusOr<TranslatedPattern> TranslateOnigurumaPattern(std::string_view pattern);

class RegexSplitter {
 public:
  // `pattern` is a regex (is_regex) or a literal string. Errors: InvalidArgument naming the
  // unsupported construct or RE2's complaint.
  static absl::StatusOr<std::unique_ptr<RegexSplitter>> Create(std::string_view pattern,
                                                               bool is_regex,
                                                               SplitBehavior behavior, bool invert);
  ~RegexSplitter();
  RegexSplitter(const RegexSplitter&) = delete;
  RegexSplitter& operator=(const RegexSplitter&) = delete;

  // Appends the non-empty pieces of `text` (views into it, in order) to `pieces`. They
  // cover the text exactly unless the behavior is Removed.
  void Split(std::string_view text, std::vector<std::string_view>* pieces) const;

 private:
  RegexSplitter() = default;
  struct Span {
    size_t start, end;
    bool is_match;
  };
  void FindMatches(std::string_view text, size_t base, std::vector<Span>* spans) const;

  std::unique_ptr<re2::RE2> re_;
  bool emulates_lookahead_ = false;
  SplitBehavior behavior_ = SplitBehavior::kIsolated;
  bool invert_ = false;
};

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_REGEX_SPLIT_H_
