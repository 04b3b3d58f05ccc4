// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/audio/audio_tokenizer.h
// AudioTokenizer: a learned-codebook audio codec at a fixed token rate. Audio is decoded
// and resampled to sample_rate() (audio_decoder.h), cut into STFT frames every hop_length
// samples, and each frame's log-mel spectrum is split into a gain (its mean, scalar-
// quantized to gain_levels learned levels) and a shape, vector-quantized by `stages`
// residual k-means codebooks. Frame f yields tokens_per_frame() == stages codes:
//   code 0 = gain_index * K + shape_code_0          in [0, gain_levels * K)
//   code s = gain_levels * K + (s-1) * K + code_s   for s >= 1
// so one code range per position and codebook_size() == (gain_levels + stages - 1) * K.
// Decoding looks each code's log-magnitude spectrum up (learned as the mean linear-
// frequency log spectrum of the training frames in that cell), interpolates the frames to
// the synthesis hop and reconstructs phase with fast Griffin-Lim. Every parameter and
// codebook is stored in audio_tokenizer.safetensors and validated on load.
// Thread rule: immutable after Load/Train; const methods from any thread.
#ifndef MOT_ENGINE_TOKENIZER_AUDIO_AUDIO_TOKENIZER_H_
#define MOT_ENGINE_TOKENIZER_AUDIO_AUDIO_TOKENIZER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/thread_pool.h"
#include "engine/tokenizer/audio/audio_decoder.h"
#include "engine/tokenizer/kmeans.h"
#include "model_loaders/safetensors.h"

namespace mot::tokenizer {

// The stored parameters (safetensors __metadata__). Defaults chosen by measurement with
// bench/audio_tokenizer_eval.sh (bench/results/audio_tokenizer_2026-11-23.md): 8 gain
// levels x 2048 shapes in one token per frame (50 tokens/s, 16384 ids) reached STOI 0.90
// on held-out sentences; 2 stages (100 tokens/s) gained only ~0.01 for twice the tokens.
struct AudioTokenizerConfig {
  int sample_rate = 16000;
  int n_fft = 512;
  int hop_length = 320;    // samples per token frame: 50 frames/s at 16 kHz
  int synthesis_hop = 80;  // Griffin-Lim hop; divides hop_length
  int n_mels = 80;
  int codebook_size = 2048;  // K, codes per stage
  int gain_levels = 8;       // 1: no gain/shape split (the gain stays in the shape)
  int stages = 1;            // residual VQ stages = tokens per frame
  int griffin_lim_iterations = 32;
  float griffin_lim_momentum = 0.99f;
  float log_floor = 1e-5f;  // magnitudes are floored here before the log
};

struct AudioTrainOptions {
  AudioTokenizerConfig config;
  int kmeans_iterations = 20;
  // Frames used for k-means at most (a seeded uniform sample when there are more).
  int64_t max_training_frames = 200000;
  uint64_t seed = 0;
  ThreadPool* pool = nullptr;  // k-means parallelism; null runs on the calling thread
};

class AudioTokenizer {
 public:
  // Reads and validates audio_tokenizer.safetensors. NotFound when missing;
  // InvalidArgument naming the file and the key (metadata field or tensor) otherwise.
  static absl::StatusOr<AudioTokenizer> Load(const std::string& path);
  // The same over an opened file (e.g. SafetensorsFile::FromBuffer for tests and fuzzing).
  static absl::StatusOr<AudioTokenizer> FromSafetensors(const SafetensorsFile& file);

  // Learns the gain levels and codebooks from mono waveforms at config.sample_rate.
  // InvalidArgument: a bad config (field named), fewer non-empty frames than
  // max(codebook_size, gain_levels), a non-finite sample.
  static absl::StatusOr<AudioTokenizer> Train(const std::vector<std::vector<float>>& waveforms,
                                              const AudioTrainOptions& options);

  // Writes audio_tokenizer.safetensors (atomically) / the same bytes in memory.
  absl::Status Save(const std::string& path) const;
  absl::StatusOr<std::string> Serialize() const;

  // Audio file bytes -> codes, tokens_per_frame() per frame, ceil(samples / hop_length)
  // frames at sample_rate(). Errors of DecodeAudio under limits(), naming `part`.
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view bytes, std::string_view part) const;
  // Mono samples at sample_rate() -> codes. InvalidArgument: empty input.
  absl::StatusOr<std::vector<int32_t>> EncodeSamples(const std::vector<float>& samples) const;

  // Codes -> mono samples at sample_rate(), hop_length samples per frame.
  // InvalidArgument: a length that is not a multiple of tokens_per_frame(), a code outside
  // its position's range (index and value named). ResourceExhausted: longer than
  // limits().max_duration_seconds. Empty codes give empty samples.
  absl::StatusOr<std::vector<float>> Decode(const std::vector<int32_t>& codes) const;
  // Decode() as 16-bit PCM mono WAV bytes.
  absl::StatusOr<std::string> DecodeToWav(const std::vector<int32_t>& codes) const;

  const AudioTokenizerConfig& config() const { return config_; }
  int sample_rate() const { return config_.sample_rate; }
  int tokens_per_frame() const { return config_.stages; }
  double frames_per_second() const {
    return static_cast<double>(config_.sample_rate) / config_.hop_length;
  }
  double tokens_per_second() const { return frames_per_second() * tokens_per_frame(); }
  // Size of the code id space: codes are in [0, codebook_size()).
  int codebook_size() const {
    return (config_.gain_levels + config_.stages - 1) * config_.codebook_size;
  }

  const AudioLimits& limits() const { return limits_; }
  void set_limits(const AudioLimits& limits) { limits_ = limits; }

 private:
  AudioTokenizer() = default;
  // Builds the search structures from the tensors; REQUIRES: validated tensors.
  void Finish();
  // The tensors (views of the members, or owned f16 copies) and metadata to store.
  std::vector<NamedTensor> ToTensors(std::map<std::string, std::string>& meta) const;

  AudioTokenizerConfig config_;
  AudioLimits limits_;
  std::vector<float> window_;       // [n_fft]
  std::vector<float> mel_;          // [n_mels, n_bins]
  std::vector<float> gain_levels_;  // [gain_levels], ascending
  // Per stage: the encoder codebook [K, n_mels] and the decoder log-magnitude spectra
  // [K, n_bins].
  std::vector<std::vector<float>> codebooks_;
  std::vector<std::vector<float>> spectra_;
  std::vector<std::shared_ptr<const NearestCodeSearch>> search_;
};

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_AUDIO_AUDIO_TOKENIZER_H_
