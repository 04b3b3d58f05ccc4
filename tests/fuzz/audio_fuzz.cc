// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/fuzz/audio_fuzz.cc
// libFuzzer target for the audio entry point: arbitrary bytes -> DecodeAudio (libsndfile
// from memory with limits, downmix, soxr resampling) and AudioTokenizer::Encode with a tiny
// codebook trained at start-up; when encoding succeeds, DecodeToWav of the codes and a
// probe of that WAV. Any crash, sanitizer report or broken invariant (samples outside
// [-1, 1], codes out of range or of the wrong count, an unreadable WAV) is a finding.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "engine/tokenizer/audio/audio_decoder.h"
#include "engine/tokenizer/audio/audio_tokenizer.h"

// A known leak in the system libraries, not in our code: when libsndfile fails to open a
// corrupt Ogg Vorbis stream after vorbis_info_init(), the 5784-byte codec setup is never
// freed (xiph/vorbis#125 reports the same 5784-byte block leaking on a similar path;
// libsndfile/libsndfile#922 lists more
// Vorbis-path leaks). Suppressed here so the target keeps looking for our bugs; the leak
// per malformed upload is recorded as a known gap in bench/results/audio_tokenizer_*.md.
extern "C" const char* __lsan_default_suppressions() { return "leak:vorbis_info_init\n"; }

namespace {

mot::tokenizer::AudioLimits FuzzLimits() {
  mot::tokenizer::AudioLimits limits;
  limits.max_encoded_bytes = 1 << 20;
  limits.max_duration_seconds = 2.0;  // keeps each input fast under ASan
  return limits;
}

const mot::tokenizer::AudioTokenizer& Tokenizer() {
  static const mot::tokenizer::AudioTokenizer* tok = [] {
    // Harmonic tones at a few pitches and levels: 8 codes x 2 stages, 2 gain levels.
    std::vector<std::vector<float>> waves;
    for (double f0 : {120.0, 240.0, 480.0}) {
      for (float amp : {0.05f, 0.5f}) {
        std::vector<float> x(4000);
        for (size_t i = 0; i < x.size(); ++i) {
          double v = 0;
          for (int k = 1; k <= 6; ++k) v += std::sin(2 * M_PI * f0 * k * i / 16000.0) / k;
          x[i] = static_cast<float>(amp * v / 2);
        }
        waves.push_back(std::move(x));
      }
    }
    mot::tokenizer::AudioTrainOptions o;
    o.config.n_mels = 16;
    o.config.codebook_size = 8;
    o.config.gain_levels = 2;
    o.config.stages = 2;
    o.config.griffin_lim_iterations = 2;
    o.kmeans_iterations = 5;
    auto t = mot::tokenizer::AudioTokenizer::Train(waves, o);
    if (!t.ok()) std::abort();
    auto* result = new mot::tokenizer::AudioTokenizer(*std::move(t));
    result->set_limits(FuzzLimits());
    return result;
  }();
  return *tok;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const mot::tokenizer::AudioTokenizer& tok = Tokenizer();
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto samples = mot::tokenizer::DecodeAudio(bytes, "audio part 0", 16000, FuzzLimits());
  if (!samples.ok()) return 0;
  for (float v : *samples) {
    if (!(v >= -1.0f && v <= 1.0f)) std::abort();
  }
  auto codes = tok.Encode(bytes, "audio part 0");
  if (!codes.ok()) std::abort();  // the same bytes decoded a moment ago
  if (codes->empty() || codes->size() % static_cast<size_t>(tok.tokens_per_frame()) != 0) {
    std::abort();
  }
  for (int32_t c : *codes) {
    if (c < 0 || c >= tok.codebook_size()) std::abort();
  }
  auto wav = tok.DecodeToWav(*codes);
  if (!wav.ok()) std::abort();
  auto info = mot::tokenizer::ProbeAudio(*wav, "round trip", mot::tokenizer::AudioLimits{});
  const int64_t frames = static_cast<int64_t>(codes->size()) / tok.tokens_per_frame();
  if (!info.ok() || info->frames != frames * tok.config().hop_length) std::abort();
  return 0;
}
