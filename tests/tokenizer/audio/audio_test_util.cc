// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "tests/tokenizer/audio/audio_test_util.h"

#include <sndfile.h>
#include <unistd.h>

#include <cmath>
#include <complex>
#include <cstdio>
#include <fstream>
#include <numbers>
#include <sstream>

#include "gtest/gtest.h"

namespace mot::tokenizer::testing {

std::vector<float> Sine(double freq, int rate, int n, float amplitude) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    x[static_cast<size_t>(i)] =
        amplitude * static_cast<float>(std::sin(2.0 * std::numbers::pi * freq * i / rate));
  }
  return x;
}

std::vector<float> HarmonicTone(double f0, int harmonics, int rate, int n, float amplitude) {
  std::vector<float> x(static_cast<size_t>(n), 0.0f);
  for (int i = 0; i < n; ++i) {
    const double t = static_cast<double>(i) / rate;
    const double env = 0.6 + 0.4 * std::sin(2.0 * std::numbers::pi * 1.5 * t);
    double v = 0;
    for (int k = 1; k <= harmonics; ++k) {
      if (f0 * k >= rate / 2.0) break;
      v += std::sin(2.0 * std::numbers::pi * f0 * k * t) / k;
    }
    x[static_cast<size_t>(i)] = static_cast<float>(amplitude * env * v / 2.0);
  }
  return x;
}

std::string MakeAudioFile(const std::vector<float>& interleaved, int channels, int rate,
                          int format) {
  const std::string path = ::testing::TempDir() + "/mot_audio_" + std::to_string(getpid()) + "_" +
                           std::to_string(format) + ".tmp";
  SF_INFO info{};
  info.samplerate = rate;
  info.channels = channels;
  info.format = format;
  SNDFILE* f = sf_open(path.c_str(), SFM_WRITE, &info);
  if (f == nullptr) {
    ADD_FAILURE() << "sf_open for write: " << sf_strerror(nullptr);
    return "";
  }
  sf_command(f, SFC_SET_CLIPPING, nullptr, SF_TRUE);
  sf_writef_float(f, interleaved.data(), static_cast<sf_count_t>(interleaved.size() / channels));
  sf_close(f);
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  std::remove(path.c_str());
  return ss.str();
}

double PeakFrequency(const std::vector<float>& x, int rate) {
  size_t m = 1;
  while (m < 4 * x.size()) m <<= 1;
  // A direct DFT near the peak would do, but the sizes here are small: a plain O(n * bins)
  // scan over bins up to Nyquist with a Hann window.
  const size_t n = x.size();
  double best = -1, best_f = 0;
  for (size_t b = 1; b < m / 2; ++b) {
    std::complex<double> acc = 0;
    const double w = -2.0 * std::numbers::pi * static_cast<double>(b) / static_cast<double>(m);
    for (size_t i = 0; i < n; i += 1) {
      const double win = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / n);
      acc += win * x[i] * std::polar(1.0, w * static_cast<double>(i));
    }
    const double mag = std::abs(acc);
    if (mag > best) {
      best = mag;
      best_f = static_cast<double>(b) * rate / static_cast<double>(m);
    }
  }
  return best_f;
}

}  // namespace mot::tokenizer::testing
