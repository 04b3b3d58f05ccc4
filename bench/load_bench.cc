// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/load_bench.cc
// load_bench: many concurrent Generate streams against a running mot-server over loopback,
// for a fixed time per concurrency level (issue 14, item 8). Every stream is a text request
// that generates exactly --new_tokens tokens (<eos> suppressed by logit_bias; the prompt is
// made distinct per request so the prefix cache does not serve it). Per level it reports
// completed requests, generated tokens per second, time to first token (first text delta
// after the call starts) and inter-token latency (between consecutive text deltas)
// percentiles, and errors. Its peer, in the same run and interleaved level by level: the
// same workload through an in-process Engine on the same checkpoint, CPU backend and thread
// count (--checkpoint, --threads; run while the server is idle), so the table shows what
// the gRPC path costs. The server's resident memory (VmRSS of --server_pid) is read before
// the first level and after the last, and after an idle second, to show it does not grow.
//
//   build/bench/load_bench --server=127.0.0.1:50051 --server_pid=PID --checkpoint=DIR
//       [--concurrency=1,8,32,64] [--seconds=10] [--new_tokens=32] [--threads=0]
//   bench/load_bench.sh   starts mot-server on the default model and runs the above
// Exit status: 0 done; 1 the server cannot be reached or a level failed; 2 bad flags.
#include <grpcpp/grpcpp.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "bench/bench_flags.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/core/thread_pool.h"
#include "engine/engine.h"
#include "model_loaders/checkpoint.h"
#include "mot/v1/mot.grpc.pb.h"

ABSL_FLAG(std::string, server, "127.0.0.1:50051", "mot-server address");
ABSL_FLAG(int64_t, server_pid, 0, "mot-server's pid, for its resident memory (0: not read)");
ABSL_FLAG(std::string, checkpoint, "",
          "The server's checkpoint, for the in-process peer ('': no peer)");
ABSL_FLAG(std::string, concurrency, "1,8,32,64", "Concurrent streams per level");
ABSL_FLAG(double, seconds, 10, "Seconds per level (each side)");
ABSL_FLAG(int32_t, new_tokens, 32, "Tokens each request generates");
ABSL_FLAG(int32_t, threads, 0,
          "In-process peer: compute threads (0: one per core), as the server's --threads");
ABSL_FLAG(std::string, text, "the circle is red and large, in the center, on a blue background.",
          "Prompt text (a request number is prefixed)");

namespace mot::bench {
namespace {

using Clock = std::chrono::steady_clock;

double Ms(Clock::duration d) { return std::chrono::duration<double, std::milli>(d).count(); }

// What one side (served or in-process) saw at one level.
struct Sample {
  std::mutex mu;
  std::vector<double> ttft_ms, itl_ms;
  int64_t requests = 0, tokens = 0, errors = 0;
  std::string first_error;
  void Add(double ttft, const std::vector<double>& itl, int64_t toks) {
    std::lock_guard<std::mutex> lock(mu);
    ttft_ms.push_back(ttft);
    itl_ms.insert(itl_ms.end(), itl.begin(), itl.end());
    ++requests;
    tokens += toks;
  }
  void Fail(const std::string& why) {
    std::lock_guard<std::mutex> lock(mu);
    if (errors++ == 0) first_error = why;
  }
};

// The arrival times of one stream's text deltas: time to the first, gaps between the rest.
struct DeltaTimes {
  explicit DeltaTimes(Clock::time_point start) : start(start) {}
  void OnText() {
    const Clock::time_point now = Clock::now();
    if (ttft < 0) {
      ttft = Ms(now - start);
    } else {
      itl.push_back(Ms(now - last));
    }
    last = now;
  }
  Clock::time_point start, last{};
  double ttft = -1;  // < 0: no text came back
  std::vector<double> itl;
};

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  const auto i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int64_t RssKiB(int64_t pid) {
  if (pid <= 0) return -1;
  std::ifstream in(absl::StrCat("/proc/", pid, "/status"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      int64_t kib = -1;
      std::vector<std::string> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
      if (f.size() >= 2 && absl::SimpleAtoi(f[1], &kib)) return kib;
    }
  }
  return -1;
}

// Streams requests on `concurrency` threads until `until`; one request in flight per thread.
void RunServed(v1::MotService::Stub& stub, int concurrency, Clock::time_point until,
               int32_t new_tokens, int32_t eos, const std::string& text, Sample* out) {
  std::atomic<int64_t> counter{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      while (Clock::now() < until) {
        v1::GenerateRequest req;
        req.add_parts()->set_text(absl::StrCat("request ", counter.fetch_add(1), ": ", text));
        req.add_output_modalities(v1::MODALITY_TEXT);
        req.mutable_sampling()->set_temperature(0);
        (*req.mutable_sampling()->mutable_logit_bias())[eos] = -1e9f;
        req.mutable_limits()->set_max_new_tokens(new_tokens);
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
        DeltaTimes times(Clock::now());
        std::unique_ptr<grpc::ClientReader<v1::GenerateResponse>> reader = stub.Generate(&ctx, req);
        v1::GenerateResponse resp;
        int64_t tokens = 0;
        while (reader->Read(&resp)) {
          if (resp.has_text()) times.OnText();
          if (resp.has_usage()) {
            tokens = resp.usage().text().generated_tokens() +
                     resp.usage().image().generated_tokens() +
                     resp.usage().audio().generated_tokens();
          }
        }
        const grpc::Status s = reader->Finish();
        if (!s.ok() || times.ttft < 0) {
          out->Fail(s.ok() ? "no text came back" : s.error_message());
        } else {
          out->Add(times.ttft, times.itl, tokens);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

// The same workload through an in-process Engine.
void RunInProcess(engine::Engine& eng, int concurrency, Clock::time_point until, int32_t new_tokens,
                  int32_t eos, const std::string& text, Sample* out) {
  std::atomic<int64_t> counter{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < concurrency; ++t) {
    threads.emplace_back([&] {
      while (Clock::now() < until) {
        engine::GenerateRequest req;
        const int64_t n = counter.fetch_add(1);
        req.request_id = absl::StrCat("load-", n);
        const std::vector<tokenizer::Part> parts = {
            {tokenizer::Modality::kText, absl::StrCat("request ", n, ": ", text)}};
        absl::StatusOr<tokenizer::Prompt> prompt = eng.prompt_builder().Build(parts);
        if (!prompt.ok()) {
          out->Fail(std::string(prompt.status().message()));
          return;
        }
        req.prompt = *std::move(prompt);
        req.sampling.temperature = 0;
        req.sampling.logit_bias = {{eos, -1e9f}};
        req.sampling.max_new_tokens = new_tokens;
        DeltaTimes times(Clock::now());
        absl::StatusOr<std::unique_ptr<engine::RequestHandle>> h = eng.Submit(std::move(req));
        if (!h.ok()) {
          out->Fail(std::string(h.status().message()));
          continue;
        }
        int64_t tokens = 0;
        bool error = false;
        while (std::optional<engine::Event> ev = (*h)->Next()) {
          if (ev->kind == engine::EventKind::kTextDelta) times.OnText();
          if (ev->kind == engine::EventKind::kUsage) {
            for (const engine::ModalityUsage& u : ev->usage) tokens += u.generated_tokens;
          }
          if (ev->kind == engine::EventKind::kFinished) {
            error = ev->reason == engine::FinishReason::kError;
          }
        }
        if (error || times.ttft < 0) {
          out->Fail("in-process request failed");
        } else {
          out->Add(times.ttft, times.itl, tokens);
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
}

int Main() {
  std::vector<int> levels;
  for (absl::string_view s : absl::StrSplit(absl::GetFlag(FLAGS_concurrency), ',')) {
    int v = 0;
    if (!absl::SimpleAtoi(s, &v) || v < 1 || v > 4096) {
      UsageError(absl::StrCat("--concurrency: \"", s, "\" is not a count in [1, 4096]"));
    }
    levels.push_back(v);
  }
  const double seconds = absl::GetFlag(FLAGS_seconds);
  const int32_t new_tokens = absl::GetFlag(FLAGS_new_tokens);
  if (!(seconds > 0) || new_tokens < 2) UsageError("--seconds must be > 0 and --new_tokens >= 2");
  const std::string text = absl::GetFlag(FLAGS_text);

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  std::shared_ptr<grpc::Channel> channel = grpc::CreateCustomChannel(
      absl::GetFlag(FLAGS_server), grpc::InsecureChannelCredentials(), args);
  std::unique_ptr<v1::MotService::Stub> stub = v1::MotService::NewStub(channel);
  v1::ModelInfo info;
  {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    const grpc::Status s = stub->GetModelInfo(&ctx, v1::GetModelInfoRequest(), &info);
    if (!s.ok()) {
      std::fprintf(stderr, "load_bench: cannot reach mot-server at %s: %s\n",
                   absl::GetFlag(FLAGS_server).c_str(), s.error_message().c_str());
      return 1;
    }
  }
  int32_t eos = -1;
  for (int i = 0; i < info.special_tokens_size(); ++i) {
    if (info.special_tokens(i) == "<eos>") eos = i;
  }
  if (eos < 0) {
    std::fprintf(stderr, "load_bench: the model has no <eos> special token\n");
    return 1;
  }

  // The in-process peer: loaded once, idle while the server is measured.
  std::unique_ptr<ThreadPool> pool;
  std::unique_ptr<Checkpoint> ckpt;
  std::unique_ptr<backend::cpu::CpuBackend> backend;
  std::unique_ptr<engine::Engine> eng;
  if (!absl::GetFlag(FLAGS_checkpoint).empty()) {
    absl::StatusOr<Checkpoint> c = Checkpoint::Open(absl::GetFlag(FLAGS_checkpoint));
    if (!c.ok()) {
      std::fprintf(stderr, "load_bench: %s\n", std::string(c.status().message()).c_str());
      return 1;
    }
    ckpt = std::make_unique<Checkpoint>(*std::move(c));
    pool = std::make_unique<ThreadPool>(absl::GetFlag(FLAGS_threads));
    backend = std::make_unique<backend::cpu::CpuBackend>(pool.get());
    engine::EngineOptions eo;  // the server's defaults (server/main.cc)
    absl::StatusOr<std::unique_ptr<engine::Engine>> e =
        engine::Engine::Create(eo, ckpt.get(), backend.get());
    if (!e.ok()) {
      std::fprintf(stderr, "load_bench: %s\n", std::string(e.status().message()).c_str());
      return 1;
    }
    eng = *std::move(e);
  }

  const int64_t pid = absl::GetFlag(FLAGS_server_pid);
  const int64_t rss_before = RssKiB(pid);
  std::printf(
      "| streams | side | requests | tok/s | served / in-process | TTFT p50 ms | TTFT p99 ms "
      "| ITL p50 ms | ITL p99 ms | errors | server RSS MiB |\n");
  std::printf("| ---: | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  int failures = 0;
  const auto span =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (int n : levels) {
    Sample served, local;
    Clock::time_point t0 = Clock::now();
    RunServed(*stub, n, t0 + span, new_tokens, eos, text, &served);
    const double served_s = std::chrono::duration<double>(Clock::now() - t0).count();
    const int64_t level_rss = RssKiB(pid);  // the server's memory right after its side
    double local_s = 0;
    if (eng != nullptr) {
      t0 = Clock::now();
      RunInProcess(*eng, n, t0 + span, new_tokens, eos, text, &local);
      local_s = std::chrono::duration<double>(Clock::now() - t0).count();
    }
    const double served_rate = static_cast<double>(served.tokens) / served_s;
    const double local_rate = local_s > 0 ? static_cast<double>(local.tokens) / local_s : 0;
    auto row = [&](const char* side, Sample& s, double rate, const std::string& ratio,
                   const std::string& rss) {
      std::printf("| %d | %s | %lld | %.1f | %s | %.1f | %.1f | %.2f | %.2f | %lld | %s |\n", n,
                  side, static_cast<long long>(s.requests), rate, ratio.c_str(),
                  Percentile(s.ttft_ms, 0.5), Percentile(s.ttft_ms, 0.99),
                  Percentile(s.itl_ms, 0.5), Percentile(s.itl_ms, 0.99),
                  static_cast<long long>(s.errors), rss.c_str());
      if (s.errors > 0)
        std::fprintf(stderr, "load_bench: %s, %d streams: %s\n", side, n, s.first_error.c_str());
    };
    row("served (gRPC)", served, served_rate,
        local_rate > 0 ? absl::StrFormat("%.2f", served_rate / local_rate) : std::string("-"),
        level_rss >= 0 ? absl::StrFormat("%.1f", level_rss / 1024.0) : std::string("-"));
    if (eng != nullptr) row("in-process", local, local_rate, "1", "-");
    std::fflush(stdout);
    failures += served.errors > 0 || served.requests == 0;
  }
  std::this_thread::sleep_for(std::chrono::seconds(1));
  const int64_t rss_after = RssKiB(pid);
  if (pid > 0) {
    std::printf(
        "\nmot-server VmRSS: %.1f MiB before the first level, %.1f MiB after the last (idle 1 s)\n",
        rss_before / 1024.0, rss_after / 1024.0);
  }
  std::printf("%d tokens per request, %.0f s per level and side, server %s, <eos> suppressed\n",
              new_tokens, seconds, absl::GetFlag(FLAGS_server).c_str());
  return failures > 0 ? 1 : 0;
}

}  // namespace
}  // namespace mot::bench

int main(int argc, char** argv) {
  absl::SetProgramUsageMessage(
      "Concurrent Generate streams against mot-server beside an in-process engine.\n"
      "  load_bench --server=127.0.0.1:50051 --server_pid=PID --checkpoint=DIR");
  mot::bench::ParseBenchFlags(argc, argv);
  return mot::bench::Main();
}
