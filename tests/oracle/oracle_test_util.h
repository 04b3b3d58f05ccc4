// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: tests/oracle/oracle_test_util.h
// Small MoT configs, random checkpoints and a loaded CPU model for the oracle and
// consistency tests: a case names its towers, layout, norm, heads, q/k norm, tied head,
// weight dtype and seed; OracleModel writes the checkpoint to a temporary directory and
// loads it on the scalar-or-better CPU backend (bf16 GEMMs off: f32 activations).
// Thread rule: test code, one thread.
#ifndef MOT_TESTS_ORACLE_ORACLE_TEST_UTIL_H_
#define MOT_TESTS_ORACLE_ORACLE_TEST_UTIL_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "engine/backend/cpu/cpu_backend.h"
#include "engine/core/thread_pool.h"
#include "engine/kv/contiguous_kv_cache.h"
#include "engine/model/mot_model.h"
#include "engine/model/step_batch.h"
#include "model_loaders/checkpoint.h"

namespace mot::testing {

struct ModelCase {
  std::string name;
  int towers = 1;
  NormPlacement placement = NormPlacement::kPre;
  NormType norm = NormType::kRms;
  int n_heads = 4;
  int n_kv_heads = 2;
  bool qk_norm = false;
  bool tied = false;
  DType dtype = DType::kF32;
  uint64_t seed = 1;
  bool fuse = true;  // MotModelOptions::fuse_projections
  // The config extensions of imported checkpoints (model_config.h).
  bool attention_bias = false;
  RopeScaling rope_scaling = {};
  int32_t sliding_window = 0;
  // config.json "qk_norm" as an object (Chameleon's per-head q/k norm); needs qk_norm.
  std::optional<QkNormSpec> qk_norm_spec = std::nullopt;
  std::vector<TokenIdRange> suppressed_token_ids = {};
};

MotConfig MakeConfig(const ModelCase& c);

// A unique new directory under the test temp dir.
std::string MakeTempDir(const std::string& tag);

// Rows of one sequence: tokens drawn from each row's tower's vocab range.
struct SequenceInput {
  std::vector<int32_t> tokens;
  std::vector<int32_t> towers;
};
// `interleaved`: a random tower per row; else `rows / towers`-long blocks of one tower.
SequenceInput MakeSequence(const MotConfig& config, int rows, bool interleaved, uint64_t seed);

class OracleModel {
 public:
  // Writes `tensors` (RandomMotWeights of the case when empty) as a checkpoint and loads it.
  static absl::StatusOr<std::unique_ptr<OracleModel>> Create(const ModelCase& c,
                                                             std::vector<NamedTensor> tensors = {},
                                                             bool identical_towers = false);
  ~OracleModel();

  const MotConfig& config() const { return config_; }
  const std::string& dir() const { return dir_; }
  const std::vector<NamedTensor>& tensors() const { return tensors_; }
  model::MotModel& model() { return *model_; }
  backend::cpu::CpuBackend& backend() { return *backend_; }
  const Checkpoint& checkpoint() const { return *checkpoint_; }

  // A fresh cache with `seqs` slots of config.max_seq_len, storing K/V in `dtype`.
  std::unique_ptr<kv::ContiguousKvCache> NewCache(int seqs = 1, DType dtype = DType::kF32) const;
  // Prefill of the whole sequence in one step (slot 0 of a fresh cache), logits of all rows.
  absl::StatusOr<std::vector<float>> Prefill(const SequenceInput& in);

 private:
  OracleModel() = default;
  MotConfig config_;
  std::string dir_;
  std::vector<NamedTensor> tensors_;
  std::unique_ptr<Checkpoint> checkpoint_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<backend::cpu::CpuBackend> backend_;
  std::unique_ptr<model::MotModel> model_;
};

// Runs tests/oracle/mot_reference.py (MOT_PYTHON) on `dir` for one sequence at positions
// 0..n-1; returns [n, vocab] logits. Unavailable when the interpreter is missing.
absl::StatusOr<std::vector<float>> RunPythonOracle(const std::string& dir, const SequenceInput& in);
bool PythonAvailable();

// Max |a - b| and whether every |a - b| <= atol + rtol |b|.
struct Diff {
  double max_abs = 0;
  double max_ref = 0;
  bool within = true;
  int64_t worst = -1;
};
Diff Compare(const std::vector<float>& got, const std::vector<float>& ref, double atol,
             double rtol);

}  // namespace mot::testing

#endif  // MOT_TESTS_ORACLE_ORACLE_TEST_UTIL_H_
