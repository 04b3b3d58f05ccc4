// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/kmeans.h
// K-means clustering of f32 points and nearest-code search, shared by the image and audio
// tokenizers (their Train) and the trainer. KMeans() is deterministic for a seed: the
// result does not depend on the thread pool's size (assignments are computed per point in a
// fixed order, centroid sums are reduced serially in f64). NearestCodeSearch answers
// "which code is closest" with the expanded form ||x||^2 - 2 x.c + ||c||^2 over a
// transposed copy of the codebook, tiled so the compiler vectorizes the inner loop, or, on
// CPUs with AVX2 and FMA (chosen at run time; kmeans_avx2.cc), a register-blocked kernel
// over 16-code panels. The two levels round differently (FMA), so near-ties may resolve to
// different codes: results are deterministic for a seed at a given level; force kGeneric
// for bit-identical results across machines.
// Thread rule: pure functions; a NearestCodeSearch is immutable after construction and may
// be used from any number of threads.
#ifndef MOT_ENGINE_TOKENIZER_KMEANS_H_
#define MOT_ENGINE_TOKENIZER_KMEANS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/thread_pool.h"

namespace mot::tokenizer {

// Instruction-set level of the nearest-code kernel. kAuto: the best this CPU and OS
// support. A level the CPU lacks falls back to kGeneric.
enum class SimdLevel { kAuto, kGeneric, kAvx2 };

// The level kAuto resolves to on this machine (kAvx2 needs AVX2 and FMA).
SimdLevel DetectedSimdLevel();

// Nearest-code search over a codebook [k, d] (row-major f32). Copies the codebook.
class NearestCodeSearch {
 public:
  // REQUIRES: k >= 1, d >= 1, codebook holds k*d finite floats.
  NearestCodeSearch(const float* codebook, int64_t k, int64_t d,
                    SimdLevel level = SimdLevel::kAuto);

  // The level in use (never kAuto).
  SimdLevel level() const { return level_; }

  int64_t k() const { return k_; }
  int64_t d() const { return d_; }

  // The index of the code nearest to `point` [d] (lowest index on ties); when `sqdist` is
  // not null, stores the squared distance (clamped at 0: the expanded form can round below).
  int32_t Nearest(const float* point, float* sqdist = nullptr) const;

  // Nearest() for each of `n` points [n, d]: codes[i] (and sqdist[i] when not null).
  // Parallel over points when `pool` is not null; the results do not depend on the pool.
  void Assign(const float* points, int64_t n, int32_t* codes, float* sqdist,
              ThreadPool* pool) const;

 private:
  // Points [p0, p1) of `points`, in blocks of a few points times a tile of codes.
  void AssignRange(const float* points, int64_t p0, int64_t p1, int32_t* codes,
                   float* sqdist) const;

  int64_t k_;
  int64_t d_;
  SimdLevel level_;
  std::vector<float> transposed_;  // kGeneric: [d, k], code c's coordinate j at j*k + c
  std::vector<float> panels_;      // kAvx2: [ceil(k/16), d, 16], zero-padded codes
  std::vector<float> norms_;       // [k] (kAvx2: padded to a multiple of 16 with +inf)
};

namespace internal {
// The AVX2 + FMA kernel (kmeans_avx2.cc): for points [p0, p1) of `points` [*, d], the
// nearest code over `panels` [num_panels, d, 16] with `norms` [num_panels * 16].
void AssignRangeAvx2(const float* panels, const float* norms, int64_t num_panels, int64_t d,
                     const float* points, int64_t p0, int64_t p1, int32_t* codes, float* sqdist);
}  // namespace internal

struct KMeansOptions {
  int64_t k = 256;
  // Lloyd iterations at most; stops early when no assignment changes.
  int iterations = 20;
  uint64_t seed = 0;
  // k-means++ seeding runs on a uniform sample of this many points (without replacement)
  // when n is larger; 0 means min(n, 64 * k). The sample keeps seeding at O(sample*k*d),
  // about the cost of one or two Lloyd iterations, however large n is.
  int64_t init_sample = 0;
  // Parallelizes seeding and assignment over points; null runs on the calling thread.
  ThreadPool* pool = nullptr;
  // Kernel level for the assignment step (see NearestCodeSearch).
  SimdLevel simd = SimdLevel::kAuto;
};

struct KMeansResult {
  std::vector<float> codebook;       // [k, d]
  std::vector<int32_t> assignments;  // [n]: the nearest code of each point (final codebook)
  double inertia = 0;                // sum of squared distances to the assigned codes
  int iterations_run = 0;            // Lloyd iterations done
};

// Clusters `n` points [n, d] (row-major) into opts.k clusters: k-means++ seeding (on a
// sample, see init_sample), then Lloyd iterations; a cluster left empty is re-seeded with
// the point farthest from its current code (distinct points, farthest first).
// InvalidArgument: n < 1, d < 1, k < 1, k > n, iterations < 0, a non-finite coordinate.
absl::StatusOr<KMeansResult> KMeans(const float* points, int64_t n, int64_t d,
                                    const KMeansOptions& opts);

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_KMEANS_H_
