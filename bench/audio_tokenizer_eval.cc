// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/audio_tokenizer_eval.cc
// Trains an audio tokenizer on the WAVs of one directory and reconstructs the WAVs of
// another, writing <out>/<name>.ref.wav (the input at the tokenizer's rate) and
// <out>/<name>.rec.wav for bench/audio_tokenizer_metrics.py to score. Modes separate the
// losses: `vq` (Encode -> Decode), `ceiling_frames` (the unquantized log spectra at the
// token rate, interpolated and Griffin-Lim'd as Decode does: no VQ loss), `ceiling_stft`
// (Griffin-Lim on the exact STFT magnitudes at the synthesis hop: phase loss only).
// Driven by bench/audio_tokenizer_eval.sh, which prints the results table.
//   audio_tokenizer_eval --test_dir DIR --out DIR [--mode vq|ceiling_frames|ceiling_stft]
//     [--train_dir DIR | --load FILE] [--save FILE] [--codebook_size K] [--gain_levels G]
//     [--stages S] [--hop N] [--synthesis_hop N] [--gl_iters N] [--n_mels N] [--momentum X]
//     [--kmeans_iters 20] [--threads 2] [--seed 0]
// The tokenizer settings (--codebook_size .. --momentum) default to AudioTokenizerConfig's
// values; an empty value (--hop=) also means the default. Prints one line of key=value.
// Flags: Abseil, parsed by bench/bench_flags.h (--train-dir is --train_dir; exit 1 for an
// unknown flag or an unparsable value, 2 for an unknown --mode, a missing --test_dir/--out
// or vq mode without --train_dir/--load). Failures after parsing exit with status 1.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "bench/bench_flags.h"
#include "engine/core/thread_pool.h"
#include "engine/tokenizer/audio/audio_decoder.h"
#include "engine/tokenizer/audio/audio_tokenizer.h"
#include "engine/tokenizer/audio/spectral.h"

ABSL_FLAG(std::string, train_dir, "", "directory of training WAVs (vq mode, unless --load)");
ABSL_FLAG(std::string, test_dir, "", "directory of WAVs to reconstruct (required)");
ABSL_FLAG(std::string, out, "",
          "output directory for <name>.ref.wav and <name>.rec.wav (required)");
ABSL_FLAG(std::string, mode, "vq", "vq, ceiling_frames or ceiling_stft");
ABSL_FLAG(std::string, save, "", "write the trained tokenizer to this file");
ABSL_FLAG(std::string, load, "", "load a saved tokenizer instead of training (vq mode)");
ABSL_FLAG(std::optional<int>, codebook_size, std::nullopt, "codes per stage (default: config)");
ABSL_FLAG(std::optional<int>, gain_levels, std::nullopt, "gain levels (default: config)");
ABSL_FLAG(std::optional<int>, stages, std::nullopt, "residual VQ stages (default: config)");
ABSL_FLAG(std::optional<int>, hop, std::nullopt, "analysis hop in samples (default: config)");
ABSL_FLAG(std::optional<int>, synthesis_hop, std::nullopt,
          "Griffin-Lim synthesis hop in samples (default: config)");
ABSL_FLAG(std::optional<int>, gl_iters, std::nullopt, "Griffin-Lim iterations (default: config)");
ABSL_FLAG(std::optional<int>, n_mels, std::nullopt, "mel bands (default: config)");
ABSL_FLAG(std::optional<float>, momentum, std::nullopt, "Griffin-Lim momentum (default: config)");
ABSL_FLAG(int, kmeans_iters, 20, "k-means iterations");
ABSL_FLAG(int, threads, 2, "training threads (0: one per core)");
ABSL_FLAG(uint64_t, seed, 0, "k-means seed");

namespace {

using mot::tokenizer::AudioTokenizer;
using mot::tokenizer::AudioTokenizerConfig;
using mot::tokenizer::AudioTrainOptions;

std::string ReadFile(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool WriteFile(const std::filesystem::path& p, const std::string& bytes) {
  std::ofstream out(p, std::ios::binary);
  out << bytes;
  return static_cast<bool>(out);
}

std::vector<std::filesystem::path> Wavs(const std::string& dir) {
  std::vector<std::filesystem::path> v;
  for (const auto& e : std::filesystem::directory_iterator(dir)) {
    if (e.path().extension() == ".wav") v.push_back(e.path());
  }
  std::sort(v.begin(), v.end());
  return v;
}

double Seconds(std::chrono::steady_clock::time_point a) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - a).count();
}

int Fail(const std::string& what) {
  std::cerr << "audio_tokenizer_eval: " << what << "\n";
  return 1;
}

using ::mot::bench::UsageError;

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "audio tokenizer reconstruction for bench/audio_tokenizer_eval.sh; prints one line of "
      "key=value.\n  audio_tokenizer_eval --test_dir DIR --out DIR [--train_dir DIR] [flags]");
  mot::bench::ParseBenchFlags(argc, argv);
  const std::string train_dir = absl::GetFlag(FLAGS_train_dir);
  const std::string test_dir = absl::GetFlag(FLAGS_test_dir);
  const std::string out_dir = absl::GetFlag(FLAGS_out);
  const std::string load = absl::GetFlag(FLAGS_load);
  const std::string save = absl::GetFlag(FLAGS_save);
  const std::string mode = absl::GetFlag(FLAGS_mode);
  if (test_dir.empty() || out_dir.empty()) UsageError("need --test_dir and --out");
  if (mode != "vq" && mode != "ceiling_stft" && mode != "ceiling_frames") {
    UsageError("--mode: '" + mode + "' is not vq, ceiling_frames or ceiling_stft");
  }
  if (mode == "vq" && train_dir.empty() && load.empty()) {
    UsageError("vq mode needs --train_dir or --load");
  }
  AudioTrainOptions opt;
  AudioTokenizerConfig& c = opt.config;
  auto set_int = [](const absl::Flag<std::optional<int>>& flag, int& field) {
    if (const std::optional<int> v = absl::GetFlag(flag); v.has_value()) field = *v;
  };
  set_int(FLAGS_codebook_size, c.codebook_size);
  set_int(FLAGS_gain_levels, c.gain_levels);
  set_int(FLAGS_stages, c.stages);
  set_int(FLAGS_hop, c.hop_length);
  set_int(FLAGS_synthesis_hop, c.synthesis_hop);
  set_int(FLAGS_gl_iters, c.griffin_lim_iterations);
  set_int(FLAGS_n_mels, c.n_mels);
  if (const std::optional<float> m = absl::GetFlag(FLAGS_momentum); m.has_value()) {
    c.griffin_lim_momentum = *m;
  }
  opt.kmeans_iterations = absl::GetFlag(FLAGS_kmeans_iters);
  opt.seed = absl::GetFlag(FLAGS_seed);
  mot::ThreadPool pool(absl::GetFlag(FLAGS_threads));
  opt.pool = &pool;

  // Load every waveform at the tokenizer's rate through the public decoder.
  auto load_dir = [&](const std::string& dir, std::vector<std::filesystem::path>& names,
                      std::vector<std::vector<float>>& waves) -> bool {
    names = Wavs(dir);
    for (const auto& p : names) {
      auto w = mot::tokenizer::DecodeAudio(ReadFile(p), p.string(), c.sample_rate);
      if (!w.ok()) {
        std::cerr << w.status() << "\n";
        return false;
      }
      waves.push_back(*std::move(w));
    }
    return true;
  };

  std::vector<std::filesystem::path> test_names;
  std::vector<std::vector<float>> test_waves;
  if (!load_dir(test_dir, test_names, test_waves)) return Fail("loading test set");

  std::optional<AudioTokenizer> tok;
  double train_s = 0;
  int64_t train_frames = 0;
  if (mode == "vq") {
    if (!load.empty()) {
      auto t = AudioTokenizer::Load(load);
      if (!t.ok()) return Fail(std::string(t.status().message()));
      tok = *std::move(t);
    } else {
      std::vector<std::filesystem::path> train_names;
      std::vector<std::vector<float>> train_waves;
      if (!load_dir(train_dir, train_names, train_waves)) return Fail("loading train set");
      for (const auto& w : train_waves) {
        train_frames += mot::tokenizer::NumFrames(static_cast<int64_t>(w.size()), c.hop_length);
      }
      const auto t0 = std::chrono::steady_clock::now();
      auto t = AudioTokenizer::Train(train_waves, opt);
      train_s = Seconds(t0);
      if (!t.ok()) return Fail(std::string(t.status().message()));
      tok = *std::move(t);
    }
    if (!save.empty()) {
      const absl::Status s = tok->Save(save);
      if (!s.ok()) return Fail(std::string(s.message()));
    }
  }

  std::filesystem::create_directories(out_dir);
  double audio_s = 0, encode_s = 0, decode_s = 0;
  int64_t tokens = 0;
  for (size_t i = 0; i < test_waves.size(); ++i) {
    const std::vector<float>& x = test_waves[i];
    const int64_t n = static_cast<int64_t>(x.size());
    audio_s += static_cast<double>(n) / c.sample_rate;
    std::vector<float> rec;
    if (mode == "vq") {
      auto t0 = std::chrono::steady_clock::now();
      auto codes = tok->EncodeSamples(x);
      encode_s += Seconds(t0);
      if (!codes.ok()) return Fail(std::string(codes.status().message()));
      tokens += static_cast<int64_t>(codes->size());
      t0 = std::chrono::steady_clock::now();
      auto y = tok->Decode(*codes);
      decode_s += Seconds(t0);
      if (!y.ok()) return Fail(std::string(y.status().message()));
      rec = *std::move(y);
    } else {
      const int nb = c.n_fft / 2 + 1;
      mot::tokenizer::Stft stft(c.n_fft, mot::tokenizer::HannWindow(c.n_fft));
      const int64_t frames = mot::tokenizer::NumFrames(n, c.hop_length);
      const int64_t len = frames * c.hop_length;
      const int64_t synth = len / c.synthesis_hop;
      std::vector<float> mags(static_cast<size_t>(synth) * nb);
      auto t0 = std::chrono::steady_clock::now();
      if (mode == "ceiling_stft") {
        stft.Magnitudes(x.data(), n, c.synthesis_hop, synth, mags.data());
      } else {
        std::vector<float> coarse(static_cast<size_t>(frames) * nb);
        stft.Magnitudes(x.data(), n, c.hop_length, frames, coarse.data());
        for (float& m : coarse) m = std::log(std::max(m, c.log_floor));
        mags = mot::tokenizer::InterpolateFrames(coarse.data(), frames, c.hop_length, synth,
                                                 c.synthesis_hop, nb);
        for (float& m : mags) m = std::exp(m);
      }
      rec = mot::tokenizer::GriffinLim(stft, mags.data(), synth, c.synthesis_hop, len,
                                       c.griffin_lim_iterations, c.griffin_lim_momentum, 1);
      decode_s += Seconds(t0);
    }
    rec.resize(x.size());
    const std::string stem = test_names[i].stem().string();
    auto ref_wav = mot::tokenizer::EncodeWav16(x, c.sample_rate);
    auto rec_wav = mot::tokenizer::EncodeWav16(rec, c.sample_rate);
    if (!ref_wav.ok() || !rec_wav.ok()) return Fail("WAV encoding failed");
    const std::filesystem::path out = out_dir;
    if (!WriteFile(out / (stem + ".ref.wav"), *ref_wav) ||
        !WriteFile(out / (stem + ".rec.wav"), *rec_wav)) {
      return Fail("writing " + out_dir);
    }
  }
  // One line of key=value for the driver script.
  std::printf(
      "mode=%s K=%d G=%d S=%d hop=%d synth_hop=%d gl_iters=%d tokens_per_s=%.2f vocab=%d "
      "train_frames=%lld train_s=%.1f test_audio_s=%.1f encode_rtf=%.4f decode_rtf=%.4f "
      "file_bytes=%lld\n",
      mode.c_str(), c.codebook_size, c.gain_levels, c.stages, c.hop_length, c.synthesis_hop,
      c.griffin_lim_iterations,
      tok ? tok->tokens_per_second() : static_cast<double>(c.sample_rate) / c.hop_length,
      tok ? tok->codebook_size() : 0, static_cast<long long>(train_frames), train_s, audio_s,
      encode_s / audio_s, decode_s / audio_s,
      tok ? static_cast<long long>(tok->Serialize().value_or("").size()) : 0LL);
  return 0;
}
