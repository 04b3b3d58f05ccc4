// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/pack.h
// PackManifest: `mot-train data --pack`. Tokenizes every example of a manifest with a
// PromptBuilder and writes a shard set (shard.h) in manifest order. One example becomes
//   <bos> part 0 ... part n-1 <eos>
// (each part as PromptBuilder gives it: text ids, <boi> codes <eoi>, <boa> codes <eoa>),
// with each token's tower, and a loss mask: loss "all" marks every token but <bos>; "last"
// marks the last part's tokens and <eos>. A row whose part the tokenizer refuses (an
// undecodable image, audio too long, ...) or which exceeds max_tokens is a bad row
// "<manifest>:<line>: <reason>", skipped or fatal as `policy` says.
// Work is done in parallel over batches of examples; the output does not depend on the
// number of threads.
// Thread rule: reentrant; the builder is only read.
#ifndef MOT_TRAINER_PACK_H_
#define MOT_TRAINER_PACK_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/thread_pool.h"
#include "engine/tokenizer/prompt_builder.h"
#include "trainer/manifest.h"

namespace mot::trainer {

// One tokenized example, as stored in a shard.
struct PackedExample {
  std::vector<int32_t> ids;
  std::vector<uint8_t> towers;
  std::vector<uint8_t> loss;
};

// Tokenizes one example (files read here). Errors name the part: "parts[1] (image): ...";
// ResourceExhausted when it has more than max_tokens tokens (0: no limit).
absl::StatusOr<PackedExample> PackExample(const tokenizer::PromptBuilder& builder,
                                          const ManifestExample& example, int64_t max_tokens);

struct PackOptions {
  std::string manifest;
  std::string out;  // the shard set's directory
  bool overwrite = false;
  BadRowPolicy policy = BadRowPolicy::kSkip;
  int64_t max_tokens = 4096;  // per example; longer ones are bad rows
  int64_t max_shard_tokens = int64_t{16} << 20;
  ThreadPool* pool = nullptr;
  std::function<void(const std::string&)> on_bad_row;
};

struct PackReport {
  int64_t examples = 0;
  int64_t bad_rows = 0;
  int64_t tokens = 0;
  int64_t loss_tokens = 0;
};

// Errors: the manifest's (strict), the shard writer's; on failure `out` is unchanged.
absl::StatusOr<PackReport> PackManifest(const tokenizer::PromptBuilder& builder,
                                        const PackOptions& options);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_PACK_H_
