// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/demo_data.h"

#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "engine/core/status_macros.h"
#include "nlohmann/json.hpp"
#include "trainer/atomic_dir.h"
#include "trainer/manifest.h"
#include "trainer/progress.h"

extern char** environ;

namespace mot::trainer {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using tokenizer::Modality;

constexpr const char* kShapes[kNumShapes] = {"circle", "square", "triangle", "star", "cross"};
constexpr const char* kColors[kNumColors] = {"red",    "green",  "blue",  "yellow",
                                             "purple", "orange", "white", "black"};
constexpr std::array<uint8_t, 3> kRgb[kNumColors] = {
    {220, 40, 40},  {40, 170, 60},  {40, 80, 220},   {240, 220, 40},
    {150, 60, 190}, {245, 140, 30}, {245, 245, 245}, {20, 20, 20}};
constexpr const char* kSizes[kNumSizes] = {"small", "medium", "large"};
// Half the shape's extent in pixels per size: at 64x64 in 8x8 patches a small shape covers
// about 2x2 patches and a large one about 4x4.
constexpr double kHalfExtent[kNumSizes] = {7.0, 10.0, 14.0};
constexpr const char* kPositions[kNumPositions] = {"left", "right", "top", "bottom", "center"};
constexpr const char* kPositionPhrases[kNumPositions] = {
    "on the left", "on the right", "at the top", "at the bottom", "in the center"};
constexpr int kCenters[kNumPositions][2] = {{18, 32}, {46, 32}, {32, 18}, {32, 46}, {32, 32}};
constexpr int kMaxJitter = 3;

// SplitMix64: a tiny generator whose output is the same on every platform and library
// (std:: distributions are not), so a seed names one data set everywhere.
class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t Next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  int Uniform(int n) { return static_cast<int>(Next() % static_cast<uint64_t>(n)); }

 private:
  uint64_t state_;
};

bool InTriangle(double u, double v, double r) {
  // Apex up at (0, -r), base corners at (+-r, 0.8 r).
  const double ax = 0, ay = -r, bx = -r, by = 0.8 * r, cx = r, cy = 0.8 * r;
  auto side = [](double x1, double y1, double x2, double y2, double x, double y) {
    return (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1);
  };
  const double d1 = side(ax, ay, bx, by, u, v), d2 = side(bx, by, cx, cy, u, v),
               d3 = side(cx, cy, ax, ay, u, v);
  const bool neg = d1 < 0 || d2 < 0 || d3<0, pos = d1> 0 || d2 > 0 || d3 > 0;
  return !(neg && pos);
}

bool InStar(double u, double v, double r) {
  // Five points, inner radius 0.45 r, one point straight up; even-odd rule.
  double xs[10], ys[10];
  for (int k = 0; k < 10; ++k) {
    const double rad = (k % 2 == 0) ? r : 0.45 * r;
    const double a = -M_PI / 2 + k * M_PI / 5;
    xs[k] = rad * std::cos(a);
    ys[k] = rad * std::sin(a);
  }
  bool inside = false;
  for (int i = 0, j = 9; i < 10; j = i++) {
    if ((ys[i] > v) != (ys[j] > v) && u < (xs[j] - xs[i]) * (v - ys[i]) / (ys[j] - ys[i]) + xs[i]) {
      inside = !inside;
    }
  }
  return inside;
}

bool InShape(int shape, double u, double v, double r) {
  switch (shape) {
    case 0:
      return u * u + v * v <= r * r;
    case 1:  // a little smaller than the circle's box, so the areas are comparable
      return std::abs(u) <= 0.85 * r && std::abs(v) <= 0.85 * r;
    case 2:
      return InTriangle(u, v, r);
    case 3:
      return InStar(u, v, r);
    default:
      return (std::abs(u) <= r && std::abs(v) <= 0.35 * r) ||
             (std::abs(v) <= r && std::abs(u) <= 0.35 * r);
  }
}

Scene SampleScene(Rng& rng) {
  Scene s;
  s.shape = rng.Uniform(kNumShapes);
  s.color = rng.Uniform(kNumColors);
  s.size = rng.Uniform(kNumSizes);
  s.position = rng.Uniform(kNumPositions);
  s.background = (s.color + 1 + rng.Uniform(kNumColors - 1)) % kNumColors;
  s.dx = rng.Uniform(2 * kMaxJitter + 1) - kMaxJitter;
  s.dy = rng.Uniform(2 * kMaxJitter + 1) - kMaxJitter;
  return s;
}

std::string PlainSentence(const Scene& s, int variant) {
  if (variant == 0) {
    return absl::StrCat("there is a ", kSizes[s.size], " ", kColors[s.color], " ", kShapes[s.shape],
                        " ", kPositionPhrases[s.position], ". the background is ",
                        kColors[s.background], ".");
  }
  return absl::StrCat("the ", kShapes[s.shape], " is ", kColors[s.color], " and ", kSizes[s.size],
                      ", ", kPositionPhrases[s.position], ", on a ", kColors[s.background],
                      " background.");
}

json SceneMeta(const Scene& s, const char* task) {
  return {{"task", task},
          {"shape", kShapes[s.shape]},
          {"color", kColors[s.color]},
          {"size", kSizes[s.size]},
          {"position", kPositions[s.position]},
          {"background", kColors[s.background]}};
}

// FNV-1a 64: a stable file name for a caption's WAV.
uint64_t Fnv1a(absl::string_view s) {
  uint64_t h = 0xcbf29ce484222325ull;
  for (unsigned char c : s) h = (h ^ c) * 0x100000001b3ull;
  return h;
}

absl::Status WriteBytes(const std::string& path, absl::string_view bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Runs argv[0] (looked up on PATH) with stdout/stderr left as they are; its exit status, or
// -1 when it could not be started.
int RunProgram(const std::vector<std::string>& args) {
  std::vector<char*> argv;
  for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  // espeak-ng has nothing to say on stdout with -w; keep the terminal (and our bars) clean.
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  pid_t pid = 0;
  const int rc = posix_spawnp(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

// One scene's examples appended to `lines`.
struct SplitWriter {
  const std::string& out;
  std::vector<std::string>* lines;
  void Add(std::vector<ManifestPart> parts, LossMode loss, const json& meta) {
    ManifestExample e;
    e.parts = std::move(parts);
    e.loss = loss;
    e.meta_json = meta.dump();
    lines->push_back(ManifestExampleToJson(e, out));
  }
};

}  // namespace

const char* ShapeName(int shape) { return kShapes[shape]; }
const char* ColorName(int color) { return kColors[color]; }
const char* SizeName(int size) { return kSizes[size]; }
const char* PositionPhrase(int position) { return kPositionPhrases[position]; }
const char* PositionName(int position) { return kPositions[position]; }
std::array<uint8_t, 3> ColorRgb(int color) { return kRgb[color]; }

std::vector<std::pair<int, int>> HeldOutPairs(uint64_t seed) {
  // Color (offset + 3 * shape) mod 8: distinct for the 5 shapes (3 is prime to 8), so every
  // color and every shape keeps training examples.
  const int offset = static_cast<int>(seed % kNumColors);
  std::vector<std::pair<int, int>> pairs;
  for (int shape = 0; shape < kNumShapes; ++shape) {
    pairs.emplace_back((offset + 3 * shape) % kNumColors, shape);
  }
  return pairs;
}

bool IsHeldOut(const Scene& scene, uint64_t seed) {
  for (const auto& [color, shape] : HeldOutPairs(seed)) {
    if (scene.color == color && scene.shape == shape) return true;
  }
  return false;
}

tokenizer::RgbImage RenderScene(const Scene& s) {
  tokenizer::RgbImage img;
  img.width = img.height = kDemoImageSize;
  img.pixels.resize(static_cast<size_t>(kDemoImageSize * kDemoImageSize * 3));
  const double cx = kCenters[s.position][0] + s.dx, cy = kCenters[s.position][1] + s.dy;
  const double r = kHalfExtent[s.size];
  const auto fg = kRgb[s.color], bg = kRgb[s.background];
  for (int y = 0; y < kDemoImageSize; ++y) {
    for (int x = 0; x < kDemoImageSize; ++x) {
      const bool in = InShape(s.shape, x + 0.5 - cx, y + 0.5 - cy, r);
      uint8_t* p = &img.pixels[static_cast<size_t>((y * kDemoImageSize + x) * 3)];
      for (int c = 0; c < 3; ++c) p[c] = in ? fg[c] : bg[c];
    }
  }
  return img;
}

std::string Caption(const Scene& s) {
  return absl::StrCat("a ", kSizes[s.size], " ", kColors[s.color], " ", kShapes[s.shape], " ",
                      kPositionPhrases[s.position], " on a ", kColors[s.background], " background");
}

bool ProgramOnPath(const std::string& program) {
  if (program.find('/') != std::string::npos) return access(program.c_str(), X_OK) == 0;
  const char* path = std::getenv("PATH");
  if (path == nullptr) return false;
  for (absl::string_view dir : absl::StrSplit(path, ':')) {
    if (dir.empty()) continue;
    if (access(absl::StrCat(dir, "/", program).c_str(), X_OK) == 0) return true;
  }
  return false;
}

absl::StatusOr<DemoReport> MakeDemoData(const DemoOptions& o) {
  if (o.train_scenes < 1 || o.heldout_scenes < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("scenes must be >= 1 and heldout_scenes >= 0, got ", o.train_scenes, " and ",
                     o.heldout_scenes));
  }
  if (o.speech_scenes < 0 || o.speech_scenes > o.train_scenes) {
    return absl::InvalidArgumentError(absl::StrCat(
        "speech_scenes must be in [0, scenes=", o.train_scenes, "], got ", o.speech_scenes));
  }
  if (o.heldout_speech_scenes < 0 || o.heldout_speech_scenes > o.heldout_scenes) {
    return absl::InvalidArgumentError(
        absl::StrCat("heldout_speech_scenes must be in [0, heldout_scenes=", o.heldout_scenes,
                     "], got ", o.heldout_speech_scenes));
  }
  const bool speech = o.speech_scenes > 0 || o.heldout_speech_scenes > 0;
  if (speech && !ProgramOnPath(o.espeak)) {
    return absl::FailedPreconditionError(
        absl::StrCat(o.espeak,
                     " is not on PATH: install it (apt-get install espeak-ng, or scripts/setup.sh) "
                     "or pass --speech_scenes=0 --heldout_speech_scenes=0"));
  }
  std::error_code ec;
  if (fs::exists(o.out, ec) && !fs::is_empty(o.out, ec) && !o.overwrite) {
    return absl::AlreadyExistsError(
        absl::StrCat(o.out, " exists and is not empty (pass --overwrite to write into it)"));
  }
  // An unfinished folder has no manifests: drop the old ones before anything changes.
  fs::remove(fs::path(o.out) / "train.jsonl", ec);
  fs::remove(fs::path(o.out) / "heldout.jsonl", ec);
  fs::create_directories(fs::path(o.out) / "images", ec);
  if (!ec) fs::create_directories(fs::path(o.out) / "audio", ec);
  if (ec)
    return absl::PermissionDeniedError(absl::StrCat("cannot create ", o.out, ": ", ec.message()));
  std::optional<ThreadPool> local_pool;
  ThreadPool* pool = o.pool != nullptr ? o.pool : &local_pool.emplace(1);

  // 1. Scenes, serially from one generator (so the data set does not depend on threads).
  Rng rng(o.seed ^ 0x6d6f742d64656d6full);
  std::vector<Scene> scenes;       // train first, then held-out
  std::vector<int> plain_variant;  // per scene
  while (static_cast<int>(scenes.size()) < o.train_scenes) {
    Scene s = SampleScene(rng);
    if (IsHeldOut(s, o.seed)) continue;
    scenes.push_back(s);
    plain_variant.push_back(rng.Uniform(2));
  }
  const std::vector<std::pair<int, int>> held = HeldOutPairs(o.seed);
  for (int i = 0; i < o.heldout_scenes; ++i) {
    Scene s = SampleScene(rng);
    const auto& [color, shape] = held[static_cast<size_t>(rng.Uniform(kNumShapes))];
    s.color = color;
    s.shape = shape;
    if (s.background == s.color) s.background = (s.color + 1) % kNumColors;
    scenes.push_back(s);
    plain_variant.push_back(rng.Uniform(2));
  }
  auto image_path = [&](size_t i) {
    const bool train = static_cast<int>(i) < o.train_scenes;
    const size_t k = train ? i : i - static_cast<size_t>(o.train_scenes);
    return (fs::path(o.out) / "images" /
            absl::StrFormat("%s-%06d.png", train ? "train" : "heldout", k))
        .string();
  };
  auto wants_speech = [&](size_t i) {
    const int k = static_cast<int>(i);
    return k < o.train_scenes ? k < o.speech_scenes : k - o.train_scenes < o.heldout_speech_scenes;
  };
  auto wav_path = [&](const std::string& caption) {
    return (fs::path(o.out) / "audio" /
            absl::StrFormat("%016x.wav", Fnv1a(absl::StrCat(caption, "|", o.speech_rate))))
        .string();
  };

  DemoReport report;
  // 2. Images, in parallel.
  const auto t0 = std::chrono::steady_clock::now();
  {
    std::vector<absl::Status> status(scenes.size());
    ProgressBar bar("rendering images", static_cast<int64_t>(scenes.size()), "img");
    pool->ParallelFor(static_cast<int64_t>(scenes.size()), 16, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) {
        const auto k = static_cast<size_t>(i);
        absl::StatusOr<std::string> png = tokenizer::EncodePng(RenderScene(scenes[k]));
        status[k] = png.ok() ? WriteBytes(image_path(k), *png) : png.status();
        bar.Add(1);
      }
    });
    bar.Finish();
    for (const absl::Status& s : status) MOT_RETURN_IF_ERROR(s);
  }
  const auto t1 = std::chrono::steady_clock::now();
  report.images = static_cast<int64_t>(scenes.size());
  report.image_seconds = std::chrono::duration<double>(t1 - t0).count();

  // 3. Speech: one espeak-ng run per distinct caption, in parallel.
  std::vector<std::string> to_speak;
  {
    std::map<std::string, bool> seen;
    for (size_t i = 0; i < scenes.size(); ++i) {
      if (!wants_speech(i)) continue;
      const std::string caption = Caption(scenes[i]);
      if (seen.emplace(caption, true).second) to_speak.push_back(caption);
    }
  }
  if (!to_speak.empty()) {
    std::vector<absl::Status> status(to_speak.size());
    ProgressBar bar("speaking captions (espeak-ng)", static_cast<int64_t>(to_speak.size()), "wav");
    pool->ParallelFor(static_cast<int64_t>(to_speak.size()), 1, [&](int64_t b, int64_t e, int) {
      for (int64_t i = b; i < e; ++i) {
        const auto k = static_cast<size_t>(i);
        const std::string final_path = wav_path(to_speak[k]);
        if (fs::exists(final_path)) {  // made by an earlier run with the same caption and rate
          bar.Add(1);
          continue;
        }
        const std::string tmp = absl::StrCat(final_path, ".tmp");
        const int rc =
            RunProgram({o.espeak, "-w", tmp, "-s", absl::StrCat(o.speech_rate), to_speak[k]});
        if (rc != 0) {
          status[k] = absl::InternalError(absl::StrCat(o.espeak, " exited with status ", rc,
                                                       " speaking \"", to_speak[k], "\""));
        } else if (std::rename(tmp.c_str(), final_path.c_str()) != 0) {
          status[k] = absl::InternalError(absl::StrCat("cannot rename ", tmp));
        }
        bar.Add(1);
      }
    });
    bar.Finish();
    for (const absl::Status& s : status) MOT_RETURN_IF_ERROR(s);
  }
  report.wavs = static_cast<int64_t>(to_speak.size());
  report.speech_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t1).count();

  // 4. Manifests, then info.json; each written whole and renamed into place.
  std::vector<std::string> train_lines, heldout_lines;
  for (size_t i = 0; i < scenes.size(); ++i) {
    const Scene& s = scenes[i];
    const bool train = static_cast<int>(i) < o.train_scenes;
    SplitWriter w{o.out, train ? &train_lines : &heldout_lines};
    const std::string caption = Caption(s);
    const ManifestPart image{Modality::kImage, image_path(i)};
    const ManifestPart text{Modality::kText, caption};
    w.Add({image, text}, LossMode::kLast, SceneMeta(s, "caption"));
    w.Add({text, image}, LossMode::kLast, SceneMeta(s, "text_to_image"));
    w.Add({{Modality::kText, PlainSentence(s, plain_variant[i])}}, LossMode::kAll,
          SceneMeta(s, "text"));
    if (wants_speech(i)) {
      const ManifestPart audio{Modality::kAudio, wav_path(caption)};
      w.Add({text, audio}, LossMode::kLast, SceneMeta(s, "text_to_speech"));
      w.Add({audio, text}, LossMode::kLast, SceneMeta(s, "speech_to_text"));
    }
  }
  report.train_examples = static_cast<int64_t>(train_lines.size());
  report.heldout_examples = static_cast<int64_t>(heldout_lines.size());
  json pairs = json::array();
  for (const auto& [color, shape] : held) pairs.push_back({kColors[color], kShapes[shape]});
  const json info = {{"format", "mot-demo-data"},
                     {"seed", o.seed},
                     {"image_size", kDemoImageSize},
                     {"train_scenes", o.train_scenes},
                     {"heldout_scenes", o.heldout_scenes},
                     {"speech_scenes", o.speech_scenes},
                     {"heldout_speech_scenes", o.heldout_speech_scenes},
                     {"speech_rate", o.speech_rate},
                     {"train_examples", report.train_examples},
                     {"heldout_examples", report.heldout_examples},
                     {"heldout_color_shape_pairs", std::move(pairs)}};
  auto write_whole = [&](const char* name, const std::string& text) -> absl::Status {
    const std::string path = (fs::path(o.out) / name).string();
    const std::string tmp = absl::StrCat(path, ".tmp");
    MOT_RETURN_IF_ERROR(WriteFileSynced(tmp, text));
    if (std::rename(tmp.c_str(), path.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("cannot rename ", tmp, " to ", path));
    }
    return absl::OkStatus();
  };
  MOT_RETURN_IF_ERROR(write_whole("info.json", info.dump(2) + "\n"));
  MOT_RETURN_IF_ERROR(write_whole("heldout.jsonl", absl::StrJoin(heldout_lines, "\n") + "\n"));
  MOT_RETURN_IF_ERROR(write_whole("train.jsonl", absl::StrJoin(train_lines, "\n") + "\n"));
  MOT_RETURN_IF_ERROR(FsyncDirectory(o.out));
  return report;
}

}  // namespace mot::trainer
