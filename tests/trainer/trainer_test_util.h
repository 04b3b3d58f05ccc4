// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/trainer/trainer_test_util.h
// Test helpers for the trainer: a fresh temporary directory per test, small file writers,
// and quiet progress bars. Thread rule: test code, one thread.
#ifndef MOT_TESTS_TRAINER_TRAINER_TEST_UTIL_H_
#define MOT_TESTS_TRAINER_TRAINER_TEST_UTIL_H_

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "gtest/gtest.h"
#include "trainer/progress.h"

namespace mot::trainer::testing {

// A directory unique to the running test, removed at destruction.
class TempDir {
 public:
  TempDir() {
    // Outside a test (a suite's SetUpTestSuite) there is no test name: use a counter.
    static int counter = 0;
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    const std::string name = info != nullptr
                                 ? std::string(info->test_suite_name()) + "_" + info->name()
                                 : "suite" + std::to_string(counter++);
    path_ = std::filesystem::temp_directory_path() /
            ("mot_trainer_" + name + "_" + std::to_string(::getpid()));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string path(const std::string& name = "") const {
    return name.empty() ? path_.string() : (path_ / name).string();
  }

 private:
  std::filesystem::path path_;
};

inline void WriteText(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

// Silences the progress bars for the whole test binary.
class QuietProgress : public ::testing::Environment {
 public:
  void SetUp() override { SetDefaultProgressOutput({nullptr, false, 5.0}); }
};

}  // namespace mot::trainer::testing

#endif  // MOT_TESTS_TRAINER_TRAINER_TEST_UTIL_H_
