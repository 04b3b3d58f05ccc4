// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/fuzz/request_fuzz.cc
// libFuzzer target for the server's first line: arbitrary bytes parsed as a
// mot.v1.GenerateRequest (what gRPC hands the service), then everything the service runs
// before the engine (server/request_validation.h): the request id, the parts (MIME types
// against the bytes, image headers, audio probes, sizes), sampling and limits, and, when
// those pass, the prompt builder over the converted parts (the real image and audio
// tokenizers) and the prompt-length check. Any crash or sanitizer report is a finding, and
// so is a broken contract: every refusal (the engine's own SamplingParams::Validate
// included) must be InvalidArgument with a message; a built prompt's ids lie in the
// vocabulary.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "absl/status/status.h"
#include "mot/v1/mot.pb.h"
#include "server/request_validation.h"
#include "tests/server/test_model.h"

namespace {

using mot::server::ServerLimits;

struct Fixture {
  std::unique_ptr<mot::tokenizer::PromptBuilder> builder;
  ServerLimits limits;
  mot::server::ModelCaps caps;
};

const Fixture& Get() {
  static const Fixture* f = [] {
    auto* fx = new Fixture;
    fx->builder = mot::testing::MakeTestPromptBuilder();
    if (fx->builder == nullptr) std::abort();
    // Small limits keep each input fast under the sanitizers and make the limits reachable.
    fx->limits.max_parts = 8;
    fx->limits.max_text_bytes = 4096;
    fx->limits.max_media_bytes = 64 << 10;
    fx->limits.max_image_pixels = 256 * 256;
    fx->limits.max_audio_seconds = 2.0;
    fx->limits.max_new_tokens = 512;
    fx->limits.default_max_new_tokens = 64;
    fx->caps = mot::server::CapsOf(*fx->builder, 4096);
    return fx;
  }();
  return *f;
}

[[noreturn]] void Finding(const char* what, const std::string& detail) {
  std::fprintf(stderr, "request_fuzz: %s: %s\n", what, detail.c_str());
  std::abort();
}

// A refusal is InvalidArgument with a message ("parts[0].image: width 0").
void CheckRefusal(const absl::Status& s) {
  if (s.code() != absl::StatusCode::kInvalidArgument) {
    Finding("refusal is not InvalidArgument", s.ToString());
  }
  if (s.message().empty()) Finding("refusal without a message", s.ToString());
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const Fixture& f = Get();
  mot::v1::GenerateRequest request;
  if (!request.ParseFromArray(data, static_cast<int>(size))) return 0;  // gRPC refuses it first

  if (absl::Status s = mot::server::ValidateRequestId(request.request_id(), f.limits); !s.ok()) {
    CheckRefusal(s);
    return 0;
  }
  absl::StatusOr<mot::sampling::SamplingParams> sampling =
      mot::server::ConvertSampling(request, f.limits, f.caps, /*seed=*/7);
  if (!sampling.ok()) {
    CheckRefusal(sampling.status());
  } else {
    const mot::tokenizer::PromptBuilder& b = *f.builder;
    const int32_t per_image =
        b.image() != nullptr ? static_cast<int32_t>(b.image()->tokens_per_image()) : 0;
    // The engine's Submit runs Validate; what it refuses reaches the client the same way.
    if (absl::Status v = sampling->Validate(b.vocab(), per_image); !v.ok()) CheckRefusal(v);
    if (sampling->max_new_tokens < 1 || sampling->max_new_tokens > f.limits.max_new_tokens) {
      Finding("max_new_tokens outside the server's limit",
              std::to_string(sampling->max_new_tokens));
    }
  }
  absl::StatusOr<std::vector<mot::tokenizer::Part>> parts =
      mot::server::ConvertParts(request.parts(), f.limits, f.caps);
  if (!parts.ok()) {
    CheckRefusal(parts.status());
    return 0;
  }
  absl::StatusOr<mot::tokenizer::Prompt> prompt = f.builder->Build(*parts);
  if (!prompt.ok()) {
    CheckRefusal(mot::server::RelabelPromptError(prompt.status()));
    return 0;
  }
  const int32_t vocab = f.builder->vocab().size();
  for (int32_t id : prompt->ids) {
    if (id < 0 || id >= vocab) Finding("prompt id outside the vocabulary", std::to_string(id));
  }
  if (absl::Status s = mot::server::CheckPromptTokens(prompt->ids.size(), f.limits, f.caps);
      !s.ok()) {
    CheckRefusal(s);
  }
  return 0;
}
