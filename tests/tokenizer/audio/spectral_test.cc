// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/audio/spectral.h"

#include <cmath>
#include <complex>
#include <numbers>
#include <vector>

#include "gtest/gtest.h"

namespace mot::tokenizer {
namespace {

std::vector<float> Sine(double f, int rate, int n) {
  std::vector<float> x(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i)
    x[static_cast<size_t>(i)] = 0.5f * std::sin(2 * std::numbers::pi * f * i / rate);
  return x;
}

TEST(SpectralTest, SynthesizeInvertsAnalyze) {
  const int n = 4000;
  std::vector<float> x = Sine(523.0, 16000, n);
  for (int i = 0; i < n; ++i) x[static_cast<size_t>(i)] += 0.1f * std::cos(0.37 * i * i / n);
  Stft stft(512, HannWindow(512));
  const int hop = 128;
  const int64_t frames = NumFrames(n, hop);
  std::vector<std::complex<float>> spec(static_cast<size_t>(frames) * stft.n_bins());
  stft.Analyze(x.data(), n, hop, frames, spec.data());
  std::vector<float> y(n);
  stft.Synthesize(spec.data(), frames, hop, n, y.data());
  float err = 0;
  for (int i = 0; i < n; ++i)
    err = std::max(err, std::abs(x[static_cast<size_t>(i)] - y[static_cast<size_t>(i)]));
  EXPECT_LT(err, 1e-4f);
}

TEST(SpectralTest, FullScaleSinePeaksAtHalf) {
  // 500 Hz is exactly bin 16 of a 512-point FFT at 16 kHz.
  const std::vector<float> x = Sine(500.0, 16000, 4096);
  Stft stft(512, HannWindow(512));
  std::vector<float> mags(static_cast<size_t>(stft.n_bins()));
  // One frame centred well inside the signal: frame 10 at hop 160.
  std::vector<float> all(static_cast<size_t>(11 * stft.n_bins()));
  stft.Magnitudes(x.data(), 4096, 160, 11, all.data());
  const float* frame = all.data() + 10 * stft.n_bins();
  int best = 0;
  for (int b = 0; b < stft.n_bins(); ++b) {
    if (frame[b] > frame[best]) best = b;
  }
  EXPECT_EQ(best, 16);
  EXPECT_NEAR(frame[best], 0.25f, 0.01f);  // amplitude 0.5 -> 0.5 * 0.5
}

TEST(SpectralTest, GriffinLimOnExactMagnitudesKeepsTheSpectrum) {
  const int n = 8000;
  const std::vector<float> x = Sine(440.0, 16000, n);
  Stft stft(512, HannWindow(512));
  const int hop = 128;
  const int64_t frames = NumFrames(n, hop);
  std::vector<float> mags(static_cast<size_t>(frames) * stft.n_bins());
  stft.Magnitudes(x.data(), n, hop, frames, mags.data());
  const std::vector<float> y = GriffinLim(stft, mags.data(), frames, hop, n, 32, 0.99f, 7);
  ASSERT_EQ(y.size(), static_cast<size_t>(n));
  std::vector<float> got(mags.size());
  stft.Magnitudes(y.data(), n, hop, frames, got.data());
  double num = 0, den = 0;
  for (size_t i = 0; i < mags.size(); ++i) {
    num += (got[i] - mags[i]) * (got[i] - mags[i]);
    den += mags[i] * mags[i];
  }
  // Spectral convergence: ||S(y)| - S| / |S|.
  EXPECT_LT(std::sqrt(num / den), 0.1);
}

TEST(SpectralTest, MelFilterbankCoversTheBandWithNonNegativeWeights) {
  const std::vector<float> fb = MelFilterbank(16000, 512, 40);
  ASSERT_EQ(fb.size(), 40u * 257u);
  for (float w : fb) EXPECT_GE(w, 0.0f);
  // Every filter has some weight; the centre of filter m rises with m.
  int last_peak = -1;
  for (int m = 0; m < 40; ++m) {
    int peak = 0;
    for (int b = 0; b < 257; ++b) {
      if (fb[m * 257 + b] > fb[m * 257 + peak]) peak = b;
    }
    EXPECT_GT(fb[m * 257 + peak], 0.0f) << "filter " << m;
    EXPECT_GE(peak, last_peak);
    last_peak = peak;
  }
}

TEST(SpectralTest, InterpolateFramesIsLinearBetweenCentres) {
  // Input frames at hop 4 (centres 2, 6), output at hop 2 (centres 1, 3, 5, 7).
  const std::vector<float> in = {0.0f, 10.0f};
  const std::vector<float> out = InterpolateFrames(in.data(), 2, 4, 4, 2, 1);
  ASSERT_EQ(out.size(), 4u);
  EXPECT_FLOAT_EQ(out[0], 0.0f);  // clamped before the first centre
  EXPECT_FLOAT_EQ(out[1], 2.5f);
  EXPECT_FLOAT_EQ(out[2], 7.5f);
  EXPECT_FLOAT_EQ(out[3], 10.0f);  // clamped after the last centre
}

}  // namespace
}  // namespace mot::tokenizer
