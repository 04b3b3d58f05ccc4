// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/kmeans.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <numeric>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace mot::tokenizer {
namespace {

// Points per block and codes per tile in AssignRange: a block's accumulators
// (kPointBlock x kCodeTile floats = 8 KiB) stay in L1 while one row of the transposed
// codebook tile is loaded once per block of points.
constexpr int64_t kPointBlock = 8;
constexpr int64_t kCodeTile = 256;

// SplitMix64: a small, fully specified generator, so a seed gives the same codebook with
// any standard library.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
  // Uniform in [0, 1).
  double Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }
  // Uniform in [0, n); REQUIRES: n >= 1. The modulo bias is below 2^-40 for n < 2^24.
  int64_t Below(int64_t n) { return static_cast<int64_t>(Next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t state_;
};

// Eight partial sums, so the compiler vectorizes the loop without reassociating floats.
float SquaredDistance(const float* a, const float* b, int64_t d) {
  float part[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  int64_t j = 0;
  for (; j + 8 <= d; j += 8) {
    for (int l = 0; l < 8; ++l) {
      const float t = a[j + l] - b[j + l];
      part[l] += t * t;
    }
  }
  float s = 0;
  for (; j < d; ++j) s += (a[j] - b[j]) * (a[j] - b[j]);
  for (float p : part) s += p;
  return s;
}

void ParallelOrInline(ThreadPool* pool, int64_t n, int64_t grain,
                      const std::function<void(int64_t, int64_t, int)>& fn) {
  if (pool == nullptr) {
    if (n > 0) fn(0, n, 0);
  } else {
    pool->ParallelFor(n, grain, fn);
  }
}

}  // namespace

SimdLevel DetectedSimdLevel() {
  static const SimdLevel level = [] {
    // libgcc's cpu model checks the OS saves the AVX state (XGETBV) before reporting AVX2.
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? SimdLevel::kAvx2
                                                                           : SimdLevel::kGeneric;
  }();
  return level;
}

NearestCodeSearch::NearestCodeSearch(const float* codebook, int64_t k, int64_t d, SimdLevel level)
    : k_(k), d_(d), level_(level) {
  if (level_ == SimdLevel::kAuto || DetectedSimdLevel() == SimdLevel::kGeneric) {
    level_ = DetectedSimdLevel();
  }
  const int64_t padded = level_ == SimdLevel::kAvx2 ? (k + 15) / 16 * 16 : k;
  norms_.assign(static_cast<size_t>(padded), std::numeric_limits<float>::infinity());
  if (level_ == SimdLevel::kAvx2) {
    panels_.assign(static_cast<size_t>(padded * d), 0.0f);
  } else {
    transposed_.resize(static_cast<size_t>(k * d));
  }
  for (int64_t c = 0; c < k; ++c) {
    double norm = 0;
    for (int64_t j = 0; j < d; ++j) {
      const float v = codebook[c * d + j];
      if (level_ == SimdLevel::kAvx2) {
        panels_[static_cast<size_t>((c / 16) * d * 16 + j * 16 + c % 16)] = v;
      } else {
        transposed_[static_cast<size_t>(j * k + c)] = v;
      }
      norm += static_cast<double>(v) * v;
    }
    norms_[static_cast<size_t>(c)] = static_cast<float>(norm);
  }
}

int32_t NearestCodeSearch::Nearest(const float* point, float* sqdist) const {
  int32_t code = 0;
  AssignRange(point, 0, 1, &code, sqdist);
  return code;
}

void NearestCodeSearch::Assign(const float* points, int64_t n, int32_t* codes, float* sqdist,
                               ThreadPool* pool) const {
  ParallelOrInline(pool, n, kPointBlock, [&](int64_t begin, int64_t end, int) {
    AssignRange(points, begin, end, codes, sqdist);
  });
}

void NearestCodeSearch::AssignRange(const float* points, int64_t p0, int64_t p1, int32_t* codes,
                                    float* sqdist) const {
  if (level_ == SimdLevel::kAvx2) {
    internal::AssignRangeAvx2(panels_.data(), norms_.data(), (k_ + 15) / 16, d_, points, p0, p1,
                              codes, sqdist);
    return;
  }
  // points: [*, d] row-major; transposed_: [d, k]. For each point x and code c the
  // accumulator holds ||c||^2 - 2 x.c; ||x||^2 is added only to the winner.
  alignas(64) float acc[kPointBlock][kCodeTile];
  float scaled[kPointBlock];
  for (int64_t p = p0; p < p1; p += kPointBlock) {
    const int64_t np = std::min(kPointBlock, p1 - p);
    float best[kPointBlock];
    int32_t best_code[kPointBlock];
    for (int64_t i = 0; i < kPointBlock; ++i) {
      best[i] = std::numeric_limits<float>::infinity();
      best_code[i] = 0;
    }
    for (int64_t c0 = 0; c0 < k_; c0 += kCodeTile) {
      const int64_t nc = std::min(kCodeTile, k_ - c0);
      for (int64_t i = 0; i < np; ++i) {
        std::memcpy(acc[i], &norms_[static_cast<size_t>(c0)], sizeof(float) * nc);
      }
      for (int64_t j = 0; j < d_; ++j) {
        const float* row = &transposed_[static_cast<size_t>(j * k_ + c0)];
        for (int64_t i = 0; i < np; ++i) scaled[i] = -2.0f * points[(p + i) * d_ + j];
        for (int64_t i = 0; i < np; ++i) {
          float* a = acc[i];
          const float s = scaled[i];
          for (int64_t c = 0; c < nc; ++c) a[c] += s * row[c];
        }
      }
      for (int64_t i = 0; i < np; ++i) {
        for (int64_t c = 0; c < nc; ++c) {
          // Strict < keeps the lowest index on ties; tiles are visited in code order.
          if (acc[i][c] < best[i]) {
            best[i] = acc[i][c];
            best_code[i] = static_cast<int32_t>(c0 + c);
          }
        }
      }
    }
    for (int64_t i = 0; i < np; ++i) {
      codes[p + i] = best_code[i];
      if (sqdist != nullptr) {
        const float* x = points + (p + i) * d_;
        float norm = 0;
        for (int64_t j = 0; j < d_; ++j) norm += x[j] * x[j];
        sqdist[p + i] = std::max(0.0f, norm + best[i]);
      }
    }
  }
}

absl::StatusOr<KMeansResult> KMeans(const float* points, int64_t n, int64_t d,
                                    const KMeansOptions& opts) {
  const int64_t k = opts.k;
  if (n < 1 || d < 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        "kmeans: need at least one point of at least one dimension, got n=", n, " d=", d));
  }
  if (k < 1 || k > n) {
    return absl::InvalidArgumentError(absl::StrCat("kmeans: k must be in [1, n=", n, "], got ", k));
  }
  if (k > std::numeric_limits<int32_t>::max()) {
    return absl::InvalidArgumentError(absl::StrCat("kmeans: k too large: ", k));
  }
  if (opts.iterations < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("kmeans: iterations must be >= 0, got ", opts.iterations));
  }
  if (opts.init_sample < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("kmeans: init_sample must be >= 0, got ", opts.init_sample));
  }
  for (int64_t i = 0; i < n * d; ++i) {
    if (!std::isfinite(points[i])) {
      return absl::InvalidArgumentError(
          absl::StrCat("kmeans: point ", i / d, " coordinate ", i % d, " is not finite"));
    }
  }

  Rng rng(opts.seed);
  KMeansResult result;
  result.codebook.resize(static_cast<size_t>(k * d));

  // --- Seeding: k-means++ over a sample of m points.
  int64_t m = opts.init_sample > 0 ? opts.init_sample : std::min(n, 64 * k);
  m = std::clamp(m, k, n);
  std::vector<int64_t> sample(static_cast<size_t>(n));
  std::iota(sample.begin(), sample.end(), int64_t{0});
  if (m < n) {
    // Partial Fisher-Yates: the first m entries are a uniform sample without replacement.
    for (int64_t i = 0; i < m; ++i) {
      std::swap(sample[static_cast<size_t>(i)], sample[static_cast<size_t>(i + rng.Below(n - i))]);
    }
    sample.resize(static_cast<size_t>(m));
    std::sort(sample.begin(), sample.end());
  }
  std::vector<float> min_dist(static_cast<size_t>(m), std::numeric_limits<float>::infinity());
  std::vector<char> chosen(static_cast<size_t>(m), 0);
  int64_t pick = rng.Below(m);
  for (int64_t c = 0; c < k; ++c) {
    chosen[static_cast<size_t>(pick)] = 1;
    const float* center = points + sample[static_cast<size_t>(pick)] * d;
    std::memcpy(&result.codebook[static_cast<size_t>(c * d)], center, sizeof(float) * d);
    if (c + 1 == k) break;
    ParallelOrInline(opts.pool, m, 1024, [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) {
        const float dist = SquaredDistance(points + sample[static_cast<size_t>(i)] * d, center, d);
        float& md = min_dist[static_cast<size_t>(i)];
        if (dist < md) md = dist;
      }
    });
    double total = 0;
    for (int64_t i = 0; i < m; ++i) {
      if (!chosen[static_cast<size_t>(i)]) total += min_dist[static_cast<size_t>(i)];
    }
    pick = -1;
    if (total > 0) {
      const double target = rng.Uniform() * total;
      double cumulative = 0;
      for (int64_t i = 0; i < m; ++i) {
        if (chosen[static_cast<size_t>(i)] || min_dist[static_cast<size_t>(i)] <= 0) continue;
        cumulative += min_dist[static_cast<size_t>(i)];
        pick = i;  // the last candidate also absorbs rounding at the top end
        if (cumulative > target) break;
      }
    }
    if (pick < 0) {
      // Every remaining point coincides with a chosen one: take any unchosen point (k <= m
      // guarantees one); the duplicate code is re-seeded as an empty cluster if possible.
      int64_t skip = rng.Below(m - (c + 1));
      for (int64_t i = 0; i < m; ++i) {
        if (chosen[static_cast<size_t>(i)]) continue;
        if (skip-- == 0) {
          pick = i;
          break;
        }
      }
    }
  }

  // --- Lloyd iterations.
  result.assignments.assign(static_cast<size_t>(n), -1);
  std::vector<int32_t> codes(static_cast<size_t>(n));
  std::vector<float> dist(static_cast<size_t>(n));
  std::vector<double> sums(static_cast<size_t>(k * d));
  std::vector<int64_t> counts(static_cast<size_t>(k));
  for (int it = 0; it < opts.iterations; ++it) {
    NearestCodeSearch search(result.codebook.data(), k, d, opts.simd);
    search.Assign(points, n, codes.data(), dist.data(), opts.pool);
    int64_t changed = 0;
    for (int64_t i = 0; i < n; ++i)
      changed += codes[static_cast<size_t>(i)] != result.assignments[static_cast<size_t>(i)];
    result.assignments.swap(codes);
    if (changed == 0) break;  // the codebook is already the mean of its clusters
    ++result.iterations_run;

    std::fill(sums.begin(), sums.end(), 0.0);
    std::fill(counts.begin(), counts.end(), 0);
    for (int64_t i = 0; i < n; ++i) {
      const int32_t c = result.assignments[static_cast<size_t>(i)];
      ++counts[static_cast<size_t>(c)];
      double* s = &sums[static_cast<size_t>(c) * d];
      const float* x = points + i * d;
      for (int64_t j = 0; j < d; ++j) s[j] += x[j];
    }
    std::vector<int64_t> empty;
    for (int64_t c = 0; c < k; ++c) {
      const int64_t count = counts[static_cast<size_t>(c)];
      if (count == 0) {
        empty.push_back(c);
        continue;
      }
      for (int64_t j = 0; j < d; ++j) {
        result.codebook[static_cast<size_t>(c * d + j)] =
            static_cast<float>(sums[static_cast<size_t>(c * d + j)] / count);
      }
    }
    if (!empty.empty()) {
      // Farthest points first (ties by index); each re-seeds one empty cluster.
      std::vector<int64_t> order(static_cast<size_t>(n));
      std::iota(order.begin(), order.end(), int64_t{0});
      const size_t take = std::min(empty.size(), order.size());
      std::partial_sort(order.begin(), order.begin() + static_cast<ptrdiff_t>(take), order.end(),
                        [&](int64_t a, int64_t b) {
                          const float da = dist[static_cast<size_t>(a)];
                          const float db = dist[static_cast<size_t>(b)];
                          return da != db ? da > db : a < b;
                        });
      for (size_t e = 0; e < take; ++e) {
        std::memcpy(&result.codebook[static_cast<size_t>(empty[e] * d)], points + order[e] * d,
                    sizeof(float) * d);
      }
    }
  }

  // Final assignment against the final codebook.
  NearestCodeSearch search(result.codebook.data(), k, d, opts.simd);
  search.Assign(points, n, result.assignments.data(), dist.data(), opts.pool);
  result.inertia = 0;
  for (float v : dist) result.inertia += v;
  return result;
}

}  // namespace mot::tokenizer
