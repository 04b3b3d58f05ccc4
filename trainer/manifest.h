// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/manifest.h
// The training-data manifest: JSONL, one example per line, each an interleaved sequence of
// parts that refer to files beside the manifest:
//   {"parts": [{"text": "a red circle"}, {"image": "images/0001.png"},
//              {"audio": "audio/0001.wav"}],
//    "loss": "last",
//    "meta": {...}}
//   parts  required, non-empty; each part is an object with exactly one key: "text" (a
//          non-empty string, the text itself), "image" (a path to any image stb_image reads)
//          or "audio" (a path to any audio libsndfile reads). Paths are relative to the
//          manifest's folder (absolute paths are kept).
//   loss   optional, "last" (the default: train only on the last part, e.g. the answer of
//          a caption or text-to-image example) or "all" (every token but the first).
//   meta   optional, any JSON value, carried along and ignored by packing (the demo data
//          stores the scene's attributes there for evaluation).
// Any other key is an error, so a typo never becomes a silent default. Blank lines are
// skipped. A bad row is reported as "<manifest>:<line>: <reason>" and skipped, or ends the
// read when strict.
// Thread rule: free functions and plain values.
#ifndef MOT_TRAINER_MANIFEST_H_
#define MOT_TRAINER_MANIFEST_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "engine/tokenizer/prompt_builder.h"

namespace mot::trainer {

enum class LossMode { kLast, kAll };

struct ManifestPart {
  tokenizer::Modality modality = tokenizer::Modality::kText;
  // kText: the text. kImage / kAudio: the file's path, resolved against the manifest's folder.
  std::string value;

  bool operator==(const ManifestPart&) const = default;
};

struct ManifestExample {
  int64_t line = 0;  // 1-based line in the manifest
  std::vector<ManifestPart> parts;
  LossMode loss = LossMode::kLast;
  std::string meta_json;  // compact JSON of "meta", "" when absent

  bool operator==(const ManifestExample&) const = default;
};

// Lines longer than this are bad rows (a binary file given as a manifest).
inline constexpr size_t kMaxManifestLineBytes = size_t{16} << 20;

// Parses one manifest line. `base_dir` resolves relative paths ("" = current folder).
// When `check_files`, every image and audio file must exist and be readable.
// InvalidArgument: not JSON, not an object, a missing or mistyped field, an unknown key
// (the reason names the field, e.g. "parts[1]: \"image\" must be a string");
// NotFound / PermissionDenied: a file that is missing or unreadable (the path named).
absl::StatusOr<ManifestExample> ParseManifestLine(absl::string_view line,
                                                  const std::string& base_dir,
                                                  bool check_files = true);

// The manifest line for `example` (no newline), paths written relative to `base_dir` when
// they lie under it. ParseManifestLine(ManifestExampleToJson(e, d), d, false) equals e
// (but for `line`).
std::string ManifestExampleToJson(const ManifestExample& example, const std::string& base_dir);

enum class BadRowPolicy { kSkip, kStrict };

// A bad row: its line and the reason, without the file prefix.
struct BadRow {
  int64_t line = 0;
  absl::Status status;
};

// "<manifest>:<line>: <reason>", the form every bad-row report takes.
std::string FormatBadRow(const std::string& manifest_path, const BadRow& row);

struct Manifest {
  std::string path;  // as given
  std::vector<ManifestExample> examples;
  std::vector<BadRow> bad_rows;  // skipped rows, in line order (empty when strict)
};

// Reads a whole manifest (examples are small: parts hold paths, not data). With kSkip,
// bad rows are collected in bad_rows and `on_bad_row` (when set) is called for each as it
// is found; with kStrict the first bad row is the error: InvalidArgument (or the file's
// NotFound / PermissionDenied) with the message "<path>:<line>: <reason>".
// NotFound when the manifest itself cannot be opened.
absl::StatusOr<Manifest> ReadManifest(
    const std::string& path, BadRowPolicy policy, bool check_files = true,
    const std::function<void(const BadRow&)>& on_bad_row = nullptr);

// The part as the prompt builder takes it: text as is, an image or audio file's bytes read
// whole. NotFound / PermissionDenied naming the path; ResourceExhausted when the file is
// larger than `max_bytes`.
absl::StatusOr<tokenizer::Part> LoadPart(const ManifestPart& part,
                                         int64_t max_bytes = int64_t{64} << 20);

// The manifest path for --data / --manifest: `path` itself when it is a file, else
// `path`/train.jsonl.
std::string ResolveManifestPath(const std::string& path);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_MANIFEST_H_
