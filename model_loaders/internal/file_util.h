// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: model_loaders/internal/file_util.h
// POSIX file helpers for the loaders: reading a small file whole, writing a file atomically
// (a temporary sibling, fsync, rename, fsync of the directory) and fsyncing a directory.
// Errors are Status values naming the path and the errno text. Thread rule: free functions,
// safe from any thread (distinct paths).
#ifndef MOT_MODEL_LOADERS_INTERNAL_FILE_UTIL_H_
#define MOT_MODEL_LOADERS_INTERNAL_FILE_UTIL_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

namespace mot::loaders_internal {

// The Status for errno `err` (NotFound for ENOENT, ...), message "<what> <path>: <strerror>".
absl::Status ErrnoError(int err, const std::string& what, const std::string& path);

// Reads all of `path` (a regular file of at most `max_bytes`). NotFound when missing;
// InvalidArgument when larger than max_bytes or not a regular file.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path, uint64_t max_bytes);

// Writes `size` bytes to `fd`, retrying short writes and EINTR.
absl::Status WriteAll(int fd, const void* data, size_t size, const std::string& path);

// Writes `path` atomically: `write` fills an open temporary file in the same directory,
// which is then fsynced, closed and renamed over `path`, and the directory fsynced. On
// failure the temporary file is removed and `path` is unchanged.
absl::Status WriteFileAtomically(const std::string& path,
                                 const std::function<absl::Status(int fd)>& write);

// Opens `dir` and fsyncs it (makes renames and creations inside it durable).
absl::Status FsyncDir(const std::string& dir);

// The directory part of `path` ("." when it has none).
std::string DirName(const std::string& path);

}  // namespace mot::loaders_internal

#endif  // MOT_MODEL_LOADERS_INTERNAL_FILE_UTIL_H_
