// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "trainer/adamw.h"

#include <cmath>
#include <cstring>
#include <utility>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "engine/core/tensor.h"

namespace mot::trainer {
namespace {

constexpr char kStepName[] = "adamw.step";
constexpr double kStepRadix = 2097152.0;  // 2^21: each part of the step is exact in f32

std::string MomentName(char which, const std::string& param) {
  return absl::StrCat("adamw.", std::string(1, which), ".", param);
}

Tensor F32Tensor(const std::vector<int64_t>& shape, const float* data) {
  Tensor t = Tensor::Empty(DType::kF32, shape);
  std::memcpy(t.data(), data, static_cast<size_t>(t.numel()) * sizeof(float));
  return t;
}

}  // namespace

AdamW::AdamW(const AdamWOptions& o, ThreadPool* pool) : options_(o), pool_(pool) {}

void AdamW::Step(std::vector<TrainModel::Param>& params, float lr) {
  if (m_.size() != params.size()) {
    names_.clear();
    shapes_.clear();
    m_.clear();
    v_.clear();
    for (const TrainModel::Param& p : params) {
      names_.push_back(p.name);
      shapes_.push_back(p.shape);
      m_.emplace_back(p.value.size(), 0.0f);
      v_.emplace_back(p.value.size(), 0.0f);
    }
  }
  ++step_;
  const float b1 = options_.beta1, b2 = options_.beta2, eps = options_.eps;
  // Bias corrections in double, as torch computes them on Python floats.
  const double bc1 = 1.0 - std::pow(static_cast<double>(b1), static_cast<double>(step_));
  const double bc2 = 1.0 - std::pow(static_cast<double>(b2), static_cast<double>(step_));
  const float step_size = static_cast<float>(lr / bc1);
  const float bc2_sqrt = static_cast<float>(std::sqrt(bc2));
  for (size_t i = 0; i < params.size(); ++i) {
    float* p = params[i].value.data();
    const float* g = params[i].grad.data();
    float* m = m_[i].data();
    float* v = v_[i].data();
    const float decay = params[i].decay ? 1.0f - lr * options_.weight_decay : 1.0f;
    auto update = [&](int64_t begin, int64_t end, int) {
      for (int64_t j = begin; j < end; ++j) {
        m[j] = b1 * m[j] + (1.0f - b1) * g[j];
        v[j] = b2 * v[j] + (1.0f - b2) * g[j] * g[j];
        const float denom = std::sqrt(v[j]) / bc2_sqrt + eps;
        p[j] = p[j] * decay - step_size * m[j] / denom;
      }
    };
    const int64_t n = static_cast<int64_t>(params[i].value.size());
    if (pool_ != nullptr && n >= (int64_t{1} << 15)) {
      pool_->ParallelFor(n, 4096, update);
    } else {
      update(0, n, 0);
    }
  }
}

std::vector<NamedTensor> AdamW::StateTensors() const {
  std::vector<NamedTensor> out;
  for (size_t i = 0; i < names_.size(); ++i) {
    out.push_back({MomentName('m', names_[i]), F32Tensor(shapes_[i], m_[i].data())});
    out.push_back({MomentName('v', names_[i]), F32Tensor(shapes_[i], v_[i].data())});
  }
  const uint64_t s = static_cast<uint64_t>(step_);
  const float parts[3] = {static_cast<float>(s & 0x1fffff),
                          static_cast<float>((s >> 21) & 0x1fffff),
                          static_cast<float>((s >> 42) & 0x1fffff)};
  out.push_back({kStepName, F32Tensor({3}, parts)});
  return out;
}

absl::Status AdamW::LoadState(const SafetensorsFile& file,
                              const std::vector<TrainModel::Param>& params) {
  std::vector<std::vector<float>> m, v;
  auto load = [&](const std::string& name, const TrainModel::Param& p,
                  std::vector<std::vector<float>>& dst) -> absl::Status {
    MOT_ASSIGN_OR_RETURN(Tensor t, file.Get(name));
    if (t.shape() != p.shape) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer state ", file.path(), ": tensor ",
                                                     name, ": shape ", t.DebugString(),
                                                     " does not match the parameter's"));
    }
    std::vector<float>& d = dst.emplace_back(static_cast<size_t>(t.numel()));
    ConvertToF32(t.dtype(), t.data(), t.numel(), d.data());
    return absl::OkStatus();
  };
  for (const TrainModel::Param& p : params) {
    MOT_RETURN_IF_ERROR(load(MomentName('m', p.name), p, m));
    MOT_RETURN_IF_ERROR(load(MomentName('v', p.name), p, v));
  }
  MOT_ASSIGN_OR_RETURN(Tensor st, file.Get(kStepName));
  if (st.numel() != 3 || st.dtype() != DType::kF32) {
    return absl::InvalidArgumentError(absl::StrCat("optimizer state ", file.path(), ": tensor ",
                                                   kStepName, ": expected F32 [3], got ",
                                                   st.DebugString()));
  }
  double step = 0;
  for (int i = 2; i >= 0; --i) {
    const float part = st.data_as<float>()[i];
    if (!(part >= 0 && part < kStepRadix) || part != std::floor(part)) {
      return absl::InvalidArgumentError(absl::StrCat("optimizer state ", file.path(), ": tensor ",
                                                     kStepName, ": part ", i,
                                                     " is not an integer in [0, 2^21)"));
    }
    step = step * kStepRadix + part;
  }
  names_.clear();
  shapes_.clear();
  for (const TrainModel::Param& p : params) {
    names_.push_back(p.name);
    shapes_.push_back(p.shape);
  }
  m_ = std::move(m);
  v_ = std::move(v);
  step_ = static_cast<int64_t>(step);
  return absl::OkStatus();
}

float CosineLr(int64_t step, int64_t warmup, int64_t total, float max_lr, float min_lr) {
  if (step < warmup) {
    return max_lr * static_cast<float>(step + 1) / static_cast<float>(warmup);
  }
  if (step >= total || total <= warmup) return min_lr;
  const double progress = static_cast<double>(step - warmup) / static_cast<double>(total - warmup);
  return static_cast<float>(min_lr + 0.5 * (1.0 + std::cos(M_PI * progress)) * (max_lr - min_lr));
}

}  // namespace mot::trainer
