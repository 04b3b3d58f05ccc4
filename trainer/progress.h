// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/progress.h
// ProgressBar: progress of one long step on stderr, with the count, the rate and the ETA.
// On a terminal the bar redraws in place ("\r") at most ~10 times a second; otherwise
// (a log file, CI) it prints one line at most every `line_interval` seconds and a final
// line, so logs stay short. Nothing is printed when the bar is disabled (quiet runs, tests).
//   ProgressBar bar("images", n, "img");
//   for (...) { ...; bar.Add(1); }
//   bar.Finish();
// Thread rule: Add() may be called from any number of threads at once (an atomic counter;
// drawing takes a mutex and is skipped by a thread that finds it busy); Finish() once, from
// the owning thread, after every Add().
#ifndef MOT_TRAINER_PROGRESS_H_
#define MOT_TRAINER_PROGRESS_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <mutex>
#include <string>

namespace mot::trainer {

// Where and how bars draw. The process-wide default (see SetDefaultProgressOutput) goes to
// stderr, in place when stderr is a terminal.
struct ProgressOutput {
  std::FILE* stream = stderr;  // nullptr: bars print nothing
  bool tty = false;            // redraw in place
  double line_interval = 5.0;  // seconds between lines when !tty
};

// The output new bars use; the default is {stderr, isatty(2)}. Not thread-safe: call it
// before any bar exists (main, or a test's SetUp).
void SetDefaultProgressOutput(const ProgressOutput& output);
const ProgressOutput& DefaultProgressOutput();

class ProgressBar {
 public:
  // `total` <= 0 means unknown: no percentage or ETA, only the count and the rate.
  // `unit` names what is counted ("img", "tok", "lines").
  ProgressBar(std::string label, int64_t total, std::string unit,
              const ProgressOutput& output = DefaultProgressOutput());
  // Finishes the bar when Finish() was not called.
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  // Counts `n` more units done and redraws when it is time.
  void Add(int64_t n = 1);
  // Prints the final state ("label: 2000/2000 img in 3.1 s, 645 img/s") and a newline.
  void Finish();

  int64_t done() const { return done_.load(std::memory_order_relaxed); }

  // The text of the bar for `done` units after `seconds` (no "\r" or newline); for tests.
  std::string Render(int64_t done, double seconds, bool final_line) const;

 private:
  void Draw(bool final_line);

  const std::string label_;
  const int64_t total_;
  const std::string unit_;
  const ProgressOutput output_;
  const std::chrono::steady_clock::time_point start_;
  std::atomic<int64_t> done_{0};
  std::mutex draw_mu_;
  double last_draw_ = -1e9;  // seconds since start_; guarded by draw_mu_
  bool finished_ = false;
};

// "1.5 s", "2 min 05 s", "1 h 02 min" for messages and the ETA.
std::string FormatDuration(double seconds);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_PROGRESS_H_
