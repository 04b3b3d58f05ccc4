// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/tokenizer_bench.cc
// Text tokenizer encode throughput (MB/s of input bytes), ours beside the Hugging Face
// `tokenizers` library on the same tokenizer.json and the same documents, in the same run.
// One encode call per document, one thread on both sides (the library with
// TOKENIZERS_PARALLELISM=false; its encode_batch is reported too, also on one thread).
// Texts: the test corpus (tests/data/text/corpus.jsonl + long_inputs.jsonl) and a large
// English-like text built deterministically from the corpus's ASCII words (--mb, default 8),
// cut into ~4 KB documents. Figures: mean ± stddev over --reps (default 5) timed
// repetitions after one warm-up (which fills both word caches).
//   tokenizer_bench [--reps N] [--mb N] [--python PATH] [--no-python]
//   tokenizer_bench --load_json=PATH [--python PATH] [--no-python]
// Prints one Markdown table and its footer. --load_json: the peak memory of loading one
// tokenizer.json (the process's VmHWM after the load minus its VmRSS before, so the file's
// text, the parsed document and the built tables together), the memory kept afterwards, and
// the load time, in this process (which does nothing else first) and in a fresh Python
// process running Tokenizer.from_file (ru_maxrss after minus before), as multiples of the
// file size.
// Flags: Abseil, parsed by bench/bench_flags.h (dashed names such as --no-python work; exit
// 1 for an unknown flag or an unparsable value, 2 for an out-of-range value).
#include <malloc.h>
#include <sys/utsname.h>
#include <time.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "bench/bench_flags.h"
#include "engine/tokenizer/text/text_tokenizer.h"
#include "nlohmann/json.hpp"

ABSL_FLAG(int, reps, 5, "timed repetitions after one warm-up (at least 2 are run)");
ABSL_FLAG(double, mb, 8, "size of the English-like text in MB (10^6 bytes), > 0");
ABSL_FLAG(std::string, python, MOT_PYTHON,
          "interpreter with the Hugging Face `tokenizers` library, runs bench/tokenizer_bench.py");
ABSL_FLAG(bool, no_python, false, "skip the library columns (our encoder only)");
ABSL_FLAG(std::string, load_json, "",
          "instead of encoding: load this tokenizer.json once and report the load's peak "
          "memory (and time) beside the library's, each in a fresh process");

namespace {

using mot::tokenizer::TextTokenizer;

double CpuSeconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return ts.tv_sec + ts.tv_nsec * 1e-9;
}

std::string Ratio(double a, double b) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2fx", a / b);
  return buf;
}

std::string Src(const std::string& rel) { return std::string(MOT_SOURCE_DIR) + "/" + rel; }

std::vector<std::string> ReadJsonl(const std::string& path) {
  std::vector<std::string> out;
  std::ifstream in(path, std::ios::binary);
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) out.push_back(nlohmann::json::parse(line).get<std::string>());
  }
  return out;
}

// Large English-like text from the corpus's ASCII words (LCG, fixed seed), ~4 KB documents.
std::vector<std::string> EnglishDocs(const std::vector<std::string>& corpus, size_t bytes) {
  std::vector<std::string> words;
  for (const std::string& d : corpus) {
    std::istringstream ss(d);
    std::string w;
    while (ss >> w) {
      bool ascii = true;
      for (char c : w) ascii &= static_cast<unsigned char>(c) < 0x80;
      if (ascii) words.push_back(w);
    }
  }
  uint64_t x = 2026;
  auto rnd = [&x] {
    x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x >> 33;
  };
  std::vector<std::string> docs;
  size_t total = 0;
  std::string doc;
  while (total < bytes) {
    doc += words[rnd() % words.size()];
    const uint64_t r = rnd() % 16;
    doc += r < 12 ? " " : r == 12 ? ". " : r == 13 ? ", " : r == 14 ? "\n" : "  ";
    if (doc.size() >= 4096) {
      total += doc.size();
      docs.push_back(std::move(doc));
      doc.clear();
    }
  }
  return docs;
}

struct Stats {
  double mean = 0, stddev = 0;
};

Stats MbPerSecond(const std::vector<double>& seconds, size_t bytes) {
  Stats s;
  std::vector<double> v;
  for (double t : seconds) v.push_back(bytes / 1e6 / t);
  for (double x : v) s.mean += x;
  s.mean /= v.size();
  for (double x : v) s.stddev += (x - s.mean) * (x - s.mean);
  s.stddev = v.size() > 1 ? std::sqrt(s.stddev / (v.size() - 1)) : 0;
  return s;
}

std::string Fmt(const Stats& s) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "%.2f ± %.2f", s.mean, s.stddev);
  return buf;
}

std::string RunCapture(const std::string& cmd) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (!p) return out;
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  if (pclose(p) != 0) return "";
  return out;
}

using ::mot::bench::UsageError;

}  // namespace

// /proc/self/status's `key` (VmRSS, VmHWM) in bytes; -1 when absent.
int64_t ProcStatusBytes(const std::string& key) {
  std::ifstream in("/proc/self/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(key + ":", 0) == 0) return std::stoll(line.substr(key.size() + 1)) * 1024;
  }
  return -1;
}

// --load_json: one table row per side (see the file comment).
int LoadMemory(const std::string& path, const std::string& python, bool use_python,
               const std::string& command) {
  std::ifstream f(path, std::ios::binary | std::ios::ate);
  if (!f) {
    std::cerr << path << ": cannot open\n";
    return 1;
  }
  const double file_mib = static_cast<double>(f.tellg()) / (1 << 20);
  f.close();
  const int64_t rss0 = ProcStatusBytes("VmRSS");
  const auto t0 = std::chrono::steady_clock::now();
  auto tok = TextTokenizer::FromFile(path);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  if (!tok.ok()) {
    std::cerr << tok.status() << "\n";
    return 1;
  }
  const double peak_mib = static_cast<double>(ProcStatusBytes("VmHWM") - rss0) / (1 << 20);
  const double kept_mib = static_cast<double>(ProcStatusBytes("VmRSS") - rss0) / (1 << 20);
  // What mot-server keeps: it calls malloc_trim(0) once loading is done.
  malloc_trim(0);
  const double trimmed_mib = static_cast<double>(ProcStatusBytes("VmRSS") - rss0) / (1 << 20);
  std::printf(
      "| side | file MiB | load peak MiB | peak / file | kept MiB | kept / file | kept after "
      "malloc_trim MiB | load ms |\n"
      "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::printf("| ours | %.2f | %.1f | %.1f | %.1f | %.1f | %.1f | %.0f |\n", file_mib, peak_mib,
              peak_mib / file_mib, kept_mib, kept_mib / file_mib, trimmed_mib, seconds * 1e3);
  std::string library = "not run";
  if (use_python) {
    const std::string out = RunCapture("'" + python + "' '" + Src("bench/tokenizer_bench.py") +
                                       "' --load '" + path + "'");
    if (out.empty()) {
      std::printf("| library | %.2f | (python failed) | | | | | |\n", file_mib);
    } else {
      const auto j = nlohmann::json::parse(out);
      library = j["library"].get<std::string>();
      const double lib_peak = j["peak_kib"].get<double>() / 1024;
      const double lib_kept = j["kept_kib"].get<double>() / 1024;
      std::printf("| library | %.2f | %.1f | %.1f | %.1f | %.1f | - | %.0f |\n", file_mib, lib_peak,
                  lib_peak / file_mib, lib_kept, lib_kept / file_mib,
                  j["seconds"].get<double>() * 1e3);
    }
  }
  std::printf(
      "\nPeak: the process's high-water resident memory after the load minus its resident "
      "memory before (ours: /proc/self/status VmHWM - VmRSS; library: ru_maxrss after - before "
      "in a fresh Python process, Tokenizer.from_file). Kept: resident after minus before; after "
      "malloc_trim(0), as mot-server does once loaded, freed heap goes back to the system. "
      "Library: %s.\nCommand: %s\n",
      library.c_str(), command.c_str());
  return 0;
}

int main(int argc, char** argv) {
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) command += std::string(" ") + argv[i];
  absl::SetProgramUsageMessage(
      "text tokenizer encode throughput beside Hugging Face tokenizers; prints a Markdown "
      "table.\n  tokenizer_bench [--reps N] [--mb N] [--python PATH] [--no-python]");
  mot::bench::ParseBenchFlags(argc, argv);
  int reps = absl::GetFlag(FLAGS_reps);
  const double mb = absl::GetFlag(FLAGS_mb);
  const std::string python = absl::GetFlag(FLAGS_python);
  const bool use_python = !absl::GetFlag(FLAGS_no_python);
  if (!(mb > 0) || !std::isfinite(mb)) {
    UsageError("--mb must be a positive number of MB, got " + std::to_string(mb));
  }
  if (reps < 2) reps = 2;
  if (const std::string load = absl::GetFlag(FLAGS_load_json); !load.empty()) {
    return LoadMemory(load, python, use_python, command);
  }

  std::vector<std::string> corpus = ReadJsonl(Src("tests/data/text/corpus.jsonl"));
  const std::vector<std::string> long_inputs = ReadJsonl(Src("tests/data/text/long_inputs.jsonl"));
  const std::vector<std::string> english = EnglishDocs(corpus, static_cast<size_t>(mb * 1e6));
  corpus.insert(corpus.end(), long_inputs.begin(), long_inputs.end());
  struct Text {
    std::string name;
    const std::vector<std::string>* docs;
  };
  const std::vector<Text> texts = {{"test corpus", &corpus}, {"English-like", &english}};

  std::printf(
      "| tokenizer.json | text | MB | docs | ours MB/s | library encode MB/s | ours / library "
      "| ours MB/s (CPU time) | library MB/s (CPU time) | ours / library (CPU) "
      "| library encode_batch MB/s |\n");
  std::printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  std::string library = "not run";
  for (const std::string name : {"hf_tokenizer.json", "ours_tokenizer.json"}) {
    const std::string path = Src("tests/data/text/" + name);
    auto tok = TextTokenizer::FromFile(path);
    if (!tok.ok()) {
      std::cerr << tok.status() << "\n";
      return 1;
    }
    for (const Text& text : texts) {
      size_t bytes = 0;
      for (const auto& d : *text.docs) bytes += d.size();
      std::vector<double> seconds, cpu_seconds;
      size_t tokens = 0;
      for (int r = 0; r < reps + 1; ++r) {
        const auto t0 = std::chrono::steady_clock::now();
        const double c0 = CpuSeconds();
        size_t n = 0;
        for (const auto& d : *text.docs) {
          auto ids = (*tok)->Encode(d);
          if (!ids.ok()) {
            std::cerr << ids.status() << "\n";
            return 1;
          }
          n += ids->size();
        }
        const double dt =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        const double dc = CpuSeconds() - c0;
        if (r > 0) {
          seconds.push_back(dt);
          cpu_seconds.push_back(dc);
        }
        tokens = n;
      }
      const Stats ours = MbPerSecond(seconds, bytes);
      const Stats ours_cpu = MbPerSecond(cpu_seconds, bytes);
      std::string lib_cell = "-", ratio_cell = "-", batch_cell = "-", lib_cpu_cell = "-",
                  ratio_cpu_cell = "-";
      if (use_python) {
        const std::string docs_path = "/tmp/mot_tokenizer_bench_docs.jsonl";
        {
          std::ofstream out(docs_path, std::ios::binary);
          for (const auto& d : *text.docs) out << nlohmann::json(d).dump() << "\n";
        }
        const std::string cmd = "'" + python + "' '" + Src("bench/tokenizer_bench.py") + "' '" +
                                path + "' '" + docs_path + "' 1 " + std::to_string(reps);
        const std::string out = RunCapture(cmd);
        if (out.empty()) {
          lib_cell = "(python failed)";
        } else {
          const auto j = nlohmann::json::parse(out);
          library = j["library"].get<std::string>();
          const Stats lib = MbPerSecond(j["encode"].get<std::vector<double>>(), bytes);
          const Stats lib_cpu = MbPerSecond(j["encode_cpu"].get<std::vector<double>>(), bytes);
          const Stats batch = MbPerSecond(j["encode_batch"].get<std::vector<double>>(), bytes);
          lib_cell = Fmt(lib);
          lib_cpu_cell = Fmt(lib_cpu);
          batch_cell = Fmt(batch);
          ratio_cell = Ratio(ours.mean, lib.mean);
          ratio_cpu_cell = Ratio(ours_cpu.mean, lib_cpu.mean);
          if (j["tokens"].get<size_t>() != tokens) {
            ratio_cell += " (TOKEN COUNTS DIFFER)";
          }
        }
      }
      std::printf("| %s | %s | %.2f | %zu | %s | %s | %s | %s | %s | %s | %s |\n", name.c_str(),
                  text.name.c_str(), bytes / 1e6, text.docs->size(), Fmt(ours).c_str(),
                  lib_cell.c_str(), ratio_cell.c_str(), Fmt(ours_cpu).c_str(), lib_cpu_cell.c_str(),
                  ratio_cpu_cell.c_str(), batch_cell.c_str());
      std::fflush(stdout);
    }
  }
  utsname u{};
  uname(&u);
  std::string cpu = "unknown CPU";
  {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind("model name", 0) == 0) {
        cpu = line.substr(line.find(':') + 2);
        break;
      }
    }
  }
  std::string load;
  {
    std::ifstream in("/proc/loadavg");
    std::getline(in, load);
  }
  std::printf(
      "\nmean ± stddev over %d timed repetitions after 1 warm-up; one thread; MB = 10^6 "
      "input bytes; MB/s from wall-clock time unless marked CPU time (process CPU time, less "
      "sensitive to other load on the machine); encode_batch is wall clock, one thread. Library: "
      "%s (MOT_PYTHON=%s).\nMachine: %s, %u hardware threads, %s %s. "
      "Load average at end: %s.\nCommand: %s\n",
      reps, library.c_str(), python.c_str(), cpu.c_str(), std::thread::hardware_concurrency(),
      u.sysname, u.release, load.c_str(), command.c_str());
  return 0;
}
