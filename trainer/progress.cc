// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace mot::trainer {
namespace {

// Redraws per second on a terminal: often enough to look alive, rare enough to cost nothing.
constexpr double kTtyInterval = 0.1;
constexpr int kBarWidth = 24;

ProgressOutput& MutableDefault() {
  static ProgressOutput output{stderr, isatty(STDERR_FILENO) != 0, 5.0};
  return output;
}

std::string FormatRate(double rate) {
  if (rate >= 100) return absl::StrFormat("%.0f", rate);
  if (rate >= 10) return absl::StrFormat("%.1f", rate);
  return absl::StrFormat("%.2f", rate);
}

}  // namespace

void SetDefaultProgressOutput(const ProgressOutput& output) { MutableDefault() = output; }
const ProgressOutput& DefaultProgressOutput() { return MutableDefault(); }

std::string FormatDuration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) return absl::StrFormat("%.1f s", seconds);
  const int64_t s = static_cast<int64_t>(std::llround(seconds));
  if (s < 3600) return absl::StrFormat("%d min %02d s", s / 60, s % 60);
  return absl::StrFormat("%d h %02d min", s / 3600, (s % 3600) / 60);
}

ProgressBar::ProgressBar(std::string label, int64_t total, std::string unit,
                         const ProgressOutput& output)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      output_(output),
      start_(std::chrono::steady_clock::now()) {}

ProgressBar::~ProgressBar() { Finish(); }

std::string ProgressBar::Render(int64_t done, double seconds, bool final_line) const {
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  std::string text = absl::StrCat(label_, ": ");
  if (total_ > 0) {
    const double frac =
        std::clamp(static_cast<double>(done) / static_cast<double>(total_), 0.0, 1.0);
    const int filled = static_cast<int>(frac * kBarWidth);
    if (!final_line) {
      absl::StrAppend(&text, "[", std::string(static_cast<size_t>(filled), '#'),
                      std::string(static_cast<size_t>(kBarWidth - filled), '.'), "] ");
    }
    absl::StrAppend(&text, absl::StrFormat("%3.0f%% ", 100.0 * frac), done, "/", total_, " ",
                    unit_);
  } else {
    absl::StrAppend(&text, done, " ", unit_);
  }
  if (final_line) {
    absl::StrAppend(&text, " in ", FormatDuration(seconds));
    if (seconds > 0) absl::StrAppend(&text, ", ", FormatRate(rate), " ", unit_, "/s");
    return text;
  }
  if (seconds > 0 && done > 0) absl::StrAppend(&text, ", ", FormatRate(rate), " ", unit_, "/s");
  if (total_ > 0 && done > 0 && done < total_) {
    absl::StrAppend(&text, ", ETA ",
                    FormatDuration(static_cast<double>(total_ - done) / std::max(rate, 1e-9)));
  }
  return text;
}

void ProgressBar::Add(int64_t n) {
  const int64_t done = done_.fetch_add(n, std::memory_order_relaxed) + n;
  // The last unit is shown by Finish()'s line.
  if (output_.stream != nullptr && (total_ <= 0 || done < total_)) Draw(false);
}

void ProgressBar::Draw(bool final_line) {
  std::unique_lock<std::mutex> lock(draw_mu_, std::try_to_lock);
  if (!final_line && !lock.owns_lock()) return;  // another thread is drawing right now
  if (final_line && !lock.owns_lock()) lock.lock();
  const double now =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  if (!final_line && now - last_draw_ < (output_.tty ? kTtyInterval : output_.line_interval)) {
    return;
  }
  last_draw_ = now;
  const std::string text = Render(done(), now, final_line);
  if (output_.tty) {
    // "\033[K" clears what a longer previous draw left on the line.
    std::fprintf(output_.stream, "\r%s\033[K%s", text.c_str(), final_line ? "\n" : "");
  } else {
    std::fprintf(output_.stream, "%s\n", text.c_str());
  }
  std::fflush(output_.stream);
}

void ProgressBar::Finish() {
  if (finished_) return;
  finished_ = true;
  if (output_.stream != nullptr) Draw(true);
}

}  // namespace mot::trainer
