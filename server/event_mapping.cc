// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "server/event_mapping.h"

#include "absl/status/status.h"

namespace mot::server {

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  // absl::StatusCode and grpc::StatusCode share the canonical numbering (0..16).
  return grpc::Status(static_cast<grpc::StatusCode>(status.code()), std::string(status.message()));
}

std::string CodeName(grpc::StatusCode code) {
  return absl::StatusCodeToString(static_cast<absl::StatusCode>(code));
}

v1::FinishReason ToProto(engine::FinishReason reason) {
  switch (reason) {
    case engine::FinishReason::kStop:
      return v1::FINISH_REASON_STOP;
    case engine::FinishReason::kLength:
      return v1::FINISH_REASON_LENGTH;
    case engine::FinishReason::kCancelled:
      return v1::FINISH_REASON_CANCELLED;
    case engine::FinishReason::kError:
      return v1::FINISH_REASON_ERROR;
  }
  return v1::FINISH_REASON_UNSPECIFIED;
}

void EventMapper::Map(engine::Event& event, v1::GenerateResponse* out) {
  out->Clear();
  out->set_request_id(request_id_);
  switch (event.kind) {
    case engine::EventKind::kTextDelta:
      out->mutable_text()->set_text(std::move(event.text));
      break;
    case engine::EventKind::kImageStarted:
      ++image_index_;
      image_open_ = true;
      out->mutable_image_started()->set_index(image_index_);
      out->mutable_image_started()->set_total_codes(event.total);
      break;
    case engine::EventKind::kImageProgress: {
      if (!image_open_) ++image_index_, image_open_ = true;
      auto* p = out->mutable_image_progress();
      p->set_index(image_index_);
      p->set_codes_done(event.done);
      p->set_total_codes(event.total);
      p->set_preview_png(std::move(event.data));
      break;
    }
    case engine::EventKind::kImageFinished: {
      if (!image_open_) ++image_index_;
      image_open_ = false;
      auto* im = out->mutable_image();
      im->set_index(image_index_);
      im->set_png(std::move(event.data));
      im->mutable_token_ids()->Add(event.token_ids.begin(), event.token_ids.end());
      break;
    }
    case engine::EventKind::kAudioStarted:
      ++audio_index_;
      audio_open_ = true;
      out->mutable_audio_started()->set_index(audio_index_);
      break;
    case engine::EventKind::kAudioFinished: {
      if (!audio_open_) ++audio_index_;
      audio_open_ = false;
      auto* au = out->mutable_audio();
      au->set_index(audio_index_);
      au->set_wav(std::move(event.data));
      au->mutable_token_ids()->Add(event.token_ids.begin(), event.token_ids.end());
      break;
    }
    case engine::EventKind::kUsage: {
      v1::ModalityUsage* u[3] = {out->mutable_usage()->mutable_text(),
                                 out->mutable_usage()->mutable_image(),
                                 out->mutable_usage()->mutable_audio()};
      for (int m = 0; m < 3; ++m) {
        u[m]->set_prompt_tokens(event.usage[m].prompt_tokens);
        u[m]->set_generated_tokens(event.usage[m].generated_tokens);
        u[m]->set_cached_prompt_tokens(event.usage[m].cached_prompt_tokens);
      }
      break;
    }
    case engine::EventKind::kFinished:
      out->mutable_finished()->set_reason(ToProto(event.reason));
      if (event.reason == engine::FinishReason::kError) {
        out->mutable_finished()->set_error_message(std::string(event.status.message()));
      }
      break;
  }
}

}  // namespace mot::server
