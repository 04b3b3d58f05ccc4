// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0

#include "engine/tokenizer/text/streaming_detokenizer.h"

#include <cassert>

#include "engine/tokenizer/text/utf8.h"

namespace mot::tokenizer {

StreamingDetokenizer::StreamingDetokenizer(const TextTokenizer* tokenizer,
                                           const DecodeOptions& options)
    : tokenizer_(tokenizer), options_(options) {
  assert(tokenizer != nullptr);
}

absl::StatusOr<std::string> StreamingDetokenizer::Push(int32_t id) {
  std::string bytes = pending_;
  const absl::Status s = tokenizer_->AppendTokenBytes(id, options_, &bytes);
  if (!s.ok()) return s;
  std::string out;
  out.reserve(bytes.size());
  size_t i = 0;
  while (i < bytes.size()) {
    const Utf8Prefix c = ClassifyUtf8Prefix(std::string_view(bytes).substr(i));
    if (c.kind == Utf8Prefix::kIncomplete) break;  // hold back; more bytes may complete it
    if (c.kind == Utf8Prefix::kComplete) {
      out.append(bytes, i, c.length);
    } else {
      out.append(kReplacementChar);
    }
    i += c.length;
  }
  pending_ = bytes.substr(i);
  return out;
}

std::string StreamingDetokenizer::Flush() {
  std::string out = Utf8Lossy(pending_);
  pending_.clear();
  return out;
}

}  // namespace mot::tokenizer
