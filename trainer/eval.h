// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/eval.h
// Evaluate(): `mot-train eval`. Generates greedily (temperature 0) with the batched engine
// (engine/engine.h, CPU backend) on the held-out split of a demo data set
// (DATA/heldout.jsonl, trainer/demo_data.h) and judges the output against each example's
// scene metadata ("meta"):
//   caption         image -> text: the shape's color and shape words right (the first color
//                   word and the first shape word of the text); also the exact caption
//   text_to_image   text -> image: judged by pixel statistics (each pixel mapped to the
//                   nearest of the 8 demo colors): the background color (the most common
//                   color) right, the shape color (the most common other color) right, and
//                   the shape's region in place (its centroid within 7 px of the centroid
//                   of the same scene drawn without jitter, its area within [0.4, 2.5]x)
//   speech_to_text  audio -> text: color and shape words right; also the exact caption
//   image_tokens_ceiling  the reference image through the image tokenizer and back, judged
//                   as text_to_image: what the codes can express at best
//   text_to_speech  text -> audio: not silent (RMS at least 10% of espeak-ng's for the same
//                   sentence) and lasting within 30% of espeak-ng's duration
// Each task reports the fraction right per criterion. Thread rule: one caller.
#ifndef MOT_TRAINER_EVAL_H_
#define MOT_TRAINER_EVAL_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/core/thread_pool.h"
#include "engine/tokenizer/image/image_codec.h"

namespace mot::trainer {

struct EvalOptions {
  std::string checkpoint;         // a checkpoint directory (e.g. OUT/final)
  std::string data;               // a demo data directory holding heldout.jsonl
  std::string split = "heldout";  // DATA/<split>.jsonl ("train" to measure fitting)
  int64_t max_per_task = 0;       // examples per task (0: all)
  std::string json_out;           // "" : no JSON file
  ThreadPool* pool = nullptr;     // REQUIRES: non-null
  bool progress = true;
  std::string device = "cpu";  // the generation's backend: cpu, cuda or auto (backend_factory.h)
};

struct TaskResult {
  std::string task;
  int64_t examples = 0;
  int64_t failed = 0;  // generation errors (counted as wrong)
  // criterion -> examples that met it; "all" is every criterion of the task at once.
  std::map<std::string, int64_t> right;
  // The first few generated texts beside their references ("reference => generated").
  std::vector<std::string> samples;
  double Fraction(const std::string& criterion) const;
};

struct EvalReport {
  std::vector<TaskResult> tasks;
  double seconds = 0;
  // A Markdown table: task, examples, each criterion's percentage.
  std::string Table() const;
  std::string ToJson() const;
};

// Runs the evaluation. NotFound / InvalidArgument naming the file and line for a missing or
// bad checkpoint or heldout.jsonl; errors of the engine's creation. A request that fails is
// counted as wrong, not fatal.
absl::StatusOr<EvalReport> Evaluate(const EvalOptions& options);

// The judges, for tests. `meta` is the example's meta object as JSON text.
struct ImageJudgement {
  bool background = false, shape_color = false, region = false;
};
absl::StatusOr<ImageJudgement> JudgeImage(const tokenizer::RgbImage& image,
                                          const std::string& meta_json);
// The color and shape words (the first of each) of a caption-like text.
struct CaptionWords {
  std::string color, shape;
};
CaptionWords ReadCaptionWords(const std::string& text);

}  // namespace mot::trainer

#endif  // MOT_TRAINER_EVAL_H_
