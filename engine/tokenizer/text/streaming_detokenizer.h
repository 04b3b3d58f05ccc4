// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/text/streaming_detokenizer.h
// StreamingDetokenizer: turns ids fed one at a time into UTF-8 text that only ever holds
// whole characters, for streaming output.
// Rule: the bytes of all ids so far are scanned from the first byte not yet emitted.
//  * a complete well-formed character is emitted as is;
//  * a maximal ill-formed subpart (a byte that cannot start a character, or a lead byte
//    followed by a byte that cannot continue it) is provably invalid whatever comes next
//    and is emitted as one U+FFFD at once;
//  * a proper prefix of a well-formed character at the end is held back until more bytes
//    arrive; Flush() emits it as one U+FFFD.
// So the concatenation of every Push() and the final Flush() equals Utf8Lossy(all bytes),
// which is valid UTF-8 and equals the text itself whenever the bytes are valid UTF-8.
// Thread rule: one instance per stream, not shared; the tokenizer must outlive it.
#ifndef MOT_ENGINE_TOKENIZER_TEXT_STREAMING_DETOKENIZER_H_
#define MOT_ENGINE_TOKENIZER_TEXT_STREAMING_DETOKENIZER_H_

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "engine/tokenizer/text/text_tokenizer.h"

namespace mot::tokenizer {

class StreamingDetokenizer {
 public:
  // REQUIRES: `tokenizer` is non-null and outlives this object.
  explicit StreamingDetokenizer(const TextTokenizer* tokenizer, const DecodeOptions& options = {});

  // The text that `id` completes (possibly empty). InvalidArgument for an unknown id; the
  // state is unchanged then.
  absl::StatusOr<std::string> Push(int32_t id);

  // Whatever is held back (as U+FFFD) and resets the stream.
  std::string Flush();

  // Bytes held back (at most 3).
  size_t pending_bytes() const { return pending_.size(); }

 private:
  const TextTokenizer* tokenizer_;
  DecodeOptions options_;
  std::string pending_;
};

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_TEXT_STREAMING_DETOKENIZER_H_
