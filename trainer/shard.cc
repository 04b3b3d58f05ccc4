// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/shard.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/core/status_macros.h"
#include "model_loaders/internal/json_util.h"
#include "nlohmann/json.hpp"
#include "trainer/shard_format.h"

namespace mot::trainer {
namespace {

using json = nlohmann::json;
namespace fmt = shard_format;

template <typename T>
absl::string_view Bytes(const std::vector<T>& v) {
  return {reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T)};
}

}  // namespace

absl::StatusOr<std::unique_ptr<ShardWriter>> ShardWriter::Create(
    const std::string& dir, const ShardWriterOptions& options) {
  if (options.vocab_size < 1) return absl::InvalidArgumentError("shards: vocab_size must be >= 1");
  if (options.num_towers < 1 || options.num_towers > 255) {
    return absl::InvalidArgumentError(
        absl::StrCat("shards: num_towers must be in [1, 255], got ", options.num_towers));
  }
  if (options.max_shard_tokens < 1) {
    return absl::InvalidArgumentError("shards: max_shard_tokens must be >= 1");
  }
  MOT_ASSIGN_OR_RETURN(AtomicDir out, AtomicDir::Begin(dir, options.overwrite));
  return std::unique_ptr<ShardWriter>(new ShardWriter(std::move(out), options));
}

absl::Status ShardWriter::Add(std::span<const int32_t> ids, std::span<const uint8_t> towers,
                              std::span<const uint8_t> loss) {
  if (ids.empty()) return absl::InvalidArgumentError("shards: an example has no tokens");
  if (towers.size() != ids.size() || loss.size() != ids.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("shards: ids, towers and loss differ in length (", ids.size(), ", ",
                     towers.size(), ", ", loss.size(), ")"));
  }
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] < 0 || ids[i] >= options_.vocab_size) {
      return absl::InvalidArgumentError(absl::StrCat("shards: token ", i, " has id ", ids[i],
                                                     " outside [0, ", options_.vocab_size, ")"));
    }
    if (towers[i] >= options_.num_towers || loss[i] > 1) {
      return absl::InvalidArgumentError(
          absl::StrCat("shards: token ", i, " has tower ", towers[i], " and loss ", loss[i]));
    }
  }
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  towers_.insert(towers_.end(), towers.begin(), towers.end());
  loss_.insert(loss_.end(), loss.begin(), loss.end());
  offsets_.push_back(static_cast<int64_t>(ids_.size()));
  ++total_examples_;
  total_tokens_ += static_cast<int64_t>(ids.size());
  if (static_cast<int64_t>(ids_.size()) >= options_.max_shard_tokens) return FlushShard();
  return absl::OkStatus();
}

absl::Status ShardWriter::FlushShard() {
  const uint64_t examples = offsets_.size() - 1;
  if (examples == 0) return absl::OkStatus();
  fmt::Header header{};
  std::memcpy(header.magic, fmt::kMagic, sizeof(header.magic));
  header.version = fmt::kVersion;
  header.examples = examples;
  header.tokens = ids_.size();
  const std::string file = absl::StrFormat("shard-%05d.bin", shards_.size());
  const absl::string_view pieces[] = {{reinterpret_cast<const char*>(&header), sizeof(header)},
                                      Bytes(offsets_),
                                      Bytes(ids_),
                                      Bytes(towers_),
                                      Bytes(loss_)};
  MOT_RETURN_IF_ERROR(
      WriteFileSynced((std::filesystem::path(out_.tmp_dir()) / file).string(), pieces));
  shards_.push_back({file, static_cast<int64_t>(examples), static_cast<int64_t>(ids_.size())});
  offsets_.assign(1, 0);
  ids_.clear();
  towers_.clear();
  loss_.clear();
  return absl::OkStatus();
}

absl::Status ShardWriter::Finish() {
  if (finished_) return absl::FailedPreconditionError("shards: Finish() called twice");
  finished_ = true;
  MOT_RETURN_IF_ERROR(FlushShard());
  json list = json::array();
  for (const ShardEntry& s : shards_) {
    list.push_back({{"file", s.file}, {"examples", s.examples}, {"tokens", s.tokens}});
  }
  const json index = {{"format", fmt::kFormatName},        {"version", fmt::kVersion},
                      {"vocab_size", options_.vocab_size}, {"num_towers", options_.num_towers},
                      {"examples", total_examples_},       {"tokens", total_tokens_},
                      {"shards", std::move(list)}};
  MOT_RETURN_IF_ERROR(WriteFileSynced(
      (std::filesystem::path(out_.tmp_dir()) / fmt::kIndexFile).string(), index.dump(2) + "\n"));
  return out_.Commit();
}

ShardReader::~ShardReader() {
  for (MappedShard& s : shards_) {
    if (s.base != nullptr) munmap(s.base, s.bytes);
  }
}

absl::StatusOr<std::unique_ptr<ShardReader>> ShardReader::Open(const std::string& dir,
                                                               const ShardReaderOptions& options) {
  const std::string index_path = (std::filesystem::path(dir) / fmt::kIndexFile).string();
  std::error_code ec;
  if (!std::filesystem::exists(index_path, ec)) {
    return absl::NotFoundError(absl::StrCat(index_path, ": missing (not a shard set)"));
  }
  const auto size = std::filesystem::file_size(index_path, ec);
  if (ec || size > (uint64_t{64} << 20)) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": unreadable or too large"));
  }
  std::string text(size, '\0');
  {
    FILE* f = fopen(index_path.c_str(), "rb");
    if (f == nullptr) return absl::NotFoundError(absl::StrCat("cannot open ", index_path));
    const size_t got = fread(text.data(), 1, text.size(), f);
    fclose(f);
    if (got != text.size()) return absl::DataLossError(absl::StrCat("short read ", index_path));
  }
  absl::StatusOr<json> parsed = loaders_internal::ParseStrictJson(text, index_path);
  if (!parsed.ok()) return parsed.status();
  const json& index = *parsed;
  auto bad = [&](absl::string_view field, absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(index_path, ": field ", field, ": ", why));
  };
  auto get_int = [&](const json& obj, const char* key, int64_t lo, int64_t hi,
                     int64_t* out) -> absl::Status {
    if (!obj.is_object() || !obj.contains(key) || !obj[key].is_number_integer()) {
      return bad(key, "missing or not an integer");
    }
    const int64_t v = obj[key].get<int64_t>();
    if (v < lo || v > hi) return bad(key, absl::StrCat("out of range: ", v));
    *out = v;
    return absl::OkStatus();
  };
  if (!index.is_object() || index.value("format", "") != fmt::kFormatName) {
    return bad("format", absl::StrCat("must be \"", fmt::kFormatName, "\""));
  }
  int64_t version = 0, vocab = 0, towers = 0, examples = 0, tokens = 0;
  MOT_RETURN_IF_ERROR(get_int(index, "version", fmt::kVersion, fmt::kVersion, &version));
  MOT_RETURN_IF_ERROR(get_int(index, "vocab_size", 1, INT32_MAX, &vocab));
  MOT_RETURN_IF_ERROR(get_int(index, "num_towers", 1, 255, &towers));
  MOT_RETURN_IF_ERROR(get_int(index, "examples", 0, INT64_MAX / 16, &examples));
  MOT_RETURN_IF_ERROR(get_int(index, "tokens", 0, INT64_MAX / 16, &tokens));
  if (!index.contains("shards") || !index["shards"].is_array()) {
    return bad("shards", "missing or not an array");
  }

  auto reader = std::unique_ptr<ShardReader>(new ShardReader());
  reader->vocab_size_ = static_cast<int32_t>(vocab);
  reader->num_towers_ = static_cast<int>(towers);
  for (size_t k = 0; k < index["shards"].size(); ++k) {
    const json& entry = index["shards"][k];
    const std::string field = absl::StrCat("shards[", k, "]");
    if (!entry.is_object() || !entry.contains("file") || !entry["file"].is_string()) {
      return bad(field, "needs a \"file\" string");
    }
    const std::string name = entry["file"].get<std::string>();
    if (name.empty() || name.find('/') != std::string::npos || name[0] == '.') {
      return bad(field, "file must be a plain file name");
    }
    int64_t want_examples = 0, want_tokens = 0;
    MOT_RETURN_IF_ERROR(get_int(entry, "examples", 0, INT64_MAX / 16, &want_examples));
    MOT_RETURN_IF_ERROR(get_int(entry, "tokens", 0, INT64_MAX / 16, &want_tokens));
    const std::string path = (std::filesystem::path(dir) / name).string();
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0)
      return absl::NotFoundError(absl::StrCat("cannot open ", path, ": ", std::strerror(errno)));
    struct stat st;
    if (fstat(fd, &st) != 0) {
      close(fd);
      return absl::InternalError(absl::StrCat("cannot stat ", path));
    }
    const uint64_t want_bytes =
        fmt::FileBytes(static_cast<uint64_t>(want_examples), static_cast<uint64_t>(want_tokens));
    if (static_cast<uint64_t>(st.st_size) != want_bytes) {
      close(fd);
      return absl::InvalidArgumentError(absl::StrCat(path, ": size ", st.st_size, " bytes, but ",
                                                     want_examples, " examples and ", want_tokens,
                                                     " tokens need ", want_bytes));
    }
    void* base = mmap(nullptr, want_bytes, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (base == MAP_FAILED) {
      return absl::InternalError(absl::StrCat("cannot map ", path, ": ", std::strerror(errno)));
    }
    MappedShard shard;
    shard.base = base;
    shard.bytes = want_bytes;
    reader->shards_.push_back(shard);  // owned from here: unmapped by the destructor
    const auto* bytes = static_cast<const uint8_t*>(base);
    fmt::Header header;
    std::memcpy(&header, bytes, sizeof(header));
    if (std::memcmp(header.magic, fmt::kMagic, sizeof(header.magic)) != 0 ||
        header.version != fmt::kVersion) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": header: bad magic or version"));
    }
    if (header.examples != static_cast<uint64_t>(want_examples) ||
        header.tokens != static_cast<uint64_t>(want_tokens)) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": header: ", header.examples, " examples and ", header.tokens,
                       " tokens, but shards.json says ", want_examples, " and ", want_tokens));
    }
    MappedShard& s = reader->shards_.back();
    s.first_example = reader->num_examples_;
    s.examples = want_examples;
    s.offsets = reinterpret_cast<const int64_t*>(bytes + fmt::kHeaderBytes);
    s.ids = reinterpret_cast<const int32_t*>(bytes + fmt::kHeaderBytes +
                                             fmt::OffsetsBytes(header.examples));
    s.towers = reinterpret_cast<const uint8_t*>(s.ids + want_tokens);
    s.loss = s.towers + want_tokens;
    if (s.offsets[0] != 0 || s.offsets[want_examples] != want_tokens) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, ": offsets: must run from 0 to ", want_tokens));
    }
    for (int64_t i = 0; i < want_examples; ++i) {
      if (s.offsets[i + 1] <= s.offsets[i]) {
        return absl::InvalidArgumentError(
            absl::StrCat(path, ": offsets: example ", i, " is empty or out of order"));
      }
    }
    if (options.verify_tokens) {
      for (int64_t t = 0; t < want_tokens; ++t) {
        if (s.ids[t] < 0 || s.ids[t] >= vocab || s.towers[t] >= towers || s.loss[t] > 1) {
          return absl::InvalidArgumentError(absl::StrCat(
              path, ": token ", t, ": id ", s.ids[t], ", tower ", s.towers[t], ", loss ", s.loss[t],
              " outside vocab_size=", vocab, " / num_towers=", towers));
        }
      }
    }
    reader->num_examples_ += want_examples;
    reader->num_tokens_ += want_tokens;
    if (want_examples == 0) {  // holds nothing: keep example() from landing on it
      munmap(s.base, s.bytes);
      reader->shards_.pop_back();
    }
  }
  if (reader->num_examples_ != examples || reader->num_tokens_ != tokens) {
    return bad("examples",
               absl::StrCat("totals ", examples, "/", tokens, " disagree with the shards' ",
                            reader->num_examples_, "/", reader->num_tokens_));
  }
  return reader;
}

ExampleView ShardReader::example(int64_t i) const {
  // The shard holding example i: the last whose first_example <= i.
  size_t lo = 0, hi = shards_.size();
  while (hi - lo > 1) {
    const size_t mid = (lo + hi) / 2;
    if (shards_[mid].first_example <= i) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  const MappedShard& s = shards_[lo];
  const int64_t local = i - s.first_example;
  const int64_t begin = s.offsets[local];
  const size_t n = static_cast<size_t>(s.offsets[local + 1] - begin);
  return {{s.ids + begin, n}, {s.towers + begin, n}, {s.loss + begin, n}};
}

}  // namespace mot::trainer
