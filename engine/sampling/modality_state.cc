// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/sampling/modality_state.h"

#include <algorithm>
#include <cassert>
#include <iterator>
#include <limits>

#include "absl/strings/str_cat.h"

namespace mot::sampling {
namespace {

constexpr int32_t kUnlimited = std::numeric_limits<int32_t>::max();
// The specials every vocabulary has (kRequiredSpecialTokens) hold ids [0, 7); the config's
// extra specials follow and are generated as text.
constexpr int32_t kNumRequiredSpecials =
    static_cast<int32_t>(std::size(tokenizer::kRequiredSpecialTokens));

const char* FrameName(ModalityStateMachine::Frame f) {
  switch (f) {
    case ModalityStateMachine::Frame::kNone:
      return "outside a frame";
    case ModalityStateMachine::Frame::kImage:
      return "in an image frame";
    case ModalityStateMachine::Frame::kAudio:
      return "in an audio frame";
  }
  return "?";
}

}  // namespace

ModalityRules ModalityRules::FromParams(const SamplingParams& params, int32_t tokens_per_image,
                                        int32_t default_max_audio_codes) {
  ModalityRules r;
  r.allowed_modalities = params.allowed_modalities;
  r.tokens_per_image = tokens_per_image;
  r.max_audio_codes = params.max_audio_codes > 0 ? params.max_audio_codes : default_max_audio_codes;
  r.force_image_start = params.force_image_start;
  r.force_audio_start = params.force_audio_start;
  r.max_new_tokens = params.max_new_tokens;
  r.max_text_tokens = params.max_text_tokens;
  r.max_image_tokens = params.max_image_tokens;
  r.max_audio_tokens = params.max_audio_tokens;
  return r;
}

ModalityStateMachine::ModalityStateMachine(const tokenizer::UnifiedVocab* vocab,
                                           const ModalityRules& rules)
    : vocab_(vocab), rules_(rules) {
  assert(vocab != nullptr);
  assert(!(rules.allowed_modalities & kImage) ||
         (vocab->has_image() && rules.tokens_per_image > 0));
  assert(!(rules.allowed_modalities & kAudio) || vocab->has_audio());
  // The config's ranges are contiguous and start with "special"; "text" normally follows it
  // at once, but nothing requires it, so look.
  text_begin_ = vocab->num_special();
  while (text_begin_ < vocab->text_end() && !vocab->IsText(text_begin_)) ++text_begin_;
}

bool ModalityStateMachine::ImageFits() const {
  if (!(rules_.allowed_modalities & kImage)) return false;
  const int32_t need = rules_.tokens_per_image + 2;
  if (rules_.max_new_tokens > 0 && rules_.max_new_tokens - generated_ < need) return false;
  if (rules_.max_image_tokens > 0 && rules_.max_image_tokens - generated_image_ < need) {
    return false;
  }
  return true;
}

int32_t ModalityStateMachine::AudioCodesIfOpenedNow() const {
  if (!(rules_.allowed_modalities & kAudio)) return 0;
  // <boa> and <eoa> take two of the budget; the rest may be codes.
  int32_t codes = rules_.max_audio_codes > 0 ? rules_.max_audio_codes : kUnlimited;
  if (rules_.max_new_tokens > 0) codes = std::min(codes, rules_.max_new_tokens - generated_ - 2);
  if (rules_.max_audio_tokens > 0) {
    codes = std::min(codes, rules_.max_audio_tokens - generated_audio_ - 2);
  }
  return std::max(codes, 0);
}

bool ModalityStateMachine::TextAllowed() const {
  return (rules_.allowed_modalities & kText) &&
         (rules_.max_text_tokens == 0 || generated_text_ < rules_.max_text_tokens);
}

int ModalityStateMachine::AllowedSpans(Span* spans) const {
  const tokenizer::UnifiedVocab& v = *vocab_;
  int n = 0;
  auto one = [&](int32_t id) { spans[n++] = {id, id + 1}; };
  switch (frame_) {
    case Frame::kImage:
      if (frame_codes_done_ < frame_codes_total_) {
        spans[n++] = {v.ImageCodeToId(0), v.ImageCodeToId(v.image_codebook_size())};
      } else {
        one(v.eoi_id());
      }
      return n;
    case Frame::kAudio:
      if (frame_codes_done_ >= 1) one(v.eoa_id());
      if (frame_codes_done_ < frame_codes_total_) {
        spans[n++] = {v.AudioCodeToId(0), v.AudioCodeToId(v.audio_codebook_size())};
      }
      break;
    case Frame::kNone: {
      const bool image_fits = ImageFits();
      const bool audio_fits = AudioCodesIfOpenedNow() > 0;
      if (generated_ == 0 && rules_.force_image_start && image_fits) {
        one(v.boi_id());
        return n;
      }
      if (generated_ == 0 && rules_.force_audio_start && audio_fits) {
        one(v.boa_id());
        return n;
      }
      const bool text = TextAllowed();
      // With special_token_ids (an imported text model) the specials, eos included, lie
      // inside the one text range, and every id may come next as in transformers' generate.
      if (!(text && v.specials_by_id())) one(v.eos_id());
      if (image_fits) one(v.boi_id());
      if (audio_fits) one(v.boa_id());
      if (text) {
        if (v.num_special() > kNumRequiredSpecials) {
          spans[n++] = {kNumRequiredSpecials, v.num_special()};
        }
        if (text_begin_ < v.text_end()) spans[n++] = {text_begin_, v.text_end()};
      }
      break;
    }
  }
  std::sort(spans, spans + n, [](const Span& a, const Span& b) { return a.begin < b.begin; });
  return n;
}

void ModalityStateMachine::Mask(std::span<float> logits) const {
  assert(logits.size() == static_cast<size_t>(vocab_->size()));
  Span spans[kMaxSpans];
  const int n = AllowedSpans(spans);
  constexpr float kMasked = -std::numeric_limits<float>::infinity();
  int32_t next = 0;  // first id not yet decided
  for (int i = 0; i < n; ++i) {
    std::fill(logits.begin() + next, logits.begin() + spans[i].begin, kMasked);
    next = spans[i].end;
  }
  std::fill(logits.begin() + next, logits.end(), kMasked);
}

bool ModalityStateMachine::IsAllowed(int32_t id) const {
  Span spans[kMaxSpans];
  const int n = AllowedSpans(spans);
  for (int i = 0; i < n; ++i) {
    if (id >= spans[i].begin && id < spans[i].end) return true;
  }
  return false;
}

absl::Status ModalityStateMachine::Advance(int32_t id) {
  if (!IsAllowed(id)) {
    return absl::FailedPreconditionError(
        absl::StrCat("modality state: token id ", id, " is not allowed ", FrameName(frame_),
                     " after ", generated_, " generated tokens (", frame_codes_done_, " of ",
                     frame_codes_total_, " codes)"));
  }
  const tokenizer::UnifiedVocab& v = *vocab_;
  switch (frame_) {
    case Frame::kImage:
      ++generated_image_;
      if (id == v.eoi_id()) {
        frame_ = Frame::kNone;
        frame_codes_done_ = frame_codes_total_ = 0;
        ++images_completed_;
      } else {
        ++frame_codes_done_;
      }
      break;
    case Frame::kAudio:
      ++generated_audio_;
      if (id == v.eoa_id()) {
        frame_ = Frame::kNone;
        frame_codes_done_ = frame_codes_total_ = 0;
        ++audio_completed_;
      } else {
        ++frame_codes_done_;
      }
      break;
    case Frame::kNone:
      if (id == v.boi_id()) {
        frame_ = Frame::kImage;
        frame_codes_done_ = 0;
        frame_codes_total_ = rules_.tokens_per_image;
        ++generated_image_;
      } else if (id == v.boa_id()) {
        frame_codes_total_ = AudioCodesIfOpenedNow();  // before the counts move
        frame_ = Frame::kAudio;
        frame_codes_done_ = 0;
        ++generated_audio_;
      } else {
        ++generated_text_;
      }
      break;
  }
  ++generated_;
  return absl::OkStatus();
}

}  // namespace mot::sampling
