// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: server/api_keys.h
// ApiKeys: the set of accepted API keys, read from a file (one key per line; blank lines
// and lines starting with '#' ignored; surrounding whitespace stripped). A call presents
// its key as gRPC metadata `authorization: Bearer <key>`.
// Keys are kept only as SHA-256 digests and a presented key is compared against every one
// of them with CRYPTO_memcmp, so neither the time taken nor an early exit says how much of
// a key was right or which key matched; the digest also hides the keys' lengths.
// Thread rule: immutable after creation; const methods from any thread.
#ifndef MOT_SERVER_API_KEYS_H_
#define MOT_SERVER_API_KEYS_H_

#include <array>
#include <cstdint>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace mot::server {

class ApiKeys {
 public:
  // NotFound when the file cannot be read; InvalidArgument naming the line for a key with
  // inner whitespace or under 16 characters, and for a file with no key.
  static absl::StatusOr<ApiKeys> FromFile(const std::string& path);
  // From keys in memory (tests). Same checks; `source` names them in messages.
  static absl::StatusOr<ApiKeys> FromKeys(const std::vector<std::string>& keys,
                                          absl::string_view source = "keys");

  // OK when `authorization` is "Bearer <key>" (scheme case-insensitive) for an accepted
  // key. UNAUTHENTICATED-style statuses (absl Unauthenticated) otherwise, naming what is
  // missing ("missing authorization metadata", "authorization: expected 'Bearer <key>'",
  // "authorization: unknown API key") and never echoing the key.
  absl::Status Check(absl::string_view authorization) const;

  size_t size() const { return digests_.size(); }

 private:
  using Digest = std::array<uint8_t, 32>;
  static Digest Hash(absl::string_view key);
  std::vector<Digest> digests_;
};

}  // namespace mot::server

#endif  // MOT_SERVER_API_KEYS_H_
