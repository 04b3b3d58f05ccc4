// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/backend/cpu/cpu_backend.h"

#include "engine/backend/cpu/reference_ops.h"

namespace mot::backend::cpu {

CpuBackend::CpuBackend(ThreadPool* pool, std::optional<IsaLevel> forced_isa)
    : pool_(pool), isa_(ResolveIsa(forced_isa)), name_(std::string("cpu-") + IsaName(isa_)) {}

CpuBackend::~CpuBackend() = default;

void CpuBackend::Linear(const float* x, int64_t m, int64_t ldx, const WeightRef& w, float* y,
                        int64_t ldy, bool accumulate) {
  pool_->ParallelFor(w.rows, 16, [&](int64_t begin, int64_t end, int) {
    WeightRef part = w;
    part.rows = end - begin;
    part.data = static_cast<const char*>(w.data) + begin * w.cols * DTypeSize(w.dtype);
    LinearRef(x, m, ldx, part, y + begin, ldy, accumulate);
  });
}

void CpuBackend::RmsNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx,
                         const float* weight, float eps, float* y, int64_t ldy) {
  RmsNormRef(x, rows, dim, ldx, weight, eps, y, ldy);
}

void CpuBackend::LayerNorm(const float* x, int64_t rows, int64_t dim, int64_t ldx,
                           const float* weight, const float* bias, float eps, float* y,
                           int64_t ldy) {
  LayerNormRef(x, rows, dim, ldx, weight, bias, eps, y, ldy);
}

void CpuBackend::Rotary(float* x, int64_t rows, int64_t ldx, int32_t n_heads, int32_t head_dim,
                        const int32_t* pos, float theta) {
  RotaryRef(x, rows, ldx, n_heads, head_dim, pos, theta);
}

void CpuBackend::SwiGlu(const float* gate, int64_t ldg, const float* up, int64_t ldu, int64_t rows,
                        int64_t n, float* out, int64_t ldo) {
  SwiGluRef(gate, ldg, up, ldu, rows, n, out, ldo);
}

void CpuBackend::Embedding(const int32_t* ids, int64_t rows, const WeightRef& table, float* y,
                           int64_t ldy) {
  EmbeddingRef(ids, rows, table, y, ldy);
}

void CpuBackend::StoreKv(const float* k, int64_t ldk, const float* v, int64_t ldv, int64_t rows,
                         const int32_t* seq, const int32_t* pos, const kv::KvLayerView& kv) {
  StoreKvRef(k, ldk, v, ldv, rows, seq, pos, kv);
}

void CpuBackend::Attention(const AttentionArgs& args) { AttentionRef(args); }

void CpuBackend::GatherRows(const float* src, int64_t lds, const int32_t* index, int64_t rows,
                            int64_t cols, float* dst, int64_t ldd) {
  GatherRowsRef(src, lds, index, rows, cols, dst, ldd);
}

void CpuBackend::Add(const float* x, int64_t ldx, int64_t rows, int64_t cols, float* y,
                     int64_t ldy) {
  AddRef(x, ldx, rows, cols, y, ldy);
}

}  // namespace mot::backend::cpu
