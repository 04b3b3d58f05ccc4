// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "model_loaders/checkpoint.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <memory>
#include <random>
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "engine/core/status_macros.h"
#include "model_loaders/internal/file_util.h"
#include "model_loaders/internal/json_util.h"
#include "model_loaders/weight_names.h"
#include "nlohmann/json.hpp"
#include "openssl/evp.h"

namespace mot {
namespace {

using json = nlohmann::json;
using loaders_internal::ErrnoError;
using loaders_internal::ShortDump;

constexpr char kManifest[] = "manifest.json";
constexpr char kConfig[] = "config.json";
constexpr char kWeights[] = "model.safetensors";
constexpr char kManifestFormat[] = "mot-checkpoint";
constexpr int kManifestVersion = 1;
constexpr uint64_t kMaxManifestBytes = uint64_t{1} << 20;
constexpr size_t kMaxManifestFiles = 64;

struct ManifestEntry {
  uint64_t size = 0;
  std::string sha256;
};

// A file name a manifest may list: a plain name inside the checkpoint directory.
bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos && name.size() <= 255;
}

bool IsLowerHex64(const std::string& s) {
  if (s.size() != 64) return false;
  for (char ch : s) {
    if (!((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f'))) return false;
  }
  return true;
}

absl::StatusOr<std::map<std::string, ManifestEntry>> ParseManifest(const std::string& text,
                                                                   const std::string& path) {
  auto bad = [&](const std::string& why) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": ", why));
  };
  absl::StatusOr<json> parsed = loaders_internal::ParseStrictJson(text, "manifest");
  if (!parsed.ok()) return Annotate(parsed.status(), path);
  const json& root = *parsed;
  if (!root.is_object()) return bad("manifest is not a JSON object");
  for (const auto& [key, unused] : root.items()) {
    if (key != "format" && key != "version" && key != "files") {
      return bad(absl::StrCat("unknown field ", ShortDump(json(key))));
    }
  }
  const auto format = root.find("format");
  if (format == root.end() || !format->is_string() ||
      format->get_ref<const std::string&>() != kManifestFormat) {
    return bad(absl::StrCat("field format: must be \"", kManifestFormat, "\""));
  }
  const auto version = root.find("version");
  if (version == root.end() || !version->is_number_integer() ||
      version->get<int64_t>() != kManifestVersion) {
    return bad(absl::StrCat("field version: must be ", kManifestVersion));
  }
  const auto files = root.find("files");
  if (files == root.end() || !files->is_object()) {
    return bad("field files: must be an object of name -> {size, sha256}");
  }
  if (files->size() > kMaxManifestFiles) {
    return bad(absl::StrCat("field files: more than ", kMaxManifestFiles, " entries"));
  }
  std::map<std::string, ManifestEntry> out;
  for (const auto& [name, info] : files->items()) {
    const std::string field = absl::StrCat("field files.", ShortDump(json(name)));
    if (!IsPlainFileName(name) || name == kManifest) {
      return bad(absl::StrCat(field, ": not a file name inside the checkpoint"));
    }
    if (!info.is_object()) return bad(absl::StrCat(field, ": must be an object"));
    for (const auto& [key, unused] : info.items()) {
      if (key != "size" && key != "sha256") {
        return bad(absl::StrCat(field, ": unknown field ", ShortDump(json(key))));
      }
    }
    const auto size = info.find("size");
    if (size == info.end() || !size->is_number_unsigned()) {
      return bad(absl::StrCat(field, ".size: must be a non-negative integer"));
    }
    const auto sha = info.find("sha256");
    if (sha == info.end() || !sha->is_string() ||
        !IsLowerHex64(sha->get_ref<const std::string&>())) {
      return bad(absl::StrCat(field, ".sha256: must be 64 lowercase hex digits"));
    }
    out[name] = ManifestEntry{size->get<uint64_t>(), sha->get<std::string>()};
  }
  for (const char* required : {kConfig, kWeights}) {
    if (out.find(required) == out.end()) {
      return bad(absl::StrCat("field files: does not list ", required));
    }
  }
  return out;
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

// Every tensor config.json implies is present with its shape, and nothing else is.
// `shapes`: name -> shape of the tensors present; `path` names the weights file.
absl::Status CheckWeights(const MotConfig& config,
                          const std::map<std::string, std::vector<int64_t>, std::less<>>& shapes,
                          const std::string& path) {
  const std::vector<weight_names::ExpectedTensor> expected = weight_names::ExpectedTensors(config);
  std::set<std::string_view> names;
  for (const weight_names::ExpectedTensor& e : expected) {
    names.insert(e.name);
    const auto got = shapes.find(e.name);
    if (got == shapes.end()) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": tensor '", e.name,
                                                     "' is missing (config.json implies shape ",
                                                     ShapeString(e.shape), ")"));
    }
    if (got->second != e.shape) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": tensor '", e.name, "' has shape ", ShapeString(got->second),
                       " but config.json implies ", ShapeString(e.shape)));
    }
  }
  for (const auto& [name, unused] : shapes) {
    if (names.find(name) == names.end()) {
      return absl::InvalidArgumentError(absl::StrCat(
          path, ": unexpected tensor '", name, "' (not part of the model config.json describes)"));
    }
  }
  return absl::OkStatus();
}

// Creates `dir`'s sibling temporary directory: "<dir>.tmp-<pid>-<random>".
absl::StatusOr<std::string> MakeTempSibling(const std::string& dir) {
  std::random_device rd;
  for (int attempt = 0; attempt < 16; ++attempt) {
    const std::string tmp = absl::StrCat(dir, ".tmp-", ::getpid(), "-", rd() % 1000000);
    if (::mkdir(tmp.c_str(), 0755) == 0) return tmp;
    if (errno != EEXIST) return ErrnoError(errno, "cannot create directory", tmp);
  }
  return absl::AlreadyExistsError(absl::StrCat("cannot find a free temporary name for ", dir));
}

absl::Status WriteSmallFile(const std::string& path, const std::string& contents) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoError(errno, "cannot create", path);
  absl::Status s = loaders_internal::WriteAll(fd, contents.data(), contents.size(), path);
  if (s.ok() && ::fsync(fd) != 0) s = ErrnoError(errno, "cannot fsync", path);
  if (::close(fd) != 0 && s.ok()) s = ErrnoError(errno, "cannot close", path);
  return s;
}

absl::Status CheckExtraFileName(const std::string& name) {
  if (!IsPlainFileName(name) || name == kManifest || name == kConfig || name == kWeights) {
    return absl::InvalidArgumentError(
        absl::StrCat("WriteCheckpoint: extra file name ", ShortDump(json(name)),
                     " is not allowed (a plain name other than manifest.json, config.json "
                     "and model.safetensors)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::string> Sha256File(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoError(errno, "cannot open", path);
  std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(), EVP_MD_CTX_free);
  if (ctx == nullptr || EVP_DigestInit_ex(ctx.get(), EVP_sha256(), nullptr) != 1) {
    ::close(fd);
    return absl::InternalError("OpenSSL: cannot initialise SHA-256");
  }
  std::vector<unsigned char> buf(size_t{1} << 20);
  for (;;) {
    const ssize_t n = ::read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int err = errno;
      ::close(fd);
      return ErrnoError(err, "cannot read", path);
    }
    if (n == 0) break;
    if (EVP_DigestUpdate(ctx.get(), buf.data(), static_cast<size_t>(n)) != 1) {
      ::close(fd);
      return absl::InternalError("OpenSSL: SHA-256 update failed");
    }
  }
  ::close(fd);
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_DigestFinal_ex(ctx.get(), digest, &len) != 1) {
    return absl::InternalError("OpenSSL: SHA-256 final failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < len; ++i) {
    hex.push_back(kHex[digest[i] >> 4]);
    hex.push_back(kHex[digest[i] & 0xf]);
  }
  return hex;
}

absl::StatusOr<Checkpoint> Checkpoint::Open(const std::string& dir,
                                            const CheckpointOpenOptions& options) {
  const std::string manifest_path = absl::StrCat(dir, "/", kManifest);
  MOT_ASSIGN_OR_RETURN(const std::string manifest_text,
                       loaders_internal::ReadSmallFile(manifest_path, kMaxManifestBytes));
  MOT_ASSIGN_OR_RETURN(auto manifest, ParseManifest(manifest_text, manifest_path));

  for (const auto& [name, entry] : manifest) {
    const std::string path = absl::StrCat(dir, "/", name);
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) {
      const int err = errno;
      if (err == ENOENT) {
        return absl::NotFoundError(absl::StrCat(path, ": listed in manifest.json but missing"));
      }
      return ErrnoError(err, "cannot stat", path);
    }
    if (!S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": not a regular file"));
    }
    if (static_cast<uint64_t>(st.st_size) != entry.size) {
      return absl::DataLossError(absl::StrCat(path, ": size is ", st.st_size,
                                              " bytes but manifest.json says ", entry.size));
    }
    if (options.verify_sha256) {
      MOT_ASSIGN_OR_RETURN(const std::string sha, Sha256File(path));
      if (sha != entry.sha256) {
        return absl::DataLossError(
            absl::StrCat(path, ": SHA-256 is ", sha, " but manifest.json says ", entry.sha256));
      }
    }
  }

  MOT_ASSIGN_OR_RETURN(MotConfig config, LoadMotConfig(absl::StrCat(dir, "/", kConfig)));
  const std::string weights_path = absl::StrCat(dir, "/", kWeights);
  MOT_ASSIGN_OR_RETURN(SafetensorsFile weights, SafetensorsFile::Open(weights_path));
  std::map<std::string, std::vector<int64_t>, std::less<>> shapes;
  for (const SafetensorsEntry& e : weights.entries()) shapes[e.name] = e.shape;
  MOT_RETURN_IF_ERROR(CheckWeights(config, shapes, weights_path));

  std::set<std::string> files;
  for (const auto& [name, unused] : manifest) files.insert(name);
  return Checkpoint(dir, std::move(config), std::move(weights), std::move(files));
}

std::string Checkpoint::OptionalFile(const std::string& name) const {
  if (files_.find(name) == files_.end()) return "";
  return absl::StrCat(dir_, "/", name);
}

absl::Status WriteCheckpoint(const std::string& dir, const MotConfig& config,
                             const std::vector<NamedTensor>& tensors,
                             const std::map<std::string, std::string>& extra_files,
                             bool overwrite) {
  namespace fs = std::filesystem;
  // Everything that can be checked before touching the disk.
  MOT_RETURN_IF_ERROR(Annotate(ValidateMotConfig(config), "WriteCheckpoint: config"));
  for (const auto& [name, unused] : extra_files) MOT_RETURN_IF_ERROR(CheckExtraFileName(name));
  {
    std::map<std::string, std::vector<int64_t>, std::less<>> shapes;
    for (const NamedTensor& t : tensors) {
      if (!shapes.emplace(t.name, t.tensor.shape()).second) {
        return absl::InvalidArgumentError(
            absl::StrCat("WriteCheckpoint: tensor name '", t.name, "' given twice"));
      }
    }
    MOT_RETURN_IF_ERROR(
        Annotate(CheckWeights(config, shapes, kWeights), "WriteCheckpoint: tensors"));
  }
  std::error_code ec;
  if (!overwrite && fs::exists(fs::symlink_status(dir, ec))) {
    return absl::AlreadyExistsError(
        absl::StrCat(dir, ": already exists (pass overwrite to replace it)"));
  }
  const std::string parent = loaders_internal::DirName(dir);
  fs::create_directories(parent, ec);
  if (ec) {
    return absl::InternalError(
        absl::StrCat("cannot create directory ", parent, ": ", ec.message()));
  }

  MOT_ASSIGN_OR_RETURN(const std::string tmp, MakeTempSibling(dir));
  auto cleanup = [&](absl::Status s) {
    std::error_code ignored;
    fs::remove_all(tmp, ignored);
    return s;
  };

  // model.safetensors streams from the tensors; the small files are written whole.
  std::map<std::string, std::string> contents = extra_files;
  contents[kConfig] = MotConfigToJson(config);
  json files = json::object();
  auto add_to_manifest = [&](const std::string& name) -> absl::Status {
    const std::string path = absl::StrCat(tmp, "/", name);
    MOT_ASSIGN_OR_RETURN(const std::string sha, Sha256File(path));
    std::error_code size_ec;
    const uint64_t size = fs::file_size(path, size_ec);
    if (size_ec)
      return absl::InternalError(absl::StrCat("cannot stat ", path, ": ", size_ec.message()));
    files[name] = {{"size", size}, {"sha256", sha}};
    return absl::OkStatus();
  };
  for (const auto& [name, bytes] : contents) {
    const std::string path = absl::StrCat(tmp, "/", name);
    if (absl::Status s = WriteSmallFile(path, bytes); !s.ok()) return cleanup(s);
    if (absl::Status s = add_to_manifest(name); !s.ok()) return cleanup(s);
  }
  if (absl::Status s = WriteSafetensors(absl::StrCat(tmp, "/", kWeights), tensors); !s.ok()) {
    return cleanup(s);
  }
  if (absl::Status s = add_to_manifest(kWeights); !s.ok()) return cleanup(s);
  // The manifest last: a directory with a manifest has all its files.
  const json manifest = {
      {"format", kManifestFormat}, {"version", kManifestVersion}, {"files", files}};
  if (absl::Status s = WriteSmallFile(absl::StrCat(tmp, "/", kManifest), manifest.dump(2) + "\n");
      !s.ok()) {
    return cleanup(s);
  }
  if (absl::Status s = loaders_internal::FsyncDir(tmp); !s.ok()) return cleanup(s);

  if (!overwrite) {
    // RENAME_NOREPLACE: fail rather than replace a directory created meanwhile.
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_NOREPLACE) != 0) {
      const int err = errno;
      if (err == EEXIST) {
        return cleanup(absl::AlreadyExistsError(absl::StrCat(dir, ": already exists")));
      }
      if (err != EINVAL && err != ENOSYS) {
        return cleanup(ErrnoError(err, absl::StrCat("cannot rename ", tmp, " to"), dir));
      }
      // The file system lacks RENAME_NOREPLACE; rename() still refuses a non-empty dir.
      if (::rename(tmp.c_str(), dir.c_str()) != 0) {
        return cleanup(ErrnoError(errno, absl::StrCat("cannot rename ", tmp, " to"), dir));
      }
    }
  } else if (fs::exists(fs::symlink_status(dir, ec))) {
    // Swap the new directory with the old one atomically, then delete the old one.
    if (::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, dir.c_str(), RENAME_EXCHANGE) != 0) {
      const int err = errno;
      if (err != EINVAL && err != ENOSYS) {
        return cleanup(ErrnoError(err, absl::StrCat("cannot exchange ", tmp, " with"), dir));
      }
      // No RENAME_EXCHANGE: move the old one aside first (a short window without `dir`).
      const std::string old = absl::StrCat(tmp, ".old");
      if (::rename(dir.c_str(), old.c_str()) != 0) {
        return cleanup(ErrnoError(errno, "cannot move aside", dir));
      }
      if (::rename(tmp.c_str(), dir.c_str()) != 0) {
        const int rename_err = errno;
        ::rename(old.c_str(), dir.c_str());
        return cleanup(ErrnoError(rename_err, absl::StrCat("cannot rename ", tmp, " to"), dir));
      }
      fs::remove_all(old, ec);
    } else {
      fs::remove_all(tmp, ec);  // now holds the old checkpoint
    }
  } else if (::rename(tmp.c_str(), dir.c_str()) != 0) {
    return cleanup(ErrnoError(errno, absl::StrCat("cannot rename ", tmp, " to"), dir));
  }
  return loaders_internal::FsyncDir(parent);
}

}  // namespace mot
