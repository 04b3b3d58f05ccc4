// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The subcommands train, eval, compare and default-model (declared in commands.h), their
// flags, and the translation of flags into TrainOptions.
#include <cstdio>
#include <filesystem>
#include <string>
#include <thread>

#include "absl/flags/commandlineflag.h"
#include "absl/flags/declare.h"
#include "absl/flags/flag.h"
#include "absl/flags/reflection.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/backend/backend_factory.h"
#include "engine/core/status_macros.h"
#include "engine/core/thread_pool.h"
#include "model_loaders/default_model.h"
#include "trainer/commands.h"
#include "trainer/compare.h"
#include "trainer/eval.h"
#include "trainer/make_default_model.h"
#include "trainer/run_dir.h"
#include "trainer/train_loop.h"

// Defined in commands.cc and shared.
ABSL_DECLARE_FLAG(int, threads);
ABSL_DECLARE_FLAG(std::string, out);
ABSL_DECLARE_FLAG(uint64_t, seed);
ABSL_DECLARE_FLAG(bool, overwrite);
ABSL_DECLARE_FLAG(std::string, data);
ABSL_DECLARE_FLAG(std::string, checkpoint);

// train / compare / default-model
ABSL_FLAG(std::string, tokenizers, "",
          "The tokenizer directory (mot-train tokenizers --out) the shards were packed with.");
ABSL_FLAG(std::string, val, "", "Validation shards (mot-train data --pack of held-out data).");
ABSL_FLAG(int64_t, eval_every, 0, "Steps between validation losses (0: only at the end).");
ABSL_FLAG(int64_t, val_examples, 256, "Validation examples used (the first ones; 0: all).");
ABSL_FLAG(std::string, towers, "mot",
          "mot: one tower per modality; dense: one tower (the baseline, same width).");
ABSL_FLAG(int32_t, dim, 0, "Model width (0: 128, or the resumed checkpoint's).");
ABSL_FLAG(int32_t, layers, 0, "Layers (0: 2, or the resumed checkpoint's).");
ABSL_FLAG(int32_t, heads, 0, "Attention heads (0: 4, or the resumed checkpoint's).");
ABSL_FLAG(int32_t, kv_heads, 0, "Key/value heads, dividing --heads (0: --heads).");
ABSL_FLAG(int32_t, ffn, 0, "SwiGLU hidden size (0: 8/3 dim rounded up to 32).");
ABSL_FLAG(int32_t, max_seq_len, 0, "Longest example (0: 512); longer ones are skipped.");
ABSL_FLAG(int64_t, steps, 1000, "Optimizer steps in all.");
ABSL_FLAG(int64_t, batch_tokens, 2048, "Tokens per micro-batch (whole examples packed).");
ABSL_FLAG(int32_t, accum, 1, "Micro-batches accumulated per step.");
ABSL_FLAG(float, lr, 3e-3f, "Peak learning rate.");
ABSL_FLAG(float, min_lr, 3e-4f, "Learning rate at the end of the cosine decay.");
ABSL_FLAG(int64_t, warmup, 50, "Linear warm-up steps.");
ABSL_FLAG(float, clip, 1.0f, "Global gradient-norm clip (0: none).");
ABSL_FLAG(float, weight_decay, 0.1f, "AdamW decoupled weight decay (matrices only).");
ABSL_FLAG(int64_t, save_every, 0, "Steps between checkpoints (0: only at the end).");
ABSL_FLAG(int32_t, keep, 2, "Step checkpoints kept (the newest).");
ABSL_FLAG(bool, resume, false, "Continue the run in --out from its latest checkpoint.");
ABSL_FLAG(std::string, metrics, "", "Metrics JSONL file (default: OUT/metrics.jsonl).");

// eval
ABSL_FLAG(int64_t, max_per_task, 0, "Eval: examples per task (0: all).");
ABSL_FLAG(std::string, json, "", "Eval: also write the results as JSON to this file.");
ABSL_FLAG(std::string, split, "heldout", "Eval: DATA/<split>.jsonl (heldout, or train).");
ABSL_FLAG(std::string, device, "cpu",
          "Eval: the backend that generates: cpu, cuda (GPU 0) or auto (the GPU when usable)");

// compare
ABSL_FLAG(std::string, plot_script, MOT_TRAINER_PLOT_SCRIPT,
          "Compare: the matplotlib script that draws the loss curves (\"\": no plot).");

// default-model
ABSL_FLAG(std::string, work, "", "Default model: work directory (default: OUT.work).");
ABSL_FLAG(int, demo_scenes, 2000, "Default model: training scenes of the demo data.");
ABSL_FLAG(int, demo_speech_scenes, 300, "Default model: training scenes with speech.");
ABSL_FLAG(bool, eval, true, "Default model: evaluate the result on the held-out split.");

namespace mot::trainer {
namespace {

int Threads() {
  const int t = absl::GetFlag(FLAGS_threads);
  return t > 0 ? t : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

bool IsExplicit(const char* name) {
  const absl::CommandLineFlag* f = absl::FindCommandLineFlag(name);
  return f != nullptr && f->CurrentValue() != f->DefaultValue();
}

constexpr const char* kModelFlags[] = {"towers",   "dim", "layers",     "heads",
                                       "kv_heads", "ffn", "max_seq_len"};
constexpr const char* kScheduleFlags[] = {"steps",  "batch_tokens", "accum",        "lr",  "min_lr",
                                          "warmup", "clip",         "weight_decay", "seed"};

// An option error from the library ("steps: must be ...") becomes a usage error of the
// flag of that name.
absl::Status AsFlagError(const absl::Status& s) {
  if (s.ok() || s.code() != absl::StatusCode::kInvalidArgument) return s;
  const absl::string_view msg = s.message();
  for (const char* flag :
       {"data",     "tokenizers", "out",          "steps", "batch_tokens", "accum",
        "lr",       "min_lr",     "warmup",       "clip",  "weight_decay", "save_every",
        "keep",     "eval_every", "val_examples", "dim",   "layers",       "heads",
        "kv_heads", "ffn",        "max_seq_len",  "val"}) {
    if (absl::StartsWith(msg, absl::StrCat(flag, ": "))) {
      return FlagError(flag, msg.substr(absl::string_view(flag).size() + 2));
    }
  }
  return s;
}

absl::StatusOr<TrainOptions> TrainOptionsFromFlags(ThreadPool* pool) {
  TrainOptions o;
  o.data = absl::GetFlag(FLAGS_data);
  o.tokenizers = absl::GetFlag(FLAGS_tokenizers);
  o.out = absl::GetFlag(FLAGS_out);
  o.val_data = absl::GetFlag(FLAGS_val);
  o.eval_every = absl::GetFlag(FLAGS_eval_every);
  o.val_examples = absl::GetFlag(FLAGS_val_examples);
  o.metrics = absl::GetFlag(FLAGS_metrics);
  const std::string towers = absl::GetFlag(FLAGS_towers);
  if (towers != "mot" && towers != "dense") {
    return FlagError("towers", absl::StrCat("must be mot or dense, got ", towers));
  }
  o.towers = towers == "dense" ? TowerLayout::kDense : TowerLayout::kMot;
  o.dim = absl::GetFlag(FLAGS_dim);
  o.layers = absl::GetFlag(FLAGS_layers);
  o.heads = absl::GetFlag(FLAGS_heads);
  o.kv_heads = absl::GetFlag(FLAGS_kv_heads);
  o.ffn = absl::GetFlag(FLAGS_ffn);
  o.max_seq_len = absl::GetFlag(FLAGS_max_seq_len);
  o.steps = absl::GetFlag(FLAGS_steps);
  o.batch_tokens = absl::GetFlag(FLAGS_batch_tokens);
  o.accum = absl::GetFlag(FLAGS_accum);
  o.lr = absl::GetFlag(FLAGS_lr);
  o.min_lr = absl::GetFlag(FLAGS_min_lr);
  o.warmup = absl::GetFlag(FLAGS_warmup);
  o.clip = absl::GetFlag(FLAGS_clip);
  o.weight_decay = absl::GetFlag(FLAGS_weight_decay);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.save_every = absl::GetFlag(FLAGS_save_every);
  o.keep = absl::GetFlag(FLAGS_keep);
  o.resume = absl::GetFlag(FLAGS_resume);
  o.overwrite = absl::GetFlag(FLAGS_overwrite);
  for (const char* f : kModelFlags) {
    if (IsExplicit(f)) o.explicit_options.insert(f);
  }
  for (const char* f : kScheduleFlags) {
    if (IsExplicit(f)) o.explicit_options.insert(f);
  }
  if (absl::GetFlag(FLAGS_threads) < 0) return FlagError("threads", "must be >= 0");
  o.pool = pool;
  return o;
}

void PrintTrainReport(const TrainReport& r) {
  std::printf(
      "trained %lld parameters (%d tower(s), dim %d, %d layers) from step %lld to %lld: last "
      "loss %.4f, %.1f s, %.0f tokens/s%s%s\n",
      static_cast<long long>(r.parameters), r.config.num_towers(), r.config.dim, r.config.n_layers,
      static_cast<long long>(r.first_step), static_cast<long long>(r.steps), r.last_loss, r.seconds,
      r.tokens_per_second,
      r.final_val_loss >= 0 ? absl::StrFormat(", validation loss %.4f", r.final_val_loss).c_str()
                            : "",
      r.final_dir.empty() ? "" : absl::StrCat("; serving checkpoint ", r.final_dir).c_str());
}

absl::Status RunTrain() {
  ThreadPool pool(Threads());
  MOT_ASSIGN_OR_RETURN(TrainOptions o, TrainOptionsFromFlags(&pool));
  absl::StatusOr<TrainReport> r = Train(o);
  if (!r.ok()) return AsFlagError(r.status());
  PrintTrainReport(*r);
  return absl::OkStatus();
}

absl::Status RunEval() {
  EvalOptions o;
  o.checkpoint = absl::GetFlag(FLAGS_checkpoint);
  o.data = absl::GetFlag(FLAGS_data);
  o.max_per_task = absl::GetFlag(FLAGS_max_per_task);
  o.json_out = absl::GetFlag(FLAGS_json);
  o.split = absl::GetFlag(FLAGS_split);
  o.device = absl::GetFlag(FLAGS_device);
  if (absl::Status s = backend::CheckDeviceName(o.device); !s.ok()) return s;
  if (o.checkpoint.empty()) return FlagError("checkpoint", "is required");
  if (o.data.empty()) return FlagError("data", "is required (a demo data directory)");
  if (o.max_per_task < 0) return FlagError("max_per_task", "must be >= 0");
  ThreadPool pool(Threads());
  o.pool = &pool;
  MOT_ASSIGN_OR_RETURN(EvalReport r, Evaluate(o));
  std::printf("%s\n(%.1f s)\n", r.Table().c_str(), r.seconds);
  return absl::OkStatus();
}

absl::Status RunCompare() {
  ThreadPool pool(Threads());
  CompareOptions o;
  MOT_ASSIGN_OR_RETURN(o.train, TrainOptionsFromFlags(&pool));
  o.out = absl::GetFlag(FLAGS_out);
  o.plot_script = absl::GetFlag(FLAGS_plot_script);
  if (o.out.empty()) return FlagError("out", "is required");
  if (o.train.val_data.empty()) return FlagError("val", "compare needs validation shards");
  if (o.train.eval_every < 1) return FlagError("eval_every", "must be >= 1 for compare");
  absl::StatusOr<CompareReport> r = Compare(o);
  if (!r.ok()) return AsFlagError(r.status());
  std::printf("%s\nMoT %.1f s, dense %.1f s; written to %s/compare.md%s\n", r->Table().c_str(),
              r->mot_seconds, r->dense_seconds, o.out.c_str(),
              r->plot.empty() ? "" : absl::StrCat(" and ", r->plot).c_str());
  return absl::OkStatus();
}

absl::Status RunDefaultModel() {
  ThreadPool pool(Threads());
  DefaultModelOptions o;
  o.out = absl::GetFlag(FLAGS_out);
  o.work = absl::GetFlag(FLAGS_work);
  o.seed = absl::GetFlag(FLAGS_seed);
  o.scenes = absl::GetFlag(FLAGS_demo_scenes);
  o.speech_scenes = absl::GetFlag(FLAGS_demo_speech_scenes);
  o.eval = absl::GetFlag(FLAGS_eval);
  o.pool = &pool;
  // The default-model sizes, overridden by the flags given explicitly.
  MOT_ASSIGN_OR_RETURN(TrainOptions flags, TrainOptionsFromFlags(&pool));
  o.train = DefaultModelTrainOptions();
  for (const std::string& f : flags.explicit_options) {
    if (f == "dim") o.train.dim = flags.dim;
    if (f == "layers") o.train.layers = flags.layers;
    if (f == "heads") o.train.heads = flags.heads;
    if (f == "kv_heads") o.train.kv_heads = flags.kv_heads;
    if (f == "ffn") o.train.ffn = flags.ffn;
    if (f == "max_seq_len") o.train.max_seq_len = flags.max_seq_len;
    if (f == "steps") o.train.steps = flags.steps;
    if (f == "batch_tokens") o.train.batch_tokens = flags.batch_tokens;
    if (f == "accum") o.train.accum = flags.accum;
    if (f == "lr") o.train.lr = flags.lr;
    if (f == "min_lr") o.train.min_lr = flags.min_lr;
    if (f == "warmup") o.train.warmup = flags.warmup;
    if (f == "clip") o.train.clip = flags.clip;
    if (f == "weight_decay") o.train.weight_decay = flags.weight_decay;
  }
  if (IsExplicit("towers")) return FlagError("towers", "the default model is a MoT");
  absl::StatusOr<DefaultModelReport> r = MakeDefaultModel(o);
  if (!r.ok()) return AsFlagError(r.status());
  std::printf(
      "default model in %s: data %.1f s, tokenizers %.1f s, packing %.1f s, training %.1f s "
      "(%lld steps, %.0f tokens/s, last loss %.4f, held-out loss %.4f); %.1f s in all\n",
      r->checkpoint.c_str(), r->data_seconds, r->tokenizer_seconds, r->pack_seconds,
      r->train.seconds, static_cast<long long>(r->train.steps), r->train.tokens_per_second,
      r->train.last_loss, r->train.final_val_loss, r->total_seconds);
  if (r->evaluated)
    std::printf("\n%s\n(evaluation %.1f s)\n", r->eval.Table().c_str(), r->eval.seconds);
  return absl::OkStatus();
}

}  // namespace

Subcommand TrainCommand() {
  return {"train",
          "train a MoT (or a dense baseline) on token shards, with checkpoints and --resume",
          "usage: mot-train train --data SHARDS --tokenizers TOK_DIR --out RUN_DIR\n"
          "         [--towers mot|dense] [--dim 128 --layers 2 --heads 4 --kv_heads --ffn]\n"
          "         [--steps 1000 --batch_tokens 2048 --accum 1 --lr 3e-3 --min_lr 3e-4\n"
          "          --warmup 50 --clip 1 --seed 0] [--save_every N --keep 2] [--resume]\n"
          "         [--val SHARDS --eval_every N] [--metrics FILE.jsonl] [--threads N]\n\n"
          "RUN_DIR/step-000100/  checkpoint + resumable state (train_state.json/.safetensors)\n"
          "RUN_DIR/latest        symlink to the newest complete step checkpoint\n"
          "RUN_DIR/final/        the serving checkpoint (mot-server --checkpoint, eval)\n"
          "RUN_DIR/metrics.jsonl one line per step: step, loss, loss_<modality>, lr,\n"
          "                      grad_norm, tokens, tokens_per_s; val_loss lines with --val.\n"
          "Saves are atomic: an interrupted or failed save leaves `latest` intact. --resume\n"
          "continues from `latest` and reproduces the uninterrupted run bit for bit (same\n"
          "--threads); a model or schedule flag that contradicts it is an error.",
          {"data",       "tokenizers",   "out",     "towers",      "dim",       "layers",
           "heads",      "kv_heads",     "ffn",     "max_seq_len", "steps",     "batch_tokens",
           "accum",      "lr",           "min_lr",  "warmup",      "clip",      "weight_decay",
           "seed",       "save_every",   "keep",    "resume",      "overwrite", "val",
           "eval_every", "val_examples", "metrics", "threads"},
          RunTrain};
}

Subcommand EvalCommand() {
  return {
      "eval",
      "generate greedily on the demo's held-out split and judge captions, images, speech",
      "usage: mot-train eval --checkpoint CKPT --data DEMO_DIR [--max_per_task N]\n"
      "         [--split heldout|train] [--json FILE] [--threads N] [--device cpu|cuda|auto]\n\n"
      "caption: color and shape words right; text_to_image: background color, shape color\n"
      "and the shape's place by pixel statistics; speech_to_text: color and shape words;\n"
      "text_to_speech: not silent and within 30% of espeak-ng's duration.",
      {"checkpoint", "data", "split", "max_per_task", "json", "threads", "device"},
      RunEval};
}

Subcommand CompareCommand() {
  return {"compare",
          "train MoT and dense at equal compute per token; steps MoT needs to match dense",
          "usage: mot-train compare --data SHARDS --val VAL_SHARDS --tokenizers TOK_DIR\n"
          "         --out DIR --eval_every N [model and schedule flags as for train]\n\n"
          "Writes DIR/mot/, DIR/dense/ (runs with metrics.jsonl), DIR/compare.md,\n"
          "DIR/compare.json and DIR/loss_curves.png (python3-matplotlib).",
          {"data",  "val",          "tokenizers", "out",       "eval_every",  "val_examples",
           "dim",   "layers",       "heads",      "kv_heads",  "ffn",         "max_seq_len",
           "steps", "batch_tokens", "accum",      "lr",        "min_lr",      "warmup",
           "clip",  "weight_decay", "seed",       "overwrite", "plot_script", "threads"},
          RunCompare};
}

Subcommand DefaultModelCommand() {
  return {"default-model",
          "demo data -> tokenizers -> shards -> a small MoT in the server's default directory",
          absl::StrCat(
              "usage: mot-train default-model [--out DIR] [--work DIR] [--threads 2]\n"
              "         [--steps N --dim N ...] [--eval=false]\n\n"
              "--out defaults to the directory mot-server loads without --checkpoint: ",
              DefaultModelDir(),
              "\n($MOT_HOME/default-model, else ~/.cache/mot/default-model). The checkpoint is\n"
              "replaced atomically. Sized for about 10 minutes on 2 cores."),
          {"out",    "work",        "seed",   "demo_scenes",  "demo_speech_scenes",
           "eval",   "dim",         "layers", "heads",        "kv_heads",
           "ffn",    "max_seq_len", "steps",  "batch_tokens", "accum",
           "lr",     "min_lr",      "warmup", "clip",         "weight_decay",
           "threads"},
          RunDefaultModel};
}

}  // namespace mot::trainer
