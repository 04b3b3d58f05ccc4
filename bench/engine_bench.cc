// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/engine_bench.cc
// engine_bench: the batched engine's throughput and the cost of grouping rows by tower
// (issue 12, item 8), on a random three-tower checkpoint written on the spot
// (tests/testing/tiny_checkpoint.h with benchmark-sized dims) and the CPU backend, with the
// backend's batch-invariant mode off and on. Prints one Markdown table, one figure per row
// with its peer or bound beside it, then a footer (model, commit, CPU, threads, date, load
// average, command).
//
//   1. Throughput: N concurrent text requests (N in --concurrency), each a --prompt-token
//      prompt generating exactly --new_tokens tokens (<eos> suppressed by logit_bias), all
//      submitted at once to one Engine. "End to end" = N * new_tokens / (last token - first
//      Submit), beside the same request shape run one by one (--serial requests in a row;
//      its rate does not depend on N). "Decode phase" = tokens per second over the steps in
//      which all N sequences decode (from the step that gave every request its first token
//      to the last step before one finished; step ends are seen by polling Engine::Stats
//      every --poll_us), beside the prefill rate of the same model, backend and mode: one
//      MotModel::Forward step of --prefill_seqs x --prompt rows (the compute bound of a
//      decode batch; the target is 0.8 of it at 32 concurrent).
//   2. Grouping overhead: one MotModel::Forward step whose rows are spread over the three
//      towers (decode: --decode_seqs sequences x 1 token at position --decode_pos, tower i%3;
//      prefill: 3 sequences x --prefill_len tokens, each a text/image/audio run in rotated
//      order) against the SUM of the three single-tower steps with the same per-tower rows
//      (same sequences, positions and attention work), which is the fair peer: a mixed
//      decode step streams three towers' weights. The naive ratio against the same number of
//      rows in one tower is reported too, labelled as such.
//
// Repetitions: --reps rounds after one warm-up round; inside a round every compared
// configuration runs once per mode, and the mode order alternates between rounds, so that
// the machine's load drifts over all of them alike. Figures are mean ± stddev over rounds;
// a ratio is the mean ± stddev of its per-round ratios (paired).
//
// Usage (Abseil flags; the defaults are shown; --help lists them all):
//   build/bench/engine_bench [--threads=0] [--reps=3] [--dtype=bf16] [--kv_dtype=f32]
//       [--concurrency=1,8,32,64] [--prompt=64] [--new_tokens=64] [--serial=3]
//       [--decode_seqs=32] [--decode_pos=256] [--prefill_len=128] [--inner=3]
//       [--only=all|throughput|grouping] [--quick] [--breakdown]
//   --quick: a small model and workload (a smoke test of the harness, under a second; the
//     ctest engine_bench_smoke).
//   --breakdown: after the table, where each step's time goes (Linear, other backend ops,
//     the model's own work outside the backend), timed by a forwarding backend.
//   Instruction counts per grouping case (immune to the machine's load; at the default
//   model size callgrind needs well over an hour on 2 cores, with --quick seconds):
//     valgrind --tool=callgrind --collect-atstart=no "--toggle-collect=*CaseStep*"
//       engine_bench --only=grouping --threads=1 --reps=1 --inner=1
//   then callgrind_annotate --inclusive=yes: CaseStep<c>, c = 6 * invariant + 3 * prefill + k
//   (k = 0 mixed, 1 the single-tower steps, 2 one tower).
// Exit status: 0 done; 1 a run failed (the message says which); 2 a bad flag value.
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "absl/base/attributes.h"
#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/time/clock.h"
#include "bench/bench_flags.h"
#include "bench/machine_info.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/core/status_macros.h"
#include "engine/core/thread_pool.h"
#include "engine/engine.h"
#include "engine/kv/contiguous_kv_cache.h"
#include "engine/model/mot_model.h"
#include "model_loaders/checkpoint.h"
#include "tests/testing/tiny_checkpoint.h"

ABSL_FLAG(int, threads, 0, "threads (the caller included); 0: one per core");
ABSL_FLAG(bool, quick, false, "small model and workload: a smoke test of the harness");
ABSL_FLAG(int, reps, 3, "timed rounds after one warm-up round, >= 1");
ABSL_FLAG(std::string, dtype, "bf16", "weight dtype: bf16, f16 or f32");
ABSL_FLAG(std::vector<std::string>, concurrency, std::vector<std::string>({"1", "8", "32", "64"}),
          "concurrent requests to measure, comma-separated, each in [1, 256]");
ABSL_FLAG(int, prompt, 64, "prompt tokens per request, >= 1");
ABSL_FLAG(int, new_tokens, 64, "tokens generated per request, >= 2");
ABSL_FLAG(int, serial, 3, "requests run one by one for the one-by-one rate, >= 1");
ABSL_FLAG(int, prefill_seqs, 4, "sequences of --prompt tokens in the prefill-rate step, >= 1");
ABSL_FLAG(int, decode_seqs, 32, "grouping: sequences of the decode step, >= 3");
ABSL_FLAG(int, decode_pos, 256, "grouping: cached positions before the decode step, >= 0");
ABSL_FLAG(int, prefill_len, 128, "grouping: tokens per sequence of the 3-sequence prefill step");
ABSL_FLAG(int, inner, 3, "grouping: steps per configuration per round (median taken), >= 1");
ABSL_FLAG(int, poll_us, 500, "how often the decode-phase clock polls Engine::Stats, >= 50");
ABSL_FLAG(std::string, only, "all", "what to measure: all, throughput or grouping");
ABSL_FLAG(std::string, kv_dtype, "f32",
          "KV cache storage (engine pools and grouping steps): f32, bf16 or f16");
ABSL_FLAG(bool, breakdown, false, "after the table: where the grouping steps' time goes");

namespace mot::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Options {
  int threads = 0;
  int reps = 3;
  DType dtype = DType::kBF16;
  std::vector<int> concurrency = {1, 8, 32, 64};
  int prompt = 64;
  int new_tokens = 64;
  int serial = 3;
  int prefill_seqs = 4;
  int decode_seqs = 32;
  int decode_pos = 256;
  int prefill_len = 128;
  int inner = 3;
  int poll_us = 500;
  bool breakdown = false;
  bool quick = false;
  bool throughput = true, grouping = true;  // --only
  DType kv_dtype = DType::kF32;
  testing::TinyCheckpointOptions model;
};

// ---------------------------------------------------------------------------------------
// Statistics and the machine.

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

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

// Per-round ratios a[i] / b[i] (the rounds are paired: they ran side by side).
std::vector<double> Ratios(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r;
  for (size_t i = 0; i < a.size() && i < b.size(); ++i) r.push_back(a[i] / b[i]);
  return r;
}

// ---------------------------------------------------------------------------------------
// A forwarding backend that adds up wall time per op class (--breakdown).

class TimingBackend final : public backend::Backend {
 public:
  enum Class { kLinear, kShared, kPerTowerOther, kNumClasses };
  static constexpr const char* kClassNames[] = {
      "Linear", "Attention+Rotary+StoreKv+Embedding+GatherRows", "norms, SwiGLU, Add"};

  explicit TimingBackend(backend::Backend* inner) : inner_(inner) {}
  std::string_view name() const override { return inner_->name(); }
  void Clear() {
    for (double& s : seconds) s = 0;
    for (int64_t& c : calls) c = 0;
  }
  double seconds[kNumClasses] = {};
  int64_t calls[kNumClasses] = {};

  void Linear(const float* x, int64_t m, int64_t ldx, const backend::WeightRef& w, float* y,
              int64_t ldy, bool accumulate) override {
    Time(kLinear, [&] { inner_->Linear(x, m, ldx, w, y, ldy, accumulate); });
  }
  void RmsNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
               float eps, float* y, int64_t ldy) override {
    Time(kPerTowerOther, [&] { inner_->RmsNorm(x, rows, dim, ldx, weight, eps, y, ldy); });
  }
  void LayerNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx, const float* weight,
                 const float* bias, float eps, float* y, int64_t ldy) override {
    Time(kPerTowerOther, [&] { inner_->LayerNorm(x, rows, dim, ldx, weight, bias, eps, y, ldy); });
  }
  void Rotary(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
              const int32_t* pos, float theta) override {
    Time(kShared, [&] { inner_->Rotary(x, rows, ldx, n_heads, head_dim, pos, theta); });
  }
  void SwiGlu(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows, int64_t n,
              float* out, int64_t ldo) override {
    Time(kPerTowerOther, [&] { inner_->SwiGlu(gate, ldg, up, ldu, rows, n, out, ldo); });
  }
  void Embedding(const int32_t* ids, int64_t rows, const backend::WeightRef& table, float* y,
                 int64_t ldy) override {
    Time(kShared, [&] { inner_->Embedding(ids, rows, table, y, ldy); });
  }
  void StoreKv(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
               const kv::KvSlot* slots, const kv::KvLayerView& kv) override {
    Time(kShared, [&] { inner_->StoreKv(k, ldk, v, ldv, rows, slots, kv); });
  }
  void Attention(const backend::AttentionArgs& args) override {
    Time(kShared, [&] { inner_->Attention(args); });
  }
  void GatherRows(const float* src, int64_t lds, const int32_t* index, int64_t rows, int64_t cols,
                  float* dst, int64_t ldd) override {
    Time(kShared, [&] { inner_->GatherRows(src, lds, index, rows, cols, dst, ldd); });
  }
  void Add(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y,
           int64_t ldy) override {
    Time(kPerTowerOther, [&] { inner_->Add(x, ldx, rows, cols, y, ldy); });
  }

 private:
  template <typename F>
  void Time(Class c, F&& f) {
    const auto t0 = Clock::now();
    f();
    seconds[c] += Seconds(t0, Clock::now());
    ++calls[c];
  }
  backend::Backend* inner_;
};

// ---------------------------------------------------------------------------------------
// Workload pieces.

// A deterministic stream of token ids of one tower (its first non-special range).
class TokenSource {
 public:
  TokenSource(const MotConfig& config, uint64_t seed) : config_(config), state_(seed | 1) {}
  int32_t Next(int tower) {
    for (const VocabRange& r : config_.vocab_ranges) {
      if (r.tower != tower || r.name == "special") continue;
      state_ = state_ * 6364136223846793005ULL + 1442695040888963407ULL;
      return r.begin +
             static_cast<int32_t>((state_ >> 33) % static_cast<uint64_t>(r.end - r.begin));
    }
    return 0;  // unreachable for the tiny checkpoint's config (every tower has a range)
  }

 private:
  const MotConfig& config_;
  uint64_t state_;
};

// The request every throughput run uses: a text prompt of `prompt` ids (<bos> then random
// text ids, distinct per request so nothing is shared) generating exactly `new_tokens`.
engine::GenerateRequest MakeRequest(const Options& opt, const MotConfig& config, int32_t eos_id,
                                    int32_t bos_id, uint64_t serial) {
  engine::GenerateRequest r;
  r.request_id = absl::StrCat("r", serial);
  TokenSource tokens(config, 0x9e3779b97f4a7c15ULL * (serial + 1));
  for (int i = 0; i < opt.prompt; ++i) {
    r.prompt.ids.push_back(i == 0 ? bos_id : tokens.Next(0));
    r.prompt.towers.push_back(0);
    r.prompt.positions.push_back(i);
  }
  r.sampling.temperature = 1.0f;
  r.sampling.seed = serial;
  r.sampling.max_new_tokens = opt.new_tokens;
  r.sampling.allowed_modalities = sampling::kText;
  // <eos> never wins, so every request generates exactly new_tokens tokens.
  r.sampling.logit_bias = {{eos_id, -1e4f}};
  return r;
}

// Drains a finished request's events; OK when it generated exactly `want` tokens and
// stopped for length.
absl::Status CheckFinished(engine::RequestHandle& h, int want) {
  engine::FinishReason reason = engine::FinishReason::kError;
  absl::Status status;
  int generated = -1;
  while (std::optional<engine::Event> e = h.Next()) {
    if (e->kind == engine::EventKind::kUsage) {
      generated = e->usage[0].generated_tokens + e->usage[1].generated_tokens +
                  e->usage[2].generated_tokens;
    } else if (e->kind == engine::EventKind::kFinished) {
      reason = e->reason;
      status = e->status;
    }
  }
  if (reason != engine::FinishReason::kLength || generated != want) {
    return absl::InternalError(absl::StrCat("request ", h.request_id(), " finished ",
                                            engine::FinishReasonName(reason), " after ", generated,
                                            " tokens (want ", want, "): ", status.ToString()));
  }
  return absl::OkStatus();
}

struct ConcurrentResult {
  double end_to_end_tok_s = 0;
  double decode_tok_s = 0;
  int64_t decode_steps = 0;  // full-batch decode steps in the decode-phase window
};

// Submits n requests at once and waits for all. The decode-phase window runs from the step
// end at which every request had its first token to the last step end at which all n were
// still running; step ends are the moments Engine::Stats' generated_tokens changes.
absl::StatusOr<ConcurrentResult> RunConcurrent(const Options& opt, engine::Engine& e,
                                               const MotConfig& config, int32_t eos, int32_t bos,
                                               int n, uint64_t* serial) {
  std::vector<engine::GenerateRequest> requests;
  for (int i = 0; i < n; ++i) requests.push_back(MakeRequest(opt, config, eos, bos, (*serial)++));
  const int64_t base = e.Stats().generated_tokens;
  const int64_t total = static_cast<int64_t>(n) * opt.new_tokens;
  std::vector<std::unique_ptr<engine::RequestHandle>> handles;
  const Clock::time_point t0 = Clock::now();
  for (engine::GenerateRequest& r : requests) {
    MOT_ASSIGN_OR_RETURN(std::unique_ptr<engine::RequestHandle> h, e.Submit(std::move(r)));
    handles.push_back(std::move(h));
  }
  bool have_a = false;
  Clock::time_point ta, tb, t_end;
  int64_t gen_a = 0, gen_b = 0, last_gen = 0;
  const Clock::time_point deadline = t0 + std::chrono::minutes(10);
  for (;;) {
    const engine::EngineStats s = e.Stats();
    const Clock::time_point now = Clock::now();
    const int64_t gen = s.generated_tokens - base;
    if (gen != last_gen) {
      last_gen = gen;
      if (!have_a && gen >= n) {
        have_a = true, ta = now, gen_a = gen;
        tb = now, gen_b = gen;
      } else if (have_a && s.running == n) {
        tb = now, gen_b = gen;
      }
    }
    if (gen >= total) {
      t_end = now;
      break;
    }
    if (now > deadline) return absl::DeadlineExceededError("a concurrent run took > 10 minutes");
    std::this_thread::sleep_for(std::chrono::microseconds(opt.poll_us));
  }
  for (auto& h : handles) MOT_RETURN_IF_ERROR(CheckFinished(*h, opt.new_tokens));
  ConcurrentResult r;
  r.end_to_end_tok_s = static_cast<double>(total) / Seconds(t0, t_end);
  r.decode_steps = (gen_b - gen_a) / n;
  // Steps shorter than the poll interval (tiny models) may all fall between two polls: then
  // there is no window to time, and the figure is NaN (shown as such) rather than wrong.
  if (r.decode_steps < 1) {
    std::cerr << "  n=" << n << ": no full-batch decode step seen between polls\n";
    r.decode_tok_s = std::nan("");
    return r;
  }
  r.decode_tok_s = static_cast<double>(gen_b - gen_a) / Seconds(ta, tb);
  return r;
}

// Runs opt.serial requests one after another; generated tokens per second.
absl::StatusOr<double> RunSerial(const Options& opt, engine::Engine& e, const MotConfig& config,
                                 int32_t eos, int32_t bos, uint64_t* serial) {
  const Clock::time_point t0 = Clock::now();
  for (int i = 0; i < opt.serial; ++i) {
    MOT_ASSIGN_OR_RETURN(std::unique_ptr<engine::RequestHandle> h,
                         e.Submit(MakeRequest(opt, config, eos, bos, (*serial)++)));
    MOT_RETURN_IF_ERROR(CheckFinished(*h, opt.new_tokens));
  }
  return static_cast<double>(opt.serial) * opt.new_tokens / Seconds(t0, Clock::now());
}

// One step with its cache preparation: `lengths[s]` positions are marked cached in slot s
// before the step (the contents are whatever is there: timing does not depend on them).
struct PreparedStep {
  StepBatch batch;
  std::vector<std::pair<int32_t, int32_t>> lengths;  // (slot, length)
};

absl::StatusOr<double> TimeStep(model::MotModel& model, kv::ContiguousKvCache& cache,
                                const PreparedStep& step, std::vector<float>& logits) {
  for (auto [slot, len] : step.lengths) cache.Commit(slot, len);
  const size_t need = static_cast<size_t>(step.batch.NumWanted() * model.config().vocab_size);
  if (logits.size() < need) logits.resize(need);
  const Clock::time_point t0 = Clock::now();
  MOT_RETURN_IF_ERROR(model.Forward(step.batch, &cache, logits.data()));
  return Seconds(t0, Clock::now());
}

// The grouping comparison's five steps: mixed, the three single-tower parts, one tower.
struct GroupingSteps {
  std::string name;
  PreparedStep mixed, single[3], one_tower;
  int per_tower[3] = {0, 0, 0};
};

GroupingSteps DecodeGrouping(const Options& opt, const MotConfig& config) {
  GroupingSteps g;
  g.name = absl::StrFormat("decode step, %d seq x 1 tok @ pos %d", opt.decode_seqs, opt.decode_pos);
  TokenSource tokens(config, 7);
  for (int s = 0; s < opt.decode_seqs; ++s) {
    const int tower = s % 3;
    const int32_t id = tokens.Next(tower);
    g.mixed.batch.rows.push_back({id, tower, s, opt.decode_pos, true});
    g.single[tower].batch.rows.push_back({id, tower, s, opt.decode_pos, true});
    g.one_tower.batch.rows.push_back({tokens.Next(0), 0, s, opt.decode_pos, true});
    ++g.per_tower[tower];
    for (PreparedStep* p : {&g.mixed, &g.single[tower], &g.one_tower}) {
      p->lengths.push_back({s, opt.decode_pos});
    }
  }
  return g;
}

// 3 sequences of prefill_len tokens; sequence s is three runs (about a third each) of towers
// s, s+1, s+2 (mod 3), so every tower has prefill_len rows in all and the rows need the
// permutation. Single-tower step m: one sequence of prefill_len tokens of tower m (the same
// rows and the same attention work, 3 x sum_{p<len} p, as the mixed step).
GroupingSteps PrefillGrouping(const Options& opt, const MotConfig& config) {
  GroupingSteps g;
  const int len = opt.prefill_len;
  g.name = absl::StrFormat("prefill step, 3 seq x %d tok", len);
  TokenSource tokens(config, 11);
  const int runs[3] = {(len + 2) / 3, (len + 1) / 3, len / 3};
  for (int s = 0; s < 3; ++s) {
    int pos = 0;
    for (int k = 0; k < 3; ++k) {
      const int run = runs[(s + 2 * k) % 3];  // rotated so each tower sums to len
      const int tower = (s + k) % 3;
      for (int i = 0; i < run; ++i, ++pos) {
        g.mixed.batch.rows.push_back({tokens.Next(tower), tower, s, pos, pos == len - 1});
        ++g.per_tower[tower];
      }
    }
    g.mixed.lengths.push_back({s, 0});
    for (int p = 0; p < len; ++p) {
      g.one_tower.batch.rows.push_back({tokens.Next(0), 0, s, p, p == len - 1});
    }
    g.one_tower.lengths.push_back({s, 0});
  }
  for (int m = 0; m < 3; ++m) {
    for (int p = 0; p < g.per_tower[m]; ++p) {
      g.single[m].batch.rows.push_back({tokens.Next(m), m, 0, p, p == g.per_tower[m] - 1});
    }
    g.single[m].lengths.push_back({0, 0});
  }
  return g;
}

// Per-round results of one grouping comparison in one mode: step times in seconds
// (median of opt.inner steps each).
struct GroupingRounds {
  std::vector<double> mixed, sum, one_tower;
  // Medians of the per-iteration ratios mixed / sum and mixed / one_tower: each pairs steps
  // that ran back to back, closer in time (and load) than the rounds' medians are.
  std::vector<double> overhead, naive;
};

// TimeStep under a distinct, never-inlined symbol per case, so that a profiler run of
// `--only=grouping --threads=1` (valgrind --tool=callgrind) attributes each case's
// instructions separately: CaseStep<c> with c = 6 * invariant + 3 * prefill + k, k = 0 mixed,
// 1 a single-tower step, 2 one tower.
template <int kCase>
ABSL_ATTRIBUTE_NOINLINE absl::StatusOr<double> CaseStep(model::MotModel& model,
                                                        kv::ContiguousKvCache& cache,
                                                        const PreparedStep& step,
                                                        std::vector<float>& logits) {
  return TimeStep(model, cache, step, logits);
}
using CaseStepFn = absl::StatusOr<double> (*)(model::MotModel&, kv::ContiguousKvCache&,
                                              const PreparedStep&, std::vector<float>&);
template <size_t... kCases>
constexpr std::array<CaseStepFn, sizeof...(kCases)> CaseSteps(std::index_sequence<kCases...>) {
  return {&CaseStep<static_cast<int>(kCases)>...};
}
constexpr std::array<CaseStepFn, 12> kCaseSteps = CaseSteps(std::make_index_sequence<12>());

absl::Status RunGrouping(const Options& opt, model::MotModel& model, kv::ContiguousKvCache& cache,
                         const GroupingSteps& g, bool decode, bool invariant,
                         std::vector<float>& logits, GroupingRounds* out) {
  const CaseStepFn* fn = &kCaseSteps[6 * invariant + 3 * !decode];
  std::vector<double> mixed, sum, one, overhead, naive;
  for (int i = 0; i < opt.inner; ++i) {
    MOT_ASSIGN_OR_RETURN(double tm, fn[0](model, cache, g.mixed, logits));
    double ts = 0;
    for (const PreparedStep& p : g.single) {
      MOT_ASSIGN_OR_RETURN(double t, fn[1](model, cache, p, logits));
      ts += t;
    }
    MOT_ASSIGN_OR_RETURN(double to, fn[2](model, cache, g.one_tower, logits));
    mixed.push_back(tm), sum.push_back(ts), one.push_back(to);
    overhead.push_back(tm / ts), naive.push_back(tm / to);
  }
  if (out != nullptr) {
    out->mixed.push_back(Median(mixed));
    out->sum.push_back(Median(sum));
    out->one_tower.push_back(Median(one));
    out->overhead.push_back(Median(overhead));
    out->naive.push_back(Median(naive));
  }
  return absl::OkStatus();
}

// ---------------------------------------------------------------------------------------
// The table.

struct TableRow {
  std::string measure, mode, figure, beside, ratio, target;
};

// "mean ± stddev" with `digits` decimals.
std::string Fmt(const Stats& s, int digits = 1) {
  return absl::StrFormat("%.*f ± %.*f", digits, s.mean, digits, s.stddev);
}

// What was measured, per mode (0: batch-invariant off, 1: on), one entry per round.
struct Results {
  std::vector<double> prefill[2], serial[2];
  std::vector<std::vector<double>> end_to_end[2], decode[2];  // [concurrency index][round]
  GroupingRounds grouping[2][2];                              // [mode][0 decode, 1 prefill]
};

// The step whose rate is the compute bound of a decode batch: prefill_seqs prompts of
// `prompt` tokens in one step, every tower-0 row.
PreparedStep PrefillReference(const Options& opt, const MotConfig& config, int32_t bos) {
  PreparedStep p;
  TokenSource tokens(config, 3);
  for (int s = 0; s < opt.prefill_seqs; ++s) {
    for (int i = 0; i < opt.prompt; ++i) {
      p.batch.rows.push_back({i == 0 ? bos : tokens.Next(0), 0, s, i, i + 1 == opt.prompt});
    }
    p.lengths.push_back({s, 0});
  }
  return p;
}

// Where the time of each step goes (--breakdown), on a second model over a timing backend:
// the prefill reference, a decode step shaped like the engine's at decode_seqs concurrent
// (tower 0, mid-generation positions), and the grouping steps. Returns Markdown.
absl::StatusOr<std::string> Breakdown(const Options& opt, const Checkpoint& checkpoint,
                                      backend::cpu::CpuBackend& cpu,
                                      const PreparedStep& prefill_step,
                                      const std::vector<GroupingSteps>& groupings) {
  TimingBackend timing(&cpu);
  MOT_ASSIGN_OR_RETURN(std::unique_ptr<model::MotModel> model,
                       model::MotModel::Create(&checkpoint, &timing));
  const MotConfig& config = model->config();
  const int engine_pos = opt.prompt + opt.new_tokens / 2;
  MOT_ASSIGN_OR_RETURN(
      std::unique_ptr<kv::ContiguousKvCache> cache,
      kv::ContiguousKvCache::Create(kv::ContiguousKvCacheConfig::FromModelConfig(
          config, std::max({opt.decode_seqs, opt.prefill_seqs, 3}),
          std::max({opt.decode_pos + 1, opt.prefill_len, opt.prompt, engine_pos + 1}),
          opt.kv_dtype)));
  PreparedStep engine_decode;
  TokenSource tokens(config, 5);
  for (int s = 0; s < opt.decode_seqs; ++s) {
    engine_decode.batch.rows.push_back({tokens.Next(0), 0, s, engine_pos, true});
    engine_decode.lengths.push_back({s, engine_pos});
  }
  std::vector<std::pair<std::string, std::vector<const PreparedStep*>>> cases = {
      {absl::StrCat("prefill reference, ", opt.prefill_seqs, " seq x ", opt.prompt, " tok"),
       {&prefill_step}},
      {absl::StrCat("engine-like decode step, ", opt.decode_seqs, " seq x 1 tok @ pos ", engine_pos,
                    ", one tower"),
       {&engine_decode}}};
  for (const GroupingSteps& g : groupings) {
    cases.push_back({absl::StrCat(g.name, ": mixed"), {&g.mixed}});
    cases.push_back({absl::StrCat(g.name, ": sum of 3 single-tower steps"),
                     {&g.single[0], &g.single[1], &g.single[2]}});
    cases.push_back({absl::StrCat(g.name, ": one tower"), {&g.one_tower}});
  }
  std::vector<float> logits;
  std::ostringstream md;
  md << "\n| step | batch-inv. | rows | total ms | Linear ms | " << TimingBackend::kClassNames[1]
     << " ms | " << TimingBackend::kClassNames[2]
     << " ms | outside the backend ms | Linear calls |\n"
     << "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n";
  for (bool invariant : {false, true}) {
    cpu.set_batch_invariant(invariant);
    for (const auto& [label, steps] : cases) {
      double total = 0, cls[TimingBackend::kNumClasses] = {};
      int64_t linear_calls = 0, rows = 0;
      for (const PreparedStep* p : steps) rows += static_cast<int64_t>(p->batch.rows.size());
      for (int i = 0; i < opt.inner + 1; ++i) {
        timing.Clear();
        double t = 0;
        for (const PreparedStep* p : steps) {
          MOT_ASSIGN_OR_RETURN(double s, TimeStep(*model, *cache, *p, logits));
          t += s;
        }
        if (i == 0) continue;  // warm-up
        total += t;
        for (int c = 0; c < TimingBackend::kNumClasses; ++c) cls[c] += timing.seconds[c];
        linear_calls = timing.calls[TimingBackend::kLinear];
      }
      const double k = 1e3 / opt.inner;
      const double outside = total - cls[TimingBackend::kLinear] - cls[TimingBackend::kShared] -
                             cls[TimingBackend::kPerTowerOther];
      md << absl::StrFormat("| %s | %s | %d | %.2f | %.2f | %.2f | %.2f | %.3f | %d |\n", label,
                            invariant ? "on" : "off", rows, total * k,
                            cls[TimingBackend::kLinear] * k, cls[TimingBackend::kShared] * k,
                            cls[TimingBackend::kPerTowerOther] * k, outside * k, linear_calls);
    }
  }
  cpu.set_batch_invariant(false);
  md << "\nBreakdown: mean over " << opt.inner
     << " steps after 1 warm-up, every backend op timed by a forwarding backend; \"outside the "
        "backend\" is the model's own work (validation, the sort by tower, KV slot lookup, "
        "bookkeeping) plus the timing wrapper's own cost.\n";
  return md.str();
}

int Run(const Options& opt, const std::string& command) {
  const std::string load_start = LoadAvg();
  const Clock::time_point bench_start = Clock::now();
  char tmpl[] = "/tmp/engine_bench_XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::cerr << "engine_bench: cannot make a temporary directory\n";
    return 1;
  }
  const std::string tmp_dir = tmpl;
  const std::string dir = tmp_dir + "/ckpt";
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  } cleanup{tmp_dir};
  auto fail = [](const absl::Status& s, absl::string_view what) {
    std::cerr << "engine_bench: " << what << ": " << s << "\n";
    return 1;
  };
  std::cerr << "writing a random 3-tower checkpoint to " << dir << "\n";
  if (absl::Status s = testing::WriteTinyCheckpoint(dir, opt.model); !s.ok()) {
    return fail(s, "writing the checkpoint");
  }
  CheckpointOpenOptions open_options;
  open_options.verify_sha256 = false;
  absl::StatusOr<Checkpoint> checkpoint = Checkpoint::Open(dir, open_options);
  if (!checkpoint.ok()) return fail(checkpoint.status(), "opening the checkpoint");
  const MotConfig& config = checkpoint->config();

  ThreadPool pool(opt.threads);
  backend::cpu::CpuBackend cpu(&pool);

  const int max_n = *std::max_element(opt.concurrency.begin(), opt.concurrency.end());
  engine::EngineOptions eo;
  eo.block_size = 16;
  const int blocks_per_seq = (opt.prompt + opt.new_tokens + eo.block_size - 1) / eo.block_size + 1;
  eo.blocks_per_pool = {max_n * blocks_per_seq, 4, 4};
  eo.pool_dtypes = {opt.kv_dtype, opt.kv_dtype, opt.kv_dtype};
  eo.prefix_caching = false;  // every prompt is distinct anyway; no lookups either
  // Every prompt of a run is prefilled in its first steps without waiting for decode room.
  eo.max_step_tokens = std::max(256, max_n * opt.prompt);
  eo.max_running = std::max(64, max_n);
  absl::StatusOr<std::unique_ptr<engine::Engine>> engine =
      engine::Engine::Create(eo, &*checkpoint, &cpu);
  if (!engine.ok()) return fail(engine.status(), "Engine::Create");
  const tokenizer::UnifiedVocab& vocab = (*engine)->prompt_builder().vocab();
  const int32_t eos = vocab.eos_id(), bos = vocab.bos_id();

  // The model for the prefill reference and the grouping steps: the same checkpoint and
  // backend, used only while the engine is idle (one caller at a time).
  absl::StatusOr<std::unique_ptr<model::MotModel>> model =
      model::MotModel::Create(&*checkpoint, &cpu);
  if (!model.ok()) return fail(model.status(), "MotModel::Create");
  const int cache_seqs = std::max({opt.decode_seqs, opt.prefill_seqs, 3});
  const int cache_len = std::max({opt.decode_pos + 1, opt.prefill_len, opt.prompt});
  absl::StatusOr<std::unique_ptr<kv::ContiguousKvCache>> cache = kv::ContiguousKvCache::Create(
      kv::ContiguousKvCacheConfig::FromModelConfig(config, cache_seqs, cache_len, opt.kv_dtype));
  if (!cache.ok()) return fail(cache.status(), "ContiguousKvCache::Create");
  const PreparedStep prefill_step = PrefillReference(opt, config, bos);
  const int64_t prefill_rows = static_cast<int64_t>(prefill_step.batch.rows.size());
  const std::vector<GroupingSteps> groupings = {DecodeGrouping(opt, config),
                                                PrefillGrouping(opt, config)};
  std::vector<float> logits;
  uint64_t serial = 0;

  Results res;
  const size_t nc = opt.concurrency.size();
  for (int m = 0; m < 2; ++m) {
    res.end_to_end[m].resize(nc);
    res.decode[m].resize(nc);
  }
  // Round -1 warms up (page faults of the first large step, the engine's scratch, caches):
  // every step shape once, with short generations (its figures are dropped).
  Options warm_opt = opt;
  warm_opt.new_tokens = 4;
  warm_opt.inner = 1;
  for (int round = -1; round < opt.reps; ++round) {
    const bool warm = round < 0;
    const Options& ro = warm ? warm_opt : opt;
    std::cerr << (warm ? "warm-up round" : absl::StrCat("round ", round + 1, "/", opt.reps))
              << " (load " << LoadAvg() << ")\n";
    const int order[2][2] = {{0, 1}, {1, 0}};
    const int* modes = order[(round + 2) % 2];
    for (int k = 0; k < 2; ++k) {  // the prefill reference
      const int mode = modes[k];
      cpu.set_batch_invariant(mode == 1);
      std::vector<double> t;
      for (int i = 0; i < 3; ++i) {
        absl::StatusOr<double> s = TimeStep(**model, **cache, prefill_step, logits);
        if (!s.ok()) return fail(s.status(), "prefill step");
        t.push_back(*s);
      }
      if (!warm) res.prefill[mode].push_back(static_cast<double>(prefill_rows) / Median(t));
    }
    if (!warm && opt.throughput) {
      for (int k = 0; k < 2; ++k) {  // one by one
        const int mode = modes[k];
        cpu.set_batch_invariant(mode == 1);
        absl::StatusOr<double> r = RunSerial(opt, **engine, config, eos, bos, &serial);
        if (!r.ok()) return fail(r.status(), "one-by-one run");
        res.serial[mode].push_back(*r);
      }
    }
    for (size_t ci = 0; ci < nc; ++ci) {
      const int n = opt.concurrency[ci];
      if (!opt.throughput || (warm && n != max_n)) continue;
      for (int k = 0; k < 2; ++k) {
        const int mode = modes[k];
        cpu.set_batch_invariant(mode == 1);
        absl::StatusOr<ConcurrentResult> r =
            RunConcurrent(ro, **engine, config, eos, bos, n, &serial);
        if (!r.ok()) return fail(r.status(), absl::StrCat("concurrent run, n=", n));
        if (!warm) {
          res.end_to_end[mode][ci].push_back(r->end_to_end_tok_s);
          res.decode[mode][ci].push_back(r->decode_tok_s);
        }
        std::cerr << absl::StrFormat(
            "  n=%d batch-invariant %s: %.1f tok/s end to end, %.1f decode"
            " phase (%d full steps)\n",
            n, mode ? "on" : "off", r->end_to_end_tok_s, r->decode_tok_s, r->decode_steps);
      }
    }
    for (size_t gi = 0; gi < groupings.size() && opt.grouping; ++gi) {
      for (int k = 0; k < 2; ++k) {
        const int mode = modes[k];
        cpu.set_batch_invariant(mode == 1);
        if (absl::Status s = RunGrouping(ro, **model, **cache, groupings[gi], gi == 0, mode == 1,
                                         logits, warm ? nullptr : &res.grouping[mode][gi]);
            !s.ok()) {
          return fail(s, groupings[gi].name);
        }
      }
    }
  }
  cpu.set_batch_invariant(false);
  const engine::EngineStats final_stats = (*engine)->Stats();
  const std::string load_end = LoadAvg();
  const double bench_seconds = Seconds(bench_start, Clock::now());

  std::string breakdown;
  if (opt.breakdown) {
    absl::StatusOr<std::string> b = Breakdown(opt, *checkpoint, cpu, prefill_step, groupings);
    if (!b.ok()) return fail(b.status(), "breakdown");
    breakdown = *b;
  }

  // The table: one figure per row, its peer or bound beside it.
  std::vector<TableRow> rows;
  const char* mode_name[2] = {"off", "on"};
  const std::string prefill_label = absl::StrCat("prefill, one ", prefill_rows, "-row step (",
                                                 opt.prefill_seqs, " x ", opt.prompt, "): ");
  for (int m = 0; m < 2 && opt.throughput; ++m) {
    for (size_t ci = 0; ci < nc; ++ci) {
      const int n = opt.concurrency[ci];
      rows.push_back(
          {absl::StrCat("generated tok/s, ", n, " concurrent, end to end"), mode_name[m],
           Fmt(Summarize(res.end_to_end[m][ci])),
           absl::StrCat("one by one: ", Fmt(Summarize(res.serial[m]))),
           absl::StrCat(Fmt(Summarize(Ratios(res.end_to_end[m][ci], res.serial[m])), 2), "x"), ""});
    }
    for (size_t ci = 0; ci < nc; ++ci) {
      const int n = opt.concurrency[ci];
      rows.push_back({absl::StrCat("decode-phase tok/s, ", n, " concurrent"), mode_name[m],
                      Fmt(Summarize(res.decode[m][ci])),
                      absl::StrCat(prefill_label, Fmt(Summarize(res.prefill[m]))),
                      Fmt(Summarize(Ratios(res.decode[m][ci], res.prefill[m])), 2),
                      n == 32 ? "≥ 0.80" : ""});
    }
  }
  // The batch-invariant mode's cost: on / off, paired by round.
  auto cost_row = [&](const std::string& what, const std::vector<double>& on,
                      const std::vector<double>& off) {
    rows.push_back({absl::StrCat("batch-invariant cost: ", what), "on vs off", Fmt(Summarize(on)),
                    absl::StrCat("off: ", Fmt(Summarize(off))), Fmt(Summarize(Ratios(on, off)), 2),
                    ""});
  };
  cost_row(absl::StrCat("prefill tok/s, one ", prefill_rows, "-row step"), res.prefill[1],
           res.prefill[0]);
  if (opt.throughput) cost_row("one-by-one tok/s", res.serial[1], res.serial[0]);
  for (size_t ci = 0; ci < nc && opt.throughput; ++ci) {
    cost_row(absl::StrCat("decode-phase tok/s, ", opt.concurrency[ci], " concurrent"),
             res.decode[1][ci], res.decode[0][ci]);
  }
  for (size_t gi = 0; gi < groupings.size() && opt.grouping; ++gi) {
    const GroupingSteps& g = groupings[gi];
    for (int m = 0; m < 2; ++m) {
      const GroupingRounds& r = res.grouping[m][gi];
      auto ms = [](std::vector<double> v) {
        for (double& x : v) x *= 1e3;
        return Summarize(v);
      };
      std::vector<double> overhead = r.overhead;
      for (double& x : overhead) x = 100.0 * (x - 1.0);
      const Stats o = Summarize(overhead);
      rows.push_back(
          {absl::StrFormat("grouping overhead: %s, towers %d/%d/%d, ms", g.name, g.per_tower[0],
                           g.per_tower[1], g.per_tower[2]),
           mode_name[m], Fmt(ms(r.mixed), 2),
           absl::StrFormat("sum of the 3 single-tower steps (%d + %d + %d rows): %s",
                           g.per_tower[0], g.per_tower[1], g.per_tower[2], Fmt(ms(r.sum), 2)),
           absl::StrFormat("%+.1f ± %.1f%%", o.mean, o.stddev), gi == 0 ? "≤ +2%" : "≤ +5%"});
      rows.push_back({absl::StrFormat("naive (not the overhead): the same %s vs all %d rows in "
                                      "one tower, ms",
                                      gi == 0 ? "decode step" : "prefill step",
                                      static_cast<int>(g.mixed.batch.rows.size())),
                      mode_name[m], Fmt(ms(r.mixed), 2),
                      absl::StrCat("one tower: ", Fmt(ms(r.one_tower), 2)),
                      absl::StrCat(Fmt(Summarize(r.naive), 2), "x"),
                      gi == 0 ? "(reads 3 towers' weights, not 1)" : ""});
    }
  }

  std::ostringstream md;
  md << "| measure | batch-inv. | figure | beside it | ratio | target |\n"
     << "| --- | --- | ---: | --- | ---: | --- |\n";
  for (const TableRow& r : rows) {
    md << "| " << r.measure << " | " << r.mode << " | " << r.figure << " | " << r.beside << " | "
       << r.ratio << " | " << r.target << " |\n";
  }
  std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  const int64_t params = (*model)->NumParameters();
  const int64_t per_token = (*model)->WeightBytesPerToken(0);
  md << "\nModel: random 3-tower MoT (tests/testing/tiny_checkpoint), dim " << config.dim << ", "
     << config.n_layers << " layers, " << config.n_heads << " heads / " << config.n_kv_heads
     << " kv heads of " << config.head_dim << ", ffn " << config.ffn_hidden << ", vocab "
     << config.vocab_size << ", " << DTypeName(opt.model.dtype)
     << " weights: " << absl::StrFormat("%.1fM", params / 1e6) << " parameters, "
     << absl::StrFormat("%.1f MB", per_token / 1e6)
     << " of weights read per decoded token (one tower + embedding row + LM head).\n";
  if (opt.throughput) {
    md << "Throughput: each request a " << opt.prompt << "-token text prompt generating exactly "
       << opt.new_tokens << " tokens (temperature 1, <eos> biased by -1e4); engine with a paged "
       << "KV cache (block " << eo.block_size << ", " << DTypeName(opt.kv_dtype)
       << "), prefix caching off, max_step_tokens " << eo.max_step_tokens << ". End to end = N x "
       << opt.new_tokens
       << " / (last token - first Submit). Decode phase = tokens / time over the steps in which "
          "all N requests decode (step ends seen by polling Engine::Stats every "
       << opt.poll_us << " us). One by one = " << opt.serial
       << " such requests in a row (the rate does not depend on N). Prefill = MotModel::Forward "
          "of one "
       << prefill_rows << "-row step, median of 3, same backend and mode.\n";
  }
  if (opt.grouping) {
    md << "Grouping: MotModel::Forward on a contiguous " << DTypeName(opt.kv_dtype)
       << " KV cache; per round, " << opt.inner
       << " iterations of (mixed, the 3 single-tower steps, one tower) back to back; times "
          "are the round's medians, overhead = median of the iterations' mixed / (sum of the "
          "single-tower steps) - 1. The sum carries three steps' fixed costs (embedding, "
          "rotary, KV store and attention launches, LM head, validation) where the mixed step "
          "pays them once, so it slightly flatters the mixed step.\n";
  }
  md << "Rounds: " << opt.reps << " after 1 warm-up; in each, every configuration ran once per "
     << "mode, the mode order alternating between rounds; mean ± stddev over rounds, ratios "
        "paired per round. Engine preemptions: "
     << final_stats.preemptions << ". Bench wall time " << absl::StrFormat("%.1f s", bench_seconds)
     << ".\n";
  md << "Backend " << cpu.name() << ", commit "
     << RunCommand(absl::StrCat("git -C ", MOT_SOURCE_DIR, " rev-parse --short HEAD 2>/dev/null"))
     << ", CPU " << CpuModel() << ", " << std::thread::hardware_concurrency()
     << " logical CPUs, threads " << pool.num_threads() << ", " << date << ", load average "
     << load_start << " (start) / " << load_end << " (end).\n";
  md << "Command: `" << command << "`\n";
  std::cout << md.str() << breakdown;
  return 0;
}

}  // namespace
}  // namespace mot::bench

int main(int argc, char** argv) {
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) absl::StrAppend(&command, " ", argv[i]);
  absl::SetProgramUsageMessage(
      "the batched engine's generated tok/s at N concurrent requests (beside one by one and "
      "the prefill rate) and the cost of grouping a step's rows by tower, batch-invariant "
      "mode off and on; prints one Markdown table.\n"
      "usage: engine_bench [--threads=N] [--reps=N] [--dtype=bf16|f16|f32] "
      "[--concurrency=1,8,32,64] [--prompt=N] [--new_tokens=N] [--serial=N] [--quick] "
      "[--breakdown]");
  mot::bench::ParseBenchFlags(argc, argv);

  mot::bench::Options opt;
  opt.quick = absl::GetFlag(FLAGS_quick);
  opt.threads = absl::GetFlag(FLAGS_threads);
  opt.reps = absl::GetFlag(FLAGS_reps);
  opt.prompt = absl::GetFlag(FLAGS_prompt);
  opt.new_tokens = absl::GetFlag(FLAGS_new_tokens);
  opt.serial = absl::GetFlag(FLAGS_serial);
  opt.prefill_seqs = absl::GetFlag(FLAGS_prefill_seqs);
  opt.decode_seqs = absl::GetFlag(FLAGS_decode_seqs);
  opt.decode_pos = absl::GetFlag(FLAGS_decode_pos);
  opt.prefill_len = absl::GetFlag(FLAGS_prefill_len);
  opt.inner = absl::GetFlag(FLAGS_inner);
  opt.poll_us = absl::GetFlag(FLAGS_poll_us);
  opt.breakdown = absl::GetFlag(FLAGS_breakdown);
  opt.concurrency.clear();
  for (const std::string& s : absl::GetFlag(FLAGS_concurrency)) {
    int n = 0;
    if (!absl::SimpleAtoi(s, &n) || n < 1 || n > 256) {
      mot::bench::UsageError(
          absl::StrCat("--concurrency: '", s, "' is not a request count in [1, 256]"));
    }
    opt.concurrency.push_back(n);
  }
  if (opt.concurrency.empty()) mot::bench::UsageError("--concurrency: empty list");
  auto parse_dtype = [](const char* flag, const std::string& v) {
    if (v == "bf16") return mot::DType::kBF16;
    if (v == "f16") return mot::DType::kF16;
    if (v != "f32") {
      mot::bench::UsageError(absl::StrCat("--", flag, "=", v, ": must be bf16, f16 or f32"));
    }
    return mot::DType::kF32;
  };
  opt.dtype = parse_dtype("dtype", absl::GetFlag(FLAGS_dtype));
  opt.kv_dtype = parse_dtype("kv_dtype", absl::GetFlag(FLAGS_kv_dtype));
  const std::string only = absl::GetFlag(FLAGS_only);
  if (only != "all" && only != "throughput" && only != "grouping") {
    mot::bench::UsageError(absl::StrCat("--only=", only, ": must be all, throughput or grouping"));
  }
  opt.throughput = only != "grouping";
  opt.grouping = only != "throughput";
  for (const auto& [name, value, min] :
       {std::tuple{"threads", opt.threads, 0}, std::tuple{"reps", opt.reps, 1},
        std::tuple{"prompt", opt.prompt, 1}, std::tuple{"new_tokens", opt.new_tokens, 2},
        std::tuple{"serial", opt.serial, 1}, std::tuple{"prefill_seqs", opt.prefill_seqs, 1},
        std::tuple{"decode_seqs", opt.decode_seqs, 3}, std::tuple{"decode_pos", opt.decode_pos, 0},
        std::tuple{"prefill_len", opt.prefill_len, 3}, std::tuple{"inner", opt.inner, 1},
        std::tuple{"poll_us", opt.poll_us, 50}}) {
    if (value < min) {
      mot::bench::UsageError(absl::StrCat("--", name, "=", value, ": must be >= ", min));
    }
  }

  // The model: dim 512, 8 layers, 3 towers, ffn 1408 (about 71M parameters, 23.6M per
  // tower): the weights dominate a step. --quick: a tiny one and a small workload.
  mot::testing::TinyCheckpointOptions& m = opt.model;
  m.dtype = opt.dtype;
  if (opt.quick) {
    m.dim = 64, m.n_layers = 2, m.n_heads = 4, m.n_kv_heads = 2, m.head_dim = 16;
    m.ffn_hidden = 128, m.max_seq_len = 256;
    opt.reps = 1;
    opt.concurrency = {1, 4};
    opt.prompt = 16, opt.new_tokens = 24, opt.serial = 2, opt.prefill_seqs = 2;
    opt.poll_us = 50;
    opt.decode_seqs = 6, opt.decode_pos = 32, opt.prefill_len = 24, opt.inner = 2;
  } else {
    m.dim = 512, m.n_layers = 8, m.n_heads = 8, m.n_kv_heads = 4, m.head_dim = 64;
    m.ffn_hidden = 1408, m.max_seq_len = 1024;
  }
  const int longest = std::max({opt.prompt + opt.new_tokens, opt.decode_pos + 1, opt.prefill_len});
  if (longest > m.max_seq_len) {
    mot::bench::UsageError(
        absl::StrCat("--prompt + --new_tokens, --decode_pos + 1 and "
                     "--prefill_len must be <= ",
                     m.max_seq_len, " (the model's max_seq_len)"));
  }
  return mot::bench::Run(opt, command);
}
