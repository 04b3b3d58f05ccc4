// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/sampling/stop_checker.h"

#include <algorithm>
#include <cassert>
#include <utility>

namespace mot::sampling {

StopChecker::StopChecker(std::vector<std::string> stop_strings,
                         const std::vector<int32_t>& stop_ids, int32_t eos_id)
    : stop_strings_(std::move(stop_strings)),
      stop_ids_(stop_ids.begin(), stop_ids.end()),
      eos_id_(eos_id) {
#ifndef NDEBUG
  for (const std::string& s : stop_strings_) assert(!s.empty());
#endif
}

StopChecker StopChecker::FromParams(const SamplingParams& params,
                                    const tokenizer::UnifiedVocab& vocab) {
  // A model may end sequences with several ids (generation_config.json's eos list).
  std::vector<int32_t> stop_ids = params.stop_ids;
  stop_ids.insert(stop_ids.end(), vocab.eos_ids().begin() + 1, vocab.eos_ids().end());
  return StopChecker(params.stop_strings, stop_ids, vocab.eos_id());
}

StopChecker::Result StopChecker::Push(std::string_view delta) {
  Result r;
  if (stopped()) {
    r.stopped = true;
    r.stop_index = stop_index_;
    return r;
  }
  const size_t old_held = held_.size();
  held_.append(delta);

  // Earliest occurrence. The held text had none, so a new one ends inside `delta`: start
  // looking |s| - 1 bytes before it.
  size_t best_pos = std::string::npos;
  for (size_t i = 0; i < stop_strings_.size(); ++i) {
    const std::string& s = stop_strings_[i];
    const size_t from = old_held >= s.size() ? old_held - s.size() + 1 : 0;
    const size_t pos = held_.find(s, from);
    if (pos < best_pos) {  // strict: equal positions keep the lower index
      best_pos = pos;
      r.stop_index = static_cast<int>(i);
    }
  }
  if (best_pos != std::string::npos) {
    stop_index_ = r.stop_index;
    r.stopped = true;
    r.text = held_.substr(0, best_pos);
    held_.clear();
    return r;
  }

  // Hold back the longest suffix that is a proper prefix of some stop string.
  size_t hold = 0;
  for (const std::string& s : stop_strings_) {
    for (size_t len = std::min(s.size() - 1, held_.size()); len > hold; --len) {
      if (held_.compare(held_.size() - len, len, s, 0, len) == 0) {
        hold = len;
        break;
      }
    }
  }
  r.text = held_.substr(0, held_.size() - hold);
  held_.erase(0, held_.size() - hold);
  return r;
}

std::string StopChecker::Flush() {
  std::string out;
  out.swap(held_);
  return out;
}

}  // namespace mot::sampling
