// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/gpu_bench.cc
// gpu_bench: MotModel on a device backend (issue 15), a 7B-sized MoT with random bf16
// weights, measured through the engine's own path (MotModel::Forward with a
// ContiguousKvCache in the backend's memory, bf16 KV), each figure beside its bound:
//   - the card's ceilings (bench/gpu_probe.h): HBM read bandwidth as weights are read, and
//     cuBLASLt's bf16 GEMM rate at 8192^3 and at the model's projection shapes;
//   - decode, batch 1, one step per tower at position ~512: median step time against
//     (WeightBytesPerToken(tower) + the KV read) / HBM read bandwidth;
//   - prefill of 2048 tokens (text tower): TFLOP/s (2 * params touched * tokens, plus
//     causal attention 4 * heads * head_dim * T(T+1)/2 per layer) against cuBLASLt's 8192^3
//     rate, and its time against cuBLASLt's time for the same GEMM shapes;
//   - decode throughput at 1..256 concurrent sequences at position ~512: tok/s against
//     max(bytes / bandwidth, flops / GEMM peak), and the step time against cuBLASLt's time
//     for the same GEMM shapes;
//   - one 1024-code image with classifier-free guidance: 2 sequences (cond + uncond) with a
//     64-token prompt each, then 1024 decode steps of both in the image tower. Random codes
//     are fed back: host sampling is not included; each step's logits do reach the host.
// Every Forward returns after its logits are in host memory, so host clock time around it is
// the whole step (host preparation, uploads, kernels, the logits' copy back).
// Weights: one random block per fan-in tiled over every tensor (the values do not change the
// timings; generating 14e9 random numbers would take minutes), written with WriteCheckpoint
// to /dev/shm when it has room (else the temp directory); its files are unlinked as soon as
// they are mapped (a killed run leaves nothing behind).
//
// Usage (Abseil flags; defaults shown):
//   gpu_bench [--device=cuda|cpu] [--quick] [--out=DIR] [--towers=2[,3]] [--budget_s=0]
//             [--batches=1,8,32,64,128,256] [--ckpt_dir=DIR] [--commit=SHA] [--threads=0]
//             [--layers=0]
//   --quick: a tiny config and a few steps (the ctest gpu_bench_smoke runs --device=cpu
//     --quick, so the harness itself stays tested where there is no GPU).
//   --device=cpu: the CPU backend; the GPU probes are skipped (the table says so) and the
//     decode bounds use the host read bandwidth (bench/bandwidth.h) instead.
//   --out: also write DIR/gpu_bench.md and DIR/gpu_bench.json (raw samples).
//   --towers: configs to run, 2 (text+image) and/or 3 (+audio).
//   --budget_s: when > 0, a section (or a config) that would start past this many seconds
//     since start-up is skipped and listed as such, and one still running 30 s past it stops
//     (scripts/gpu_check.sh sets it to fit the device lease). With --out the files are
//     rewritten after every section, so a run killed by a timeout keeps its rows.
//   --layers: override the layer count (a shallower model of the same width).
// Prints one Markdown table (name, value, unit, bound/peer, ratio) after a header naming the
// card, its memory and the date; ratio is value/bound for rates and bound/value for times
// (1 = at the bound).
// Exit status: 0 done; 1 a measurement failed (its row says which, the table is still
// printed); 2 a bad flag value.
#include <stdio.h>
#include <stdlib.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "bench/bandwidth.h"
#include "bench/bench_flags.h"
#include "bench/machine_info.h"
#include "engine/backend/backend.h"
#include "engine/backend/backend_factory.h"
#include "engine/backend/buffer.h"
#include "engine/core/status_macros.h"
#include "engine/core/tensor.h"
#include "engine/core/thread_pool.h"
#include "engine/kv/contiguous_kv_cache.h"
#include "engine/model/mot_model.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/weight_names.h"
#include "nlohmann/json.hpp"
#if MOT_GPU_PROBE
#include "bench/gpu_probe.h"
#endif

ABSL_FLAG(std::string, device, "cuda", "backend: cuda or cpu");
ABSL_FLAG(bool, quick, false, "a tiny config and a few steps (a smoke test of the harness)");
ABSL_FLAG(std::string, out, "", "also write DIR/gpu_bench.md and DIR/gpu_bench.json");
ABSL_FLAG(std::vector<std::string>, towers, std::vector<std::string>({"2"}),
          "configs to run: 2 (text+image) and/or 3 (text+image+audio), comma-separated");
ABSL_FLAG(double, budget_s, 0, "skip what would start after this many seconds (0: no limit)");
ABSL_FLAG(std::vector<std::string>, batches,
          std::vector<std::string>({"1", "8", "32", "64", "128", "256"}),
          "concurrent sequences of the decode throughput rows");
ABSL_FLAG(std::string, ckpt_dir, "",
          "where to write the random checkpoint (default /dev/shm when it has room, else the "
          "temp directory)");
ABSL_FLAG(std::string, commit, "", "the commit to print in the footer (default: git, if any)");
ABSL_FLAG(int, threads, 0, "CPU backend threads (0: one per core)");
ABSL_FLAG(int, layers, 0, "override the config's layer count (0: 32, or 2 with --quick)");

namespace mot::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

double Median(std::vector<double> v) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  const size_t h = v.size() / 2;
  return v.size() % 2 == 1 ? v[h] : 0.5 * (v[h - 1] + v[h]);
}

// The workload: the figures at full size, a few steps of a tiny model with --quick.
struct Workload {
  bool quick = false;
  int decode_pos = 512;  // context of the decode rows
  int decode_warmup = 8;
  int decode_steps = 64;
  int prefill_tokens = 2048;
  int prefill_warmup = 1;
  int prefill_reps = 5;
  std::vector<int> batches = {1, 8, 32, 64, 128, 256};
  int batch_warmup = 3;
  int batch_steps = 16;
  int fill_rows = 4096;  // rows per Forward while filling the throughput cache
  int image_prompt = 64;
  int image_codes = 1024;
  int image_reps = 2;
  int64_t probe_bytes = int64_t{4} << 30;  // >= 2 GiB: far past any L2
  int probe_warmup = 3;
  int probe_runs = 20;
  double section_estimate_s = 20;  // what a section may take, for --budget_s

  static Workload Quick() {
    Workload w;
    w.quick = true;
    w.decode_pos = 32, w.decode_warmup = 2, w.decode_steps = 6;
    w.prefill_tokens = 64, w.prefill_warmup = 1, w.prefill_reps = 2;
    w.batches = {1, 4};
    w.batch_warmup = 1, w.batch_steps = 3, w.fill_rows = 64;
    w.image_prompt = 8, w.image_codes = 16, w.image_reps = 1;
    w.probe_bytes = int64_t{64} << 20, w.probe_warmup = 1, w.probe_runs = 3;
    w.section_estimate_s = 0;
    return w;
  }
};

// A 7B-sized MoT (Llama-2-7B's shapes with Mistral's GQA: dim 4096, 32 layers, 32 heads, 8
// KV heads, ffn 14336) with Chameleon-like unified vocabulary: 32000 text ids (the first 16
// special), 8192 image codes and, with 3 towers, 4096 audio codes. --quick: the same layout
// scaled down. `layers` > 0 overrides the layer count (a shallower model of the same width, for
// a machine with less memory).
MotConfig MakeConfig(int towers, bool quick, int layers) {
  MotConfig c;
  c.norm_eps = 1e-5f;
  c.rope_theta = 10000.0f;
  c.norm_placement = NormPlacement::kPre;
  c.norm_type = NormType::kRms;
  int32_t text_end = 32000, image_codes = 8192, audio_codes = 4096;
  if (quick) {
    c.dim = 128, c.n_layers = 2, c.n_heads = 4, c.n_kv_heads = 2, c.head_dim = 32;
    c.ffn_hidden = 352, c.max_seq_len = 256;
    text_end = 512, image_codes = 256, audio_codes = 128;
  } else {
    c.dim = 4096, c.n_layers = 32, c.n_heads = 32, c.n_kv_heads = 8, c.head_dim = 128;
    c.ffn_hidden = 14336, c.max_seq_len = 4096;
  }
  if (layers > 0) c.n_layers = layers;
  static const char* kNames[] = {"text", "image", "audio"};
  for (int m = 0; m < towers; ++m) c.modalities.push_back(kNames[m]);
  c.vocab_ranges.push_back({"special", 0, 16, 0});
  c.vocab_ranges.push_back({"text", 16, text_end, 0});
  c.vocab_ranges.push_back({"image", text_end, text_end + image_codes, 1});
  c.vocab_size = text_end + image_codes;
  if (towers == 3) {
    c.vocab_ranges.push_back({"audio", c.vocab_size, c.vocab_size + audio_codes, 2});
    c.vocab_size += audio_codes;
  }
  return c;
}

// Parameters of one tower's projections in one layer (fused or not, the same count).
int64_t LayerGemmParams(const MotConfig& c) {
  return c.dim * (c.q_dim() + 2 * c.kv_dim()) + c.q_dim() * c.dim +
         3 * int64_t{c.dim} * c.ffn_hidden;
}

// K and V bytes of one cached position over all layers (bf16).
int64_t KvBytesPerPosition(const MotConfig& c) { return 2 * c.n_layers * c.kv_dim() * 2; }

// FLOPs of `rows` rows in one tower, each attending to `context` positions, `wanted` of
// them through the LM head.
double StepFlops(const MotConfig& c, double rows, double context_sum, double wanted) {
  const double gemm = 2.0 * rows * static_cast<double>(LayerGemmParams(c)) * c.n_layers +
                      2.0 * wanted * c.vocab_size * c.dim;
  // q·k and p·v: 2 FLOPs each per head dim per attended position.
  const double attention = 4.0 * c.n_heads * c.head_dim * context_sum * c.n_layers;
  return gemm + attention;
}

// ---- The random checkpoint.

uint64_t SplitMix64(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

float Uniform(uint64_t& state) {  // [-1, 1)
  return static_cast<float>(static_cast<double>(SplitMix64(state) >> 11) * 0x1.0p-52 - 1.0);
}

bool IsNorm(const weight_names::ExpectedTensor& e) {
  return e.shape.size() == 1 || e.name.find("_normalization.") != std::string::npos;
}

int64_t CheckpointBytes(const MotConfig& config) {
  int64_t total = 0;
  for (const auto& e : weight_names::ExpectedTensors(config)) {
    total += Tensor::NumElements(e.shape) * (IsNorm(e) ? 4 : 2);
  }
  return total;
}

// Writes `config`'s checkpoint to `dir` with random weights scaled as RandomMotWeights
// scales them (uniform, std 1/sqrt(fan_in); embeddings std 1; norms 1 +- 0.2), but fast: per
// fan-in one buffer as long as the largest tensor of that fan-in, filled by tiling one
// random block of 2^20 values, and every GEMM tensor a view of its prefix. Only the norms
// are drawn one by one. WriteCheckpoint streams the views to disk.
absl::Status WriteRandomCheckpoint(const std::string& dir, const MotConfig& config) {
  constexpr int64_t kBlock = int64_t{1} << 20;
  const std::vector<weight_names::ExpectedTensor> expected = weight_names::ExpectedTensors(config);
  std::map<int64_t, int64_t> longest;  // fan-in (0: the embedding) -> elements
  auto fan_in = [](const weight_names::ExpectedTensor& e) {
    return e.name == weight_names::kTokEmbeddings ? int64_t{0} : e.shape[1];
  };
  for (const auto& e : expected) {
    if (IsNorm(e)) continue;
    int64_t& n = longest[fan_in(e)];
    n = std::max(n, Tensor::NumElements(e.shape));
  }
  uint64_t state = 0x6770755f62656e63ULL;
  std::vector<float> unit(static_cast<size_t>(kBlock));
  for (float& v : unit) v = Uniform(state);
  std::map<int64_t, Tensor> patterns;
  std::vector<float> scaled(unit.size());
  for (const auto& [k, n] : longest) {
    const float scale = k == 0 ? std::sqrt(3.0f) : std::sqrt(3.0f / static_cast<float>(k));
    Tensor t = Tensor::Empty(DType::kBF16, {n});
    const int64_t first = std::min(n, kBlock);
    for (int64_t i = 0; i < first; ++i) scaled[static_cast<size_t>(i)] = scale * unit[i];
    ConvertFromF32(scaled.data(), first, DType::kBF16, t.data());
    // Doubling copies: log2(n / block) memcpys.
    auto* p = t.data_as<uint16_t>();
    for (int64_t filled = first; filled < n;) {
      const int64_t len = std::min(filled, n - filled);
      std::memcpy(p + filled, p, static_cast<size_t>(len) * 2);
      filled += len;
    }
    patterns.emplace(k, t);
  }
  std::vector<NamedTensor> tensors;
  tensors.reserve(expected.size());
  for (const auto& e : expected) {
    if (IsNorm(e)) {
      Tensor t = Tensor::Empty(DType::kF32, e.shape);
      const bool bias = e.name.ends_with(".bias");
      for (int64_t i = 0; i < t.numel(); ++i) {
        t.data_as<float>()[i] = bias ? 0.1f * Uniform(state) : 1.0f + 0.2f * Uniform(state);
      }
      tensors.push_back({e.name, t});
    } else {
      tensors.push_back(
          {e.name, Tensor::View(DType::kBF16, e.shape, patterns.at(fan_in(e)).data())});
    }
  }
  return WriteCheckpoint(dir, config, tensors);
}

// A fresh directory for the checkpoint: --ckpt_dir, else /dev/shm when it has room for
// `bytes` (memory-backed: writing and mapping cost no disk), else the temp directory.
absl::StatusOr<std::string> MakeScratchDir(const std::string& flag, int64_t bytes) {
  std::vector<std::string> candidates;
  if (!flag.empty()) {
    candidates.push_back(flag);
  } else {
    candidates.push_back("/dev/shm");
    std::error_code ec;
    candidates.push_back(std::filesystem::temp_directory_path(ec).string());
  }
  std::string tried;
  for (const std::string& base : candidates) {
    struct statvfs vfs;
    if (base.empty() || ::statvfs(base.c_str(), &vfs) != 0) continue;
    const int64_t avail = static_cast<int64_t>(vfs.f_bavail) * static_cast<int64_t>(vfs.f_frsize);
    // Room for the weights plus 5% and 64 MiB (headers, the small files, other users).
    if (avail < bytes + bytes / 20 + (int64_t{64} << 20)) {
      absl::StrAppend(&tried, tried.empty() ? "" : ", ", base, " has ",
                      absl::StrFormat("%.1f", avail / 1e9), " GB free");
      continue;
    }
    std::string tmpl = base + "/gpu_bench_XXXXXX";
    if (::mkdtemp(tmpl.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp ", tmpl, ": ", std::strerror(errno)));
    }
    return tmpl;
  }
  return absl::ResourceExhaustedError(absl::StrCat(
      "no room for a ", absl::StrFormat("%.1f", bytes / 1e9),
      " GB checkpoint: ", tried.empty() ? "no usable directory" : tried, " (give --ckpt_dir)"));
}

// A probed GEMM's name: "w13 m=2048 n=28672" (n tells the LM heads of two vocabularies apart).
std::string GemmKey(const std::string& name, int64_t m, int64_t n) {
  return absl::StrCat(name, " m=", m, " n=", n);
}

// ---- The table.

struct Row {
  std::string name;
  double value = NAN;
  std::string unit;
  double bound = NAN;      // the bound or the peer, in `unit`
  std::string bound_note;  // what the bound is
  bool lower_is_better = false;
  std::string status;  // "" measured; else "skipped: ..." or "failed: ..."
  std::vector<double> samples;

  double ratio() const {
    if (std::isnan(value) || std::isnan(bound) || value <= 0 || bound <= 0) return NAN;
    return lower_is_better ? bound / value : value / bound;
  }
};

std::string Num(double v) {
  if (std::isnan(v)) return "-";
  const double a = std::fabs(v);
  if (a >= 1000) return absl::StrFormat("%.0f", v);
  if (a >= 100) return absl::StrFormat("%.1f", v);
  if (a >= 1) return absl::StrFormat("%.2f", v);
  return absl::StrFormat("%.3g", v);
}

// ---- The run.

// GpuBench: the sections of one gpu_bench run over one backend, each adding rows to the table;
// a failing section becomes a "failed: ..." row and the run goes on. The ceilings measured by
// Probe are the bounds of the later rows. Thread rule: one thread; the backend and the pool
// are borrowed and must outlive it.
class GpuBench {
 public:
  GpuBench(Workload w, backend::Backend* backend, ThreadPool* pool, std::string device,
           double budget_s, std::string ckpt_flag)
      : w_(std::move(w)),
        backend_(backend),
        pool_(pool),
        device_(std::move(device)),
        budget_s_(budget_s),
        ckpt_flag_(std::move(ckpt_flag)),
        start_(Clock::now()) {}

  // The ceilings: the GPU probes on cuda, the host read bandwidth on cpu.
  void Probe(const std::vector<MotConfig>& configs);
  // Every section for one config; failures become rows.
  void RunConfig(const MotConfig& config);

  const std::vector<Row>& rows() const { return rows_; }
  bool failed() const { return failed_; }
  // The card (or host) and the date, for the table's head; set by Probe.
  const std::string& header() const { return header_; }
  // The probes' raw results (cuda only).
  const nlohmann::json& probe_json() const { return probe_json_; }
  // Called after the probes and after every section (to write partial results).
  void set_progress(std::function<void()> progress) { progress_ = std::move(progress); }

 private:
  struct Model {
    std::string root;  // scratch directory until the checkpoint is mapped (then removed)
    std::unique_ptr<Checkpoint> checkpoint;
    std::unique_ptr<model::MotModel> model;
    ~Model() {
      model.reset();
      checkpoint.reset();
      std::error_code ec;
      if (!root.empty()) std::filesystem::remove_all(root, ec);
    }
  };

  double Elapsed() const { return Seconds(start_, Clock::now()); }
  // Whether `estimate_s` more seconds fit in --budget_s.
  bool Fits(double estimate_s) const {
    return budget_s_ <= 0 || Elapsed() + estimate_s <= budget_s_;
  }
  // Inside a section's loops: DeadlineExceeded once the run is kGraceS past --budget_s (a
  // section that runs far longer than estimated, e.g. on a slow kernel), so that the caller's
  // timeout never cuts the table off.
  static constexpr double kGraceS = 30;
  absl::Status CheckBudget(const std::string& where) const {
    if (budget_s_ <= 0 || Elapsed() <= budget_s_ + kGraceS) return absl::OkStatus();
    return absl::DeadlineExceededError(
        absl::StrFormat("time budget ran out during %s (%.0f s)", where, Elapsed()));
  }
  void Skip(const std::string& name, const std::string& why) {
    Row r;
    r.name = name;
    r.status = "skipped: " + why;
    rows_.push_back(r);
  }
  void Fail(const std::string& name, const absl::Status& s) {
    Row r;
    r.name = name;
    r.status = absl::StrCat("failed: ", s.message());
    rows_.push_back(r);
    failed_ = true;
    std::cerr << "gpu_bench: " << name << ": " << s << "\n";
  }

  absl::StatusOr<std::unique_ptr<kv::ContiguousKvCache>> MakeCache(const MotConfig& c, int32_t seqs,
                                                                   int32_t len) {
    auto cfg = kv::ContiguousKvCacheConfig::FromModelConfig(c, seqs, len, DType::kBF16);
    cfg.storage = backend::KvStorageOn(backend_);
    return kv::ContiguousKvCache::Create(cfg);
  }
  // A random id of `tower`'s own ranges (not the special ids).
  int32_t Token(const MotConfig& c, int tower) {
    std::vector<const VocabRange*> ranges;
    for (const VocabRange& r : c.vocab_ranges) {
      if (r.tower == tower && r.name != "special") ranges.push_back(&r);
    }
    const VocabRange& r = *ranges[rng_() % ranges.size()];
    return r.begin + static_cast<int32_t>(rng_() % static_cast<uint32_t>(r.end - r.begin));
  }
  // One Forward, timed by the host clock (it returns once the logits are in host memory).
  absl::StatusOr<double> TimedForward(model::MotModel& m, const model::StepBatch& batch,
                                      kv::KvCache* cache) {
    logits_.resize(static_cast<size_t>(batch.NumWanted() * m.config().vocab_size));
    const auto t0 = Clock::now();
    MOT_RETURN_IF_ERROR(m.Forward(batch, cache, logits_.data()));
    return Seconds(t0, Clock::now());
  }
  // Prefills sequences [0, seqs) of `cache` with `len` tokens of `tower`, at most
  // w_.fill_rows rows a step.
  absl::Status Fill(model::MotModel& m, kv::KvCache* cache, int32_t seqs, int32_t len, int tower);

  absl::Status Load(const MotConfig& c, Model* out, const std::string& tag);
  absl::Status DecodeTower(model::MotModel& m, int tower, const std::string& tag);
  absl::Status Prefill(model::MotModel& m, const std::string& tag);
  absl::Status Throughput(model::MotModel& m, const std::string& tag);
  absl::Status Image(model::MotModel& m, const std::string& tag);

  // Bound of a decode step: max(bytes / bandwidth, flops / GEMM peak), seconds.
  double DecodeBoundSeconds(model::MotModel& m, int tower, int batch, int context) const;
  // cuBLASLt's time for a step's GEMMs (every projection at m rows, the LM head at `wanted`
  // rows), seconds; NAN when a shape was not probed.
  double GemmFloorSeconds(const MotConfig& c, int64_t m, int64_t wanted) const;
  std::vector<std::pair<std::string, std::vector<int64_t>>> GemmShapes(const MotConfig& c) const;

  Workload w_;
  backend::Backend* backend_;
  ThreadPool* pool_;
  std::string device_;
  double budget_s_;
  std::string ckpt_flag_;
  Clock::time_point start_;
  std::vector<Row> rows_;
  bool failed_ = false;
  std::string header_;
  nlohmann::json probe_json_;
  std::function<void()> progress_;
  std::mt19937 rng_{20261202};
  std::vector<float> logits_;
  double read_gbs_ = NAN;                  // HBM (cuda) or host (cpu) read bandwidth
  double gemm_peak_tflops_ = NAN;          // cuBLASLt at 8192^3
  std::map<std::string, double> gemm_ms_;  // "w13 m=2048" -> median ms
  double setup_s_per_gb_ = 2.5;            // checkpoint write + load, refined by each config
};

// The projections of one tower as the model runs them (fused QKV and W1|W3), and the LM head:
// name -> {n, k}.
std::vector<std::pair<std::string, std::vector<int64_t>>> GpuBench::GemmShapes(
    const MotConfig& c) const {
  return {{"qkv", {c.q_dim() + 2 * c.kv_dim(), c.dim}},
          {"wo", {c.dim, c.q_dim()}},
          {"w13", {2 * int64_t{c.ffn_hidden}, c.dim}},
          {"w2", {c.dim, c.ffn_hidden}},
          {"lm_head", {c.vocab_size, c.dim}}};
}

double GpuBench::GemmFloorSeconds(const MotConfig& c, int64_t m, int64_t wanted) const {
  double ms = 0;
  for (const auto& [name, nk] : GemmShapes(c)) {
    const bool head = name == "lm_head";
    const auto it = gemm_ms_.find(GemmKey(name, head ? wanted : m, nk[0]));
    if (it == gemm_ms_.end()) return NAN;
    ms += head ? it->second : it->second * c.n_layers;
  }
  return ms * 1e-3;
}

void GpuBench::Probe(const std::vector<MotConfig>& configs) {
  std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  Row bw;
  bw.unit = "GB/s";
  if (device_ == "cpu") {
    // Host memory is what the CPU backend streams weights from.
    const size_t bytes = w_.quick ? size_t{64} << 20 : size_t{1} << 30;
    read_gbs_ = MeasureReadBandwidthGBs(*pool_, bytes, w_.quick ? 3 : 7);
    header_ = absl::StrCat("Device: --device cpu, backend ", std::string(backend_->name()),
                           ", CPU ", CpuModel(), ", ", pool_->num_threads(),
                           " threads. GPU probes skipped (--device cpu). ", date, ".");
    bw.name = absl::StrCat("host read bandwidth (", bytes >> 20, " MiB, best of ", w_.quick ? 3 : 7,
                           ", bench/bandwidth.h)");
    bw.value = read_gbs_;
    rows_.push_back(bw);
    Skip("HBM read bandwidth (gpu_probe)", "--device cpu");
    Skip("cuBLASLt bf16 GEMM 8192^3 (gpu_probe)", "--device cpu");
    return;
  }
#if MOT_GPU_PROBE
  gpu::DeviceInfo info;
  if (std::string e = gpu::QueryDevice(&info); !e.empty()) {
    Fail("device query", absl::InternalError(e));
    return;
  }
  header_ = absl::StrFormat(
      "Card: %s, %.1f GiB (%.1f GiB free at start), compute capability %d.%d, %d SMs, L2 %.0f "
      "MiB; driver CUDA %d.%d, runtime %d.%d, cuBLASLt %d. Backend %s. %s.",
      info.name, info.total_bytes / 1073741824.0, info.free_bytes / 1073741824.0, info.cc_major,
      info.cc_minor, info.sm_count, info.l2_bytes / 1048576.0, info.driver_version / 1000,
      info.driver_version % 1000 / 10, info.runtime_version / 1000,
      info.runtime_version % 1000 / 10, static_cast<int>(info.cublaslt_version),
      std::string(backend_->name()), date);
  probe_json_["device"] = {{"name", info.name},
                           {"total_bytes", info.total_bytes},
                           {"free_bytes", info.free_bytes},
                           {"cc", absl::StrCat(info.cc_major, ".", info.cc_minor)},
                           {"sm_count", info.sm_count},
                           {"l2_bytes", info.l2_bytes},
                           {"driver_version", info.driver_version},
                           {"runtime_version", info.runtime_version},
                           {"cublaslt_version", info.cublaslt_version}};
  // Datasheet figures for the H100/H200 SXM (the kinds this project is lent), as peers only.
  const bool h200 = info.name.find("H200") != std::string::npos;
  const bool h100 = info.name.find("H100") != std::string::npos;
  gpu::BandwidthResult result;
  bw.name =
      absl::StrCat("HBM read bandwidth (", w_.probe_bytes >> 20, " MiB bf16, 16-B loads, f32 sum)");
  if (std::string e =
          gpu::MeasureReadBandwidth(w_.probe_bytes, w_.probe_warmup, w_.probe_runs, &result);
      !e.empty()) {
    Fail(bw.name, absl::InternalError(e));
  } else {
    read_gbs_ = result.gbs;
    bw.value = result.gbs;
    bw.samples = result.samples_ms;
    if (h200) bw.bound = 4800, bw.bound_note = "H200 datasheet 4.8 TB/s";
    if (h100) bw.bound = 3350, bw.bound_note = "H100 SXM datasheet 3.35 TB/s";
    rows_.push_back(bw);
    probe_json_["read_bandwidth"] = {{"bytes", result.bytes},
                                     {"samples_ms", result.samples_ms},
                                     {"median_ms", result.median_ms},
                                     {"gbs", result.gbs},
                                     {"checksum", result.checksum}};
  }

  std::vector<gpu::GemmShape> shapes = {{"8192^3", 8192, 8192, 8192}};
  std::vector<int64_t> ms(w_.batches.begin(), w_.batches.end());
  ms.push_back(w_.prefill_tokens);
  std::sort(ms.begin(), ms.end());
  ms.erase(std::unique(ms.begin(), ms.end()), ms.end());
  std::set<std::string> seen;
  for (const MotConfig& c : configs) {
    for (const auto& [name, nk] : GemmShapes(c)) {
      for (int64_t m : ms) {
        // The LM head runs on the wanted rows: every decode row, one row of a prefill.
        if (name == "lm_head" && m == w_.prefill_tokens &&
            std::find(w_.batches.begin(), w_.batches.end(), m) == w_.batches.end()) {
          continue;
        }
        const std::string key = GemmKey(name, m, nk[0]);
        if (seen.insert(key).second) shapes.push_back({key, m, nk[0], nk[1]});
      }
    }
  }
  std::vector<gpu::GemmResult> gemms;
  if (std::string e = gpu::MeasureGemms(shapes, 2, w_.quick ? 3 : 15, &gemms); !e.empty()) {
    Fail("cuBLASLt GEMM probe", absl::InternalError(e));
    return;
  }
  for (const gpu::GemmResult& g : gemms) {
    probe_json_["gemms"].push_back({{"name", g.shape.name},
                                    {"m", g.shape.m},
                                    {"n", g.shape.n},
                                    {"k", g.shape.k},
                                    {"has_algo", g.has_algo},
                                    {"calls_per_sample", g.calls_per_sample},
                                    {"weight_copies", g.weight_copies},
                                    {"samples_ms", g.samples_ms},
                                    {"median_ms", g.median_ms},
                                    {"tflops", g.tflops},
                                    {"weight_gbs", g.weight_gbs}});
    if (g.has_algo) gemm_ms_[g.shape.name] = g.median_ms;
  }
  const gpu::GemmResult& peak = gemms.front();
  Row p;
  p.name = "cuBLASLt bf16 GEMM 8192^3 (A,B bf16, C/D f32, compute 32F)";
  p.unit = "TFLOP/s";
  if (!peak.has_algo) {
    p.status = "failed: cuBLASLt offered no algorithm";
    failed_ = true;
  } else {
    gemm_peak_tflops_ = peak.tflops;
    p.value = peak.tflops;
    p.samples = peak.samples_ms;
    if (h200 || h100) p.bound = 989, p.bound_note = "H100/H200 SXM datasheet dense bf16";
  }
  rows_.push_back(p);
  // The model's shapes in the table: decode m=1 as weight GB/s against the HBM rate, the
  // prefill shapes as TFLOP/s against 8192^3. Every other probed shape is in the JSON.
  for (const gpu::GemmResult& g : gemms) {
    if (!g.has_algo || g.shape.name == "8192^3") continue;
    Row r;
    r.samples = g.samples_ms;
    if (g.shape.m == 1) {
      r.name = absl::StrFormat("cuBLASLt %s k=%d: weight read", g.shape.name, g.shape.k);
      r.value = g.weight_gbs, r.unit = "GB/s";
      r.bound = read_gbs_, r.bound_note = "HBM read bandwidth above";
      rows_.push_back(r);
    } else if (g.shape.m == w_.prefill_tokens) {
      r.name = absl::StrFormat("cuBLASLt %s k=%d", g.shape.name, g.shape.k);
      r.value = g.tflops, r.unit = "TFLOP/s";
      r.bound = gemm_peak_tflops_, r.bound_note = "cuBLASLt 8192^3 above";
      rows_.push_back(r);
    }
  }
#else
  header_ = absl::StrCat("Device: ", std::string(backend_->name()),
                         ". This build has no GPU probes (no nvcc). ", date, ".");
  Skip("HBM read bandwidth (gpu_probe)", "built without CUDA");
  Skip("cuBLASLt bf16 GEMM 8192^3 (gpu_probe)", "built without CUDA");
#endif
}

double GpuBench::DecodeBoundSeconds(model::MotModel& m, int tower, int batch, int context) const {
  const MotConfig& c = m.config();
  const double bytes = static_cast<double>(m.WeightBytesPerToken(tower)) +
                       static_cast<double>(batch) * context * KvBytesPerPosition(c);
  double t = bytes / (read_gbs_ * 1e9);
  if (!std::isnan(gemm_peak_tflops_)) {
    t = std::max(t, StepFlops(c, batch, static_cast<double>(batch) * context, batch) /
                        (gemm_peak_tflops_ * 1e12));
  }
  return t;
}

absl::Status GpuBench::Fill(model::MotModel& m, kv::KvCache* cache, int32_t seqs, int32_t len,
                            int tower) {
  const int32_t per_step = std::max(1, w_.fill_rows / std::max(len, 1));
  for (int32_t s0 = 0; s0 < seqs; s0 += per_step) {
    model::StepBatch batch;
    for (int32_t s = s0; s < std::min(seqs, s0 + per_step); ++s) {
      for (int32_t p = cache->Length(s); p < len; ++p) {
        batch.rows.push_back({Token(m.config(), tower), tower, s, p, false});
      }
    }
    if (batch.rows.empty()) continue;
    batch.rows.back().want_logits = true;
    MOT_RETURN_IF_ERROR(CheckBudget(absl::StrCat("the prefill of sequence ", s0)));
    MOT_RETURN_IF_ERROR(TimedForward(m, batch, cache).status());
  }
  return absl::OkStatus();
}

absl::Status GpuBench::Load(const MotConfig& c, Model* out, const std::string& tag) {
  const int64_t bytes = CheckpointBytes(c);
  MOT_ASSIGN_OR_RETURN(out->root, MakeScratchDir(ckpt_flag_, bytes));
  const std::string dir = out->root + "/ckpt";
  const std::string base = out->root.substr(0, out->root.rfind('/'));  // /dev/shm or the like
  const auto t0 = Clock::now();
  MOT_RETURN_IF_ERROR(WriteRandomCheckpoint(dir, c));
  const auto t1 = Clock::now();
  CheckpointOpenOptions open;
  open.verify_sha256 = false;  // just written by us
  MOT_ASSIGN_OR_RETURN(Checkpoint ckpt, Checkpoint::Open(dir, open));
  out->checkpoint = std::make_unique<Checkpoint>(std::move(ckpt));
  // The weights stay mapped (the mapping keeps the bytes until the Checkpoint goes), so the
  // names can go now: a run killed by its time limit leaves nothing in /dev/shm.
  std::error_code ec;
  std::filesystem::remove_all(out->root, ec);
  out->root.clear();
  MOT_ASSIGN_OR_RETURN(out->model, model::MotModel::Create(out->checkpoint.get(), backend_));
  MOT_RETURN_IF_ERROR(backend_->Synchronize());
  const auto t2 = Clock::now();
  setup_s_per_gb_ = Seconds(t0, t2) / (bytes / 1e9);

  Row write;
  write.name = absl::StrFormat("%s checkpoint write: %.2f GB random bf16 to %s (+ SHA-256)", tag,
                               bytes / 1e9, base);
  write.value = Seconds(t0, t1), write.unit = "s", write.lower_is_better = true;
  rows_.push_back(write);
  Row load;
  load.name = absl::StrFormat("%s MotModel::Create: %.1fB params (map, fuse, upload)", tag,
                              out->model->NumParameters() / 1e9);
  load.value = Seconds(t1, t2), load.unit = "s", load.lower_is_better = true;
  rows_.push_back(load);
  return absl::OkStatus();
}

absl::Status GpuBench::DecodeTower(model::MotModel& m, int tower, const std::string& tag) {
  const MotConfig& c = m.config();
  const int steps = w_.decode_warmup + w_.decode_steps;
  MOT_ASSIGN_OR_RETURN(auto cache, MakeCache(c, 1, w_.decode_pos + steps + 1));
  MOT_RETURN_IF_ERROR(Fill(m, cache.get(), 1, w_.decode_pos, tower));
  std::vector<double> ms;
  for (int i = 0; i < steps; ++i) {
    MOT_RETURN_IF_ERROR(CheckBudget(absl::StrCat("decode step ", i)));
    model::StepBatch step;
    step.rows.push_back({Token(c, tower), tower, 0, cache->Length(0), true});
    MOT_ASSIGN_OR_RETURN(const double s, TimedForward(m, step, cache.get()));
    if (i >= w_.decode_warmup) ms.push_back(s * 1e3);
  }
  const int context = w_.decode_pos + w_.decode_warmup + w_.decode_steps / 2;
  Row r;
  r.name =
      absl::StrFormat("%s decode step, batch 1, %s tower, pos %d (median of %d)", tag,
                      c.modalities[static_cast<size_t>(tower)], w_.decode_pos, w_.decode_steps);
  r.value = Median(ms), r.unit = "ms", r.lower_is_better = true, r.samples = ms;
  r.bound = DecodeBoundSeconds(m, tower, 1, context) * 1e3;
  r.bound_note = absl::StrFormat("(%.2f GB weights + %.0f MB KV) / %.0f GB/s",
                                 m.WeightBytesPerToken(tower) / 1e9,
                                 context * KvBytesPerPosition(c) / 1e6, read_gbs_);
  rows_.push_back(r);
  return absl::OkStatus();
}

absl::Status GpuBench::Prefill(model::MotModel& m, const std::string& tag) {
  const MotConfig& c = m.config();
  const int t = w_.prefill_tokens;
  MOT_ASSIGN_OR_RETURN(auto cache, MakeCache(c, 1, t));
  std::vector<double> ms;
  for (int rep = 0; rep < w_.prefill_warmup + w_.prefill_reps; ++rep) {
    MOT_RETURN_IF_ERROR(CheckBudget(absl::StrCat("prefill repetition ", rep)));
    cache->ResetAll();
    model::StepBatch batch;
    for (int i = 0; i < t; ++i) batch.rows.push_back({Token(c, 0), 0, 0, i, i + 1 == t});
    MOT_ASSIGN_OR_RETURN(const double s, TimedForward(m, batch, cache.get()));
    if (rep >= w_.prefill_warmup) ms.push_back(s * 1e3);
  }
  const double median_ms = Median(ms);
  const double flops = StepFlops(c, t, 0.5 * t * (t + 1.0), 1);
  Row rate;
  rate.name = absl::StrFormat("%s prefill %d tokens, text tower: GEMM + attention FLOPs", tag, t);
  rate.value = flops / (median_ms * 1e-3) / 1e12, rate.unit = "TFLOP/s";
  rate.samples = ms;
  rate.bound = gemm_peak_tflops_, rate.bound_note = "cuBLASLt 8192^3 above";
  rows_.push_back(rate);
  Row time;
  time.name = absl::StrFormat("%s prefill %d tokens, text tower: time (median of %d)", tag, t,
                              w_.prefill_reps);
  time.value = median_ms, time.unit = "ms", time.lower_is_better = true, time.samples = ms;
  time.bound = GemmFloorSeconds(c, t, 1) * 1e3;
  time.bound_note = "cuBLASLt alone on the same GEMM shapes";
  rows_.push_back(time);
  return absl::OkStatus();
}

absl::Status GpuBench::Throughput(model::MotModel& m, const std::string& tag) {
  const MotConfig& c = m.config();
  const int max_batch = *std::max_element(w_.batches.begin(), w_.batches.end());
  const int steps = w_.batch_warmup + w_.batch_steps;
  MOT_ASSIGN_OR_RETURN(auto cache, MakeCache(c, max_batch, w_.decode_pos + steps + 1));
  const auto t0 = Clock::now();
  MOT_RETURN_IF_ERROR(Fill(m, cache.get(), max_batch, w_.decode_pos, 0));
  std::cerr << "gpu_bench: " << tag << " filled " << max_batch << " sequences to " << w_.decode_pos
            << " in " << Seconds(t0, Clock::now()) << " s\n";
  for (int b : w_.batches) {
    if (!Fits(w_.section_estimate_s / 4)) {
      Skip(absl::StrFormat("%s decode batch %d", tag, b), "time budget");
      continue;
    }
    // Every sequence back at decode_pos (the cache keeps the bytes; lengths say what is valid).
    for (int s = 0; s < b; ++s) cache->Commit(s, w_.decode_pos);
    std::vector<double> ms;
    for (int i = 0; i < steps; ++i) {
      MOT_RETURN_IF_ERROR(CheckBudget(absl::StrCat("decode batch ", b)));
      model::StepBatch step;
      for (int s = 0; s < b; ++s) step.rows.push_back({Token(c, 0), 0, s, cache->Length(s), true});
      MOT_ASSIGN_OR_RETURN(const double sec, TimedForward(m, step, cache.get()));
      if (i >= w_.batch_warmup) ms.push_back(sec * 1e3);
    }
    const double step_ms = Median(ms);
    const int context = w_.decode_pos + w_.batch_warmup + w_.batch_steps / 2;
    const double bound_s = DecodeBoundSeconds(m, 0, b, context);
    Row tok;
    tok.name = absl::StrFormat("%s decode batch %d, text tower, pos %d: throughput", tag, b,
                               w_.decode_pos);
    tok.value = b / (step_ms * 1e-3), tok.unit = "tok/s";
    tok.bound = b / bound_s;
    tok.bound_note = std::isnan(gemm_peak_tflops_) ? "weights + KV / read bandwidth"
                                                   : "max(weights + KV / HBM, FLOPs / 8192^3 rate)";
    rows_.push_back(tok);
    Row step;
    step.name =
        absl::StrFormat("%s decode batch %d: step time (median of %d)", tag, b, w_.batch_steps);
    step.value = step_ms, step.unit = "ms", step.lower_is_better = true, step.samples = ms;
    step.bound = GemmFloorSeconds(c, b, b) * 1e3;
    step.bound_note = "cuBLASLt alone on the same GEMM shapes";
    rows_.push_back(step);
  }
  return absl::OkStatus();
}

absl::Status GpuBench::Image(model::MotModel& m, const std::string& tag) {
  const MotConfig& c = m.config();
  const int prompt = w_.image_prompt, codes = w_.image_codes;
  MOT_ASSIGN_OR_RETURN(auto cache, MakeCache(c, 2, prompt + codes));
  std::vector<double> seconds;
  for (int rep = 0; rep < w_.image_reps; ++rep) {
    cache->ResetAll();
    // cond and uncond: two text prompts of the same length (the uncond one stands for the
    // prompt with its text dropped), prefilled in one step.
    model::StepBatch prefill;
    for (int s = 0; s < 2; ++s) {
      for (int i = 0; i < prompt; ++i)
        prefill.rows.push_back({Token(c, 0), 0, s, i, i + 1 == prompt});
    }
    double total = 0;
    MOT_ASSIGN_OR_RETURN(const double p, TimedForward(m, prefill, cache.get()));
    total += p;
    for (int i = 0; i < codes; ++i) {
      MOT_RETURN_IF_ERROR(CheckBudget(absl::StrCat("image repetition ", rep, ", code ", i)));
      const int32_t code = Token(c, 1);  // stands for the guided sample of both rows
      model::StepBatch step;
      for (int s = 0; s < 2; ++s) step.rows.push_back({code, 1, s, prompt + i, true});
      MOT_ASSIGN_OR_RETURN(const double d, TimedForward(m, step, cache.get()));
      total += d;
    }
    seconds.push_back(total);
  }
  // Bound: the prompt at the GEMM peak (or its bytes), then every code step's weights + KV.
  double bound =
      std::isnan(gemm_peak_tflops_)
          ? 0
          : StepFlops(c, 2.0 * prompt, prompt * (prompt + 1.0), 2) / (gemm_peak_tflops_ * 1e12);
  bound = std::max(bound, m.WeightBytesPerToken(0) / (read_gbs_ * 1e9));
  for (int i = 0; i < codes; ++i) bound += DecodeBoundSeconds(m, 1, 2, prompt + i + 1);
  Row r;
  r.name = absl::StrFormat(
      "%s image, %d codes with CFG (2 seqs x %d-token prompt, then %d steps of 2 rows in the "
      "image tower; host sampling not included): latency (median of %d)",
      tag, codes, prompt, codes, w_.image_reps);
  r.value = Median(seconds), r.unit = "s", r.lower_is_better = true, r.samples = seconds;
  r.bound = bound, r.bound_note = "prompt + every step at its decode bound";
  rows_.push_back(r);
  return absl::OkStatus();
}

void GpuBench::RunConfig(const MotConfig& c) {
  const std::string tag = absl::StrCat("[", c.num_towers(), " towers]");
  const double gb = CheckpointBytes(c) / 1e9;
  if (!Fits(gb * setup_s_per_gb_ + w_.section_estimate_s)) {
    Skip(absl::StrCat(tag, " every section"),
         absl::StrFormat("time budget (setup of %.0f GB estimated at %.0f s)", gb,
                         gb * setup_s_per_gb_));
    return;
  }
  Model loaded;
  if (absl::Status s = Load(c, &loaded, tag); !s.ok()) {
    Fail(absl::StrCat(tag, " load"), s);
    return;
  }
  model::MotModel& m = *loaded.model;
  auto section = [&](const std::string& name, auto&& run) {
    if (!Fits(w_.section_estimate_s)) {
      Skip(absl::StrCat(tag, " ", name), "time budget");
      return;
    }
    const auto t0 = Clock::now();
    if (absl::Status s = run(); absl::IsDeadlineExceeded(s)) {
      Skip(absl::StrCat(tag, " ", name), std::string(s.message()));
    } else if (!s.ok()) {
      Fail(absl::StrCat(tag, " ", name), s);
    }
    std::cerr << "gpu_bench: " << tag << " " << name << ": " << Seconds(t0, Clock::now()) << " s\n";
    if (progress_) progress_();
  };
  for (int t = 0; t < c.num_towers(); ++t) {
    section(absl::StrCat("decode ", c.modalities[static_cast<size_t>(t)]),
            [&] { return DecodeTower(m, t, tag); });
  }
  section("prefill", [&] { return Prefill(m, tag); });
  section("throughput", [&] { return Throughput(m, tag); });
  section("image", [&] { return Image(m, tag); });
}

std::string Markdown(const std::string& header, const std::vector<Row>& rows,
                     const std::string& footer) {
  std::ostringstream md;
  md << header << "\n\n";
  md << "| name | value | unit | bound/peer | ratio |\n";
  md << "| --- | ---: | --- | --- | ---: |\n";
  for (const Row& r : rows) {
    const std::string value = r.status.empty() ? Num(r.value) : r.status;
    std::string bound = Num(r.bound);
    if (!r.bound_note.empty() && !std::isnan(r.bound))
      absl::StrAppend(&bound, " (", r.bound_note, ")");
    const double ratio = r.ratio();
    md << "| " << r.name << " | " << value << " | " << r.unit << " | " << bound << " | "
       << (std::isnan(ratio) ? "-" : absl::StrFormat("%.2f", ratio)) << " |\n";
  }
  md << "\n" << footer;
  return md.str();
}

// Writes DIR/gpu_bench.md and DIR/gpu_bench.json (the rows with their raw samples), each
// through a temporary file renamed into place, so that a run killed meanwhile leaves the last
// complete pair; false when a file cannot be written.
bool WriteReport(const std::string& out_dir, const std::string& md, const GpuBench& bench,
                 const std::string& command, const std::string& commit) {
  nlohmann::json j;
  j["header"] = bench.header();
  j["command"] = command;
  j["commit"] = commit;
  j["probes"] = bench.probe_json();
  for (const Row& r : bench.rows()) {
    j["rows"].push_back(
        {{"name", r.name},
         {"value", std::isnan(r.value) ? nlohmann::json() : nlohmann::json(r.value)},
         {"unit", r.unit},
         {"bound", std::isnan(r.bound) ? nlohmann::json() : nlohmann::json(r.bound)},
         {"bound_note", r.bound_note},
         {"status", r.status},
         {"samples", r.samples}});
  }
  std::error_code ec;
  std::filesystem::create_directories(out_dir, ec);
  for (const auto& [name, text] : {std::pair<std::string, std::string>{"gpu_bench.md", md},
                                   {"gpu_bench.json", j.dump(1) + "\n"}}) {
    const std::string path = out_dir + "/" + name;
    {
      std::ofstream f(path + ".tmp");
      f << text;
      if (!f) return false;
    }
    std::filesystem::rename(path + ".tmp", path, ec);
    if (ec) return false;
  }
  return true;
}

int Main(const Workload& w, const std::string& device, const std::vector<int>& towers, int layers,
         double budget_s, const std::string& out_dir, const std::string& ckpt_flag,
         const std::string& commit_flag, int threads, const std::string& command) {
  ThreadPool pool(threads);
  std::string note;
  absl::StatusOr<std::unique_ptr<backend::Backend>> backend =
      backend::CreateBackend(device, &pool, backend::CpuOptions{}, &note);
  if (!backend.ok()) {
    std::cerr << "gpu_bench: " << backend.status() << "\n";
    return 1;
  }
  std::vector<MotConfig> configs;
  for (int t : towers) configs.push_back(MakeConfig(t, w.quick, layers));
  std::string commit = commit_flag;
  if (commit.empty()) {
    commit =
        RunCommand(absl::StrCat("git -C ", MOT_SOURCE_DIR, " rev-parse --short HEAD 2>/dev/null"));
  }
  if (commit.empty()) commit = "unknown";
  const MotConfig& c0 = configs.front();
  std::vector<std::string> vocabs;
  for (const MotConfig& c : configs) {
    vocabs.push_back(absl::StrCat(c.vocab_size, " (", absl::StrJoin(c.modalities, "+"), ")"));
  }
  const std::string model_note = absl::StrFormat(
      "Model: dim %d, %d layers, %d heads (%d KV) x %d, ffn %d, vocab %s, random bf16 "
      "weights, fused QKV and W1|W3, bf16 KV in the backend's memory (ContiguousKvCache). "
      "Times: host clock around MotModel::Forward, which returns once the wanted logits are in "
      "host memory (their copy is included; sampling is not). Values are medians of the "
      "steps or repetitions named; raw samples in gpu_bench.json. Ratio: value/bound for "
      "rates, bound/value for times (1 = at the bound).\n",
      c0.dim, c0.n_layers, c0.n_heads, c0.n_kv_heads, c0.head_dim, c0.ffn_hidden,
      absl::StrJoin(vocabs, " / "));
  auto footer = [&](bool partial) {
    return absl::StrCat(model_note,
                        partial ? "PARTIAL: written after a section; the run went on.\n" : "",
                        "Commit ", commit, ", load average ", LoadAvg(), ", ", note,
                        w.quick ? ", --quick" : "", ".\nCommand: `", command, "`\n");
  };

  GpuBench bench(w, backend->get(), &pool, device, budget_s, ckpt_flag);
  // After the probes and every section, so that a run cut short by its time limit still
  // leaves its rows.
  auto progress = [&] {
    if (!out_dir.empty()) {
      (void)WriteReport(out_dir, Markdown(bench.header(), bench.rows(), footer(true)), bench,
                        command, commit);
    }
  };
  bench.set_progress(progress);
  bench.Probe(configs);
  progress();
  for (const MotConfig& c : configs) bench.RunConfig(c);

  const std::string md = Markdown(bench.header(), bench.rows(), footer(false));
  std::cout << md;
  if (!out_dir.empty() && !WriteReport(out_dir, md, bench, command, commit)) {
    std::cerr << "gpu_bench: cannot write " << out_dir << "/gpu_bench.md or .json\n";
    return 1;
  }
  return bench.failed() ? 1 : 0;
}

}  // namespace
}  // namespace mot::bench

int main(int argc, char** argv) {
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) absl::StrAppend(&command, " ", argv[i]);
  absl::SetProgramUsageMessage(
      "MotModel on a device backend (7B-sized MoT, random bf16 weights) against the card's "
      "measured ceilings; prints one Markdown table.\n"
      "usage: gpu_bench [--device=cuda|cpu] [--quick] [--out=DIR] [--towers=2,3] "
      "[--budget_s=S] [--batches=1,8,...] [--ckpt_dir=DIR] [--commit=SHA] [--threads=N] "
      "[--layers=N]");
  mot::bench::ParseBenchFlags(argc, argv);
  const std::string device = absl::GetFlag(FLAGS_device);
  if (device != "cuda" && device != "cpu") {
    mot::bench::UsageError(absl::StrCat("--device=", device, ": must be cuda or cpu"));
  }
  const bool quick = absl::GetFlag(FLAGS_quick);
  mot::bench::Workload w = quick ? mot::bench::Workload::Quick() : mot::bench::Workload();
  std::vector<int> towers;
  for (const std::string& t : absl::GetFlag(FLAGS_towers)) {
    if (t != "2" && t != "3") {
      mot::bench::UsageError(absl::StrCat("--towers: '", t, "' is not 2 or 3"));
    }
    towers.push_back(t == "2" ? 2 : 3);
  }
  if (towers.empty()) mot::bench::UsageError("--towers: empty list");
  if (!quick) {
    w.batches.clear();
    for (const std::string& b : absl::GetFlag(FLAGS_batches)) {
      char* end = nullptr;
      const long v = std::strtol(b.c_str(), &end, 10);
      if (b.empty() || *end != '\0' || v < 1 || v > 1024) {
        mot::bench::UsageError(absl::StrCat("--batches: '", b, "' is not an integer in [1, 1024]"));
      }
      w.batches.push_back(static_cast<int>(v));
    }
    if (w.batches.empty()) mot::bench::UsageError("--batches: empty list");
  }
  const double budget_s = absl::GetFlag(FLAGS_budget_s);
  if (budget_s < 0) mot::bench::UsageError("--budget_s: must be >= 0");
  const int threads = absl::GetFlag(FLAGS_threads);
  if (threads < 0) mot::bench::UsageError("--threads: must be >= 0");
  const int layers = absl::GetFlag(FLAGS_layers);
  if (layers < 0 || layers > 128) mot::bench::UsageError("--layers: must be in [0, 128]");
  return mot::bench::Main(w, device, towers, layers, budget_s, absl::GetFlag(FLAGS_out),
                          absl::GetFlag(FLAGS_ckpt_dir), absl::GetFlag(FLAGS_commit), threads,
                          command);
}
