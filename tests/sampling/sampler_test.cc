// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// SampleToken / Draw: greedy, the exact kept sets of top-k / top-p / min-p against brute
// force, draw frequencies, masked and NaN logits, determinism across threads.
#include "engine/sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <numeric>
#include <random>
#include <set>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mot::sampling {
namespace {

using ::testing::ElementsAre;
using ::testing::IsEmpty;

constexpr float kInf = std::numeric_limits<float>::infinity();

std::vector<float> RandomRow(std::mt19937& rng, int n, float scale = 3.0f) {
  std::normal_distribution<float> d(0.0f, scale);
  std::vector<float> row(static_cast<size_t>(n));
  for (float& v : row) v = d(rng);
  return row;
}

// Ids in the sampler's total order: higher logit first, then lower id.
std::vector<int32_t> Ranked(const std::vector<float>& z) {
  std::vector<int32_t> ids;
  for (int32_t i = 0; i < static_cast<int32_t>(z.size()); ++i) {
    if (z[static_cast<size_t>(i)] > -kInf) ids.push_back(i);
  }
  std::sort(ids.begin(), ids.end(), [&](int32_t a, int32_t b) {
    const float za = z[static_cast<size_t>(a)], zb = z[static_cast<size_t>(b)];
    return za > zb || (za == zb && a < b);
  });
  return ids;
}

// Brute force over the whole row: sort everything, then top-k, top-p, min-p.
std::vector<int32_t> BruteForceSet(std::vector<float> z, const DrawOptions& o) {
  for (float& v : z) v /= o.temperature;
  std::vector<int32_t> ranked = Ranked(z);
  if (o.top_k > 0 && static_cast<size_t>(o.top_k) < ranked.size()) ranked.resize(o.top_k);
  const float z_max = z[static_cast<size_t>(ranked[0])];
  std::vector<double> w;
  for (int32_t id : ranked) w.push_back(std::exp(z[static_cast<size_t>(id)] - z_max));
  if (o.top_p < 1.0f) {
    const double total = std::accumulate(w.begin(), w.end(), 0.0);
    double cum = 0.0;
    size_t keep = ranked.size();
    for (size_t i = 0; i < ranked.size(); ++i) {
      cum += w[i];
      if (cum >= o.top_p * total) {
        keep = i + 1;
        break;
      }
    }
    ranked.resize(keep);
  }
  std::vector<int32_t> out;
  for (size_t i = 0; i < ranked.size(); ++i) {
    if (w[i] > 0.0 && w[i] >= o.min_p) out.push_back(ranked[i]);
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(SamplerTest, GreedyIsArgMaxWithTiesToLowestId) {
  std::mt19937 rng(1);
  SamplingParams p;
  p.temperature = 0.0f;
  for (int trial = 0; trial < 200; ++trial) {
    std::vector<float> row = RandomRow(rng, 257);
    // Quantize so ties happen often.
    for (float& v : row) v = std::round(v);
    const int32_t expected =
        static_cast<int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
    EXPECT_EQ(SampleToken(row, p, TokenHistory{}, static_cast<uint64_t>(trial)), expected);
  }
  std::vector<float> tie = {1.0f, 5.0f, -kInf, 5.0f};
  EXPECT_EQ(SampleToken(tie, p, TokenHistory{}, 0), 1);
}

TEST(SamplerTest, TinyTemperatureIsGreedy) {
  std::vector<float> row = {1.0f, 3.0f, 2.9999f};
  SamplingParams p;
  p.temperature = 1e-7f;
  for (uint64_t i = 0; i < 100; ++i) {
    std::vector<float> r = row;
    EXPECT_EQ(SampleToken(r, p, TokenHistory{}, i), 1);
  }
}

TEST(SamplerTest, PenaltiesAndBiasChangeTheGreedyChoice) {
  SamplingParams p;
  p.temperature = 0.0f;
  TokenHistory h;
  h.Add(0);
  std::vector<float> row = {2.0f, 1.9f, 0.0f};
  EXPECT_EQ(SampleToken(row, p, h, 0), 0);
  p.presence_penalty = 0.2f;
  row = {2.0f, 1.9f, 0.0f};
  EXPECT_EQ(SampleToken(row, p, h, 0), 1);
  p.logit_bias = {{2, 5.0f}};
  row = {2.0f, 1.9f, 0.0f};
  EXPECT_EQ(SampleToken(row, p, h, 0), 2);
}

TEST(SamplerTest, EveryLogitMaskedGivesMinusOne) {
  std::vector<float> row(10, -kInf);
  row[3] = std::numeric_limits<float>::quiet_NaN();
  SamplingParams p;
  EXPECT_EQ(SampleToken(row, p, TokenHistory{}, 0), -1);
  row.assign(10, -kInf);
  EXPECT_THAT(CandidateIds(row, {}), IsEmpty());
  p.temperature = 0.0f;
  row.assign(10, -kInf);
  EXPECT_EQ(SampleToken(row, p, TokenHistory{}, 0), -1);
}

TEST(SamplerTest, PositiveInfinityIsTakenGreedily) {
  std::vector<float> row = {0.0f, kInf, 1.0f, kInf};
  EXPECT_EQ(SampleToken(row, SamplingParams{}, TokenHistory{}, 3), 1);
}

TEST(SamplerTest, MaskedAndNanLogitsAreNeverSampled) {
  std::mt19937 rng(2);
  std::vector<float> base = RandomRow(rng, 64, 0.5f);
  for (size_t i = 0; i < base.size(); i += 2) base[i] = -kInf;
  base[1] = std::numeric_limits<float>::quiet_NaN();
  SamplingParams p;
  p.temperature = 2.0f;
  std::set<int32_t> seen;
  for (uint64_t i = 0; i < 20000; ++i) {
    std::vector<float> row = base;
    const int32_t id = SampleToken(row, p, TokenHistory{}, i);
    ASSERT_GE(id, 0);
    ASSERT_EQ(id % 2, 1) << "masked id " << id;
    ASSERT_NE(id, 1) << "NaN id";
    seen.insert(id);
  }
  EXPECT_EQ(seen.size(), 31u);  // every unmasked id shows up under a flat-ish distribution
}

TEST(SamplerTest, TruncatedSetsEqualBruteForce) {
  std::mt19937 rng(3);
  const DrawOptions options[] = {{1.0f, 5, 1.0f, 0.0f},    {0.7f, 40, 1.0f, 0.0f},
                                 {1.0f, 0, 0.9f, 0.0f},    {1.3f, 0, 0.5f, 0.0f},
                                 {1.0f, 0, 1.0f, 0.05f},   {0.8f, 50, 0.8f, 0.0f},
                                 {1.0f, 50, 0.95f, 0.02f}, {2.0f, 0, 0.99f, 0.001f},
                                 {1.0f, 1, 1.0f, 0.0f},    {1.0f, 100000, 0.7f, 0.0f}};
  for (const DrawOptions& o : options) {
    for (int trial = 0; trial < 20; ++trial) {
      SCOPED_TRACE(::testing::Message()
                   << "temperature " << o.temperature << " top_k " << o.top_k << " top_p "
                   << o.top_p << " min_p " << o.min_p << " trial " << trial);
      std::vector<float> row = RandomRow(rng, 1000, trial % 2 ? 1.0f : 4.0f);
      row[static_cast<size_t>(trial)] = -kInf;  // a masked id among them
      const std::vector<int32_t> expected = BruteForceSet(row, o);
      std::vector<float> work = row;
      const std::vector<int32_t> got = CandidateIds(work, o);
      ASSERT_EQ(got, expected);
      if (o.top_k > 0 && o.top_p == 1.0f && o.min_p == 0.0f) {
        EXPECT_EQ(got.size(), std::min<size_t>(static_cast<size_t>(o.top_k), 999));
      }
    }
  }
}

TEST(SamplerTest, TopPOverAFlatRowGrowsItsSortedPrefix) {
  // 5000 equal logits: the nucleus for 0.9 is 4500 ids, far beyond the first sorted prefix.
  std::vector<float> row(5000, 0.25f);
  const std::vector<int32_t> ids = CandidateIds(row, {1.0f, 0, 0.9f, 0.0f});
  ASSERT_EQ(ids.size(), 4500u);
  EXPECT_EQ(ids.front(), 0);
  EXPECT_EQ(ids.back(), 4499);  // equal logits rank by id
}

TEST(SamplerTest, DrawsStayInsideTheirSets) {
  std::mt19937 rng(4);
  const DrawOptions options[] = {
      {1.0f, 7, 1.0f, 0.0f}, {1.0f, 0, 0.6f, 0.0f}, {1.0f, 0, 1.0f, 0.2f}, {1.5f, 20, 0.9f, 0.1f}};
  for (const DrawOptions& o : options) {
    const std::vector<float> base = RandomRow(rng, 2000, 2.0f);
    std::vector<float> work = base;
    const std::vector<int32_t> set = CandidateIds(work, o);
    ASSERT_FALSE(set.empty());
    SamplingParams p;
    p.temperature = o.temperature, p.top_k = o.top_k, p.top_p = o.top_p, p.min_p = o.min_p;
    p.seed = 77;
    std::set<int32_t> seen;
    for (uint64_t i = 0; i < 5000; ++i) {
      std::vector<float> row = base;
      const int32_t id = SampleToken(row, p, TokenHistory{}, i);
      ASSERT_TRUE(std::binary_search(set.begin(), set.end(), id)) << "id " << id << " outside";
      seen.insert(id);
    }
    EXPECT_GT(seen.size(), 1u);
  }
}

TEST(SamplerTest, DrawFrequenciesFollowRenormalizedProbabilities) {
  // p = [0.5, 0.3, 0.2]: plain, and with top-p 0.7 keeping {0, 1} renormalized to 5/8, 3/8.
  const std::vector<float> base = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  constexpr int kDraws = 40000;
  for (float top_p : {1.0f, 0.7f}) {
    SamplingParams p;
    p.top_p = top_p;
    p.seed = 1234;
    std::vector<int> counts(3, 0);
    for (int i = 0; i < kDraws; ++i) {
      std::vector<float> row = base;
      ++counts[static_cast<size_t>(SampleToken(row, p, TokenHistory{}, static_cast<uint64_t>(i)))];
    }
    const std::vector<double> expected =
        top_p == 1.0f ? std::vector<double>{0.5, 0.3, 0.2} : std::vector<double>{0.625, 0.375, 0};
    for (size_t id = 0; id < 3; ++id) {
      // Binomial sd is at most 0.0025 here; 0.012 is about five of them.
      EXPECT_NEAR(counts[id] / static_cast<double>(kDraws), expected[id], 0.012)
          << "id " << id << " top_p " << top_p;
    }
  }
}

TEST(SamplerTest, DrawWalksCumulativeMass) {
  // Weights 0.5 / 0.3 / 0.2: u below 0.5 gives 0, [0.5, 0.8) gives 1, above gives 2.
  const std::vector<float> base = {std::log(0.5f), std::log(0.3f), std::log(0.2f)};
  auto draw = [&](double u) {
    std::vector<float> row = base;
    return Draw(row, {}, u);
  };
  EXPECT_EQ(draw(0.0), 0);
  EXPECT_EQ(draw(0.49), 0);
  EXPECT_EQ(draw(0.51), 1);
  EXPECT_EQ(draw(0.79), 1);
  EXPECT_EQ(draw(0.81), 2);
  EXPECT_EQ(draw(std::nextafter(1.0, 0.0)), 2);
}

TEST(SamplerTest, SameInputsGiveSameTokensOnAnyThread) {
  std::mt19937 rng(5);
  std::vector<std::vector<float>> rows;
  for (int i = 0; i < 64; ++i) rows.push_back(RandomRow(rng, 30000, 1.5f));
  SamplingParams p;
  p.seed = 0xfeedbeef;
  p.top_p = 0.9f;
  p.top_k = 200;
  p.repetition_penalty = 1.1f;
  TokenHistory h;
  for (int32_t id : {5, 17, 5, 2999}) h.Add(id);
  auto run = [&](std::vector<int32_t>* out) {
    for (size_t i = 0; i < rows.size(); ++i) {
      std::vector<float> row = rows[i];
      out->push_back(SampleToken(row, p, h, i));
    }
  };
  std::vector<int32_t> a, b, c;
  run(&a);
  std::thread t1([&] { run(&b); });
  std::thread t2([&] { run(&c); });
  t1.join();
  t2.join();
  EXPECT_EQ(a, b);
  EXPECT_EQ(a, c);
  // And a different seed gives a different sequence.
  p.seed = 1;
  std::vector<int32_t> d;
  run(&d);
  EXPECT_NE(a, d);
}

}  // namespace
}  // namespace mot::sampling
