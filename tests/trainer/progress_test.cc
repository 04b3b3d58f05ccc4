// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/progress.h"

#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/trainer/trainer_test_util.h"

namespace mot::trainer {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

// Installed once for the whole binary: bars stay quiet unless a test gives its own output.
const auto* const kQuiet = ::testing::AddGlobalTestEnvironment(new testing::QuietProgress);

TEST(ProgressBarTest, RenderShowsCountRateAndEta) {
  ProgressBar bar("images", 100, "img", {nullptr, false, 5.0});
  const std::string text = bar.Render(25, 5.0, /*final_line=*/false);
  EXPECT_THAT(text, HasSubstr("images: ["));
  EXPECT_THAT(text, HasSubstr("25/100 img"));
  EXPECT_THAT(text, HasSubstr("5.00 img/s"));
  EXPECT_THAT(text, HasSubstr("ETA 15.0 s"));  // 75 left at 5/s
}

TEST(ProgressBarTest, FinalLineHasElapsedTimeAndNoEta) {
  ProgressBar bar("pack", 10, "ex", {nullptr, false, 5.0});
  const std::string text = bar.Render(10, 2.0, /*final_line=*/true);
  EXPECT_THAT(text, HasSubstr("10/10 ex in 2.0 s, 5.00 ex/s"));
  EXPECT_THAT(text, Not(HasSubstr("ETA")));
}

TEST(ProgressBarTest, UnknownTotalShowsOnlyCount) {
  ProgressBar bar("lines", 0, "lines", {nullptr, false, 5.0});
  EXPECT_THAT(bar.Render(7, 1.0, false), HasSubstr("lines: 7 lines, 7.00 lines/s"));
}

TEST(ProgressBarTest, NonTtyPrintsFewLinesAndCountsEveryAddFromManyThreads) {
  std::FILE* f = std::tmpfile();
  ASSERT_NE(f, nullptr);
  {
    ProgressBar bar("work", 4000, "it", {f, false, 3600.0});
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&] {
        for (int i = 0; i < 1000; ++i) bar.Add(1);
      });
    }
    for (std::thread& t : threads) t.join();
    EXPECT_EQ(bar.done(), 4000);
    bar.Finish();
  }
  std::rewind(f);
  std::string out;
  char buf[4096];
  for (size_t n; (n = std::fread(buf, 1, sizeof(buf), f)) > 0;) out.append(buf, n);
  std::fclose(f);
  // One line at the first Add (the interval is an hour), one final line.
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 2) << out;
  EXPECT_THAT(out, HasSubstr("4000/4000 it in"));
  EXPECT_THAT(out, Not(HasSubstr("\r")));
}

TEST(FormatDurationTest, Units) {
  EXPECT_EQ(FormatDuration(1.5), "1.5 s");
  EXPECT_EQ(FormatDuration(125), "2 min 05 s");
  EXPECT_EQ(FormatDuration(3720), "1 h 02 min");
}

}  // namespace
}  // namespace mot::trainer
