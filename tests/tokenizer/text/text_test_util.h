// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/tokenizer/text/text_test_util.h
// Shared helpers for the text tokenizer tests: paths of the committed data, reading the
// JSON-lines corpus and the goldens, and a first-difference message for id lists.
// Thread rule: test code, single-threaded.
#ifndef MOT_TESTS_TOKENIZER_TEXT_TEXT_TEST_UTIL_H_
#define MOT_TESTS_TOKENIZER_TEXT_TEXT_TEST_UTIL_H_

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "nlohmann/json.hpp"

namespace mot::tokenizer::testing {

inline std::string DataPath(const std::string& name) {
  return std::string(MOT_SOURCE_DIR) + "/tests/data/text/" + name;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Each non-empty line of a .jsonl file is one JSON string.
inline std::vector<std::string> ReadJsonl(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty()) continue;
    out.push_back(nlohmann::json::parse(line).get<std::string>());
  }
  return out;
}

// "" when equal, else where the two id lists first differ.
inline std::string FirstDifference(const std::vector<int32_t>& got,
                                   const std::vector<int32_t>& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  if (i == got.size() && i == want.size()) return "";
  std::ostringstream os;
  os << "lengths " << got.size() << " vs " << want.size() << ", first difference at " << i
     << ": got " << (i < got.size() ? std::to_string(got[i]) : "(end)") << ", want "
     << (i < want.size() ? std::to_string(want[i]) : "(end)");
  return os.str();
}

}  // namespace mot::tokenizer::testing

#endif  // MOT_TESTS_TOKENIZER_TEXT_TEXT_TEST_UTIL_H_
