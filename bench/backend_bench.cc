// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/backend_bench.cc
// backend_bench: the CPU backend's Linear against its bounds, as one Markdown table.
//   decode (m = 1): GB/s of weights streamed vs the measured read bandwidth
//     (MeasureReadBandwidthGBs). "cold" cycles through enough copies of the weight to
//     exceed the last-level cache, as a decode step over a whole model does; "hot" repeats
//     one weight (cache resident when it fits).
//   prefill (m = 128, 512): GFLOP/s vs OpenBLAS cblas_sgemm on f32 weights of the same
//     shape, OpenBLAS running its own threads (the peer).
//   attention: prefill (one sequence's --attention_prompt rows, causal) and decode (one row at
//     --attention_context positions) over a contiguous KV cache of each --kv_dtypes dtype,
//     at the 125m config's geometry (12 query heads, 4 kv heads, head size 64) and at head
//     size 128 (32 / 8 heads); the achieved GFLOP/s of the score and value products (4 *
//     head_dim flop per query-key pair) beside the f32 FMA peak the CPU's vector width and
//     clock give (CpuFeatures), and, for decode, the KV GB/s beside the read bandwidth.
// Each figure is mean ± stddev over --reps repetitions after one warm-up.
//
// Usage (flags are Abseil flags; the defaults are shown):
//   backend_bench [--threads=2] [--reps=7] [--isa=avx512|avx2|scalar] [--quick]
//                 [--cases=all|decode|prefill] [--batch_invariant]
//                 [--dtypes=F32,BF16,F16] [--prefill_m=128,512]
//                 [--attention_prompt=512] [--attention_context=2048] [--kv_dtypes=F32,BF16]
//   --threads: the thread pool (caller included; 0: one per core). --reps >= 1 (1 is raised
//   to 2, the fewest a stddev needs). --isa: highest ISA level to run (default: the
//   detected one). --quick: prefill at m = 128 only. --cases: which half of the table.
//   --batch_invariant: CpuBackend::set_batch_invariant(true), to measure what the mode costs
//   (compare with a run without it). --dtypes: weight dtypes (F32, BF16, F16, Q8_0, Q4_0;
//   Q8_0/Q4_0 weights take the integer path for m <= CpuBackend::kQuantizedIntegerM, and
//   for every m with --batch_invariant, so the two runs compare it with dequantize +
//   sgemm). --prefill_m: the prefill row counts (overrides --quick).
//   '-' inside a flag's name (before any '=') is turned into '_' before
//   absl::ParseCommandLine sees it, so dashed spellings keep working. --help lists the flags.
// Exit status: 0 done, 2 a flag value out of range (the message names the flag); Abseil
// itself rejects unknown flags and unparseable values (exit 1, its message names the flag).
#include <cblas.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bandwidth.h"
#include "bench/bench_flags.h"
#include "bench/fma_peak.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/backend/cpu/cpu_features.h"
#include "engine/core/dtype.h"
#include "engine/core/thread_pool.h"
#include "engine/kv/contiguous_kv_cache.h"

ABSL_FLAG(int, threads, 2, "threads in the pool, the caller included; 0: one per core");
ABSL_FLAG(int, reps, 7, "timed repetitions after one warm-up, >= 1 (1 is raised to 2)");
ABSL_FLAG(std::string, isa, "",
          "highest CPU ISA level to run: avx512, avx2 or scalar (default: the detected one)");
ABSL_FLAG(bool, quick, false, "prefill at m = 128 only (not 512)");
ABSL_FLAG(std::string, cases, "all",
          "which cases to run: all, decode, prefill (Linear) or attention");
ABSL_FLAG(int, attention_prompt, 512, "attention case: prefill rows (causal), >= 1");
ABSL_FLAG(int, attention_context, 2048, "attention case: decode context, >= 1");
ABSL_FLAG(std::vector<std::string>, kv_dtypes, std::vector<std::string>({"F32", "BF16"}),
          "attention case: KV cache dtypes (F32, BF16, F16)");
ABSL_FLAG(std::vector<std::string>, dtypes, std::vector<std::string>({"F32", "BF16", "F16"}),
          "weight dtypes: F32, BF16, F16, Q8_0, Q4_0");
ABSL_FLAG(std::vector<std::string>, prefill_m, {}, "prefill row counts (default 128,512)");
ABSL_FLAG(bool, batch_invariant, false,
          "run CpuBackend in its batch-invariant mode (rows summed in one order whatever m)");

namespace mot::bench {
namespace {

using backend::WeightRef;
using backend::cpu::CpuBackend;
using backend::cpu::IsaLevel;

struct Stats {
  double mean = 0;
  double stddev = 0;
};

Stats MeanStddev(const std::vector<double>& t) {
  Stats s;
  for (double v : t) s.mean += v;
  s.mean /= static_cast<double>(t.size());
  for (double v : t) s.stddev += (v - s.mean) * (v - s.mean);
  s.stddev = t.size() > 1 ? std::sqrt(s.stddev / static_cast<double>(t.size() - 1)) : 0.0;
  return s;
}

double ProcessCpuSeconds() {
  timespec ts;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Timing {
  Stats wall;  // seconds per call
  Stats cpu;   // CPU seconds of the whole process per call, divided by the thread count
};

// Per-call times of `fn` (which makes `calls` calls): warm-up, then `reps` timed runs.
// The CPU time is what the process consumed: on a machine shared with other jobs it
// estimates the wall time the op would take on idle cores (compute-bound ops).
Timing TimePerCall(int reps, int calls, int threads, const std::function<void()>& fn) {
  fn();
  std::vector<double> wall, cpu;
  for (int r = 0; r < reps; ++r) {
    const double c0 = ProcessCpuSeconds();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    wall.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count() /
                   calls);
    cpu.push_back((ProcessCpuSeconds() - c0) / calls / threads);
  }
  return {MeanStddev(wall), MeanStddev(cpu)};
}

// A rate derived from a time: mean and stddev of work / t (first order).
Stats Rate(double work, const Stats& time) {
  return {work / time.mean, work / time.mean * (time.stddev / time.mean)};
}

std::vector<uint8_t> RandomWeightBytes(DType dtype, int64_t n, std::mt19937& rng) {
  std::uniform_real_distribution<float> dist(-0.05f, 0.05f);
  std::vector<float> f(static_cast<size_t>(n));
  for (auto& v : f) v = dist(rng);
  std::vector<uint8_t> bytes(static_cast<size_t>(DTypeBytes(dtype, n)));
  ConvertFromF32(f.data(), n, dtype, bytes.data());
  return bytes;
}

// The attention rows of the table (see the file comment).
void RunAttention(CpuBackend& be, ThreadPool& pool, int reps, int prompt, int context,
                  const std::vector<DType>& kv_dtypes, std::mt19937& rng) {
  struct Geometry {
    int32_t n_heads, n_kv_heads, head_dim;
  };
  const double peak = MeasureFmaPeakGflops(pool, be.isa() == IsaLevel::kAvx512);
  const double bw = MeasureReadBandwidthGBs(pool, size_t{512} << 20, 5);
  for (const Geometry& g : {Geometry{12, 4, 64}, Geometry{32, 8, 128}}) {
    const int64_t kv_dim = int64_t{g.n_kv_heads} * g.head_dim;
    const int64_t q_dim = int64_t{g.n_heads} * g.head_dim;
    for (DType dt : kv_dtypes) {
      for (const bool decode : {false, true}) {
        const int32_t len = decode ? context : prompt;
        auto cache = kv::ContiguousKvCache::Create({1, kv_dim, 1, len, dt, {}});
        if (!cache.ok()) {
          std::fprintf(stderr, "%s\n", cache.status().ToString().c_str());
          return;
        }
        const kv::KvLayerView view = (*cache)->LayerView(0);
        std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
        std::vector<float> k(static_cast<size_t>(len * kv_dim)), v(k.size());
        for (float& x : k) x = dist(rng);
        for (float& x : v) x = dist(rng);
        std::vector<kv::KvSlot> slots(static_cast<size_t>(len));
        for (int32_t p = 0; p < len; ++p) slots[static_cast<size_t>(p)] = view.Locate(0, p);
        be.StoreKv(k.data(), kv_dim, v.data(), kv_dim, len, slots.data(), view);
        const int64_t rows = decode ? 1 : prompt;
        std::vector<float> q(static_cast<size_t>(rows * q_dim)), out(q.size());
        for (float& x : q) x = dist(rng);
        std::vector<int32_t> seq(static_cast<size_t>(rows), 0), pos(static_cast<size_t>(rows));
        for (int64_t r = 0; r < rows; ++r) pos[static_cast<size_t>(r)] = decode ? len - 1 : r;
        backend::AttentionArgs a;
        a.q = q.data();
        a.ldq = q_dim;
        a.rows = rows;
        a.seq = seq.data();
        a.pos = pos.data();
        a.kv = view;
        a.n_heads = g.n_heads;
        a.n_kv_heads = g.n_kv_heads;
        a.head_dim = g.head_dim;
        a.scale = 1.0f / std::sqrt(static_cast<float>(g.head_dim));
        a.out = out.data();
        a.ldo = q_dim;
        // Query-key pairs: causal prefill sums 1..len; decode reads len positions.
        const double pairs = decode ? static_cast<double>(len) : 0.5 * len * (len + 1.0);
        const double gflop = pairs * g.n_heads * 4.0 * g.head_dim / 1e9;
        const int calls = std::max(1, static_cast<int>(0.5 / gflop));
        const Timing t = TimePerCall(reps, calls, pool.num_threads(), [&] {
          for (int c = 0; c < calls; ++c) be.Attention(a);
        });
        const Stats r = Rate(gflop, t.wall);
        const Stats rc = Rate(gflop, t.cpu);
        const double kv_gb = 2.0 * len * kv_dim * DTypeSize(dt) / 1e9;
        std::printf(
            "| attention %s | KV %s | %d x %d/%d heads x %d, %d positions | %.0f ± %.0f | %.1f ± "
            "%.1f GFLOP/s | %.1f GFLOP/s (f32 FMA peak) | %.2f | %.1f GFLOP/s | %s | %s |\n",
            decode ? "decode" : "prefill", DTypeName(dt), static_cast<int>(rows), g.n_heads,
            g.n_kv_heads, g.head_dim, len, t.wall.mean * 1e6, t.wall.stddev * 1e6, r.mean, r.stddev,
            peak, r.mean / peak, rc.mean,
            decode ? absl::StrFormat("KV %.1f GB/s of %.1f", kv_gb / t.wall.mean, bw).c_str() : "",
            decode ? absl::StrFormat("%.2f", kv_gb / t.wall.mean / bw).c_str() : "");
        std::fflush(stdout);
      }
    }
  }
}

int Main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "the CPU backend's Linear against the read bandwidth (decode) and OpenBLAS sgemm "
      "(prefill); prints one Markdown table.\n"
      "usage: backend_bench [--threads=N] [--reps=N] [--isa=avx512|avx2|scalar] [--quick] "
      "[--cases=all|decode|prefill] [--batch_invariant]");
  mot::bench::ParseBenchFlags(argc, argv);

  const int threads_flag = absl::GetFlag(FLAGS_threads);
  if (threads_flag < 0) {
    mot::bench::UsageError(absl::StrCat("--threads=", threads_flag, ": must be >= 0"));
  }
  const int reps_flag = absl::GetFlag(FLAGS_reps);
  if (reps_flag < 1) mot::bench::UsageError(absl::StrCat("--reps=", reps_flag, ": must be >= 1"));
  const int reps = std::max(reps_flag, 2);
  const bool quick = absl::GetFlag(FLAGS_quick);
  const std::string cases = absl::GetFlag(FLAGS_cases);
  if (cases != "all" && cases != "decode" && cases != "prefill" && cases != "attention") {
    mot::bench::UsageError(
        absl::StrCat("--cases=", cases, ": unknown value (all, decode, prefill or attention)"));
  }
  const int attention_prompt = absl::GetFlag(FLAGS_attention_prompt);
  const int attention_context = absl::GetFlag(FLAGS_attention_context);
  if (attention_prompt < 1 || attention_context < 1) {
    mot::bench::UsageError(absl::StrCat("--attention_prompt=", attention_prompt,
                                        " / --attention_context=", attention_context,
                                        ": must be >= 1"));
  }
  std::vector<DType> kv_dtypes;
  for (const std::string& name : absl::GetFlag(FLAGS_kv_dtypes)) {
    const std::optional<DType> dt = ParseDType(name);
    if (!dt || (*dt != DType::kF32 && *dt != DType::kBF16 && *dt != DType::kF16)) {
      mot::bench::UsageError(
          absl::StrCat("--kv_dtypes: '", name, "' is not a KV dtype (F32, BF16, F16)"));
    }
    kv_dtypes.push_back(*dt);
  }
  std::optional<IsaLevel> isa;
  if (const std::string name = absl::GetFlag(FLAGS_isa); !name.empty()) {
    isa = backend::cpu::ParseIsa(name);
    if (!isa) {
      mot::bench::UsageError(
          absl::StrCat("--isa=", name, ": unknown level (avx512, avx2 or scalar)"));
    }
  }
  ThreadPool pool(threads_flag);
  const int threads = pool.num_threads();
  CpuBackend be(&pool, isa);
  be.set_batch_invariant(absl::GetFlag(FLAGS_batch_invariant));
  std::mt19937 rng(1);

  std::printf("backend: %s, threads: %d, batch-invariant: %s\n\n", std::string(be.name()).c_str(),
              threads, be.batch_invariant() ? "on" : "off");
  std::printf(
      "| case | dtype | m x out x in | wall µs/call | achieved (wall) | bound (wall) | "
      "fraction | achieved per CPU-s | bound per CPU-s | fraction per CPU-s |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n");

  struct Shape {
    int64_t out, in;
  };
  const std::vector<Shape> shapes = {{768, 768}, {2048, 768}, {768, 2048}, {32000, 768}};
  std::vector<DType> dtypes;
  for (const std::string& name : absl::GetFlag(FLAGS_dtypes)) {
    const std::optional<DType> dt = ParseDType(name);
    if (!dt) {
      mot::bench::UsageError(
          absl::StrCat("--dtypes: unknown dtype '", name, "' (F32, BF16, F16, Q8_0, Q4_0)"));
    }
    dtypes.push_back(*dt);
  }

  // Decode: m = 1. The bound is the read bandwidth measured just before the row, so that
  // both see the same machine load.
  for (const Shape& s :
       cases == "prefill" || cases == "attention" ? std::vector<Shape>{} : shapes) {
    for (DType dt : dtypes) {
      const int64_t n = s.out * s.in;
      const int64_t bytes = DTypeBytes(dt, n);
      // Copies covering >= 256 MiB (far above the 32 MiB L3), at least 2.
      const int copies =
          static_cast<int>(std::max<int64_t>(2, ((int64_t{256} << 20) + bytes - 1) / bytes));
      std::vector<std::vector<uint8_t>> w;
      w.push_back(RandomWeightBytes(dt, n, rng));
      for (int c = 1; c < copies; ++c) w.push_back(w[0]);
      std::vector<float> x(static_cast<size_t>(s.in), 0.01f), y(static_cast<size_t>(s.out));
      const int hot_calls = static_cast<int>(std::max<int64_t>(1, (int64_t{64} << 20) / bytes));
      const ReadBandwidth bound = MeasureReadBandwidth(pool, size_t{512} << 20, 5);
      const double bw = bound.wall_gbs;
      const Timing cold = TimePerCall(reps, copies, threads, [&] {
        for (int c = 0; c < copies; ++c) {
          const WeightRef ref{w[static_cast<size_t>(c)].data(), dt, s.out, s.in};
          be.Linear(x.data(), 1, s.in, ref, y.data(), s.out, false);
        }
      });
      const Timing hot = TimePerCall(reps, hot_calls, threads, [&] {
        const WeightRef ref{w[0].data(), dt, s.out, s.in};
        for (int c = 0; c < hot_calls; ++c) {
          be.Linear(x.data(), 1, s.in, ref, y.data(), s.out, false);
        }
      });
      for (const auto& [label, t] :
           {std::pair{"decode cold", cold}, std::pair{"decode hot", hot}}) {
        const Stats gbs = Rate(static_cast<double>(bytes) / 1e9, t.wall);
        const Stats gbs_cpu = Rate(static_cast<double>(bytes) / 1e9, t.cpu);
        std::printf(
            "| %s | %s | 1 x %ld x %ld | %.1f ± %.1f | %.1f ± %.1f GB/s | %.1f GB/s | %.2f | "
            "%.1f GB/s | %.1f GB/s | %.2f |\n",
            label, DTypeName(dt), static_cast<long>(s.out), static_cast<long>(s.in),
            t.wall.mean * 1e6, t.wall.stddev * 1e6, gbs.mean, gbs.stddev, bw, gbs.mean / bw,
            gbs_cpu.mean, bound.cpu_gbs, gbs_cpu.mean / bound.cpu_gbs);
      }
      std::fflush(stdout);
    }
  }

  // Prefill: m = 128, 512, against OpenBLAS sgemm with its own threads on f32 weights.
  std::vector<int64_t> ms = quick ? std::vector<int64_t>{128} : std::vector<int64_t>{128, 512};
  if (const auto list = absl::GetFlag(FLAGS_prefill_m); !list.empty()) {
    ms.clear();
    for (const std::string& v : list) {
      int64_t m = 0;
      if (!absl::SimpleAtoi(v, &m) || m < 1) {
        mot::bench::UsageError(absl::StrCat("--prefill_m: '", v, "' is not an integer >= 1"));
      }
      ms.push_back(m);
    }
  }
  if (cases == "decode" || cases == "attention") ms.clear();
  for (int64_t m : ms) {
    for (const Shape& s : shapes) {
      const int64_t n = s.out * s.in;
      const double gflop = 2.0 * static_cast<double>(m) * static_cast<double>(n) / 1e9;
      std::vector<float> x(static_cast<size_t>(m * s.in), 0.01f);
      std::vector<float> y(static_cast<size_t>(m * s.out));
      const auto wf = RandomWeightBytes(DType::kF32, n, rng);
      const int calls = std::max(1, static_cast<int>(2.0 / gflop));
      openblas_set_num_threads(threads);
      const Timing peer = TimePerCall(reps, calls, threads, [&] {
        for (int c = 0; c < calls; ++c) {
          cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, static_cast<int>(m),
                      static_cast<int>(s.out), static_cast<int>(s.in), 1.0f, x.data(),
                      static_cast<int>(s.in), reinterpret_cast<const float*>(wf.data()),
                      static_cast<int>(s.in), 0.0f, y.data(), static_cast<int>(s.out));
        }
      });
      openblas_set_num_threads(1);  // what CpuBackend runs with
      const Stats peer_rate = Rate(gflop, peer.wall);
      const Stats peer_cpu = Rate(gflop, peer.cpu);
      for (DType dt : dtypes) {
        const auto wb = dt == DType::kF32 ? wf : RandomWeightBytes(dt, n, rng);
        const WeightRef ref{wb.data(), dt, s.out, s.in};
        const Timing t = TimePerCall(reps, calls, threads, [&] {
          for (int c = 0; c < calls; ++c) {
            be.Linear(x.data(), m, s.in, ref, y.data(), s.out, false);
          }
        });
        const Stats r = Rate(gflop, t.wall);
        const Stats rc = Rate(gflop, t.cpu);
        std::printf(
            "| prefill | %s | %ld x %ld x %ld | %.0f ± %.0f | %.1f ± %.1f GFLOP/s | %.1f ± %.1f "
            "GFLOP/s (sgemm) | %.2f | %.1f GFLOP/s | %.1f GFLOP/s (sgemm) | %.2f |\n",
            DTypeName(dt), static_cast<long>(m), static_cast<long>(s.out), static_cast<long>(s.in),
            t.wall.mean * 1e6, t.wall.stddev * 1e6, r.mean, r.stddev, peer_rate.mean,
            peer_rate.stddev, r.mean / peer_rate.mean, rc.mean, peer_cpu.mean,
            rc.mean / peer_cpu.mean);
        std::fflush(stdout);
      }
    }
  }
  if (cases == "all" || cases == "attention") {
    RunAttention(be, pool, reps, attention_prompt, attention_context, kv_dtypes, rng);
  }
  return 0;
}

}  // namespace
}  // namespace mot::bench

int main(int argc, char** argv) { return mot::bench::Main(argc, argv); }
