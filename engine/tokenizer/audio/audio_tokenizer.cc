// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/audio/audio_tokenizer.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "engine/core/dtype.h"
#include "engine/core/status_macros.h"
#include "engine/tokenizer/audio/spectral.h"

namespace mot::tokenizer {
namespace {

constexpr char kFormatName[] = "mot-audio-tokenizer";
constexpr char kFormatVersion[] = "1";
// Griffin-Lim's initial phase: fixed, so Decode is deterministic.
constexpr uint64_t kPhaseSeed = 0x6d6f742d61756469ull;

// Features of a waveform at the token hop.
struct FrameFeatures {
  int64_t frames = 0;
  std::vector<float> logmel;  // [frames, n_mels]
  std::vector<float> loglin;  // [frames, n_bins]
};

FrameFeatures ComputeFeatures(const AudioTokenizerConfig& c, const std::vector<float>& window,
                              const std::vector<float>& mel, const float* x, int64_t n) {
  const int nb = c.n_fft / 2 + 1;
  FrameFeatures f;
  f.frames = NumFrames(n, c.hop_length);
  std::vector<float> mags(static_cast<size_t>(f.frames) * nb);
  Stft stft(c.n_fft, window);
  stft.Magnitudes(x, n, c.hop_length, f.frames, mags.data());
  f.logmel.resize(static_cast<size_t>(f.frames) * c.n_mels);
  f.loglin.resize(mags.size());
  for (int64_t j = 0; j < f.frames; ++j) {
    const float* m = mags.data() + j * nb;
    for (int b = 0; b < nb; ++b) f.loglin[j * nb + b] = std::log(std::max(m[b], c.log_floor));
    for (int k = 0; k < c.n_mels; ++k) {
      const float* w = mel.data() + static_cast<size_t>(k) * nb;
      float e = 0;
      for (int b = 0; b < nb; ++b) e += w[b] * m[b];
      f.logmel[j * c.n_mels + k] = std::log(std::max(e, c.log_floor));
    }
  }
  return f;
}

int NearestLevel(const std::vector<float>& levels, float g) {
  // levels ascending: the nearest is next to the lower bound.
  const auto it = std::lower_bound(levels.begin(), levels.end(), g);
  int i = static_cast<int>(it - levels.begin());
  if (i == static_cast<int>(levels.size())) return i - 1;
  if (i > 0 && g - levels[static_cast<size_t>(i) - 1] <= levels[static_cast<size_t>(i)] - g) {
    return i - 1;
  }
  return i;
}

float FrameGain(const AudioTokenizerConfig& c, const float* logmel) {
  if (c.gain_levels <= 1) return 0.0f;
  double s = 0;
  for (int k = 0; k < c.n_mels; ++k) s += logmel[k];
  return static_cast<float>(s / c.n_mels);
}

absl::Status ValidateConfig(const AudioTokenizerConfig& c, const std::string& where) {
  auto bad = [&](const char* field, auto value, const char* want) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": ", field, ": ", want, ", got ", value));
  };
  if (c.sample_rate < 1000 || c.sample_rate > 192000) {
    return bad("sample_rate", c.sample_rate, "must be in [1000, 192000]");
  }
  if (c.n_fft < 16 || c.n_fft > 16384 || c.n_fft % 2 != 0) {
    return bad("n_fft", c.n_fft, "must be even and in [16, 16384]");
  }
  if (c.hop_length < 1 || c.hop_length > c.n_fft) {
    return bad("hop_length", c.hop_length, "must be in [1, n_fft]");
  }
  if (c.synthesis_hop < 1 || c.hop_length % c.synthesis_hop != 0) {
    return bad("synthesis_hop", c.synthesis_hop, "must be >= 1 and divide hop_length");
  }
  if (c.n_mels < 1 || c.n_mels > c.n_fft / 2 + 1) {
    return bad("n_mels", c.n_mels, "must be in [1, n_fft/2 + 1]");
  }
  if (c.codebook_size < 1 || c.codebook_size > 65536) {
    return bad("codebook_size", c.codebook_size, "must be in [1, 65536]");
  }
  if (c.gain_levels < 1 || c.gain_levels > 256) {
    return bad("gain_levels", c.gain_levels, "must be in [1, 256]");
  }
  if (c.stages < 1 || c.stages > 8) return bad("stages", c.stages, "must be in [1, 8]");
  if (static_cast<int64_t>(c.gain_levels + c.stages - 1) * c.codebook_size > (1 << 24)) {
    return bad("codebook_size", c.codebook_size,
               "(gain_levels + stages - 1) * codebook_size must be <= 2^24");
  }
  if (c.griffin_lim_iterations < 0 || c.griffin_lim_iterations > 1000) {
    return bad("griffin_lim_iterations", c.griffin_lim_iterations, "must be in [0, 1000]");
  }
  if (!(c.griffin_lim_momentum >= 0.0f && c.griffin_lim_momentum < 2.0f)) {
    return bad("griffin_lim_momentum", c.griffin_lim_momentum, "must be in [0, 2)");
  }
  if (!(c.log_floor > 0.0f && c.log_floor < 1.0f)) {
    return bad("log_floor", c.log_floor, "must be in (0, 1)");
  }
  return absl::OkStatus();
}

// Deterministic sample of k indices of [0, n), ascending (partial Fisher-Yates).
std::vector<int64_t> SampleIndices(int64_t n, int64_t k, uint64_t seed) {
  std::vector<int64_t> idx(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) idx[static_cast<size_t>(i)] = i;
  uint64_t state = seed ^ 0xa0761d6478bd642full;
  for (int64_t i = 0; i < k; ++i) {
    state += 0x9e3779b97f4a7c15ull;
    uint64_t z = state;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    const int64_t j = i + static_cast<int64_t>(z % static_cast<uint64_t>(n - i));
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(j)]);
  }
  idx.resize(static_cast<size_t>(k));
  std::sort(idx.begin(), idx.end());
  return idx;
}

// Metadata fields: name -> member.
std::vector<std::pair<const char*, int AudioTokenizerConfig::*>> IntFields() {
  return {{"sample_rate", &AudioTokenizerConfig::sample_rate},
          {"n_fft", &AudioTokenizerConfig::n_fft},
          {"hop_length", &AudioTokenizerConfig::hop_length},
          {"synthesis_hop", &AudioTokenizerConfig::synthesis_hop},
          {"n_mels", &AudioTokenizerConfig::n_mels},
          {"codebook_size", &AudioTokenizerConfig::codebook_size},
          {"gain_levels", &AudioTokenizerConfig::gain_levels},
          {"stages", &AudioTokenizerConfig::stages},
          {"griffin_lim_iterations", &AudioTokenizerConfig::griffin_lim_iterations}};
}
std::vector<std::pair<const char*, float AudioTokenizerConfig::*>> FloatFields() {
  return {{"griffin_lim_momentum", &AudioTokenizerConfig::griffin_lim_momentum},
          {"log_floor", &AudioTokenizerConfig::log_floor}};
}

// Reads tensor `name` of exactly `shape` as finite f32 values.
absl::StatusOr<std::vector<float>> ReadTensor(const SafetensorsFile& file, const std::string& name,
                                              const std::vector<int64_t>& shape) {
  MOT_ASSIGN_OR_RETURN(Tensor t, file.Get(name));
  if (t.shape() != shape) {
    Tensor want = Tensor::View(t.dtype(), shape, nullptr);
    return absl::InvalidArgumentError(absl::StrCat(file.path(), ": tensor ", name, ": shape ",
                                                   t.DebugString(), ", expected ",
                                                   want.DebugString()));
  }
  std::vector<float> v(static_cast<size_t>(t.numel()));
  ConvertToF32(t.dtype(), t.data(), t.numel(), v.data());
  for (size_t i = 0; i < v.size(); ++i) {
    if (!std::isfinite(v[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.path(), ": tensor ", name, ": element ", i, " is not finite"));
    }
  }
  return v;
}

}  // namespace

void AudioTokenizer::Finish() {
  search_.clear();
  for (const std::vector<float>& cb : codebooks_) {
    search_.push_back(std::make_shared<const NearestCodeSearch>(cb.data(), config_.codebook_size,
                                                                config_.n_mels));
  }
}

absl::StatusOr<AudioTokenizer> AudioTokenizer::Load(const std::string& path) {
  MOT_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
  return FromSafetensors(file);
}

absl::StatusOr<AudioTokenizer> AudioTokenizer::FromSafetensors(const SafetensorsFile& file) {
  const std::string& where = file.path();
  const auto& meta = file.metadata();
  auto field = [&](const char* key) -> absl::StatusOr<std::string> {
    const auto it = meta.find(key);
    if (it == meta.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": __metadata__ field ", key, ": missing"));
    }
    return it->second;
  };
  MOT_ASSIGN_OR_RETURN(std::string format, field("format"));
  if (format != kFormatName) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": __metadata__ field format: expected ",
                                                   kFormatName, ", got \"", format, "\""));
  }
  MOT_ASSIGN_OR_RETURN(std::string version, field("version"));
  if (version != kFormatVersion) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": __metadata__ field version: expected ",
                                                   kFormatVersion, ", got \"", version, "\""));
  }
  AudioTokenizer tok;
  AudioTokenizerConfig& c = tok.config_;
  for (const auto& [key, member] : IntFields()) {
    MOT_ASSIGN_OR_RETURN(std::string s, field(key));
    if (!absl::SimpleAtoi(s, &(c.*member))) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": __metadata__ field ", key, ": not an integer: \"", s, "\""));
    }
  }
  for (const auto& [key, member] : FloatFields()) {
    MOT_ASSIGN_OR_RETURN(std::string s, field(key));
    if (!absl::SimpleAtof(s, &(c.*member))) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": __metadata__ field ", key, ": not a number: \"", s, "\""));
    }
  }
  MOT_RETURN_IF_ERROR(ValidateConfig(c, absl::StrCat(where, ": __metadata__ field")));
  const int64_t nb = c.n_fft / 2 + 1;
  const int64_t k = c.codebook_size;
  MOT_ASSIGN_OR_RETURN(tok.window_, ReadTensor(file, "window", {c.n_fft}));
  MOT_ASSIGN_OR_RETURN(tok.mel_, ReadTensor(file, "mel_filters", {c.n_mels, nb}));
  for (float w : tok.mel_) {
    if (w < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": tensor mel_filters: negative weight ", w));
    }
  }
  MOT_ASSIGN_OR_RETURN(tok.gain_levels_, ReadTensor(file, "gain_levels", {c.gain_levels}));
  if (!std::is_sorted(tok.gain_levels_.begin(), tok.gain_levels_.end())) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": tensor gain_levels: must be ascending"));
  }
  for (int s = 0; s < c.stages; ++s) {
    MOT_ASSIGN_OR_RETURN(std::vector<float> cb,
                         ReadTensor(file, absl::StrCat("codebook.", s), {k, c.n_mels}));
    MOT_ASSIGN_OR_RETURN(std::vector<float> sp,
                         ReadTensor(file, absl::StrCat("spectra.", s), {k, nb}));
    tok.codebooks_.push_back(std::move(cb));
    tok.spectra_.push_back(std::move(sp));
  }
  if (file.Contains(absl::StrCat("codebook.", c.stages))) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": tensor codebook.", c.stages, ": present but stages is ", c.stages));
  }
  tok.Finish();
  return tok;
}

absl::StatusOr<AudioTokenizer> AudioTokenizer::Train(
    const std::vector<std::vector<float>>& waveforms, const AudioTrainOptions& options) {
  const AudioTokenizerConfig& c = options.config;
  MOT_RETURN_IF_ERROR(ValidateConfig(c, "audio tokenizer training config"));
  AudioTokenizer tok;
  tok.config_ = c;
  tok.window_ = HannWindow(c.n_fft);
  tok.mel_ = MelFilterbank(c.sample_rate, c.n_fft, c.n_mels);
  const int nb = c.n_fft / 2 + 1;

  FrameFeatures all;
  for (size_t w = 0; w < waveforms.size(); ++w) {
    const std::vector<float>& x = waveforms[w];
    for (float v : x) {
      if (!std::isfinite(v)) {
        return absl::InvalidArgumentError(
            absl::StrCat("audio tokenizer training: waveform ", w, " has a non-finite sample"));
      }
    }
    FrameFeatures f =
        ComputeFeatures(c, tok.window_, tok.mel_, x.data(), static_cast<int64_t>(x.size()));
    all.frames += f.frames;
    all.logmel.insert(all.logmel.end(), f.logmel.begin(), f.logmel.end());
    all.loglin.insert(all.loglin.end(), f.loglin.begin(), f.loglin.end());
  }
  const int64_t needed = std::max(c.codebook_size, c.gain_levels);
  if (all.frames < needed) {
    return absl::InvalidArgumentError(absl::StrCat("audio tokenizer training: ", all.frames,
                                                   " frames, need at least ", needed,
                                                   " (codebook_size / gain_levels)"));
  }
  if (options.max_training_frames > 0 && all.frames > options.max_training_frames) {
    const std::vector<int64_t> keep =
        SampleIndices(all.frames, options.max_training_frames, options.seed);
    FrameFeatures s;
    s.frames = static_cast<int64_t>(keep.size());
    for (int64_t j : keep) {
      s.logmel.insert(s.logmel.end(), all.logmel.begin() + j * c.n_mels,
                      all.logmel.begin() + (j + 1) * c.n_mels);
      s.loglin.insert(s.loglin.end(), all.loglin.begin() + j * nb,
                      all.loglin.begin() + (j + 1) * nb);
    }
    all = std::move(s);
  }
  const int64_t n = all.frames;

  // Gain levels: 1-D k-means over the frames' mean log-mel.
  std::vector<float> gains(static_cast<size_t>(n));
  for (int64_t j = 0; j < n; ++j)
    gains[static_cast<size_t>(j)] = FrameGain(c, &all.logmel[j * c.n_mels]);
  if (c.gain_levels > 1) {
    KMeansOptions ko;
    ko.k = c.gain_levels;
    ko.iterations = options.kmeans_iterations;
    ko.seed = options.seed;
    ko.pool = options.pool;
    MOT_ASSIGN_OR_RETURN(KMeansResult r, KMeans(gains.data(), n, 1, ko));
    tok.gain_levels_ = r.codebook;
    std::sort(tok.gain_levels_.begin(), tok.gain_levels_.end());
  } else {
    tok.gain_levels_ = {0.0f};
  }
  // Targets after removing the quantized gain: the shape (log-mel) and the decoder's
  // linear-frequency log spectrum.
  std::vector<float>& shape = all.logmel;
  std::vector<float>& lin = all.loglin;
  for (int64_t j = 0; j < n; ++j) {
    const float g = tok.gain_levels_[static_cast<size_t>(
        NearestLevel(tok.gain_levels_, gains[static_cast<size_t>(j)]))];
    for (int k = 0; k < c.n_mels; ++k) shape[j * c.n_mels + k] -= g;
    for (int b = 0; b < nb; ++b) lin[j * nb + b] -= g;
  }
  for (int s = 0; s < c.stages; ++s) {
    KMeansOptions ko;
    ko.k = c.codebook_size;
    ko.iterations = options.kmeans_iterations;
    ko.seed = options.seed + 1 + static_cast<uint64_t>(s);
    ko.pool = options.pool;
    MOT_ASSIGN_OR_RETURN(KMeansResult r, KMeans(shape.data(), n, c.n_mels, ko));
    // Each cell's decoder spectrum: the mean linear log spectrum of its frames (the mean of
    // all frames for a cell that ended up empty).
    std::vector<double> sums(static_cast<size_t>(c.codebook_size) * nb, 0.0);
    std::vector<double> total(static_cast<size_t>(nb), 0.0);
    std::vector<int64_t> counts(static_cast<size_t>(c.codebook_size), 0);
    for (int64_t j = 0; j < n; ++j) {
      const int32_t code = r.assignments[static_cast<size_t>(j)];
      ++counts[static_cast<size_t>(code)];
      for (int b = 0; b < nb; ++b) {
        sums[static_cast<size_t>(code) * nb + b] += lin[j * nb + b];
        total[static_cast<size_t>(b)] += lin[j * nb + b];
      }
    }
    std::vector<float> spectra(sums.size());
    for (int64_t code = 0; code < c.codebook_size; ++code) {
      const int64_t cnt = counts[static_cast<size_t>(code)];
      for (int b = 0; b < nb; ++b) {
        spectra[code * nb + b] = static_cast<float>(cnt > 0 ? sums[code * nb + b] / cnt
                                                            : total[static_cast<size_t>(b)] / n);
      }
    }
    // Residuals for the next stage.
    for (int64_t j = 0; j < n; ++j) {
      const int32_t code = r.assignments[static_cast<size_t>(j)];
      for (int k = 0; k < c.n_mels; ++k) {
        shape[j * c.n_mels + k] -= r.codebook[static_cast<size_t>(code) * c.n_mels + k];
      }
      for (int b = 0; b < nb; ++b) lin[j * nb + b] -= spectra[static_cast<size_t>(code) * nb + b];
    }
    tok.codebooks_.push_back(std::move(r.codebook));
    tok.spectra_.push_back(std::move(spectra));
  }
  tok.Finish();
  return tok;
}

std::vector<NamedTensor> AudioTokenizer::ToTensors(std::map<std::string, std::string>& meta) const {
  const AudioTokenizerConfig& c = config_;
  const int64_t nb = c.n_fft / 2 + 1;
  const int64_t k = c.codebook_size;
  std::vector<NamedTensor> tensors;
  tensors.push_back({"window", Tensor::View(DType::kF32, {c.n_fft}, window_.data())});
  tensors.push_back({"mel_filters", Tensor::View(DType::kF32, {c.n_mels, nb}, mel_.data())});
  tensors.push_back(
      {"gain_levels", Tensor::View(DType::kF32, {c.gain_levels}, gain_levels_.data())});
  for (int s = 0; s < c.stages; ++s) {
    tensors.push_back(
        {absl::StrCat("codebook.", s),
         Tensor::View(DType::kF32, {k, c.n_mels}, codebooks_[static_cast<size_t>(s)].data())});
    // Log-magnitudes in [log(log_floor), ~0]: f16 keeps ~3 significant digits, plenty for
    // a spectral envelope, and halves the file.
    Tensor sp = Tensor::Empty(DType::kF16, {k, nb});
    ConvertFromF32(spectra_[static_cast<size_t>(s)].data(), k * nb, DType::kF16, sp.data());
    tensors.push_back({absl::StrCat("spectra.", s), sp});
  }
  // insert_or_assign with std::string: GCC 12 gives a false -Wrestrict on assigning a char
  // array to a map element.
  meta.insert_or_assign("format", std::string(kFormatName));
  meta.insert_or_assign("version", std::string(kFormatVersion));
  for (const auto& [key, member] : IntFields()) meta[key] = absl::StrCat(c.*member);
  for (const auto& [key, member] : FloatFields()) meta[key] = absl::StrCat(c.*member);
  return tensors;
}

absl::StatusOr<std::string> AudioTokenizer::Serialize() const {
  std::map<std::string, std::string> meta;
  std::vector<NamedTensor> tensors = ToTensors(meta);
  return SerializeSafetensors(tensors, meta);
}

absl::Status AudioTokenizer::Save(const std::string& path) const {
  std::map<std::string, std::string> meta;
  std::vector<NamedTensor> tensors = ToTensors(meta);
  return WriteSafetensors(path, tensors, meta);
}

absl::StatusOr<std::vector<int32_t>> AudioTokenizer::Encode(std::string_view bytes,
                                                            std::string_view part) const {
  MOT_ASSIGN_OR_RETURN(std::vector<float> samples,
                       DecodeAudio(bytes, part, config_.sample_rate, limits_));
  return EncodeSamples(samples);
}

absl::StatusOr<std::vector<int32_t>> AudioTokenizer::EncodeSamples(
    const std::vector<float>& samples) const {
  const AudioTokenizerConfig& c = config_;
  if (samples.empty()) {
    return absl::InvalidArgumentError("audio tokenizer: no samples to encode");
  }
  for (size_t i = 0; i < samples.size(); ++i) {
    if (!std::isfinite(samples[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("audio tokenizer: sample ", i, " is not finite"));
    }
  }
  FrameFeatures f =
      ComputeFeatures(c, window_, mel_, samples.data(), static_cast<int64_t>(samples.size()));
  const int64_t k = c.codebook_size;
  std::vector<int32_t> codes(static_cast<size_t>(f.frames * c.stages));
  std::vector<float> residual(static_cast<size_t>(c.n_mels));
  for (int64_t j = 0; j < f.frames; ++j) {
    const float* lm = &f.logmel[j * c.n_mels];
    const int gi = NearestLevel(gain_levels_, FrameGain(c, lm));
    const float g = gain_levels_[static_cast<size_t>(gi)];
    for (int m = 0; m < c.n_mels; ++m) residual[static_cast<size_t>(m)] = lm[m] - g;
    for (int s = 0; s < c.stages; ++s) {
      const int32_t code = search_[static_cast<size_t>(s)]->Nearest(residual.data());
      const float* cb = codebooks_[static_cast<size_t>(s)].data() + code * c.n_mels;
      for (int m = 0; m < c.n_mels; ++m) residual[static_cast<size_t>(m)] -= cb[m];
      codes[static_cast<size_t>(j * c.stages + s)] =
          static_cast<int32_t>(s == 0 ? gi * k + code : (c.gain_levels + s - 1) * k + code);
    }
  }
  return codes;
}

absl::StatusOr<std::vector<float>> AudioTokenizer::Decode(const std::vector<int32_t>& codes) const {
  const AudioTokenizerConfig& c = config_;
  const int64_t k = c.codebook_size;
  const int64_t nb = c.n_fft / 2 + 1;
  if (codes.size() % static_cast<size_t>(c.stages) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("audio codes: ", codes.size(),
                                                   " codes is not a multiple of ", c.stages,
                                                   " tokens per frame"));
  }
  const int64_t frames = static_cast<int64_t>(codes.size()) / c.stages;
  if (static_cast<double>(frames) > limits_.max_duration_seconds * frames_per_second()) {
    return absl::ResourceExhaustedError(
        absl::StrCat("audio codes: ", frames, " frames (", frames / frames_per_second(),
                     " s) is over the limit of ", limits_.max_duration_seconds, " s"));
  }
  std::vector<float> logspec(static_cast<size_t>(frames * nb));
  for (int64_t j = 0; j < frames; ++j) {
    float* out = logspec.data() + j * nb;
    for (int s = 0; s < c.stages; ++s) {
      const size_t index = static_cast<size_t>(j * c.stages + s);
      const int64_t v = codes[index];
      const int64_t lo = s == 0 ? 0 : (c.gain_levels + s - 1) * k;
      const int64_t hi = s == 0 ? c.gain_levels * k : lo + k;
      if (v < lo || v >= hi) {
        return absl::InvalidArgumentError(absl::StrCat("audio codes: code ", index, " = ", v,
                                                       " out of range [", lo, ", ", hi,
                                                       ") for stage ", s));
      }
      const int64_t code = s == 0 ? v % k : v - lo;
      const float* sp = spectra_[static_cast<size_t>(s)].data() + code * nb;
      if (s == 0) {
        const float g = gain_levels_[static_cast<size_t>(v / k)];
        for (int64_t b = 0; b < nb; ++b) out[b] = g + sp[b];
      } else {
        for (int64_t b = 0; b < nb; ++b) out[b] += sp[b];
      }
    }
  }
  const int64_t n = frames * c.hop_length;
  if (n == 0) return std::vector<float>();
  const int64_t synth_frames = n / c.synthesis_hop;
  std::vector<float> mags = InterpolateFrames(logspec.data(), frames, c.hop_length, synth_frames,
                                              c.synthesis_hop, static_cast<int>(nb));
  for (float& m : mags) m = std::exp(m);
  Stft stft(c.n_fft, window_);
  return GriffinLim(stft, mags.data(), synth_frames, c.synthesis_hop, n, c.griffin_lim_iterations,
                    c.griffin_lim_momentum, kPhaseSeed);
}

absl::StatusOr<std::string> AudioTokenizer::DecodeToWav(const std::vector<int32_t>& codes) const {
  MOT_ASSIGN_OR_RETURN(std::vector<float> samples, Decode(codes));
  return EncodeWav16(samples, config_.sample_rate);
}

}  // namespace mot::tokenizer
