// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/mot_bench.cc
// mot_bench: prefill and single-stream decode speed of MotModel on the CPU backend, for a
// few model sizes with random weights (written to a temporary checkpoint and loaded like a
// real one), beside the decode bound measured in the same run (read bandwidth / bytes read
// per decoded token, KV included) and the PyTorch oracle (bench/oracle_bench.py via
// MOT_PYTHON) on the same checkpoint. Prints one Markdown table and a footer with the
// commit, CPU, threads, date, load average and the command. It also runs on any existing
// checkpoint directory (--checkpoint) and writes its random checkpoints for other tools
// (--save_checkpoint; scripts/bench_peers.sh converts one to GGUF for llama.cpp).
//
//
// Usage (flags are Abseil flags; the defaults are shown):
//   build/bench/mot_bench [--configs=small:bf16,125m:bf16,125m:f32,125m-3mod:bf16]
//                         [--prompt=128] [--decode=32] [--reps=5] [--warmup=1]
//                         [--threads=0] [--no-fuse] [--no-oracle] [--profile]
//                         [--kv_dtype=f32] [--batch_invariant] [--json=out.json]
//   build/bench/mot_bench --checkpoint=DIR [the flags above but --configs/--kl_positions]
//   build/bench/mot_bench --save_checkpoint=DIR [--configs=SIZE[:DTYPE]]
//   --checkpoint=DIR: one row, the native checkpoint in DIR (opened with its manifest's sizes
//     checked, not its SHA-256) instead of random --configs; the row is named after DIR's
//     last component and its dtype is that of layer 0's q projection; the decode bound
//     counts that model's bytes as for a random one; prompt + decode <= its max_seq_len.
//   --save_checkpoint=DIR: writes the random checkpoint of the first --configs entry (the
//     weights a benchmark row of that entry runs on; seed 1234) to DIR, which must not
//     exist, and exits without benchmarking.
//   --configs (alias --sizes): comma-separated SIZE[:DTYPE], SIZE one of small, small-3mod,
//     125m, 125m-3mod and DTYPE one of bf16 (the default), f16, f32, Q8_0, Q4_0 (any case;
//     Q8_0/Q4_0: the GEMM weights quantized from the f32 random weights, as mot-quantize
//     does; embeddings and norms f32). The bound counts the bytes actually read (blocks
//     with their scales). --threads=0: one per core. --prompt, --decode, --reps >= 1,
//     --warmup >= 0, prompt + decode <= 8192 (the random configs' max_seq_len).
//   --kl_positions=N (0: off): for every row whose dtype is not bf16, the same random model
//     in bf16 and in the row's dtype decode the same N tokens one by one (the decode path);
//     the footer gives the mean and max KL(p_bf16 || p_row) of the next-token distributions,
//     the top-1 agreement and the RMS logit difference relative to the logits' RMS.
//   --kv_dtype: storage of the KV cache (f32, bf16, f16). When not f32, one more untimed run
//     with an f32 cache gives the max |logit difference| of the decoded tokens (footer).
//   --cold_prefill: reads 1 GiB before each timed prefill (CacheFlusher), so that a model
//     smaller than the last-level cache is measured as a larger one runs: its weights read
//     from memory. Without it, a one-tower model that fits the cache and its three-tower
//     variant that does not are not compared like for like.
//   --batch_invariant: the CPU backend's batch-invariant mode (every Linear row summed in one
//     order whatever the batch; no sgemm), to measure its cost.
//   Flag names are spelled with '_' (--no_fuse, --no_oracle); the dashed spellings
//   (--no-fuse, --no-oracle) are accepted too: '-' inside a flag's name (before any '=') is
//   turned into '_' before absl::ParseCommandLine sees it. Bool flags also take
//   --flag=true|false and --noflag. --help lists the flags.
// Exit status: 0 done, 1 a run failed, 2 a flag value out of range or an unknown config
// (the message names the flag); Abseil itself rejects unknown flags and unparseable values
// (exit 1, its message names the flag).
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

#include "absl/cleanup/cleanup.h"
#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/bandwidth.h"
#include "bench/bench_flags.h"
#include "bench/machine_info.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/core/status_macros.h"
#include "engine/core/thread_pool.h"
#include "engine/kv/contiguous_kv_cache.h"
#include "engine/model/mot_model.h"
#include "engine/model/random_weights.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/quantize.h"
#include "model_loaders/weight_names.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(std::vector<std::string>, configs,
          std::vector<std::string>({"small:bf16", "125m:bf16", "125m:f32", "125m-3mod:bf16"}),
          "models to run, comma-separated SIZE[:DTYPE]: SIZE small, small-3mod, 125m or "
          "125m-3mod; DTYPE bf16 (default), f16 or f32");
ABSL_FLAG(std::vector<std::string>, sizes, {}, "alias of --configs");
ABSL_FLAG(int, prompt, 128, "prompt tokens (prefill), >= 1");
ABSL_FLAG(int, decode, 32, "tokens decoded after the prompt, >= 1");
ABSL_FLAG(int, reps, 5, "timed repetitions, >= 1");
ABSL_FLAG(int, warmup, 1, "untimed warm-up repetitions, >= 0");
ABSL_FLAG(int, threads, 0, "threads (the caller included); 0: one per core");
ABSL_FLAG(bool, no_fuse, false, "don't fuse the QKV and W1/W3 projections (also --no-fuse)");
ABSL_FLAG(bool, no_huge_copies, false,
          "don't copy Wo, W2 and the LM head into huge-page memory at load (read the mapping)");
ABSL_FLAG(bool, no_oracle, false, "don't run the PyTorch oracle bench (also --no-oracle)");
ABSL_FLAG(bool, cold_prefill, false,
          "before each timed prefill, read 1 GiB so the weights come from memory and not from "
          "the last-level cache (as for a model larger than the cache)");
ABSL_FLAG(bool, profile, false, "add per-op prefill and decode profiles after the table");
ABSL_FLAG(std::string, json, "", "also write the results as JSON to this path");
ABSL_FLAG(std::string, kv_dtype, "f32", "KV cache storage: f32, bf16 or f16");
ABSL_FLAG(bool, batch_invariant, false, "run the CPU backend in its batch-invariant mode");
ABSL_FLAG(int, kl_positions, 0,
          "positions of the KL divergence vs the bf16 model of the same weights (0: off)");
ABSL_FLAG(std::string, checkpoint, "",
          "benchmark this native checkpoint directory instead of random --configs");
ABSL_FLAG(std::string, save_checkpoint, "",
          "write the first --configs entry's random checkpoint to this directory (must not "
          "exist) and exit");

namespace mot::bench {
namespace {

struct Options {
  std::vector<std::string> configs = {"small:bf16", "125m:bf16", "125m:f32", "125m-3mod:bf16"};
  int prompt = 128;
  int decode = 32;
  int reps = 5;
  int warmup = 1;
  int threads = 0;
  bool fuse = true;
  bool huge_copies = true;
  bool oracle = true;
  bool profile = false;
  bool cold_prefill = false;
  std::string json;
  DType kv_dtype = DType::kF32;
  bool batch_invariant = false;
  int kl_positions = 0;
  std::string checkpoint;  // when set, the one model benchmarked (configs unused)
};

struct Stats {
  double mean = 0;
  double stddev = 0;
};

Stats Summarize(const std::vector<double>& v) {
  Stats s;
  if (v.empty()) return s;
  for (double x : v) s.mean += x;
  s.mean /= static_cast<double>(v.size());
  for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(s.stddev / static_cast<double>(v.size() - 1)) : 0;
  return s;
}

std::string Fmt(const Stats& s) { return absl::StrFormat("%.1f ± %.1f", s.mean, s.stddev); }

bool MakeConfig(const std::string& size, MotConfig* c) {
  c->norm_eps = 1e-5f;
  c->rope_theta = 10000.0f;
  c->max_seq_len = 8192;  // long enough to measure decode at 8k positions (issue 18 item 4)
  c->norm_placement = NormPlacement::kPre;
  c->norm_type = NormType::kRms;
  c->qk_norm = false;
  c->tie_embeddings = false;
  int towers = 1;
  if (size == "small" || size == "small-3mod") {
    c->dim = 256, c->n_layers = 4, c->n_heads = 8, c->n_kv_heads = 4, c->head_dim = 32;
    c->ffn_hidden = 688, c->vocab_size = 8000;
    towers = size == "small" ? 1 : 3;
  } else if (size == "125m" || size == "125m-3mod") {
    c->dim = 768, c->n_layers = 12, c->n_heads = 12, c->n_kv_heads = 4, c->head_dim = 64;
    c->ffn_hidden = 2048, c->vocab_size = 32000;
    towers = size == "125m" ? 1 : 3;
  } else {
    return false;
  }
  static const char* kNames[] = {"text", "image", "audio"};
  c->modalities.clear();
  for (int m = 0; m < towers; ++m) c->modalities.push_back(kNames[m]);
  c->vocab_ranges.clear();
  c->vocab_ranges.push_back({"special", 0, 16, 0});
  if (towers == 1) {
    c->vocab_ranges.push_back({"text", 16, c->vocab_size, 0});
  } else {
    const int32_t text_end = c->vocab_size / 2, image_end = c->vocab_size * 3 / 4;
    c->vocab_ranges.push_back({"text", 16, text_end, 0});
    c->vocab_ranges.push_back({"image", text_end, image_end, 1});
    c->vocab_ranges.push_back({"audio", image_end, c->vocab_size, 2});
  }
  return true;
}

struct Row {
  std::string size, dtype;
  int64_t params = 0;
  int towers = 1;
  Stats prefill, decode;
  double bytes_per_token = 0;
  double bound = 0;
  double gbs = 0;  // read bandwidth measured after this row's runs
  Stats torch_prefill, torch_decode;
  bool have_torch = false;
  std::string torch_note;
  double kv_logit_diff = -1;  // max |logit diff| of the decoded tokens vs an f32 cache
  double max_logit = 0;
  // vs the bf16 model of the same weights (--kl_positions): KL(p_bf16 || p_row), mean and
  // max over positions; top-1 agreement; RMS logit difference / RMS logit.
  double kl_mean = -1, kl_max = 0, top1 = 0, logit_rel_rms = 0;
};

// The dtype of a --configs entry's DTYPE part, or nullopt.
std::optional<DType> ParseConfigDType(const std::string& name) {
  const std::string upper = absl::AsciiStrToUpper(name);
  if (upper == "BF16" || upper == "F16" || upper == "F32" || upper == "Q8_0" || upper == "Q4_0") {
    return ParseDType(upper);
  }
  return std::nullopt;
}

// The random weights of a row: `dtype` directly for f32/bf16/f16; for Q8_0/Q4_0 the f32
// weights with the GEMM weights quantized (mot-quantize's conversion).
absl::StatusOr<std::vector<NamedTensor>> BenchWeights(const MotConfig& config, DType dtype) {
  if (!IsBlockDType(dtype)) return model::RandomMotWeights(config, dtype, 1234);
  return ConvertGemmWeights(config, model::RandomMotWeights(config, DType::kF32, 1234), dtype);
}

// Writes the random checkpoint of a --configs entry SIZE[:DTYPE] (BenchWeights) to `dir`:
// the one code path for the benchmark's rows and --save_checkpoint. InvalidArgument for an
// unknown size or dtype; WriteCheckpoint's codes otherwise (AlreadyExists when `dir` exists).
absl::Status WriteRandomCheckpoint(const std::string& spec, const std::string& dir) {
  std::vector<std::string> parts = absl::StrSplit(spec, ':');
  MotConfig config;
  if (parts.size() > 2 || !MakeConfig(parts[0], &config)) {
    return absl::InvalidArgumentError(absl::StrCat("unknown config '", spec, "'"));
  }
  const std::optional<DType> dtype =
      parts.size() > 1 ? ParseConfigDType(parts[1]) : std::optional<DType>(DType::kBF16);
  if (!dtype.has_value()) {
    return absl::InvalidArgumentError(absl::StrCat("config '", spec, "': unknown dtype"));
  }
  MOT_ASSIGN_OR_RETURN(std::vector<NamedTensor> tensors, BenchWeights(config, *dtype));
  return WriteCheckpoint(dir, config, tensors);
}

// KL(p || q) of the softmax distributions of two logit vectors (in f64).
double KlDivergence(const float* p_logits, const float* q_logits, int64_t n) {
  auto log_softmax = [n](const float* l, std::vector<double>& out) {
    double mx = -INFINITY;
    for (int64_t i = 0; i < n; ++i) mx = std::max(mx, static_cast<double>(l[i]));
    double sum = 0;
    for (int64_t i = 0; i < n; ++i) sum += std::exp(l[i] - mx);
    const double lse = mx + std::log(sum);
    out.resize(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) out[static_cast<size_t>(i)] = l[i] - lse;
  };
  std::vector<double> lp, lq;
  log_softmax(p_logits, lp);
  log_softmax(q_logits, lq);
  double kl = 0;
  for (size_t i = 0; i < lp.size(); ++i) kl += std::exp(lp[i]) * (lp[i] - lq[i]);
  return kl;
}

double Seconds(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

// Forwards every op to `inner` and adds up its wall time per op (and per Linear weight
// shape), for --profile: where a prefill's and a decode step's time goes.
class TimingBackend final : public backend::Backend {
 public:
  explicit TimingBackend(backend::Backend* inner) : inner_(inner) {}
  std::string_view name() const override { return inner_->name(); }

  struct Entry {
    int64_t calls = 0;
    double seconds = 0;
    double bytes = 0;  // weight bytes read (Linear)
  };
  std::map<std::string, Entry> ops;
  void Clear() { ops.clear(); }

  void Linear(const float* x, int64_t m, int64_t ldx, const backend::WeightRef& w, float* y,
              int64_t ldy, bool accumulate) override {
    Time(absl::StrCat("Linear [", w.rows, " x ", w.cols, "] ", DTypeName(w.dtype), " m=", m),
         DTypeBytes(w.dtype, w.rows * w.cols),
         [&] { inner_->Linear(x, m, ldx, w, y, ldy, accumulate); });
  }
  void RmsNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
               float eps, float* y, int64_t ldy) override {
    Time("RmsNorm", 0, [&] { inner_->RmsNorm(x, rows, dim, ldx, weight, eps, y, ldy); });
  }
  void LayerNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
                 const float* bias, float eps, float* y, int64_t ldy) override {
    Time("LayerNorm", 0, [&] { inner_->LayerNorm(x, rows, dim, ldx, weight, bias, eps, y, ldy); });
  }
  void Rotary(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
              const int32_t* pos, float theta) override {
    Time("Rotary", 0, [&] { inner_->Rotary(x, rows, ldx, n_heads, head_dim, pos, theta); });
  }
  void SwiGlu(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows, int64_t n,
              float* out, int64_t ldo) override {
    Time("SwiGlu", 0, [&] { inner_->SwiGlu(gate, ldg, up, ldu, rows, n, out, ldo); });
  }
  void Embedding(const int32_t* ids, int64_t rows, const backend::WeightRef& table, float* y,
                 int64_t ldy) override {
    Time("Embedding", 0, [&] { inner_->Embedding(ids, rows, table, y, ldy); });
  }
  void StoreKv(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
               const kv::KvSlot* slots, const kv::KvLayerView& kv) override {
    Time("StoreKv", 0, [&] { inner_->StoreKv(k, ldk, v, ldv, rows, slots, kv); });
  }
  void Attention(const backend::AttentionArgs& args) override {
    Time("Attention", 0, [&] { inner_->Attention(args); });
  }
  void GatherRows(const float* src, int64_t lds, const int32_t* index, int64_t rows, int64_t cols,
                  float* dst, int64_t ldd) override {
    Time("GatherRows", 0, [&] { inner_->GatherRows(src, lds, index, rows, cols, dst, ldd); });
  }
  void Add(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y,
           int64_t ldy) override {
    Time("Add", 0, [&] { inner_->Add(x, ldx, rows, cols, y, ldy); });
  }

 private:
  template <typename F>
  void Time(const std::string& key, int64_t bytes, F&& f) {
    const auto t0 = std::chrono::steady_clock::now();
    f();
    const auto t1 = std::chrono::steady_clock::now();
    Entry& e = ops[key];
    ++e.calls;
    e.seconds += std::chrono::duration<double>(t1 - t0).count();
    e.bytes += static_cast<double>(bytes);
  }
  backend::Backend* inner_;
};

// Decodes opt.kl_positions tokens one by one on `model` and on the bf16 model of the same
// random weights, and fills row->kl_*, top1 and logit_rel_rms.
absl::Status MeasureKl(const Options& opt, const MotConfig& config, backend::Backend& backend,
                       model::MotModel& model, const std::vector<int32_t>& bench_tokens, Row* row) {
  char tmpl[] = "/tmp/mot_bench_kl_XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return absl::InternalError("mkdtemp failed");
  const std::string dir = std::string(tmpl) + "/ckpt";
  absl::Status status = [&]() -> absl::Status {
    MOT_RETURN_IF_ERROR(
        WriteCheckpoint(dir, config, model::RandomMotWeights(config, DType::kBF16, 1234)));
    CheckpointOpenOptions open_options;
    open_options.verify_sha256 = false;
    MOT_ASSIGN_OR_RETURN(Checkpoint ckpt, Checkpoint::Open(dir, open_options));
    model::MotModelOptions model_options;
    model_options.fuse_projections = opt.fuse;
    model_options.huge_page_copies = opt.huge_copies;
    MOT_ASSIGN_OR_RETURN(auto ref, model::MotModel::Create(&ckpt, &backend, model_options));
    const int n = opt.kl_positions;
    MOT_ASSIGN_OR_RETURN(auto cache_ref,
                         kv::ContiguousKvCache::Create(kv::ContiguousKvCacheConfig::FromModelConfig(
                             config, 1, n, DType::kF32)));
    MOT_ASSIGN_OR_RETURN(auto cache_row,
                         kv::ContiguousKvCache::Create(kv::ContiguousKvCacheConfig::FromModelConfig(
                             config, 1, n, DType::kF32)));
    const int64_t v = config.vocab_size;
    std::vector<float> lr(static_cast<size_t>(v)), lq(static_cast<size_t>(v));
    double kl_sum = 0, diff2 = 0, ref2 = 0;
    int top1 = 0;
    row->kl_max = 0;
    for (int i = 0; i < n; ++i) {
      // The bench's token sequence, repeated; the tower is the token's own.
      const int32_t token = bench_tokens[static_cast<size_t>(i) % bench_tokens.size()];
      model::StepBatch step;
      step.rows.push_back({token, config.TowerOf(token), 0, i, true});
      MOT_RETURN_IF_ERROR(ref->Forward(step, cache_ref.get(), lr.data()));
      MOT_RETURN_IF_ERROR(model.Forward(step, cache_row.get(), lq.data()));
      const double kl = KlDivergence(lr.data(), lq.data(), v);
      kl_sum += kl;
      row->kl_max = std::max(row->kl_max, kl);
      top1 += std::max_element(lr.begin(), lr.end()) - lr.begin() ==
              std::max_element(lq.begin(), lq.end()) - lq.begin();
      for (int64_t j = 0; j < v; ++j) {
        diff2 += (double{lq[j]} - lr[j]) * (double{lq[j]} - lr[j]);
        ref2 += double{lr[j]} * lr[j];
      }
    }
    row->kl_mean = kl_sum / n;
    row->top1 = static_cast<double>(top1) / n;
    row->logit_rel_rms = std::sqrt(diff2 / ref2);
    return absl::OkStatus();
  }();
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);
  return status;
}

int Run(const Options& opt, const std::string& command) {
  ThreadPool pool(opt.threads);
  backend::cpu::CpuBackend cpu_backend(&pool);
  cpu_backend.set_batch_invariant(opt.batch_invariant);
  TimingBackend timing(&cpu_backend);
  backend::Backend& backend = opt.profile ? static_cast<backend::Backend&>(timing) : cpu_backend;
  std::string profile_md;
  const std::string load_start = LoadAvg();
  std::cerr << "measuring read bandwidth over " << pool.num_threads() << " threads...\n";
  const double gbs = MeasureReadBandwidthGBs(pool);
  std::unique_ptr<CacheFlusher> flusher;
  if (opt.cold_prefill) flusher = std::make_unique<CacheFlusher>(pool);
  std::cerr << "read bandwidth " << gbs << " GB/s\n";
  std::vector<Row> rows;
  std::string torch_blas;
  // With --checkpoint, one row: that directory (never removed); else one random checkpoint
  // per --configs entry, in a temporary directory removed after its row.
  const std::vector<std::string> specs =
      opt.checkpoint.empty() ? opt.configs : std::vector<std::string>{opt.checkpoint};
  for (const std::string& spec : specs) {
    Row row;
    std::string dir = opt.checkpoint;
    std::string tmp_root;  // removed when the row ends (or fails); empty with --checkpoint
    absl::Cleanup remove_tmp = [&tmp_root] {
      std::error_code ec;
      if (!tmp_root.empty()) std::filesystem::remove_all(tmp_root, ec);
    };
    if (opt.checkpoint.empty()) {
      std::vector<std::string> parts = absl::StrSplit(spec, ':');
      row.size = parts[0];
      row.dtype = absl::AsciiStrToLower(parts.size() > 1 ? parts[1] : "bf16");
      char tmpl[] = "/tmp/mot_bench_XXXXXX";
      if (mkdtemp(tmpl) == nullptr) return 1;
      tmp_root = tmpl;
      dir = tmp_root + "/ckpt";
      std::cerr << spec << ": writing random checkpoint to " << dir << "\n";
      if (absl::Status s = WriteRandomCheckpoint(spec, dir); !s.ok()) {
        std::cerr << s << "\n";
        return 1;
      }
    }
    CheckpointOpenOptions open_options;
    open_options.verify_sha256 = false;
    auto ckpt = Checkpoint::Open(dir, open_options);
    if (!ckpt.ok()) {
      std::cerr << ckpt.status() << "\n";
      return 1;
    }
    const MotConfig config = ckpt->config();
    DType dtype = DType::kF32;
    for (const SafetensorsEntry& e : ckpt->weights().entries()) {
      if (e.name == weight_names::AttentionProj(0, 'q', 0)) dtype = e.dtype;
    }
    if (!opt.checkpoint.empty()) {
      std::string trimmed = dir;
      while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
      row.size = std::filesystem::path(trimmed).filename().string();
      row.dtype = absl::AsciiStrToLower(DTypeName(dtype));
      if (opt.prompt + opt.decode > config.max_seq_len) {
        std::cerr << "--prompt + --decode = " << opt.prompt + opt.decode << ": must be <= " << dir
                  << "'s max_seq_len " << config.max_seq_len << "\n";
        return 2;
      }
    }
    row.towers = config.num_towers();
    model::MotModelOptions model_options;
    model_options.fuse_projections = opt.fuse;
    model_options.huge_page_copies = opt.huge_copies;
    auto model = model::MotModel::Create(&*ckpt, &backend, model_options);
    if (!model.ok()) {
      std::cerr << model.status() << "\n";
      return 1;
    }
    row.params = (*model)->NumParameters();
    const int total = opt.prompt + opt.decode;
    auto cache = kv::ContiguousKvCache::Create(
        kv::ContiguousKvCacheConfig::FromModelConfig(config, 1, total, opt.kv_dtype));
    if (!cache.ok()) {
      std::cerr << cache.status() << "\n";
      return 1;
    }
    // Tokens: random ids; towers in contiguous blocks (i * towers / total), as the oracle
    // bench does, so decode runs in the last tower.
    std::vector<int32_t> tokens(static_cast<size_t>(total));
    uint64_t s = 42;
    for (int32_t& t : tokens) {
      s = s * 6364136223846793005ULL + 1442695040888963407ULL;
      t = static_cast<int32_t>((s >> 33) % static_cast<uint64_t>(config.vocab_size));
    }
    auto tower_of = [&](int i) { return i * row.towers / total; };
    std::vector<float> logits(static_cast<size_t>(config.vocab_size));
    std::vector<double> prefill_rates, decode_rates;
    // Logits of the decoded tokens of the last rep (to compare KV dtypes), and of a run with
    // an f32 cache when the cache is 16-bit.
    std::vector<float> decode_logits(static_cast<size_t>(opt.decode) * config.vocab_size);
    std::vector<float> f32_logits;
    for (int rep = 0; rep < opt.warmup + opt.reps; ++rep) {
      (*cache)->ResetAll();
      model::StepBatch prefill;
      for (int i = 0; i < opt.prompt; ++i) {
        prefill.rows.push_back({tokens[i], tower_of(i), 0, i, i + 1 == opt.prompt});
      }
      if (flusher) flusher->Flush();
      const auto t0 = std::chrono::steady_clock::now();
      absl::Status st = (*model)->Forward(prefill, cache->get(), logits.data());
      const auto t1 = std::chrono::steady_clock::now();
      for (int i = opt.prompt; i < total && st.ok(); ++i) {
        model::StepBatch step;
        step.rows.push_back({tokens[i], tower_of(i), 0, i, true});
        st = (*model)->Forward(
            step, cache->get(),
            decode_logits.data() + static_cast<size_t>(i - opt.prompt) * config.vocab_size);
      }
      const auto t2 = std::chrono::steady_clock::now();
      if (!st.ok()) {
        std::cerr << st << "\n";
        return 1;
      }
      if (rep >= opt.warmup) {
        prefill_rates.push_back(opt.prompt / Seconds(t0, t1));
        decode_rates.push_back(opt.decode / Seconds(t1, t2));
      }
    }
    if (opt.kv_dtype != DType::kF32) {
      auto f32_cache = kv::ContiguousKvCache::Create(
          kv::ContiguousKvCacheConfig::FromModelConfig(config, 1, total, DType::kF32));
      if (!f32_cache.ok()) {
        std::cerr << f32_cache.status() << "\n";
        return 1;
      }
      model::StepBatch prefill;
      for (int i = 0; i < opt.prompt; ++i) {
        prefill.rows.push_back({tokens[i], tower_of(i), 0, i, i + 1 == opt.prompt});
      }
      absl::Status st = (*model)->Forward(prefill, f32_cache->get(), logits.data());
      row.kv_logit_diff = 0;
      for (int i = opt.prompt; i < total && st.ok(); ++i) {
        model::StepBatch step;
        step.rows.push_back({tokens[i], tower_of(i), 0, i, true});
        st = (*model)->Forward(step, f32_cache->get(), logits.data());
        const float* got =
            decode_logits.data() + static_cast<size_t>(i - opt.prompt) * config.vocab_size;
        for (int32_t v = 0; v < config.vocab_size; ++v) {
          row.kv_logit_diff =
              std::max(row.kv_logit_diff, static_cast<double>(std::abs(got[v] - logits[v])));
          row.max_logit = std::max(row.max_logit, static_cast<double>(std::abs(logits[v])));
        }
      }
      if (!st.ok()) {
        std::cerr << st << "\n";
        return 1;
      }
    }
    if (opt.profile) {
      // One more prefill and decode run, timed per op (the timing itself adds a little per
      // call): the prefill's ops per prompt, the decode's per token.
      auto append_profile = [&](const char* what, double wall, int units, const char* unit) {
        double ops_total = 0;
        for (const auto& [k, e] : timing.ops) ops_total += e.seconds;
        absl::StrAppend(&profile_md, "\n", what, " profile, ", spec, ": ",
                        absl::StrFormat("%.3f", wall / units * 1e3), " ms per ", unit, ", ",
                        absl::StrFormat("%.3f", (wall - ops_total) / units * 1e3),
                        " ms of it outside backend ops.\n\n", "| op | calls/", unit, " | ms/", unit,
                        " | share | weight GB/s |\n", "| --- | ---: | ---: | ---: | ---: |\n");
        for (const auto& [k, e] : timing.ops) {
          absl::StrAppend(
              &profile_md, "| ", k, " | ", absl::StrFormat("%.1f", 1.0 * e.calls / units), " | ",
              absl::StrFormat("%.3f", e.seconds / units * 1e3), " | ",
              absl::StrFormat("%.1f%%", 100 * e.seconds / wall), " | ",
              e.bytes > 0 ? absl::StrFormat("%.1f", e.bytes / e.seconds / 1e9) : "", " |\n");
        }
      };
      (*cache)->ResetAll();
      model::StepBatch prefill;
      for (int i = 0; i < opt.prompt; ++i) {
        prefill.rows.push_back({tokens[i], tower_of(i), 0, i, i + 1 == opt.prompt});
      }
      if (flusher) flusher->Flush();
      timing.Clear();
      const auto p0 = std::chrono::steady_clock::now();
      (void)(*model)->Forward(prefill, cache->get(), logits.data());
      append_profile("Prefill", Seconds(p0, std::chrono::steady_clock::now()), 1, "prompt");
      timing.Clear();
      const auto t0 = std::chrono::steady_clock::now();
      for (int i = opt.prompt; i < total; ++i) {
        model::StepBatch step;
        step.rows.push_back({tokens[i], tower_of(i), 0, i, true});
        (void)(*model)->Forward(step, cache->get(), logits.data());
      }
      append_profile("Decode", Seconds(t0, std::chrono::steady_clock::now()), opt.decode, "token");
    }
    if (opt.kl_positions > 0 && dtype != DType::kBF16) {
      if (absl::Status s = MeasureKl(opt, config, backend, **model, tokens, &row); !s.ok()) {
        std::cerr << s << "\n";
        return 1;
      }
    }
    row.prefill = Summarize(prefill_rates);
    row.decode = Summarize(decode_rates);
    // Bytes read per decoded token: the decode tower's weights plus the K and V of every
    // cached position (in the cache's dtype), averaged over the decoded positions.
    const int decode_tower = tower_of(total - 1);
    const double avg_context = opt.prompt + (opt.decode + 1) / 2.0;
    row.bytes_per_token =
        static_cast<double>((*model)->WeightBytesPerToken(decode_tower)) +
        2.0 * config.n_layers * config.kv_dim() * DTypeSize(opt.kv_dtype) * avg_context;
    // The bound is measured again right after this row's runs, so that it sees the same
    // load (the machine is shared).
    row.gbs = MeasureReadBandwidthGBs(pool);
    row.bound = row.gbs * 1e9 / row.bytes_per_token;
    model->reset();

    if (opt.oracle) {
      const std::string cmd =
          absl::StrCat(MOT_PYTHON, " ", MOT_SOURCE_DIR, "/bench/oracle_bench.py --checkpoint ", dir,
                       " --prompt ", opt.prompt, " --decode ", opt.decode, " --reps ", opt.reps,
                       " --warmup ", opt.warmup, " --threads ", pool.num_threads(),
                       row.towers > 1 ? " --modality-pattern interleaved" : "");
      std::cerr << "torch: " << cmd << "\n";
      const std::string out = RunCommand(cmd + " 2>/dev/null");
      try {
        auto j = nlohmann::json::parse(out.substr(out.rfind('{')));
        row.torch_prefill = Summarize(j["prefill_tok_s"].get<std::vector<double>>());
        row.torch_decode = Summarize(j["decode_tok_s"].get<std::vector<double>>());
        row.have_torch = true;
        torch_blas =
            absl::StrCat("torch ", j["torch"].get<std::string>(), " (", j["threads"].get<int>(),
                         " threads, f32 compute), ", j["blas"].get<std::string>());
      } catch (const std::exception& e) {
        row.torch_note = "oracle failed";
        std::cerr << "oracle bench output not understood: " << out << "\n";
      }
    }
    rows.push_back(row);
    std::cerr << spec << ": prefill " << Fmt(row.prefill) << " decode " << Fmt(row.decode)
              << " bound " << row.bound << "\n";
  }
  const std::string load_end = LoadAvg();

  std::ostringstream md;
  md << "| model | params | dtype | towers | prefill tok/s (" << opt.prompt
     << " tok) | decode tok/s | read GB/s | decode bound tok/s | % of bound | torch prefill tok/s "
        "| "
        "torch decode tok/s |\n";
  md << "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (const Row& r : rows) {
    md << "| " << r.size << " | " << absl::StrFormat("%.1fM", r.params / 1e6) << " | " << r.dtype
       << " | " << r.towers << " | " << Fmt(r.prefill) << " | " << Fmt(r.decode) << " | "
       << absl::StrFormat("%.1f", r.gbs) << " | " << absl::StrFormat("%.1f", r.bound) << " | "
       << absl::StrFormat("%.0f%%", 100.0 * r.decode.mean / r.bound) << " | "
       << (r.have_torch ? Fmt(r.torch_prefill) : (opt.oracle ? r.torch_note : "-")) << " | "
       << (r.have_torch ? Fmt(r.torch_decode) : "-") << " |\n";
  }
  std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  md << "\nDecode: single stream, " << opt.decode << " tokens after a " << opt.prompt
     << "-token prompt, mean ± stddev over " << opt.reps << " reps after " << opt.warmup
     << " warm-up. Bound = read bandwidth (MeasureReadBandwidthGBs, measured after each row; "
     << absl::StrFormat("%.1f", gbs)
     << " GB/s at the start) ÷ bytes read per decoded token (the decode tower's weights + "
     << DTypeName(opt.kv_dtype) << " KV of the average context).\n";
  md << "KV cache " << DTypeName(opt.kv_dtype) << "; batch-invariant mode "
     << (opt.batch_invariant ? "on" : "off") << ".\n";
  if (opt.cold_prefill) {
    md << "Prefill with cold caches: 1 GiB read before each timed prefill (and the profiled "
          "one), so the weights come from memory.\n";
  }
  for (const Row& r : rows) {
    if (r.kv_logit_diff < 0) continue;
    md << "KV " << DTypeName(opt.kv_dtype) << " vs f32 cache, " << r.size << ":" << r.dtype
       << ": max |logit diff| over the " << opt.decode << " decoded tokens "
       << absl::StrFormat("%.3g", r.kv_logit_diff) << " (max |logit| "
       << absl::StrFormat("%.3g", r.max_logit) << ").\n";
  }
  for (const Row& r : rows) {
    if (r.kl_mean < 0) continue;
    md << "vs bf16 weights, " << r.size << ":" << r.dtype << ", " << opt.kl_positions
       << " decoded positions: KL(p_bf16 || p) mean " << absl::StrFormat("%.3g", r.kl_mean)
       << " max " << absl::StrFormat("%.3g", r.kl_max) << " nats; top-1 agreement "
       << absl::StrFormat("%.1f%%", 100 * r.top1) << "; RMS logit diff / RMS logit "
       << absl::StrFormat("%.3g", r.logit_rel_rms) << ".\n";
  }
  md << "Backend " << backend.name() << ", fused QKV/W13: " << (opt.fuse ? "yes" : "no")
     << ", Wo/W2/LM head copied to huge pages: " << (opt.huge_copies ? "yes" : "no")
     << ". Torch: " << (torch_blas.empty() ? "not run" : torch_blas) << ".\n";
  md << "Commit " << RunCommand(absl::StrCat("git -C ", MOT_SOURCE_DIR, " rev-parse --short HEAD"))
     << ", CPU " << CpuModel() << ", threads " << pool.num_threads() << ", " << date
     << ", load average " << load_start << " (start) / " << load_end << " (end).\n";
  md << "Command: `" << command << "`\n";
  std::cout << md.str() << profile_md;

  if (!opt.json.empty()) {
    nlohmann::json j;
    j["bandwidth_gbs"] = gbs;
    j["backend"] = std::string(backend.name());
    j["kv_dtype"] = DTypeName(opt.kv_dtype);
    j["batch_invariant"] = opt.batch_invariant;
    for (const Row& r : rows) {
      j["rows"].push_back({{"size", r.size},
                           {"dtype", r.dtype},
                           {"params", r.params},
                           {"towers", r.towers},
                           {"prefill_tok_s", r.prefill.mean},
                           {"prefill_std", r.prefill.stddev},
                           {"decode_tok_s", r.decode.mean},
                           {"decode_std", r.decode.stddev},
                           {"bytes_per_token", r.bytes_per_token},
                           {"decode_bound_tok_s", r.bound},
                           {"read_gbs", r.gbs},
                           {"torch_prefill_tok_s", r.torch_prefill.mean},
                           {"torch_decode_tok_s", r.torch_decode.mean},
                           {"kv_max_logit_diff", r.kv_logit_diff},
                           {"kl_vs_bf16_mean", r.kl_mean},
                           {"kl_vs_bf16_max", r.kl_max},
                           {"top1_vs_bf16", r.top1},
                           {"logit_rel_rms_vs_bf16", r.logit_rel_rms}});
    }
    std::ofstream(opt.json) << j.dump(2) << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace mot::bench

namespace {}  // namespace

int main(int argc, char** argv) {
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) absl::StrAppend(&command, " ", argv[i]);
  absl::SetProgramUsageMessage(
      "prefill and single-stream decode tok/s of MotModel on the CPU backend, beside the "
      "read-bandwidth decode bound and the PyTorch oracle; prints one Markdown table.\n"
      "usage: mot_bench [--configs=small:bf16,125m:f32,...] [--prompt=N] [--decode=N] "
      "[--reps=N] [--warmup=N] [--threads=N] [--no-fuse] [--no-oracle] [--profile] "
      "[--kv_dtype=f32|bf16|f16] [--batch_invariant] [--kl_positions=N] [--json=PATH]\n"
      "       mot_bench --checkpoint=DIR [flags above but --configs, --kl_positions]\n"
      "       mot_bench --save_checkpoint=DIR [--configs=SIZE[:DTYPE]]\n"
      "Dashed flag names (--no-fuse) are accepted as well as the underscored ones (--no_fuse).");
  mot::bench::ParseBenchFlags(argc, argv);

  mot::bench::Options opt;
  opt.configs = absl::GetFlag(FLAGS_configs);
  const std::vector<std::string> sizes = absl::GetFlag(FLAGS_sizes);
  if (!sizes.empty()) {
    if (opt.configs != mot::bench::Options().configs) {
      mot::bench::UsageError("--sizes is an alias of --configs: give one of them");
    }
    opt.configs = sizes;
  }
  if (opt.configs.empty()) mot::bench::UsageError("--configs: empty list");
  for (const std::string& spec : opt.configs) {
    std::vector<std::string> parts = absl::StrSplit(spec, ':');
    mot::MotConfig config;
    if (parts.size() > 2 || !mot::bench::MakeConfig(parts[0], &config)) {
      mot::bench::UsageError(
          absl::StrCat("--configs: '", spec,
                       "' is not SIZE[:DTYPE] with SIZE one of small, small-3mod, "
                       "125m, 125m-3mod"));
    }
    if (parts.size() == 2 && !mot::bench::ParseConfigDType(parts[1]).has_value()) {
      mot::bench::UsageError(absl::StrCat("--configs: '", spec, "': unknown dtype '", parts[1],
                                          "' (bf16, f16, f32, Q8_0 or Q4_0)"));
    }
  }
  opt.checkpoint = absl::GetFlag(FLAGS_checkpoint);
  const std::string save_checkpoint = absl::GetFlag(FLAGS_save_checkpoint);
  const bool configs_given = opt.configs != mot::bench::Options().configs;
  if (!opt.checkpoint.empty() && configs_given) {
    mot::bench::UsageError("--checkpoint and --configs/--sizes: give one of them");
  }
  if (!opt.checkpoint.empty() && !save_checkpoint.empty()) {
    mot::bench::UsageError("--checkpoint and --save_checkpoint: give one of them");
  }
  if (!opt.checkpoint.empty() && absl::GetFlag(FLAGS_kl_positions) > 0) {
    mot::bench::UsageError(
        "--kl_positions needs random --configs (its bf16 reference is the random model), not "
        "--checkpoint");
  }
  if (!save_checkpoint.empty()) {
    if (absl::Status s = mot::bench::WriteRandomCheckpoint(opt.configs[0], save_checkpoint);
        !s.ok()) {
      std::cerr << "--save_checkpoint=" << save_checkpoint << ": " << s << "\n";
      return 1;
    }
    std::cerr << "wrote " << opt.configs[0] << " to " << save_checkpoint << "\n";
    return 0;
  }
  opt.prompt = absl::GetFlag(FLAGS_prompt);
  opt.decode = absl::GetFlag(FLAGS_decode);
  opt.reps = absl::GetFlag(FLAGS_reps);
  opt.warmup = absl::GetFlag(FLAGS_warmup);
  opt.threads = absl::GetFlag(FLAGS_threads);
  opt.fuse = !absl::GetFlag(FLAGS_no_fuse);
  opt.huge_copies = !absl::GetFlag(FLAGS_no_huge_copies);
  opt.oracle = !absl::GetFlag(FLAGS_no_oracle);
  opt.profile = absl::GetFlag(FLAGS_profile);
  opt.cold_prefill = absl::GetFlag(FLAGS_cold_prefill);
  opt.json = absl::GetFlag(FLAGS_json);
  opt.batch_invariant = absl::GetFlag(FLAGS_batch_invariant);
  opt.kl_positions = absl::GetFlag(FLAGS_kl_positions);
  const std::string kv_dtype = absl::GetFlag(FLAGS_kv_dtype);
  if (kv_dtype == "bf16") {
    opt.kv_dtype = mot::DType::kBF16;
  } else if (kv_dtype == "f16") {
    opt.kv_dtype = mot::DType::kF16;
  } else if (kv_dtype != "f32") {
    mot::bench::UsageError(absl::StrCat("--kv_dtype=", kv_dtype, ": must be f32, bf16 or f16"));
  }
  for (const auto& [name, value, min] :
       {std::tuple{"prompt", opt.prompt, 1}, std::tuple{"decode", opt.decode, 1},
        std::tuple{"reps", opt.reps, 1}, std::tuple{"warmup", opt.warmup, 0},
        std::tuple{"threads", opt.threads, 0}, std::tuple{"kl_positions", opt.kl_positions, 0}}) {
    if (value < min) {
      mot::bench::UsageError(absl::StrCat("--", name, "=", value, ": must be >= ", min));
    }
  }
  if (opt.kl_positions > 8192) {
    mot::bench::UsageError(absl::StrCat("--kl_positions=", opt.kl_positions,
                                        ": must be <= 8192 (the models' max_seq_len)"));
  }
  if (opt.checkpoint.empty() && opt.prompt + opt.decode > 8192) {
    mot::bench::UsageError(absl::StrCat("--prompt + --decode = ", opt.prompt + opt.decode,
                                        ": must be <= 8192 (the models' max_seq_len)"));
  }
  return mot::bench::Run(opt, command);
}
