// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/audio/audio_tokenizer.h"

#include <sndfile.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "engine/tokenizer/audio/spectral.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "model_loaders/safetensors.h"
#include "tests/testing/status_matchers.h"
#include "tests/tokenizer/audio/audio_test_util.h"

namespace mot::tokenizer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::mot::tokenizer::testing::HarmonicTone;
using ::mot::tokenizer::testing::MakeAudioFile;
using ::testing::HasSubstr;

constexpr int kRate = 16000;

// A small tokenizer trained on harmonic tones (f0 100..400 Hz, 3 levels) and silence:
// 2 stages of 32 codes, 4 gain levels, 40 mel bands. Trained once per test process.
AudioTrainOptions SmallOptions() {
  AudioTrainOptions o;
  o.config.n_mels = 40;
  o.config.codebook_size = 32;
  o.config.gain_levels = 4;
  o.config.stages = 2;
  o.config.griffin_lim_iterations = 16;
  o.kmeans_iterations = 10;
  o.seed = 3;
  return o;
}

const AudioTokenizer& Small() {
  static const AudioTokenizer* tok = [] {
    std::vector<std::vector<float>> waves;
    for (double f0 : {100.0, 130.0, 170.0, 220.0, 280.0, 350.0, 400.0}) {
      for (float amp : {0.05f, 0.2f, 0.6f}) waves.push_back(HarmonicTone(f0, 12, kRate, 8000, amp));
    }
    waves.push_back(std::vector<float>(4000, 0.0f));
    absl::StatusOr<AudioTokenizer> t = AudioTokenizer::Train(waves, SmallOptions());
    EXPECT_THAT(t, IsOk());
    return t.ok() ? new AudioTokenizer(*std::move(t)) : nullptr;
  }();
  return *tok;
}

// Mean over frames of the RMS difference (dB) of the log-mel spectra of a and b.
double LogMelDistanceDb(const std::vector<float>& a, const std::vector<float>& b) {
  const int n_fft = 512, hop = 256, n_mels = 40;
  const int64_t n = static_cast<int64_t>(std::min(a.size(), b.size()));
  const int64_t frames = NumFrames(n, hop);
  const std::vector<float> fb = MelFilterbank(kRate, n_fft, n_mels);
  Stft stft(n_fft, HannWindow(n_fft));
  std::vector<float> ma(static_cast<size_t>(frames) * 257), mb(ma.size());
  stft.Magnitudes(a.data(), n, hop, frames, ma.data());
  stft.Magnitudes(b.data(), n, hop, frames, mb.data());
  double total = 0;
  for (int64_t j = 0; j < frames; ++j) {
    double sq = 0;
    for (int m = 0; m < n_mels; ++m) {
      double ea = 1e-5, eb = 1e-5;
      for (int k = 0; k < 257; ++k) {
        ea += fb[m * 257 + k] * ma[j * 257 + k];
        eb += fb[m * 257 + k] * mb[j * 257 + k];
      }
      const double d = 20 * std::log10(ea / eb);
      sq += d * d;
    }
    total += std::sqrt(sq / n_mels);
  }
  return total / frames;
}

TEST(AudioTokenizerTest, ReportsRatesAndSizes) {
  const AudioTokenizer& tok = Small();
  EXPECT_EQ(tok.sample_rate(), 16000);
  EXPECT_EQ(tok.tokens_per_frame(), 2);
  EXPECT_DOUBLE_EQ(tok.tokens_per_second(), 100.0);  // 50 frames/s x 2 stages
  EXPECT_EQ(tok.codebook_size(), (4 + 2 - 1) * 32);
}

TEST(AudioTokenizerTest, RoundTripKeepsLengthAndSpectrum) {
  const AudioTokenizer& tok = Small();
  // An f0 and level not in the training set.
  const std::vector<float> x = HarmonicTone(190.0, 12, kRate, 12345, 0.3f);
  absl::StatusOr<std::vector<int32_t>> codes = tok.EncodeSamples(x);
  ASSERT_THAT(codes, IsOk());
  EXPECT_EQ(codes->size(), 2u * static_cast<size_t>(NumFrames(12345, 320)));
  for (size_t i = 0; i < codes->size(); ++i) {
    ASSERT_GE((*codes)[i], 0);
    ASSERT_LT((*codes)[i], tok.codebook_size());
  }
  absl::StatusOr<std::vector<float>> y = tok.Decode(*codes);
  ASSERT_THAT(y, IsOk());
  EXPECT_GE(y->size(), x.size());
  EXPECT_LT(y->size(), x.size() + 320);
  // The tone's log-mel spectrum comes back within a few dB, much closer than a different
  // tone (another pitch, timbre and level) is.
  const double d = LogMelDistanceDb(x, *y);
  EXPECT_LT(d, 8.0) << "log-mel distance " << d << " dB";
  const double d_other = LogMelDistanceDb(x, HarmonicTone(400.0, 3, kRate, 12345, 0.05f));
  EXPECT_GT(d_other, 2 * d) << "round trip " << d << " dB, another tone " << d_other << " dB";
}

TEST(AudioTokenizerTest, EncodeFromFileBytesResamples) {
  const AudioTokenizer& tok = Small();
  const std::vector<float> x = HarmonicTone(220.0, 12, 44100, 44100, 0.3f);
  const std::string wav = MakeAudioFile(x, 1, 44100, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  absl::StatusOr<std::vector<int32_t>> codes = tok.Encode(wav, "audio part 0");
  ASSERT_THAT(codes, IsOk());
  EXPECT_EQ(codes->size(), 2u * 50u);  // 1 s at 16 kHz = 50 frames
}

TEST(AudioTokenizerTest, EncodeErrorsNameThePart) {
  const AudioTokenizer& tok = Small();
  EXPECT_THAT(tok.Encode("", "audio part 5"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("audio part 5: empty")));
  EXPECT_THAT(tok.Encode("RIFF....WAVEjunk", "audio part 6"),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("audio part 6")));
}

TEST(AudioTokenizerTest, DecodeIsDeterministic) {
  const AudioTokenizer& tok = Small();
  absl::StatusOr<std::vector<int32_t>> codes =
      tok.EncodeSamples(HarmonicTone(150.0, 8, kRate, 3200, 0.4f));
  ASSERT_THAT(codes, IsOk());
  absl::StatusOr<std::vector<float>> a = tok.Decode(*codes);
  absl::StatusOr<std::vector<float>> b = tok.Decode(*codes);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(*a, *b);
}

TEST(AudioTokenizerTest, DecodeToWavIsA16BitMonoWav) {
  const AudioTokenizer& tok = Small();
  absl::StatusOr<std::vector<int32_t>> codes =
      tok.EncodeSamples(HarmonicTone(150.0, 8, kRate, 3200, 0.4f));
  ASSERT_THAT(codes, IsOk());
  absl::StatusOr<std::string> wav = tok.DecodeToWav(*codes);
  ASSERT_THAT(wav, IsOk());
  absl::StatusOr<AudioHeaderInfo> info = ProbeAudio(*wav, "wav", AudioLimits{});
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->sample_rate, kRate);
  EXPECT_EQ(info->channels, 1);
  EXPECT_EQ(info->frames, static_cast<int64_t>(codes->size() / 2 * 320));
  EXPECT_EQ(info->format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
}

TEST(AudioTokenizerTest, DecodeRejectsCodesOutOfRange) {
  const AudioTokenizer& tok = Small();
  // Position 0 takes [0, 4*32), position 1 takes [128, 160).
  EXPECT_THAT(tok.Decode({0, 128, 5, 200}),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("code 3 = 200 out of range [128, 160)")));
  EXPECT_THAT(tok.Decode({-1, 128}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("code 0 = -1")));
  EXPECT_THAT(tok.Decode({130, 128}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("out of range [0, 128)")));
  EXPECT_THAT(tok.Decode({0, 128, 5}),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a multiple of 2")));
}

TEST(AudioTokenizerTest, DecodeRejectsTooManyFrames) {
  AudioTokenizer tok = Small();
  AudioLimits limits;
  limits.max_duration_seconds = 0.1;  // 5 frames
  tok.set_limits(limits);
  std::vector<int32_t> codes;
  for (int i = 0; i < 6; ++i) codes.insert(codes.end(), {0, 128});
  EXPECT_THAT(tok.Decode(codes),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("over the limit")));
  EXPECT_THAT(tok.Decode({}), IsOk());
}

TEST(AudioTokenizerTest, SaveAndLoadGiveTheSameCodesAndAudio) {
  const AudioTokenizer& tok = Small();
  const std::string path = ::testing::TempDir() + "/audio_tokenizer_roundtrip_" +
                           std::to_string(getpid()) + ".safetensors";
  ASSERT_THAT(tok.Save(path), IsOk());
  absl::StatusOr<AudioTokenizer> loaded = AudioTokenizer::Load(path);
  ASSERT_THAT(loaded, IsOk());
  EXPECT_EQ(loaded->codebook_size(), tok.codebook_size());
  const std::vector<float> x = HarmonicTone(260.0, 10, kRate, 6400, 0.25f);
  absl::StatusOr<std::vector<int32_t>> a = tok.EncodeSamples(x);
  absl::StatusOr<std::vector<int32_t>> b = loaded->EncodeSamples(x);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(*a, *b);
  // The decoder spectra are stored as f16: the audio agrees closely, not bit for bit.
  absl::StatusOr<std::vector<float>> ya = tok.Decode(*a);
  absl::StatusOr<std::vector<float>> yb = loaded->Decode(*b);
  ASSERT_THAT(ya, IsOk());
  ASSERT_THAT(yb, IsOk());
  EXPECT_LT(LogMelDistanceDb(*ya, *yb), 0.5);
}

TEST(AudioTokenizerTest, TrainRejectsTooLittleAudio) {
  AudioTrainOptions o = SmallOptions();
  EXPECT_THAT(AudioTokenizer::Train({std::vector<float>(3200, 0.1f)}, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("need at least 32")));
  o.config.synthesis_hop = 300;
  EXPECT_THAT(AudioTokenizer::Train({std::vector<float>(3200, 0.1f)}, o),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("synthesis_hop")));
}

// Bad files: the serialized small tokenizer with one thing changed.
class BadFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    absl::StatusOr<std::string> bytes = Small().Serialize();
    ASSERT_THAT(bytes, IsOk());
    good_ = *bytes;
    absl::StatusOr<SafetensorsFile> f = SafetensorsFile::FromBuffer(good_, "good");
    ASSERT_THAT(f, IsOk());
    meta_ = f->metadata();
    for (const SafetensorsEntry& e : f->entries()) {
      absl::StatusOr<Tensor> t = f->Get(e.name);
      ASSERT_THAT(t, IsOk());
      tensors_[e.name] = t->Clone();
    }
  }

  // Writes the (modified) tensors and metadata to a file and loads it.
  absl::StatusOr<AudioTokenizer> LoadModified() {
    std::vector<NamedTensor> list;
    for (const auto& [name, t] : tensors_) list.push_back({name, t});
    // One file per test: ctest runs the tests of this binary in parallel processes.
    const std::string path = ::testing::TempDir() + "/bad_audio_tokenizer_" +
                             ::testing::UnitTest::GetInstance()->current_test_info()->name() +
                             ".safetensors";
    const absl::Status s = WriteSafetensors(path, list, meta_);
    if (!s.ok()) return s;
    return AudioTokenizer::Load(path);
  }

  std::string good_;
  std::map<std::string, std::string> meta_;
  std::map<std::string, Tensor> tensors_;
};

TEST_F(BadFileTest, UnchangedFileLoads) { EXPECT_THAT(LoadModified(), IsOk()); }

TEST_F(BadFileTest, MissingFileIsNotFound) {
  EXPECT_THAT(AudioTokenizer::Load(::testing::TempDir() + "/no_such_audio_tokenizer.safetensors"),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("no_such_audio_tokenizer")));
}

TEST_F(BadFileTest, MissingMetadataFieldIsNamed) {
  meta_.erase("hop_length");
  EXPECT_THAT(
      LoadModified(),
      StatusIs(
          absl::StatusCode::kInvalidArgument,
          HasSubstr(
              "MissingMetadataFieldIsNamed.safetensors: __metadata__ field hop_length: missing")));
}

TEST_F(BadFileTest, WrongFormatIsRejected) {
  meta_["format"] = "something-else";
  EXPECT_THAT(LoadModified(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("field format")));
}

TEST_F(BadFileTest, NonNumericFieldIsRejected) {
  meta_["n_mels"] = "forty";
  EXPECT_THAT(LoadModified(), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("n_mels: not an integer: \"forty\"")));
}

TEST_F(BadFileTest, OddFftSizeIsRejected) {
  meta_["n_fft"] = "511";
  EXPECT_THAT(LoadModified(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("n_fft: must be even")));
}

TEST_F(BadFileTest, CodebookShapeMismatchIsRejected) {
  meta_["codebook_size"] = "64";
  EXPECT_THAT(LoadModified(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("tensor codebook.0: shape")));
}

TEST_F(BadFileTest, MissingTensorIsRejected) {
  tensors_.erase("spectra.1");
  EXPECT_THAT(LoadModified(), StatusIs(absl::StatusCode::kNotFound, HasSubstr("spectra.1")));
}

TEST_F(BadFileTest, NonFiniteValueIsRejected) {
  tensors_["codebook.1"].data_as<float>()[7] = NAN;
  EXPECT_THAT(LoadModified(), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("tensor codebook.1: element 7 is not finite")));
}

TEST_F(BadFileTest, UnsortedGainLevelsAreRejected) {
  float* g = tensors_["gain_levels"].data_as<float>();
  std::swap(g[0], g[3]);
  EXPECT_THAT(LoadModified(), StatusIs(absl::StatusCode::kInvalidArgument,
                                       HasSubstr("gain_levels: must be ascending")));
}

TEST_F(BadFileTest, ExtraStageIsRejected) {
  meta_["stages"] = "1";
  EXPECT_THAT(LoadModified(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("codebook.1: present")));
}

TEST_F(BadFileTest, CorruptBytesAreRejected) {
  const std::string path = ::testing::TempDir() + "/corrupt_audio_tokenizer_" +
                           std::to_string(getpid()) + ".safetensors";
  std::ofstream(path, std::ios::binary) << good_.substr(0, good_.size() / 2);
  absl::StatusOr<AudioTokenizer> t = AudioTokenizer::Load(path);
  EXPECT_FALSE(t.ok());
  EXPECT_THAT(t.status().message(), HasSubstr("corrupt_audio_tokenizer"));
}

}  // namespace
}  // namespace mot::tokenizer
