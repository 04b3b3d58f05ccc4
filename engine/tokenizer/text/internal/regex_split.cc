// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0

#include "engine/tokenizer/text/internal/regex_split.h"

#include <cctype>

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/text/internal/byte_level.h"
#include "engine/tokenizer/text/utf8.h"
#include "re2/re2.h"

namespace mot::tokenizer {
namespace {

// Abseil's string_view is its own type here (not std::string_view).
absl::string_view Sv(std::string_view s) { return {s.data(), s.size()}; }

// Oniguruma's Unicode \w: letters, marks, decimal digits, connector punctuation.
constexpr std::string_view kWordClass = R"(\p{L}\p{M}\p{Nd}\p{Pc})";

absl::Status Unsupported(std::string_view construct, size_t offset, std::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("pattern: ", Sv(construct), " at offset ", offset,
                                                 " is not supported (", Sv(why), ")"));
}

// The top-level alternatives of `p` (split at '|' outside groups and classes).
std::vector<std::string_view> TopLevelAlternatives(std::string_view p) {
  std::vector<std::string_view> out;
  int depth = 0;
  bool in_class = false;
  size_t start = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    if (c == '\\') {
      ++i;
    } else if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
      if (i + 1 < p.size() && p[i + 1] == '^') ++i;
      if (i + 1 < p.size() && p[i + 1] == ']') ++i;  // a leading ']' is a literal
    } else if (c == '(') {
      ++depth;
    } else if (c == ')') {
      --depth;
    } else if (c == '|' && depth == 0) {
      out.push_back(p.substr(start, i - start));
      start = i + 1;
    }
  }
  out.push_back(p.substr(start));
  return out;
}

// Translates one alternative (no top-level '|' handling needed; nested ones are copied).
// `base` is the alternative's offset in the whole pattern, for messages.
absl::Status TranslateFragment(std::string_view p, size_t base, std::string* out) {
  const std::string ws(kRe2WhiteSpaceClass);
  bool in_class = false;
  size_t class_start = 0;
  for (size_t i = 0; i < p.size(); ++i) {
    const char c = p[i];
    const size_t at = base + i;
    if (c == '\\') {
      if (i + 1 >= p.size()) return Unsupported("a trailing '\\'", at, "nothing to escape");
      const char e = p[++i];
      switch (e) {
        case 's':
          absl::StrAppend(out, in_class ? ws : absl::StrCat("[", ws, "]"));
          break;
        case 'S':
          if (in_class) return Unsupported("\\S inside a class", at, "RE2 cannot express it");
          absl::StrAppend(out, "[^", ws, "]");
          break;
        case 'w':
          absl::StrAppend(
              out, in_class ? std::string(kWordClass) : absl::StrCat("[", Sv(kWordClass), "]"));
          break;
        case 'W':
          if (in_class) return Unsupported("\\W inside a class", at, "RE2 cannot express it");
          absl::StrAppend(out, "[^", Sv(kWordClass), "]");
          break;
        case 'd':
          out->append("\\p{Nd}");
          break;
        case 'D':
          out->append("\\P{Nd}");
          break;
        case 'p':
        case 'P': {
          // \p{Name}, \p{^Name} or \pL: RE2 spells them the same.
          size_t end = i + 1;
          if (end < p.size() && p[end] == '{') {
            end = p.find('}', end);
            if (end == std::string_view::npos) return Unsupported("an unclosed \\p{", at, "");
          }
          absl::StrAppend(out, "\\", Sv(p.substr(i, end - i + 1)));
          i = end;
          break;
        }
        case 'u': {
          if (i + 4 >= p.size()) {
            return Unsupported("\\u without four hex digits", at, "");
          }
          const std::string_view hex = p.substr(i + 1, 4);
          for (char h : hex) {
            if (!std::isxdigit(static_cast<unsigned char>(h))) {
              return Unsupported("\\u without four hex digits", at, "");
            }
          }
          absl::StrAppend(out, "\\x{", Sv(hex), "}");
          i += 4;
          break;
        }
        case 'x':
        case 'n':
        case 'r':
        case 't':
        case 'f':
        case 'v':
        case 'a':
        case 'A':
        case 'z':
          out->push_back('\\');
          out->push_back(e);
          break;
        case 'e':
          out->append("\\x1B");
          break;
        default:
          if (std::isalnum(static_cast<unsigned char>(e))) {
            // Back-references, \b (ASCII in RE2, Unicode in Oniguruma), \h, \R, \X, \K, \G...
            return Unsupported(absl::StrCat("the escape \\", std::string(1, e)), at,
                               "RE2 has no equivalent with the same meaning");
          }
          out->push_back('\\');
          out->push_back(e);
      }
      continue;
    }
    if (in_class) {
      if (c == '[') {
        return Unsupported("a nested class or POSIX bracket", at, "RE2 classes do not nest");
      }
      if (c == '&' && i + 1 < p.size() && p[i + 1] == '&') {
        return Unsupported("class intersection &&", at, "RE2 has none");
      }
      if (c == ']' && i > class_start) in_class = false;
      out->push_back(c);
      continue;
    }
    switch (c) {
      case '[':
        in_class = true;
        out->push_back(c);
        if (i + 1 < p.size() && p[i + 1] == '^') out->push_back(p[++i]);
        class_start = i + 1;  // a ']' right here is a literal
        break;
      case '(': {
        const std::string_view rest = p.substr(i);
        if (rest.starts_with("(?:")) {
          out->append("(?:");
          i += 2;
        } else if (rest.starts_with("(?=") || rest.starts_with("(?!") || rest.starts_with("(?<=") ||
                   rest.starts_with("(?<!")) {
          return Unsupported(
              absl::StrCat("the lookaround ", Sv(rest.substr(0, rest[2] == '<' ? 4 : 3))), at,
              "RE2 has no lookaround; only `\\s+(?!\\S)|\\s+` is emulated");
        } else if (rest.starts_with("(?>")) {
          return Unsupported("the atomic group (?>", at, "RE2 has none");
        } else if (rest.starts_with("(?<") || rest.starts_with("(?P<")) {
          const size_t close = rest.find('>');
          if (close == std::string_view::npos) return Unsupported("an unclosed group name", at, "");
          out->append("(?:");
          i += close;
        } else if (rest.starts_with("(?")) {
          // Flag groups: only i (Oniguruma's m is dot-all, x extended: not RE2's meaning).
          size_t j = 2;
          while (j < rest.size() && (rest[j] == 'i' || rest[j] == '-')) ++j;
          if (j == 2 || j >= rest.size() || (rest[j] != ':' && rest[j] != ')')) {
            return Unsupported(
                absl::StrCat("the group ",
                             Sv(rest.substr(0, std::min<size_t>(j + 1, rest.size())))),
                at, "only (?:, (?i: and (?i) are");
          }
          out->append(rest.substr(0, j + 1));
          i += j;
        } else {
          out->append("(?:");
        }
        break;
      }
      case '?':
      case '*':
      case '+':
        out->push_back(c);
        if (i + 1 < p.size() && p[i + 1] == '+') {
          return Unsupported(absl::StrCat("the possessive quantifier ", std::string(1, c), "+"), at,
                             "RE2 has none");
        }
        if (i + 1 < p.size() && p[i + 1] == '?') out->push_back(p[++i]);  // lazy
        break;
      case '^':
        out->append("(?m:^)");  // Oniguruma (Ruby syntax): always a line anchor
        break;
      case '$':
        out->append("(?m:$)");
        break;
      default:
        out->push_back(c);
    }
  }
  if (in_class) return Unsupported("an unclosed class", base + class_start, "");
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<SplitBehavior> ParseSplitBehavior(std::string_view name) {
  for (SplitBehavior b :
       {SplitBehavior::kRemoved, SplitBehavior::kIsolated, SplitBehavior::kMergedWithPrevious,
        SplitBehavior::kMergedWithNext, SplitBehavior::kContiguous}) {
    if (SplitBehaviorName(b) == name) return b;
  }
  return absl::InvalidArgumentError(
      absl::StrCat("\"", Sv(name),
                   "\" is not a split behavior (Removed, Isolated, MergedWithPrevious, "
                   "MergedWithNext, Contiguous)"));
}

std::string_view SplitBehaviorName(SplitBehavior b) {
  switch (b) {
    case SplitBehavior::kRemoved:
      return "Removed";
    case SplitBehavior::kIsolated:
      return "Isolated";
    case SplitBehavior::kMergedWithPrevious:
      return "MergedWithPrevious";
    case SplitBehavior::kMergedWithNext:
      return "MergedWithNext";
    case SplitBehavior::kContiguous:
      return "Contiguous";
  }
  return "?";
}

absl::StatusOr<TranslatedPattern> TranslateOnigurumaPattern(std::string_view pattern) {
  constexpr std::string_view kLookahead = R"(\s+(?!\S))";
  const std::vector<std::string_view> alts = TopLevelAlternatives(pattern);
  TranslatedPattern t;
  size_t offset = 0;
  for (size_t a = 0; a < alts.size(); ++a) {
    if (a > 0) t.re2.push_back('|');
    if (alts[a] == kLookahead) {
      if (t.emulates_lookahead) {
        return Unsupported("a second `\\s+(?!\\S)`", offset, "only one is emulated");
      }
      if (a + 1 >= alts.size() || alts[a + 1] != R"(\s+)") {
        return Unsupported("`\\s+(?!\\S)` not followed by the alternative `\\s+`", offset,
                           "the emulation needs it");
      }
      absl::StrAppend(&t.re2, "([", Sv(kRe2WhiteSpaceClass), "]+)");
      t.emulates_lookahead = true;
    } else {
      absl::Status s = TranslateFragment(alts[a], offset, &t.re2);
      if (!s.ok()) return s;
    }
    offset += alts[a].size() + 1;
  }
  return t;
}

absl::StatusOr<std::unique_ptr<RegexSplitter>> RegexSplitter::Create(std::string_view pattern,
                                                                     bool is_regex,
                                                                     SplitBehavior behavior,
                                                                     bool invert) {
  std::unique_ptr<RegexSplitter> s(new RegexSplitter);
  s->behavior_ = behavior;
  s->invert_ = invert;
  std::string re2_pattern;
  if (is_regex) {
    absl::StatusOr<TranslatedPattern> t = TranslateOnigurumaPattern(pattern);
    if (!t.ok()) return t.status();
    re2_pattern = std::move(t->re2);
    s->emulates_lookahead_ = t->emulates_lookahead;
  } else {
    if (pattern.empty()) return absl::InvalidArgumentError("pattern: an empty String");
    re2_pattern = RE2::QuoteMeta(re2::StringPiece(pattern.data(), pattern.size()));
  }
  RE2::Options options;
  options.set_encoding(RE2::Options::EncodingUTF8);
  options.set_log_errors(false);
  options.set_max_mem(64 << 20);
  s->re_ = std::make_unique<RE2>(re2_pattern, options);
  if (!s->re_->ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("pattern: RE2 refuses it (", s->re_->error(), ")"));
  }
  return s;
}

RegexSplitter::~RegexSplitter() = default;

void RegexSplitter::FindMatches(std::string_view text, size_t base,
                                std::vector<Span>* spans) const {
  // REQUIRES: text is well-formed UTF-8.
  const re2::StringPiece all(text.data(), text.size());
  re2::StringPiece sub[2];
  const int nsub = emulates_lookahead_ ? 2 : 1;
  size_t pos = 0;
  size_t prev = 0;
  while (pos < text.size()) {
    if (!re_->Match(all, pos, text.size(), RE2::UNANCHORED, sub, nsub)) break;
    const size_t start = static_cast<size_t>(sub[0].data() - text.data());
    size_t end = start + sub[0].size();
    if (end == start) {
      // An empty match: the library's iterator goes on one character later.
      if (start >= text.size()) break;
      pos = start + ClassifyUtf8Prefix(text.substr(start)).length;
      continue;
    }
    if (emulates_lookahead_ && sub[1].data() != nullptr && end < text.size()) {
      // `\s+(?!\S)`: the greedy run is followed by a non-space, so it gives back its last
      // character (when it has two or more; one falls to the `\s+` alternative after it).
      size_t last = end - 1;
      while (last > start && (static_cast<uint8_t>(text[last]) & 0xC0) == 0x80) --last;
      if (last > start) end = last;
    }
    if (prev < start) spans->push_back({base + prev, base + start, false});
    spans->push_back({base + start, base + end, true});
    prev = pos = end;
  }
  if (prev < text.size()) spans->push_back({base + prev, base + text.size(), false});
}

void RegexSplitter::Split(std::string_view text, std::vector<std::string_view>* pieces) const {
  std::vector<Span> spans;
  size_t pos = 0;
  auto flush = [&] {
    if (invert_) {
      for (Span& s : spans) s.is_match = !s.is_match;
    }
    // The library's SplitDelimiterBehavior, over (span, is_match) in order.
    std::vector<Span> out;
    bool previous_match = false;
    switch (behavior_) {
      case SplitBehavior::kRemoved:
        for (const Span& s : spans) {
          if (!s.is_match) out.push_back(s);
        }
        break;
      case SplitBehavior::kIsolated:
        out = spans;
        break;
      case SplitBehavior::kMergedWithPrevious:
        for (const Span& s : spans) {
          if (s.is_match && !previous_match && !out.empty()) {
            out.back().end = s.end;
          } else {
            out.push_back(s);
          }
          previous_match = s.is_match;
        }
        break;
      case SplitBehavior::kMergedWithNext:
        for (size_t i = spans.size(); i-- > 0;) {
          const Span& s = spans[i];
          if (s.is_match && !previous_match && !out.empty()) {
            out.back().start = s.start;
          } else {
            out.push_back(s);
          }
          previous_match = s.is_match;
        }
        std::reverse(out.begin(), out.end());
        break;
      case SplitBehavior::kContiguous:
        for (size_t i = 0; i < spans.size(); ++i) {
          if (i > 0 && spans[i].is_match == previous_match) {
            out.back().end = spans[i].end;
          } else {
            out.push_back(spans[i]);
          }
          previous_match = spans[i].is_match;
        }
        break;
    }
    for (const Span& s : out) {
      if (s.end > s.start) pieces->push_back(text.substr(s.start, s.end - s.start));
    }
    spans.clear();
  };
  while (pos < text.size()) {
    const size_t valid = ValidUtf8PrefixLength(text.substr(pos));
    if (valid > 0) {
      FindMatches(text.substr(pos, valid), pos, &spans);
      flush();
      pos += valid;
      continue;
    }
    const size_t bad = IllFormedPrefixLength(text.substr(pos));
    pieces->push_back(text.substr(pos, bad));
    pos += bad;
  }
}

}  // namespace mot::tokenizer
