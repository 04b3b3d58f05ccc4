// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "tests/server/test_model.h"

#include <sndfile.h>

#include "engine/tokenizer/image/image_codec.h"
#include "engine/tokenizer/text/bpe_trainer.h"
#include "tests/tokenizer/audio/audio_test_util.h"

namespace mot::testing {
namespace {

std::unique_ptr<tokenizer::TextTokenizer> SmallText() {
  std::vector<std::string> corpus = {"hello world", "the quick brown fox", "hello there",
                                     "a picture of a cat", "listen to this sound"};
  tokenizer::BpeTrainerOptions o;
  o.vocab_size = 300;
  o.min_frequency = 1;
  for (const char* s : tokenizer::kRequiredSpecialTokens) o.special_tokens.push_back(s);
  auto t = tokenizer::TrainByteLevelBpe(corpus, o);
  return t.ok() ? std::move(t).value() : nullptr;
}

std::unique_ptr<tokenizer::ImageTokenizer> SmallImage() {
  std::vector<float> codebook;
  for (int c = 0; c < 8; ++c) {
    for (int p = 0; p < 64; ++p) {
      codebook.push_back((c & 1) ? 1.f : 0.f);
      codebook.push_back((c & 2) ? 1.f : 0.f);
      codebook.push_back((c & 4) ? 1.f : 0.f);
    }
  }
  auto t = tokenizer::ImageTokenizer::Create(16, 8, std::move(codebook));
  return t.ok() ? std::make_unique<tokenizer::ImageTokenizer>(*std::move(t)) : nullptr;
}

std::unique_ptr<tokenizer::AudioTokenizer> SmallAudio() {
  tokenizer::AudioTrainOptions o;
  o.config.n_mels = 24;
  o.config.codebook_size = 16;
  o.config.gain_levels = 2;
  o.config.stages = 1;
  o.config.griffin_lim_iterations = 4;
  o.kmeans_iterations = 5;
  std::vector<std::vector<float>> waves;
  for (double f0 : {110.0, 220.0, 330.0}) {
    waves.push_back(tokenizer::testing::HarmonicTone(f0, 6, 16000, 8000, 0.3f));
  }
  auto t = tokenizer::AudioTokenizer::Train(waves, o);
  return t.ok() ? std::make_unique<tokenizer::AudioTokenizer>(*std::move(t)) : nullptr;
}

}  // namespace

std::unique_ptr<tokenizer::PromptBuilder> MakeTestPromptBuilder(MotConfig* config_out) {
  auto text = SmallText();
  auto image = SmallImage();
  auto audio = SmallAudio();
  if (!text || !image || !audio) return nullptr;
  MotConfig c;
  c.dim = 8, c.n_layers = 1, c.n_heads = 2, c.n_kv_heads = 1, c.head_dim = 4, c.ffn_hidden = 8;
  c.max_seq_len = 4096;
  c.modalities = {"text", "image", "audio"};
  for (const char* s : tokenizer::kRequiredSpecialTokens) c.special_tokens.push_back(s);
  const int32_t n_special = static_cast<int32_t>(c.special_tokens.size());
  const int32_t tv = text->vocab_size();
  const int32_t ic = static_cast<int32_t>(image->codebook_size());
  const int32_t ac = audio->codebook_size();
  c.vocab_ranges = {{"special", 0, n_special, 0},
                    {"text", n_special, tv, 0},
                    {"image", tv, tv + ic, 1},
                    {"audio", tv + ic, tv + ic + ac, 2}};
  c.vocab_size = tv + ic + ac;
  if (config_out != nullptr) *config_out = c;
  auto b = tokenizer::PromptBuilder::Create(c, std::move(text), std::move(image), std::move(audio));
  return b.ok() ? std::move(b).value() : nullptr;
}

v1::ModelInfo TestModelInfo(const MotConfig& c) {
  v1::ModelInfo info;
  info.set_model_name("test-model");
  info.mutable_config()->set_dim(c.dim);
  info.mutable_config()->set_max_seq_len(c.max_seq_len);
  for (const std::string& m : c.modalities) info.add_modalities(m);
  info.set_vocab_size(c.vocab_size);
  for (const VocabRange& r : c.vocab_ranges) {
    v1::VocabRange* vr = info.add_vocab_ranges();
    vr->set_name(r.name);
    vr->set_begin(r.begin);
    vr->set_end(r.end);
    vr->set_tower(r.tower);
  }
  for (const std::string& s : c.special_tokens) info.add_special_tokens(s);
  return info;
}

std::string TestPng(int width, int height) {
  tokenizer::RgbImage img;
  img.width = width;
  img.height = height;
  img.pixels.assign(static_cast<size_t>(width) * height * 3, 0);
  for (int y = 0; y < height; ++y) {
    for (int x = 0; x < width / 2; ++x) img.pixels[static_cast<size_t>((y * width + x) * 3)] = 255;
  }
  auto png = tokenizer::EncodePng(img);
  return png.ok() ? *png : std::string();
}

std::string TestWav(double seconds) {
  auto tone =
      tokenizer::testing::HarmonicTone(220, 6, 16000, static_cast<int>(16000 * seconds), 0.3f);
  return tokenizer::testing::MakeAudioFile(tone, 1, 16000, SF_FORMAT_WAV | SF_FORMAT_PCM_16);
}

std::string PngWithHeader(uint32_t width, uint32_t height) {
  std::string png = "\x89PNG\r\n\x1a\n";
  png += std::string("\0\0\0\x0d", 4) + "IHDR";
  for (uint32_t v : {width, height}) {
    for (int s = 24; s >= 0; s -= 8) png.push_back(static_cast<char>((v >> s) & 0xff));
  }
  png += std::string("\x08\x02\0\0\0", 5);  // 8-bit RGB
  png += std::string("\0\0\0\0", 4);        // CRC (wrong)
  png += std::string(64, '\x5a');           // garbage instead of IDAT
  return png;
}

}  // namespace mot::testing
