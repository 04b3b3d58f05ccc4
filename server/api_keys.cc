// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "server/api_keys.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>

#include <fstream>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace mot::server {

// Short keys are guessable whatever the comparison; 16 characters of a random key is the
// floor (e.g. `openssl rand -hex 16` gives 32).
constexpr size_t kMinKeyLength = 16;

ApiKeys::Digest ApiKeys::Hash(absl::string_view key) {
  Digest d;
  SHA256(reinterpret_cast<const unsigned char*>(key.data()), key.size(), d.data());
  return d;
}

absl::StatusOr<ApiKeys> ApiKeys::FromKeys(const std::vector<std::string>& keys,
                                          absl::string_view source) {
  ApiKeys out;
  for (size_t i = 0; i < keys.size(); ++i) {
    absl::string_view key = absl::StripAsciiWhitespace(keys[i]);
    if (key.empty() || key[0] == '#') continue;
    for (char c : key) {
      if (!absl::ascii_isgraph(static_cast<unsigned char>(c))) {
        return absl::InvalidArgumentError(absl::StrCat(
            source, ": line ", i + 1, ": a key must be printable ASCII without spaces"));
      }
    }
    if (key.size() < kMinKeyLength) {
      return absl::InvalidArgumentError(absl::StrCat(source, ": line ", i + 1, ": key has ",
                                                     key.size(), " characters, at least ",
                                                     kMinKeyLength, " are required"));
    }
    out.digests_.push_back(Hash(key));
  }
  if (out.digests_.empty()) return absl::InvalidArgumentError(absl::StrCat(source, ": no keys"));
  return out;
}

absl::StatusOr<ApiKeys> ApiKeys::FromFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot read the API keys file"));
  std::stringstream ss;
  ss << in.rdbuf();
  std::vector<std::string> lines = absl::StrSplit(ss.str(), '\n');
  return FromKeys(lines, path);
}

absl::Status ApiKeys::Check(absl::string_view authorization) const {
  if (authorization.empty()) {
    return absl::UnauthenticatedError(
        "missing authorization metadata: send 'authorization: Bearer <key>'");
  }
  constexpr absl::string_view kScheme = "bearer ";
  if (authorization.size() <= kScheme.size() ||
      !absl::EqualsIgnoreCase(authorization.substr(0, kScheme.size()), kScheme)) {
    return absl::UnauthenticatedError("authorization: expected 'Bearer <key>'");
  }
  const Digest presented = Hash(absl::StripAsciiWhitespace(authorization.substr(kScheme.size())));
  // Every digest is compared, match or not, so the time does not depend on which matched.
  int matched = 0;
  for (const Digest& d : digests_) {
    matched |= CRYPTO_memcmp(d.data(), presented.data(), d.size()) == 0 ? 1 : 0;
  }
  if (matched == 0) return absl::UnauthenticatedError("authorization: unknown API key");
  return absl::OkStatus();
}

}  // namespace mot::server
