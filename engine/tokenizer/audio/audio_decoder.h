// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/audio/audio_decoder.h
// Audio bytes in memory -> mono f32 samples at a requested rate, and mono samples -> WAV
// bytes. Every format libsndfile reads (WAV/AIFF/AU/CAF/W64/RF64, FLAC, OGG Vorbis/Opus,
// MP3 where the library has it, ...) is opened from memory (sf_open_virtual), downmixed by
// averaging the channels and resampled with soxr (high quality). Limits are checked before
// the samples are decoded: the encoded size first, then the header's rate, channel count
// and duration; the decoded length is re-checked while reading (headers may lie).
// Every error names the caller's part label ("audio part 3: ...") and the reason.
// Thread rule: pure functions, callable from any thread (libsndfile's open-error text is
// a process global, so a concurrent failing open may report another call's reason).
#ifndef MOT_ENGINE_TOKENIZER_AUDIO_AUDIO_DECODER_H_
#define MOT_ENGINE_TOKENIZER_AUDIO_AUDIO_DECODER_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace mot::tokenizer {

// Limits on one audio part. Decoded memory is at most
// max_duration_seconds * max_sample_rate floats (plus the resampled copy).
struct AudioLimits {
  int64_t max_encoded_bytes = 64ll << 20;
  double max_duration_seconds = 300.0;
  int max_channels = 64;
  int min_sample_rate = 1000;
  int max_sample_rate = 192000;
};

// What the header says, before any sample is decoded.
struct AudioHeaderInfo {
  int sample_rate = 0;
  int channels = 0;
  int64_t frames = 0;  // per channel
  int format = 0;      // libsndfile SF_FORMAT_* bits
};

// Opens `bytes` and checks the header against `limits` without decoding the samples.
// InvalidArgument: empty, unrecognised or corrupt data (libsndfile's reason quoted), zero
// or too many channels, a sample rate outside the limits, no frames. ResourceExhausted:
// more than max_encoded_bytes, or a duration over max_duration_seconds.
absl::StatusOr<AudioHeaderInfo> ProbeAudio(std::string_view bytes, std::string_view part,
                                           const AudioLimits& limits);

// Decodes `bytes` to mono samples at `target_sample_rate` (the source rate when 0).
// The result is never empty; samples are in [-1, 1]; non-finite values (float files)
// become 0. Errors as ProbeAudio, plus InvalidArgument when the data is truncated or
// corrupt inside (a read error) or too short to leave a sample at the target rate, and
// ResourceExhausted when the decoded length exceeds the duration limit.
// REQUIRES: target_sample_rate >= 0.
absl::StatusOr<std::vector<float>> DecodeAudio(std::string_view bytes, std::string_view part,
                                               int target_sample_rate,
                                               const AudioLimits& limits = {});

// Resamples mono `input` from `input_rate` to `output_rate` with soxr (SOXR_HQ); the result
// has round(n * output_rate / input_rate) samples. Returns a copy when the rates are equal.
// InvalidArgument: a rate <= 0; Internal: soxr failed (its message quoted).
absl::StatusOr<std::vector<float>> ResampleMono(const std::vector<float>& input, double input_rate,
                                                double output_rate);

// Mono samples -> a 16-bit PCM WAV file's bytes (libsndfile, written to memory). Samples
// outside [-1, 1] are clipped. InvalidArgument: sample_rate <= 0; Internal: libsndfile
// failed (its message quoted).
absl::StatusOr<std::string> EncodeWav16(const std::vector<float>& samples, int sample_rate);

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_AUDIO_AUDIO_DECODER_H_
