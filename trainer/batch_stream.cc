// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/batch_stream.h"

#include <cassert>
#include <numeric>
#include <utility>

namespace mot::trainer {
namespace {

uint64_t SplitMix64(uint64_t* state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// Uniform in [0, bound) without modulo bias (Lemire 2019). REQUIRES: bound > 0.
uint64_t Bounded(uint64_t* state, uint64_t bound) {
  unsigned __int128 m = static_cast<unsigned __int128>(SplitMix64(state)) * bound;
  auto low = static_cast<uint64_t>(m);
  if (low < bound) {
    const uint64_t threshold = (0 - bound) % bound;
    while (low < threshold) {
      m = static_cast<unsigned __int128>(SplitMix64(state)) * bound;
      low = static_cast<uint64_t>(m);
    }
  }
  return static_cast<uint64_t>(m >> 64);
}

}  // namespace

std::vector<int64_t> EpochPermutation(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  std::iota(p.begin(), p.end(), int64_t{0});
  // Mix seed and epoch so that neighbouring seeds do not give shifted orders.
  uint64_t state = seed ^ (0xd1b54a32d192ed03ull * static_cast<uint64_t>(epoch + 1));
  SplitMix64(&state);
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(Bounded(&state, static_cast<uint64_t>(i + 1)));
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}

BatchStream::BatchStream(const ShardReader* reader, const BatchStreamOptions& options,
                         DataPosition start)
    : reader_(reader), options_(options), pos_(start) {
  assert(options.batch_tokens >= 1 && options.max_seq_len >= 1);
  for (int64_t i = 0; i < reader_->num_examples(); ++i) {
    const ExampleView e = reader_->example(i);
    bool predicts = false;
    // Position 0 is never predicted, so its loss flag does not count.
    for (size_t t = 1; t < e.loss.size() && !predicts; ++t) predicts = e.loss[t] != 0;
    if (static_cast<int64_t>(e.ids.size()) > options_.max_seq_len || !predicts) {
      ++skipped_;
      continue;
    }
    usable_.push_back(i);
  }
}

void BatchStream::BuildOrder() {
  if (order_epoch_ == pos_.epoch) return;
  const auto n = static_cast<int64_t>(usable_.size());
  if (options_.shuffle) {
    const std::vector<int64_t> p = EpochPermutation(n, options_.seed, pos_.epoch);
    order_.resize(p.size());
    for (size_t i = 0; i < p.size(); ++i) order_[i] = usable_[static_cast<size_t>(p[i])];
  } else {
    order_ = usable_;
  }
  order_epoch_ = pos_.epoch;
}

void BatchStream::Append(int64_t example, Batch* b) const {
  const ExampleView e = reader_->example(example);
  TrainBatch& t = b->batch;
  t.example_begin.push_back(static_cast<int32_t>(t.ids.size()));
  t.ids.insert(t.ids.end(), e.ids.begin(), e.ids.end());
  b->modality.insert(b->modality.end(), e.towers.begin(), e.towers.end());
  if (options_.routing == TowerRouting::kSingleTower) {
    t.towers.insert(t.towers.end(), e.towers.size(), uint8_t{0});
  } else {
    t.towers.insert(t.towers.end(), e.towers.begin(), e.towers.end());
  }
  t.loss_mask.insert(t.loss_mask.end(), e.loss.begin(), e.loss.end());
  t.loss_mask[static_cast<size_t>(t.example_begin.back())] = 0;  // nothing predicts row 0
  ++b->examples;
}

Batch BatchStream::Next() {
  assert(!usable_.empty());
  Batch b;
  while (true) {
    if (pos_.cursor >= static_cast<int64_t>(usable_.size())) {
      ++pos_.epoch;
      pos_.cursor = 0;
    }
    BuildOrder();
    const int64_t example = order_[static_cast<size_t>(pos_.cursor)];
    const auto len = static_cast<int64_t>(reader_->example(example).ids.size());
    if (b.examples > 0 && b.batch.size() + len > options_.batch_tokens) break;
    Append(example, &b);
    ++pos_.cursor;
    if (b.batch.size() >= options_.batch_tokens) break;
  }
  return b;
}

std::vector<Batch> BatchStream::AllInOrder(int64_t max_examples) const {
  std::vector<Batch> out;
  Batch b;
  int64_t taken = 0;
  for (const int64_t example : usable_) {
    if (max_examples > 0 && taken++ >= max_examples) break;
    const auto len = static_cast<int64_t>(reader_->example(example).ids.size());
    if (b.examples > 0 && b.batch.size() + len > options_.batch_tokens) {
      out.push_back(std::move(b));
      b = Batch();
    }
    Append(example, &b);
  }
  if (b.examples > 0) out.push_back(std::move(b));
  return out;
}

}  // namespace mot::trainer
