// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0

#include "engine/tokenizer/text/internal/normalizer.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "engine/tokenizer/text/utf8.h"
#include "unicode/normalizer2.h"
#include "unicode/unistr.h"

namespace mot::tokenizer {

absl::StatusOr<std::unique_ptr<Normalizer>> Normalizer::Create(std::vector<NormalizerStep> steps) {
  std::unique_ptr<Normalizer> n(new Normalizer);
  for (const NormalizerStep& step : steps) {
    const icu::Normalizer2* instance = nullptr;
    if (step.kind == NormalizerStep::kReplace && step.text.empty()) {
      return absl::InvalidArgumentError("Replace: an empty pattern");
    }
    if (step.kind == NormalizerStep::kForm) {
      UErrorCode status = U_ZERO_ERROR;
      switch (step.form) {
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
        return absl::InternalError(absl::StrCat("ICU has no ", std::string(FormName(step.form)),
                                                " normalizer: ", u_errorName(status)));
      }
    }
    n->forms_.push_back(instance);
  }
  n->steps_ = std::move(steps);
  return n;
}

std::optional<NormalForm> Normalizer::ParseForm(std::string_view type) {
  for (NormalForm f : {NormalForm::kNfc, NormalForm::kNfd, NormalForm::kNfkc, NormalForm::kNfkd}) {
    if (FormName(f) == type) return f;
  }
  return std::nullopt;
}

std::string_view Normalizer::FormName(NormalForm form) {
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

std::string Normalizer::ApplyForm(const icu::Normalizer2* form, std::string_view text) const {
  std::string out;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t valid = ValidUtf8PrefixLength(text.substr(pos));
    if (valid == 0) {
      const Utf8Prefix c = ClassifyUtf8Prefix(text.substr(pos));
      out.append(text.substr(pos, c.length));
      pos += c.length;
      continue;
    }
    const std::string_view run = text.substr(pos, valid);
    pos += valid;
    // ASCII is unchanged by every normal form: the common case costs one scan.
    bool ascii = true;
    for (char c : run) ascii &= static_cast<uint8_t>(c) < 0x80;
    if (ascii) {
      out.append(run);
      continue;
    }
    icu::UnicodeString s = icu::UnicodeString::fromUTF8(
        icu::StringPiece(run.data(), static_cast<int32_t>(run.size())));
    UErrorCode status = U_ZERO_ERROR;
    icu::UnicodeString normalized = form->normalize(s, status);
    // normalize() fails only on allocation failure or bogus input, which valid UTF-8 is not;
    // the text then stays as it was rather than being lost.
    if (U_FAILURE(status)) {
      out.append(run);
    } else {
      normalized.toUTF8String(out);
    }
  }
  return out;
}

std::string Normalizer::Normalize(std::string_view text) const {
  std::string s(text);
  for (size_t i = 0; i < steps_.size(); ++i) {
    const NormalizerStep& step = steps_[i];
    switch (step.kind) {
      case NormalizerStep::kForm:
        s = ApplyForm(forms_[i], s);
        break;
      case NormalizerStep::kPrepend:
        if (!s.empty()) s.insert(0, step.text);
        break;
      case NormalizerStep::kReplace:
        s = absl::StrReplaceAll(s, {{step.text, step.content}});
        break;
    }
  }
  return s;
}

}  // namespace mot::tokenizer
