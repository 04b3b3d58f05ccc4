// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/make_default_model.h"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "model_loaders/default_model.h"
#include "trainer/demo_data.h"
#include "trainer/manifest.h"
#include "trainer/pack.h"
#include "trainer/tokenizer_dir.h"
#include "trainer/tokenizer_training.h"

namespace mot::trainer {
namespace fs = std::filesystem;
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void PrintLine(const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); }

}  // namespace

TrainOptions DefaultModelTrainOptions() {
  // Sized on this machine (2 cores): dim 128 x 2 layers x 3 towers trains at ~15k tokens/s
  // on a quiet machine (~8k under load), so 2000 steps of 2048 tokens (~9 epochs of the
  // demo's 457k tokens) take 5-9 minutes after ~15 s of data, tokenizers and packing.
  // 700 steps learned the colors but drew no shape (text-to-image 0% right on the held-out
  // split); 2000 steps drew the shape's color in place for 20% (bench/results/
  // default_model_2026-12-02.md). dim 192 x 3 layers ran at 1.4k tokens/s under load.
  TrainOptions t;
  t.dim = 128;
  t.layers = 2;
  t.heads = 4;
  t.kv_heads = 4;
  t.ffn = 352;
  t.max_seq_len = 512;
  t.steps = 2000;
  t.batch_tokens = 2048;
  t.accum = 1;
  t.lr = 3e-3f;
  t.min_lr = 3e-4f;
  t.warmup = 30;
  t.clip = 1.0f;
  t.save_every = 500;
  t.keep = 1;
  t.eval_every = 0;
  t.val_examples = 128;
  return t;
}

absl::StatusOr<DefaultModelReport> MakeDefaultModel(const DefaultModelOptions& options) {
  if (options.pool == nullptr) return absl::InvalidArgumentError("default-model: no pool");
  DefaultModelReport report;
  const auto start = std::chrono::steady_clock::now();
  const std::string out = options.out.empty() ? DefaultModelDir() : options.out;
  const std::string work = options.work.empty() ? out + ".work" : options.work;
  const std::string data = (fs::path(work) / "data").string();
  const std::string tok = (fs::path(work) / "tokenizers").string();
  const std::string shards = (fs::path(work) / "shards").string();
  const std::string val_shards = (fs::path(work) / "val_shards").string();

  // 1. The demo data set (espeak-ng WAVs of an earlier run with the same captions are
  // reused by MakeDemoData).
  auto t = std::chrono::steady_clock::now();
  DemoOptions d;
  d.out = data;
  d.seed = options.seed;
  d.train_scenes = options.scenes;
  d.heldout_scenes = options.heldout_scenes;
  d.speech_scenes = options.speech_scenes;
  d.heldout_speech_scenes = options.heldout_speech_scenes;
  d.overwrite = true;
  d.pool = options.pool;
  MOT_RETURN_IF_ERROR(Annotate(MakeDemoData(d).status(), "demo data"));
  report.data_seconds = Since(t);

  // 2. Tokenizers.
  t = std::chrono::steady_clock::now();
  TokenizerTrainingOptions to;
  to.manifest = (fs::path(data) / "train.jsonl").string();
  to.out = tok;
  to.overwrite = true;
  to.seed = options.seed;
  to.pool = options.pool;
  to.on_bad_row = PrintLine;
  MOT_RETURN_IF_ERROR(Annotate(TrainTokenizers(to).status(), "tokenizers"));
  report.tokenizer_seconds = Since(t);

  // 3. Shards: training and held-out (the validation loss).
  t = std::chrono::steady_clock::now();
  MOT_ASSIGN_OR_RETURN(std::unique_ptr<tokenizer::PromptBuilder> builder,
                       LoadPromptBuilder(tok, 4096));
  for (const auto& [manifest, dir] : {std::pair{std::string("train.jsonl"), shards},
                                      std::pair{std::string("heldout.jsonl"), val_shards}}) {
    PackOptions p;
    p.manifest = (fs::path(data) / manifest).string();
    p.out = dir;
    p.overwrite = true;
    p.pool = options.pool;
    p.on_bad_row = PrintLine;
    MOT_RETURN_IF_ERROR(Annotate(PackManifest(*builder, p).status(), "packing ", manifest));
  }
  report.pack_seconds = Since(t);

  // 4. Training; the final checkpoint goes straight to `out` (atomically).
  TrainOptions tr = options.train;
  tr.data = shards;
  tr.tokenizers = tok;
  tr.out = (fs::path(work) / "run").string();
  tr.val_data = val_shards;
  tr.final_dir = out;
  tr.overwrite = true;
  tr.resume = false;
  tr.seed = options.seed;
  tr.pool = options.pool;
  MOT_ASSIGN_OR_RETURN(report.train, Train(tr));
  report.checkpoint = out;
  report.total_seconds = Since(start);

  // 5. Held-out evaluation with the engine.
  if (options.eval) {
    EvalOptions e;
    e.checkpoint = out;
    e.data = data;
    e.max_per_task = options.eval_per_task;
    e.json_out = (fs::path(work) / "eval.json").string();
    e.pool = options.pool;
    MOT_ASSIGN_OR_RETURN(report.eval, Evaluate(e));
    report.evaluated = true;
  }
  return report;
}

}  // namespace mot::trainer
