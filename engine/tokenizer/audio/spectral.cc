// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/audio/spectral.h"

#include <kiss_fftr.h>

#include <algorithm>
#include <cmath>
#include <numbers>

namespace mot::tokenizer {
namespace {

double HzToMel(double f) {
  // Slaney: linear below 1 kHz, logarithmic above.
  constexpr double kMinLogHz = 1000.0, kMinLogMel = 15.0;
  const double logstep = std::log(6.4) / 27.0;
  if (f < kMinLogHz) return f * 3.0 / 200.0;
  return kMinLogMel + std::log(f / kMinLogHz) / logstep;
}

double MelToHz(double m) {
  constexpr double kMinLogHz = 1000.0, kMinLogMel = 15.0;
  const double logstep = std::log(6.4) / 27.0;
  if (m < kMinLogMel) return m * 200.0 / 3.0;
  return kMinLogHz * std::exp(logstep * (m - kMinLogMel));
}

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

}  // namespace

std::vector<float> HannWindow(int n) {
  std::vector<float> w(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    w[static_cast<size_t>(i)] =
        static_cast<float>(0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / n));
  }
  return w;
}

std::vector<float> MelFilterbank(int sample_rate, int n_fft, int n_mels) {
  const int n_bins = n_fft / 2 + 1;
  std::vector<float> fb(static_cast<size_t>(n_mels) * n_bins, 0.0f);
  const double mel_max = HzToMel(sample_rate / 2.0);
  std::vector<double> hz(static_cast<size_t>(n_mels) + 2);
  for (int i = 0; i < n_mels + 2; ++i)
    hz[static_cast<size_t>(i)] = MelToHz(mel_max * i / (n_mels + 1));
  for (int m = 0; m < n_mels; ++m) {
    const double lo = hz[static_cast<size_t>(m)], mid = hz[static_cast<size_t>(m) + 1],
                 hi = hz[static_cast<size_t>(m) + 2];
    const double norm = 2.0 / (hi - lo);
    for (int b = 0; b < n_bins; ++b) {
      const double f = static_cast<double>(b) * sample_rate / n_fft;
      const double w = std::max(0.0, std::min((f - lo) / (mid - lo), (hi - f) / (hi - mid)));
      fb[static_cast<size_t>(m) * n_bins + b] = static_cast<float>(w * norm);
    }
  }
  return fb;
}

int64_t NumFrames(int64_t n, int hop) { return n <= 0 ? 0 : (n + hop - 1) / hop; }

Stft::Stft(int n_fft, std::vector<float> window)
    : n_fft_(n_fft),
      window_(std::move(window)),
      time_(static_cast<size_t>(n_fft)),
      freq_(static_cast<size_t>(n_fft / 2 + 1)) {
  double sum = 0;
  for (float w : window_) sum += w;
  window_sum_ = sum > 0 ? static_cast<float>(sum) : 1.0f;
  forward_ = kiss_fftr_alloc(n_fft, 0, nullptr, nullptr);
  inverse_ = kiss_fftr_alloc(n_fft, 1, nullptr, nullptr);
}

Stft::~Stft() {
  kiss_fftr_free(forward_);
  kiss_fftr_free(inverse_);
}

void Stft::Analyze(const float* x, int64_t n, int hop, int64_t num_frames,
                   std::complex<float>* spec) {
  const int nb = n_bins();
  const float scale = 1.0f / window_sum_;
  static_assert(sizeof(kiss_fft_cpx) == sizeof(std::complex<float>));
  for (int64_t j = 0; j < num_frames; ++j) {
    const int64_t start = j * hop + hop / 2 - n_fft_ / 2;
    for (int i = 0; i < n_fft_; ++i) {
      const int64_t t = start + i;
      time_[static_cast<size_t>(i)] =
          (t >= 0 && t < n) ? x[t] * window_[static_cast<size_t>(i)] : 0.0f;
    }
    kiss_fftr(static_cast<kiss_fftr_cfg>(forward_), time_.data(),
              reinterpret_cast<kiss_fft_cpx*>(spec + j * nb));
    for (int b = 0; b < nb; ++b) spec[j * nb + b] *= scale;
  }
}

void Stft::Magnitudes(const float* x, int64_t n, int hop, int64_t num_frames, float* mags) {
  const int64_t nb = n_bins();
  std::vector<std::complex<float>> spec(static_cast<size_t>(num_frames * nb));
  Analyze(x, n, hop, num_frames, spec.data());
  for (size_t i = 0; i < spec.size(); ++i) mags[i] = std::abs(spec[i]);
}

void Stft::Synthesize(const std::complex<float>* spec, int64_t num_frames, int hop, int64_t n,
                      float* x) {
  const int nb = n_bins();
  std::vector<float> norm(static_cast<size_t>(n), 0.0f);
  std::fill(x, x + n, 0.0f);
  // Analyze scaled by 1/window_sum; kiss_fftri is unnormalized (scales by n_fft).
  const float scale = window_sum_ / static_cast<float>(n_fft_);
  for (int64_t j = 0; j < num_frames; ++j) {
    std::copy(spec + j * nb, spec + (j + 1) * nb, freq_.begin());
    kiss_fftri(static_cast<kiss_fftr_cfg>(inverse_),
               reinterpret_cast<const kiss_fft_cpx*>(freq_.data()), time_.data());
    const int64_t start = j * hop + hop / 2 - n_fft_ / 2;
    for (int i = 0; i < n_fft_; ++i) {
      const int64_t t = start + i;
      if (t < 0 || t >= n) continue;
      const float w = window_[static_cast<size_t>(i)];
      x[t] += w * time_[static_cast<size_t>(i)] * scale;
      norm[static_cast<size_t>(t)] += w * w;
    }
  }
  for (int64_t t = 0; t < n; ++t) {
    const float d = norm[static_cast<size_t>(t)];
    x[t] = d > 1e-6f ? x[t] / d : 0.0f;
  }
}

std::vector<float> GriffinLim(Stft& stft, const float* mags, int64_t num_frames, int hop, int64_t n,
                              int iterations, float momentum, uint64_t seed) {
  const int nb = stft.n_bins();
  const size_t total = static_cast<size_t>(num_frames) * nb;
  std::vector<std::complex<float>> c(total), t(total), t_prev(total);
  uint64_t state = seed;
  for (size_t i = 0; i < total; ++i) {
    const double u = static_cast<double>(SplitMix64(state) >> 11) * 0x1.0p-53;
    c[i] = std::polar(mags[i], static_cast<float>(2.0 * std::numbers::pi * u));
  }
  std::vector<float> x(static_cast<size_t>(n));
  for (int it = 0; it < iterations; ++it) {
    stft.Synthesize(c.data(), num_frames, hop, n, x.data());
    stft.Analyze(x.data(), n, hop, num_frames, t.data());
    for (size_t i = 0; i < total; ++i) {
      const std::complex<float> accel = t[i] + momentum * (t[i] - t_prev[i]);
      const float a = std::abs(accel);
      c[i] = a > 0 ? accel * (mags[i] / a) : std::complex<float>(mags[i], 0.0f);
    }
    std::swap(t, t_prev);
  }
  stft.Synthesize(c.data(), num_frames, hop, n, x.data());
  return x;
}

std::vector<float> InterpolateFrames(const float* in, int64_t frames_in, int hop_in,
                                     int64_t frames_out, int hop_out, int dim) {
  std::vector<float> out(static_cast<size_t>(frames_out) * dim);
  if (frames_in <= 0) return out;
  for (int64_t j = 0; j < frames_out; ++j) {
    // Position of output frame j's centre in input-frame units.
    const double centre = static_cast<double>(j) * hop_out + hop_out / 2.0;
    double u = (centre - hop_in / 2.0) / hop_in;
    u = std::clamp(u, 0.0, static_cast<double>(frames_in - 1));
    const int64_t i0 = static_cast<int64_t>(std::floor(u));
    const int64_t i1 = std::min(i0 + 1, frames_in - 1);
    const float a = static_cast<float>(u - static_cast<double>(i0));
    const float* r0 = in + i0 * dim;
    const float* r1 = in + i1 * dim;
    float* o = out.data() + j * dim;
    for (int d = 0; d < dim; ++d) o[d] = (1.0f - a) * r0[d] + a * r1[d];
  }
  return out;
}

}  // namespace mot::tokenizer
