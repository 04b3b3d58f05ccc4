// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// The portable kernel table: kernels_body.inc at the baseline ISA, plus a plain
// row-by-row Linear. Also KernelsFor(), the dispatch from an IsaLevel to its table.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "engine/backend/cpu/cpu_kernels.h"

namespace mot::backend::cpu {
namespace {

#include "engine/backend/cpu/kernels_body.inc"

template <DType T>
void LinearSmallMT(const float* x, int64_t m, int64_t ldx, const WeightRef& w, int64_t o_begin,
                   int64_t o_end, float* y, int64_t ldy, bool accumulate) {
  const char* base = static_cast<const char*>(w.data);
  const int64_t k = w.cols;
  for (int64_t o = o_begin; o < o_end; ++o) {
    const void* row = base + DTypeBytes(T, o * k);
    for (int64_t i = 0; i < m; ++i) {
      const float* xi = x + i * ldx;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (int64_t c = 0; c < k; ++c) s += xi[c] * LoadAs<T>(row, c);
      float& out = y[i * ldy + o];
      out = accumulate ? out + s : s;
    }
  }
}

void LinearSmallM(const float* x, int64_t m, int64_t ldx, const WeightRef& w, int64_t o_begin,
                  int64_t o_end, float* y, int64_t ldy, bool accumulate) {
  VisitDType(w.dtype, [&]<DType T>() {
    LinearSmallMT<T>(x, m, ldx, w, o_begin, o_end, y, ldy, accumulate);
  });
}

}  // namespace

const Kernels kScalarKernels = {
    .level = IsaLevel::kScalar,
    // Each (row, output) dot is the same loop whatever m is: invariant as it is.
    .linear_small_m = LinearSmallM,
    .linear_invariant = LinearSmallM,
    .invariant_max_m = 8,
    .convert_rows = ConvertRowsGeneric,
    .quantize_rows = QuantizeRowsGeneric,
    .linear_quantized = LinearQuantizedGeneric,
    .linear_quantized_vnni = nullptr,
    .rms_norm_rows = RmsNormRowsGeneric,
    .layer_norm_rows = LayerNormRowsGeneric,
    .swiglu_rows = SwiGluRowsGeneric,
    .add_rows = AddRowsGeneric,
    .attention_pairs = AttentionPairsGeneric,
};

const Kernels& KernelsFor(IsaLevel level) {
  switch (level) {
    case IsaLevel::kAvx512:
      return kAvx512Kernels;
    case IsaLevel::kAvx2:
      return kAvx2Kernels;
    case IsaLevel::kScalar:
      break;
  }
  return kScalarKernels;
}

}  // namespace mot::backend::cpu
