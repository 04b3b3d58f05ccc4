// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/audio/spectral.h
// The signal processing under the audio tokenizer: a Hann window, a Slaney-style mel
// filterbank, a real STFT and its weighted overlap-add inverse (KissFFT), fast Griffin-Lim
// phase reconstruction, and log-spectral frame interpolation. Conventions: frame j of a
// hop-h analysis is centred on sample j*h + h/2 and spans n_fft samples; the signal is
// zero outside [0, n). Magnitudes are divided by the window's sum, so a full-scale sine
// peaks at 0.5. Spectra are row-major [frames, n_fft/2 + 1].
// Thread rule: an Stft holds KissFFT scratch: one thread at a time per object; the free
// functions are pure.
#ifndef MOT_ENGINE_TOKENIZER_AUDIO_SPECTRAL_H_
#define MOT_ENGINE_TOKENIZER_AUDIO_SPECTRAL_H_

#include <complex>
#include <cstdint>
#include <memory>
#include <vector>

namespace mot::tokenizer {

// Periodic Hann window of length n.
std::vector<float> HannWindow(int n);

// Slaney mel filterbank (librosa's default: Slaney mel scale, area-normalized triangles)
// [n_mels, n_fft/2 + 1] over [0, sample_rate/2].
std::vector<float> MelFilterbank(int sample_rate, int n_fft, int n_mels);

// Number of hop-`hop` frames that cover n samples: ceil(n / hop).
int64_t NumFrames(int64_t n, int hop);

class Stft {
 public:
  // REQUIRES: n_fft even and >= 4; window.size() == n_fft.
  Stft(int n_fft, std::vector<float> window);
  ~Stft();
  Stft(const Stft&) = delete;
  Stft& operator=(const Stft&) = delete;

  int n_fft() const { return n_fft_; }
  int n_bins() const { return n_fft_ / 2 + 1; }

  // Complex spectra of `num_frames` frames of x[0, n) at `hop` (see the file comment),
  // scaled by 1 / window sum. spec: [num_frames, n_bins].
  void Analyze(const float* x, int64_t n, int hop, int64_t num_frames, std::complex<float>* spec);
  // |Analyze| into mags [num_frames, n_bins].
  void Magnitudes(const float* x, int64_t n, int hop, int64_t num_frames, float* mags);
  // Least-squares inverse of Analyze (windowed overlap-add divided by the summed squared
  // window) into x[0, n).
  void Synthesize(const std::complex<float>* spec, int64_t num_frames, int hop, int64_t n,
                  float* x);

 private:
  int n_fft_;
  std::vector<float> window_;
  float window_sum_;
  void* forward_;  // kiss_fftr_cfg
  void* inverse_;
  std::vector<float> time_;
  std::vector<std::complex<float>> freq_;
};

// Fast Griffin-Lim (Perraudin, Balazs, Sondergaard 2013): `iterations` projections with
// `momentum` (0 gives classic Griffin-Lim) from a seeded random phase; returns n samples
// whose STFT magnitude approximates mags [num_frames, n_bins] (same scaling as Analyze).
std::vector<float> GriffinLim(Stft& stft, const float* mags, int64_t num_frames, int hop, int64_t n,
                              int iterations, float momentum, uint64_t seed);

// Linear interpolation in time of log-spectra given at `hop_in` frame centres to frames at
// `hop_out` centres (same conventions; clamped at the ends). in: [frames_in, dim];
// returns [frames_out, dim].
std::vector<float> InterpolateFrames(const float* in, int64_t frames_in, int hop_in,
                                     int64_t frames_out, int hop_out, int dim);

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_AUDIO_SPECTRAL_H_
