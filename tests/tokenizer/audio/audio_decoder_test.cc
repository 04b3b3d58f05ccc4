// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/audio/audio_decoder.h"

#include <sndfile.h>

#include <cmath>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"
#include "tests/tokenizer/audio/audio_test_util.h"

namespace mot::tokenizer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::mot::tokenizer::testing::MakeAudioFile;
using ::mot::tokenizer::testing::PeakFrequency;
using ::mot::tokenizer::testing::Sine;
using ::testing::HasSubstr;

constexpr char kPart[] = "audio part 3";

float MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  float m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) m = std::max(m, std::abs(a[i] - b[i]));
  return m;
}

struct PcmCase {
  const char* name;
  int subformat;
  float tolerance;  // quantization step of the format, with a margin
};

class WavFormatTest : public ::testing::TestWithParam<PcmCase> {};

TEST_P(WavFormatTest, DecodesMonoSamplesAtTheFileRate) {
  const std::vector<float> x = Sine(440.0, 16000, 4000);
  const std::string bytes = MakeAudioFile(x, 1, 16000, SF_FORMAT_WAV | GetParam().subformat);
  ASSERT_FALSE(bytes.empty());
  absl::StatusOr<std::vector<float>> y = DecodeAudio(bytes, kPart, 16000);
  ASSERT_THAT(y, IsOk());
  EXPECT_LE(MaxAbsDiff(*y, x), GetParam().tolerance);
}

INSTANTIATE_TEST_SUITE_P(AllDepths, WavFormatTest,
                         ::testing::Values(PcmCase{"u8", SF_FORMAT_PCM_U8, 1.0f / 100},
                                           PcmCase{"s16", SF_FORMAT_PCM_16, 1.0f / 30000},
                                           PcmCase{"s24", SF_FORMAT_PCM_24, 1e-6f},
                                           PcmCase{"f32", SF_FORMAT_FLOAT, 0.0f}),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(AudioDecoderTest, DownmixesStereoByAveraging) {
  const std::vector<float> left = Sine(440.0, 16000, 2000, 0.6f);
  const std::vector<float> right = Sine(1000.0, 16000, 2000, 0.2f);
  std::vector<float> interleaved;
  std::vector<float> want;
  for (size_t i = 0; i < left.size(); ++i) {
    interleaved.push_back(left[i]);
    interleaved.push_back(right[i]);
    want.push_back(0.5f * (left[i] + right[i]));
  }
  const std::string bytes = MakeAudioFile(interleaved, 2, 16000, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  absl::StatusOr<std::vector<float>> y = DecodeAudio(bytes, kPart, 0);
  ASSERT_THAT(y, IsOk());
  EXPECT_LE(MaxAbsDiff(*y, want), 1e-6f);
}

TEST(AudioDecoderTest, DecodesFlacLosslessly) {
  const std::vector<float> x = Sine(440.0, 16000, 8000);
  const std::string bytes = MakeAudioFile(x, 1, 16000, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  ASSERT_FALSE(bytes.empty());
  absl::StatusOr<std::vector<float>> y = DecodeAudio(bytes, kPart, 16000);
  ASSERT_THAT(y, IsOk());
  EXPECT_LE(MaxAbsDiff(*y, x), 1.0f / 30000);
}

TEST(AudioDecoderTest, DecodesOggVorbisKeepingLengthAndPitch) {
  const std::vector<float> x = Sine(440.0, 16000, 16000);
  const std::string bytes = MakeAudioFile(x, 1, 16000, SF_FORMAT_OGG | SF_FORMAT_VORBIS);
  ASSERT_FALSE(bytes.empty());
  absl::StatusOr<std::vector<float>> y = DecodeAudio(bytes, kPart, 16000);
  ASSERT_THAT(y, IsOk());
  EXPECT_EQ(y->size(), x.size());
  const std::vector<float> middle(y->begin() + 4000, y->begin() + 6000);
  EXPECT_NEAR(PeakFrequency(middle, 16000), 440.0, 10.0);
}

TEST(AudioDecoderTest, ResamplingKeepsFrequencyAndScalesLength) {
  const int n = 44100;  // 1 s
  const std::vector<float> x = Sine(1000.0, 44100, n);
  const std::string bytes = MakeAudioFile(x, 1, 44100, SF_FORMAT_WAV | SF_FORMAT_FLOAT);
  absl::StatusOr<std::vector<float>> y = DecodeAudio(bytes, kPart, 16000);
  ASSERT_THAT(y, IsOk());
  EXPECT_EQ(y->size(), 16000u);
  const std::vector<float> middle(y->begin() + 8000, y->begin() + 9600);
  EXPECT_NEAR(PeakFrequency(middle, 16000), 1000.0, 5.0);
  // soxr HQ: the amplitude survives (no gain change, no aliasing loss at 1 kHz).
  float peak = 0;
  for (float v : middle) peak = std::max(peak, std::abs(v));
  EXPECT_NEAR(peak, 0.5f, 0.01f);
}

TEST(AudioDecoderTest, ResampledFullScaleSquareWaveStaysInRange) {
  // Band-limiting a full-scale square wave overshoots (Gibbs); found by audio_fuzz.
  std::vector<float> x(8000);
  for (size_t i = 0; i < x.size(); ++i) x[i] = (i / 20) % 2 == 0 ? 1.0f : -1.0f;
  const std::string bytes = MakeAudioFile(x, 1, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  absl::StatusOr<std::vector<float>> y = DecodeAudio(bytes, kPart, 16000);
  ASSERT_THAT(y, IsOk());
  ASSERT_EQ(y->size(), 16000u);
  for (float v : *y) {
    ASSERT_GE(v, -1.0f);
    ASSERT_LE(v, 1.0f);
  }
}

TEST(AudioDecoderTest, TooShortToResampleIsRejected) {
  // One frame at 41.6 kHz rounds to no sample at 16 kHz (found by audio_fuzz).
  const std::string bytes = MakeAudioFile({0.5f}, 1, 41600, SF_FORMAT_AU | SF_FORMAT_PCM_16);
  EXPECT_THAT(DecodeAudio(bytes, kPart, 16000),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("audio part 3: audio too short: 1 samples at 41600 Hz")));
}

TEST(AudioDecoderTest, ResampleMonoRejectsBadRates) {
  EXPECT_THAT(ResampleMono({0.1f, 0.2f}, 0, 16000),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("rates must be > 0")));
}

TEST(AudioDecoderTest, EmptyInputIsRejected) {
  EXPECT_THAT(DecodeAudio("", kPart, 16000),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("audio part 3: empty")));
}

TEST(AudioDecoderTest, GarbageIsRejectedWithTheLibraryReason) {
  const std::string garbage = "this is certainly not an audio file, just some text bytes";
  EXPECT_THAT(DecodeAudio(garbage, kPart, 16000),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("audio part 3: unsupported or corrupt audio data (libsndfile:")));
}

TEST(AudioDecoderTest, TruncatedHeaderIsRejected) {
  const std::string bytes =
      MakeAudioFile(Sine(440.0, 16000, 1000), 1, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  EXPECT_THAT(DecodeAudio(bytes.substr(0, 30), kPart, 16000),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("audio part 3")));
}

TEST(AudioDecoderTest, TruncatedFlacStreamDecodesOnlyWhatIsThere) {
  const std::vector<float> x = Sine(440.0, 16000, 16000);
  const std::string bytes = MakeAudioFile(x, 1, 16000, SF_FORMAT_FLAC | SF_FORMAT_PCM_16);
  absl::StatusOr<std::vector<float>> y =
      DecodeAudio(bytes.substr(0, bytes.size() / 2), kPart, 16000);
  // Either an error naming the part, or fewer samples than the header promised: never a
  // full-length result invented from missing data.
  if (y.ok()) {
    EXPECT_LT(y->size(), x.size());
  } else {
    EXPECT_THAT(y, StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("audio part 3")));
  }
}

TEST(AudioDecoderTest, DurationOverTheLimitIsRejectedFromTheHeader) {
  const std::string bytes =
      MakeAudioFile(Sine(440.0, 8000, 24000), 1, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  AudioLimits limits;
  limits.max_duration_seconds = 2.0;
  // The "N frames at R Hz" wording comes only from the header check, which runs before
  // any sample is read.
  EXPECT_THAT(DecodeAudio(bytes, kPart, 16000, limits),
              StatusIs(absl::StatusCode::kResourceExhausted,
                       HasSubstr("audio part 3: duration 3 s (24000 frames at 8000 Hz)")));
  EXPECT_THAT(ProbeAudio(bytes, kPart, limits),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("over the limit")));
}

TEST(AudioDecoderTest, EncodedSizeOverTheLimitIsRejected) {
  const std::string bytes =
      MakeAudioFile(Sine(440.0, 8000, 8000), 1, 8000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  AudioLimits limits;
  limits.max_encoded_bytes = 1000;
  EXPECT_THAT(DecodeAudio(bytes, kPart, 16000, limits),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("over the limit of 1000")));
}

TEST(AudioDecoderTest, SampleRateOutsideTheLimitsIsRejected) {
  const std::string bytes =
      MakeAudioFile(Sine(100.0, 500, 500), 1, 500, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  EXPECT_THAT(DecodeAudio(bytes, kPart, 16000),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("audio part 3: sample rate 500 Hz outside")));
}

TEST(AudioDecoderTest, TooManyChannelsIsRejected) {
  const std::string bytes =
      MakeAudioFile(std::vector<float>(300, 0.1f), 3, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  AudioLimits limits;
  limits.max_channels = 2;
  EXPECT_THAT(DecodeAudio(bytes, kPart, 16000, limits),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("3 channels")));
}

TEST(AudioDecoderTest, WavWithoutSamplesIsRejected) {
  const std::string bytes = MakeAudioFile({}, 1, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  EXPECT_THAT(DecodeAudio(bytes, kPart, 16000),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("no audio samples")));
}

TEST(AudioDecoderTest, EncodeWav16IsReadableBack) {
  std::vector<float> x = Sine(300.0, 16000, 3000, 0.7f);
  x[10] = 3.0f;  // clipped, not wrapped
  absl::StatusOr<std::string> wav = EncodeWav16(x, 16000);
  ASSERT_THAT(wav, IsOk());
  absl::StatusOr<AudioHeaderInfo> info = ProbeAudio(*wav, "wav", AudioLimits{});
  ASSERT_THAT(info, IsOk());
  EXPECT_EQ(info->sample_rate, 16000);
  EXPECT_EQ(info->channels, 1);
  EXPECT_EQ(info->frames, 3000);
  EXPECT_EQ(info->format, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
  absl::StatusOr<std::vector<float>> y = DecodeAudio(*wav, "wav", 16000);
  ASSERT_THAT(y, IsOk());
  x[10] = 1.0f;
  EXPECT_LE(MaxAbsDiff(*y, x), 1.0f / 16000);
}

TEST(AudioDecoderTest, EncodeWav16RejectsBadRate) {
  EXPECT_THAT(EncodeWav16({0.0f}, 0),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("sample rate")));
}

}  // namespace
}  // namespace mot::tokenizer
