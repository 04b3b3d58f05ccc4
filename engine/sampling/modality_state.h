// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/sampling/modality_state.h
// ModalityStateMachine: per request, which ids may come next given what was generated
// (DESIGN.md "Unified vocabulary", issue 12 item 5). Mask() writes -inf on every other id;
// Advance() records the id that was sampled. The rules:
//   * outside a frame: text (text ids and the config's extra specials) when text is allowed
//     and its budget remains; <eos> always; <boi> when images are allowed and the remaining
//     total and image budgets hold a whole frame (tokens_per_image + 2); <boa> likewise
//     when audio is allowed and three tokens fit (<boa>, a code, <eoa>);
//   * a forced start makes <boi> (or <boa>) the only first token, when the frame fits;
//   * after <boi>: exactly tokens_per_image image codes and nothing else, then <eoi> alone;
//   * after <boa>: audio codes; <eoa> once there is at least one code; <eoa> alone at the
//     frame's code limit: max_audio_codes, cut so that <eoa> fits the total and audio budgets;
//   * <eoi>/<eoa> never outside their frame; codes never outside their frame; <pad> and <bos>
//     never; ids of ranges other than special/text/image/audio never;
//   * a vocabulary with special_token_ids (an imported text model): every id while text is
//     allowed, as transformers' generate does; <eos> alone after that.
// So a frame opened within the budgets always closes within them, and outside a frame at
// least <eos> is allowed: Mask never masks every id.
// Token counts: text includes <eos> and extra specials; image includes <boi>/<eoi>; audio
// includes <boa>/<eoa> (the SamplingParams::max_*_tokens definitions).
// Thread rule: one instance per request, used by the engine loop thread only; the vocabulary
// must outlive it.
#ifndef MOT_ENGINE_SAMPLING_MODALITY_STATE_H_
#define MOT_ENGINE_SAMPLING_MODALITY_STATE_H_

#include <cstdint>
#include <span>

#include "absl/status/status.h"
#include "engine/sampling/sampling_params.h"
#include "engine/tokenizer/unified_vocab.h"

namespace mot::sampling {

// The part of a request's parameters the state machine reads, with the tokenizer-derived
// numbers filled in.
struct ModalityRules {
  uint32_t allowed_modalities = kText;  // ModalityBits
  int32_t tokens_per_image = 0;         // image codes per frame; > 0 when images are allowed
  int32_t max_audio_codes = 0;          // codes per audio frame; 0: only budgets limit it
  bool force_image_start = false;
  bool force_audio_start = false;
  int32_t max_new_tokens = 0;   // total; 0: unlimited
  int32_t max_text_tokens = 0;  // per modality; 0: unlimited
  int32_t max_image_tokens = 0;
  int32_t max_audio_tokens = 0;

  // From validated params; `default_max_audio_codes` (the audio tokenizer's duration limit
  // times its codes per second) applies when params.max_audio_codes is 0.
  static ModalityRules FromParams(const SamplingParams& params, int32_t tokens_per_image,
                                  int32_t default_max_audio_codes);
};

class ModalityStateMachine {
 public:
  enum class Frame { kNone, kImage, kAudio };

  // REQUIRES: `vocab` outlives this object; tokens_per_image > 0 when images are allowed;
  // allowed modalities the vocabulary has (SamplingParams::Validate checks these).
  ModalityStateMachine(const tokenizer::UnifiedVocab* vocab, const ModalityRules& rules);

  // Sets every id not allowed next to -inf; allowed ids keep their logits.
  // REQUIRES: logits.size() == vocab size.
  void Mask(std::span<float> logits) const;

  // Whether `id` may come next (exactly the ids Mask leaves alone).
  bool IsAllowed(int32_t id) const;

  // Records the generated `id`. FailedPrecondition (naming the id and the state) when it is
  // not allowed now; the state is unchanged then. Replaying a request's generated ids after a
  // preemption rebuilds the same state.
  absl::Status Advance(int32_t id);

  Frame frame() const { return frame_; }
  bool in_image() const { return frame_ == Frame::kImage; }
  bool in_audio() const { return frame_ == Frame::kAudio; }
  // Codes generated in the open frame, and the frame's total: tokens_per_image for an
  // image, the code limit fixed at <boa> for audio (the clip may end earlier). 0 outside.
  int32_t frame_codes_done() const { return frame_codes_done_; }
  int32_t frame_codes_total() const { return frame_codes_total_; }

  int32_t generated() const { return generated_; }
  int32_t generated_text() const { return generated_text_; }
  int32_t generated_image() const { return generated_image_; }
  int32_t generated_audio() const { return generated_audio_; }
  int32_t images_completed() const { return images_completed_; }
  int32_t audio_clips_completed() const { return audio_completed_; }
  const ModalityRules& rules() const { return rules_; }

 private:
  // [begin, end) of allowed ids, at most kMaxSpans disjoint spans in ascending order.
  struct Span {
    int32_t begin, end;
  };
  static constexpr int kMaxSpans = 8;
  int AllowedSpans(Span* spans) const;

  bool ImageFits() const;
  // Codes an audio frame opened now could hold (0: none).
  int32_t AudioCodesIfOpenedNow() const;
  bool TextAllowed() const;

  const tokenizer::UnifiedVocab* vocab_;
  ModalityRules rules_;
  int32_t text_begin_ = 0;  // first id of the "text" range

  Frame frame_ = Frame::kNone;
  int32_t frame_codes_done_ = 0;
  int32_t frame_codes_total_ = 0;
  int32_t generated_ = 0;
  int32_t generated_text_ = 0;
  int32_t generated_image_ = 0;
  int32_t generated_audio_ = 0;
  int32_t images_completed_ = 0;
  int32_t audio_completed_ = 0;
};

}  // namespace mot::sampling

#endif  // MOT_ENGINE_SAMPLING_MODALITY_STATE_H_
