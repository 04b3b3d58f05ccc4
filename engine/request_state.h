// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/request_state.h
// RequestState: one request's side of the engine loop's "sample, then emit": it picks the
// next token from the request's logits rows (guidance, the modality state machine's mask,
// the sampler with the request's own RNG) and turns each token into the request's events
// (text deltas of whole UTF-8 characters with stop strings held back, image started /
// progress / finished, audio started / finished, usage, finish). PNG and WAV encoding is
// handed to the EncodePool; the event is queued at once (pending), so events stay in order.
// Thread rule: engine loop thread only; the stream is the thread-safe part.
#ifndef MOT_ENGINE_REQUEST_STATE_H_
#define MOT_ENGINE_REQUEST_STATE_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "engine/encode_pool.h"
#include "engine/engine.h"
#include "engine/event_stream.h"
#include "engine/sampling/request_sampler.h"
#include "engine/sampling/sampling_params.h"
#include "engine/sampling/stop_checker.h"
#include "engine/tokenizer/prompt_builder.h"
#include "engine/tokenizer/text/streaming_detokenizer.h"

namespace mot::engine {

class RequestState {
 public:
  // Validates the request's sampling parameters against the checkpoint's tokenizers
  // (InvalidArgument naming the field). `builder` and `encoder` are borrowed and must
  // outlive the state.
  static absl::StatusOr<std::unique_ptr<RequestState>> Create(
      const GenerateRequest& request, const tokenizer::PromptBuilder* builder,
      std::shared_ptr<EventStream> stream, EncodePool* encoder);

  const std::string& id() const { return id_; }
  const sampling::SamplingParams& params() const { return params_; }
  const sampling::ModalityStateMachine& modality() const { return sampler_.modality(); }
  const std::shared_ptr<EventStream>& stream() const { return stream_; }
  bool finished() const { return finished_; }

  // Chooses the next token from this request's rows of logits: `rows[0]` the conditional
  // row, and with guidance rows[1] (image-condition only) and rows[2] (unconditional).
  // The rows are modified in place. Internal error when every id is masked or the row is
  // not finite (a broken model).
  absl::StatusOr<int32_t> Sample(std::span<float* const> rows);

  // Records the sampled token and emits its events. Returns the finish reason when the
  // request ends with this token (then the caller calls Finish), nullopt to go on.
  // `sequence_length` is the main sequence's length after this token.
  std::optional<FinishReason> OnToken(int32_t id, int32_t sequence_length, int32_t max_seq_len);

  // Emits the remaining text, the usage and the finish event (once).
  void Finish(FinishReason reason, absl::Status status = absl::OkStatus());

  // Prefix-cache hits of the main prompt, for usage (the first admission's count).
  void set_cached_prompt_tokens(int32_t n) { cached_prompt_tokens_ = n; }

 private:
  RequestState(const GenerateRequest& request, const tokenizer::PromptBuilder* builder,
               std::shared_ptr<EventStream> stream, EncodePool* encoder,
               sampling::RequestSampler sampler);
  void EmitText(std::string text);
  void FlushText();
  void FinishImage();
  void FinishAudio();

  std::string id_;
  sampling::SamplingParams params_;
  const tokenizer::PromptBuilder* builder_;
  const tokenizer::UnifiedVocab& vocab_;
  std::shared_ptr<EventStream> stream_;
  EncodePool* encoder_;
  int32_t image_preview_every_ = 0;

  sampling::RequestSampler sampler_;
  sampling::StopChecker stop_;
  tokenizer::StreamingDetokenizer detok_;
  std::vector<int32_t> frame_ids_;  // unified ids of the open frame's codes
  std::vector<uint8_t> prompt_towers_;
  int32_t cached_prompt_tokens_ = 0;
  bool finished_ = false;
};

}  // namespace mot::engine

#endif  // MOT_ENGINE_REQUEST_STATE_H_
