// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/audio/audio_decoder.h"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <memory>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mot::tokenizer {
namespace {

// A file image in memory for libsndfile's virtual IO: read-only over a caller's bytes, or
// a growable buffer for writing (libsndfile seeks back to patch the header).
struct MemoryFile {
  const char* read_data = nullptr;
  std::string* write_data = nullptr;
  sf_count_t size = 0;
  sf_count_t pos = 0;
};

sf_count_t VioGetFilelen(void* user) { return static_cast<MemoryFile*>(user)->size; }

sf_count_t VioSeek(sf_count_t offset, int whence, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  sf_count_t base = 0;
  switch (whence) {
    case SEEK_SET:
      base = 0;
      break;
    case SEEK_CUR:
      base = f->pos;
      break;
    case SEEK_END:
      base = f->size;
      break;
    default:
      return -1;
  }
  // Positions past the end are allowed (reads there return 0 bytes); negative ones and
  // overflow are not.
  if ((offset > 0 && base > INT64_MAX - offset) || base + offset < 0) return -1;
  f->pos = base + offset;
  return f->pos;
}

sf_count_t VioRead(void* ptr, sf_count_t count, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  if (count <= 0 || f->pos >= f->size) return 0;
  const sf_count_t n = std::min(count, f->size - f->pos);
  const char* src = f->read_data != nullptr ? f->read_data : f->write_data->data();
  std::memcpy(ptr, src + f->pos, static_cast<size_t>(n));
  f->pos += n;
  return n;
}

sf_count_t VioWrite(const void* ptr, sf_count_t count, void* user) {
  auto* f = static_cast<MemoryFile*>(user);
  if (f->write_data == nullptr || count <= 0) return 0;
  const sf_count_t end = f->pos + count;
  if (end > static_cast<sf_count_t>(f->write_data->size())) {
    f->write_data->resize(static_cast<size_t>(end));
  }
  std::memcpy(f->write_data->data() + f->pos, ptr, static_cast<size_t>(count));
  f->pos = end;
  f->size = std::max(f->size, end);
  return count;
}

sf_count_t VioTell(void* user) { return static_cast<MemoryFile*>(user)->pos; }

struct SndfileCloser {
  void operator()(SNDFILE* f) const { sf_close(f); }
};
using SndfileHandle = std::unique_ptr<SNDFILE, SndfileCloser>;

SF_VIRTUAL_IO MakeVio() {
  SF_VIRTUAL_IO vio;
  vio.get_filelen = VioGetFilelen;
  vio.seek = VioSeek;
  vio.read = VioRead;
  vio.write = VioWrite;
  vio.tell = VioTell;
  return vio;
}

// An opened, header-checked file.
struct OpenedAudio {
  MemoryFile file;
  SF_INFO info;
  SndfileHandle handle;
};

absl::Status OpenAndCheck(std::string_view bytes, const std::string& part,
                          const AudioLimits& limits, OpenedAudio& out) {
  if (bytes.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(part, ": empty audio data"));
  }
  if (static_cast<int64_t>(bytes.size()) > limits.max_encoded_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(part, ": encoded audio is ", bytes.size(),
                                                     " bytes, over the limit of ",
                                                     limits.max_encoded_bytes));
  }
  out.file.read_data = bytes.data();
  out.file.size = static_cast<sf_count_t>(bytes.size());
  out.file.pos = 0;
  std::memset(&out.info, 0, sizeof out.info);
  SF_VIRTUAL_IO vio = MakeVio();
  out.handle.reset(sf_open_virtual(&vio, SFM_READ, &out.info, &out.file));
  if (out.handle == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat(
        part, ": unsupported or corrupt audio data (libsndfile: ", sf_strerror(nullptr), ")"));
  }
  const SF_INFO& info = out.info;
  if (info.channels <= 0 || info.channels > limits.max_channels) {
    return absl::InvalidArgumentError(
        absl::StrCat(part, ": ", info.channels, " channels; expected 1 to ", limits.max_channels));
  }
  if (info.samplerate < limits.min_sample_rate || info.samplerate > limits.max_sample_rate) {
    return absl::InvalidArgumentError(absl::StrCat(part, ": sample rate ", info.samplerate,
                                                   " Hz outside [", limits.min_sample_rate, ", ",
                                                   limits.max_sample_rate, "]"));
  }
  if (info.frames <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(part, ": no audio samples"));
  }
  // SF_COUNT_MAX means "unknown length" (a stream); the read loop enforces the limit then.
  if (info.frames != SF_COUNT_MAX) {
    const double seconds = static_cast<double>(info.frames) / info.samplerate;
    if (seconds > limits.max_duration_seconds) {
      return absl::ResourceExhaustedError(absl::StrCat(
          part, ": duration ", seconds, " s (", info.frames, " frames at ", info.samplerate,
          " Hz) is over the limit of ", limits.max_duration_seconds, " s"));
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<AudioHeaderInfo> ProbeAudio(std::string_view bytes, std::string_view part,
                                           const AudioLimits& limits) {
  OpenedAudio audio;
  const absl::Status s = OpenAndCheck(bytes, std::string(part), limits, audio);
  if (!s.ok()) return s;
  AudioHeaderInfo info;
  info.sample_rate = audio.info.samplerate;
  info.channels = audio.info.channels;
  info.frames = audio.info.frames;
  info.format = audio.info.format;
  return info;
}

absl::StatusOr<std::vector<float>> DecodeAudio(std::string_view bytes, std::string_view part,
                                               int target_sample_rate, const AudioLimits& limits) {
  const std::string label(part);
  OpenedAudio audio;
  const absl::Status s = OpenAndCheck(bytes, label, limits, audio);
  if (!s.ok()) return s;
  const int channels = audio.info.channels;
  const int rate = audio.info.samplerate;
  const int64_t max_frames = static_cast<int64_t>(std::floor(limits.max_duration_seconds * rate));

  std::vector<float> mono;
  // Reserve from the header only up to 1M frames: a header may promise far more than the
  // bytes hold (a FLAC STREAMINFO count, say), and memory follows what is really decoded.
  if (audio.info.frames != SF_COUNT_MAX) {
    mono.reserve(static_cast<size_t>(std::min<int64_t>({audio.info.frames, max_frames, 1 << 20})));
  }
  constexpr sf_count_t kChunkFrames = 4096;
  std::vector<float> chunk(static_cast<size_t>(kChunkFrames * channels));
  const float inv_channels = 1.0f / static_cast<float>(channels);
  while (true) {
    const sf_count_t got = sf_readf_float(audio.handle.get(), chunk.data(), kChunkFrames);
    if (got <= 0) break;
    if (static_cast<int64_t>(mono.size()) + got > max_frames) {
      return absl::ResourceExhaustedError(
          absl::StrCat(label, ": decoded audio is longer than the limit of ",
                       limits.max_duration_seconds, " s"));
    }
    for (sf_count_t i = 0; i < got; ++i) {
      float sum = 0.0f;
      for (int c = 0; c < channels; ++c) {
        float v = chunk[static_cast<size_t>(i * channels + c)];
        if (!std::isfinite(v)) v = 0.0f;
        sum += std::clamp(v, -1.0f, 1.0f);
      }
      mono.push_back(sum * inv_channels);
    }
  }
  const int err = sf_error(audio.handle.get());
  if (err != SF_ERR_NO_ERROR) {
    return absl::InvalidArgumentError(absl::StrCat(
        label, ": corrupt audio data (libsndfile: ", sf_strerror(audio.handle.get()), ")"));
  }
  if (mono.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(label, ": no audio samples could be decoded (truncated or corrupt)"));
  }
  if (target_sample_rate == 0 || target_sample_rate == rate) return mono;
  absl::StatusOr<std::vector<float>> out = ResampleMono(mono, rate, target_sample_rate);
  if (!out.ok()) {
    return absl::Status(out.status().code(), absl::StrCat(label, ": ", out.status().message()));
  }
  if (out->empty()) {
    return absl::InvalidArgumentError(absl::StrCat(label, ": audio too short: ", mono.size(),
                                                   " samples at ", rate, " Hz leave none at ",
                                                   target_sample_rate, " Hz"));
  }
  // The resampler's band limiting can overshoot full-scale input (Gibbs ripple): clip so
  // the documented range holds.
  for (float& v : *out) v = std::clamp(v, -1.0f, 1.0f);
  return out;
}

absl::StatusOr<std::vector<float>> ResampleMono(const std::vector<float>& input, double input_rate,
                                                double output_rate) {
  if (!(input_rate > 0) || !(output_rate > 0)) {
    return absl::InvalidArgumentError(
        absl::StrCat("resampling: rates must be > 0, got ", input_rate, " -> ", output_rate));
  }
  if (input_rate == output_rate || input.empty()) return input;
  const size_t out_len = static_cast<size_t>(
      std::llround(static_cast<double>(input.size()) * output_rate / input_rate));
  std::vector<float> out(out_len);
  if (out_len == 0) return out;
  const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
  const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_HQ, 0);
  size_t done = 0;
  const soxr_error_t err =
      soxr_oneshot(input_rate, output_rate, 1, input.data(), input.size(), nullptr, out.data(),
                   out_len, &done, &io, &quality, nullptr);
  if (err != nullptr) {
    return absl::InternalError(absl::StrCat("resampling with soxr failed: ", err));
  }
  // soxr flushes its filter tail in one shot, so `done` is out_len up to rounding; pad a
  // short result with zeros so the length is the documented one.
  out.resize(done);
  out.resize(out_len, 0.0f);
  return out;
}

absl::StatusOr<std::string> EncodeWav16(const std::vector<float>& samples, int sample_rate) {
  if (sample_rate <= 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("WAV encoding: sample rate must be > 0, got ", sample_rate));
  }
  std::string bytes;
  MemoryFile file;
  file.write_data = &bytes;
  SF_INFO info;
  std::memset(&info, 0, sizeof info);
  info.samplerate = sample_rate;
  info.channels = 1;
  info.format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
  SF_VIRTUAL_IO vio = MakeVio();
  SndfileHandle handle(sf_open_virtual(&vio, SFM_WRITE, &info, &file));
  if (handle == nullptr) {
    return absl::InternalError(
        absl::StrCat("WAV encoding: libsndfile open failed: ", sf_strerror(nullptr)));
  }
  // Clip instead of wrapping around when a float is outside [-1, 1].
  sf_command(handle.get(), SFC_SET_CLIPPING, nullptr, SF_TRUE);
  std::vector<float> clean(samples.size());
  for (size_t i = 0; i < samples.size(); ++i) {
    const float v = samples[i];
    clean[i] = std::isfinite(v) ? std::clamp(v, -1.0f, 1.0f) : 0.0f;
  }
  const sf_count_t n = static_cast<sf_count_t>(clean.size());
  if (n > 0 && sf_writef_float(handle.get(), clean.data(), n) != n) {
    return absl::InternalError(
        absl::StrCat("WAV encoding: libsndfile write failed: ", sf_strerror(handle.get())));
  }
  handle.reset();  // sf_close writes the final header sizes
  bytes.resize(static_cast<size_t>(file.size));
  return bytes;
}

}  // namespace mot::tokenizer
