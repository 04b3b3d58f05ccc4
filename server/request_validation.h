// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server/request_validation.h
// The server's first line: every field of a request is checked against the server's
// limits and the model's abilities before anything is decoded or queued, and converted to
// the engine's types. Every error is InvalidArgument with the proto field path first and
// the reason in a user's words:
//   "parts[2].image: width 0"
//   "sampling.top_p: must be in (0, 1], got 1.5"
//   "limits.max_text_tokens: 500 is more than limits.max_new_tokens (100)"
// Nothing here decodes an image or an audio clip fully: images are judged from their
// headers (media_sniff.h), audio by libsndfile's header probe.
// Thread rule: pure functions over const inputs; call from any thread.
#ifndef MOT_SERVER_REQUEST_VALIDATION_H_
#define MOT_SERVER_REQUEST_VALIDATION_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/sampling/sampling_params.h"
#include "engine/tokenizer/prompt_builder.h"
#include "engine/tokenizer/text/chat_template.h"
#include "mot/v1/mot.pb.h"

namespace mot::server {

// What a request may ask for. Defaults suit one GPU serving a few hundred streams.
struct ServerLimits {
  int64_t max_message_bytes = int64_t{64} << 20;  // whole encoded request (gRPC refuses more)
  int32_t max_parts = 64;
  int64_t max_text_bytes = int64_t{1} << 20;    // per text part
  int64_t max_media_bytes = int64_t{32} << 20;  // per image or audio part
  int64_t max_image_pixels = int64_t{1} << 24;  // width * height from the header
  double max_audio_seconds = 120.0;             // per audio part
  int32_t max_prompt_tokens = 0;                // 0: the model's max_seq_len
  int32_t max_new_tokens = 4096;                // most a request may ask for
  int32_t default_max_new_tokens = 256;         // when a request leaves it 0
  int32_t max_stop_strings = 16;
  int32_t max_stop_string_bytes = 256;
  int32_t max_logit_bias = 1024;
  int32_t max_request_id_bytes = 128;
  int32_t max_detokenize_ids = 1 << 20;

  // InvalidArgument naming the flag for a negative or contradictory limit
  // ("--default_max_new_tokens: 5000 is more than --max_new_tokens (4096)").
  absl::Status Validate() const;
};

// What the loaded model can do.
struct ModelCaps {
  int32_t vocab_size = 0;
  bool has_image = false;
  bool has_audio = false;
  int32_t max_seq_len = 0;
};

ModelCaps CapsOf(const tokenizer::PromptBuilder& builder, int32_t max_seq_len);

// Checks the parts (count, emptiness, sizes, MIME types against the bytes, image
// dimensions, audio duration) and converts them, in order. InvalidArgument naming
// "parts" or "parts[i].<kind>[.field]".
absl::StatusOr<std::vector<tokenizer::Part>> ConvertParts(
    const google::protobuf::RepeatedPtrField<v1::Part>& parts, const ServerLimits& limits,
    const ModelCaps& caps);

// The chat template the server renders `messages` with (see GenerateRequest.messages).
struct ChatSetup {
  std::optional<tokenizer::ChatTemplate> chat_template;  // nullopt: messages are refused
  tokenizer::ChatTemplateContext context;  // bos/eos tokens; add_generation_prompt is set
  // Why there is no template (the FAILED_PRECONDITION message).
  std::string unavailable = "the model has no chat template (tokenizer_config.json chat_template)";
};

// Checks the messages (count, roles, sizes) and renders them with the chat template into
// one text part, with add_generation_prompt. InvalidArgument naming "messages" or
// "messages[i].role|content", or "messages: chat template: <its error>" (raise_exception's
// message, an undefined variable...); FailedPrecondition when there is no template;
// ResourceExhausted passes through the template's output limits.
absl::StatusOr<std::vector<tokenizer::Part>> RenderMessages(
    const google::protobuf::RepeatedPtrField<v1::ChatMessage>& messages, const ServerLimits& limits,
    const ChatSetup& chat);

// Checks and converts everything of a GenerateRequest but its parts: output modalities,
// sampling, token limits, stops, image and audio options, request id. `seed` is used when
// the request sets none. InvalidArgument naming the field.
absl::StatusOr<sampling::SamplingParams> ConvertSampling(const v1::GenerateRequest& request,
                                                         const ServerLimits& limits,
                                                         const ModelCaps& caps, uint64_t seed);

// Checks a client-chosen request id: at most max_request_id_bytes, printable ASCII without
// spaces. InvalidArgument naming "request_id".
absl::Status ValidateRequestId(const std::string& id, const ServerLimits& limits);

// Rewrites the prompt builder's labels ("part 2 (image): ...") into the API's field paths
// ("parts[2].image: ..."), and its ResourceExhausted (a part over a tokenizer limit: the
// request itself is too big, retrying will not help) into InvalidArgument. Other statuses
// pass through unchanged.
absl::Status RelabelPromptError(const absl::Status& status);

// The prompt-length check after tokenization: InvalidArgument "parts: the prompt is N
// tokens, the limit is M" when over max_prompt_tokens (or the model's max_seq_len).
absl::Status CheckPromptTokens(size_t tokens, const ServerLimits& limits, const ModelCaps& caps);

}  // namespace mot::server

#endif  // MOT_SERVER_REQUEST_VALIDATION_H_
