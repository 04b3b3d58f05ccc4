// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/fuzz/tokenizer_json_fuzz.cc
// libFuzzer target for the text tokenizer: the input is `tokenizer.json bytes`, optionally
// followed by a NUL byte and text to encode (a fixed multilingual sample otherwise). If the
// JSON loads, the text is encoded, decoded and re-encoded after a ToJson() -> FromJson()
// round trip; any mismatch traps. Parse errors are the expected outcome for most inputs.
// Seeds: tests/fuzz/corpus/tokenizer_json_fuzz/; dictionary: tokenizer_json_fuzz.dict.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "engine/tokenizer/text/streaming_detokenizer.h"
#include "engine/tokenizer/text/text_tokenizer.h"
#include "engine/tokenizer/text/utf8.h"

namespace {

using mot::tokenizer::TextTokenizer;

constexpr char kSample[] =
    "Hello  world, it's 2026!\n\tGr\xC3\xBC\xC3\x9F"
    "e \xF0\x9F\x91\x8D\xF0\x9F\x8F\xBD "
    "<bos>x<eos> \xE6\x97\xA5\xE6\x9C\xAC \xFF\xFE\xE2\x82";

void Check(bool ok) {
  if (!ok) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const size_t nul = input.find('\0');
  const std::string_view json = input.substr(0, nul);
  const std::string_view text =
      nul == std::string_view::npos ? std::string_view(kSample) : input.substr(nul + 1);

  mot::tokenizer::TextTokenizerLimits limits;
  limits.max_input_bytes = 1 << 16;
  auto tok = TextTokenizer::FromJson(json, limits);
  if (!tok.ok()) return 0;
  const TextTokenizer& t = **tok;

  auto ids = t.Encode(text);
  Check(ids.ok());
  for (int32_t id : *ids) Check(id >= 0 && id < t.vocab_size());
  auto back = t.Decode(*ids);
  Check(back.ok());
  // Exact round trip unless the file asks for what drops or adds bytes: a prefix space or
  // an added token that strips whitespace.
  bool exact = true;
  for (const auto& a : t.added_tokens()) exact &= !a.lstrip && !a.rstrip;
  auto plain = TextTokenizer::FromJson(t.ToJson(), limits);
  Check(plain.ok());
  auto again = (*plain)->Encode(text);
  Check(again.ok() && *again == *ids);
  auto probe = t.Encode("x");
  Check(probe.ok());
  if (exact && t.Decode(*probe).value_or("") == "x") Check(*back == text);

  // Streaming gives the lossy decode of the same bytes.
  mot::tokenizer::StreamingDetokenizer detok(&t);
  std::string streamed;
  for (int32_t id : *ids) {
    auto piece = detok.Push(id);
    Check(piece.ok());
    streamed += *piece;
  }
  streamed += detok.Flush();
  Check(streamed == mot::tokenizer::Utf8Lossy(*back));

  auto no_special = t.Encode(text, {.parse_special = false});
  Check(no_special.ok());
  return 0;
}
