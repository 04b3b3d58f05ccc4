// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/tokenizer/audio/audio_test_util.h
// Test helpers: synthetic signals and audio files written by libsndfile itself (through a
// temporary file), so the decoder is tested against the library's own encoders.
// Thread rule: test code, one thread.
#ifndef MOT_TESTS_TOKENIZER_AUDIO_AUDIO_TEST_UTIL_H_
#define MOT_TESTS_TOKENIZER_AUDIO_AUDIO_TEST_UTIL_H_

#include <string>
#include <vector>

namespace mot::tokenizer::testing {

// amplitude * sin(2 pi f t) sampled at `rate` for n samples.
std::vector<float> Sine(double freq, int rate, int n, float amplitude = 0.5f);

// A harmonic tone: f0 with `harmonics` partials of amplitude amplitude/k, with a slow
// amplitude envelope, n samples at `rate`.
std::vector<float> HarmonicTone(double f0, int harmonics, int rate, int n, float amplitude);

// The bytes of an audio file with SF_FORMAT_* `format`, `channels` interleaved channels at
// `rate`, made by libsndfile (sf_open on a temporary file). Empty on failure.
std::string MakeAudioFile(const std::vector<float>& interleaved, int channels, int rate,
                          int format);

// The frequency (Hz) of the largest DFT bin of x (Hann window, zero-padded to 2^k >= 4n).
double PeakFrequency(const std::vector<float>& x, int rate);

}  // namespace mot::tokenizer::testing

#endif  // MOT_TESTS_TOKENIZER_AUDIO_AUDIO_TEST_UTIL_H_
