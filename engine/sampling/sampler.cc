// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/sampling/sampler.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "engine/sampling/logits_processors.h"
#include "engine/sampling/rng.h"

namespace mot::sampling {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();
constexpr float kPosInf = std::numeric_limits<float>::infinity();

// First batch selected for top-p alone, and its growth factor: a peaked nucleus fits in the
// first one; a flat one takes a few more O(V) selections.
constexpr size_t kTopPFirstPrefix = 128;
constexpr size_t kTopPGrowth = 4;

struct Candidate {
  float z;
  int32_t id;
};

// The total order every selection uses: higher logit first, then lower id. Being total, it
// makes the top-k set and every sorted order unique, whatever the algorithm.
inline bool Before(const Candidate& a, const Candidate& b) {
  return a.z > b.z || (a.z == b.z && a.id < b.id);
}

struct Weighted {
  int32_t id;
  float w;  // exp(z - z_max): the unnormalized probability, in (0, 1]
};

// Arg max over finite-or-+inf logits, ties to the lowest id; -1 when none (all -inf / NaN).
int32_t ArgMax(std::span<const float> z) {
  float best = kNegInf;
  int32_t best_id = -1;
  for (size_t i = 0; i < z.size(); ++i) {
    if (z[i] > best) {  // false for NaN and for -inf against the -inf start
      best = z[i];
      best_id = static_cast<int32_t>(i);
    }
  }
  return best_id;
}

// The k best candidates of the row in Before order, with a k-element heap: one compare per
// id and O(k log k) extra, never a sort of the row.
void TopK(std::span<const float> z, size_t k, std::vector<Candidate>* out) {
  out->clear();
  out->reserve(k);
  // With Before as the comparator, the heap's front is the worst kept candidate.
  for (size_t i = 0; i < z.size(); ++i) {
    if (!(z[i] > kNegInf)) continue;
    const Candidate c{z[i], static_cast<int32_t>(i)};
    if (out->size() < k) {
      out->push_back(c);
      std::push_heap(out->begin(), out->end(), Before);
    } else if (Before(c, out->front())) {
      std::pop_heap(out->begin(), out->end(), Before);
      out->back() = c;
      std::push_heap(out->begin(), out->end(), Before);
    }
  }
  std::sort_heap(out->begin(), out->end(), Before);
}

// Keeps the shortest Before-ordered prefix of `sorted` whose mass reaches top_p * total (at
// least one); all of it when rounding never gets there. Returns the prefix length.
size_t NucleusLength(const std::vector<Candidate>& sorted, size_t sorted_prefix, float z_max,
                     double total, float top_p, bool* reached) {
  const double target = static_cast<double>(top_p) * total;
  double cum = 0.0;
  for (size_t i = 0; i < sorted_prefix; ++i) {
    cum += std::exp(sorted[i].z - z_max);
    if (cum >= target) {
      *reached = true;
      return i + 1;
    }
  }
  *reached = false;
  return sorted_prefix;
}

// Top-p over the whole row (no top-k): selects the next-best batch of candidates with
// nth_element (128, then x4) until the selected mass reaches the nucleus, then sorts only the
// selected prefix. O(V) expected plus a sort of about 4x the nucleus; a full partial_sort of a
// 150k row to a large prefix cost 10x more. `list` holds every finite candidate; on return
// its first `*length` entries are the nucleus in Before order.
void NucleusOfRow(std::vector<Candidate>* list, float z_max, double total, float top_p,
                  size_t* length) {
  const size_t n = list->size();
  const double target = static_cast<double>(top_p) * total;
  size_t selected = 0;  // [0, selected) are the best `selected` candidates, unordered
  size_t m = std::min(n, kTopPFirstPrefix);
  double mass = 0.0;
  while (true) {
    if (m < n) {
      std::nth_element(list->begin() + static_cast<ptrdiff_t>(selected),
                       list->begin() + static_cast<ptrdiff_t>(m), list->end(), Before);
    }
    for (size_t i = selected; i < m; ++i) mass += std::exp((*list)[i].z - z_max);
    selected = m;
    if (mass >= target || m == n) break;
    m = std::min(n, m * kTopPGrowth);
  }
  std::sort(list->begin(), list->begin() + static_cast<ptrdiff_t>(selected), Before);
  bool reached = false;
  *length = NucleusLength(*list, selected, z_max, total, top_p, &reached);
}

// Scratch reused per thread: a row of 150k ids would otherwise allocate ~1 MB per token.
struct Scratch {
  std::vector<Candidate> candidates;
  std::vector<Weighted> kept;
};
Scratch& ThreadScratch() {
  thread_local Scratch scratch;
  return scratch;
}

// Divides by the temperature and fills `kept` with the ids Draw may return and their
// weights, in a fixed order (Before order after top-k/top-p, else id order). Returns -1 when
// the row has no finite logit, the forced id for greedy / +inf rows, or -2 when `kept` holds
// the set to draw from.
constexpr int32_t kDrawFromKept = -2;
int32_t Truncate(std::span<float> z, const DrawOptions& o, Scratch* s) {
  s->kept.clear();
  const int32_t top = ArgMax(z);
  if (top < 0 || o.temperature < kGreedyTemperature) return top;
  if (o.temperature != 1.0f) {
    for (float& v : z) v /= o.temperature;
  }
  const float z_max = z[static_cast<size_t>(top)];
  // A +inf logit (or one that overflowed when tempered) outweighs everything finite.
  if (z_max == kPosInf) return top;

  const bool use_top_k = o.top_k > 0 && static_cast<size_t>(o.top_k) < z.size();
  const bool use_top_p = o.top_p < 1.0f;
  if (!use_top_k && !use_top_p) {
    // Min-p alone (or nothing): one pass in id order.
    for (size_t i = 0; i < z.size(); ++i) {
      if (!(z[i] > kNegInf)) continue;
      const float w = std::exp(z[i] - z_max);
      if (w > 0.0f && w >= o.min_p) s->kept.push_back({static_cast<int32_t>(i), w});
    }
    return kDrawFromKept;
  }

  std::vector<Candidate>& list = s->candidates;
  size_t length = 0;
  if (use_top_k) {
    TopK(z, static_cast<size_t>(o.top_k), &list);
    length = list.size();
    if (use_top_p) {
      double total = 0.0;
      for (const Candidate& c : list) total += std::exp(c.z - z_max);
      bool reached = false;
      length = NucleusLength(list, list.size(), z_max, total, o.top_p, &reached);
    }
  } else {
    list.clear();
    double total = 0.0;  // in id order, so it does not depend on the sort below
    for (size_t i = 0; i < z.size(); ++i) {
      if (!(z[i] > kNegInf)) continue;
      list.push_back({z[i], static_cast<int32_t>(i)});
      total += std::exp(z[i] - z_max);
    }
    NucleusOfRow(&list, z_max, total, o.top_p, &length);
  }
  // Min-p is relative to the most likely token, which every truncation keeps, so it is the
  // same before or after renormalization.
  for (size_t i = 0; i < length; ++i) {
    const float w = std::exp(list[i].z - z_max);
    if (!(w > 0.0f && w >= o.min_p)) break;  // sorted: the rest are smaller
    s->kept.push_back({list[i].id, w});
  }
  return kDrawFromKept;
}

}  // namespace

int32_t Draw(std::span<float> logits, const DrawOptions& options, double u) {
  Scratch& s = ThreadScratch();
  const int32_t forced = Truncate(logits, options, &s);
  if (forced != kDrawFromKept) return forced;
  // The arg max always has weight 1 and survives every truncation, so kept is never empty.
  double total = 0.0;
  for (const Weighted& k : s.kept) total += k.w;
  const double target = u * total;
  double cum = 0.0;
  for (const Weighted& k : s.kept) {
    cum += k.w;
    if (cum > target) return k.id;
  }
  return s.kept.back().id;  // u * total rounded up to the total
}

std::vector<int32_t> CandidateIds(std::span<float> logits, const DrawOptions& options) {
  Scratch& s = ThreadScratch();
  const int32_t forced = Truncate(logits, options, &s);
  if (forced == -1) return {};
  if (forced != kDrawFromKept) return {forced};
  std::vector<int32_t> ids;
  ids.reserve(s.kept.size());
  for (const Weighted& k : s.kept) ids.push_back(k.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

int32_t SampleToken(std::span<float> logits, const SamplingParams& params,
                    const TokenHistory& generated, uint64_t token_index) {
  ApplyLogitBias(logits, params.logit_bias);
  ApplyPenalties(logits, generated, params.repetition_penalty, params.presence_penalty,
                 params.frequency_penalty);
  const DrawOptions options{params.temperature, params.top_k, params.top_p, params.min_p};
  return Draw(logits, options, UniformDouble(params.seed, token_index));
}

}  // namespace mot::sampling
