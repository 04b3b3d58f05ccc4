// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/image_tokenizer_eval.cc
// Reconstruction quality of the image tokenizer on held-out photographs. Trains a codebook
// with ImageTokenizer::Train on the --train images (each used at several scales of its
// center square, --scales), encodes and decodes every --test image, and prints one Markdown
// table: PSNR per held-out image and the mean, beside three references at the same bits per
// image (tokens x ceil(log2 codes)):
//   oracle VQ  - the same VQ with a codebook trained on the held-out images themselves
//                (what this codebook size could reach without a generalization gap);
//   resample   - the 256x256 view shrunk to the largest square whose 24-bit RGB pixels fit
//                the bit budget, then enlarged back (stb_image_resize both ways);
//   JPEG       - stb_image_write's baseline JPEG at the highest quality whose file fits the
//                budget (its headers, ~0.6 KB, count against it; "-" when none fits).
// Usage: image_tokenizer_eval --train a.png,b.jpg --test c.png,d.jpg [--resolution 256]
//   [--patch 8] [--codes 1024] [--iterations 15] [--scales 1,1.5,2] [--max_patches 0]
//   [--seed 0] [--threads 0] [--save image_tokenizer.safetensors] [--png_dir dir]
//   [--simd generic|auto] [--product_means M]
// (--simd applies to training; encoding always uses the detected kernel.)
// Flags: Abseil, parsed by bench/bench_flags.h (--max-patches is --max_patches; exit 1 for an
// unknown flag or an unparsable value, 2 for a missing --train/--test or a value out of
// range). Failures after parsing (unreadable image, training error) exit with status 1.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "bench/bench_flags.h"
#include "engine/core/thread_pool.h"
#include "engine/tokenizer/image/image_codec.h"
#include "engine/tokenizer/image/image_tokenizer.h"
#include "engine/tokenizer/kmeans.h"

#define STB_IMAGE_WRITE_STATIC
#define STB_IMAGE_WRITE_IMPLEMENTATION
#define STBI_WRITE_NO_STDIO
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wunused-function"
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "stb_image_write.h"
#pragma GCC diagnostic pop

ABSL_FLAG(std::vector<std::string>, train, {}, "comma-separated training images (required)");
ABSL_FLAG(std::vector<std::string>, test, {}, "comma-separated held-out images (required)");
ABSL_FLAG(int, resolution, 256, "side of the square view the tokenizer encodes, in pixels");
ABSL_FLAG(int, patch, 8, "patch side in pixels (one token per patch)");
ABSL_FLAG(int64_t, codes, 1024, "codebook size");
ABSL_FLAG(int, iterations, 15, "k-means iterations");
ABSL_FLAG(std::vector<std::string>, scales, {"1"},
          "comma-separated scales of the training images' center square, each > 0");
ABSL_FLAG(int64_t, max_patches, 0, "k-means sample of training patches (0: all)");
ABSL_FLAG(uint64_t, seed, 0, "k-means seed");
ABSL_FLAG(int, threads, 0, "training threads (0: one per core)");
ABSL_FLAG(std::string, save, "", "write the trained tokenizer to this .safetensors file");
ABSL_FLAG(std::string, png_dir, "", "write each held-out reconstruction here as <name>.vq.png");
ABSL_FLAG(std::string, simd, "auto",
          "k-means kernel for training: auto (detected) or generic (portable)");
ABSL_FLAG(int64_t, product_means, 0,
          "> 0: also evaluate the mean-removed product VQ with this many mean colors");

namespace {

using mot::tokenizer::DecodeImage;
using mot::tokenizer::ImageTokenizer;
using mot::tokenizer::ImageTrainOptions;
using mot::tokenizer::Psnr;
using mot::tokenizer::ResizeAndCenterCrop;
using mot::tokenizer::RgbImage;

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "image_tokenizer_eval: %s\n", message.c_str());
  std::exit(1);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) Die("cannot read " + path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::string Basename(const std::string& path) {
  const size_t slash = path.rfind('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

RgbImage Load(const std::string& path) {
  auto image = DecodeImage(ReadFile(path), path);
  if (!image.ok()) Die(std::string(image.status().message()));
  return *std::move(image);
}

RgbImage View(const RgbImage& image, int size) {
  auto view = ResizeAndCenterCrop(image, size);
  if (!view.ok()) Die(std::string(view.status().message()));
  return *std::move(view);
}

ImageTokenizer TrainOn(const std::vector<RgbImage>& images, const ImageTrainOptions& opts) {
  auto tok = ImageTokenizer::Train(images, opts);
  if (!tok.ok()) Die(std::string(tok.status().message()));
  return *std::move(tok);
}

double VqPsnr(const ImageTokenizer& tok, const RgbImage& view, const std::string& png_path) {
  auto codes = tok.EncodeImage(view, "eval");
  if (!codes.ok()) Die(std::string(codes.status().message()));
  auto back = tok.Decode(*codes);
  if (!back.ok()) Die(std::string(back.status().message()));
  if (!png_path.empty()) {
    auto png = tok.DecodeToPng(*codes);
    std::ofstream(png_path, std::ios::binary) << *png;
  }
  return Psnr(view, *back);
}

double ResamplePsnr(const RgbImage& view, int64_t bits) {
  const int side = static_cast<int>(std::floor(std::sqrt(static_cast<double>(bits) / 24.0)));
  const RgbImage small = View(view, side);
  return Psnr(view, View(small, view.width));
}

void AppendBytes(void* context, void* data, int size) {
  static_cast<std::string*>(context)->append(static_cast<const char*>(data), size);
}

// PSNR of the best stb JPEG that fits `bits`, and its quality; quality 0 when none fits.
std::pair<double, int> JpegPsnr(const RgbImage& view, int64_t bits) {
  for (int quality = 100; quality >= 1; --quality) {
    std::string jpg;
    stbi_write_jpg_to_func(AppendBytes, &jpg, view.width, view.height, 3, view.pixels.data(),
                           quality);
    if (static_cast<int64_t>(jpg.size()) * 8 <= bits) {
      auto back = DecodeImage(jpg, "jpeg");
      if (!back.ok()) Die(std::string(back.status().message()));
      return {Psnr(view, *back), quality};
    }
  }
  return {0.0, 0};
}

// Experiment (eval only): mean-removed product VQ. A code is m * shapes + s: m indexes a
// codebook of mean colors (k-means over the per-patch RGB means), s a codebook of
// mean-removed patches (k-means over the residuals after the quantized mean).
struct ProductVq {
  int patch = 8;
  int64_t means = 0, shapes = 0;
  std::vector<float> mean_book, shape_book;  // [means, 3], [shapes, patch^2*3]
};

void PatchMeans(const std::vector<float>& patches, int dim, std::vector<float>* means) {
  const int64_t n = static_cast<int64_t>(patches.size()) / dim;
  means->assign(static_cast<size_t>(n) * 3, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    for (int j = 0; j < dim; ++j) (*means)[i * 3 + j % 3] += patches[i * dim + j];
    for (int c = 0; c < 3; ++c) (*means)[i * 3 + c] /= dim / 3;
  }
}

ProductVq TrainProduct(const std::vector<RgbImage>& images, int patch, int64_t means,
                       int64_t shapes, int iterations, mot::ThreadPool* pool) {
  const int dim = patch * patch * 3;
  std::vector<float> patches;
  for (const RgbImage& image : images) {
    std::vector<float> p = mot::tokenizer::ExtractPatches(image, patch);
    patches.insert(patches.end(), p.begin(), p.end());
  }
  const int64_t n = static_cast<int64_t>(patches.size()) / dim;
  std::vector<float> m;
  PatchMeans(patches, dim, &m);
  mot::tokenizer::KMeansOptions o;
  o.k = means;
  o.iterations = iterations;
  o.pool = pool;
  auto km = mot::tokenizer::KMeans(m.data(), n, 3, o);
  if (!km.ok()) Die(std::string(km.status().message()));
  for (int64_t i = 0; i < n; ++i) {
    const float* q = &km->codebook[km->assignments[i] * 3];
    for (int j = 0; j < dim; ++j) patches[i * dim + j] -= q[j % 3];
  }
  o.k = shapes;
  auto ks = mot::tokenizer::KMeans(patches.data(), n, dim, o);
  if (!ks.ok()) Die(std::string(ks.status().message()));
  return {patch, means, shapes, km->codebook, ks->codebook};
}

double ProductPsnr(const ProductVq& vq, const RgbImage& view) {
  const int dim = vq.patch * vq.patch * 3;
  std::vector<float> patches = mot::tokenizer::ExtractPatches(view, vq.patch);
  const int64_t n = static_cast<int64_t>(patches.size()) / dim;
  std::vector<float> m;
  PatchMeans(patches, dim, &m);
  mot::tokenizer::NearestCodeSearch mean_search(vq.mean_book.data(), vq.means, 3);
  mot::tokenizer::NearestCodeSearch shape_search(vq.shape_book.data(), vq.shapes, dim);
  RgbImage out = view;
  const int side = view.width / vq.patch;
  for (int64_t i = 0; i < n; ++i) {
    const float* q = &vq.mean_book[mean_search.Nearest(&m[i * 3]) * 3];
    for (int j = 0; j < dim; ++j) patches[i * dim + j] -= q[j % 3];
    const float* s = &vq.shape_book[shape_search.Nearest(&patches[i * dim]) * dim];
    const int r = static_cast<int>(i / side), c = static_cast<int>(i % side);
    for (int y = 0; y < vq.patch; ++y) {
      for (int x = 0; x < vq.patch * 3; ++x) {
        const float v = (q[x % 3] + s[y * vq.patch * 3 + x]) * 255.0f;
        out.pixels[((r * vq.patch + y) * view.width + c * vq.patch) * 3 + x] =
            static_cast<uint8_t>(std::lround(std::clamp(v, 0.0f, 255.0f)));
      }
    }
  }
  return Psnr(view, out);
}

struct Flags {
  std::vector<std::string> train, test;
  int resolution = 256;
  int patch = 8;
  int64_t codes = 1024;
  int iterations = 15;
  std::vector<double> scales = {1.0};
  int64_t max_patches = 0;
  uint64_t seed = 0;
  int threads = 0;
  std::string save, png_dir;
  bool generic = false;       // --simd generic: force the portable k-means kernel
  int64_t product_means = 0;  // > 0: also evaluate the mean-removed product VQ experiment
};

using ::mot::bench::UsageError;

std::vector<std::string> NonEmpty(std::vector<std::string> list) {
  list.erase(std::remove(list.begin(), list.end(), std::string()), list.end());
  return list;
}

Flags ReadFlags() {
  Flags f;
  f.train = NonEmpty(absl::GetFlag(FLAGS_train));
  f.test = NonEmpty(absl::GetFlag(FLAGS_test));
  if (f.train.empty() || f.test.empty()) UsageError("need --train and --test image lists");
  f.resolution = absl::GetFlag(FLAGS_resolution);
  f.patch = absl::GetFlag(FLAGS_patch);
  f.codes = absl::GetFlag(FLAGS_codes);
  f.iterations = absl::GetFlag(FLAGS_iterations);
  f.scales.clear();
  for (const std::string& text : absl::GetFlag(FLAGS_scales)) {
    double scale = 0;
    if (!absl::SimpleAtod(text, &scale) || !(scale > 0) || !std::isfinite(scale)) {
      UsageError("--scales: '" + text + "' is not a positive number");
    }
    f.scales.push_back(scale);
  }
  if (f.scales.empty()) UsageError("--scales: need at least one scale");
  f.max_patches = absl::GetFlag(FLAGS_max_patches);
  f.seed = absl::GetFlag(FLAGS_seed);
  f.threads = absl::GetFlag(FLAGS_threads);
  f.save = absl::GetFlag(FLAGS_save);
  f.png_dir = absl::GetFlag(FLAGS_png_dir);
  const std::string simd = absl::GetFlag(FLAGS_simd);
  if (simd != "generic" && simd != "auto") {
    UsageError("--simd: '" + simd + "' is not generic or auto");
  }
  f.generic = simd == "generic";
  f.product_means = absl::GetFlag(FLAGS_product_means);
  if (f.product_means < 0) UsageError("--product_means must be >= 0");
  return f;
}

}  // namespace

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "image tokenizer reconstruction PSNR on held-out images; prints a Markdown table.\n"
      "  image_tokenizer_eval --train a.png,b.jpg --test c.png,d.jpg [flags]");
  mot::bench::ParseBenchFlags(argc, argv);
  const Flags f = ReadFlags();
  mot::ThreadPool pool(f.threads);
  ImageTrainOptions opts;
  opts.resolution = f.resolution;
  opts.patch_size = f.patch;
  opts.codebook_size = f.codes;
  opts.iterations = f.iterations;
  opts.seed = f.seed;
  opts.max_patches = f.max_patches;
  opts.pool = &pool;
  opts.simd = f.generic ? mot::tokenizer::SimdLevel::kGeneric : mot::tokenizer::SimdLevel::kAuto;

  std::vector<RgbImage> train;
  for (const std::string& path : f.train) {
    const RgbImage image = Load(path);
    for (double scale : f.scales) {
      const int size = static_cast<int>(std::lround(f.resolution * scale)) / f.patch * f.patch;
      train.push_back(View(image, size));
    }
  }
  std::vector<RgbImage> test;
  for (const std::string& path : f.test) test.push_back(View(Load(path), f.resolution));

  const auto t0 = std::chrono::steady_clock::now();
  const ImageTokenizer tok = TrainOn(train, opts);
  const double train_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  const ImageTokenizer oracle = TrainOn(test, opts);
  if (!f.save.empty()) {
    if (absl::Status s = tok.Save(f.save); !s.ok()) Die(std::string(s.message()));
  }

  const int64_t bits_per_code =
      static_cast<int64_t>(std::ceil(std::log2(static_cast<double>(f.codes))));
  const int64_t bits = tok.tokens_per_image() * bits_per_code;
  ProductVq product;
  if (f.product_means > 0) {
    product = TrainProduct(train, f.patch, f.product_means, f.codes / f.product_means, f.iterations,
                           &pool);
  }
  std::printf("| held-out image | VQ PSNR dB | oracle VQ dB | resample dB | JPEG dB (q) |%s\n",
              f.product_means > 0 ? " product VQ dB |" : "");
  std::printf("| --- | ---: | ---: | ---: | ---: |%s\n", f.product_means > 0 ? " ---: |" : "");
  double sum_product = 0;
  double sum_vq = 0, sum_oracle = 0, sum_resample = 0, sum_jpeg = 0;
  int jpeg_count = 0;
  for (size_t i = 0; i < test.size(); ++i) {
    const std::string name = Basename(f.test[i]);
    const double vq =
        VqPsnr(tok, test[i], f.png_dir.empty() ? "" : f.png_dir + "/" + name + ".vq.png");
    const double or_ = VqPsnr(oracle, test[i], "");
    const double rs = ResamplePsnr(test[i], bits);
    const auto [jp, q] = JpegPsnr(test[i], bits);
    sum_vq += vq;
    sum_oracle += or_;
    sum_resample += rs;
    if (q > 0) sum_jpeg += jp, ++jpeg_count;
    std::printf(
        "| %s | %.2f | %.2f | %.2f | %s |", name.c_str(), vq, or_, rs,
        q > 0 ? (std::to_string(jp).substr(0, 5) + " (" + std::to_string(q) + ")").c_str() : "-");
    if (f.product_means > 0) {
      const double pv = ProductPsnr(product, test[i]);
      sum_product += pv;
      std::printf(" %.2f |", pv);
    }
    std::printf("\n");
  }
  // Encode latency (pixels of the 256x256 view -> codes, one thread): 5 timed passes over
  // the held-out images after one warm-up pass.
  std::vector<double> per_image_ms;
  for (int rep = 0; rep < 6; ++rep) {
    const auto e0 = std::chrono::steady_clock::now();
    for (const RgbImage& view : test) {
      if (!tok.EncodeImage(view, "eval").ok()) Die("encode failed");
    }
    const double ms =
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - e0).count();
    if (rep > 0) per_image_ms.push_back(ms / static_cast<double>(test.size()));
  }
  double mean_ms = 0, var_ms = 0;
  for (double v : per_image_ms) mean_ms += v / per_image_ms.size();
  for (double v : per_image_ms) var_ms += (v - mean_ms) * (v - mean_ms) / (per_image_ms.size() - 1);
  const double n = static_cast<double>(test.size());
  std::printf("| **mean (%zu images)** | **%.2f** | %.2f | %.2f | %s |", test.size(), sum_vq / n,
              sum_oracle / n, sum_resample / n,
              jpeg_count == static_cast<int>(test.size())
                  ? std::to_string(sum_jpeg / n).substr(0, 5).c_str()
                  : "-");
  if (f.product_means > 0) std::printf(" %.2f |", sum_product / n);
  std::printf(
      "\nresolution %d, patch %d, %lld tokens/image, %lld codes (%lld bits/image = %.3f bpp), "
      "%zu train images x scales {",
      f.resolution, f.patch, static_cast<long long>(tok.tokens_per_image()),
      static_cast<long long>(f.codes), static_cast<long long>(bits),
      static_cast<double>(bits) / (f.resolution * f.resolution), f.train.size());
  for (size_t i = 0; i < f.scales.size(); ++i) std::printf("%s%g", i ? "," : "", f.scales[i]);
  std::printf("}, %d iterations, seed %llu; train time %.1f s on %d threads\n", f.iterations,
              static_cast<unsigned long long>(f.seed), train_s, pool.num_threads());
  std::printf(
      "encode %.1f ± %.1f ms per image (one thread, %s nearest-code kernel)\n", mean_ms,
      std::sqrt(var_ms),
      mot::tokenizer::DetectedSimdLevel() == mot::tokenizer::SimdLevel::kAvx2 ? "AVX2" : "generic");
  return 0;
}
