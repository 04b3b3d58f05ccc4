// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/run_dir.h"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/core/status_macros.h"
#include "model_loaders/checkpoint.h"
#include "trainer/atomic_dir.h"

namespace mot::trainer {
namespace fs = std::filesystem;
namespace {

constexpr char kStepPrefix[] = "step-";
constexpr char kSavingPrefix[] = ".saving-";

absl::Status IoError(const std::string& what, const std::string& path, const std::error_code& ec) {
  const std::string msg = absl::StrCat(what, " ", path, ": ", ec.message());
  if (ec.value() == ENOSPC || ec.value() == EDQUOT) return absl::ResourceExhaustedError(msg);
  return absl::InternalError(msg);
}

// The step of a directory named "step-N", or -1.
int64_t StepOf(const std::string& name) {
  if (!absl::StartsWith(name, kStepPrefix)) return -1;
  int64_t step = 0;
  if (!absl::SimpleAtoi(name.substr(std::strlen(kStepPrefix)), &step) || step < 0) return -1;
  return step;
}

// The test hook between staging and commit (run_dir.h).
absl::Status RunSaveHook(const std::string& staged, int64_t step) {
  const char* hook = std::getenv(kSaveHookEnv);
  if (hook == nullptr || *hook == '\0') return absl::OkStatus();
  std::string h = hook;
  if (const size_t at = h.find('@'); at != std::string::npos) {
    int64_t only = 0;
    if (!absl::SimpleAtoi(h.substr(at + 1), &only)) {
      return absl::InvalidArgumentError(
          absl::StrCat(kSaveHookEnv, ": bad step after '@' in \"", h, "\""));
    }
    if (only != step) return absl::OkStatus();
    h.resize(at);
  }
  if (h == "fail") {
    return absl::ResourceExhaustedError(
        absl::StrCat("saving ", staged, ": no space left on device (", kSaveHookEnv, "=fail)"));
  }
  double seconds = 0;
  if (absl::StartsWith(h, "pause:") && absl::SimpleAtod(h.substr(6), &seconds)) {
    std::fprintf(stderr, "%s: pausing %.1f s inside the save of %s\n", kSaveHookEnv, seconds,
                 staged.c_str());
    std::fflush(stderr);
    std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      kSaveHookEnv, ": expected \"pause:SECONDS[@STEP]\" or \"fail[@STEP]\", got \"", h, "\""));
}

// Points OUT/latest at `name`: a new symlink renamed over the old one (atomic).
absl::Status MoveLatest(const std::string& out, const std::string& name) {
  const fs::path link = fs::path(out) / kLatestLink;
  const fs::path tmp = fs::path(out) / absl::StrCat(kLatestLink, ".tmp-", ::getpid());
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_directory_symlink(name, tmp, ec);
  if (ec) return IoError("cannot create the symlink", tmp.string(), ec);
  fs::rename(tmp, link, ec);
  if (ec) {
    fs::remove(tmp, ec);
    return IoError("cannot rename into", link.string(), ec);
  }
  return FsyncDirectory(out);
}

}  // namespace

std::string StepDirName(int64_t step) { return absl::StrFormat("%s%06d", kStepPrefix, step); }

std::vector<std::pair<int64_t, std::string>> ListStepCheckpoints(const std::string& out) {
  std::vector<std::pair<int64_t, std::string>> steps;
  std::error_code ec;
  for (const fs::directory_entry& e : fs::directory_iterator(out, ec)) {
    const std::string name = e.path().filename().string();
    const int64_t step = StepOf(name);
    if (step < 0 || !e.is_directory() || e.is_symlink()) continue;
    steps.emplace_back(step, e.path().string());
  }
  std::sort(steps.begin(), steps.end());
  return steps;
}

void RemoveStaleSaves(const std::string& out) {
  std::error_code ec;
  std::vector<fs::path> stale;
  for (const fs::directory_entry& e : fs::directory_iterator(out, ec)) {
    const std::string name = e.path().filename().string();
    if (absl::StartsWith(name, kSavingPrefix) || absl::StrContains(name, ".tmp-")) {
      stale.push_back(e.path());
    }
  }
  for (const fs::path& p : stale) fs::remove_all(p, ec);
}

absl::Status SaveStepCheckpoint(const std::string& out, int64_t step, const MotConfig& config,
                                const std::vector<NamedTensor>& weights,
                                const std::map<std::string, std::string>& extra_files, int keep) {
  const std::string name = StepDirName(step);
  const std::string staged = (fs::path(out) / absl::StrCat(kSavingPrefix, name)).string();
  const std::string target = (fs::path(out) / name).string();
  std::error_code ec;
  fs::create_directories(out, ec);
  if (ec) return IoError("cannot create", out, ec);
  fs::remove_all(staged, ec);
  MOT_RETURN_IF_ERROR(WriteCheckpoint(staged, config, weights, extra_files));
  auto discard = [&](absl::Status s) {
    std::error_code ignored;
    fs::remove_all(staged, ignored);
    return s;
  };
  if (absl::Status s = RunSaveHook(staged, step); !s.ok()) return discard(s);
  // A checkpoint of this step from an earlier, interrupted run is replaced; `latest` never
  // points at it here (it would name a later or equal step only after a completed save of
  // the same data, which is the same content).
  if (fs::exists(target, ec)) {
    const std::string old = absl::StrCat(staged, ".old");
    fs::rename(target, old, ec);
    if (ec) return discard(IoError("cannot move aside", target, ec));
    fs::remove_all(old, ec);
  }
  fs::rename(staged, target, ec);
  if (ec) return discard(IoError("cannot rename into", target, ec));
  MOT_RETURN_IF_ERROR(FsyncDirectory(out));
  MOT_RETURN_IF_ERROR(MoveLatest(out, name));

  // Prune: the newest `keep` step checkpoints stay; `latest` names the newest.
  const auto steps = ListStepCheckpoints(out);
  const size_t keep_n = static_cast<size_t>(std::max(keep, 1));
  for (size_t i = 0; i + keep_n < steps.size(); ++i) {
    if (steps[i].first == step) continue;
    fs::remove_all(steps[i].second, ec);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> FindLatestStepCheckpoint(const std::string& out) {
  std::error_code ec;
  const fs::path link = fs::path(out) / kLatestLink;
  if (fs::is_symlink(link, ec)) {
    const fs::path target = fs::path(out) / fs::read_symlink(link, ec);
    if (!ec && fs::exists(target / "manifest.json", ec)) return target.string();
  }
  const auto steps = ListStepCheckpoints(out);
  for (auto it = steps.rbegin(); it != steps.rend(); ++it) {
    if (fs::exists(fs::path(it->second) / "manifest.json", ec)) return it->second;
  }
  return absl::NotFoundError(absl::StrCat("no step checkpoint in ", out));
}

}  // namespace mot::trainer
