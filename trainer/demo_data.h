// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/demo_data.h
// The demo data set `mot-train data --demo` makes on the machine, seeded: 64x64 scenes of one
// flat-colored shape (circle, square, triangle, star, cross) of one of 3 sizes at one of 5
// positions on a background of another color (8 colors), drawn by sampling each pixel's
// center (no antialiasing), with captions such as
//   "a small red circle on the left on a blue background".
// Each scene gives a captioning example (image -> text), a text-to-image example and a
// plain-text sentence; the first `speech_scenes` give text-to-speech and speech-to-text
// examples with the caption spoken by espeak-ng (run as a program, in parallel; one WAV per
// distinct caption). Held-out: one color per shape (5 (color, shape) pairs chosen by the
// seed, every color and shape still seen in training) never appears in train.jsonl; the
// held-out scenes use only those pairs.
// Output (DIR): train.jsonl, heldout.jsonl (manifest.h format; "meta" holds the task and
// the scene's attributes), images/*.png, audio/*.wav, info.json (seed, counts, held-out
// pairs). Everything but the WAVs is a function of the options alone (same seed: same
// bytes); espeak-ng's output is as deterministic as the installed version.
// Thread rule: MakeDemoData is reentrant; the scene functions are pure.
#ifndef MOT_TRAINER_DEMO_DATA_H_
#define MOT_TRAINER_DEMO_DATA_H_

#include <array>
#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/thread_pool.h"
#include "engine/tokenizer/image/image_codec.h"

namespace mot::trainer {

inline constexpr int kDemoImageSize = 64;
inline constexpr int kNumShapes = 5;
inline constexpr int kNumColors = 8;
inline constexpr int kNumSizes = 3;
inline constexpr int kNumPositions = 5;

// Names as they appear in captions.
const char* ShapeName(int shape);          // circle, square, triangle, star, cross
const char* ColorName(int color);          // red, green, blue, yellow, purple, orange, white, black
const char* SizeName(int size);            // small, medium, large
const char* PositionPhrase(int position);  // "on the left", ..., "in the center"
const char* PositionName(int position);    // left, right, top, bottom, center

struct Scene {
  int shape = 0;
  int color = 0;
  int size = 0;
  int position = 0;
  int background = 0;  // != color
  int dx = 0, dy = 0;  // jitter of the shape's center, in pixels

  bool operator==(const Scene&) const = default;
};

// The held-out (color, shape) pairs for `seed`: one per shape, distinct colors.
std::vector<std::pair<int, int>> HeldOutPairs(uint64_t seed);
bool IsHeldOut(const Scene& scene, uint64_t seed);

// The 64x64 RGB picture of `scene`.
tokenizer::RgbImage RenderScene(const Scene& scene);
// "a small red circle on the left on a blue background".
std::string Caption(const Scene& scene);
// The RGB value of color `color`.
std::array<uint8_t, 3> ColorRgb(int color);

struct DemoOptions {
  std::string out;
  uint64_t seed = 0;
  int train_scenes = 2000;
  int heldout_scenes = 200;
  // Scenes (the first ones of each split) that also get speech examples; 0 skips espeak-ng.
  int speech_scenes = 500;
  int heldout_speech_scenes = 50;
  std::string espeak = "espeak-ng";  // the program, looked up on PATH
  int speech_rate = 160;             // espeak-ng -s (words per minute)
  bool overwrite = false;            // allow a non-empty `out`
  ThreadPool* pool = nullptr;        // renders images and runs espeak-ng processes
};

struct DemoReport {
  int64_t train_examples = 0;
  int64_t heldout_examples = 0;
  int64_t images = 0;
  int64_t wavs = 0;
  double image_seconds = 0;   // rendering + PNG writing
  double speech_seconds = 0;  // espeak-ng
};

// Writes the data set into options.out (created; manifests written last, atomically, so a
// folder without train.jsonl is an unfinished one). InvalidArgument naming the option for
// a negative count or more speech scenes than scenes; AlreadyExists when `out` is not empty
// and !overwrite; FailedPrecondition when speech is asked for and espeak-ng cannot be run
// (the message says how to install it or to pass --speech_scenes=0); Internal when an
// espeak-ng run fails (its exit status and the text named).
absl::StatusOr<DemoReport> MakeDemoData(const DemoOptions& options);

// True when `program` can be run (found on PATH and executable).
bool ProgramOnPath(const std::string& program);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_DEMO_DATA_H_
