// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/atomic_dir.h
// AtomicDir: builds an output directory (tokenizers, shards) under a temporary sibling
// "<dir>.tmp-<pid>" and renames it into place on Commit(), so a crash or an error never
// leaves a half-written directory under the final name (the same rule as WriteCheckpoint).
// Replacing an existing directory is an atomic exchange (renameat2 RENAME_EXCHANGE), then
// the old one is removed. Thread rule: one owner thread.
#ifndef MOT_TRAINER_ATOMIC_DIR_H_
#define MOT_TRAINER_ATOMIC_DIR_H_

#include <span>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mot::trainer {

class AtomicDir {
 public:
  // Creates the temporary directory (and the parents of `dir`). AlreadyExists when `dir`
  // exists and !overwrite; errno-based errors naming the path.
  static absl::StatusOr<AtomicDir> Begin(const std::string& dir, bool overwrite);
  AtomicDir(AtomicDir&& other) noexcept;
  AtomicDir& operator=(AtomicDir&&) = delete;
  // Removes the temporary directory unless committed.
  ~AtomicDir();

  // Where to write the files.
  const std::string& tmp_dir() const { return tmp_; }
  const std::string& final_dir() const { return dir_; }

  // fsyncs the temporary directory, renames it to `dir` (replacing the old one when
  // overwriting), fsyncs the parent. On failure `dir` is unchanged.
  absl::Status Commit();

 private:
  AtomicDir(std::string dir, std::string tmp, bool overwrite)
      : dir_(std::move(dir)), tmp_(std::move(tmp)), overwrite_(overwrite) {}

  std::string dir_;
  std::string tmp_;
  bool overwrite_ = false;
  bool done_ = false;
};

// Writes `bytes` to `path` (created or truncated) and fsyncs it. Errors name the path.
absl::Status WriteFileSynced(const std::string& path, absl::string_view bytes);
// The same for the concatenation of `pieces`, written one after another without a copy.
absl::Status WriteFileSynced(const std::string& path, std::span<const absl::string_view> pieces);

// fsyncs a directory (its entries' creation and renames become durable).
absl::Status FsyncDirectory(const std::string& dir);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_ATOMIC_DIR_H_
