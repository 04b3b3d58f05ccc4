// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Compiled with -mamx-tile -mamx-bf16 -mavx512bf16 (and AVX-512 F/BW/VL): nothing here may run
// unless CpuFeatures::amx_bf16 is true.
#include "engine/backend/cpu/amx_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <type_traits>

#include "engine/backend/cpu/avx512_transpose.h"

namespace mot::backend::cpu::amx {
namespace {

// The tile registers: C (f32 accumulators, 16 weight rows x 16 input rows) in 0..3, A (16
// weight rows x 32 k, read in place) in 4..5, B (16 k-pairs x 16 input rows, packed) in 6..7.
// Input blocks per pass: about 1 MiB of packed rows stays in L2 while every weight panel
// (32 rows x k) meets it; an even count keeps the 2 x 2 tile blocking.
int64_t ChunkBlocks(int64_t k) {
  return std::max<int64_t>(2, (1 << 20) / (kRowBlock * k * 2) / 2 * 2);
}
// Depth steps per pass over a chunk on a converted panel: 32 rows x 512 k (32 KiB) in L1.
constexpr int64_t kPanelDepthSteps = 16;

struct alignas(64) TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Software prefetch (into L2) of the next 32 weight rows while the tiles work on these: the
// 32 rows are one contiguous stretch of the row-major weights, and without it every
// stretch's first touch waited on memory. `per_step` lines per depth step spread the
// stretch over the work on the current rows.
struct Prefetcher {
  const char* next = nullptr;
  const char* end = nullptr;
  int64_t per_step = 0;

  void Start(const uint16_t* begin, int64_t bytes, int64_t steps) {
    next = reinterpret_cast<const char*>(begin);
    end = next + bytes;
    per_step = steps > 0 ? (bytes / 64 + steps - 1) / steps : 0;
  }
  void Step() {
    for (int64_t i = 0; i < per_step && next < end; ++i, next += 64) {
      _mm_prefetch(next, _MM_HINT_T1);
    }
  }
};

void ConfigureTiles() {
  TileConfig cfg;
  for (int t = 0; t < 8; ++t) {
    cfg.colsb[t] = 64;
    cfg.rows[t] = 16;
  }
  _tile_loadconfig(&cfg);
}

// C tiles (a, b) for a < NA weight-row tiles and b < NB packed input blocks, over depth steps
// [kb0, kb1): A tile a of step kb at (a == 0 ? a0 : a1) + kb * a_step (rows a_stride bytes
// apart: the weights in place, or a panel in tile order), B tile b at b0 + b * kb_stride +
// kb * 512. The C tiles start at zero when `first`, else from c, and are stored to
// c[a * 2 + b].
template <int NA, int NB>
void TileBlock(const uint16_t* a0, const uint16_t* a1, int64_t a_step, int64_t a_stride,
               const uint16_t* b0, int64_t kb_stride, int64_t kb0, int64_t kb1, bool first,
               float (*c)[256], Prefetcher& pf) {
  const uint16_t* b1 = b0 + kb_stride;
  if (first) {
    _tile_zero(0);
    if constexpr (NB == 2) _tile_zero(1);
    if constexpr (NA == 2) _tile_zero(2);
    if constexpr (NA == 2 && NB == 2) _tile_zero(3);
  } else {
    _tile_loadd(0, c[0], 64);
    if constexpr (NB == 2) _tile_loadd(1, c[1], 64);
    if constexpr (NA == 2) _tile_loadd(2, c[2], 64);
    if constexpr (NA == 2 && NB == 2) _tile_loadd(3, c[3], 64);
  }
  for (int64_t kb = kb0; kb < kb1; ++kb) {
    pf.Step();
    _tile_loadd(4, a0 + kb * a_step, a_stride);
    _tile_loadd(6, b0 + kb * 512, 64);
    if constexpr (NB == 2) _tile_loadd(7, b1 + kb * 512, 64);
    _tile_dpbf16ps(0, 4, 6);
    if constexpr (NB == 2) _tile_dpbf16ps(1, 4, 7);
    if constexpr (NA == 2) {
      _tile_loadd(5, a1 + kb * a_step, a_stride);
      _tile_dpbf16ps(2, 5, 6);
      if constexpr (NB == 2) _tile_dpbf16ps(3, 5, 7);
    }
  }
  _tile_stored(0, c[0], 64);
  if constexpr (NB == 2) _tile_stored(1, c[1], 64);
  if constexpr (NA == 2) _tile_stored(2, c[2], 64);
  if constexpr (NA == 2 && NB == 2) _tile_stored(3, c[3], 64);
}

template <typename F>
void Dispatch(int na, int nb, F&& f) {
  if (na == 2 && nb == 2) {
    f(std::integral_constant<int, 2>(), std::integral_constant<int, 2>());
  } else if (na == 2) {
    f(std::integral_constant<int, 2>(), std::integral_constant<int, 1>());
  } else if (nb == 2) {
    f(std::integral_constant<int, 1>(), std::integral_constant<int, 2>());
  } else {
    f(std::integral_constant<int, 1>(), std::integral_constant<int, 1>());
  }
}

// Writes the C tiles of weight rows [o, o + 16 na) x input blocks [b, b + nb) to y.
void StoreBlock(float (*c)[256], int na, int nb, int64_t o, int64_t b, int64_t m, float* y,
                int64_t ldy, bool accumulate) {
  for (int a = 0; a < na; ++a) {
    for (int bb = 0; bb < nb; ++bb) {
      const int64_t i0 = (b + bb) * kRowBlock;
      StoreTransposed(c[a * 2 + bb], std::min<int64_t>(kRowBlock, m - i0),
                      y + i0 * ldy + o + 16 * a, ldy, accumulate);
    }
  }
}

}  // namespace

void Pack(const float* x, int64_t m, int64_t ldx, int64_t k, int64_t block_begin, int64_t block_end,
          uint16_t* packed) {
  const int64_t nkb = k / kDepth;
  for (int64_t blk = block_begin; blk < block_end; ++blk) {
    for (int64_t kb = 0; kb < nkb; ++kb) {
      __m512i r[16];
      for (int64_t i = 0; i < 16; ++i) {
        const int64_t row = blk * kRowBlock + i;
        if (row < m) {
          const float* src = x + row * ldx + kb * kDepth;
          // Elements 0..15 from the first operand's pair, 16..31 from the second: the 32
          // bf16 of this row's k-step as 16 (k, k + 1) pairs.
          r[i] = (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(src + 16), _mm512_loadu_ps(src));
        } else {
          r[i] = _mm512_setzero_si512();
        }
      }
      // Row i's pairs become column i: tile row p holds pair p of every input row.
      Transpose16x16(r);
      uint16_t* dst = packed + (blk * nkb + kb) * 512;
      for (int p = 0; p < 16; ++p) _mm512_store_si512(dst + 32 * p, r[p]);
    }
  }
}

int64_t ScratchBytes(int64_t m, int64_t k, bool converted) {
  const int64_t blocks = (m + kRowBlock - 1) / kRowBlock;
  const int64_t chunk = std::min(blocks + 1, ChunkBlocks(k));
  return 32 * k * 2 + (chunk + 1) * 2 * 1024 + (converted ? 32 * k * 4 : 0) + 128;
}

void Linear(const uint16_t* packed, int64_t m, int64_t k, const Weights& weights, int64_t o_begin,
            int64_t o_end, float* y, int64_t ldy, bool accumulate, void* scratch) {
  if (o_begin >= o_end || m <= 0) return;
  const int64_t nkb = k / kDepth;
  const int64_t w_stride = k * 2;  // bytes
  const int64_t kb_stride = nkb * 512;
  const int64_t blocks = (m + kRowBlock - 1) / kRowBlock;
  const int64_t chunk = ChunkBlocks(k);
  // Scratch: the weight panel in tile order, then the C tiles of one chunk (64-byte aligned).
  auto* base =
      reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(scratch) + 63) & ~uintptr_t{63});
  auto* panel = reinterpret_cast<uint16_t*>(base);
  auto* tiles = reinterpret_cast<float(*)[256]>(base + 32 * k * 2);
  const int64_t chunk_tiles = (std::min(blocks + 1, chunk) + 1) * 2;
  auto* rows_f32 = reinterpret_cast<float*>(base + 32 * k * 2 + chunk_tiles * 1024);
  const uint16_t* w = weights.bf16;
  alignas(64) float c[4][256];
  ConfigureTiles();
  for (int64_t c0 = 0; c0 < blocks; c0 += chunk) {
    const int64_t c1 = std::min(blocks, c0 + chunk);
    // bf16 weights are read in place as A tiles. (Copying each 32-row panel into tile order
    // first, for chunks of 8+ blocks, measured ~20% faster at m = 512 on hot weights before
    // the prefetch; with it, no faster there, and in the model, weights coming from memory,
    // the copies cost: three-tower prefill GEMMs 72-79 -> 54-57 ms without them, one tower's
    // 52-62 -> 48-53 ms; bench/results/cpu_attention_2026-12-02.md.) Converted weights
    // (Q8_0/Q4_0) go through a panel in tile order, converted 32 rows at a time.
    const int64_t steps_per_panel = nkb * ((c1 - c0 + 1) / 2);
    Prefetcher pf;
    for (int64_t o = o_begin; o < o_end; o += 32) {
      const int na = o_end - o >= 32 ? 2 : 1;
      // The next 32 rows (bf16 weights only: converted rows come through to_f32).
      if (w != nullptr && o + 32 < o_end) {
        pf.Start(w + (o + 32) * k, std::min<int64_t>(32, o_end - o - 32) * w_stride,
                 steps_per_panel);
      } else {
        pf.Start(nullptr, 0, 0);
      }
      if (w != nullptr) {
        const uint16_t* w0 = w + o * k;
        for (int64_t b = c0; b < c1; b += 2) {
          const int nb = c1 - b >= 2 ? 2 : 1;
          Dispatch(na, nb, [&](auto NA, auto NB) {
            TileBlock<NA(), NB()>(w0, w0 + 16 * k, kDepth, w_stride, packed + b * kb_stride,
                                  kb_stride, 0, nkb, true, c, pf);
          });
          StoreBlock(c, na, nb, o, b, m, y, ldy, accumulate);
        }
        continue;
      }
      weights.to_f32(weights.ctx, o, 16 * na, rows_f32);
      for (int r = 0; r < 16 * na; ++r) {
        const float* src = rows_f32 + r * k;
        for (int64_t kb = 0; kb < nkb; ++kb) {
          const float* s = src + kb * kDepth;
          _mm512_store_si512(
              panel + kb * 1024 + r * 32,
              (__m512i)_mm512_cvtne2ps_pbh(_mm512_loadu_ps(s + 16), _mm512_loadu_ps(s)));
        }
      }
      for (int64_t kb0 = 0; kb0 < nkb; kb0 += kPanelDepthSteps) {
        const int64_t kb1 = std::min(nkb, kb0 + kPanelDepthSteps);
        for (int64_t b = c0; b < c1; b += 2) {
          const int nb = c1 - b >= 2 ? 2 : 1;
          Dispatch(na, nb, [&](auto NA, auto NB) {
            TileBlock<NA(), NB()>(panel, panel + 512, 1024, 64, packed + b * kb_stride, kb_stride,
                                  kb0, kb1, kb0 == 0, tiles + (b - c0) * 2, pf);
          });
        }
      }
      for (int64_t b = c0; b < c1; b += 2) {
        StoreBlock(tiles + (b - c0) * 2, na, c1 - b >= 2 ? 2 : 1, o, b, m, y, ldy, accumulate);
      }
    }
  }
  _tile_release();
}

}  // namespace mot::backend::cpu::amx
