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
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "engine/core/thread_pool.h"
#include "engine/tokenizer/audio/audio_decoder.h"
#include "engine/tokenizer/audio/audio_tokenizer.h"
#include "engine/tokenizer/audio/spectral.h"

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

}  // namespace

int main(int argc, char** argv) {
  std::map<std::string, std::string> flags = {
      {"train_dir", ""},     {"test_dir", ""},      {"out", ""},
      {"mode", "vq"},        {"save", ""},          {"load", ""},
      {"codebook_size", ""}, {"gain_levels", ""},   {"stages", ""},
      {"hop", ""},           {"synthesis_hop", ""}, {"gl_iters", ""},
      {"n_mels", ""},        {"momentum", ""},      {"kmeans_iters", "20"},
      {"threads", "2"},      {"seed", "0"}};
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    const size_t eq = a.find('=');
    if (a.rfind("--", 0) != 0 || eq == std::string::npos || !flags.count(a.substr(2, eq - 2))) {
      return Fail("bad flag " + a +
                  " (use --name=value; names: train_dir test_dir out mode "
                  "save load codebook_size gain_levels stages hop synthesis_hop gl_iters "
                  "n_mels momentum kmeans_iters threads seed)");
    }
    flags[a.substr(2, eq - 2)] = a.substr(eq + 1);
  }
  if (flags["test_dir"].empty() || flags["out"].empty()) return Fail("need --test_dir and --out");
  AudioTrainOptions opt;
  AudioTokenizerConfig& c = opt.config;
  auto set_int = [&](const char* name, int& field) {
    if (!flags[name].empty()) field = std::stoi(flags[name]);
  };
  set_int("codebook_size", c.codebook_size);
  set_int("gain_levels", c.gain_levels);
  set_int("stages", c.stages);
  set_int("hop", c.hop_length);
  set_int("synthesis_hop", c.synthesis_hop);
  set_int("gl_iters", c.griffin_lim_iterations);
  set_int("n_mels", c.n_mels);
  if (!flags["momentum"].empty()) c.griffin_lim_momentum = std::stof(flags["momentum"]);
  opt.kmeans_iterations = std::stoi(flags["kmeans_iters"]);
  opt.seed = std::stoull(flags["seed"]);
  mot::ThreadPool pool(std::stoi(flags["threads"]));
  opt.pool = &pool;
  const std::string mode = flags["mode"];

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
  if (!load_dir(flags["test_dir"], test_names, test_waves)) return Fail("loading test set");

  std::optional<AudioTokenizer> tok;
  double train_s = 0;
  int64_t train_frames = 0;
  if (mode == "vq") {
    if (!flags["load"].empty()) {
      auto t = AudioTokenizer::Load(flags["load"]);
      if (!t.ok()) return Fail(std::string(t.status().message()));
      tok = *std::move(t);
    } else {
      if (flags["train_dir"].empty()) return Fail("vq mode needs --train_dir or --load");
      std::vector<std::filesystem::path> train_names;
      std::vector<std::vector<float>> train_waves;
      if (!load_dir(flags["train_dir"], train_names, train_waves)) return Fail("loading train set");
      for (const auto& w : train_waves) {
        train_frames += mot::tokenizer::NumFrames(static_cast<int64_t>(w.size()), c.hop_length);
      }
      const auto t0 = std::chrono::steady_clock::now();
      auto t = AudioTokenizer::Train(train_waves, opt);
      train_s = Seconds(t0);
      if (!t.ok()) return Fail(std::string(t.status().message()));
      tok = *std::move(t);
    }
    if (!flags["save"].empty()) {
      const absl::Status s = tok->Save(flags["save"]);
      if (!s.ok()) return Fail(std::string(s.message()));
    }
  } else if (mode != "ceiling_stft" && mode != "ceiling_frames") {
    return Fail("unknown --mode " + mode);
  }

  std::filesystem::create_directories(flags["out"]);
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
    const std::filesystem::path out = flags["out"];
    if (!WriteFile(out / (stem + ".ref.wav"), *ref_wav) ||
        !WriteFile(out / (stem + ".rec.wav"), *rec_wav)) {
      return Fail("writing " + flags["out"]);
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
