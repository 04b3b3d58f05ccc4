// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: bench/quant_eval.cc
// quant_eval: what Q8_0 / Q4_0 GEMM weights cost in accuracy on a trained checkpoint, on
// tokens it was trained on (a mot-train shard set: trainer/shard_format.h). The checkpoint
// is converted in memory as mot-quantize does (model_loaders/quantize.h) to GEMM weights in
// BF16 (the reference), Q8_0 and Q4_0 (and kept as it is, "as stored"); every example is
// decoded token by token on each (the decode path: one row per step, the integer kernels
// for Q8_0/Q4_0), and at every position whose next token is a training target it scores
// the next-token distribution. Prints one Markdown table: per weight dtype the perplexity
// of the targets, KL(p_bf16 || p) mean and max, and top-1 agreement with bf16.
//   quant_eval --checkpoint DIR --shards DIR [--max_examples=200] [--threads=0]
// Exit status: 0 done, 1 an error (the message names the file), 2 a bad flag.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/flags/flag.h"
#include "absl/flags/usage.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "bench/bench_flags.h"
#include "bench/machine_info.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/core/status_macros.h"
#include "engine/core/thread_pool.h"
#include "engine/kv/contiguous_kv_cache.h"
#include "engine/model/mot_model.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/quantize.h"

ABSL_FLAG(std::string, checkpoint, "", "trained native checkpoint directory");
ABSL_FLAG(std::string, shards, "", "mot-train shard directory (shards.json + shard-*.bin)");
ABSL_FLAG(int, max_examples, 200, "examples scored (the first ones of the shard), >= 1");
ABSL_FLAG(int, threads, 0, "threads (the caller included); 0: one per core");

namespace mot::bench {
namespace {

// The examples of one shard file (shard_format.h), copied out of the file.
struct Example {
  std::vector<int32_t> ids;
  std::vector<uint8_t> towers;
  std::vector<uint8_t> loss;
};

absl::StatusOr<std::vector<Example>> ReadShard(const std::string& path, int max_examples) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::NotFoundError(absl::StrCat(path, ": cannot open"));
  struct stat st;
  ::fstat(fd, &st);
  const size_t size = static_cast<size_t>(st.st_size);
  std::vector<uint8_t> bytes(size);
  const bool read_ok = ::pread(fd, bytes.data(), size, 0) == static_cast<ssize_t>(size);
  ::close(fd);
  if (!read_ok || size < 64 || std::memcmp(bytes.data(), "MOTSHRD1", 8) != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a MOTSHRD1 shard"));
  }
  uint64_t m = 0, n = 0;
  std::memcpy(&m, bytes.data() + 16, 8);
  std::memcpy(&n, bytes.data() + 24, 8);
  if (size != 64 + 8 * (m + 1) + 6 * n) {
    return absl::InvalidArgumentError(
        absl::StrCat(path, ": size ", size, " does not match ", m, " examples and ", n, " tokens"));
  }
  const auto* offsets = reinterpret_cast<const int64_t*>(bytes.data() + 64);
  const auto* ids = reinterpret_cast<const int32_t*>(bytes.data() + 64 + 8 * (m + 1));
  const uint8_t* towers = bytes.data() + 64 + 8 * (m + 1) + 4 * n;
  const uint8_t* loss = towers + n;
  std::vector<Example> out;
  for (uint64_t i = 0; i < m && static_cast<int>(out.size()) < max_examples; ++i) {
    const int64_t b = offsets[i], e = offsets[i + 1];
    if (b < 0 || e < b || static_cast<uint64_t>(e) > n) {
      return absl::InvalidArgumentError(absl::StrCat(path, ": bad offsets of example ", i));
    }
    out.push_back({{ids + b, ids + e}, {towers + b, towers + e}, {loss + b, loss + e}});
  }
  return out;
}

void LogSoftmax(const std::vector<float>& logits, std::vector<double>& out) {
  double mx = -INFINITY;
  for (float l : logits) mx = std::max(mx, static_cast<double>(l));
  double sum = 0;
  for (float l : logits) sum += std::exp(l - mx);
  const double lse = mx + std::log(sum);
  out.resize(logits.size());
  for (size_t i = 0; i < logits.size(); ++i) out[i] = logits[i] - lse;
}

struct Variant {
  std::string name;
  std::unique_ptr<Checkpoint> ckpt;
  std::unique_ptr<model::MotModel> model;
  std::unique_ptr<kv::ContiguousKvCache> cache;
  std::vector<float> logits;
  std::vector<double> logp;
  double nll = 0, kl_sum = 0, kl_max = 0;
  int64_t top1 = 0;
  int64_t weight_bytes = 0;
};

int Run(const std::string& command) {
  const std::string ckpt_dir = absl::GetFlag(FLAGS_checkpoint);
  const std::string shard_dir = absl::GetFlag(FLAGS_shards);
  const int max_examples = absl::GetFlag(FLAGS_max_examples);
  auto source = Checkpoint::Open(ckpt_dir);
  if (!source.ok()) {
    std::cerr << "quant_eval: --checkpoint: " << source.status().message() << "\n";
    return 1;
  }
  const MotConfig& config = source->config();
  std::vector<NamedTensor> tensors;
  for (const SafetensorsEntry& e : source->weights().entries()) {
    tensors.push_back({e.name, *source->weights().Get(e.name)});
  }
  std::string stored_dtype = "?";
  for (const NamedTensor& t : tensors) {
    if (IsGemmWeight(config, t.name)) stored_dtype = DTypeName(t.tensor.dtype());
  }
  auto examples = ReadShard(shard_dir + "/shard-00000.bin", max_examples);
  if (!examples.ok()) {
    std::cerr << "quant_eval: --shards: " << examples.status().message() << "\n";
    return 1;
  }

  ThreadPool pool(absl::GetFlag(FLAGS_threads));
  backend::cpu::CpuBackend backend(&pool);
  char tmpl[] = "/tmp/mot_quant_eval_XXXXXX";
  if (mkdtemp(tmpl) == nullptr) return 1;
  std::vector<Variant> variants;
  const std::pair<const char*, std::optional<DType>> kinds[] = {{"bf16", DType::kBF16},
                                                                {"as stored", std::nullopt},
                                                                {"q8_0", DType::kQ8_0},
                                                                {"q4_0", DType::kQ4_0}};
  for (const auto& [name, dtype] : kinds) {
    Variant v;
    v.name = name;
    absl::Status s = [&]() -> absl::Status {
      std::vector<NamedTensor> converted = tensors;
      if (dtype.has_value()) {
        MOT_ASSIGN_OR_RETURN(converted, ConvertGemmWeights(config, tensors, *dtype));
      }
      for (const NamedTensor& t : converted) {
        if (IsGemmWeight(config, t.name)) v.weight_bytes += t.tensor.nbytes();
      }
      const std::string dir = absl::StrCat(tmpl, "/", variants.size());
      MOT_RETURN_IF_ERROR(WriteCheckpoint(dir, config, converted));
      CheckpointOpenOptions options;
      options.verify_sha256 = false;
      MOT_ASSIGN_OR_RETURN(Checkpoint c, Checkpoint::Open(dir, options));
      v.ckpt = std::make_unique<Checkpoint>(std::move(c));
      MOT_ASSIGN_OR_RETURN(v.model, model::MotModel::Create(v.ckpt.get(), &backend));
      MOT_ASSIGN_OR_RETURN(
          v.cache, kv::ContiguousKvCache::Create(kv::ContiguousKvCacheConfig::FromModelConfig(
                       config, 1, config.max_seq_len, DType::kF32)));
      return absl::OkStatus();
    }();
    if (!s.ok()) {
      std::cerr << "quant_eval: " << name << ": " << s.message() << "\n";
      return 1;
    }
    v.logits.resize(static_cast<size_t>(config.vocab_size));
    variants.push_back(std::move(v));
  }

  const std::string load_start = LoadAvg();
  int64_t targets = 0, tokens = 0;
  for (const Example& ex : *examples) {
    for (Variant& v : variants) v.cache->ResetAll();
    const int64_t len = std::min<int64_t>(static_cast<int64_t>(ex.ids.size()), config.max_seq_len);
    for (int64_t j = 0; j + 1 < len; ++j) {
      model::StepBatch step;
      step.rows.push_back({ex.ids[j], ex.towers[j], 0, static_cast<int32_t>(j), true});
      for (Variant& v : variants) {
        if (absl::Status s = v.model->Forward(step, v.cache.get(), v.logits.data()); !s.ok()) {
          std::cerr << "quant_eval: " << v.name << ": " << s.message() << "\n";
          return 1;
        }
      }
      ++tokens;
      if (ex.loss[j + 1] == 0) continue;
      ++targets;
      const int32_t target = ex.ids[j + 1];
      for (Variant& v : variants) LogSoftmax(v.logits, v.logp);
      const std::vector<double>& ref = variants[0].logp;
      const size_t ref_top = std::max_element(ref.begin(), ref.end()) - ref.begin();
      for (Variant& v : variants) {
        v.nll -= v.logp[static_cast<size_t>(target)];
        double kl = 0;
        for (size_t i = 0; i < ref.size(); ++i) kl += std::exp(ref[i]) * (ref[i] - v.logp[i]);
        v.kl_sum += kl;
        v.kl_max = std::max(v.kl_max, kl);
        v.top1 += static_cast<size_t>(std::max_element(v.logp.begin(), v.logp.end()) -
                                      v.logp.begin()) == ref_top;
      }
    }
  }
  std::error_code ec;
  std::filesystem::remove_all(tmpl, ec);

  std::printf(
      "| GEMM weights | GEMM MB | perplexity | mean NLL | KL(p_bf16 ‖ p) mean | KL max | "
      "top-1 = bf16 |\n| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
  for (const Variant& v : variants) {
    const std::string name =
        v.name == "as stored" ? absl::StrCat("as stored (", stored_dtype, ")") : v.name;
    std::printf("| %s | %.2f | %.4f | %.5f | %.3g | %.3g | %.2f%% |\n", name.c_str(),
                v.weight_bytes / 1e6, std::exp(v.nll / targets), v.nll / targets,
                v.kl_sum / targets, v.kl_max, 100.0 * v.top1 / targets);
  }
  std::time_t now = std::time(nullptr);
  char date[64];
  std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
  std::printf(
      "\n%zu examples, %lld decode steps, %lld scored targets (the shard's loss mask); each "
      "token decoded one at a time. Backend %s, threads %d. %s, load average %s (start) / %s "
      "(end).\nCommand: `%s`\n",
      examples->size(), static_cast<long long>(tokens), static_cast<long long>(targets),
      std::string(backend.name()).c_str(), pool.num_threads(), date, load_start.c_str(),
      LoadAvg().c_str(), command.c_str());
  return 0;
}

}  // namespace
}  // namespace mot::bench

int main(int argc, char** argv) {
  std::string command = argv[0];
  for (int i = 1; i < argc; ++i) absl::StrAppend(&command, " ", argv[i]);
  absl::SetProgramUsageMessage(
      "accuracy of Q8_0/Q4_0 GEMM weights against bf16 on a trained checkpoint's shards.\n"
      "usage: quant_eval --checkpoint DIR --shards DIR [--max_examples=N] [--threads=N]");
  mot::bench::ParseBenchFlags(argc, argv);
  if (absl::GetFlag(FLAGS_checkpoint).empty()) mot::bench::UsageError("--checkpoint is required");
  if (absl::GetFlag(FLAGS_shards).empty()) mot::bench::UsageError("--shards is required");
  if (absl::GetFlag(FLAGS_max_examples) < 1) {
    mot::bench::UsageError("--max_examples must be >= 1");
  }
  if (absl::GetFlag(FLAGS_threads) < 0) mot::bench::UsageError("--threads must be >= 0");
  return mot::bench::Run(command);
}
