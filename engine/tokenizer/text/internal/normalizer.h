// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/text/internal/normalizer.h
// Normalizer: tokenizer.json's normalizers that the models we load use, applied in order:
//   "NFC" (Qwen2), "NFD", "NFKC", "NFKD"   Unicode normal forms, run with ICU's Normalizer2,
//                                          the reference implementation of UAX #15;
//   "Prepend" {prepend}                    prepends the string to non-empty text (Llama-2's
//                                          and Mistral's "▁");
//   "Replace" {pattern: {String}, content} replaces every occurrence, left to right (their
//                                          " " -> "▁");
// and a "Sequence" of them (flattened). The library normalizes the text between the added
// tokens that are not `normalized` before it looks for the normalized ones and
// pre-tokenizes (text_tokenizer.cc follows that order).
// Invalid UTF-8 (our rule; the library cannot take it): the normal forms run over each
// maximal well-formed run alone and ill-formed bytes are kept as they are.
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

struct NormalizerStep {
  enum Kind { kForm, kPrepend, kReplace } kind = kForm;
  NormalForm form = NormalForm::kNfc;  // kForm
  std::string text;                    // kPrepend: the prefix; kReplace: the pattern
  std::string content;                 // kReplace: the replacement
};

class Normalizer {
 public:
  // InvalidArgument for an empty Replace pattern; InternalError if ICU cannot give a form.
  static absl::StatusOr<std::unique_ptr<Normalizer>> Create(std::vector<NormalizerStep> steps);

  // "NFC" -> kNfc, ...; nullopt for other names.
  static std::optional<NormalForm> ParseForm(std::string_view type);
  static std::string_view FormName(NormalForm form);

  // `text` normalized (a copy when nothing changes).
  std::string Normalize(std::string_view text) const;

 private:
  Normalizer() = default;
  std::string ApplyForm(const icu::Normalizer2* form, std::string_view text) const;

  std::vector<NormalizerStep> steps_;
  std::vector<const icu::Normalizer2*> forms_;  // per step (null unless kForm); owned by ICU
};

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_NORMALIZER_H_
