// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/image/image_tokenizer.h
// ImageTokenizer: a vector-quantization tokenizer over square RGB patches. An image is
// decoded (image_codec.h, with ImageLimits), scaled so its short side is `resolution`,
// center-cropped to resolution x resolution and cut into (resolution / patch_size)^2
// patches; each patch (patch_size^2 * 3 values in [0, 1], layout [y][x][rgb]) becomes the
// index of its nearest codebook vector, in row-major patch order. Decoding pastes the code
// vectors back. Every image gives exactly tokens_per_image() codes.
// Stored in image_tokenizer.safetensors: tensor "codebook" [codebook_size, patch_size^2*3]
// (F32, or F16/BF16 widened on load) and __metadata__ {"format": "mot-image-vq",
// "resolution", "patch_size", "channels": "3"}; Load validates all of it.
// Thread rule: immutable after construction; const methods from any thread.
#ifndef MOT_ENGINE_TOKENIZER_IMAGE_IMAGE_TOKENIZER_H_
#define MOT_ENGINE_TOKENIZER_IMAGE_IMAGE_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/core/thread_pool.h"
#include "engine/tokenizer/image/image_codec.h"
#include "engine/tokenizer/kmeans.h"

namespace mot::tokenizer {

// Bounds that Create and Load accept.
inline constexpr int kMaxImageResolution = 4096;
inline constexpr int kMaxPatchSize = 64;
inline constexpr int64_t kMaxImageCodebookSize = int64_t{1} << 20;

struct ImageTrainOptions {
  int resolution = 256;
  int patch_size = 8;
  int64_t codebook_size = 1024;
  int iterations = 20;  // Lloyd iterations at most
  uint64_t seed = 0;
  // When the images hold more patches than this, a deterministic uniform sample of this
  // many is clustered; 0 uses them all.
  int64_t max_patches = 0;
  ThreadPool* pool = nullptr;         // parallelizes k-means; null runs on the calling thread
  SimdLevel simd = SimdLevel::kAuto;  // k-means assignment kernel (see kmeans.h)
};

class ImageTokenizer {
 public:
  // A tokenizer from a codebook [codebook_size, patch_size^2 * 3] in [0, 1] units.
  // InvalidArgument: resolution outside [1, kMaxImageResolution], patch_size outside
  // [1, kMaxPatchSize] or not dividing resolution, codebook size not a positive multiple of
  // the patch dimension or above kMaxImageCodebookSize codes, a non-finite value.
  static absl::StatusOr<ImageTokenizer> Create(int resolution, int patch_size,
                                               std::vector<float> codebook,
                                               const ImageLimits& limits = {});

  // Reads image_tokenizer.safetensors. NotFound when missing; InvalidArgument naming the
  // file and the key for a missing or bad key (metadata, tensor shape or dtype, geometry).
  static absl::StatusOr<ImageTokenizer> Load(const std::string& path,
                                             const ImageLimits& limits = {});

  // Learns a codebook by k-means over every whole patch of `images` (used at their own
  // size: callers resize first; ResizeAndCenterCrop gives the encoder's view).
  // InvalidArgument: bad geometry (as Create), no image, fewer patches than codes.
  static absl::StatusOr<ImageTokenizer> Train(const std::vector<RgbImage>& images,
                                              const ImageTrainOptions& opts,
                                              const ImageLimits& limits = {});

  // Writes the safetensors file (atomically). Errors from the writer, with the path.
  absl::Status Save(const std::string& path) const;

  // Decodes image bytes (any stb_image format) and encodes them; errors as DecodeImage,
  // prefixed with `part` ("image part 2").
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view bytes, std::string_view part) const;
  // Encodes decoded pixels (resized and cropped here unless already resolution^2).
  absl::StatusOr<std::vector<int32_t>> EncodeImage(const RgbImage& image,
                                                   std::string_view part) const;

  // Pixels for `codes` (resolution x resolution). InvalidArgument when the count is not
  // tokens_per_image() or a code is outside [0, codebook_size()).
  absl::StatusOr<RgbImage> Decode(std::span<const int32_t> codes) const;
  // Decode() as PNG bytes.
  absl::StatusOr<std::string> DecodeToPng(std::span<const int32_t> codes) const;

  int resolution() const { return resolution_; }
  int patch_size() const { return patch_size_; }
  int patch_dim() const { return patch_size_ * patch_size_ * 3; }
  int64_t tokens_per_image() const {
    const int64_t side = resolution_ / patch_size_;
    return side * side;
  }
  int64_t codebook_size() const { return static_cast<int64_t>(codebook_.size()) / patch_dim(); }
  const std::vector<float>& codebook() const { return codebook_; }
  const ImageLimits& limits() const { return limits_; }

 private:
  ImageTokenizer(int resolution, int patch_size, std::vector<float> codebook,
                 const ImageLimits& limits);

  int resolution_;
  int patch_size_;
  std::vector<float> codebook_;  // [codebook_size, patch_dim]
  ImageLimits limits_;
  std::shared_ptr<const NearestCodeSearch> search_;
};

// Every whole patch of `image` on the grid anchored at the top-left corner, as
// [patches, patch_size^2 * 3] in [0, 1] units, row-major patch order (for Train and the
// evaluation tool). REQUIRES: patch_size >= 1.
std::vector<float> ExtractPatches(const RgbImage& image, int patch_size);

// PSNR in dB between two images of the same size (peak 255); +inf when identical.
// REQUIRES: same width, height and pixel count.
double Psnr(const RgbImage& a, const RgbImage& b);

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_IMAGE_IMAGE_TOKENIZER_H_
