// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// train_bench: tokens/s of one full training step of trainer::TrainModel (forward, masked
// cross-entropy, backward, AdamW) beside the same step in PyTorch (bench/train_bench.py, run
// with MOT_PYTHON) on the same checkpoint and the same packed batch, in f32 on the CPU.
// Prints one Markdown table: per model size, mot-train and PyTorch tokens/s (mean ± stddev
// over --reps steps after one warm-up), the ratio, and the bound: the measured OpenBLAS
// sgemm FLOP/s of this machine (all threads) over the training FLOPs per token (6 x the
// matmul parameters a token meets, plus the attention's 12 x context x q_dim per layer).
#include <cblas.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_flags.h"
#include "engine/core/thread_pool.h"
#include "model_loaders/checkpoint.h"
#include "nlohmann/json.hpp"
#include "trainer/adamw.h"
#include "trainer/train_model.h"

ABSL_FLAG(int, threads, 2, "threads (ours and torch.set_num_threads); 0: one per core");
ABSL_FLAG(int, reps, 5, "timed steps after one warm-up, >= 2");
ABSL_FLAG(bool, torch, true, "also time the PyTorch step (bench/train_bench.py, MOT_PYTHON)");
ABSL_FLAG(bool, quick, false, "the small model only");
ABSL_FLAG(int, examples, 8, "packed examples per batch");
ABSL_FLAG(int, seq, 128, "tokens per example");

namespace mot::bench {
namespace {

struct Stats {
  double mean = 0, stddev = 0;
};

Stats MeanStddev(const std::vector<double>& v) {
  Stats s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(s.stddev / static_cast<double>(v.size() - 1)) : 0;
  return s;
}

// tokens / t for each sample.
Stats Rates(double tokens, const std::vector<double>& seconds) {
  std::vector<double> r;
  for (double t : seconds) r.push_back(tokens / t);
  return MeanStddev(r);
}

// OpenBLAS sgemm FLOP/s with every pool thread on its own 512-row slice of 512x512x512.
double SgemmFlops(ThreadPool& pool) {
  const int n = 512;
  const int threads = pool.num_threads();
  std::vector<float> a(static_cast<size_t>(n) * n * threads, 0.01f), b(size_t{n} * n, 0.02f),
      c(static_cast<size_t>(n) * n * threads);
  auto run = [&] {
    pool.ParallelFor(threads, 1, [&](int64_t begin, int64_t end, int) {
      for (int64_t t = begin; t < end; ++t) {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, n, n, 1.0f, a.data() + t * n * n, n,
                    b.data(), n, 0.0f, c.data() + t * n * n, n);
      }
    });
  };
  run();
  double best = 0;
  for (int r = 0; r < 5; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    run();
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, 2.0 * n * n * n * threads / s);
  }
  return best;
}

struct ModelSize {
  std::string name;
  int dim, layers, heads, kv_heads, ffn, vocab;
};

MotConfig MakeConfig(const ModelSize& s, int seq) {
  MotConfig c;
  c.dim = s.dim;
  c.n_layers = s.layers;
  c.n_heads = s.heads;
  c.n_kv_heads = s.kv_heads;
  c.head_dim = s.dim / s.heads;
  c.ffn_hidden = s.ffn;
  c.max_seq_len = std::max(seq, 256);
  c.modalities = {"text", "image", "audio"};
  c.vocab_size = s.vocab;
  // Text gets most of the ids, image and audio 512 codes each (the demo's kind of split).
  c.vocab_ranges = {{"special", 0, 16, 0},
                    {"text", 16, s.vocab - 1024, 0},
                    {"image", s.vocab - 1024, s.vocab - 512, 1},
                    {"audio", s.vocab - 512, s.vocab, 2}};
  return c;
}

// Each example: text prompt (a quarter), then an image or audio block, then text; loss on
// the last three quarters (the "answer"), as the demo's examples are laid out.
trainer::TrainBatch MakeBatch(const MotConfig& c, int examples, int seq) {
  trainer::TrainBatch b;
  uint64_t s = 12345;
  auto next = [&] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<int32_t>(s >> 33);
  };
  for (int e = 0; e < examples; ++e) {
    b.example_begin.push_back(static_cast<int32_t>(b.ids.size()));
    const int media = 1 + e % 2;
    for (int i = 0; i < seq; ++i) {
      const int tower = (i >= seq / 4 && i < 3 * seq / 4) ? media : 0;
      const VocabRange& r = c.vocab_ranges[static_cast<size_t>(tower == 0 ? 1 : tower + 1)];
      b.ids.push_back(r.begin + next() % (r.end - r.begin));
      b.towers.push_back(static_cast<uint8_t>(tower));
      b.loss_mask.push_back(i >= seq / 4 ? 1 : 0);
    }
  }
  return b;
}

double FlopsPerToken(const MotConfig& c, int seq) {
  const double per_layer = 2.0 * c.dim * (c.q_dim() + 2 * c.kv_dim()) + 2.0 * c.q_dim() * c.dim +
                           2.0 * 3 * c.dim * c.ffn_hidden;
  const double head = 2.0 * c.dim * c.vocab_size;  // upper bound: 3/4 of the rows predict
  const double attention = 2.0 * 2 * (seq / 2.0) * c.q_dim();
  return 3.0 * (c.n_layers * (per_layer + attention) + head);
}

std::string JsonList(const auto& v) {
  std::string s = "[";
  for (size_t i = 0; i < v.size(); ++i) absl::StrAppend(&s, i ? "," : "", static_cast<int>(v[i]));
  return s + "]";
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "tokens/s of a full training step (forward, backward, AdamW) beside PyTorch; prints one "
      "Markdown table.\nusage: train_bench [--threads=N] [--reps=N] [--notorch] [--quick] "
      "[--examples=N] [--seq=N]");
  ParseBenchFlags(argc, argv);
  const int reps = std::max(2, absl::GetFlag(FLAGS_reps));
  const int examples = absl::GetFlag(FLAGS_examples);
  const int seq = absl::GetFlag(FLAGS_seq);
  if (examples < 1 || seq < 2) UsageError("--examples must be >= 1 and --seq >= 2");
  ThreadPool pool(absl::GetFlag(FLAGS_threads));
  const int threads = pool.num_threads();

  std::vector<ModelSize> sizes = {{"small", 128, 2, 4, 2, 352, 4096},
                                  {"demo", 256, 4, 4, 2, 688, 8192}};
  if (absl::GetFlag(FLAGS_quick)) sizes.resize(1);
  const double peak = SgemmFlops(pool);

  std::printf(
      "threads: %d, batch: %d examples x %d tokens, 3 towers, f32, sgemm peak %.1f GFLOP/s\n\n",
      threads, examples, seq, peak / 1e9);
  std::printf(
      "| model | params | mot-train tok/s | PyTorch tok/s | ratio | bound tok/s | of bound |\n"
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::string torch_info;
  for (const ModelSize& size : sizes) {
    const MotConfig config = MakeConfig(size, seq);
    auto model = trainer::TrainModel::CreateRandom(config, 1, &pool);
    if (!model.ok()) {
      std::fprintf(stderr, "%s\n", model.status().ToString().c_str());
      return 1;
    }
    const trainer::TrainBatch batch = MakeBatch(config, examples, seq);
    trainer::AdamW opt(trainer::AdamWOptions{}, &pool);
    auto step = [&]() {
      (*model)->ZeroGrad();
      auto st = (*model)->ForwardBackward(batch);
      if (!st.ok()) {
        std::fprintf(stderr, "%s\n", st.status().ToString().c_str());
        std::exit(1);
      }
      auto params = (*model)->Params();
      opt.Step(params, 1e-4f);
    };
    // The checkpoint and batch for PyTorch: the model's weights before any step.
    const std::string dir = absl::StrCat(std::filesystem::temp_directory_path().string(),
                                         "/train_bench_", getpid(), "_", size.name);
    std::string torch_cell = "-", ratio_cell = "-";
    Stats torch_rate;
    const bool torch = absl::GetFlag(FLAGS_torch);
    if (torch) {
      const absl::Status w =
          WriteCheckpoint(dir + "/ckpt", config, (*model)->ToTensors(), {}, /*overwrite=*/true);
      if (!w.ok()) {
        std::fprintf(stderr, "%s\n", w.ToString().c_str());
        return 1;
      }
      std::ofstream(dir + "/batch.json")
          << "{\"ids\": " << JsonList(batch.ids) << ", \"towers\": " << JsonList(batch.towers)
          << ", \"loss_mask\": " << JsonList(batch.loss_mask)
          << ", \"example_begin\": " << JsonList(batch.example_begin) << "}\n";
    }
    step();  // warm-up
    std::vector<double> ours;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      step();
      ours.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    const double tokens = static_cast<double>(batch.ids.size());
    const Stats our_rate = Rates(tokens, ours);
    if (torch) {
      const std::string out = dir + "/torch.json";
      const std::string cmd = absl::StrCat(
          MOT_PYTHON, " ", MOT_SOURCE_DIR, "/bench/train_bench.py --checkpoint ", dir,
          "/ckpt --batch ", dir, "/batch.json --threads ", threads, " --reps ", reps, " > ", out);
      if (std::system(cmd.c_str()) == 0) {
        std::ifstream f(out);
        const nlohmann::json j = nlohmann::json::parse(f, nullptr, false);
        if (!j.is_discarded()) {
          torch_rate = Rates(tokens, j["samples_s"].get<std::vector<double>>());
          torch_cell = absl::StrFormat("%.0f ± %.0f", torch_rate.mean, torch_rate.stddev);
          ratio_cell = absl::StrFormat("%.2fx", our_rate.mean / torch_rate.mean);
          torch_info = absl::StrCat("PyTorch ", j["torch"].get<std::string>(), ", ",
                                    j["threads"].get<int>(), " threads, BLAS: ");
          for (const auto& lib : j["blas"])
            absl::StrAppend(&torch_info, lib.get<std::string>(), " ");
        }
      } else {
        torch_cell = "failed";
      }
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
    const double bound = peak / FlopsPerToken(config, seq);
    std::printf(
        "| %s (dim %d, %d layers, ffn %d, vocab %d) | %.1fM | %.0f ± %.0f | %s | %s | %.0f | %.0f "
        "%% |\n",
        size.name.c_str(), size.dim, size.layers, size.ffn, size.vocab,
        (*model)->NumParameters() / 1e6, our_rate.mean, our_rate.stddev, torch_cell.c_str(),
        ratio_cell.c_str(), bound, 100.0 * our_rate.mean / bound);
  }
  std::printf("\n%s\ncommand: train_bench --threads=%d --reps=%d --examples=%d --seq=%d%s\n",
              torch_info.c_str(), threads, reps, examples, seq,
              absl::GetFlag(FLAGS_quick) ? " --quick" : "");
  return 0;
}

}  // namespace
}  // namespace mot::bench

int main(int argc, char** argv) { return mot::bench::Main(argc, argv); }
