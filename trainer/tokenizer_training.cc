// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/tokenizer_training.h"

#include <filesystem>
#include <map>
#include <memory>
#include <optional>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "engine/tokenizer/audio/audio_decoder.h"
#include "engine/tokenizer/audio/audio_tokenizer.h"
#include "engine/tokenizer/image/image_codec.h"
#include "engine/tokenizer/image/image_tokenizer.h"
#include "engine/tokenizer/text/bpe_trainer.h"
#include "engine/tokenizer/unified_vocab.h"
#include "trainer/atomic_dir.h"
#include "trainer/progress.h"
#include "trainer/tokenizer_dir.h"

namespace mot::trainer {
namespace {

using tokenizer::Modality;

constexpr int kAudioSampleRate = 16000;  // AudioTokenizerConfig's default rate

// One distinct media file of the manifest and the first row that names it.
struct MediaFile {
  std::string path;
  int64_t line = 0;
  size_t part = 0;
};

absl::Status CheckOptions(const TokenizerTrainingOptions& o) {
  const int n_special = static_cast<int>(std::size(tokenizer::kRequiredSpecialTokens));
  if (o.text_vocab < n_special + 256) {
    return absl::InvalidArgumentError(absl::StrCat("text_vocab must be >= ", n_special + 256,
                                                   " (special tokens + 256 bytes), got ",
                                                   o.text_vocab));
  }
  if (o.image_size < 1 || o.image_size > tokenizer::kMaxImageResolution) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image_size must be in [1, ", tokenizer::kMaxImageResolution, "], got ", o.image_size));
  }
  if (o.patch < 1 || o.patch > tokenizer::kMaxPatchSize || o.image_size % o.patch != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("patch must be in [1, ", tokenizer::kMaxPatchSize,
                     "] and divide image_size=", o.image_size, ", got ", o.patch));
  }
  if (o.image_codes < 1 || o.image_codes > tokenizer::kMaxImageCodebookSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image_codes must be in [1, ", tokenizer::kMaxImageCodebookSize, "], got ", o.image_codes));
  }
  if (o.audio_codes < 1 || o.audio_codes > 65536) {
    return absl::InvalidArgumentError(
        absl::StrCat("audio_codes must be in [1, 65536], got ", o.audio_codes));
  }
  if (o.audio_gain_levels < 1 || o.audio_gain_levels > 256) {
    return absl::InvalidArgumentError(
        absl::StrCat("audio_gain_levels must be in [1, 256], got ", o.audio_gain_levels));
  }
  if (o.kmeans_iterations < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("kmeans_iterations must be >= 1, got ", o.kmeans_iterations));
  }
  return absl::OkStatus();
}

// Decodes every file of `files` in parallel with `decode`, showing a progress bar; the
// result per file is its value or the reason it was refused.
template <typename T>
std::vector<absl::StatusOr<T>> DecodeAll(
    const std::vector<MediaFile>& files, const char* label, ThreadPool* pool,
    const std::function<absl::StatusOr<T>(const std::string& bytes, const std::string& path)>&
        decode) {
  std::vector<absl::StatusOr<T>> out(files.size(), absl::UnknownError("not decoded"));
  if (files.empty()) return out;
  ProgressBar bar(label, static_cast<int64_t>(files.size()), "files");
  pool->ParallelFor(static_cast<int64_t>(files.size()), 1, [&](int64_t b, int64_t e, int) {
    for (int64_t i = b; i < e; ++i) {
      const MediaFile& f = files[static_cast<size_t>(i)];
      absl::StatusOr<tokenizer::Part> part = LoadPart({Modality::kImage, f.path});
      out[static_cast<size_t>(i)] =
          part.ok() ? decode(part->data, f.path) : absl::StatusOr<T>(part.status());
      bar.Add(1);
    }
  });
  bar.Finish();
  return out;
}

}  // namespace

absl::StatusOr<TokenizerTrainingReport> TrainTokenizers(const TokenizerTrainingOptions& o) {
  MOT_RETURN_IF_ERROR(CheckOptions(o));
  std::optional<ThreadPool> local_pool;
  ThreadPool* pool = o.pool;
  if (pool == nullptr) pool = &local_pool.emplace(1);

  TokenizerTrainingReport report;
  auto report_bad = [&](const BadRow& row) {
    ++report.bad_rows;
    if (o.on_bad_row) o.on_bad_row(FormatBadRow(o.manifest, row));
  };
  MOT_ASSIGN_OR_RETURN(Manifest manifest,
                       ReadManifest(o.manifest, o.policy, /*check_files=*/true, report_bad));

  // Distinct media files, each decoded once however many rows name it.
  std::vector<MediaFile> image_files, audio_files;
  std::map<std::string, size_t> image_index, audio_index;
  for (const ManifestExample& ex : manifest.examples) {
    for (size_t p = 0; p < ex.parts.size(); ++p) {
      const ManifestPart& part = ex.parts[p];
      if (part.modality == Modality::kImage &&
          image_index.emplace(part.value, image_files.size()).second) {
        image_files.push_back({part.value, ex.line, p});
      } else if (part.modality == Modality::kAudio &&
                 audio_index.emplace(part.value, audio_files.size()).second) {
        audio_files.push_back({part.value, ex.line, p});
      }
    }
  }

  const int size = o.image_size;
  std::vector<absl::StatusOr<tokenizer::RgbImage>> images = DecodeAll<tokenizer::RgbImage>(
      image_files, "decoding images", pool,
      [size](const std::string& bytes,
             const std::string& path) -> absl::StatusOr<tokenizer::RgbImage> {
        MOT_ASSIGN_OR_RETURN(tokenizer::RgbImage img, tokenizer::DecodeImage(bytes, path));
        if (img.width == size && img.height == size) return img;
        return tokenizer::ResizeAndCenterCrop(img, size);
      });
  std::vector<absl::StatusOr<std::vector<float>>> waves = DecodeAll<std::vector<float>>(
      audio_files, "decoding audio", pool, [](const std::string& bytes, const std::string& path) {
        return tokenizer::DecodeAudio(bytes, path, kAudioSampleRate);
      });

  // A row naming a refused file is a bad row; the rest make the corpora.
  std::vector<std::string> corpus;
  std::vector<bool> image_used(image_files.size(), false), audio_used(audio_files.size(), false);
  for (const ManifestExample& ex : manifest.examples) {
    absl::Status row_status;
    for (size_t p = 0; p < ex.parts.size() && row_status.ok(); ++p) {
      const ManifestPart& part = ex.parts[p];
      absl::Status s;
      if (part.modality == Modality::kImage) {
        s = images[image_index[part.value]].status();
      } else if (part.modality == Modality::kAudio) {
        s = waves[audio_index[part.value]].status();
      }
      if (!s.ok()) {
        row_status = Annotate(s, "parts[", p, "] (", tokenizer::ModalityName(part.modality), ")");
      }
    }
    if (!row_status.ok()) {
      const BadRow bad{ex.line, row_status};
      if (o.policy == BadRowPolicy::kStrict) {
        return absl::Status(row_status.code(), FormatBadRow(o.manifest, bad));
      }
      report_bad(bad);
      continue;
    }
    ++report.examples;
    for (const ManifestPart& part : ex.parts) {
      if (part.modality == Modality::kText) {
        corpus.push_back(part.value);
      } else if (part.modality == Modality::kImage) {
        image_used[image_index[part.value]] = true;
      } else {
        audio_used[audio_index[part.value]] = true;
      }
    }
  }
  if (report.examples == 0) {
    return absl::InvalidArgumentError(absl::StrCat(o.manifest, ": no usable example"));
  }
  std::vector<tokenizer::RgbImage> train_images;
  for (size_t i = 0; i < images.size(); ++i) {
    if (image_used[i]) train_images.push_back(*std::move(images[i]));
  }
  images.clear();
  std::vector<std::vector<float>> train_waves;
  for (size_t i = 0; i < waves.size(); ++i) {
    if (!audio_used[i]) continue;
    report.audio_seconds += static_cast<double>(waves[i]->size()) / kAudioSampleRate;
    train_waves.push_back(*std::move(waves[i]));
  }
  waves.clear();
  report.texts = static_cast<int64_t>(corpus.size());
  report.images = static_cast<int64_t>(train_images.size());
  report.audio_files = static_cast<int64_t>(train_waves.size());

  ProgressBar text_step("training text BPE", 1, "step");
  tokenizer::BpeTrainerOptions bpe;
  bpe.vocab_size = o.text_vocab;
  for (const char* name : tokenizer::kRequiredSpecialTokens) bpe.special_tokens.push_back(name);
  absl::StatusOr<std::unique_ptr<tokenizer::TextTokenizer>> text =
      corpus.empty() ? absl::InvalidArgumentError(absl::StrCat(
                           o.manifest, ": no text part to train the text tokenizer on"))
                     : tokenizer::TrainByteLevelBpe(corpus, bpe);
  if (!text.ok()) return text.status();
  text_step.Add(1);
  text_step.Finish();
  report.text_vocab = (*text)->vocab_size();

  std::optional<tokenizer::ImageTokenizer> image;
  if (!train_images.empty()) {
    ProgressBar step("training image codebook (k-means)", 1, "step");
    tokenizer::ImageTrainOptions io;
    io.resolution = o.image_size;
    io.patch_size = o.patch;
    io.codebook_size = o.image_codes;
    io.iterations = o.kmeans_iterations;
    io.seed = o.seed;
    io.max_patches = o.max_image_patches;
    io.pool = pool;
    absl::StatusOr<tokenizer::ImageTokenizer> trained =
        tokenizer::ImageTokenizer::Train(train_images, io);
    if (!trained.ok()) {
      return Annotate(trained.status(), "image_codes=", o.image_codes, " over ",
                      train_images.size(), " images");
    }
    image.emplace(*std::move(trained));
    step.Add(1);
  }
  std::optional<tokenizer::AudioTokenizer> audio;
  if (!train_waves.empty()) {
    ProgressBar step("training audio codebook (k-means)", 1, "step");
    tokenizer::AudioTrainOptions ao;
    ao.config.sample_rate = kAudioSampleRate;
    ao.config.codebook_size = o.audio_codes;
    ao.config.gain_levels = o.audio_gain_levels;
    ao.kmeans_iterations = o.kmeans_iterations;
    ao.seed = o.seed;
    ao.pool = pool;
    absl::StatusOr<tokenizer::AudioTokenizer> trained =
        tokenizer::AudioTokenizer::Train(train_waves, ao);
    if (!trained.ok()) {
      return Annotate(trained.status(), "audio_codes=", o.audio_codes, " over ", train_waves.size(),
                      " files (", report.audio_seconds, " s)");
    }
    audio.emplace(*std::move(trained));
    step.Add(1);
  }

  const MotConfig vocab =
      MakeVocabConfig(report.text_vocab, image ? static_cast<int32_t>(image->codebook_size()) : 0,
                      audio ? audio->codebook_size() : 0);
  report.vocab_size = vocab.vocab_size;
  MOT_ASSIGN_OR_RETURN(AtomicDir out, AtomicDir::Begin(o.out, o.overwrite));
  const std::filesystem::path dir(out.tmp_dir());
  MOT_RETURN_IF_ERROR((*text)->Save((dir / "tokenizer.json").string()));
  if (image) MOT_RETURN_IF_ERROR(image->Save((dir / "image_tokenizer.safetensors").string()));
  if (audio) MOT_RETURN_IF_ERROR(audio->Save((dir / "audio_tokenizer.safetensors").string()));
  MOT_RETURN_IF_ERROR(WriteFileSynced((dir / "config.json").string(), VocabConfigToJson(vocab)));
  MOT_RETURN_IF_ERROR(out.Commit());
  return report;
}

}  // namespace mot::trainer
