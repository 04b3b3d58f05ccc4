// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/shard.h
// Packed token shards (layout in shard_format.h): ShardWriter appends tokenized examples
// and cuts a new shard file every `max_shard_tokens` tokens; ShardReader maps the files
// read-only (mmap), so a data set larger than memory is paged in as training reads it.
//   ShardWriter w(dir, {.vocab_size = V, .num_towers = T});
//   w.Add(ids, towers, loss); ... ; w.Finish();
//   auto r = ShardReader::Open(dir);  r->example(i).ids ...
// The writer builds the set in a temporary sibling "<dir>.tmp-<pid>" and renames it into
// place in Finish(), so `dir` never holds a half-written set.
// Thread rule: a ShardWriter is used by one thread. A ShardReader is immutable after Open;
// its views stay valid while it lives and may be read from any thread.
#ifndef MOT_TRAINER_SHARD_H_
#define MOT_TRAINER_SHARD_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "trainer/atomic_dir.h"

namespace mot::trainer {

struct ShardWriterOptions {
  int32_t vocab_size = 0;  // every id must lie in [0, vocab_size)
  int num_towers = 1;      // every tower must lie in [0, num_towers)
  // A shard is closed once it holds at least this many tokens (an example is never split);
  // the writer buffers one shard in memory (6 bytes a token).
  int64_t max_shard_tokens = int64_t{16} << 20;
  bool overwrite = false;  // replace an existing `dir`
};

class ShardWriter {
 public:
  // Creates the temporary directory. InvalidArgument: vocab_size < 1, num_towers outside
  // [1, 255], max_shard_tokens < 1; AlreadyExists: `dir` exists and !overwrite; errno-based
  // errors naming the path.
  static absl::StatusOr<std::unique_ptr<ShardWriter>> Create(const std::string& dir,
                                                             const ShardWriterOptions& options);
  // The temporary directory is removed unless Finish() succeeded.

  // Appends one example. InvalidArgument (nothing appended): empty, spans of different
  // lengths, an id or tower out of range, a loss value other than 0 or 1.
  absl::Status Add(std::span<const int32_t> ids, std::span<const uint8_t> towers,
                   std::span<const uint8_t> loss);

  // Writes the last shard and shards.json, fsyncs, and renames the set into place.
  // REQUIRES: called once.
  absl::Status Finish();

  int64_t examples() const { return total_examples_; }
  int64_t tokens() const { return total_tokens_; }

 private:
  ShardWriter(AtomicDir out, const ShardWriterOptions& options)
      : out_(std::move(out)), options_(options) {}
  absl::Status FlushShard();

  struct ShardEntry {
    std::string file;
    int64_t examples;
    int64_t tokens;
  };

  AtomicDir out_;
  const ShardWriterOptions options_;
  std::vector<int64_t> offsets_{0};
  std::vector<int32_t> ids_;
  std::vector<uint8_t> towers_;
  std::vector<uint8_t> loss_;
  std::vector<ShardEntry> shards_;
  int64_t total_examples_ = 0;
  int64_t total_tokens_ = 0;
  bool finished_ = false;
};

// One example, viewed in place in a mapped shard.
struct ExampleView {
  std::span<const int32_t> ids;
  std::span<const uint8_t> towers;
  std::span<const uint8_t> loss;  // 1: a training target
};

struct ShardReaderOptions {
  // Check every id and tower against shards.json's vocab_size and num_towers (one
  // sequential pass over the data at Open). Offsets and sizes are always checked.
  bool verify_tokens = true;
};

class ShardReader {
 public:
  // Maps every shard of the set in `dir`. NotFound: no shards.json or a listed file missing;
  // InvalidArgument naming the file and the field: a bad shards.json, a bad header, a file
  // size other than the layout's, offsets out of order, counts that disagree with
  // shards.json, an id or tower out of range (verify_tokens).
  static absl::StatusOr<std::unique_ptr<ShardReader>> Open(const std::string& dir,
                                                           const ShardReaderOptions& options = {});
  ~ShardReader();
  ShardReader(const ShardReader&) = delete;
  ShardReader& operator=(const ShardReader&) = delete;

  int64_t num_examples() const { return num_examples_; }
  int64_t num_tokens() const { return num_tokens_; }
  int32_t vocab_size() const { return vocab_size_; }
  int num_towers() const { return num_towers_; }

  // Example `i` in [0, num_examples()), in the order written. REQUIRES: i in range.
  ExampleView example(int64_t i) const;

 private:
  struct MappedShard {
    void* base = nullptr;
    size_t bytes = 0;
    int64_t first_example = 0;  // global index of its example 0
    int64_t examples = 0;
    const int64_t* offsets = nullptr;
    const int32_t* ids = nullptr;
    const uint8_t* towers = nullptr;
    const uint8_t* loss = nullptr;
  };
  ShardReader() = default;

  std::vector<MappedShard> shards_;
  int64_t num_examples_ = 0;
  int64_t num_tokens_ = 0;
  int32_t vocab_size_ = 0;
  int num_towers_ = 0;
};

}  // namespace mot::trainer

#endif  // MOT_TRAINER_SHARD_H_
