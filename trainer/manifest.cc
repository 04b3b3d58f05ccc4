// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/manifest.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string_view>

#include "absl/strings/str_cat.h"
#include "model_loaders/internal/json_util.h"
#include "nlohmann/json.hpp"

namespace mot::trainer {
namespace {

using json = nlohmann::json;
using tokenizer::Modality;

std::string Dump(const json& v) {
  return v.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

// NotFound / PermissionDenied when `path` is not a readable regular file.
absl::Status CheckReadableFile(const std::string& path, absl::string_view field) {
  std::error_code ec;
  const auto status = std::filesystem::status(path, ec);
  if (ec || !std::filesystem::exists(status)) {
    return absl::NotFoundError(absl::StrCat(field, ": file ", path, " does not exist"));
  }
  if (!std::filesystem::is_regular_file(status)) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", path, " is not a regular file"));
  }
  if (access(path.c_str(), R_OK) != 0) {
    const int err = errno;
    return absl::PermissionDeniedError(
        absl::StrCat(field, ": cannot read ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

absl::StatusOr<ManifestPart> ParsePart(const json& p, size_t index, const std::string& base_dir,
                                       bool check_files) {
  const std::string field = absl::StrCat("parts[", index, "]");
  if (!p.is_object() || p.size() != 1) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": must be an object with one key, \"text\", \"image\" or \"audio\", got ",
        loaders_internal::ShortDump(p)));
  }
  const auto& [key, value] = *p.items().begin();
  ManifestPart part;
  if (key == "text") {
    part.modality = Modality::kText;
  } else if (key == "image") {
    part.modality = Modality::kImage;
  } else if (key == "audio") {
    part.modality = Modality::kAudio;
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        field, ": unknown key \"", key, "\" (expected \"text\", \"image\" or \"audio\")"));
  }
  if (!value.is_string() || value.get_ref<const std::string&>().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": \"", key,
                                                   "\" must be a non-empty string, got ",
                                                   loaders_internal::ShortDump(value)));
  }
  part.value = value.get<std::string>();
  if (part.modality != Modality::kText) {
    std::filesystem::path path(part.value);
    if (path.is_relative() && !base_dir.empty()) path = std::filesystem::path(base_dir) / path;
    part.value = path.lexically_normal().string();
    if (check_files) {
      if (absl::Status s = CheckReadableFile(part.value, absl::StrCat(field, " (", key, ")"));
          !s.ok()) {
        return s;
      }
    }
  }
  return part;
}

}  // namespace

absl::StatusOr<ManifestExample> ParseManifestLine(absl::string_view line,
                                                  const std::string& base_dir, bool check_files) {
  absl::StatusOr<json> parsed =
      loaders_internal::ParseStrictJson(std::string_view(line.data(), line.size()), "the line");
  if (!parsed.ok()) return parsed.status();
  const json& row = *parsed;
  if (!row.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the line must be a JSON object, got ", loaders_internal::ShortDump(row)));
  }
  ManifestExample example;
  bool has_parts = false;
  for (const auto& [key, value] : row.items()) {
    if (key == "parts") {
      has_parts = true;
      if (!value.is_array() || value.empty()) {
        return absl::InvalidArgumentError("field parts: must be a non-empty array");
      }
      for (size_t i = 0; i < value.size(); ++i) {
        absl::StatusOr<ManifestPart> part = ParsePart(value[i], i, base_dir, check_files);
        if (!part.ok()) return part.status();
        example.parts.push_back(*std::move(part));
      }
    } else if (key == "loss") {
      if (value == "last") {
        example.loss = LossMode::kLast;
      } else if (value == "all") {
        example.loss = LossMode::kAll;
      } else {
        return absl::InvalidArgumentError(absl::StrCat(
            "field loss: must be \"last\" or \"all\", got ", loaders_internal::ShortDump(value)));
      }
    } else if (key == "meta") {
      example.meta_json = Dump(value);
    } else {
      return absl::InvalidArgumentError(
          absl::StrCat("unknown field \"", key, "\" (expected parts, loss, meta)"));
    }
  }
  if (!has_parts) return absl::InvalidArgumentError("missing field parts");
  return example;
}

std::string ManifestExampleToJson(const ManifestExample& example, const std::string& base_dir) {
  json parts = json::array();
  for (const ManifestPart& part : example.parts) {
    std::string value = part.value;
    if (part.modality != Modality::kText && !base_dir.empty()) {
      const std::filesystem::path rel =
          std::filesystem::path(value).lexically_relative(std::filesystem::path(base_dir));
      if (!rel.empty() && *rel.begin() != "..") value = rel.string();
    }
    parts.push_back(json{{tokenizer::ModalityName(part.modality), value}});
  }
  json row = {{"parts", std::move(parts)},
              {"loss", example.loss == LossMode::kAll ? "all" : "last"}};
  if (!example.meta_json.empty()) {
    json meta = json::parse(example.meta_json, nullptr, /*allow_exceptions=*/false);
    if (!meta.is_discarded()) row["meta"] = std::move(meta);
  }
  return Dump(row);
}

std::string FormatBadRow(const std::string& manifest_path, const BadRow& row) {
  return absl::StrCat(manifest_path, ":", row.line, ": ", row.status.message());
}

absl::StatusOr<Manifest> ReadManifest(const std::string& path, BadRowPolicy policy,
                                      bool check_files,
                                      const std::function<void(const BadRow&)>& on_bad_row) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open manifest ", path));
  const std::string base_dir = std::filesystem::path(path).parent_path().string();
  Manifest manifest;
  manifest.path = path;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    absl::StatusOr<ManifestExample> example =
        line.size() > kMaxManifestLineBytes
            ? absl::InvalidArgumentError(absl::StrCat("the line has ", line.size(),
                                                      " bytes, over the limit of ",
                                                      kMaxManifestLineBytes))
            : ParseManifestLine(line, base_dir, check_files);
    if (example.ok()) {
      example->line = line_no;
      manifest.examples.push_back(*std::move(example));
      continue;
    }
    BadRow bad{line_no, example.status()};
    if (policy == BadRowPolicy::kStrict) {
      return absl::Status(bad.status.code(), FormatBadRow(path, bad));
    }
    if (on_bad_row) on_bad_row(bad);
    manifest.bad_rows.push_back(std::move(bad));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading manifest ", path));
  return manifest;
}

absl::StatusOr<tokenizer::Part> LoadPart(const ManifestPart& part, int64_t max_bytes) {
  tokenizer::Part out;
  out.modality = part.modality;
  if (part.modality == Modality::kText) {
    out.data = part.value;
    return out;
  }
  std::ifstream in(part.value, std::ios::binary);
  if (!in) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", part.value, ": ", std::strerror(errno)));
  }
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) return absl::DataLossError(absl::StrCat("cannot read ", part.value));
  if (size > max_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat(part.value, ": ", size, " bytes, over the limit of ", max_bytes));
  }
  in.seekg(0);
  out.data.resize(static_cast<size_t>(size));
  if (!in.read(out.data.data(), size)) {
    return absl::DataLossError(absl::StrCat("cannot read ", part.value));
  }
  return out;
}

std::string ResolveManifestPath(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) {
    return (std::filesystem::path(path) / "train.jsonl").string();
  }
  return path;
}

}  // namespace mot::trainer
