// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/batch_stream.h
// BatchStream: the training data order of `mot-train train`. Each epoch visits every usable
// example of a shard set once, in a permutation fixed by (seed, epoch) (SplitMix64 and
// Fisher-Yates, so a seed names the same order on every platform); consecutive examples
// are packed into micro-batches of at most `batch_tokens` rows (an example is never split;
// one longer than batch_tokens forms a batch alone). The position in that order
// (DataPosition) is part of the resumable training state: a stream re-created at a saved
// position yields exactly the batches the original stream yielded from there.
// Usable examples: at most max_seq_len tokens and at least one loss token; the rest are
// counted and skipped.
// Towers: a MoT model routes by the shards' towers; a dense model (one tower) gets all
// zeros, while Batch::modality keeps the shards' towers for per-modality losses.
// Thread rule: one owner thread; the ShardReader is borrowed and must outlive the stream.
#ifndef MOT_TRAINER_BATCH_STREAM_H_
#define MOT_TRAINER_BATCH_STREAM_H_

#include <cstdint>
#include <vector>

#include "trainer/shard.h"
#include "trainer/train_model.h"

namespace mot::trainer {

struct DataPosition {
  int64_t epoch = 0;
  int64_t cursor = 0;  // index into the epoch's permutation of the usable examples

  bool operator==(const DataPosition&) const = default;
};

struct Batch {
  TrainBatch batch;
  std::vector<uint8_t> modality;  // the shards' tower of each row (the data's modality)
  int64_t examples = 0;
};

// Which towers the model routes by.
enum class TowerRouting { kByModality, kSingleTower };

struct BatchStreamOptions {
  uint64_t seed = 0;
  int64_t batch_tokens = 2048;  // rows per micro-batch (at least one example)
  int32_t max_seq_len = 0;      // longer examples are skipped; REQUIRES > 0
  TowerRouting routing = TowerRouting::kByModality;
  bool shuffle = true;  // false: examples in shard order (validation)
};

class BatchStream {
 public:
  // REQUIRES: reader outlives the stream; options.batch_tokens >= 1, max_seq_len >= 1.
  BatchStream(const ShardReader* reader, const BatchStreamOptions& options,
              DataPosition start = {});

  // Usable examples, and those skipped (too long or nothing to predict).
  int64_t usable_examples() const { return static_cast<int64_t>(usable_.size()); }
  int64_t skipped_examples() const { return skipped_; }

  // The next micro-batch; epochs roll over. REQUIRES: usable_examples() > 0.
  Batch Next();
  // Where the next Next() starts.
  DataPosition position() const { return pos_; }

  // The first `max_examples` usable examples (0: all), once, in shard order, packed as
  // Next() packs (for validation).
  std::vector<Batch> AllInOrder(int64_t max_examples = 0) const;

 private:
  void BuildOrder();
  void Append(int64_t example, Batch* batch) const;

  const ShardReader* reader_;
  const BatchStreamOptions options_;
  std::vector<int64_t> usable_;  // example indices, shard order
  std::vector<int64_t> order_;   // the permutation of usable_ for pos_.epoch
  int64_t order_epoch_ = -1;
  int64_t skipped_ = 0;
  DataPosition pos_;
};

// The permutation of [0, n) for (seed, epoch): Fisher-Yates over SplitMix64 with
// Lemire's unbiased bounded draws; identical on every platform.
std::vector<int64_t> EpochPermutation(int64_t n, uint64_t seed, int64_t epoch);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_BATCH_STREAM_H_
