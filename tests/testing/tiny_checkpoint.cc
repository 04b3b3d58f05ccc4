// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "tests/testing/tiny_checkpoint.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "engine/model/random_weights.h"
#include "engine/tokenizer/audio/audio_tokenizer.h"
#include "engine/tokenizer/image/image_tokenizer.h"
#include "engine/tokenizer/text/bpe_trainer.h"
#include "engine/tokenizer/unified_vocab.h"
#include "model_loaders/checkpoint.h"

namespace mot::testing {
namespace {

std::vector<float> Tone(double f0, int rate, int n) {
  std::vector<float> out(static_cast<size_t>(n));
  for (int i = 0; i < n; ++i) {
    double v = 0;
    for (int h = 1; h <= 4; ++h) v += std::sin(2 * M_PI * f0 * h * i / rate) / h;
    out[static_cast<size_t>(i)] = static_cast<float>(0.25 * v);
  }
  return out;
}

absl::StatusOr<std::string> ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot read ", path));
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

}  // namespace

absl::Status WriteTinyCheckpoint(const std::string& dir, const TinyCheckpointOptions& o) {
  using namespace mot::tokenizer;
  std::vector<std::string> corpus = {
      "hello world",          "the quick brown fox jumps over the lazy dog",
      "hello there",          "a picture of a cat",
      "listen to this sound", "a red circle on a blue background",
      "a small green square", "say something nice"};
  BpeTrainerOptions bpe;
  bpe.vocab_size = o.text_vocab;
  bpe.min_frequency = 1;
  for (const char* s : kRequiredSpecialTokens) bpe.special_tokens.push_back(s);
  MOT_ASSIGN_OR_RETURN(std::unique_ptr<TextTokenizer> text, TrainByteLevelBpe(corpus, bpe));

  const int patch = 8;
  std::vector<float> codebook;
  for (int c = 0; c < o.image_codes; ++c) {
    for (int p = 0; p < patch * patch; ++p) {
      codebook.push_back((c & 1) ? 1.f : 0.f);
      codebook.push_back((c & 2) ? 1.f : 0.f);
      codebook.push_back((c & 4) ? 1.f : 0.25f * (c / 8));
    }
  }
  MOT_ASSIGN_OR_RETURN(ImageTokenizer image,
                       ImageTokenizer::Create(o.image_resolution, patch, std::move(codebook)));

  AudioTrainOptions at;
  at.config.n_mels = 24;
  at.config.codebook_size = 16;
  at.config.gain_levels = 2;
  at.config.stages = 1;
  at.config.griffin_lim_iterations = 4;
  at.kmeans_iterations = 5;
  std::vector<std::vector<float>> waves;
  for (double f0 : {110.0, 220.0, 330.0}) waves.push_back(Tone(f0, 16000, 8000));
  MOT_ASSIGN_OR_RETURN(AudioTokenizer audio, AudioTokenizer::Train(waves, at));

  MotConfig c;
  c.dim = o.dim;
  c.n_layers = o.n_layers;
  c.n_heads = o.n_heads;
  c.n_kv_heads = o.n_kv_heads;
  c.head_dim = o.head_dim;
  c.ffn_hidden = o.ffn_hidden;
  c.max_seq_len = o.max_seq_len;
  c.modalities = {"text", "image", "audio"};
  for (const char* s : kRequiredSpecialTokens) c.special_tokens.push_back(s);
  const int32_t n_special = static_cast<int32_t>(c.special_tokens.size());
  const int32_t tv = text->vocab_size();
  const int32_t ic = static_cast<int32_t>(image.codebook_size());
  const int32_t ac = audio.codebook_size();
  c.vocab_ranges = {{"special", 0, n_special, 0},
                    {"text", n_special, tv, 0},
                    {"image", tv, tv + ic, 1},
                    {"audio", tv + ic, tv + ic + ac, 2}};
  c.vocab_size = tv + ic + ac;
  MOT_RETURN_IF_ERROR(ValidateMotConfig(c));

  std::map<std::string, std::string> files;
  files["tokenizer.json"] = text->ToJson();
  const std::string tmp = absl::StrCat(dir, ".image-tmp.safetensors");
  MOT_RETURN_IF_ERROR(image.Save(tmp));
  MOT_ASSIGN_OR_RETURN(files["image_tokenizer.safetensors"], ReadAll(tmp));
  std::filesystem::remove(tmp);
  MOT_ASSIGN_OR_RETURN(files["audio_tokenizer.safetensors"], audio.Serialize());
  return WriteCheckpoint(dir, c, model::RandomMotWeights(c, o.dtype, o.seed), files,
                         /*overwrite=*/true);
}

}  // namespace mot::testing
