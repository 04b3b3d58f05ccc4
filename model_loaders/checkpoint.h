// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: model_loaders/checkpoint.h
// Checkpoint: a native MoT checkpoint directory (DESIGN.md "Checkpoints"):
//   config.json                  MotConfig
//   model.safetensors            weights, names of the MoT reference code (weight_names.h)
//   tokenizer.json               text BPE (optional until the tokenizer layer needs it)
//   image_tokenizer.safetensors  (optional)
//   audio_tokenizer.safetensors  (optional)
//   manifest.json                {"format": "mot-checkpoint", "version": 1,
//                                 "files": {"config.json": {"size": N, "sha256": "hex"}, ...}}
// Open() verifies the manifest (every listed file present, sizes and SHA-256 equal; DataLoss
// otherwise, naming the file), parses config.json, maps model.safetensors and checks that it
// holds exactly the tensors weight_names::ExpectedTensors(config) lists, with those shapes
// (InvalidArgument naming the file and the tensor otherwise). Files in the directory that
// the manifest does not list are ignored (and not offered by OptionalFile).
// WriteCheckpoint writes into a temporary sibling directory and renames it into place, so a
// crash never leaves a half-written checkpoint under the final name.
// Thread rule: immutable after Open.
#ifndef MOT_MODEL_LOADERS_CHECKPOINT_H_
#define MOT_MODEL_LOADERS_CHECKPOINT_H_

#include <map>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "model_loaders/model_config.h"
#include "model_loaders/safetensors.h"

namespace mot {

struct CheckpointOpenOptions {
  // Hash every file against manifest.json (sizes are always checked). Turning it off saves
  // reading the weights twice at start-up; use only for files already verified.
  bool verify_sha256 = true;
};

class Checkpoint {
 public:
  // NotFound when manifest.json or a file it lists is missing; InvalidArgument for a bad
  // manifest (unknown fields, no config.json or model.safetensors listed), config or
  // weights; DataLoss for a size or SHA-256 mismatch. Every message names the file.
  static absl::StatusOr<Checkpoint> Open(const std::string& dir,
                                         const CheckpointOpenOptions& options = {});

  const std::string& dir() const { return dir_; }
  const MotConfig& config() const { return config_; }
  const SafetensorsFile& weights() const { return weights_; }
  // Path of an optional file ("tokenizer.json", ...) when the manifest lists it (so it was
  // verified), else "".
  std::string OptionalFile(const std::string& name) const;
  // The file names manifest.json lists.
  const std::set<std::string>& files() const { return files_; }

 private:
  Checkpoint(std::string dir, MotConfig config, SafetensorsFile weights,
             std::set<std::string> files)
      : dir_(std::move(dir)),
        config_(std::move(config)),
        weights_(std::move(weights)),
        files_(std::move(files)) {}

  std::string dir_;
  MotConfig config_;
  SafetensorsFile weights_;
  std::set<std::string> files_;
};

// Writes a checkpoint directory `dir` (which must not exist, or is replaced when
// `overwrite`) with config.json, model.safetensors of `tensors`, the given extra files
// (name -> contents, e.g. "tokenizer.json") and manifest.json (written last). Parent
// directories are created. Everything goes into a temporary sibling "<dir>.tmp-..." first,
// each file fsynced, then the directory is renamed into place (an atomic exchange when
// overwriting). InvalidArgument when config fails ValidateMotConfig, the tensors are not
// exactly those of ExpectedTensors(config), or an extra file is named "config.json",
// "model.safetensors", "manifest.json" or is not a plain file name; AlreadyExists when `dir`
// exists and !overwrite. On any failure `dir` is unchanged and the temporary removed.
absl::Status WriteCheckpoint(const std::string& dir, const MotConfig& config,
                             const std::vector<NamedTensor>& tensors,
                             const std::map<std::string, std::string>& extra_files = {},
                             bool overwrite = false);

// Lowercase hex SHA-256 of a file's contents (OpenSSL EVP).
absl::StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace mot

#endif  // MOT_MODEL_LOADERS_CHECKPOINT_H_
