// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/atomic_dir.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"

namespace mot::trainer {
namespace {

absl::Status ErrnoStatus(int err, absl::string_view what, const std::string& path) {
  const std::string msg = absl::StrCat(what, " ", path, ": ", std::strerror(err));
  switch (err) {
    case ENOENT:
      return absl::NotFoundError(msg);
    case EACCES:
    case EPERM:
      return absl::PermissionDeniedError(msg);
    case EEXIST:
    case ENOTEMPTY:
      return absl::AlreadyExistsError(msg);
    case ENOSPC:
    case EDQUOT:
      return absl::ResourceExhaustedError(msg);
    default:
      return absl::InternalError(msg);
  }
}

std::string ParentOf(const std::string& dir) {
  const std::filesystem::path p = std::filesystem::path(dir).parent_path();
  return p.empty() ? "." : p.string();
}

}  // namespace

absl::StatusOr<AtomicDir> AtomicDir::Begin(const std::string& dir, bool overwrite) {
  std::string clean = std::filesystem::path(dir).lexically_normal().string();
  while (clean.size() > 1 && clean.back() == '/') clean.pop_back();
  std::error_code ec;
  if (std::filesystem::exists(clean, ec) && !overwrite) {
    return absl::AlreadyExistsError(
        absl::StrCat(clean, " already exists (pass --overwrite to replace it)"));
  }
  std::filesystem::create_directories(ParentOf(clean), ec);
  if (ec) return ErrnoStatus(ec.value(), "cannot create", ParentOf(clean));
  const std::string tmp = absl::StrCat(clean, ".tmp-", getpid());
  std::filesystem::remove_all(tmp, ec);  // a leftover of a crashed run with our pid
  if (mkdir(tmp.c_str(), 0755) != 0) return ErrnoStatus(errno, "cannot create", tmp);
  return AtomicDir(clean, tmp, overwrite);
}

AtomicDir::AtomicDir(AtomicDir&& other) noexcept
    : dir_(std::move(other.dir_)),
      tmp_(std::move(other.tmp_)),
      overwrite_(other.overwrite_),
      done_(other.done_) {
  other.done_ = true;
}

AtomicDir::~AtomicDir() {
  if (done_) return;
  std::error_code ec;
  std::filesystem::remove_all(tmp_, ec);
}

absl::Status AtomicDir::Commit() {
  if (absl::Status s = FsyncDirectory(tmp_); !s.ok()) return s;
  std::error_code ec;
  if (overwrite_ && std::filesystem::exists(dir_, ec)) {
    if (renameat2(AT_FDCWD, tmp_.c_str(), AT_FDCWD, dir_.c_str(), RENAME_EXCHANGE) != 0) {
      return ErrnoStatus(errno, "cannot replace", dir_);
    }
    // tmp_ now names the old directory.
    std::filesystem::remove_all(tmp_, ec);
  } else if (rename(tmp_.c_str(), dir_.c_str()) != 0) {
    return ErrnoStatus(errno, "cannot rename into", dir_);
  }
  done_ = true;
  return FsyncDirectory(ParentOf(dir_));
}

absl::Status WriteFileSynced(const std::string& path, absl::string_view bytes) {
  return WriteFileSynced(path, std::span<const absl::string_view>(&bytes, 1));
}

absl::Status WriteFileSynced(const std::string& path, std::span<const absl::string_view> pieces) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "cannot create", path);
  for (absl::string_view bytes : pieces) {
    size_t off = 0;
    while (off < bytes.size()) {
      const ssize_t n = write(fd, bytes.data() + off, bytes.size() - off);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) {
        const int err = errno;
        close(fd);
        return ErrnoStatus(err, "cannot write", path);
      }
      off += static_cast<size_t>(n);
    }
  }
  if (fsync(fd) != 0) {
    const int err = errno;
    close(fd);
    return ErrnoStatus(err, "cannot fsync", path);
  }
  if (close(fd) != 0) return ErrnoStatus(errno, "cannot close", path);
  return absl::OkStatus();
}

absl::Status FsyncDirectory(const std::string& dir) {
  const int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "cannot open", dir);
  const int rc = fsync(fd);
  const int err = errno;
  close(fd);
  if (rc != 0) return ErrnoStatus(err, "cannot fsync", dir);
  return absl::OkStatus();
}

}  // namespace mot::trainer
