// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/image/image_tokenizer.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "engine/core/tensor.h"
#include "model_loaders/safetensors.h"

namespace mot::tokenizer {
namespace {

constexpr char kFormat[] = "mot-image-vq";
constexpr char kCodebookKey[] = "codebook";

absl::Status CheckGeometry(int resolution, int patch_size) {
  if (resolution < 1 || resolution > kMaxImageResolution) {
    return absl::InvalidArgumentError(
        absl::StrCat("resolution must be in [1, ", kMaxImageResolution, "], got ", resolution));
  }
  if (patch_size < 1 || patch_size > kMaxPatchSize) {
    return absl::InvalidArgumentError(
        absl::StrCat("patch_size must be in [1, ", kMaxPatchSize, "], got ", patch_size));
  }
  if (resolution % patch_size != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("patch_size ", patch_size, " does not divide resolution ", resolution));
  }
  return absl::OkStatus();
}

absl::StatusOr<int> ParseMetadataInt(const std::map<std::string, std::string>& metadata,
                                     const std::string& key) {
  auto it = metadata.find(key);
  if (it == metadata.end()) {
    return absl::InvalidArgumentError(absl::StrCat("__metadata__ key \"", key, "\": missing"));
  }
  const std::string& text = it->second;
  int value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("__metadata__ key \"", key, "\": not an integer: \"", text, "\""));
  }
  return value;
}

}  // namespace

std::vector<float> ExtractPatches(const RgbImage& image, int patch_size) {
  const int cols = image.width / patch_size;
  const int rows = image.height / patch_size;
  const int dim = patch_size * patch_size * 3;
  std::vector<float> patches(static_cast<size_t>(rows) * cols * dim);
  float* out = patches.data();
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) {
      for (int y = 0; y < patch_size; ++y) {
        const uint8_t* src =
            image.pixels.data() + (static_cast<size_t>(r * patch_size + y) * image.width +
                                   static_cast<size_t>(c) * patch_size) *
                                      3;
        for (int i = 0; i < patch_size * 3; ++i) *out++ = src[i] * (1.0f / 255.0f);
      }
    }
  }
  return patches;
}

double Psnr(const RgbImage& a, const RgbImage& b) {
  double se = 0;
  for (size_t i = 0; i < a.pixels.size(); ++i) {
    const double d = static_cast<double>(a.pixels[i]) - b.pixels[i];
    se += d * d;
  }
  if (se == 0) return std::numeric_limits<double>::infinity();
  const double mse = se / static_cast<double>(a.pixels.size());
  return 10.0 * std::log10(255.0 * 255.0 / mse);
}

ImageTokenizer::ImageTokenizer(int resolution, int patch_size, std::vector<float> codebook,
                               const ImageLimits& limits)
    : resolution_(resolution),
      patch_size_(patch_size),
      codebook_(std::move(codebook)),
      limits_(limits) {
  search_ =
      std::make_shared<const NearestCodeSearch>(codebook_.data(), codebook_size(), patch_dim());
}

absl::StatusOr<ImageTokenizer> ImageTokenizer::Create(int resolution, int patch_size,
                                                      std::vector<float> codebook,
                                                      const ImageLimits& limits) {
  MOT_RETURN_IF_ERROR(CheckGeometry(resolution, patch_size));
  const int64_t dim = int64_t{patch_size} * patch_size * 3;
  const int64_t size = static_cast<int64_t>(codebook.size());
  if (size == 0 || size % dim != 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "codebook has ", size, " values, not a positive multiple of the patch dimension ", dim));
  }
  if (size / dim > kMaxImageCodebookSize) {
    return absl::InvalidArgumentError(absl::StrCat(
        "codebook has ", size / dim, " codes, over the limit of ", kMaxImageCodebookSize));
  }
  for (int64_t i = 0; i < size; ++i) {
    if (!std::isfinite(codebook[static_cast<size_t>(i)])) {
      return absl::InvalidArgumentError(
          absl::StrCat("codebook code ", i / dim, " value ", i % dim, " is not finite"));
    }
  }
  return ImageTokenizer(resolution, patch_size, std::move(codebook), limits);
}

absl::StatusOr<ImageTokenizer> ImageTokenizer::Load(const std::string& path,
                                                    const ImageLimits& limits) {
  MOT_ASSIGN_OR_RETURN(SafetensorsFile file, SafetensorsFile::Open(path));
  auto fail = [&](const absl::Status& s) { return Annotate(s, path); };
  const auto& metadata = file.metadata();
  auto format = metadata.find("format");
  if (format == metadata.end() || format->second != kFormat) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat("__metadata__ key \"format\": expected \"", kFormat, "\", got ",
                     format == metadata.end() ? "nothing" : "\"" + format->second + "\"")));
  }
  absl::StatusOr<int> resolution = ParseMetadataInt(metadata, "resolution");
  if (!resolution.ok()) return fail(resolution.status());
  absl::StatusOr<int> patch_size = ParseMetadataInt(metadata, "patch_size");
  if (!patch_size.ok()) return fail(patch_size.status());
  absl::StatusOr<int> channels = ParseMetadataInt(metadata, "channels");
  if (!channels.ok()) return fail(channels.status());
  if (*channels != 3) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat("__metadata__ key \"channels\": must be 3, got ", *channels)));
  }
  if (absl::Status s = CheckGeometry(*resolution, *patch_size); !s.ok()) {
    return fail(Annotate(s, "__metadata__ geometry"));
  }
  absl::StatusOr<Tensor> tensor = file.Get(kCodebookKey);
  if (!tensor.ok()) return fail(Annotate(tensor.status(), "tensor \"codebook\""));
  const int64_t dim = int64_t{*patch_size} * *patch_size * 3;
  if (tensor->rank() != 2 || tensor->dim(1) != dim || tensor->dim(0) < 1 ||
      tensor->dim(0) > kMaxImageCodebookSize) {
    return fail(absl::InvalidArgumentError(
        absl::StrCat("tensor \"codebook\": shape must be [codes in 1..", kMaxImageCodebookSize,
                     ", ", dim, " = patch_size^2 * 3], got ", tensor->DebugString())));
  }
  const Tensor f32 = tensor->To(DType::kF32);
  std::vector<float> codebook(f32.data_as<const float>(), f32.data_as<const float>() + f32.numel());
  absl::StatusOr<ImageTokenizer> result =
      Create(*resolution, *patch_size, std::move(codebook), limits);
  if (!result.ok()) return fail(Annotate(result.status(), "tensor \"codebook\""));
  return result;
}

absl::StatusOr<ImageTokenizer> ImageTokenizer::Train(const std::vector<RgbImage>& images,
                                                     const ImageTrainOptions& opts,
                                                     const ImageLimits& limits) {
  MOT_RETURN_IF_ERROR(Annotate(CheckGeometry(opts.resolution, opts.patch_size), "train"));
  if (images.empty()) return absl::InvalidArgumentError("train: no images");
  const int dim = opts.patch_size * opts.patch_size * 3;
  std::vector<float> patches;
  for (size_t i = 0; i < images.size(); ++i) {
    const RgbImage& image = images[i];
    if (image.width < 0 || image.height < 0 ||
        image.pixels.size() != static_cast<size_t>(image.width) * image.height * 3) {
      return absl::InvalidArgumentError(absl::StrCat("train: image ", i, " has ",
                                                     image.pixels.size(), " bytes for ",
                                                     image.width, "x", image.height));
    }
    std::vector<float> p = ExtractPatches(image, opts.patch_size);
    patches.insert(patches.end(), p.begin(), p.end());
  }
  int64_t n = static_cast<int64_t>(patches.size()) / dim;
  if (opts.max_patches > 0 && n > opts.max_patches) {
    // A deterministic sample: every stride-th patch from a seeded offset, in order.
    std::vector<float> sample(static_cast<size_t>(opts.max_patches) * dim);
    const double stride = static_cast<double>(n) / static_cast<double>(opts.max_patches);
    for (int64_t i = 0; i < opts.max_patches; ++i) {
      const int64_t src = std::min<int64_t>(n - 1, static_cast<int64_t>(i * stride));
      std::copy_n(&patches[static_cast<size_t>(src) * dim], dim,
                  &sample[static_cast<size_t>(i) * dim]);
    }
    patches.swap(sample);
    n = opts.max_patches;
  }
  if (n < opts.codebook_size) {
    return absl::InvalidArgumentError(absl::StrCat(
        "train: ", n, " patches for ", opts.codebook_size, " codes; need at least one per code"));
  }
  KMeansOptions kopts;
  kopts.k = opts.codebook_size;
  kopts.iterations = opts.iterations;
  kopts.seed = opts.seed;
  kopts.pool = opts.pool;
  kopts.simd = opts.simd;
  absl::StatusOr<KMeansResult> km = KMeans(patches.data(), n, dim, kopts);
  if (!km.ok()) return Annotate(km.status(), "train");
  return Create(opts.resolution, opts.patch_size, std::move(km->codebook), limits);
}

absl::Status ImageTokenizer::Save(const std::string& path) const {
  std::vector<NamedTensor> tensors;
  tensors.push_back(
      {kCodebookKey, Tensor::View(DType::kF32, {codebook_size(), patch_dim()}, codebook_.data())});
  const std::map<std::string, std::string> metadata = {{"format", kFormat},
                                                       {"resolution", std::to_string(resolution_)},
                                                       {"patch_size", std::to_string(patch_size_)},
                                                       {"channels", "3"}};
  return Annotate(WriteSafetensors(path, tensors, metadata), "writing ", path);
}

absl::StatusOr<std::vector<int32_t>> ImageTokenizer::Encode(std::string_view bytes,
                                                            std::string_view part) const {
  MOT_ASSIGN_OR_RETURN(RgbImage image, DecodeImage(bytes, part, limits_));
  return EncodeImage(image, part);
}

absl::StatusOr<std::vector<int32_t>> ImageTokenizer::EncodeImage(const RgbImage& image,
                                                                 std::string_view part) const {
  const RgbImage* view = &image;
  RgbImage resized;
  if (image.width != resolution_ || image.height != resolution_) {
    absl::StatusOr<RgbImage> r = ResizeAndCenterCrop(image, resolution_);
    if (!r.ok()) return Annotate(r.status(), std::string(part));
    resized = *std::move(r);
    view = &resized;
  } else if (image.pixels.size() != static_cast<size_t>(resolution_) * resolution_ * 3) {
    return absl::InvalidArgumentError(absl::StrCat(std::string(part), ": image has ",
                                                   image.pixels.size(), " bytes for ", resolution_,
                                                   "x", resolution_));
  }
  const std::vector<float> patches = ExtractPatches(*view, patch_size_);
  std::vector<int32_t> codes(static_cast<size_t>(tokens_per_image()));
  search_->Assign(patches.data(), tokens_per_image(), codes.data(), nullptr, nullptr);
  return codes;
}

absl::StatusOr<RgbImage> ImageTokenizer::Decode(std::span<const int32_t> codes) const {
  if (static_cast<int64_t>(codes.size()) != tokens_per_image()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image codes: expected ", tokens_per_image(), " codes, got ", codes.size()));
  }
  const int64_t k = codebook_size();
  for (size_t i = 0; i < codes.size(); ++i) {
    if (codes[i] < 0 || codes[i] >= k) {
      return absl::InvalidArgumentError(absl::StrCat(
          "image codes: code ", codes[i], " at position ", i, " is outside [0, ", k, ")"));
    }
  }
  RgbImage out;
  out.width = resolution_;
  out.height = resolution_;
  out.pixels.resize(static_cast<size_t>(resolution_) * resolution_ * 3);
  const int side = resolution_ / patch_size_;
  const int dim = patch_dim();
  for (int r = 0; r < side; ++r) {
    for (int c = 0; c < side; ++c) {
      const float* code = &codebook_[static_cast<size_t>(codes[r * side + c]) * dim];
      for (int y = 0; y < patch_size_; ++y) {
        uint8_t* dst = out.pixels.data() + (static_cast<size_t>(r * patch_size_ + y) * resolution_ +
                                            static_cast<size_t>(c) * patch_size_) *
                                               3;
        for (int i = 0; i < patch_size_ * 3; ++i) {
          const float v = std::clamp(*code++ * 255.0f, 0.0f, 255.0f);
          dst[i] = static_cast<uint8_t>(std::lround(v));
        }
      }
    }
  }
  return out;
}

absl::StatusOr<std::string> ImageTokenizer::DecodeToPng(std::span<const int32_t> codes) const {
  MOT_ASSIGN_OR_RETURN(RgbImage image, Decode(codes));
  return EncodePng(image);
}

}  // namespace mot::tokenizer
