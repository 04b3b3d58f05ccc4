// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/request_state.h"

#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "engine/sampling/guidance.h"

namespace mot::engine {
namespace {

// Modality index of usage[]: 0 text, 1 image, 2 audio.
int UsageIndex(const tokenizer::UnifiedVocab& vocab, uint8_t tower) {
  if (vocab.has_image() && tower == vocab.image_tower()) return 1;
  if (vocab.has_audio() && tower == vocab.audio_tower()) return 2;
  return 0;
}

}  // namespace

absl::StatusOr<std::unique_ptr<RequestState>> RequestState::Create(
    const GenerateRequest& request, const tokenizer::PromptBuilder* builder,
    std::shared_ptr<EventStream> stream, EncodePool* encoder) {
  const int32_t tokens_per_image =
      builder->image() != nullptr ? static_cast<int32_t>(builder->image()->tokens_per_image()) : 0;
  int32_t default_audio_codes = 0;
  if (const tokenizer::AudioTokenizer* audio = builder->audio(); audio != nullptr) {
    default_audio_codes = static_cast<int32_t>(
        std::floor(audio->limits().max_duration_seconds * audio->tokens_per_second()));
  }
  MOT_ASSIGN_OR_RETURN(sampling::RequestSampler sampler,
                       sampling::RequestSampler::Create(request.sampling, &builder->vocab(),
                                                        tokens_per_image, default_audio_codes));
  return std::unique_ptr<RequestState>(
      new RequestState(request, builder, std::move(stream), encoder, std::move(sampler)));
}

RequestState::RequestState(const GenerateRequest& request, const tokenizer::PromptBuilder* builder,
                           std::shared_ptr<EventStream> stream, EncodePool* encoder,
                           sampling::RequestSampler sampler)
    : id_(request.request_id),
      params_(request.sampling),
      builder_(builder),
      vocab_(builder->vocab()),
      stream_(std::move(stream)),
      encoder_(encoder),
      image_preview_every_(request.image_preview_every),
      sampler_(std::move(sampler)),
      stop_(sampling::StopChecker::FromParams(request.sampling, builder->vocab())),
      detok_(&builder->text(), tokenizer::DecodeOptions{.skip_special = true}),
      prompt_towers_(request.prompt.towers) {}

absl::StatusOr<int32_t> RequestState::Sample(std::span<float* const> rows) {
  const size_t v = static_cast<size_t>(vocab_.size());
  std::span<float> full(rows[0], v);
  // Guidance only matters where an image code comes next; elsewhere the mask hides the
  // codes and the guided values would never be read.
  if (rows.size() == 3 && sampler_.modality().in_image()) {
    sampling::CombineGuidance(full, std::span<const float>(rows[1], v),
                              std::span<const float>(rows[2], v), params_.text_guidance,
                              params_.image_guidance, vocab_);
  }
  absl::StatusOr<int32_t> id = sampler_.Next(full);
  if (!id.ok()) return Annotate(id.status(), "request ", id_, ": ");
  return id;
}

void RequestState::EmitText(std::string text) {
  if (text.empty()) return;
  Event e;
  e.kind = EventKind::kTextDelta;
  e.text = std::move(text);
  stream_->Push(std::move(e));
}

void RequestState::FlushText() {
  std::string tail = detok_.Flush();
  sampling::StopChecker::Result r = stop_.Push(tail);
  EmitText(std::move(r.text));
  EmitText(stop_.Flush());
}

void RequestState::FinishImage() {
  Event e;
  e.kind = EventKind::kImageFinished;
  e.token_ids = frame_ids_;
  std::vector<int32_t> codes;
  codes.reserve(frame_ids_.size());
  for (int32_t id : frame_ids_) codes.push_back(vocab_.IdToImageCode(id));
  EventStream::Pending* pending = stream_->PushPending(std::move(e));
  const tokenizer::ImageTokenizer* image = builder_->image();
  encoder_->Run([image, codes = std::move(codes), pending, keep = stream_] {
    pending->Complete(image->DecodeToPng(codes));
  });
  frame_ids_.clear();
}

void RequestState::FinishAudio() {
  Event e;
  e.kind = EventKind::kAudioFinished;
  e.token_ids = frame_ids_;
  const tokenizer::AudioTokenizer* audio = builder_->audio();
  std::vector<int32_t> codes;
  codes.reserve(frame_ids_.size());
  for (int32_t id : frame_ids_) codes.push_back(vocab_.IdToAudioCode(id));
  // A clip ends on a whole frame: with residual stages, drop a trailing partial frame.
  codes.resize(codes.size() - codes.size() % static_cast<size_t>(audio->tokens_per_frame()));
  EventStream::Pending* pending = stream_->PushPending(std::move(e));
  encoder_->Run([audio, codes = std::move(codes), pending, keep = stream_] {
    pending->Complete(audio->DecodeToWav(codes));
  });
  frame_ids_.clear();
}

std::optional<FinishReason> RequestState::OnToken(int32_t id, int32_t sequence_length,
                                                  int32_t max_seq_len) {
  const sampling::ModalityStateMachine& state = sampler_.modality();
  if (vocab_.IsImageCode(id)) {
    frame_ids_.push_back(id);
    Event e;
    e.kind = EventKind::kImageProgress;
    e.done = state.frame_codes_done();
    e.total = state.frame_codes_total();
    const bool preview =
        image_preview_every_ > 0 && e.done < e.total && e.done % image_preview_every_ == 0;
    if (preview) {
      // The codes so far, the rest of the grid filled with the last code: a coarse picture
      // of what is coming, encoded off the loop thread like the final image.
      std::vector<int32_t> codes;
      for (int32_t c : frame_ids_) codes.push_back(vocab_.IdToImageCode(c));
      codes.resize(static_cast<size_t>(e.total), codes.back());
      EventStream::Pending* pending = stream_->PushPending(std::move(e));
      const tokenizer::ImageTokenizer* image = builder_->image();
      encoder_->Run([image, codes = std::move(codes), pending, keep = stream_] {
        pending->Complete(image->DecodeToPng(codes));
      });
    } else {
      stream_->Push(std::move(e));
    }
  } else if (vocab_.IsAudioCode(id)) {
    frame_ids_.push_back(id);
  } else if (id == vocab_.boi_id()) {
    FlushText();
    Event e;
    e.kind = EventKind::kImageStarted;
    e.total = state.frame_codes_total();
    stream_->Push(std::move(e));
  } else if (id == vocab_.eoi_id()) {
    FinishImage();
  } else if (id == vocab_.boa_id()) {
    FlushText();
    Event e;
    e.kind = EventKind::kAudioStarted;
    e.total = state.frame_codes_total();
    stream_->Push(std::move(e));
  } else if (id == vocab_.eoa_id()) {
    FinishAudio();
  } else if (stop_.IsStopId(id)) {
    return FinishReason::kStop;
  } else {
    absl::StatusOr<std::string> delta = detok_.Push(id);
    if (!delta.ok()) {
      Finish(FinishReason::kError, delta.status());
      return FinishReason::kError;
    }
    sampling::StopChecker::Result r = stop_.Push(*delta);
    EmitText(std::move(r.text));
    if (r.stopped) return FinishReason::kStop;
  }
  if (state.generated() >= params_.max_new_tokens || sequence_length >= max_seq_len) {
    return FinishReason::kLength;
  }
  return std::nullopt;
}

void RequestState::Finish(FinishReason reason, absl::Status status) {
  if (finished_) return;
  finished_ = true;
  if (reason != FinishReason::kError && reason != FinishReason::kCancelled) FlushText();
  Event usage;
  usage.kind = EventKind::kUsage;
  for (size_t i = 0; i < prompt_towers_.size(); ++i) {
    ModalityUsage& u = usage.usage[UsageIndex(vocab_, prompt_towers_[i])];
    ++u.prompt_tokens;
    if (static_cast<int32_t>(i) < cached_prompt_tokens_) ++u.cached_prompt_tokens;
  }
  const sampling::ModalityStateMachine& state = sampler_.modality();
  usage.usage[0].generated_tokens = state.generated_text();
  usage.usage[1].generated_tokens = state.generated_image();
  usage.usage[2].generated_tokens = state.generated_audio();
  stream_->Push(std::move(usage));
  Event fin;
  fin.kind = EventKind::kFinished;
  fin.reason = reason;
  fin.status = std::move(status);
  stream_->Push(std::move(fin));
}

}  // namespace mot::engine
