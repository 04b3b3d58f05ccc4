// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "clients/cli_parts.h"

#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mot::cli {
namespace {

std::string MimeFromPath(const std::string& path) {
  const size_t dot = path.rfind('.');
  if (dot == std::string::npos) return "";
  const std::string ext = absl::AsciiStrToLower(path.substr(dot + 1));
  if (ext == "png") return "image/png";
  if (ext == "jpg" || ext == "jpeg") return "image/jpeg";
  if (ext == "gif") return "image/gif";
  if (ext == "bmp") return "image/bmp";
  if (ext == "wav") return "audio/wav";
  if (ext == "flac") return "audio/flac";
  if (ext == "ogg") return "audio/ogg";
  return "";
}

}  // namespace

absl::StatusOr<std::vector<PartFlag>> ExtractPartFlags(std::vector<std::string>* args) {
  std::vector<PartFlag> out;
  std::vector<std::string> rest;
  const std::pair<const char*, PartFlag::Kind> names[] = {{"text", PartFlag::kText},
                                                          {"image", PartFlag::kImage},
                                                          {"audio", PartFlag::kAudio},
                                                          {"message", PartFlag::kMessage}};
  for (size_t i = 0; i < args->size(); ++i) {
    const std::string& a = (*args)[i];
    bool taken = false;
    for (const auto& [name, kind] : names) {
      for (const std::string prefix : {absl::StrCat("--", name), absl::StrCat("-", name)}) {
        if (a == prefix) {
          if (i + 1 >= args->size()) {
            return absl::InvalidArgumentError(absl::StrCat("--", name, ": missing value"));
          }
          out.push_back({kind, (*args)[++i]});
          taken = true;
        } else if (absl::StartsWith(a, prefix + "=")) {
          out.push_back({kind, a.substr(prefix.size() + 1)});
          taken = true;
        }
        if (taken) break;
      }
      if (taken) break;
    }
    if (!taken) rest.push_back(a);
  }
  *args = std::move(rest);
  return out;
}

absl::StatusOr<std::vector<v1::Part>> LoadParts(const std::vector<PartFlag>& flags) {
  std::vector<v1::Part> parts;
  for (const PartFlag& f : flags) {
    if (f.kind == PartFlag::kMessage) continue;  // LoadMessages' part
    v1::Part p;
    if (f.kind == PartFlag::kText) {
      p.set_text(f.value);
    } else {
      const char* flag = f.kind == PartFlag::kImage ? "--image" : "--audio";
      std::ifstream in(f.value, std::ios::binary);
      if (!in) return absl::NotFoundError(absl::StrCat(flag, ": cannot read ", f.value));
      std::stringstream ss;
      ss << in.rdbuf();
      v1::Media* m = f.kind == PartFlag::kImage ? p.mutable_image() : p.mutable_audio();
      m->set_data(ss.str());
      m->set_mime_type(MimeFromPath(f.value));
    }
    parts.push_back(std::move(p));
  }
  return parts;
}

absl::StatusOr<std::vector<v1::ChatMessage>> LoadMessages(const std::vector<PartFlag>& flags) {
  std::vector<v1::ChatMessage> messages;
  bool parts = false;
  for (const PartFlag& f : flags) {
    if (f.kind != PartFlag::kMessage) {
      parts = true;
      continue;
    }
    const size_t colon = f.value.find(':');
    if (colon == std::string::npos || colon == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("--message: \"", f.value.substr(0, 40),
                       "\" has no role; write ROLE:CONTENT, e.g. user:Hello"));
    }
    v1::ChatMessage m;
    m.set_role(f.value.substr(0, colon));
    m.set_content(f.value.substr(colon + 1));
    messages.push_back(std::move(m));
  }
  if (parts && !messages.empty()) {
    return absl::InvalidArgumentError(
        "--message: give --message (a chat) or --text/--image/--audio (parts), not both");
  }
  return messages;
}

std::string ProgressBar(int done, int total, int width) {
  if (total <= 0) total = 1;
  if (done < 0) done = 0;
  if (done > total) done = total;
  const int filled = static_cast<int>(static_cast<int64_t>(done) * width / total);
  return absl::StrFormat("[%s%s] %*d/%d", std::string(static_cast<size_t>(filled), '#'),
                         std::string(static_cast<size_t>(width - filled), ' '),
                         static_cast<int>(absl::StrCat(total).size()), done, total);
}

}  // namespace mot::cli
