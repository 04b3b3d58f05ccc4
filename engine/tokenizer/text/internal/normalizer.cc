// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0

#include "engine/tokenizer/text/internal/normalizer.h"

#include "absl/strings/str_cat.h"
#include "engine/tokenizer/text/utf8.h"
#include "unicode/normalizer2.h"
#include "unicode/unistr.h"

namespace mot::tokenizer {

absl::StatusOr<std::unique_ptr<UnicodeNormalizer>> UnicodeNormalizer::Create(
    std::vector<NormalForm> forms) {
  std::unique_ptr<UnicodeNormalizer> n(new UnicodeNormalizer);
  for (NormalForm f : forms) {
    UErrorCode status = U_ZERO_ERROR;
    const icu::Normalizer2* instance = nullptr;
    switch (f) {
      case NormalForm::kNfc:
        instance = icu::Normalizer2::getNFCInstance(status);
        break;
      case NormalForm::kNfd:
        instance = icu::Normalizer2::getNFDInstance(status);
        break;
      case NormalForm::kNfkc:
        instance = icu::Normalizer2::getNFKCInstance(status);
        break;
      case NormalForm::kNfkd:
        instance = icu::Normalizer2::getNFKDInstance(status);
        break;
    }
    if (U_FAILURE(status) || instance == nullptr) {
      return absl::InternalError(absl::StrCat("ICU has no ", std::string(FormName(f)),
                                              " normalizer: ", u_errorName(status)));
    }
    n->instances_.push_back(instance);
  }
  n->forms_ = std::move(forms);
  return n;
}

std::optional<NormalForm> UnicodeNormalizer::ParseForm(std::string_view type) {
  for (NormalForm f : {NormalForm::kNfc, NormalForm::kNfd, NormalForm::kNfkc, NormalForm::kNfkd}) {
    if (FormName(f) == type) return f;
  }
  return std::nullopt;
}

std::string_view UnicodeNormalizer::FormName(NormalForm form) {
  switch (form) {
    case NormalForm::kNfc:
      return "NFC";
    case NormalForm::kNfd:
      return "NFD";
    case NormalForm::kNfkc:
      return "NFKC";
    case NormalForm::kNfkd:
      return "NFKD";
  }
  return "?";
}

std::string UnicodeNormalizer::NormalizeValid(std::string_view text) const {
  // ASCII is unchanged by every normal form: the common case costs one scan.
  bool ascii = true;
  for (char c : text) ascii &= static_cast<uint8_t>(c) < 0x80;
  if (ascii) return std::string(text);
  icu::UnicodeString s = icu::UnicodeString::fromUTF8(
      icu::StringPiece(text.data(), static_cast<int32_t>(text.size())));
  for (const icu::Normalizer2* n : instances_) {
    UErrorCode status = U_ZERO_ERROR;
    icu::UnicodeString out = n->normalize(s, status);
    // normalize() fails only on allocation failure or bogus input, which valid UTF-8 is not;
    // the text then stays as it was rather than being lost.
    if (U_SUCCESS(status)) s = std::move(out);
  }
  std::string result;
  s.toUTF8String(result);
  return result;
}

std::string UnicodeNormalizer::Normalize(std::string_view text) const {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t valid = ValidUtf8PrefixLength(text.substr(pos));
    if (valid > 0) {
      out += NormalizeValid(text.substr(pos, valid));
      pos += valid;
      continue;
    }
    const Utf8Prefix c = ClassifyUtf8Prefix(text.substr(pos));
    out.append(text.substr(pos, c.length));
    pos += c.length;
  }
  return out;
}

}  // namespace mot::tokenizer
