// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// StopChecker: stop strings split across deltas, overlapping prefixes, hold-back bounds, and
// the invariant (released text = the stream cut before the first stop) over random splits.
#include "engine/sampling/stop_checker.h"

#include <random>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace mot::sampling {
namespace {

constexpr int32_t kEos = 2;

// Feeds `deltas` and returns everything released (Flush included when no stop).
std::string FeedAll(StopChecker& c, const std::vector<std::string>& deltas, bool* stopped,
                    int* index = nullptr) {
  std::string out;
  *stopped = false;
  for (const std::string& d : deltas) {
    StopChecker::Result r = c.Push(d);
    out += r.text;
    if (r.stopped) {
      *stopped = true;
      if (index) *index = r.stop_index;
      break;
    }
  }
  if (!*stopped) out += c.Flush();
  return out;
}

TEST(StopCheckerTest, StopIdsIncludeEos) {
  StopChecker c({}, {10, 11}, kEos);
  EXPECT_TRUE(c.IsStopId(kEos));
  EXPECT_TRUE(c.IsStopId(11));
  EXPECT_FALSE(c.IsStopId(12));
}

TEST(StopCheckerTest, StopStringSplitAcrossDeltasIsDroppedWithWhatFollows) {
  StopChecker c({"STOP"}, {}, kEos);
  StopChecker::Result r = c.Push("hello S");
  EXPECT_EQ(r.text, "hello ");  // "S" might start "STOP"
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(c.held_bytes(), 1u);
  r = c.Push("T");
  EXPECT_EQ(r.text, "");
  r = c.Push("OP and more");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(r.stop_index, 0);
  EXPECT_TRUE(c.stopped());
  r = c.Push("ignored");
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.text, "");
  EXPECT_EQ(c.Flush(), "");
}

TEST(StopCheckerTest, FalseStartIsReleasedWhenItStopsMatching) {
  StopChecker c({"STOP"}, {}, kEos);
  EXPECT_EQ(c.Push("ST").text, "");
  StopChecker::Result r = c.Push("ORM");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(r.text, "STORM");
  EXPECT_EQ(c.held_bytes(), 0u);
}

TEST(StopCheckerTest, OverlappingPrefixesFindTheMatch) {
  // "aab" inside "aaab": the held "aa" must not hide the match that starts one byte later.
  StopChecker c({"aab"}, {}, kEos);
  bool stopped = false;
  EXPECT_EQ(FeedAll(c, {"x", "a", "a", "a", "b", "tail"}, &stopped), "xa");
  EXPECT_TRUE(stopped);
}

TEST(StopCheckerTest, EarliestOfSeveralStopStringsWins) {
  StopChecker c({"world", "lo w", "\n\n"}, {}, kEos);
  bool stopped = false;
  int index = -1;
  EXPECT_EQ(FeedAll(c, {"hel", "lo wor", "ld\n\n"}, &stopped, &index), "hel");
  EXPECT_TRUE(stopped);
  EXPECT_EQ(index, 1);
}

TEST(StopCheckerTest, HeldTextIsReleasedByFlushAtTheNaturalEnd) {
  StopChecker c({"</answer>"}, {}, kEos);
  EXPECT_EQ(c.Push("42</ans").text, "42");
  EXPECT_EQ(c.held_bytes(), 5u);
  EXPECT_EQ(c.Flush(), "</ans");
}

TEST(StopCheckerTest, MultibyteStopStringsReleaseWholeCharacters) {
  StopChecker c({"。終"}, {}, kEos);  // 6 bytes
  StopChecker::Result r = c.Push("はい。");
  EXPECT_EQ(r.text, "はい");  // "。" held: it starts the stop string
  r = c.Push("です");
  EXPECT_EQ(r.text, "。です");
}

TEST(StopCheckerTest, RandomSplitsMatchTheWholeStringAnswer) {
  std::mt19937 rng(11);
  const std::vector<std::string> stops = {"abc", "bcab", "cc", "abab"};
  const size_t max_stop = 4;
  for (int trial = 0; trial < 3000; ++trial) {
    std::string text;
    const int len = 1 + static_cast<int>(rng() % 30);
    for (int i = 0; i < len; ++i) text += static_cast<char>('a' + rng() % 3);
    // Expected: cut before the earliest occurrence of any stop string.
    size_t cut = std::string::npos;
    for (const std::string& s : stops) cut = std::min(cut, text.find(s));
    const std::string expected = cut == std::string::npos ? text : text.substr(0, cut);

    StopChecker c(stops, {}, kEos);
    std::string out;
    bool stopped = false;
    for (size_t pos = 0; pos < text.size() && !stopped;) {
      const size_t n = std::min(text.size() - pos, static_cast<size_t>(1 + rng() % 5));
      StopChecker::Result r = c.Push(std::string_view(text).substr(pos, n));
      out += r.text;
      stopped = r.stopped;
      ASSERT_LT(c.held_bytes(), max_stop);
      pos += n;
    }
    if (!stopped) out += c.Flush();
    ASSERT_EQ(out, expected) << "text " << text;
    ASSERT_EQ(stopped, cut != std::string::npos) << "text " << text;
  }
}

TEST(StopCheckerTest, WithoutStopStringsEverythingPassesAtOnce) {
  StopChecker c({}, {}, kEos);
  StopChecker::Result r = c.Push("anything");
  EXPECT_EQ(r.text, "anything");
  EXPECT_FALSE(r.stopped);
  EXPECT_EQ(c.held_bytes(), 0u);
}

}  // namespace
}  // namespace mot::sampling
