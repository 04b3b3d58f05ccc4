// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/tokenizer/kmeans.h"

#include <algorithm>
#include <cmath>
#include <random>
#include <set>
#include <vector>

#include "engine/core/thread_pool.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/testing/status_matchers.h"

namespace mot::tokenizer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::testing::HasSubstr;

// `per_cluster` points around each of `centers` [c, d], Gaussian noise of `sigma`.
std::vector<float> Blobs(const std::vector<float>& centers, int64_t d, int per_cluster, float sigma,
                         uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> noise(0.0f, sigma);
  const int64_t c = static_cast<int64_t>(centers.size()) / d;
  std::vector<float> points;
  for (int i = 0; i < per_cluster; ++i) {
    for (int64_t k = 0; k < c; ++k) {
      for (int64_t j = 0; j < d; ++j) points.push_back(centers[k * d + j] + noise(gen));
    }
  }
  return points;
}

TEST(KMeansTest, RecoversWellSeparatedClusters) {
  const int64_t d = 3;
  const std::vector<float> centers = {0, 0, 0, 10, 0, 0, 0, 10, 0, 0, 0, 10, 10, 10, 10};
  const int64_t k = 5;
  const int per = 200;
  const std::vector<float> points = Blobs(centers, d, per, 0.3f, 1);
  const int64_t n = static_cast<int64_t>(points.size()) / d;
  KMeansOptions opts;
  opts.k = k;
  opts.iterations = 30;
  opts.seed = 7;
  absl::StatusOr<KMeansResult> r = KMeans(points.data(), n, d, opts);
  ASSERT_THAT(r, IsOk());
  // Every true center has a code within 0.2, and the points of one blob share a code.
  for (int64_t t = 0; t < k; ++t) {
    float best = 1e9f;
    for (int64_t c = 0; c < k; ++c) {
      float s = 0;
      for (int64_t j = 0; j < d; ++j) {
        const float diff = r->codebook[c * d + j] - centers[t * d + j];
        s += diff * diff;
      }
      best = std::min(best, std::sqrt(s));
    }
    EXPECT_LT(best, 0.2f) << "center " << t;
    std::set<int32_t> codes;
    for (int i = 0; i < per; ++i) codes.insert(r->assignments[i * k + t]);
    EXPECT_EQ(codes.size(), 1u) << "blob " << t;
  }
  // Inertia close to n * d * sigma^2.
  EXPECT_NEAR(r->inertia / (n * d), 0.09, 0.02);
}

TEST(KMeansTest, DeterministicForSeedAndIndependentOfThreads) {
  const std::vector<float> centers = {0, 0, 4, 4, -4, 4, 4, -4, 1, 1};
  const std::vector<float> points = Blobs(centers, 2, 300, 1.5f, 3);
  const int64_t n = static_cast<int64_t>(points.size()) / 2;
  KMeansOptions opts;
  opts.k = 12;
  opts.seed = 42;
  absl::StatusOr<KMeansResult> a = KMeans(points.data(), n, 2, opts);
  ThreadPool pool(2);
  opts.pool = &pool;
  absl::StatusOr<KMeansResult> b = KMeans(points.data(), n, 2, opts);
  ASSERT_THAT(a, IsOk());
  ASSERT_THAT(b, IsOk());
  EXPECT_EQ(a->codebook, b->codebook);
  EXPECT_EQ(a->assignments, b->assignments);
  opts.seed = 43;
  absl::StatusOr<KMeansResult> c = KMeans(points.data(), n, 2, opts);
  ASSERT_THAT(c, IsOk());
  EXPECT_NE(a->codebook, c->codebook);
}

TEST(KMeansTest, AssignmentsAreNearestCodesOfFinalCodebook) {
  const std::vector<float> centers = {0, 0, 0, 0, 1, 1, 1, 1, 2, 0, 2, 0};
  const std::vector<float> points = Blobs(centers, 4, 100, 0.8f, 5);
  const int64_t n = static_cast<int64_t>(points.size()) / 4;
  KMeansOptions opts;
  opts.k = 9;
  opts.iterations = 3;
  opts.init_sample = 50;  // sampled seeding path
  absl::StatusOr<KMeansResult> r = KMeans(points.data(), n, 4, opts);
  ASSERT_THAT(r, IsOk());
  double inertia = 0;
  for (int64_t i = 0; i < n; ++i) {
    float best = 1e30f;
    int32_t best_c = -1;
    for (int64_t c = 0; c < opts.k; ++c) {
      float s = 0;
      for (int j = 0; j < 4; ++j) {
        const float diff = points[i * 4 + j] - r->codebook[c * 4 + j];
        s += diff * diff;
      }
      if (s < best) best = s, best_c = static_cast<int32_t>(c);
    }
    inertia += best;
    // Near-ties may go either way with the expanded form; the distance must match.
    const int32_t got = r->assignments[i];
    float got_s = 0;
    for (int j = 0; j < 4; ++j) {
      const float diff = points[i * 4 + j] - r->codebook[got * 4 + j];
      got_s += diff * diff;
    }
    EXPECT_NEAR(got_s, best, 1e-4f) << "point " << i << " expected code " << best_c;
  }
  EXPECT_NEAR(r->inertia, inertia, 1e-3 * inertia);
}

TEST(KMeansTest, DuplicatePointsGiveNoEmptyCodesWhenDistinctPointsSuffice) {
  // 3 distinct points, each repeated; k = 3 must find all three exactly.
  std::vector<float> points;
  for (int r = 0; r < 20; ++r) {
    points.insert(points.end(), {1, 2});
    points.insert(points.end(), {5, 5});
    points.insert(points.end(), {-3, 0});
  }
  KMeansOptions opts;
  opts.k = 3;
  absl::StatusOr<KMeansResult> r = KMeans(points.data(), 60, 2, opts);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->inertia, 0.0);
  std::set<std::pair<float, float>> codes;
  for (int c = 0; c < 3; ++c) codes.insert({r->codebook[c * 2], r->codebook[c * 2 + 1]});
  EXPECT_EQ(codes, (std::set<std::pair<float, float>>{{1, 2}, {5, 5}, {-3, 0}}));
}

TEST(KMeansTest, KEqualsNGivesZeroInertia) {
  const std::vector<float> points = {0, 1, 2, 3, 4, 5, 6, 7};
  KMeansOptions opts;
  opts.k = 8;
  absl::StatusOr<KMeansResult> r = KMeans(points.data(), 8, 1, opts);
  ASSERT_THAT(r, IsOk());
  EXPECT_EQ(r->inertia, 0.0);
}

TEST(KMeansTest, RejectsBadArguments) {
  const std::vector<float> points = {0, 1, 2, 3};
  KMeansOptions opts;
  opts.k = 5;
  EXPECT_THAT(KMeans(points.data(), 4, 1, opts),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("k must be in [1, n=4]")));
  opts.k = 0;
  EXPECT_THAT(KMeans(points.data(), 4, 1, opts),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("got 0")));
  opts.k = 2;
  EXPECT_THAT(KMeans(points.data(), 0, 1, opts),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("n=0")));
  opts.iterations = -1;
  EXPECT_THAT(KMeans(points.data(), 4, 1, opts),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("iterations")));
  opts.iterations = 5;
  const std::vector<float> bad = {0, NAN, 2, 3};
  EXPECT_THAT(KMeans(bad.data(), 2, 2, opts),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("point 0 coordinate 1")));
}

// Every level this machine runs (kGeneric always, kAvx2 where the CPU has it).
std::vector<SimdLevel> Levels() {
  std::vector<SimdLevel> levels = {SimdLevel::kGeneric};
  if (DetectedSimdLevel() == SimdLevel::kAvx2) levels.push_back(SimdLevel::kAvx2);
  return levels;
}

TEST(NearestCodeSearchTest, MatchesBruteForceAtEveryLevel) {
  // k not a multiple of the code tile or panel, n not a multiple of the point block.
  const int64_t k = 300, d = 7, n = 37;
  std::mt19937 gen(9);
  std::uniform_real_distribution<float> u(-1, 1);
  std::vector<float> codebook(k * d), points(n * d);
  for (float& v : codebook) v = u(gen);
  for (float& v : points) v = u(gen);
  for (SimdLevel level : Levels()) {
    SCOPED_TRACE(static_cast<int>(level));
    NearestCodeSearch search(codebook.data(), k, d, level);
    EXPECT_EQ(search.level(), level);
    std::vector<int32_t> codes(n);
    std::vector<float> dist(n);
    ThreadPool pool(2);
    search.Assign(points.data(), n, codes.data(), dist.data(), &pool);
    for (int64_t i = 0; i < n; ++i) {
      float best = 1e30f;
      for (int64_t c = 0; c < k; ++c) {
        float s = 0;
        for (int64_t j = 0; j < d; ++j) {
          const float diff = points[i * d + j] - codebook[c * d + j];
          s += diff * diff;
        }
        best = std::min(best, s);
      }
      EXPECT_NEAR(dist[i], best, 1e-5f) << "point " << i;
      float single = 0;
      EXPECT_EQ(search.Nearest(&points[i * d], &single), codes[i]);
      EXPECT_EQ(single, dist[i]);
    }
    // A code itself is its own nearest code at distance ~0, the last (padded panel) too.
    for (int64_t c : {int64_t{0}, int64_t{123}, k - 1}) {
      float self = 1;
      EXPECT_EQ(search.Nearest(&codebook[c * d], &self), c);
      EXPECT_NEAR(self, 0.0f, 1e-5f);
    }
  }
}

TEST(KMeansTest, EveryLevelRecoversClusters) {
  const std::vector<float> centers = {0, 0, 0, 10, 0, 0, 0, 10, 0};
  const std::vector<float> points = Blobs(centers, 3, 100, 0.3f, 11);
  for (SimdLevel level : Levels()) {
    KMeansOptions opts;
    opts.k = 3;
    opts.simd = level;
    absl::StatusOr<KMeansResult> r = KMeans(points.data(), 300, 3, opts);
    ASSERT_THAT(r, IsOk());
    EXPECT_NEAR(r->inertia / 900, 0.09, 0.02) << static_cast<int>(level);
  }
}

}  // namespace
}  // namespace mot::tokenizer
