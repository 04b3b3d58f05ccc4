// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/text/internal/normalizer.h
// UnicodeNormalizer: tokenizer.json's Unicode normalizers ("NFC" as Qwen2 uses, "NFD",
// "NFKC", "NFKD", and a "Sequence" of them), run with ICU's Normalizer2, the reference
// implementation of UAX #15. The library normalizes the text between the added tokens that
// are not `normalized` before it looks for the normalized ones and pre-tokenizes
// (text_tokenizer.cc follows that order).
// Invalid UTF-8 (our rule; the library cannot take it): each maximal well-formed run is
// normalized alone and ill-formed bytes are kept as they are, so no byte is lost.
// Thread rule: immutable after Create(); Normalize() may be called from any thread.
#ifndef MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_NORMALIZER_H_
#define MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_NORMALIZER_H_

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "unicode/uversion.h"

U_NAMESPACE_BEGIN
class Normalizer2;
U_NAMESPACE_END

namespace mot::tokenizer {

enum class NormalForm { kNfc, kNfd, kNfkc, kNfkd };

class UnicodeNormalizer {
 public:
  // The forms applied in order. InternalError if ICU cannot give a form's instance.
  static absl::StatusOr<std::unique_ptr<UnicodeNormalizer>> Create(std::vector<NormalForm> forms);

  // "NFC" -> kNfc, ...; nullopt for other names.
  static std::optional<NormalForm> ParseForm(std::string_view type);
  static std::string_view FormName(NormalForm form);

  // `text` normalized (a copy when nothing changes).
  std::string Normalize(std::string_view text) const;

  const std::vector<NormalForm>& forms() const { return forms_; }

 private:
  UnicodeNormalizer() = default;
  std::string NormalizeValid(std::string_view text) const;

  std::vector<NormalForm> forms_;
  std::vector<const icu::Normalizer2*> instances_;  // one per form; owned by ICU
};

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_NORMALIZER_H_
