// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "server/request_validation.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/strip.h"
#include "engine/tokenizer/audio/audio_decoder.h"
#include "server/media_sniff.h"

namespace mot::server {
namespace {

absl::Status Bad(absl::string_view field, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(field, ": ", what));
}

// A float's value for messages: shortest round trip ("1.5", not "1.500000").
std::string F(double v) { return absl::StrFormat("%g", v); }

absl::Status CheckImage(const v1::Media& media, const std::string& field,
                        const ServerLimits& limits) {
  const MediaFormat sniffed = SniffFormat(media.data());
  if (!media.mime_type().empty()) {
    const MediaFormat declared = FormatOfMimeType(media.mime_type());
    if (!IsImageFormat(declared)) {
      return Bad(field + ".mime_type",
                 absl::StrCat("unknown image type \"", absl::CHexEscape(media.mime_type()),
                              "\" (accepted: image/png, image/jpeg, image/gif, image/bmp)"));
    }
    if (sniffed != MediaFormat::kUnknown && sniffed != declared) {
      return Bad(field, absl::StrCat("mime_type says ", MimeTypeOf(declared), " but the data is ",
                                     MimeTypeOf(sniffed)));
    }
  }
  if (!IsImageFormat(sniffed)) {
    return Bad(field + ".data", IsAudioFormat(sniffed)
                                    ? absl::StrCat("this is audio (", MimeTypeOf(sniffed),
                                                   "), not an image; send it as an audio part")
                                    : "not a PNG, JPEG, GIF or BMP image");
  }
  absl::StatusOr<ImageHeader> header = ReadImageHeader(media.data());
  if (!header.ok()) return Bad(field, header.status().message());
  if (header->width <= 0) return Bad(field, absl::StrCat("width ", header->width));
  if (header->height <= 0) return Bad(field, absl::StrCat("height ", header->height));
  const int64_t pixels = header->width * header->height;
  if (pixels > limits.max_image_pixels) {
    return Bad(field, absl::StrCat(header->width, "x", header->height, " is ", pixels,
                                   " pixels, the limit is ", limits.max_image_pixels));
  }
  return absl::OkStatus();
}

absl::Status CheckAudio(const v1::Media& media, const std::string& field,
                        const ServerLimits& limits) {
  const MediaFormat sniffed = SniffFormat(media.data());
  if (!media.mime_type().empty()) {
    const MediaFormat declared = FormatOfMimeType(media.mime_type());
    if (!IsAudioFormat(declared)) {
      return Bad(field + ".mime_type",
                 absl::StrCat("unknown audio type \"", absl::CHexEscape(media.mime_type()),
                              "\" (accepted: audio/wav, audio/flac, audio/ogg)"));
    }
    if (sniffed != MediaFormat::kUnknown && sniffed != declared) {
      return Bad(field, absl::StrCat("mime_type says ", MimeTypeOf(declared), " but the data is ",
                                     MimeTypeOf(sniffed)));
    }
  }
  if (IsImageFormat(sniffed)) {
    return Bad(field + ".data", absl::StrCat("this is an image (", MimeTypeOf(sniffed),
                                             "), not audio; send it as an image part"));
  }
  tokenizer::AudioLimits audio_limits;
  audio_limits.max_encoded_bytes = limits.max_media_bytes;
  audio_limits.max_duration_seconds = limits.max_audio_seconds;
  // ProbeAudio reads the header only; its messages start with the label we pass.
  absl::StatusOr<tokenizer::AudioHeaderInfo> info =
      tokenizer::ProbeAudio(media.data(), field, audio_limits);
  if (!info.ok()) return absl::InvalidArgumentError(info.status().message());
  return absl::OkStatus();
}

}  // namespace

absl::Status ServerLimits::Validate() const {
  auto positive = [](absl::string_view flag, int64_t v) {
    return v > 0 ? absl::OkStatus()
                 : absl::InvalidArgumentError(absl::StrCat("--", flag, ": must be > 0, got ", v));
  };
  absl::Status s;
  s.Update(positive("max_message_bytes", max_message_bytes));
  s.Update(positive("max_parts", max_parts));
  s.Update(positive("max_text_bytes", max_text_bytes));
  s.Update(positive("max_media_bytes", max_media_bytes));
  s.Update(positive("max_image_pixels", max_image_pixels));
  s.Update(positive("max_new_tokens", max_new_tokens));
  s.Update(positive("default_max_new_tokens", default_max_new_tokens));
  s.Update(positive("max_stop_string_bytes", max_stop_string_bytes));
  s.Update(positive("max_request_id_bytes", max_request_id_bytes));
  s.Update(positive("max_detokenize_ids", max_detokenize_ids));
  if (!s.ok()) return s;
  if (!(max_audio_seconds > 0) || !std::isfinite(max_audio_seconds)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--max_audio_seconds: must be > 0, got ", F(max_audio_seconds)));
  }
  if (max_prompt_tokens < 0 || max_stop_strings < 0 || max_logit_bias < 0) {
    return absl::InvalidArgumentError(
        "--max_prompt_tokens, --max_stop_strings, --max_logit_bias: must be >= 0");
  }
  if (default_max_new_tokens > max_new_tokens) {
    return absl::InvalidArgumentError(
        absl::StrCat("--default_max_new_tokens: ", default_max_new_tokens, " is more than ",
                     "--max_new_tokens (", max_new_tokens, ")"));
  }
  return absl::OkStatus();
}

ModelCaps CapsOf(const tokenizer::PromptBuilder& builder, int32_t max_seq_len) {
  ModelCaps caps;
  caps.vocab_size = builder.vocab().size();
  caps.has_image = builder.vocab().has_image() && builder.image() != nullptr;
  caps.has_audio = builder.vocab().has_audio() && builder.audio() != nullptr;
  caps.max_seq_len = max_seq_len;
  return caps;
}

absl::StatusOr<std::vector<tokenizer::Part>> RenderMessages(
    const google::protobuf::RepeatedPtrField<v1::ChatMessage>& messages, const ServerLimits& limits,
    const ChatSetup& chat) {
  if (messages.empty()) return Bad("messages", "at least one message is required");
  if (messages.size() > limits.max_parts) {
    return Bad("messages",
               absl::StrCat(messages.size(), " messages, the limit is ", limits.max_parts));
  }
  if (!chat.chat_template.has_value()) {
    return absl::FailedPreconditionError(absl::StrCat("messages: ", chat.unavailable));
  }
  std::vector<tokenizer::ChatMessage> turns;
  turns.reserve(static_cast<size_t>(messages.size()));
  for (int i = 0; i < messages.size(); ++i) {
    const v1::ChatMessage& m = messages[i];
    const std::string field = absl::StrCat("messages[", i, "]");
    if (m.role().empty()) return Bad(field + ".role", "empty");
    if (static_cast<int64_t>(m.role().size()) > 64) {
      return Bad(field + ".role", absl::StrCat(m.role().size(), " bytes, the limit is 64"));
    }
    if (static_cast<int64_t>(m.content().size()) > limits.max_text_bytes) {
      return Bad(field + ".content",
                 absl::StrCat(m.content().size(), " bytes, the limit is ", limits.max_text_bytes));
    }
    turns.push_back({m.role(), m.content()});
  }
  tokenizer::ChatTemplateContext context = chat.context;
  context.add_generation_prompt = true;
  absl::StatusOr<std::string> text = chat.chat_template->Apply(turns, context);
  if (!text.ok()) {
    if (absl::IsResourceExhausted(text.status())) {
      return absl::ResourceExhaustedError(
          absl::StrCat("messages: chat template: ", text.status().message()));
    }
    return Bad("messages", absl::StrCat("chat template: ", text.status().message()));
  }
  if (text->empty()) return Bad("messages", "the chat template rendered nothing");
  return std::vector<tokenizer::Part>{{tokenizer::Modality::kText, *std::move(text)}};
}

absl::StatusOr<std::vector<tokenizer::Part>> ConvertParts(
    const google::protobuf::RepeatedPtrField<v1::Part>& parts, const ServerLimits& limits,
    const ModelCaps& caps) {
  if (parts.empty()) return Bad("parts", "at least one part is required");
  if (parts.size() > limits.max_parts) {
    return Bad("parts", absl::StrCat(parts.size(), " parts, the limit is ", limits.max_parts));
  }
  std::vector<tokenizer::Part> out;
  out.reserve(static_cast<size_t>(parts.size()));
  for (int i = 0; i < parts.size(); ++i) {
    const v1::Part& p = parts[i];
    const std::string field = absl::StrCat("parts[", i, "]");
    switch (p.content_case()) {
      case v1::Part::kText: {
        if (p.text().empty()) return Bad(field + ".text", "empty");
        if (static_cast<int64_t>(p.text().size()) > limits.max_text_bytes) {
          return Bad(field + ".text",
                     absl::StrCat(p.text().size(), " bytes, the limit is ", limits.max_text_bytes));
        }
        out.push_back({tokenizer::Modality::kText, p.text()});
        break;
      }
      case v1::Part::kImage:
      case v1::Part::kAudio: {
        const bool image = p.content_case() == v1::Part::kImage;
        const v1::Media& media = image ? p.image() : p.audio();
        const std::string mf = field + (image ? ".image" : ".audio");
        if (image ? !caps.has_image : !caps.has_audio) {
          return Bad(mf, absl::StrCat("this model does not take ", image ? "images" : "audio"));
        }
        if (media.data().empty()) return Bad(mf + ".data", "empty");
        if (static_cast<int64_t>(media.data().size()) > limits.max_media_bytes) {
          return Bad(mf + ".data", absl::StrCat(media.data().size(), " bytes, the limit is ",
                                                limits.max_media_bytes));
        }
        if (image) {
          if (absl::Status s = CheckImage(media, mf, limits); !s.ok()) return s;
        } else {
          if (absl::Status s = CheckAudio(media, mf, limits); !s.ok()) return s;
        }
        out.push_back(
            {image ? tokenizer::Modality::kImage : tokenizer::Modality::kAudio, media.data()});
        break;
      }
      case v1::Part::CONTENT_NOT_SET:
        return Bad(field, "empty part (set text, image or audio)");
    }
  }
  return out;
}

absl::Status ValidateRequestId(const std::string& id, const ServerLimits& limits) {
  if (static_cast<int64_t>(id.size()) > limits.max_request_id_bytes) {
    return Bad("request_id",
               absl::StrCat(id.size(), " bytes, the limit is ", limits.max_request_id_bytes));
  }
  for (char c : id) {
    if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) {
      return Bad("request_id", "only printable ASCII without spaces is allowed");
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<sampling::SamplingParams> ConvertSampling(const v1::GenerateRequest& request,
                                                         const ServerLimits& limits,
                                                         const ModelCaps& caps, uint64_t seed) {
  sampling::SamplingParams sp;
  const auto finite = [](double v) { return std::isfinite(v); };

  // Output modalities.
  sp.allowed_modalities = 0;
  for (int i = 0; i < request.output_modalities_size(); ++i) {
    const std::string field = absl::StrCat("output_modalities[", i, "]");
    uint32_t bit = 0;
    switch (request.output_modalities(i)) {
      case v1::MODALITY_TEXT:
        bit = sampling::kText;
        break;
      case v1::MODALITY_IMAGE:
        if (!caps.has_image) return Bad(field, "this model cannot generate images");
        bit = sampling::kImage;
        break;
      case v1::MODALITY_AUDIO:
        if (!caps.has_audio) return Bad(field, "this model cannot generate audio");
        bit = sampling::kAudio;
        break;
      default:
        return Bad(field, absl::StrCat("not an output modality (",
                                       static_cast<int>(request.output_modalities(i)), ")"));
    }
    if (sp.allowed_modalities & bit) return Bad(field, "listed twice");
    sp.allowed_modalities |= bit;
  }
  if (sp.allowed_modalities == 0) sp.allowed_modalities = sampling::kText;

  // Sampling.
  const v1::SamplingParams& s = request.sampling();
  sp.temperature = s.has_temperature() ? s.temperature() : 1.0f;
  if (!finite(sp.temperature) || sp.temperature < 0) {
    return Bad("sampling.temperature", absl::StrCat("must be >= 0, got ", F(sp.temperature)));
  }
  if (s.top_k() < 0) return Bad("sampling.top_k", absl::StrCat("must be >= 0, got ", s.top_k()));
  sp.top_k = s.top_k();
  sp.top_p = s.has_top_p() ? s.top_p() : 1.0f;
  if (!finite(sp.top_p) || !(sp.top_p > 0 && sp.top_p <= 1)) {
    return Bad("sampling.top_p", absl::StrCat("must be in (0, 1], got ", F(sp.top_p)));
  }
  sp.min_p = s.min_p();
  if (!finite(sp.min_p) || !(sp.min_p >= 0 && sp.min_p < 1)) {
    return Bad("sampling.min_p", absl::StrCat("must be in [0, 1), got ", F(sp.min_p)));
  }
  sp.repetition_penalty = s.has_repetition_penalty() ? s.repetition_penalty() : 1.0f;
  if (!finite(sp.repetition_penalty) || sp.repetition_penalty <= 0) {
    return Bad("sampling.repetition_penalty",
               absl::StrCat("must be > 0, got ", F(sp.repetition_penalty)));
  }
  sp.presence_penalty = s.presence_penalty();
  sp.frequency_penalty = s.frequency_penalty();
  if (!finite(sp.presence_penalty)) return Bad("sampling.presence_penalty", "must be finite");
  if (!finite(sp.frequency_penalty)) return Bad("sampling.frequency_penalty", "must be finite");
  if (s.logit_bias_size() > limits.max_logit_bias) {
    return Bad("sampling.logit_bias",
               absl::StrCat(s.logit_bias_size(), " entries, the limit is ", limits.max_logit_bias));
  }
  for (const auto& [id, bias] : s.logit_bias()) {
    const std::string field = absl::StrCat("sampling.logit_bias[", id, "]");
    if (id < 0 || id >= caps.vocab_size) {
      return Bad(field, absl::StrCat("token id outside the vocabulary [0, ", caps.vocab_size, ")"));
    }
    if (!finite(bias)) return Bad(field, "bias must be finite");
    sp.logit_bias.emplace_back(id, bias);
  }
  // Map order is unspecified; the engine sees a stable order.
  std::sort(sp.logit_bias.begin(), sp.logit_bias.end());
  sp.seed = s.has_seed() ? s.seed() : seed;

  // Token limits.
  const v1::TokenLimits& l = request.limits();
  const std::pair<const char*, int32_t> all[] = {{"limits.max_new_tokens", l.max_new_tokens()},
                                                 {"limits.max_text_tokens", l.max_text_tokens()},
                                                 {"limits.max_image_tokens", l.max_image_tokens()},
                                                 {"limits.max_audio_tokens", l.max_audio_tokens()}};
  for (const auto& [field, v] : all) {
    if (v < 0) return Bad(field, absl::StrCat("must be >= 0, got ", v));
  }
  sp.max_new_tokens = l.max_new_tokens() > 0 ? l.max_new_tokens() : limits.default_max_new_tokens;
  if (sp.max_new_tokens > limits.max_new_tokens) {
    return Bad(
        "limits.max_new_tokens",
        absl::StrCat(sp.max_new_tokens, " is over this server's limit of ", limits.max_new_tokens));
  }
  for (size_t k = 1; k < std::size(all); ++k) {
    if (all[k].second > sp.max_new_tokens) {
      return Bad(all[k].first, absl::StrCat(all[k].second, " is more than limits.max_new_tokens (",
                                            sp.max_new_tokens, ")"));
    }
  }
  sp.max_text_tokens = l.max_text_tokens();
  sp.max_image_tokens = l.max_image_tokens();
  sp.max_audio_tokens = l.max_audio_tokens();

  // Stops.
  if (request.stop_strings_size() > limits.max_stop_strings) {
    return Bad("stop_strings", absl::StrCat(request.stop_strings_size(), " strings, the limit is ",
                                            limits.max_stop_strings));
  }
  for (int i = 0; i < request.stop_strings_size(); ++i) {
    const std::string& st = request.stop_strings(i);
    const std::string field = absl::StrCat("stop_strings[", i, "]");
    if (st.empty()) return Bad(field, "empty");
    if (static_cast<int64_t>(st.size()) > limits.max_stop_string_bytes) {
      return Bad(field,
                 absl::StrCat(st.size(), " bytes, the limit is ", limits.max_stop_string_bytes));
    }
    sp.stop_strings.push_back(st);
  }
  if (request.stop_token_ids_size() > limits.max_logit_bias) {
    return Bad("stop_token_ids", absl::StrCat(request.stop_token_ids_size(), " ids, the limit is ",
                                              limits.max_logit_bias));
  }
  for (int i = 0; i < request.stop_token_ids_size(); ++i) {
    const int32_t id = request.stop_token_ids(i);
    if (id < 0 || id >= caps.vocab_size) {
      return Bad(absl::StrCat("stop_token_ids[", i, "]"),
                 absl::StrCat(id, " is outside the vocabulary [0, ", caps.vocab_size, ")"));
    }
    sp.stop_ids.push_back(id);
  }

  // Image and audio options.
  const v1::ImageOptions& im = request.image();
  const v1::AudioOptions& au = request.audio();
  if (im.force_start() && !(sp.allowed_modalities & sampling::kImage)) {
    return Bad("image.force_start", "needs MODALITY_IMAGE in output_modalities");
  }
  if (au.force_start() && !(sp.allowed_modalities & sampling::kAudio)) {
    return Bad("audio.force_start", "needs MODALITY_AUDIO in output_modalities");
  }
  if (im.force_start() && au.force_start()) {
    return Bad("audio.force_start",
               "contradicts image.force_start: only one output can come first");
  }
  sp.force_image_start = im.force_start();
  sp.force_audio_start = au.force_start();
  if (im.preview_every() < 0) {
    return Bad("image.preview_every", absl::StrCat("must be >= 0, got ", im.preview_every()));
  }
  sp.text_guidance = im.has_text_guidance() ? im.text_guidance() : 1.0f;
  sp.image_guidance = im.has_image_guidance() ? im.image_guidance() : 1.0f;
  if (!finite(sp.text_guidance) || sp.text_guidance < 0) {
    return Bad("image.text_guidance", absl::StrCat("must be >= 0, got ", F(sp.text_guidance)));
  }
  if (!finite(sp.image_guidance) || sp.image_guidance < 0) {
    return Bad("image.image_guidance", absl::StrCat("must be >= 0, got ", F(sp.image_guidance)));
  }
  if (au.max_codes() < 0) {
    return Bad("audio.max_codes", absl::StrCat("must be >= 0, got ", au.max_codes()));
  }
  sp.max_audio_codes = au.max_codes();
  return sp;
}

absl::Status RelabelPromptError(const absl::Status& status) {
  if (status.ok()) return status;
  absl::string_view msg = status.message();
  std::string relabeled(msg);
  // "part 12 (image): rest" -> "parts[12].image: rest"
  if (absl::ConsumePrefix(&msg, "part ")) {
    const size_t space = msg.find(" (");
    const size_t close = msg.find("): ");
    uint32_t index = 0;
    if (space != absl::string_view::npos && close != absl::string_view::npos && space < close &&
        absl::SimpleAtoi(msg.substr(0, space), &index)) {
      relabeled = absl::StrCat("parts[", index, "].", msg.substr(space + 2, close - space - 2),
                               ": ", msg.substr(close + 3));
    }
  } else if (absl::ConsumePrefix(&msg, "prompt: ")) {
    relabeled = absl::StrCat("parts: ", msg);
  }
  const absl::StatusCode code = status.code() == absl::StatusCode::kResourceExhausted
                                    ? absl::StatusCode::kInvalidArgument
                                    : status.code();
  return absl::Status(code, relabeled);
}

absl::Status CheckPromptTokens(size_t tokens, const ServerLimits& limits, const ModelCaps& caps) {
  int64_t limit = limits.max_prompt_tokens > 0 ? limits.max_prompt_tokens : caps.max_seq_len;
  if (caps.max_seq_len > 0 && limit > caps.max_seq_len) limit = caps.max_seq_len;
  if (limit > 0 && static_cast<int64_t>(tokens) > limit) {
    return Bad("parts", absl::StrCat("the prompt is ", tokens, " tokens, the limit is ", limit));
  }
  return absl::OkStatus();
}

}  // namespace mot::server
