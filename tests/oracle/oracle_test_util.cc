// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "tests/oracle/oracle_test_util.h"

#include <stdlib.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "engine/model/random_weights.h"
#include "gtest/gtest.h"

namespace mot::testing {
namespace {

uint64_t Next(uint64_t& s) {
  s = s * 6364136223846793005ULL + 1442695040888963407ULL;
  return s >> 33;
}

}  // namespace

MotConfig MakeConfig(const ModelCase& c) {
  MotConfig cfg;
  cfg.head_dim = 16;
  cfg.n_heads = c.n_heads;
  cfg.n_kv_heads = c.n_kv_heads;
  cfg.dim = 64;
  cfg.n_layers = 2;
  cfg.ffn_hidden = 96;
  cfg.norm_eps = 1e-5f;
  cfg.rope_theta = 10000.0f;
  cfg.max_seq_len = 64;
  cfg.norm_placement = c.placement;
  cfg.norm_type = c.norm;
  cfg.qk_norm = c.qk_norm;
  cfg.tie_embeddings = c.tied;
  cfg.attention_bias = c.attention_bias;
  cfg.rope_scaling = c.rope_scaling;
  cfg.sliding_window = c.sliding_window;
  cfg.qk_norm_spec = c.qk_norm_spec;
  cfg.suppressed_token_ids = c.suppressed_token_ids;
  cfg.vocab_size = 96;
  static const char* kNames[] = {"text", "image", "audio"};
  for (int m = 0; m < c.towers; ++m) cfg.modalities.push_back(kNames[m]);
  cfg.vocab_ranges.push_back({"special", 0, 8, 0});
  if (c.towers == 1) {
    cfg.vocab_ranges.push_back({"text", 8, 96, 0});
  } else if (c.towers == 2) {
    cfg.vocab_ranges.push_back({"text", 8, 48, 0});
    cfg.vocab_ranges.push_back({"image", 48, 96, 1});
  } else {
    cfg.vocab_ranges.push_back({"text", 8, 40, 0});
    cfg.vocab_ranges.push_back({"image", 40, 72, 1});
    cfg.vocab_ranges.push_back({"audio", 72, 96, 2});
  }
  return cfg;
}

std::string MakeTempDir(const std::string& tag) {
  std::string base = ::testing::TempDir();
  if (base.empty() || base.back() != '/') base += '/';
  std::string tmpl = base + "mot_" + tag + "_XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) return "";
  return tmpl;
}

SequenceInput MakeSequence(const MotConfig& config, int rows, bool interleaved, uint64_t seed) {
  SequenceInput in;
  uint64_t s = seed * 977 + 13;
  const int towers = config.num_towers();
  for (int i = 0; i < rows; ++i) {
    const int tower =
        interleaved ? static_cast<int>(Next(s) % towers) : std::min(towers - 1, i * towers / rows);
    // A token of a non-special range of that tower (special ids 0..7 belong to tower 0).
    const VocabRange* range = nullptr;
    for (const VocabRange& r : config.vocab_ranges) {
      if (r.tower == tower && r.name != "special") range = &r;
    }
    int32_t token = range->begin + static_cast<int32_t>(Next(s) % (range->end - range->begin));
    if (tower == 0 && Next(s) % 8 == 0) token = static_cast<int32_t>(Next(s) % 8);
    in.tokens.push_back(token);
    in.towers.push_back(tower);
  }
  return in;
}

absl::StatusOr<std::unique_ptr<OracleModel>> OracleModel::Create(const ModelCase& c,
                                                                 std::vector<NamedTensor> tensors,
                                                                 bool identical_towers) {
  std::unique_ptr<OracleModel> m(new OracleModel());
  m->config_ = MakeConfig(c);
  if (tensors.empty()) {
    tensors = model::RandomMotWeights(m->config_, c.dtype, c.seed, identical_towers);
  }
  m->tensors_ = std::move(tensors);
  const std::string parent = MakeTempDir(c.name);
  if (parent.empty()) return absl::InternalError("mkdtemp failed");
  m->dir_ = parent + "/ckpt";
  MOT_RETURN_IF_ERROR(WriteCheckpoint(m->dir_, m->config_, m->tensors_));
  MOT_ASSIGN_OR_RETURN(Checkpoint ckpt, Checkpoint::Open(m->dir_));
  m->checkpoint_ = std::make_unique<Checkpoint>(std::move(ckpt));
  m->pool_ = std::make_unique<ThreadPool>(2);
  m->backend_ = std::make_unique<backend::cpu::CpuBackend>(m->pool_.get());
  // f32 activations everywhere: the oracle and consistency tolerances are those of f32
  // math; the bf16 GEMMs' bf16 activations have their own test (...WithBf16Gemm...).
  m->backend_->set_bf16_gemm(backend::cpu::CpuBackend::Bf16Gemm::kF32);
  model::MotModelOptions options;
  options.fuse_projections = c.fuse;
  MOT_ASSIGN_OR_RETURN(m->model_,
                       model::MotModel::Create(m->checkpoint_.get(), m->backend_.get(), options));
  return m;
}

OracleModel::~OracleModel() {
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(std::filesystem::path(dir_).parent_path(), ec);
  }
}

std::unique_ptr<kv::ContiguousKvCache> OracleModel::NewCache(int seqs, DType dtype) const {
  auto cache = kv::ContiguousKvCache::Create(
      kv::ContiguousKvCacheConfig::FromModelConfig(config_, seqs, config_.max_seq_len, dtype));
  return cache.ok() ? std::move(cache).value() : nullptr;
}

absl::StatusOr<std::vector<float>> OracleModel::Prefill(const SequenceInput& in) {
  model::StepBatch batch;
  const std::vector<uint8_t> towers(in.towers.begin(), in.towers.end());
  batch.AddSequence(in.tokens, towers, 0, 0, /*all_logits=*/true);
  auto cache = NewCache(1);
  return model_->Forward(batch, cache.get());
}

bool PythonAvailable() { return access(MOT_PYTHON, X_OK) == 0; }

absl::StatusOr<std::vector<float>> RunPythonOracle(const std::string& dir,
                                                   const SequenceInput& in) {
  if (!PythonAvailable()) {
    return absl::UnavailableError(absl::StrCat("MOT_PYTHON=", MOT_PYTHON, " is missing"));
  }
  const std::string inputs = dir + "/../inputs.json";
  const std::string output = dir + "/../logits.bin";
  {
    std::ofstream f(inputs);
    auto list = [&](const std::vector<int32_t>& v) {
      std::string s = "[";
      for (size_t i = 0; i < v.size(); ++i) absl::StrAppend(&s, i ? "," : "", v[i]);
      return s + "]";
    };
    f << "{\"tokens\": " << list(in.tokens) << ", \"modality\": " << list(in.towers) << "}\n";
  }
  const std::string cmd =
      absl::StrCat(MOT_PYTHON, " ", MOT_SOURCE_DIR, "/tests/oracle/mot_reference.py --checkpoint '",
                   dir, "' --inputs '", inputs, "' --output '", output, "'");
  const int rc = std::system(cmd.c_str());
  if (rc != 0) return absl::InternalError(absl::StrCat("oracle failed (", rc, "): ", cmd));
  std::ifstream f(output, std::ios::binary);
  std::vector<float> logits;
  float v;
  while (f.read(reinterpret_cast<char*>(&v), sizeof v)) logits.push_back(v);
  return logits;
}

Diff Compare(const std::vector<float>& got, const std::vector<float>& ref, double atol,
             double rtol) {
  Diff d;
  if (got.size() != ref.size()) {
    d.within = false;
    d.max_abs = INFINITY;
    return d;
  }
  for (size_t i = 0; i < got.size(); ++i) {
    const double diff = std::fabs(static_cast<double>(got[i]) - ref[i]);
    d.max_ref = std::max(d.max_ref, std::fabs(static_cast<double>(ref[i])));
    if (!(diff <= atol + rtol * std::fabs(static_cast<double>(ref[i])))) d.within = false;
    if (!(diff <= d.max_abs)) {
      d.max_abs = diff;
      d.worst = static_cast<int64_t>(i);
    }
  }
  return d;
}

}  // namespace mot::testing
