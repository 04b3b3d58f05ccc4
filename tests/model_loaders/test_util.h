// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/model_loaders/test_util.h
// Helpers for the loader tests: a scratch directory removed at scope exit, whole-file
// read/write, and a raw .safetensors image built from a header text and data bytes (for
// files our writer would refuse to produce). Thread rule: test code, one thread.
#ifndef MOT_TESTS_MODEL_LOADERS_TEST_UTIL_H_
#define MOT_TESTS_MODEL_LOADERS_TEST_UTIL_H_

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

namespace mot::testing {

class ScratchDir {
 public:
  ScratchDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "mot_loaders_XXXXXX").string();
    std::vector<char> buf(tmpl.begin(), tmpl.end());
    buf.push_back('\0');
    const char* made = ::mkdtemp(buf.data());
    path_ = made != nullptr ? made : "";
  }
  ~ScratchDir() {
    std::error_code ec;
    if (!path_.empty()) std::filesystem::remove_all(path_, ec);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  const std::string& path() const { return path_; }
  std::string Join(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void WriteAllTo(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// The 8-byte little-endian length `n`, then `header`, then `data`.
inline std::string RawSafetensors(const std::string& header, const std::string& data, uint64_t n) {
  std::string out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<char>((n >> (8 * i)) & 0xff));
  return out + header + data;
}
inline std::string RawSafetensors(const std::string& header, const std::string& data = "") {
  return RawSafetensors(header, data, header.size());
}

}  // namespace mot::testing

#endif  // MOT_TESTS_MODEL_LOADERS_TEST_UTIL_H_
