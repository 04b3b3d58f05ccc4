// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0

#include "engine/tokenizer/text/internal/jinja.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/status/status.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/tokenizer/text/utf8.h"
#include "unicode/ucasemap.h"
#include "unicode/uchar.h"

namespace mot::tokenizer::jinja {
namespace {

// Nesting bound of the parser (expressions and blocks), so that hostile input cannot
// overflow the stack of the recursive descent or of the evaluator.
constexpr int kMaxDepth = 128;
// Each parenthesis or bracket level costs about a dozen grammar levels (or, and, not, ...),
// so this allows some 80 nested brackets.
constexpr int kMaxExprDepth = 1024;

// ---------------------------------------------------------------------------------------
// UTF-8 and Python string helpers. Python strings are code points; ours are UTF-8 bytes.
// An ill-formed byte counts as one code point of its own (value 0xFFFD is never returned
// for it as whitespace or case, so it is left alone).

// Decodes the code point at s[i]; *len receives its byte length (1 for an ill-formed byte).
char32_t DecodeAt(std::string_view s, size_t i, size_t* len) {
  const auto c = static_cast<unsigned char>(s[i]);
  int n = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
  if (n == 0 || i + n > s.size()) {
    *len = 1;
    return c < 0x80 ? c : 0xFFFD;
  }
  if (n == 1) {
    *len = 1;
    return c;
  }
  char32_t cp = c & (0x7F >> n);
  for (int k = 1; k < n; ++k) {
    const auto cc = static_cast<unsigned char>(s[i + k]);
    if ((cc >> 6) != 2) {
      *len = 1;
      return 0xFFFD;
    }
    cp = (cp << 6) | (cc & 0x3F);
  }
  *len = n;
  return cp;
}

// Byte offsets of each code point's start, plus s.size() at the end.
std::vector<size_t> CodePointOffsets(std::string_view s) {
  std::vector<size_t> off;
  for (size_t i = 0; i < s.size();) {
    off.push_back(i);
    size_t len;
    DecodeAt(s, i, &len);
    i += len;
  }
  off.push_back(s.size());
  return off;
}

// Python's str.isspace() set (what str.strip(), str.split() and re's \s use).
bool IsPyWhitespace(char32_t c) {
  return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
         c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 || c == 0x202F ||
         c == 0x205F || c == 0x3000;
}

// Length in bytes of the leading Python whitespace of s.
size_t LeadingSpace(std::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    size_t len;
    if (!IsPyWhitespace(DecodeAt(s, i, &len))) break;
    i += len;
  }
  return i;
}

// Length in bytes of s without its trailing Python whitespace.
size_t WithoutTrailingSpace(std::string_view s) {
  size_t end = 0;
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const char32_t c = DecodeAt(s, i, &len);
    i += len;
    if (!IsPyWhitespace(c)) end = i;
  }
  return end;
}

bool InChars(char32_t c, std::string_view chars) {
  for (size_t i = 0; i < chars.size();) {
    size_t len;
    if (DecodeAt(chars, i, &len) == c) return true;
    i += len;
  }
  return false;
}

// str.strip / lstrip / rstrip; chars == nullopt means whitespace.
std::string PyStrip(std::string_view s, bool left, bool right,
                    std::optional<std::string_view> chars) {
  auto strip_me = [&](char32_t c) { return chars ? InChars(c, *chars) : IsPyWhitespace(c); };
  size_t begin = 0, end = s.size();
  if (left) {
    while (begin < end) {
      size_t len;
      if (!strip_me(DecodeAt(s, begin, &len))) break;
      begin += len;
    }
  }
  if (right) {
    // Backwards, one code point at a time, while the tail is well-formed (the usual case);
    // an ill-formed tail falls back to the forward scan, which defines the segmentation.
    bool well_formed = true;
    while (end > begin) {
      size_t j = end - 1;
      while (j > begin && end - j < 4 && (static_cast<unsigned char>(s[j]) & 0xC0) == 0x80) --j;
      size_t len;
      const char32_t c = DecodeAt(s, j, &len);
      if (j + len != end || (c == 0xFFFD && len == 1 && static_cast<unsigned char>(s[j]) >= 0x80)) {
        well_formed = false;
        break;
      }
      if (!strip_me(c)) break;
      end = j;
    }
    if (!well_formed) {
      size_t keep = begin;
      for (size_t i = begin; i < end;) {
        size_t len;
        const char32_t c = DecodeAt(s, i, &len);
        i += len;
        if (!strip_me(c)) keep = i;
      }
      end = keep;
    }
  }
  return std::string(s.substr(begin, end - begin));
}

// Python's str.upper() / str.lower(): full Unicode case mapping (ß -> SS, final sigma), here
// by ICU with the root locale. Ill-formed UTF-8 passes through as it is.
const UCaseMap* RootCaseMap() {
  static const UCaseMap* map = [] {
    UErrorCode err = U_ZERO_ERROR;
    UCaseMap* m = ucasemap_open("", 0, &err);
    return U_SUCCESS(err) ? m : nullptr;
  }();
  return map;
}

std::string CaseMap(const std::string& s, bool upper) {
  if (s.empty() || RootCaseMap() == nullptr) return s;
  std::string out(s.size() + 16, '\0');
  for (int attempt = 0; attempt < 2; ++attempt) {
    UErrorCode err = U_ZERO_ERROR;
    const int32_t n =
        upper ? ucasemap_utf8ToUpper(RootCaseMap(), out.data(), static_cast<int32_t>(out.size()),
                                     s.data(), static_cast<int32_t>(s.size()), &err)
              : ucasemap_utf8ToLower(RootCaseMap(), out.data(), static_cast<int32_t>(out.size()),
                                     s.data(), static_cast<int32_t>(s.size()), &err);
    if (err == U_BUFFER_OVERFLOW_ERROR) {
      out.resize(n);
      continue;
    }
    if (U_FAILURE(err)) return s;
    out.resize(n);
    return out;
  }
  return s;
}
std::string PyUpper(const std::string& s) { return CaseMap(s, true); }
std::string PyLower(const std::string& s) { return CaseMap(s, false); }

// str.capitalize(): the first code point in title case, the rest lower case.
std::string PyCapitalize(const std::string& s) {
  if (s.empty()) return s;
  size_t len;
  const char32_t first = DecodeAt(s, 0, &len);
  std::string out;
  if (first == 0xFFFD && len == 1) {
    out = s.substr(0, 1);
  } else {
    AppendUtf8(static_cast<char32_t>(u_totitle(static_cast<UChar32>(first))), &out);
  }
  return out + PyLower(s.substr(len));
}

// str.islower() / str.isupper(): at least one cased character and none of the other case.
bool PyIsCase(const std::string& s, bool upper) {
  bool cased = false;
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const auto c = static_cast<UChar32>(DecodeAt(s, i, &len));
    i += len;
    const bool is_upper = u_isUUppercase(c) || u_istitle(c);
    const bool is_lower = u_isULowercase(c);
    if (upper ? is_lower : is_upper) return false;
    cased = cased || is_upper || is_lower;
  }
  return cased;
}

// Python repr() of a float: the shortest digits that round-trip, written fixed when the
// decimal exponent is in [-4, 16), else as d.ddde+XX; integral values get ".0".
std::string FloatRepr(double f) {
  if (std::isnan(f)) return "nan";
  if (std::isinf(f)) return f > 0 ? "inf" : "-inf";
  char buf[64];
  auto r = std::to_chars(buf, buf + sizeof(buf), f, std::chars_format::scientific);
  const std::string sci(buf, r.ptr);  // [-]d[.ddd]e[+-]XX
  const size_t e = sci.find('e');
  const bool negative = sci[0] == '-';
  std::string digits;
  for (size_t i = negative ? 1 : 0; i < e; ++i) {
    if (sci[i] != '.') digits += sci[i];
  }
  const int exp = std::atoi(sci.c_str() + e + 1);
  std::string out = negative ? "-" : "";
  if (exp >= -4 && exp < 16) {
    if (exp < 0) {
      out += "0." + std::string(-exp - 1, '0') + digits;
    } else if (static_cast<int>(digits.size()) <= exp + 1) {
      out += digits + std::string(exp + 1 - digits.size(), '0') + ".0";
    } else {
      out += digits.substr(0, exp + 1) + "." + digits.substr(exp + 1);
    }
    return out;
  }
  out += digits.substr(0, 1);
  if (digits.size() > 1) out += "." + digits.substr(1);
  char ebuf[16];
  std::snprintf(ebuf, sizeof(ebuf), "e%c%02d", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
  return out + ebuf;
}

// Python repr() of a str.
std::string StrRepr(std::string_view s) {
  const bool dq = s.find('\'') != std::string_view::npos && s.find('"') == std::string_view::npos;
  const char q = dq ? '"' : '\'';
  std::string out(1, q);
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const char32_t c = DecodeAt(s, i, &len);
    if (c == static_cast<char32_t>(q) || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7F) {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", static_cast<unsigned>(c));
      out += buf;
    } else {
      out.append(s.substr(i, len));
    }
    i += len;
  }
  out += q;
  return out;
}

// json.dumps of a str (ensure_ascii as given).
void JsonString(std::string_view s, bool ensure_ascii, std::string* out) {
  *out += '"';
  for (size_t i = 0; i < s.size();) {
    size_t len;
    const char32_t c = DecodeAt(s, i, &len);
    char buf[16];
    switch (c) {
      case '"':
        *out += "\\\"";
        break;
      case '\\':
        *out += "\\\\";
        break;
      case '\n':
        *out += "\\n";
        break;
      case '\r':
        *out += "\\r";
        break;
      case '\t':
        *out += "\\t";
        break;
      case '\b':
        *out += "\\b";
        break;
      case '\f':
        *out += "\\f";
        break;
      default:
        if (c < 0x20 || (ensure_ascii && c >= 0x7F)) {
          if (c >= 0x10000) {
            const char32_t v = c - 0x10000;
            std::snprintf(buf, sizeof(buf), "\\u%04x\\u%04x",
                          static_cast<unsigned>(0xD800 + (v >> 10)),
                          static_cast<unsigned>(0xDC00 + (v & 0x3FF)));
          } else {
            std::snprintf(buf, sizeof(buf), "\\u%04x", static_cast<unsigned>(c));
          }
          *out += buf;
        } else {
          out->append(s.substr(i, len));
        }
    }
    i += len;
  }
  *out += '"';
}

absl::Status ErrorAt(int line, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("chat template line ", line, ": ", std::string(what)));
}

// ---------------------------------------------------------------------------------------
// Lexer.

enum class Tok {
  kText,
  kVarBegin,
  kVarEnd,
  kBlockBegin,
  kBlockEnd,
  kName,
  kString,
  kInt,
  kFloat,
  kOp,
  kEof
};

struct Token {
  Tok type;
  std::string text;  // text, name, string value, operator
  int64_t int_value = 0;
  double float_value = 0;
  int line = 1;
};

class Lexer {
 public:
  explicit Lexer(std::string_view raw) {
    // jinja2 turns every \r\n and \r into \n and (keep_trailing_newline=False) drops one
    // trailing newline before lexing.
    src_.reserve(raw.size());
    for (size_t i = 0; i < raw.size(); ++i) {
      if (raw[i] == '\r') {
        src_ += '\n';
        if (i + 1 < raw.size() && raw[i + 1] == '\n') ++i;
      } else {
        src_ += raw[i];
      }
    }
    if (!src_.empty() && src_.back() == '\n') src_.pop_back();
  }

  absl::StatusOr<std::vector<Token>> Run() {
    bool line_starting = true;
    size_t pos = 0;
    const size_t n = src_.size();
    while (pos < n) {
      size_t start = pos;
      for (;;) {
        start = src_.find('{', start);
        if (start == std::string::npos || start + 1 >= n) {
          start = std::string::npos;
          break;
        }
        const char k = src_[start + 1];
        if (k == '{' || k == '%' || k == '#') break;
        ++start;
      }
      if (start == std::string::npos) {
        Emit(Tok::kText, src_.substr(pos), pos);
        break;
      }
      const char kind = src_[start + 1];
      const char mod =
          start + 2 < n && (src_[start + 2] == '-' || src_[start + 2] == '+') ? src_[start + 2] : 0;
      std::string_view text(src_.data() + pos, start - pos);
      if (mod == '-') {
        text = text.substr(0, WithoutTrailingSpace(text));
      } else if (mod != '+' && kind != '{') {
        // lstrip_blocks: the spaces between the line start and a block or comment tag go.
        const size_t nl = text.rfind('\n');
        const size_t l_pos = nl == std::string_view::npos ? 0 : nl + 1;
        const std::string_view tail = text.substr(l_pos);
        if ((l_pos > 0 || line_starting) && !tail.empty() && LeadingSpace(tail) == tail.size()) {
          text = text.substr(0, l_pos);
        }
      }
      if (!text.empty()) Emit(Tok::kText, std::string(text), pos);
      size_t p = start + 2 + (mod ? 1 : 0);
      const int tag_line = LineAt(start);
      if (kind == '#') {
        const size_t e = src_.find("#}", p);
        if (e == std::string::npos) return ErrorAt(tag_line, "unterminated comment '{#'");
        pos = e + 2;
        if (e > p && src_[e - 1] == '-') {
          pos = SkipSpace(pos);
        } else if (!(e > p && src_[e - 1] == '+') && pos < n && src_[pos] == '\n') {
          ++pos;  // trim_blocks
        }
        line_starting = src_[pos - 1] == '\n';
        continue;
      }
      const bool block = kind == '%';
      if (block) {
        // {% raw %} would need a lexer mode of its own; it is not supported.
        size_t q = p;
        while (q < n && (src_[q] == ' ' || src_[q] == '\t' || src_[q] == '\n')) ++q;
        if (src_.compare(q, 3, "raw") == 0 &&
            (q + 3 >= n ||
             !(std::isalnum(static_cast<unsigned char>(src_[q + 3])) || src_[q + 3] == '_'))) {
          return ErrorAt(tag_line, "unsupported tag 'raw'");
        }
      }
      Emit(block ? Tok::kBlockBegin : Tok::kVarBegin, "", start);
      auto end = LexTag(p, block, tag_line);
      if (!end.ok()) return end.status();
      pos = *end;
      line_starting = src_[pos - 1] == '\n';
    }
    Emit(Tok::kEof, "", n);
    return std::move(tokens_);
  }

 private:
  int LineAt(size_t pos) {
    // Tokens are emitted in order, so counting incrementally is linear overall.
    while (counted_ < pos && counted_ < src_.size()) {
      if (src_[counted_] == '\n') ++line_;
      ++counted_;
    }
    return line_;
  }

  void Emit(Tok type, std::string text, size_t pos) {
    Token t;
    t.type = type;
    t.text = std::move(text);
    t.line = LineAt(pos);
    tokens_.push_back(std::move(t));
  }

  size_t SkipSpace(size_t pos) { return pos + LeadingSpace(std::string_view(src_).substr(pos)); }

  // Lexes the inside of a {{ }} or {% %} tag starting at p; returns the position after its
  // end delimiter (and the whitespace that the delimiter strips).
  absl::StatusOr<size_t> LexTag(size_t p, bool block, int tag_line) {
    const size_t n = src_.size();
    int depth = 0;
    const char* what = block ? "'{%'" : "'{{'";
    for (;;) {
      p = SkipSpace(p);  // jinja2 skips \s+ (Unicode whitespace) between tokens
      if (p >= n) return ErrorAt(tag_line, absl::StrCat("unterminated ", what, " tag"));
      const std::string_view rest = std::string_view(src_).substr(p);
      if (depth == 0) {
        const char* close = block ? "%}" : "}}";
        if (rest.substr(0, 2) == close) {
          Emit(block ? Tok::kBlockEnd : Tok::kVarEnd, "", p);
          p += 2;
          if (block && p < n && src_[p] == '\n') ++p;  // trim_blocks
          return p;
        }
        if (rest.size() >= 3 && rest[0] == '-' && rest.substr(1, 2) == close) {
          Emit(block ? Tok::kBlockEnd : Tok::kVarEnd, "", p);
          return SkipSpace(p + 3);
        }
        if (block && rest.size() >= 3 && rest[0] == '+' && rest.substr(1, 2) == close) {
          Emit(Tok::kBlockEnd, "", p);
          return p + 3;
        }
      }
      const char c = src_[p];
      if (c == '\'' || c == '"') {
        std::string value;
        size_t q = p + 1;
        for (;;) {
          if (q >= n) return ErrorAt(LineAt(p), "unterminated string literal");
          if (src_[q] == c) break;
          if (src_[q] == '\\' && q + 1 < n) {
            auto st = Unescape(&q, &value);
            if (!st.ok()) return st;
            continue;
          }
          value += src_[q++];
        }
        Emit(Tok::kString, std::move(value), p);
        p = q + 1;
        continue;
      }
      if (std::isdigit(static_cast<unsigned char>(c))) {
        size_t q = p;
        std::string digits;
        bool is_float = false;
        auto take_digits = [&] {
          while (q < n && (std::isdigit(static_cast<unsigned char>(src_[q])) ||
                           (src_[q] == '_' && q + 1 < n &&
                            std::isdigit(static_cast<unsigned char>(src_[q + 1]))))) {
            if (src_[q] != '_') digits += src_[q];
            ++q;
          }
        };
        take_digits();
        if (q + 1 < n && src_[q] == '.' && std::isdigit(static_cast<unsigned char>(src_[q + 1]))) {
          is_float = true;
          digits += src_[q++];
          take_digits();
        }
        if (q < n && (src_[q] == 'e' || src_[q] == 'E')) {
          size_t r = q + 1;
          if (r < n && (src_[r] == '+' || src_[r] == '-')) ++r;
          if (r < n && std::isdigit(static_cast<unsigned char>(src_[r]))) {
            is_float = true;
            digits += 'e';
            digits.append(src_, q + 1, r - q - 1);
            q = r;
            take_digits();
          }
        }
        Token t;
        t.line = LineAt(p);
        if (is_float) {
          t.type = Tok::kFloat;
          t.float_value = std::strtod(digits.c_str(), nullptr);
        } else {
          if (digits.size() > 1 && digits[0] == '0') {
            return ErrorAt(t.line, "integer literal with a leading zero");  // as jinja2
          }
          t.type = Tok::kInt;
          auto r = std::from_chars(digits.data(), digits.data() + digits.size(), t.int_value);
          if (r.ec != std::errc()) return ErrorAt(t.line, "integer literal out of range");
        }
        t.text = digits;
        tokens_.push_back(std::move(t));
        p = q;
        continue;
      }
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t q = p;
        while (q < n && (std::isalnum(static_cast<unsigned char>(src_[q])) || src_[q] == '_')) ++q;
        Emit(Tok::kName, src_.substr(p, q - p), p);
        p = q;
        continue;
      }
      static constexpr const char* kTwo[] = {"//", "**", "==", "!=", "<=", ">="};
      std::string op;
      for (const char* two : kTwo) {
        if (rest.substr(0, 2) == two) op = two;
      }
      if (op.empty()) {
        if (std::strchr("+-*/%~<>=.,:|()[]{}", c) == nullptr) {
          return ErrorAt(LineAt(p), absl::StrCat("unexpected character '", std::string(1, c),
                                                 "' in ", what, " tag"));
        }
        op = std::string(1, c);
        if (c == '(' || c == '[' || c == '{') ++depth;
        if (c == ')' || c == ']' || c == '}') {
          if (depth == 0) return ErrorAt(LineAt(p), absl::StrCat("unbalanced '", op, "'"));
          --depth;
        }
      }
      Emit(Tok::kOp, op, p);
      p += op.size();
    }
  }

  // Python's unicode-escape of the backslash sequence at *q (which is advanced past it).
  absl::Status Unescape(size_t* q, std::string* value) {
    const char e = src_[*q + 1];
    *q += 2;
    auto hex = [&](int digits) -> absl::Status {
      if (*q + digits > src_.size()) return ErrorAt(LineAt(*q), "truncated \\x/\\u escape");
      uint32_t cp = 0;
      for (int k = 0; k < digits; ++k) {
        const char h = src_[*q + k];
        int v = std::isdigit(static_cast<unsigned char>(h)) ? h - '0'
                : (h >= 'a' && h <= 'f')                    ? h - 'a' + 10
                : (h >= 'A' && h <= 'F')                    ? h - 'A' + 10
                                                            : -1;
        if (v < 0) return ErrorAt(LineAt(*q), "bad \\x/\\u escape");
        cp = cp * 16 + v;
      }
      *q += digits;
      if (cp > 0x10FFFF) return ErrorAt(LineAt(*q), "escape out of range");
      AppendUtf8(static_cast<char32_t>(cp), value);
      return absl::OkStatus();
    };
    switch (e) {
      case 'n':
        *value += '\n';
        break;
      case 't':
        *value += '\t';
        break;
      case 'r':
        *value += '\r';
        break;
      case 'b':
        *value += '\b';
        break;
      case 'f':
        *value += '\f';
        break;
      case 'v':
        *value += '\v';
        break;
      case 'a':
        *value += '\a';
        break;
      case '0':
      case '1':
      case '2':
      case '3':
      case '4':
      case '5':
      case '6':
      case '7': {
        // Octal: up to three digits in all.
        uint32_t cp = e - '0';
        for (int k = 0; k < 2 && *q < src_.size() && src_[*q] >= '0' && src_[*q] <= '7'; ++k) {
          cp = cp * 8 + (src_[(*q)++] - '0');
        }
        AppendUtf8(static_cast<char32_t>(cp), value);
        break;
      }
      case '\\':
        *value += '\\';
        break;
      case '\'':
        *value += '\'';
        break;
      case '"':
        *value += '"';
        break;
      case '\n':
        break;  // line continuation
      case 'x':
        return hex(2);
      case 'u':
        return hex(4);
      case 'U':
        return hex(8);
      default:
        if (static_cast<unsigned char>(e) >= 0x80) {
          // jinja2 decodes literals with .encode("ascii", "backslashreplace")
          // .decode("unicode-escape"): a backslash before a non-ASCII character stays, and
          // the character comes out as its own escape text (\xfc, \u4f60, \U0001f642).
          size_t len;
          const char32_t cp = DecodeAt(src_, *q - 1, &len);
          char buf[16];
          std::snprintf(buf, sizeof(buf),
                        cp < 0x100     ? "\\x%02x"
                        : cp < 0x10000 ? "\\u%04x"
                                       : "\\U%08x",
                        static_cast<unsigned>(cp));
          *value += buf;
          *q += len - 1;
          break;
        }
        *value += '\\';
        *value += e;
    }
    return absl::OkStatus();
  }

  std::string src_;
  std::vector<Token> tokens_;
  size_t counted_ = 0;
  int line_ = 1;
};

}  // namespace

// ---------------------------------------------------------------------------------------
// Syntax tree.

struct Expr {
  enum class Kind {
    kLiteral,
    kName,
    kList,
    kDict,
    kAttr,
    kItem,
    kSlice,
    kCall,
    kFilter,
    kTest,
    kNot,
    kNeg,
    kPos,
    kBinary,
    kCompare,
    kAnd,
    kOr,
    kCond
  };
  Kind kind;
  int line = 0;
  std::string name;  // variable, attribute, filter, test, function, operator; "tuple"
  Value literal;
  // Operands. kFilter/kTest: [subject, args...]; kCall: [callee, args...]; kSlice:
  // [object, start, stop, step] (null when absent); kCond: [then, cond, else (or null)];
  // kDict: key, value, key, value...
  std::vector<std::unique_ptr<Expr>> args;
  std::vector<std::pair<std::string, std::unique_ptr<Expr>>> kwargs;
  std::vector<std::string> ops;  // kCompare: one operator per pair of operands
  bool negated = false;          // kTest: `is not`
};

struct Node {
  enum class Kind { kBody, kText, kOutput, kIf, kFor, kSet, kSetBlock, kBreak, kContinue };
  Kind kind = Kind::kBody;
  int line = 0;
  std::string text;                          // kText: the text; kSet/kSetBlock: the target name
  std::string attr;                          // kSet: `ns.attr` target
  std::unique_ptr<Expr> expr;                // kOutput, kSet value, kFor iterable
  std::unique_ptr<Expr> cond;                // kFor filter
  std::vector<std::string> targets;          // kFor
  std::vector<std::unique_ptr<Expr>> conds;  // kIf: one per branch; null for else
  std::vector<std::vector<Node>> bodies;  // kIf: one per branch; kFor/kSetBlock/kBody: [body, else]
};

namespace {

// ---------------------------------------------------------------------------------------
// Parser.

const absl::flat_hash_set<std::string>& KnownFilters() {
  static const auto* kSet = new absl::flat_hash_set<std::string>{
      "trim",  "length", "count",      "upper",   "lower",  "tojson",     "string",     "default",
      "d",     "first",  "last",       "replace", "join",   "list",       "items",      "int",
      "float", "abs",    "capitalize", "select",  "reject", "selectattr", "rejectattr", "map",
      "safe",  "unique", "sum",        "min",     "max",    "reverse",    "sort"};
  return *kSet;
}

const absl::flat_hash_set<std::string>& KnownTests() {
  static const auto* kSet = new absl::flat_hash_set<std::string>{
      "defined",  "undefined", "none",        "string",      "mapping", "iterable",
      "sequence", "number",    "integer",     "float",       "boolean", "true",
      "false",    "equalto",   "eq",          "==",          "ne",      "!=",
      "odd",      "even",      "divisibleby", "in",          "lower",   "upper",
      "gt",       "lt",        "ge",          "le",          "sameas",  ">",
      "<",        ">=",        "<=",          "greaterthan", "lessthan"};  // the operator
                                                                           // spellings: for
                                                                           // select('==', x)
  return *kSet;
}

const absl::flat_hash_set<std::string>& KnownFunctions() {
  static const auto* kSet =
      new absl::flat_hash_set<std::string>{"range", "namespace", "raise_exception", "strftime_now"};
  return *kSet;
}

class Parser {
 public:
  explicit Parser(std::vector<Token> tokens) : toks_(std::move(tokens)) {}

  absl::StatusOr<std::vector<Node>> ParseTemplate() {
    std::vector<Node> body;
    std::string ended;
    auto st = ParseBody({}, &body, &ended, 0);
    if (!st.ok()) return st;
    return body;
  }

 private:
  const Token& Peek(int k = 0) const { return toks_[std::min(pos_ + k, toks_.size() - 1)]; }
  const Token& Next() { return toks_[std::min(pos_++, toks_.size() - 1)]; }
  bool IsOp(std::string_view op, int k = 0) const {
    return Peek(k).type == Tok::kOp && Peek(k).text == op;
  }
  bool IsName(std::string_view name, int k = 0) const {
    return Peek(k).type == Tok::kName && Peek(k).text == name;
  }
  static std::string Describe(const Token& t) {
    switch (t.type) {
      case Tok::kEof:
        return "end of template";
      case Tok::kBlockEnd:
        return "end of tag '%}'";
      case Tok::kVarEnd:
        return "end of tag '}}'";
      case Tok::kText:
        return "text";
      case Tok::kString:
        return "string literal";
      default:
        return absl::StrCat("'", t.text, "'");
    }
  }
  absl::Status Unexpected(std::string_view wanted) const {
    return ErrorAt(Peek().line,
                   absl::StrCat("expected ", std::string(wanted), ", found ", Describe(Peek())));
  }
  absl::Status ExpectOp(std::string_view op) {
    if (!IsOp(op)) return Unexpected(absl::StrCat("'", std::string(op), "'"));
    ++pos_;
    return absl::OkStatus();
  }
  absl::Status ExpectBlockEnd() {
    if (Peek().type != Tok::kBlockEnd) return Unexpected("'%}'");
    ++pos_;
    return absl::OkStatus();
  }
  absl::StatusOr<std::string> ExpectName() {
    if (Peek().type != Tok::kName) return Unexpected("a name");
    return Next().text;
  }

  // Parses nodes until a block tag whose name is in `ends` (left unconsumed, after its '{%',
  // its name stored in *ended) or the end of the template (only allowed when ends is empty).
  absl::Status ParseBody(const std::vector<std::string>& ends, std::vector<Node>* out,
                         std::string* ended, int depth) {
    if (depth > kMaxDepth) return ErrorAt(Peek().line, "blocks nested too deeply");
    for (;;) {
      const Token& t = Peek();
      if (t.type == Tok::kEof) {
        if (ends.empty()) return absl::OkStatus();
        return ErrorAt(t.line, absl::StrCat("unexpected end of template, expected '{% ",
                                            absl::StrJoin(ends, " %}' or '{% "), " %}'"));
      }
      if (t.type == Tok::kText) {
        Node node;
        node.kind = Node::Kind::kText;
        node.line = t.line;
        node.text = t.text;
        out->push_back(std::move(node));
        ++pos_;
        continue;
      }
      if (t.type == Tok::kVarBegin) {
        ++pos_;
        Node node;
        node.kind = Node::Kind::kOutput;
        node.line = t.line;
        auto e = ParseExpression(0);
        if (!e.ok()) return e.status();
        node.expr = std::move(*e);
        if (Peek().type != Tok::kVarEnd) return Unexpected("'}}'");
        ++pos_;
        out->push_back(std::move(node));
        continue;
      }
      // Block tag.
      ++pos_;
      const int line = Peek().line;
      auto name = ExpectName();
      if (!name.ok()) return name.status();
      if (std::find(ends.begin(), ends.end(), *name) != ends.end()) {
        *ended = *name;
        return absl::OkStatus();
      }
      Node node;
      node.line = line;
      absl::Status st;
      if (*name == "if") {
        st = ParseIf(&node, depth);
      } else if (*name == "for") {
        st = ParseFor(&node, depth);
      } else if (*name == "set") {
        st = ParseSet(&node, depth);
      } else if (*name == "break" || *name == "continue") {
        if (loop_depth_ == 0) return ErrorAt(line, absl::StrCat("'", *name, "' outside a loop"));
        node.kind = *name == "break" ? Node::Kind::kBreak : Node::Kind::kContinue;
        st = ExpectBlockEnd();
      } else if (*name == "generation") {
        // transformers' {% generation %} only marks assistant spans; it renders its body.
        st = ExpectBlockEnd();
        if (st.ok()) {
          node.kind = Node::Kind::kBody;
          node.bodies.emplace_back();
          std::string e;
          st = ParseBody({"endgeneration"}, &node.bodies[0], &e, depth + 1);
          if (st.ok()) st = ExpectBlockEnd();
        }
      } else if (*name == "macro" || *name == "call" || *name == "filter" || *name == "block" ||
                 *name == "extends" || *name == "include" || *name == "import" || *name == "from" ||
                 *name == "with" || *name == "autoescape" || *name == "do" || *name == "trans") {
        return ErrorAt(line, absl::StrCat("unsupported tag '", *name, "'"));
      } else if (absl::StartsWith(*name, "end") || *name == "else" || *name == "elif") {
        return ErrorAt(line, absl::StrCat("unexpected '{% ", *name, " %}'"));
      } else {
        return ErrorAt(line, absl::StrCat("unknown tag '", *name, "'"));
      }
      if (!st.ok()) return st;
      out->push_back(std::move(node));
    }
  }

  absl::Status ParseIf(Node* node, int depth) {
    node->kind = Node::Kind::kIf;
    for (;;) {
      auto cond = ParseExpression(0);
      if (!cond.ok()) return cond.status();
      if (auto st = ExpectBlockEnd(); !st.ok()) return st;
      node->conds.push_back(std::move(*cond));
      node->bodies.emplace_back();
      std::string ended;
      if (auto st = ParseBody({"elif", "else", "endif"}, &node->bodies.back(), &ended, depth + 1);
          !st.ok()) {
        return st;
      }
      if (ended == "elif") continue;
      if (ended == "else") {
        if (auto st = ExpectBlockEnd(); !st.ok()) return st;
        node->conds.push_back(nullptr);
        node->bodies.emplace_back();
        if (auto st = ParseBody({"endif"}, &node->bodies.back(), &ended, depth + 1); !st.ok()) {
          return st;
        }
      }
      return ExpectBlockEnd();
    }
  }

  absl::Status ParseFor(Node* node, int depth) {
    node->kind = Node::Kind::kFor;
    for (;;) {
      auto target = ExpectName();
      if (!target.ok()) return target.status();
      node->targets.push_back(*target);
      if (!IsOp(",")) break;
      ++pos_;
    }
    if (!IsName("in")) return Unexpected("'in'");
    ++pos_;
    // The iterable may not contain a conditional expression: `if` starts the loop filter.
    auto iter = ParseOr(0);
    if (!iter.ok()) return iter.status();
    node->expr = std::move(*iter);
    if (IsName("if")) {
      ++pos_;
      auto cond = ParseExpression(0);
      if (!cond.ok()) return cond.status();
      node->cond = std::move(*cond);
    }
    if (IsName("recursive")) return ErrorAt(Peek().line, "unsupported 'recursive' loop");
    if (auto st = ExpectBlockEnd(); !st.ok()) return st;
    node->bodies.resize(2);
    std::string ended;
    ++loop_depth_;
    auto st = ParseBody({"else", "endfor"}, &node->bodies[0], &ended, depth + 1);
    --loop_depth_;
    if (!st.ok()) return st;
    if (ended == "else") {
      if (st = ExpectBlockEnd(); !st.ok()) return st;
      if (st = ParseBody({"endfor"}, &node->bodies[1], &ended, depth + 1); !st.ok()) return st;
    }
    return ExpectBlockEnd();
  }

  absl::Status ParseSet(Node* node, int depth) {
    auto target = ExpectName();
    if (!target.ok()) return target.status();
    node->text = *target;
    if (IsOp(".")) {
      ++pos_;
      auto attr = ExpectName();
      if (!attr.ok()) return attr.status();
      node->attr = *attr;
    }
    if (IsOp(",")) return ErrorAt(Peek().line, "unsupported tuple assignment in 'set'");
    if (Peek().type == Tok::kBlockEnd && node->attr.empty()) {
      ++pos_;
      node->kind = Node::Kind::kSetBlock;
      node->bodies.emplace_back();
      std::string ended;
      if (auto st = ParseBody({"endset"}, &node->bodies[0], &ended, depth + 1); !st.ok()) {
        return st;
      }
      return ExpectBlockEnd();
    }
    node->kind = Node::Kind::kSet;
    if (auto st = ExpectOp("="); !st.ok()) return st;
    auto value = ParseExpression(0);
    if (!value.ok()) return value.status();
    node->expr = std::move(*value);
    return ExpectBlockEnd();
  }

  using ExprOr = absl::StatusOr<std::unique_ptr<Expr>>;

  static std::unique_ptr<Expr> Make(Expr::Kind kind, int line) {
    auto e = std::make_unique<Expr>();
    e->kind = kind;
    e->line = line;
    return e;
  }

  absl::Status Deeper(int depth) const {
    if (depth > kMaxExprDepth) return ErrorAt(Peek().line, "expression nested too deeply");
    return absl::OkStatus();
  }

  // expression := or ['if' or ['else' expression]]
  ExprOr ParseExpression(int depth) {
    if (auto st = Deeper(depth); !st.ok()) return st;
    auto then = ParseOr(depth + 1);
    if (!then.ok()) return then;
    while (IsName("if")) {
      const int line = Next().line;
      auto cond = ParseOr(depth + 1);
      if (!cond.ok()) return cond;
      auto e = Make(Expr::Kind::kCond, line);
      e->args.push_back(std::move(*then));
      e->args.push_back(std::move(*cond));
      if (IsName("else")) {
        ++pos_;
        auto other = ParseExpression(depth + 1);
        if (!other.ok()) return other;
        e->args.push_back(std::move(*other));
      } else {
        e->args.push_back(nullptr);
      }
      then = std::move(e);
    }
    return then;
  }

  ExprOr ParseOr(int depth) {
    if (auto st = Deeper(depth); !st.ok()) return st;
    auto left = ParseAnd(depth + 1);
    if (!left.ok()) return left;
    while (IsName("or")) {
      const int line = Next().line;
      auto right = ParseAnd(depth + 1);
      if (!right.ok()) return right;
      auto e = Make(Expr::Kind::kOr, line);
      e->args.push_back(std::move(*left));
      e->args.push_back(std::move(*right));
      left = std::move(e);
    }
    return left;
  }

  ExprOr ParseAnd(int depth) {
    auto left = ParseNot(depth + 1);
    if (!left.ok()) return left;
    while (IsName("and")) {
      const int line = Next().line;
      auto right = ParseNot(depth + 1);
      if (!right.ok()) return right;
      auto e = Make(Expr::Kind::kAnd, line);
      e->args.push_back(std::move(*left));
      e->args.push_back(std::move(*right));
      left = std::move(e);
    }
    return left;
  }

  ExprOr ParseNot(int depth) {
    if (auto st = Deeper(depth); !st.ok()) return st;
    if (IsName("not")) {
      const int line = Next().line;
      auto operand = ParseNot(depth + 1);
      if (!operand.ok()) return operand;
      auto e = Make(Expr::Kind::kNot, line);
      e->args.push_back(std::move(*operand));
      return e;
    }
    return ParseCompare(depth + 1);
  }

  ExprOr ParseCompare(int depth) {
    auto left = ParseMath1(depth + 1);
    if (!left.ok()) return left;
    std::unique_ptr<Expr> cmp;
    for (;;) {
      std::string op;
      const Token& t = Peek();
      if (t.type == Tok::kOp && (t.text == "==" || t.text == "!=" || t.text == "<" ||
                                 t.text == ">" || t.text == "<=" || t.text == ">=")) {
        op = t.text;
        ++pos_;
      } else if (IsName("in")) {
        op = "in";
        ++pos_;
      } else if (IsName("not") && IsName("in", 1)) {
        op = "not in";
        pos_ += 2;
      } else {
        break;
      }
      if (!cmp) {
        cmp = Make(Expr::Kind::kCompare, t.line);
        cmp->args.push_back(std::move(*left));
      }
      auto right = ParseMath1(depth + 1);
      if (!right.ok()) return right;
      cmp->ops.push_back(op);
      cmp->args.push_back(std::move(*right));
    }
    if (cmp) return cmp;
    return left;
  }

  ExprOr ParseBinaryLevel(int depth, std::initializer_list<std::string_view> ops,
                          ExprOr (Parser::*next)(int)) {
    auto left = (this->*next)(depth + 1);
    if (!left.ok()) return left;
    for (;;) {
      std::string op;
      for (std::string_view o : ops) {
        if (IsOp(o)) op = std::string(o);
      }
      if (op.empty()) return left;
      const int line = Next().line;
      auto right = (this->*next)(depth + 1);
      if (!right.ok()) return right;
      auto e = Make(Expr::Kind::kBinary, line);
      e->name = op;
      e->args.push_back(std::move(*left));
      e->args.push_back(std::move(*right));
      left = std::move(e);
    }
  }
  ExprOr ParseMath1(int depth) { return ParseBinaryLevel(depth, {"+", "-"}, &Parser::ParseConcat); }
  ExprOr ParseConcat(int depth) { return ParseBinaryLevel(depth, {"~"}, &Parser::ParseMath2); }
  ExprOr ParseMath2(int depth) {
    return ParseBinaryLevel(depth, {"*", "/", "//", "%"}, &Parser::ParsePow);
  }
  ExprOr ParsePow(int depth) {
    return ParseBinaryLevel(depth, {"**"}, &Parser::ParseUnaryWithFilters);
  }
  ExprOr ParseUnaryWithFilters(int depth) { return ParseUnary(depth, true); }

  ExprOr ParseUnary(int depth, bool with_filter) {
    if (auto st = Deeper(depth); !st.ok()) return st;
    std::unique_ptr<Expr> node;
    if (IsOp("-") || IsOp("+")) {
      const Token& t = Next();
      auto operand = ParseUnary(depth + 1, false);
      if (!operand.ok()) return operand;
      node = Make(t.text == "-" ? Expr::Kind::kNeg : Expr::Kind::kPos, t.line);
      node->args.push_back(std::move(*operand));
    } else {
      auto primary = ParsePrimary(depth + 1);
      if (!primary.ok()) return primary;
      node = std::move(*primary);
    }
    auto post = ParsePostfix(std::move(node), depth + 1);
    if (!post.ok() || !with_filter) return post;
    return ParseFilterExpr(std::move(*post), depth + 1);
  }

  ExprOr ParsePrimary(int depth) {
    const Token& t = Peek();
    switch (t.type) {
      case Tok::kName: {
        ++pos_;
        auto e = Make(Expr::Kind::kLiteral, t.line);
        if (t.text == "true" || t.text == "True") {
          e->literal = Value::Bool(true);
        } else if (t.text == "false" || t.text == "False") {
          e->literal = Value::Bool(false);
        } else if (t.text == "none" || t.text == "None") {
          e->literal = Value::None();
        } else {
          e->kind = Expr::Kind::kName;
          e->name = t.text;
        }
        return e;
      }
      case Tok::kString: {
        auto e = Make(Expr::Kind::kLiteral, t.line);
        std::string s;
        while (Peek().type == Tok::kString) s += Next().text;  // adjacent literals join
        e->literal = Value::String(std::move(s));
        return e;
      }
      case Tok::kInt: {
        ++pos_;
        auto e = Make(Expr::Kind::kLiteral, t.line);
        e->literal = Value::Int(t.int_value);
        return e;
      }
      case Tok::kFloat: {
        ++pos_;
        auto e = Make(Expr::Kind::kLiteral, t.line);
        e->literal = Value::Float(t.float_value);
        return e;
      }
      case Tok::kOp:
        if (t.text == "(") {
          // A parenthesized expression, or a tuple: (), (a,), (a, b).
          ++pos_;
          auto tuple = Make(Expr::Kind::kList, t.line);
          tuple->name = "tuple";
          if (IsOp(")")) {
            ++pos_;
            return tuple;
          }
          auto inner = ParseExpression(depth + 1);
          if (!inner.ok()) return inner;
          if (!IsOp(",")) {
            if (auto st = ExpectOp(")"); !st.ok()) return st;
            return inner;
          }
          tuple->args.push_back(std::move(*inner));
          while (IsOp(",")) {
            ++pos_;
            if (IsOp(")")) break;
            auto item = ParseExpression(depth + 1);
            if (!item.ok()) return item;
            tuple->args.push_back(std::move(*item));
          }
          if (auto st = ExpectOp(")"); !st.ok()) return st;
          return tuple;
        }
        if (t.text == "[") {
          ++pos_;
          auto e = Make(Expr::Kind::kList, t.line);
          while (!IsOp("]")) {
            auto item = ParseExpression(depth + 1);
            if (!item.ok()) return item;
            e->args.push_back(std::move(*item));
            if (IsOp(",")) {
              ++pos_;
            } else if (!IsOp("]")) {
              return Unexpected("',' or ']'");
            }
          }
          ++pos_;
          return e;
        }
        if (t.text == "{") {
          ++pos_;
          auto e = Make(Expr::Kind::kDict, t.line);
          while (!IsOp("}")) {
            auto key = ParseExpression(depth + 1);
            if (!key.ok()) return key;
            if (auto st = ExpectOp(":"); !st.ok()) return st;
            auto value = ParseExpression(depth + 1);
            if (!value.ok()) return value;
            e->args.push_back(std::move(*key));
            e->args.push_back(std::move(*value));
            if (IsOp(",")) {
              ++pos_;
            } else if (!IsOp("}")) {
              return Unexpected("',' or '}'");
            }
          }
          ++pos_;
          return e;
        }
        break;
      default:
        break;
    }
    return Unexpected("an expression");
  }

  // Call arguments after '(' up to and including ')'.
  absl::Status ParseArgs(Expr* e, int depth) {
    while (!IsOp(")")) {
      if (Peek().type == Tok::kName && IsOp("=", 1)) {
        std::string key = Next().text;
        ++pos_;
        auto value = ParseExpression(depth + 1);
        if (!value.ok()) return value.status();
        e->kwargs.emplace_back(std::move(key), std::move(*value));
      } else {
        if (!e->kwargs.empty()) {
          return ErrorAt(Peek().line, "positional argument after keyword argument");
        }
        auto value = ParseExpression(depth + 1);
        if (!value.ok()) return value.status();
        e->args.push_back(std::move(*value));
      }
      if (IsOp(",")) {
        ++pos_;
      } else if (!IsOp(")")) {
        return Unexpected("',' or ')'");
      }
    }
    ++pos_;
    return absl::OkStatus();
  }

  ExprOr ParsePostfix(std::unique_ptr<Expr> node, int depth) {
    for (;;) {
      if (IsOp(".")) {
        const int line = Next().line;
        if (Peek().type == Tok::kInt) {
          auto e = Make(Expr::Kind::kItem, line);
          auto idx = Make(Expr::Kind::kLiteral, line);
          idx->literal = Value::Int(Next().int_value);
          e->args.push_back(std::move(node));
          e->args.push_back(std::move(idx));
          node = std::move(e);
          continue;
        }
        auto attr = ExpectName();
        if (!attr.ok()) return attr.status();
        auto e = Make(Expr::Kind::kAttr, line);
        e->name = *attr;
        e->args.push_back(std::move(node));
        node = std::move(e);
      } else if (IsOp("[")) {
        const int line = Next().line;
        std::unique_ptr<Expr> parts[3];
        int colons = 0;
        for (;;) {
          if (IsOp(":")) {
            ++pos_;
            if (++colons > 2) return Unexpected("']'");
            continue;
          }
          if (IsOp("]")) break;
          if (parts[colons]) return Unexpected("':' or ']'");
          auto part = ParseExpression(depth + 1);
          if (!part.ok()) return part;
          parts[colons] = std::move(*part);
        }
        ++pos_;
        if (colons == 0) {
          if (!parts[0]) return ErrorAt(line, "empty subscript");
          auto e = Make(Expr::Kind::kItem, line);
          e->args.push_back(std::move(node));
          e->args.push_back(std::move(parts[0]));
          node = std::move(e);
        } else {
          auto e = Make(Expr::Kind::kSlice, line);
          e->args.push_back(std::move(node));
          for (auto& p : parts) e->args.push_back(std::move(p));
          node = std::move(e);
        }
      } else if (IsOp("(")) {
        const int line = Next().line;
        if (node->kind == Expr::Kind::kName && !KnownFunctions().contains(node->name)) {
          return ErrorAt(line, absl::StrCat("unknown function '", node->name, "'"));
        }
        if (node->kind != Expr::Kind::kName && node->kind != Expr::Kind::kAttr) {
          return ErrorAt(line, "only functions and methods can be called");
        }
        auto e = Make(Expr::Kind::kCall, line);
        e->args.push_back(std::move(node));
        if (auto st = ParseArgs(e.get(), depth); !st.ok()) return st;
        node = std::move(e);
      } else {
        return node;
      }
    }
  }

  ExprOr ParseFilterExpr(std::unique_ptr<Expr> node, int depth) {
    for (;;) {
      if (IsOp("|")) {
        const int line = Next().line;
        auto name = ExpectName();
        if (!name.ok()) return name.status();
        if (!KnownFilters().contains(*name)) {
          return ErrorAt(line, absl::StrCat("unknown filter '", *name, "'"));
        }
        auto e = Make(Expr::Kind::kFilter, line);
        e->name = *name;
        e->args.push_back(std::move(node));
        if (IsOp("(")) {
          ++pos_;
          if (auto st = ParseArgs(e.get(), depth); !st.ok()) return st;
        }
        node = std::move(e);
      } else if (IsName("is")) {
        const int line = Next().line;
        auto e = Make(Expr::Kind::kTest, line);
        if (IsName("not")) {
          ++pos_;
          e->negated = true;
        }
        if (Peek().type != Tok::kName) return Unexpected("a test name");
        const std::string name = Next().text;
        if (!KnownTests().contains(name)) {
          return ErrorAt(line, absl::StrCat("unknown test '", name, "'"));
        }
        e->name = name;
        e->args.push_back(std::move(node));
        if (IsOp("(")) {
          ++pos_;
          if (auto st = ParseArgs(e.get(), depth); !st.ok()) return st;
        } else {
          // jinja2 takes one bare argument when a primary follows (`is divisibleby 3`).
          const Token& t = Peek();
          const bool primary =
              t.type == Tok::kString || t.type == Tok::kInt || t.type == Tok::kFloat ||
              (t.type == Tok::kOp && (t.text == "(" || t.text == "[" || t.text == "{")) ||
              (t.type == Tok::kName && t.text != "else" && t.text != "or" && t.text != "and" &&
               t.text != "if" && t.text != "in" && t.text != "not" && t.text != "is");
          if (primary) {
            auto arg = ParseUnary(depth + 1, false);
            if (!arg.ok()) return arg;
            e->args.push_back(std::move(*arg));
          }
        }
        node = std::move(e);
      } else {
        return node;
      }
    }
  }

  std::vector<Token> toks_;
  size_t pos_ = 0;
  int loop_depth_ = 0;
};

// ---------------------------------------------------------------------------------------
// Evaluator.

const char* TypeName(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return "undefined";
    case Value::Kind::kNone:
      return "NoneType";
    case Value::Kind::kBool:
      return "bool";
    case Value::Kind::kInt:
      return "int";
    case Value::Kind::kFloat:
      return "float";
    case Value::Kind::kString:
      return "str";
    case Value::Kind::kList:
      return "list";
    case Value::Kind::kDict:
      return "dict";
    case Value::Kind::kNamespace:
      return "Namespace";
    case Value::Kind::kFunction:
      return "function";
  }
  return "?";
}

bool IsNumber(const Value& v) {
  return v.kind() == Value::Kind::kBool || v.kind() == Value::Kind::kInt ||
         v.kind() == Value::Kind::kFloat;
}
bool IsIntegral(const Value& v) {
  return v.kind() == Value::Kind::kBool || v.kind() == Value::Kind::kInt;
}
int64_t AsInt(const Value& v) {
  return v.kind() == Value::Kind::kBool ? (v.boolean() ? 1 : 0) : v.integer();
}
double AsDouble(const Value& v) {
  return v.kind() == Value::Kind::kFloat ? v.real() : static_cast<double>(AsInt(v));
}

bool Truthy(const Value& v) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return false;
    case Value::Kind::kBool:
      return v.boolean();
    case Value::Kind::kInt:
      return v.integer() != 0;
    case Value::Kind::kFloat:
      return v.real() != 0;
    case Value::Kind::kString:
      return !v.str().empty();
    case Value::Kind::kList:
      return !v.list().empty();
    case Value::Kind::kDict:
      return !v.dict().empty();
    default:
      return true;
  }
}

void Repr(const Value& v, std::string* out);

// Python str().
void Str(const Value& v, std::string* out) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      return;
    case Value::Kind::kString:
      *out += v.str();
      return;
    default:
      Repr(v, out);
  }
}

std::string Str(const Value& v) {
  std::string s;
  Str(v, &s);
  return s;
}

// Python repr().
void Repr(const Value& v, std::string* out) {
  switch (v.kind()) {
    case Value::Kind::kUndefined:
      *out += "Undefined";  // jinja2's repr() of an undefined value
      return;
    case Value::Kind::kNone:
      *out += "None";
      return;
    case Value::Kind::kBool:
      *out += v.boolean() ? "True" : "False";
      return;
    case Value::Kind::kInt:
      *out += std::to_string(v.integer());
      return;
    case Value::Kind::kFloat:
      *out += FloatRepr(v.real());
      return;
    case Value::Kind::kString:
      *out += StrRepr(v.str());
      return;
    case Value::Kind::kList: {
      const bool tuple = v.boolean();
      *out += tuple ? '(' : '[';
      for (size_t i = 0; i < v.list().size(); ++i) {
        if (i) *out += ", ";
        Repr(v.list()[i], out);
      }
      if (tuple && v.list().size() == 1) *out += ',';
      *out += tuple ? ')' : ']';
      return;
    }
    case Value::Kind::kDict:
    case Value::Kind::kNamespace: {
      *out += v.kind() == Value::Kind::kNamespace ? "<Namespace {" : "{";
      bool first = true;
      for (const auto& [k, item] : v.dict()) {
        if (!first) *out += ", ";
        first = false;
        *out += StrRepr(k);
        *out += ": ";
        Repr(item, out);
      }
      *out += v.kind() == Value::Kind::kNamespace ? "}>" : "}";
      return;
    }
    case Value::Kind::kFunction:
      *out += "<function " + v.str() + ">";
      return;
  }
}

bool Equal(const Value& a, const Value& b) {
  if (IsNumber(a) && IsNumber(b)) {
    if (IsIntegral(a) && IsIntegral(b)) return AsInt(a) == AsInt(b);
    return AsDouble(a) == AsDouble(b);
  }
  if (a.kind() != b.kind()) return false;
  switch (a.kind()) {
    case Value::Kind::kUndefined:
    case Value::Kind::kNone:
      return true;
    case Value::Kind::kString:
    case Value::Kind::kFunction:
      return a.str() == b.str();
    case Value::Kind::kList:
      if (a.boolean() != b.boolean() || a.list().size() != b.list().size()) return false;
      for (size_t i = 0; i < a.list().size(); ++i) {
        if (!Equal(a.list()[i], b.list()[i])) return false;
      }
      return true;
    case Value::Kind::kDict: {
      if (a.dict().size() != b.dict().size()) return false;
      for (const auto& [k, item] : a.dict()) {
        const Value* other = b.Find(k);
        if (other == nullptr || !Equal(item, *other)) return false;
      }
      return true;
    }
    case Value::Kind::kNamespace:
      return &a.dict() == &b.dict();
    default:
      return false;
  }
}

enum class Flow { kNormal, kBreak, kContinue };

class Renderer {
 public:
  Renderer(const Limits& limits, const DictItems& globals) : limits_(limits) {
    scopes_.emplace_back();
    for (const char* f : {"range", "namespace", "raise_exception", "strftime_now"}) {
      scopes_.back()[f] = Value::Function(f);
    }
    for (const auto& [k, v] : globals) scopes_.back()[k] = v;
  }

  absl::StatusOr<std::string> Run(const std::vector<Node>& body) {
    std::string out;
    out_ = &out;
    auto flow = ExecBody(body);
    if (!flow.ok()) return flow.status();
    return out;
  }

 private:
  absl::Status TooBig(int line) const {
    return absl::ResourceExhaustedError(
        absl::StrCat("chat template line ", line, ": output or a string built exceeds ",
                     limits_.max_output_bytes, " bytes (the max_output_bytes limit)"));
  }
  absl::Status CheckSize(size_t bytes, int line) const {
    return bytes > limits_.max_output_bytes ? TooBig(line) : absl::OkStatus();
  }
  absl::Status CountIteration(int line) {
    if (++iterations_ > limits_.max_loop_iterations) {
      return absl::ResourceExhaustedError(
          absl::StrCat("chat template line ", line, ": more than ", limits_.max_loop_iterations,
                       " loop iterations (the max_loop_iterations limit)"));
    }
    return absl::OkStatus();
  }

  Value Lookup(const std::string& name) const {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto f = it->find(name);
      if (f != it->end()) return f->second;
    }
    return Value::Undefined(absl::StrCat("'", name, "' is undefined"));
  }

  absl::StatusOr<Flow> ExecBody(const std::vector<Node>& body) {
    for (const Node& node : body) {
      auto flow = Exec(node);
      if (!flow.ok() || *flow != Flow::kNormal) return flow;
    }
    return Flow::kNormal;
  }

  absl::Status Emit(std::string_view s, int line) {
    if (out_->size() + s.size() > limits_.max_output_bytes) return TooBig(line);
    out_->append(s);
    return absl::OkStatus();
  }

  absl::StatusOr<Flow> Exec(const Node& node) {
    switch (node.kind) {
      case Node::Kind::kBody:
        return ExecBody(node.bodies[0]);
      case Node::Kind::kText:
        if (auto st = Emit(node.text, node.line); !st.ok()) return st;
        return Flow::kNormal;
      case Node::Kind::kOutput: {
        auto v = Eval(*node.expr);
        if (!v.ok()) return v.status();
        std::string s;
        Str(*v, &s);
        if (auto st = Emit(s, node.line); !st.ok()) return st;
        return Flow::kNormal;
      }
      case Node::Kind::kIf:
        for (size_t i = 0; i < node.conds.size(); ++i) {
          if (node.conds[i]) {
            auto c = Eval(*node.conds[i]);
            if (!c.ok()) return c.status();
            if (!Truthy(*c)) continue;
          }
          return ExecBody(node.bodies[i]);
        }
        return Flow::kNormal;
      case Node::Kind::kFor:
        return ExecFor(node);
      case Node::Kind::kSet: {
        auto v = Eval(*node.expr);
        if (!v.ok()) return v.status();
        if (node.attr.empty()) {
          scopes_.back()[node.text] = std::move(*v);
          return Flow::kNormal;
        }
        Value target = Lookup(node.text);
        if (target.kind() != Value::Kind::kNamespace) {
          return ErrorAt(node.line, absl::StrCat("cannot assign attribute '", node.attr, "' on '",
                                                 node.text, "', not a namespace"));
        }
        DictItems& items = target.mutable_namespace();
        for (auto& [k, item] : items) {
          if (k == node.attr) {
            item = std::move(*v);
            return Flow::kNormal;
          }
        }
        items.emplace_back(node.attr, std::move(*v));
        return Flow::kNormal;
      }
      case Node::Kind::kSetBlock: {
        std::string captured;
        std::string* saved = out_;
        out_ = &captured;
        auto flow = ExecBody(node.bodies[0]);
        out_ = saved;
        if (!flow.ok()) return flow;
        scopes_.back()[node.text] = Value::String(std::move(captured));
        return *flow;
      }
      case Node::Kind::kBreak:
        return Flow::kBreak;
      case Node::Kind::kContinue:
        return Flow::kContinue;
    }
    return Flow::kNormal;
  }

  // The items a for loop (or a filter) iterates: list items, dict keys, string characters.
  absl::StatusOr<std::vector<Value>> Items(const Value& v, int line) {
    switch (v.kind()) {
      case Value::Kind::kUndefined:
        return std::vector<Value>{};
      case Value::Kind::kList:
        return v.list();
      case Value::Kind::kDict: {
        std::vector<Value> keys;
        for (const auto& [k, item] : v.dict()) keys.push_back(Value::String(k));
        return keys;
      }
      case Value::Kind::kString: {
        std::vector<Value> chars;
        const auto off = CodePointOffsets(v.str());
        for (size_t i = 0; i + 1 < off.size(); ++i) {
          chars.push_back(Value::String(v.str().substr(off[i], off[i + 1] - off[i])));
        }
        return chars;
      }
      default:
        return ErrorAt(line, absl::StrCat("'", TypeName(v), "' object is not iterable"));
    }
  }

  absl::Status Bind(const Node& node, const Value& item) {
    if (node.targets.size() == 1) {
      scopes_.back()[node.targets[0]] = item;
      return absl::OkStatus();
    }
    auto parts = Items(item, node.line);
    if (!parts.ok()) return parts.status();
    if (parts->size() != node.targets.size()) {
      return ErrorAt(node.line, absl::StrCat("cannot unpack ", parts->size(), " values into ",
                                             node.targets.size(), " loop variables"));
    }
    for (size_t i = 0; i < parts->size(); ++i) scopes_.back()[node.targets[i]] = (*parts)[i];
    return absl::OkStatus();
  }

  absl::StatusOr<Flow> ExecFor(const Node& node) {
    auto iterable = Eval(*node.expr);
    if (!iterable.ok()) return iterable.status();
    auto all = Items(*iterable, node.line);
    if (!all.ok()) return all.status();
    std::vector<Value> items;
    if (node.cond) {
      // The loop filter runs first; loop.* then counts the items that passed.
      for (const Value& item : *all) {
        if (auto st = CountIteration(node.line); !st.ok()) return st;
        scopes_.emplace_back();
        absl::Status st = Bind(node, item);
        absl::StatusOr<Value> keep = st.ok() ? Eval(*node.cond) : absl::StatusOr<Value>(st);
        scopes_.pop_back();
        if (!keep.ok()) return keep.status();
        if (Truthy(*keep)) items.push_back(item);
      }
    } else {
      items = std::move(*all);
    }
    const int64_t n = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < n; ++i) {
      if (auto st = CountIteration(node.line); !st.ok()) return st;
      // Each iteration is a scope of its own: a `set` inside does not outlive it.
      scopes_.emplace_back();
      DictItems loop = {{"index0", Value::Int(i)},
                        {"index", Value::Int(i + 1)},
                        {"revindex0", Value::Int(n - i - 1)},
                        {"revindex", Value::Int(n - i)},
                        {"first", Value::Bool(i == 0)},
                        {"last", Value::Bool(i == n - 1)},
                        {"length", Value::Int(n)},
                        {"depth", Value::Int(1)},
                        {"depth0", Value::Int(0)}};
      if (i > 0) loop.emplace_back("previtem", items[i - 1]);
      if (i + 1 < n) loop.emplace_back("nextitem", items[i + 1]);
      scopes_.back()["loop"] = Value::Dict(std::move(loop));
      absl::Status st = Bind(node, items[i]);
      absl::StatusOr<Flow> flow = st.ok() ? ExecBody(node.bodies[0]) : absl::StatusOr<Flow>(st);
      scopes_.pop_back();
      if (!flow.ok()) return flow;
      if (*flow == Flow::kBreak) break;
    }
    if (n == 0) return ExecBody(node.bodies[1]);
    return Flow::kNormal;
  }

  absl::StatusOr<std::vector<Value>> EvalArgs(const Expr& e, size_t first) {
    std::vector<Value> out;
    for (size_t i = first; i < e.args.size(); ++i) {
      auto v = Eval(*e.args[i]);
      if (!v.ok()) return v.status();
      out.push_back(std::move(*v));
    }
    return out;
  }

  absl::StatusOr<DictItems> EvalKwargs(const Expr& e) {
    DictItems out;
    for (const auto& [k, x] : e.kwargs) {
      auto v = Eval(*x);
      if (!v.ok()) return v.status();
      out.emplace_back(k, std::move(*v));
    }
    return out;
  }

  absl::StatusOr<Value> Eval(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral:
        return e.literal;
      case Expr::Kind::kName:
        return Lookup(e.name);
      case Expr::Kind::kList: {
        auto items = EvalArgs(e, 0);
        if (!items.ok()) return items.status();
        if (e.name == "tuple") return Value::Tuple(std::move(*items));
        return Value::List(std::move(*items));
      }
      case Expr::Kind::kDict: {
        DictItems items;
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          auto k = Eval(*e.args[i]);
          if (!k.ok()) return k.status();
          auto v = Eval(*e.args[i + 1]);
          if (!v.ok()) return v.status();
          if (k->kind() != Value::Kind::kString) {
            return ErrorAt(e.line, "only string dict keys are supported");
          }
          bool replaced = false;
          for (auto& [key, item] : items) {
            if (key == k->str()) {
              item = *v;
              replaced = true;
            }
          }
          if (!replaced) items.emplace_back(k->str(), std::move(*v));
        }
        return Value::Dict(std::move(items));
      }
      case Expr::Kind::kAttr: {
        auto obj = Eval(*e.args[0]);
        if (!obj.ok()) return obj;
        return GetAttr(*obj, e.name, e.line);
      }
      case Expr::Kind::kItem: {
        auto obj = Eval(*e.args[0]);
        if (!obj.ok()) return obj;
        auto key = Eval(*e.args[1]);
        if (!key.ok()) return key;
        return GetItem(*obj, *key, e.line);
      }
      case Expr::Kind::kSlice:
        return EvalSlice(e);
      case Expr::Kind::kCall:
        return EvalCall(e);
      case Expr::Kind::kFilter:
        return EvalFilter(e);
      case Expr::Kind::kTest: {
        auto r = EvalTest(e);
        if (!r.ok()) return r.status();
        return Value::Bool(*r != e.negated);
      }
      case Expr::Kind::kNot: {
        auto v = Eval(*e.args[0]);
        if (!v.ok()) return v;
        return Value::Bool(!Truthy(*v));
      }
      case Expr::Kind::kNeg:
      case Expr::Kind::kPos: {
        auto v = Eval(*e.args[0]);
        if (!v.ok()) return v;
        if (!IsNumber(*v)) {
          return ErrorAt(e.line, absl::StrCat("bad operand type for unary ",
                                              e.kind == Expr::Kind::kNeg ? "-" : "+", ": '",
                                              TypeName(*v), "'"));
        }
        if (e.kind == Expr::Kind::kPos) return IsIntegral(*v) ? Value::Int(AsInt(*v)) : *v;
        if (v->kind() == Value::Kind::kFloat) return Value::Float(-v->real());
        if (AsInt(*v) == INT64_MIN) return ErrorAt(e.line, "integer overflow");
        return Value::Int(-AsInt(*v));
      }
      case Expr::Kind::kBinary: {
        auto a = Eval(*e.args[0]);
        if (!a.ok()) return a;
        auto b = Eval(*e.args[1]);
        if (!b.ok()) return b;
        return Binary(e.name, *a, *b, e.line);
      }
      case Expr::Kind::kCompare: {
        auto left = Eval(*e.args[0]);
        if (!left.ok()) return left;
        for (size_t i = 0; i < e.ops.size(); ++i) {
          auto right = Eval(*e.args[i + 1]);
          if (!right.ok()) return right;
          auto r = Compare(e.ops[i], *left, *right, e.line);
          if (!r.ok()) return r.status();
          if (!*r) return Value::Bool(false);
          left = std::move(right);
        }
        return Value::Bool(true);
      }
      case Expr::Kind::kAnd: {
        auto a = Eval(*e.args[0]);
        if (!a.ok() || !Truthy(*a)) return a;
        return Eval(*e.args[1]);
      }
      case Expr::Kind::kOr: {
        auto a = Eval(*e.args[0]);
        if (!a.ok() || Truthy(*a)) return a;
        return Eval(*e.args[1]);
      }
      case Expr::Kind::kCond: {
        auto c = Eval(*e.args[1]);
        if (!c.ok()) return c;
        if (Truthy(*c)) return Eval(*e.args[0]);
        if (e.args[2]) return Eval(*e.args[2]);
        return Value::Undefined("the conditional expression evaluated to false and had no else");
      }
    }
    return ErrorAt(e.line, "internal: unknown expression");
  }

  absl::StatusOr<Value> GetAttr(const Value& obj, const std::string& name, int line) {
    if (obj.is_undefined()) return ErrorAt(line, obj.str());
    if (obj.kind() == Value::Kind::kDict || obj.kind() == Value::Kind::kNamespace) {
      if (const Value* v = obj.Find(name)) return *v;
    }
    // jinja2 would yield the bound method itself (and print its repr); we only call them.
    static const auto* kMethods = new absl::flat_hash_set<std::string>{
        "strip",   "lstrip", "rstrip",     "upper", "lower", "startswith", "endswith", "split",
        "replace", "join",   "capitalize", "items", "keys",  "values",     "get"};
    if ((obj.kind() == Value::Kind::kString || obj.kind() == Value::Kind::kDict) &&
        kMethods->contains(name)) {
      return ErrorAt(line, absl::StrCat("method '", name, "' is only supported when called"));
    }
    return Value::Undefined(
        absl::StrCat("'", TypeName(obj), " object' has no attribute ", StrRepr(name)));
  }

  absl::StatusOr<Value> GetItem(const Value& obj, const Value& key, int line) {
    if (obj.is_undefined()) return ErrorAt(line, obj.str());
    switch (obj.kind()) {
      case Value::Kind::kDict:
      case Value::Kind::kNamespace:
        if (key.kind() == Value::Kind::kString) {
          if (const Value* v = obj.Find(key.str())) return *v;
        }
        break;
      case Value::Kind::kList:
      case Value::Kind::kString: {
        if (!IsIntegral(key)) break;
        const bool is_list = obj.kind() == Value::Kind::kList;
        std::vector<size_t> off;
        if (!is_list) off = CodePointOffsets(obj.str());
        const int64_t n = is_list ? static_cast<int64_t>(obj.list().size())
                                  : static_cast<int64_t>(off.size()) - 1;
        int64_t i = AsInt(key);
        if (i < 0) i += n;
        if (i < 0 || i >= n) break;
        if (is_list) return obj.list()[i];
        return Value::String(obj.str().substr(off[i], off[i + 1] - off[i]));
      }
      default:
        break;
    }
    std::string k;
    Repr(key, &k);
    if (key.kind() == Value::Kind::kString) {
      return Value::Undefined(absl::StrCat("'", TypeName(obj), " object' has no attribute ", k));
    }
    return Value::Undefined(absl::StrCat(TypeName(obj), " object has no element ", k));
  }

  absl::StatusOr<Value> EvalSlice(const Expr& e) {
    auto obj = Eval(*e.args[0]);
    if (!obj.ok()) return obj;
    std::optional<int64_t> bound[3];
    for (int k = 0; k < 3; ++k) {
      if (!e.args[k + 1]) continue;
      auto v = Eval(*e.args[k + 1]);
      if (!v.ok()) return v;
      if (v->kind() == Value::Kind::kNone) continue;
      if (!IsIntegral(*v)) return ErrorAt(e.line, "slice indices must be integers or none");
      bound[k] = AsInt(*v);
    }
    const bool is_list = obj->kind() == Value::Kind::kList;
    if (!is_list && obj->kind() != Value::Kind::kString) {
      if (obj->is_undefined()) return ErrorAt(e.line, obj->str());
      return ErrorAt(e.line, absl::StrCat("'", TypeName(*obj), "' object is not subscriptable"));
    }
    std::vector<size_t> off;
    if (!is_list) off = CodePointOffsets(obj->str());
    const int64_t n =
        is_list ? static_cast<int64_t>(obj->list().size()) : static_cast<int64_t>(off.size()) - 1;
    const int64_t step = bound[2].value_or(1);
    if (step == 0) return ErrorAt(e.line, "slice step cannot be zero");
    // Python's slice.indices().
    auto clamp = [&](std::optional<int64_t> b, int64_t dflt) {
      if (!b) return dflt;
      int64_t v = *b;
      if (v < 0) v += n;
      if (step > 0) return std::clamp<int64_t>(v, 0, n);
      return std::clamp<int64_t>(v, -1, n - 1);
    };
    const int64_t start = clamp(bound[0], step > 0 ? 0 : n - 1);
    const int64_t stop = clamp(bound[1], step > 0 ? n : -1);
    std::vector<Value> list_out;
    std::string str_out;
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
      if (is_list) {
        list_out.push_back(obj->list()[i]);
      } else {
        str_out.append(obj->str(), off[i], off[i + 1] - off[i]);
      }
    }
    if (is_list) return Value::List(std::move(list_out));
    return Value::String(std::move(str_out));
  }

  absl::StatusOr<Value> Binary(const std::string& op, const Value& a, const Value& b, int line) {
    if (op == "~") {
      std::string s = Str(a);
      Str(b, &s);
      if (auto st = CheckSize(s.size(), line); !st.ok()) return st;
      return Value::String(std::move(s));
    }
    auto type_error = [&]() {
      return ErrorAt(line, absl::StrCat("unsupported operand types for ", op, ": '", TypeName(a),
                                        "' and '", TypeName(b), "'"));
    };
    if (a.is_undefined()) return ErrorAt(line, a.str());
    if (b.is_undefined()) return ErrorAt(line, b.str());
    if (op == "+") {
      if (a.kind() == Value::Kind::kString && b.kind() == Value::Kind::kString) {
        if (auto st = CheckSize(a.str().size() + b.str().size(), line); !st.ok()) return st;
        return Value::String(a.str() + b.str());
      }
      if (a.kind() == Value::Kind::kList && b.kind() == Value::Kind::kList) {
        std::vector<Value> items = a.list();
        items.insert(items.end(), b.list().begin(), b.list().end());
        if (static_cast<int64_t>(items.size()) > limits_.max_loop_iterations) {
          return TooBig(line);
        }
        return Value::List(std::move(items));
      }
    }
    auto is_seq = [](const Value& v) {
      return v.kind() == Value::Kind::kString || v.kind() == Value::Kind::kList;
    };
    if (op == "*" && ((is_seq(a) && IsIntegral(b)) || (is_seq(b) && IsIntegral(a)))) {
      const Value& seq = IsIntegral(a) ? b : a;
      const int64_t times = std::max<int64_t>(0, AsInt(IsIntegral(a) ? a : b));
      if (seq.kind() == Value::Kind::kString) {
        if (times > 0 && seq.str().size() > limits_.max_output_bytes / times) return TooBig(line);
        std::string s;
        for (int64_t i = 0; i < times; ++i) s += seq.str();
        return Value::String(std::move(s));
      }
      if (times > 0 &&
          static_cast<int64_t>(seq.list().size()) > limits_.max_loop_iterations / times) {
        return TooBig(line);
      }
      std::vector<Value> items;
      for (int64_t i = 0; i < times; ++i) {
        items.insert(items.end(), seq.list().begin(), seq.list().end());
      }
      return Value::List(std::move(items));
    }
    if (!IsNumber(a) || !IsNumber(b)) return type_error();
    if (op == "/") {
      if (AsDouble(b) == 0) return ErrorAt(line, "division by zero");
      return Value::Float(AsDouble(a) / AsDouble(b));
    }
    if (IsIntegral(a) && IsIntegral(b)) {
      const int64_t x = AsInt(a), y = AsInt(b);
      int64_t r = 0;
      bool overflow = false;
      if (op == "+") {
        overflow = __builtin_add_overflow(x, y, &r);
      } else if (op == "-") {
        overflow = __builtin_sub_overflow(x, y, &r);
      } else if (op == "*") {
        overflow = __builtin_mul_overflow(x, y, &r);
      } else if (op == "//" || op == "%") {
        if (y == 0) return ErrorAt(line, "integer division or modulo by zero");
        if (x == INT64_MIN && y == -1) return ErrorAt(line, "integer overflow");
        int64_t q = x / y, m = x % y;
        if (m != 0 && ((m < 0) != (y < 0))) {  // Python floors
          --q;
          m += y;
        }
        r = op == "//" ? q : m;
      } else if (op == "**") {
        if (y < 0) return Value::Float(std::pow(static_cast<double>(x), static_cast<double>(y)));
        r = 1;
        for (int64_t i = 0; i < y && !overflow; ++i) overflow = __builtin_mul_overflow(r, x, &r);
      }
      if (overflow) return ErrorAt(line, "integer overflow");
      return Value::Int(r);
    }
    const double x = AsDouble(a), y = AsDouble(b);
    if (op == "+") return Value::Float(x + y);
    if (op == "-") return Value::Float(x - y);
    if (op == "*") return Value::Float(x * y);
    if (op == "**") return Value::Float(std::pow(x, y));
    if (y == 0) return ErrorAt(line, "float division or modulo by zero");
    if (op == "//") return Value::Float(std::floor(x / y));
    double m = std::fmod(x, y);
    if (m != 0 && ((m < 0) != (y < 0))) m += y;
    return Value::Float(m);
  }

  absl::StatusOr<bool> Compare(const std::string& op, const Value& a, const Value& b, int line) {
    if (op == "==") return Equal(a, b);
    if (op == "!=") return !Equal(a, b);
    if (op == "in" || op == "not in") {
      bool found = false;
      switch (b.kind()) {
        case Value::Kind::kString:
          if (a.kind() != Value::Kind::kString) {
            return ErrorAt(line, absl::StrCat("'in <string>' requires string as left operand, "
                                              "not ",
                                              TypeName(a)));
          }
          found = b.str().find(a.str()) != std::string::npos;
          break;
        case Value::Kind::kList:
          for (const Value& item : b.list()) found = found || Equal(a, item);
          break;
        case Value::Kind::kDict:
        case Value::Kind::kNamespace:
          found = a.kind() == Value::Kind::kString && b.Find(a.str()) != nullptr;
          break;
        case Value::Kind::kUndefined:
          break;
        default:
          return ErrorAt(line,
                         absl::StrCat("argument of type '", TypeName(b), "' is not iterable"));
      }
      return op == "in" ? found : !found;
    }
    int c;
    if (IsNumber(a) && IsNumber(b)) {
      const double x = AsDouble(a), y = AsDouble(b);
      if (IsIntegral(a) && IsIntegral(b)) {
        c = AsInt(a) < AsInt(b) ? -1 : AsInt(a) > AsInt(b) ? 1 : 0;
      } else {
        if (std::isnan(x) || std::isnan(y)) return false;
        c = x < y ? -1 : x > y ? 1 : 0;
      }
    } else if (a.kind() == Value::Kind::kString && b.kind() == Value::Kind::kString) {
      // UTF-8 byte order is code point order.
      c = a.str().compare(b.str());
    } else {
      if (a.is_undefined()) return ErrorAt(line, a.str());
      if (b.is_undefined()) return ErrorAt(line, b.str());
      return ErrorAt(line, absl::StrCat("'", op, "' not supported between instances of '",
                                        TypeName(a), "' and '", TypeName(b), "'"));
    }
    if (op == "<") return c < 0;
    if (op == ">") return c > 0;
    if (op == "<=") return c <= 0;
    return c >= 0;
  }

  absl::StatusOr<Value> EvalCall(const Expr& e) {
    auto args = EvalArgs(e, 1);
    if (!args.ok()) return args.status();
    auto kwargs = EvalKwargs(e);
    if (!kwargs.ok()) return kwargs.status();
    const Expr& callee = *e.args[0];
    if (callee.kind == Expr::Kind::kAttr) {
      auto obj = Eval(*callee.args[0]);
      if (!obj.ok()) return obj;
      return CallMethod(*obj, callee.name, *args, *kwargs, e.line);
    }
    Value fn = Lookup(callee.name);
    if (fn.kind() != Value::Kind::kFunction) {
      return ErrorAt(e.line, absl::StrCat("'", callee.name, "' is not callable"));
    }
    const std::string& name = fn.str();
    if (name == "raise_exception") {
      const std::string msg = args->empty() ? "" : Str((*args)[0]);
      return absl::InvalidArgumentError(
          absl::StrCat("chat template raised an exception (line ", e.line, "): ", msg));
    }
    if (name == "namespace") {
      DictItems items;
      if (!args->empty()) {
        if ((*args)[0].kind() != Value::Kind::kDict) {
          return ErrorAt(e.line, "namespace() takes a dict or keyword arguments");
        }
        items = (*args)[0].dict();
      }
      for (auto& kv : *kwargs) items.push_back(std::move(kv));
      return Value::Namespace(std::move(items));
    }
    if (name == "range") {
      if (args->empty() || args->size() > 3 || !kwargs->empty()) {
        return ErrorAt(e.line, "range() takes 1 to 3 integer arguments");
      }
      int64_t r[3] = {0, 0, 1};
      for (size_t i = 0; i < args->size(); ++i) {
        if (!IsIntegral((*args)[i])) return ErrorAt(e.line, "range() takes integer arguments");
      }
      if (args->size() == 1) {
        r[1] = AsInt((*args)[0]);
      } else {
        r[0] = AsInt((*args)[0]);
        r[1] = AsInt((*args)[1]);
        if (args->size() == 3) r[2] = AsInt((*args)[2]);
      }
      if (r[2] == 0) return ErrorAt(e.line, "range() step must not be zero");
      std::vector<Value> items;
      for (int64_t i = r[0]; r[2] > 0 ? i < r[1] : i > r[1]; i += r[2]) {
        if (static_cast<int64_t>(items.size()) >= limits_.max_loop_iterations) {
          return absl::ResourceExhaustedError(
              absl::StrCat("chat template line ", e.line, ": range() longer than ",
                           limits_.max_loop_iterations, " (the max_loop_iterations limit)"));
        }
        items.push_back(Value::Int(i));
        if ((r[2] > 0 && i > INT64_MAX - r[2]) || (r[2] < 0 && i < INT64_MIN - r[2])) break;
      }
      return Value::List(std::move(items));
    }
    if (name == "strftime_now") {
      if (args->size() != 1 || (*args)[0].kind() != Value::Kind::kString) {
        return ErrorAt(e.line, "strftime_now() takes one format string");
      }
      const std::time_t now = std::time(nullptr);
      std::tm tm;
      localtime_r(&now, &tm);
      char buf[256];
      const size_t len = std::strftime(buf, sizeof(buf), (*args)[0].str().c_str(), &tm);
      return Value::String(std::string(buf, len));
    }
    return ErrorAt(e.line, absl::StrCat("unknown function '", name, "'"));
  }

  static std::optional<std::string_view> OptStr(const std::vector<Value>& args, size_t i) {
    if (i < args.size() && args[i].kind() == Value::Kind::kString) return args[i].str();
    return std::nullopt;
  }

  absl::StatusOr<Value> CallMethod(const Value& obj, const std::string& name,
                                   const std::vector<Value>& args, const DictItems& kwargs,
                                   int line) {
    auto bad = [&]() {
      return ErrorAt(line, absl::StrCat("unsupported method '", name, "' on '", TypeName(obj),
                                        "' (or bad arguments)"));
    };
    if (obj.is_undefined()) return ErrorAt(line, obj.str());
    if (!kwargs.empty()) return bad();
    if (obj.kind() == Value::Kind::kString) {
      const std::string& s = obj.str();
      for (size_t i = 0; i < args.size(); ++i) {
        if (args[i].kind() != Value::Kind::kString && args[i].kind() != Value::Kind::kNone &&
            !(name == "replace" && i == 2 && IsIntegral(args[i])) &&
            !((name == "startswith" || name == "endswith") &&
              args[i].kind() == Value::Kind::kList) &&
            !(name == "split" && i == 1 && IsIntegral(args[i])) && name != "join") {
          return bad();
        }
      }
      if (name == "strip" || name == "lstrip" || name == "rstrip") {
        if (args.size() > 1) return bad();
        return Value::String(PyStrip(s, name != "rstrip", name != "lstrip", OptStr(args, 0)));
      }
      if (name == "upper") return Value::String(PyUpper(s));
      if (name == "lower") return Value::String(PyLower(s));
      if (name == "startswith" || name == "endswith") {
        if (args.size() != 1) return bad();
        std::vector<Value> prefixes =
            args[0].kind() == Value::Kind::kList ? args[0].list() : std::vector<Value>{args[0]};
        for (const Value& p : prefixes) {
          if (p.kind() != Value::Kind::kString) return bad();
          if (name == "startswith" ? absl::StartsWith(s, p.str()) : absl::EndsWith(s, p.str())) {
            return Value::Bool(true);
          }
        }
        return Value::Bool(false);
      }
      if (name == "split") {
        if (args.size() > 2) return bad();
        int64_t maxsplit = args.size() == 2 ? AsInt(args[1]) : -1;
        std::vector<Value> parts;
        auto sep = OptStr(args, 0);
        if (sep) {
          if (sep->empty()) return ErrorAt(line, "split(): empty separator");
          size_t start = 0;
          for (;;) {
            const size_t at = maxsplit == 0 ? std::string::npos : s.find(*sep, start);
            if (at == std::string::npos) break;
            parts.push_back(Value::String(s.substr(start, at - start)));
            start = at + sep->size();
            if (maxsplit > 0) --maxsplit;
          }
          parts.push_back(Value::String(s.substr(start)));
        } else {
          size_t i = 0;
          for (;;) {
            i += LeadingSpace(std::string_view(s).substr(i));
            if (i >= s.size()) break;
            if (maxsplit == 0) {
              parts.push_back(Value::String(s.substr(i)));
              break;
            }
            size_t j = i;
            while (j < s.size()) {
              size_t len;
              if (IsPyWhitespace(DecodeAt(s, j, &len))) break;
              j += len;
            }
            parts.push_back(Value::String(s.substr(i, j - i)));
            i = j;
            if (maxsplit > 0) --maxsplit;
          }
        }
        return Value::List(std::move(parts));
      }
      if (name == "replace") {
        if (args.size() < 2 || args.size() > 3 || args[0].kind() != Value::Kind::kString ||
            args[1].kind() != Value::Kind::kString) {
          return bad();
        }
        return Replace(s, args[0].str(), args[1].str(), args.size() == 3 ? AsInt(args[2]) : -1,
                       line);
      }
      if (name == "join") {
        if (args.size() != 1) return bad();
        return Join(args[0], s, line);
      }
      if (name == "capitalize") return Filter1(name, obj, line);
      return bad();
    }
    if (obj.kind() == Value::Kind::kDict) {
      if (name == "items" && args.empty()) {
        std::vector<Value> items;
        for (const auto& [k, v] : obj.dict()) items.push_back(Value::Tuple({Value::String(k), v}));
        return Value::List(std::move(items));
      }
      if (name == "keys" && args.empty()) {
        std::vector<Value> items;
        for (const auto& [k, v] : obj.dict()) items.push_back(Value::String(k));
        return Value::List(std::move(items));
      }
      if (name == "values" && args.empty()) {
        std::vector<Value> items;
        for (const auto& [k, v] : obj.dict()) items.push_back(v);
        return Value::List(std::move(items));
      }
      if (name == "get" && (args.size() == 1 || args.size() == 2)) {
        if (args[0].kind() == Value::Kind::kString) {
          if (const Value* v = obj.Find(args[0].str())) return *v;
        }
        return args.size() == 2 ? args[1] : Value::None();
      }
    }
    return bad();
  }

  absl::StatusOr<Value> Replace(const std::string& s, const std::string& from,
                                const std::string& to, int64_t count, int line) {
    std::string out;
    if (from.empty()) {
      // Python inserts `to` around every code point.
      const auto off = CodePointOffsets(s);
      for (size_t i = 0; i + 1 < off.size(); ++i) {
        if (count < 0 || static_cast<int64_t>(i) < count) out += to;
        out.append(s, off[i], off[i + 1] - off[i]);
        if (auto st = CheckSize(out.size(), line); !st.ok()) return st;
      }
      if (count < 0 || static_cast<int64_t>(off.size()) - 1 < count) out += to;
      return Value::String(std::move(out));
    }
    size_t start = 0;
    for (int64_t done = 0; count < 0 || done < count; ++done) {
      const size_t at = s.find(from, start);
      if (at == std::string::npos) break;
      out.append(s, start, at - start);
      out += to;
      start = at + from.size();
      if (auto st = CheckSize(out.size(), line); !st.ok()) return st;
    }
    out.append(s, start);
    if (auto st = CheckSize(out.size(), line); !st.ok()) return st;
    return Value::String(std::move(out));
  }

  absl::StatusOr<Value> Join(const Value& seq, std::string_view sep, int line,
                             const std::string* attribute = nullptr) {
    auto items = Items(seq, line);
    if (!items.ok()) return items.status();
    std::string out;
    for (size_t i = 0; i < items->size(); ++i) {
      if (i) out += sep;
      if (attribute) {
        auto v = GetAttr((*items)[i], *attribute, line);
        if (!v.ok()) return v;
        Str(*v, &out);
      } else {
        Str((*items)[i], &out);
      }
      if (auto st = CheckSize(out.size(), line); !st.ok()) return st;
    }
    return Value::String(std::move(out));
  }

  absl::Status Json(const Value& v, bool ensure_ascii, int indent, bool sort_keys, int level,
                    std::string* out, int line) {
    if (out->size() > limits_.max_output_bytes) return TooBig(line);
    if (level > kMaxDepth) return ErrorAt(line, "tojson: value nested too deeply");
    auto newline = [&](int lvl) {
      if (indent < 0) return;
      *out += '\n';
      out->append(static_cast<size_t>(indent) * lvl, ' ');
    };
    switch (v.kind()) {
      case Value::Kind::kNone:
        *out += "null";
        return absl::OkStatus();
      case Value::Kind::kBool:
        *out += v.boolean() ? "true" : "false";
        return absl::OkStatus();
      case Value::Kind::kInt:
        *out += std::to_string(v.integer());
        return absl::OkStatus();
      case Value::Kind::kFloat:
        if (std::isnan(v.real())) {
          *out += "NaN";
        } else if (std::isinf(v.real())) {
          *out += v.real() > 0 ? "Infinity" : "-Infinity";
        } else {
          *out += FloatRepr(v.real());
        }
        return absl::OkStatus();
      case Value::Kind::kString:
        JsonString(v.str(), ensure_ascii, out);
        return absl::OkStatus();
      case Value::Kind::kList: {
        if (v.list().empty()) {
          *out += "[]";
          return absl::OkStatus();
        }
        *out += '[';
        for (size_t i = 0; i < v.list().size(); ++i) {
          if (i) *out += indent < 0 ? ", " : ",";
          newline(level + 1);
          if (auto st = Json(v.list()[i], ensure_ascii, indent, sort_keys, level + 1, out, line);
              !st.ok()) {
            return st;
          }
        }
        newline(level);
        *out += ']';
        return absl::OkStatus();
      }
      case Value::Kind::kDict: {
        if (v.dict().empty()) {
          *out += "{}";
          return absl::OkStatus();
        }
        std::vector<const std::pair<std::string, Value>*> items;
        for (const auto& kv : v.dict()) items.push_back(&kv);
        if (sort_keys) {
          std::stable_sort(items.begin(), items.end(),
                           [](auto* a, auto* b) { return a->first < b->first; });
        }
        *out += '{';
        for (size_t i = 0; i < items.size(); ++i) {
          if (i) *out += indent < 0 ? ", " : ",";
          newline(level + 1);
          JsonString(items[i]->first, ensure_ascii, out);
          *out += ": ";
          if (auto st =
                  Json(items[i]->second, ensure_ascii, indent, sort_keys, level + 1, out, line);
              !st.ok()) {
            return st;
          }
        }
        newline(level);
        *out += '}';
        return absl::OkStatus();
      }
      default:
        return ErrorAt(line, absl::StrCat("tojson: object of type ", TypeName(v),
                                          " is not JSON serializable"));
    }
  }

  // Filters and string methods that take no arguments.
  absl::StatusOr<Value> Filter1(const std::string& name, const Value& v, int line) {
    if (name == "upper") return Value::String(PyUpper(Str(v)));
    if (name == "lower") return Value::String(PyLower(Str(v)));
    if (name == "trim") return Value::String(PyStrip(Str(v), true, true, std::nullopt));
    if (name == "string") return Value::String(Str(v));
    if (name == "safe") return v;
    if (name == "capitalize") return Value::String(PyCapitalize(Str(v)));
    if (name == "length" || name == "count") {
      switch (v.kind()) {
        case Value::Kind::kUndefined:
          return Value::Int(0);
        case Value::Kind::kString:
          return Value::Int(static_cast<int64_t>(CodePointOffsets(v.str()).size()) - 1);
        case Value::Kind::kList:
          return Value::Int(static_cast<int64_t>(v.list().size()));
        case Value::Kind::kDict:
          return Value::Int(static_cast<int64_t>(v.dict().size()));
        default:
          return ErrorAt(line, absl::StrCat("object of type '", TypeName(v), "' has no len()"));
      }
    }
    return ErrorAt(line, absl::StrCat("filter '", name, "' needs arguments"));
  }

  absl::StatusOr<bool> RunTest(const std::string& name, const Value& v,
                               const std::vector<Value>& args, int line) {
    const Value::Kind k = v.kind();
    auto need = [&](size_t n) -> absl::Status {
      if (args.size() != n) {
        return ErrorAt(line, absl::StrCat("test '", name, "' takes ", n, " argument(s)"));
      }
      return absl::OkStatus();
    };
    static const auto* kOneArg = new absl::flat_hash_set<std::string>{
        "divisibleby", "sameas", "equalto", "eq", "==", "ne", "!=",          "gt",       "lt",
        "ge",          "le",     ">",       "<",  ">=", "<=", "greaterthan", "lessthan", "in"};
    if (!kOneArg->contains(name)) {
      if (auto st = need(0); !st.ok()) return st;
    }
    if (name == "defined") return k != Value::Kind::kUndefined;
    if (name == "undefined") return k == Value::Kind::kUndefined;
    if (name == "none") return k == Value::Kind::kNone;
    if (name == "string") return k == Value::Kind::kString;
    if (name == "mapping") return k == Value::Kind::kDict;
    if (name == "iterable") {
      return k == Value::Kind::kString || k == Value::Kind::kList || k == Value::Kind::kDict ||
             k == Value::Kind::kUndefined;
    }
    if (name == "sequence") {
      return k == Value::Kind::kString || k == Value::Kind::kList || k == Value::Kind::kDict ||
             k == Value::Kind::kUndefined;  // jinja2's Undefined has len() and []
    }
    if (name == "number") return IsNumber(v);
    if (name == "integer") return k == Value::Kind::kInt;
    if (name == "float") return k == Value::Kind::kFloat;
    if (name == "boolean") return k == Value::Kind::kBool;
    if (name == "true") return k == Value::Kind::kBool && v.boolean();
    if (name == "false") return k == Value::Kind::kBool && !v.boolean();
    if (name == "lower" || name == "upper") return PyIsCase(Str(v), name == "upper");
    if (name == "odd" || name == "even") {
      if (!IsIntegral(v)) return ErrorAt(line, absl::StrCat("test '", name, "' needs an int"));
      const bool odd = AsInt(v) % 2 != 0;
      return name == "odd" ? odd : !odd;
    }
    if (auto st = need(1); !st.ok()) return st;
    const Value& arg = args[0];
    if (name == "divisibleby") {
      if (!IsIntegral(v) || !IsIntegral(arg) || AsInt(arg) == 0) {
        return ErrorAt(line, "test 'divisibleby' needs ints and a non-zero divisor");
      }
      return AsInt(v) % AsInt(arg) == 0;
    }
    if (name == "sameas") {
      if (k != arg.kind()) return false;
      if (k == Value::Kind::kNone || k == Value::Kind::kUndefined) return true;
      if (k == Value::Kind::kBool) return v.boolean() == arg.boolean();
      return Equal(v, arg);
    }
    std::string op = name == "equalto" || name == "eq"       ? "=="
                     : name == "ne"                          ? "!="
                     : name == "gt" || name == "greaterthan" ? ">"
                     : name == "lt" || name == "lessthan"    ? "<"
                     : name == "ge"                          ? ">="
                     : name == "le"                          ? "<="
                                                             : name;
    return Compare(op, v, arg, line);
  }

  absl::StatusOr<bool> EvalTest(const Expr& e) {
    auto v = Eval(*e.args[0]);
    if (!v.ok()) return v.status();
    auto args = EvalArgs(e, 1);
    if (!args.ok()) return args.status();
    if (!e.kwargs.empty()) return ErrorAt(e.line, "tests take no keyword arguments");
    return RunTest(e.name, *v, *args, e.line);
  }

  absl::StatusOr<Value> EvalFilter(const Expr& e) {
    auto subject = Eval(*e.args[0]);
    if (!subject.ok()) return subject;
    auto args_or = EvalArgs(e, 1);
    if (!args_or.ok()) return args_or.status();
    auto kwargs_or = EvalKwargs(e);
    if (!kwargs_or.ok()) return kwargs_or.status();
    const std::vector<Value>& args = *args_or;
    const DictItems& kwargs = *kwargs_or;
    const Value& v = *subject;
    const std::string& name = e.name;
    const int line = e.line;
    auto kw = [&](std::string_view key, size_t pos) -> const Value* {
      for (const auto& [k, x] : kwargs) {
        if (k == key) return &x;
      }
      return pos < args.size() ? &args[pos] : nullptr;
    };
    auto bad_args = [&]() {
      return ErrorAt(line, absl::StrCat("bad arguments to filter '", name, "'"));
    };
    // The arguments each filter accepts here: at most `positional` of them, and keywords
    // from `keywords` (jinja2 would raise a TypeError for any other, so must we).
    struct Signature {
      size_t positional;
      std::vector<std::string> keywords;
    };
    static const auto* kSignatures = new absl::flat_hash_map<std::string, Signature>{
        {"trim", {1, {"chars"}}},
        {"tojson", {4, {"ensure_ascii", "indent", "separators", "sort_keys"}}},
        {"default", {2, {"default_value", "boolean"}}},
        {"d", {2, {"default_value", "boolean"}}},
        {"replace", {3, {}}},
        {"join", {2, {"d", "attribute"}}},
        {"int", {1, {"default"}}},
        {"select", {SIZE_MAX, {}}},
        {"reject", {SIZE_MAX, {}}},
        {"selectattr", {SIZE_MAX, {}}},
        {"rejectattr", {SIZE_MAX, {}}},
        {"map", {1, {"attribute", "default"}}},
    };
    {
      auto sig = kSignatures->find(name);
      const Signature none{0, {}};
      const Signature& allowed = sig == kSignatures->end() ? none : sig->second;
      if (args.size() > allowed.positional) {
        return ErrorAt(line, absl::StrCat("filter '", name, "' takes at most ", allowed.positional,
                                          " argument(s) here"));
      }
      for (const auto& [k, x] : kwargs) {
        if (std::find(allowed.keywords.begin(), allowed.keywords.end(), k) ==
            allowed.keywords.end()) {
          return ErrorAt(line, absl::StrCat("filter '", name, "': unsupported argument '", k, "'"));
        }
      }
    }
    if (name == "tojson") {
      // transformers' tojson(x, ensure_ascii=False, indent=None, separators=None,
      // sort_keys=False); custom separators are not supported.
      const Value* asc = kw("ensure_ascii", 0);
      const Value* ind = kw("indent", 1);
      const Value* sep = kw("separators", 2);
      const Value* sk = kw("sort_keys", 3);
      if (sep && sep->kind() != Value::Kind::kNone) {
        return ErrorAt(line, "tojson: the separators argument is not supported");
      }
      int indent = -1;
      if (ind && ind->kind() != Value::Kind::kNone) {
        if (!IsIntegral(*ind) || AsInt(*ind) < 0 || AsInt(*ind) > 64) return bad_args();
        indent = static_cast<int>(AsInt(*ind));
      }
      std::string out;
      if (auto st = Json(v, asc && Truthy(*asc), indent, sk && Truthy(*sk), 0, &out, line);
          !st.ok()) {
        return st;
      }
      if (auto st = CheckSize(out.size(), line); !st.ok()) return st;
      return Value::String(std::move(out));
    }
    if (name == "default" || name == "d") {
      const Value* dflt = kw("default_value", 0);
      const Value* boolean = kw("boolean", 1);
      const bool use_default = boolean && Truthy(*boolean) ? !Truthy(v) : v.is_undefined();
      if (!use_default) return v;
      return dflt ? *dflt : Value::String("");
    }
    if (name == "trim" && kw("chars", 0) != nullptr) {
      const Value* chars = kw("chars", 0);
      if (chars->kind() == Value::Kind::kNone) {
        return Value::String(PyStrip(Str(v), true, true, std::nullopt));
      }
      if (chars->kind() != Value::Kind::kString) return bad_args();
      return Value::String(PyStrip(Str(v), true, true, chars->str()));
    }
    if (name == "first" || name == "last") {
      auto items = Items(v, line);
      if (!items.ok()) return items.status();
      if (items->empty())
        return Value::Undefined(absl::StrCat("'", name, "' of an empty sequence"));
      return name == "first" ? items->front() : items->back();
    }
    if (name == "replace") {
      if (args.size() < 2 || args.size() > 3) return bad_args();
      if (args.size() == 3 && !IsIntegral(args[2])) return bad_args();
      return Replace(Str(v), Str(args[0]), Str(args[1]), args.size() == 3 ? AsInt(args[2]) : -1,
                     line);
    }
    if (name == "join") {
      const Value* sep = kw("d", 0);
      const Value* attr = kw("attribute", 1);
      std::string attr_name = attr ? Str(*attr) : "";
      return Join(v, sep ? Str(*sep) : "", line, attr ? &attr_name : nullptr);
    }
    if (name == "list") {
      auto items = Items(v, line);
      if (!items.ok()) return items.status();
      return Value::List(std::move(*items));
    }
    if (name == "items") {
      if (v.is_undefined()) return Value::List({});
      if (v.kind() != Value::Kind::kDict) return ErrorAt(line, "filter 'items' needs a mapping");
      std::vector<Value> items;
      for (const auto& [k, x] : v.dict()) items.push_back(Value::Tuple({Value::String(k), x}));
      return Value::List(std::move(items));
    }
    if (name == "int") {
      const Value* dflt = kw("default", 0);
      const Value fallback = dflt ? *dflt : Value::Int(0);
      if (IsIntegral(v)) return Value::Int(AsInt(v));
      if (v.kind() == Value::Kind::kFloat) {
        if (!std::isfinite(v.real()) || std::fabs(v.real()) > 9e18) return fallback;
        return Value::Int(static_cast<int64_t>(v.real()));
      }
      if (v.kind() == Value::Kind::kString) {
        const std::string s = PyStrip(v.str(), true, true, std::nullopt);
        int64_t i;
        auto r = std::from_chars(s.data(), s.data() + s.size(), i);
        if (r.ec == std::errc() && r.ptr == s.data() + s.size()) return Value::Int(i);
      }
      return fallback;
    }
    if (name == "float") {
      if (IsNumber(v)) return Value::Float(AsDouble(v));
      return ErrorAt(line, "filter 'float' supports numbers only");
    }
    if (name == "abs") {
      if (v.kind() == Value::Kind::kFloat) return Value::Float(std::fabs(v.real()));
      if (IsIntegral(v) && AsInt(v) != INT64_MIN) return Value::Int(std::llabs(AsInt(v)));
      return bad_args();
    }
    if (name == "select" || name == "reject" || name == "selectattr" || name == "rejectattr") {
      const bool by_attr = name == "selectattr" || name == "rejectattr";
      const bool keep_if = name == "select" || name == "selectattr";
      if (!kwargs.empty() || (by_attr && args.empty())) return bad_args();
      auto items = Items(v, line);
      if (!items.ok()) return items.status();
      const size_t test_pos = by_attr ? 1 : 0;
      std::string test = test_pos < args.size() ? Str(args[test_pos]) : "";
      if (!test.empty() && !KnownTests().contains(test)) {
        return ErrorAt(line, absl::StrCat("unknown test '", test, "'"));
      }
      std::vector<Value> test_args(args.begin() + std::min(args.size(), test_pos + 1), args.end());
      std::vector<Value> out;
      for (const Value& item : *items) {
        Value x = item;
        if (by_attr) {
          auto a = GetAttr(item, Str(args[0]), line);
          if (!a.ok()) return a;
          x = std::move(*a);
        }
        bool pass;
        if (test.empty()) {
          pass = Truthy(x);
        } else {
          auto r = RunTest(test, x, test_args, line);
          if (!r.ok()) return r.status();
          pass = *r;
        }
        if (pass == keep_if) out.push_back(item);
      }
      return Value::List(std::move(out));
    }
    if (name == "map") {
      auto items = Items(v, line);
      if (!items.ok()) return items.status();
      std::vector<Value> out;
      const Value* attr = nullptr;
      for (const auto& [k, x] : kwargs) {
        if (k == "attribute")
          attr = &x;
        else if (k != "default")
          return bad_args();
      }
      const Value* dflt = nullptr;
      for (const auto& [k, x] : kwargs) {
        if (k == "default") dflt = &x;
      }
      for (const Value& item : *items) {
        if (attr) {
          auto a = GetAttr(item, Str(*attr), line);
          if (!a.ok()) return a;
          out.push_back(a->is_undefined() && dflt ? *dflt : *a);
        } else {
          if (args.size() != 1) return bad_args();
          const std::string f = Str(args[0]);
          if (f != "upper" && f != "lower" && f != "trim" && f != "string" && f != "length" &&
              f != "count" && f != "capitalize") {
            return ErrorAt(line, absl::StrCat("map: unsupported filter '", f, "'"));
          }
          auto r = Filter1(f, item, line);
          if (!r.ok()) return r;
          out.push_back(std::move(*r));
        }
      }
      return Value::List(std::move(out));
    }
    if (name == "unique" || name == "reverse" || name == "sort" || name == "sum" || name == "min" ||
        name == "max") {
      if (!args.empty() || !kwargs.empty()) return bad_args();
      if (name == "reverse" && v.kind() == Value::Kind::kString) {
        auto chars = Items(v, line);
        std::string s;
        for (auto it = chars->rbegin(); it != chars->rend(); ++it) s += it->str();
        return Value::String(std::move(s));
      }
      auto items = Items(v, line);
      if (!items.ok()) return items.status();
      std::vector<Value> xs = std::move(*items);
      if (name == "reverse") {
        std::reverse(xs.begin(), xs.end());
        return Value::List(std::move(xs));
      }
      if (name == "unique") {
        std::vector<Value> out;
        for (const Value& x : xs) {
          bool seen = false;
          for (const Value& y : out) seen = seen || Equal(x, y);
          if (!seen) out.push_back(x);
        }
        return Value::List(std::move(out));
      }
      if (name == "sum") {
        Value total = Value::Int(0);
        for (const Value& x : xs) {
          auto r = Binary("+", total, x, line);
          if (!r.ok()) return r;
          total = std::move(*r);
        }
        return total;
      }
      absl::Status err;
      auto less = [&](const Value& a, const Value& b) {
        auto r = Compare("<", a, b, line);
        if (!r.ok()) {
          err = r.status();
          return false;
        }
        return *r;
      };
      if (name == "sort") {
        std::stable_sort(xs.begin(), xs.end(), less);
        if (!err.ok()) return err;
        return Value::List(std::move(xs));
      }
      if (xs.empty()) return Value::Undefined(absl::StrCat("'", name, "' of an empty sequence"));
      auto it = name == "min" ? std::min_element(xs.begin(), xs.end(), less)
                              : std::max_element(xs.begin(), xs.end(), less);
      if (!err.ok()) return err;
      return *it;
    }
    if (!args.empty() || !kwargs.empty()) return bad_args();
    return Filter1(name, v, line);
  }

  const Limits& limits_;
  std::string* out_ = nullptr;
  int64_t iterations_ = 0;
  std::vector<absl::flat_hash_map<std::string, Value>> scopes_;
};

}  // namespace

// ---------------------------------------------------------------------------------------
// Value.

Value Value::Undefined(std::string hint) {
  Value v;
  v.s_ = std::move(hint);
  return v;
}
Value Value::None() {
  Value v;
  v.kind_ = Kind::kNone;
  return v;
}
Value Value::Bool(bool b) {
  Value v;
  v.kind_ = Kind::kBool;
  v.b_ = b;
  return v;
}
Value Value::Int(int64_t i) {
  Value v;
  v.kind_ = Kind::kInt;
  v.i_ = i;
  return v;
}
Value Value::Float(double f) {
  Value v;
  v.kind_ = Kind::kFloat;
  v.f_ = f;
  return v;
}
Value Value::String(std::string s) {
  Value v;
  v.kind_ = Kind::kString;
  v.s_ = std::move(s);
  return v;
}
Value Value::List(std::vector<Value> items) {
  Value v;
  v.kind_ = Kind::kList;
  v.list_ = std::make_shared<const std::vector<Value>>(std::move(items));
  return v;
}
Value Value::Tuple(std::vector<Value> items) {
  Value v = List(std::move(items));
  v.b_ = true;
  return v;
}
Value Value::Dict(DictItems items) {
  Value v;
  v.kind_ = Kind::kDict;
  v.dict_ = std::make_shared<DictItems>(std::move(items));
  return v;
}
Value Value::Namespace(DictItems items) {
  Value v = Dict(std::move(items));
  v.kind_ = Kind::kNamespace;
  return v;
}
Value Value::Function(std::string name) {
  Value v;
  v.kind_ = Kind::kFunction;
  v.s_ = std::move(name);
  return v;
}

const Value* Value::Find(std::string_view key) const {
  if (kind_ != Kind::kDict && kind_ != Kind::kNamespace) return nullptr;
  for (const auto& [k, v] : *dict_) {
    if (k == key) return &v;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------
// Template.

absl::StatusOr<Template> Template::Parse(std::string_view source) {
  auto tokens = Lexer(source).Run();
  if (!tokens.ok()) return tokens.status();
  auto body = Parser(std::move(*tokens)).ParseTemplate();
  if (!body.ok()) return body.status();
  auto root = std::make_shared<Node>();
  root->kind = Node::Kind::kBody;
  root->bodies.push_back(std::move(*body));
  Template t;
  t.root_ = std::move(root);
  return t;
}

absl::StatusOr<std::string> Template::Render(const DictItems& globals, const Limits& limits) const {
  return Renderer(limits, globals).Run(root_->bodies[0]);
}

}  // namespace mot::tokenizer::jinja
