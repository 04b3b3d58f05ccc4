// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/sampling/stop_checker.h
// StopChecker: one request's stops. Stop ids (<eos> always, plus SamplingParams::stop_ids)
// are a lookup. Stop strings are matched incrementally over the detokenized text stream:
// Push() takes each text delta (from the streaming detokenizer) and returns the text that is
// safe to emit now, holding back the longest suffix that could still grow into a stop
// string; when a stop string completes, the text before its first occurrence is released,
// the stop string and everything after it are dropped, and the checker stays stopped.
// Invariant: the concatenation of every returned text (and Flush()) is the stream's text
// cut before the earliest occurrence of any stop string, or all of it when none occurs;
// held-back text never exceeds the longest stop string minus one byte.
// UTF-8: a held suffix starts where a stop string starts, so when deltas and stop strings are
// whole UTF-8 characters (Validate and the detokenizer ensure it), so is every release.
// Thread rule: one instance per request, not shared.
#ifndef MOT_ENGINE_SAMPLING_STOP_CHECKER_H_
#define MOT_ENGINE_SAMPLING_STOP_CHECKER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/container/flat_hash_set.h"
#include "engine/sampling/sampling_params.h"
#include "engine/tokenizer/unified_vocab.h"

namespace mot::sampling {

class StopChecker {
 public:
  struct Result {
    std::string text;      // to emit now (possibly empty)
    bool stopped = false;  // a stop string completed with this delta (or earlier)
    int stop_index = -1;   // which stop string (the lowest index among equal positions)
  };

  // REQUIRES: every stop string non-empty.
  StopChecker(std::vector<std::string> stop_strings, const std::vector<int32_t>& stop_ids,
              int32_t eos_id);
  // From validated params.
  static StopChecker FromParams(const SamplingParams& params, const tokenizer::UnifiedVocab& vocab);

  // Whether generating `id` ends the request: <eos> or a stop id.
  bool IsStopId(int32_t id) const { return id == eos_id_ || stop_ids_.contains(id); }

  // Feeds the next text delta. After a stop, returns {"", true, index} and ignores the delta.
  Result Push(std::string_view delta);

  // At the end of generation for another reason (<eos>, a stop id, a limit): the held-back
  // text, which turned out not to start a stop string. Empty after a stop.
  std::string Flush();

  bool stopped() const { return stop_index_ >= 0; }
  size_t held_bytes() const { return held_.size(); }

 private:
  std::vector<std::string> stop_strings_;
  absl::flat_hash_set<int32_t> stop_ids_;
  int32_t eos_id_;
  std::string held_;     // text received but not yet released
  int stop_index_ = -1;  // >= 0 once stopped
};

}  // namespace mot::sampling

#endif  // MOT_ENGINE_SAMPLING_STOP_CHECKER_H_
