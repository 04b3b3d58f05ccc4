// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/sampling/rng.h
// The per-request random numbers of sampling: counter-based, so the draw for a request's
// n-th generated token is a pure function of (seed, n). It never depends on the batch the
// token ran in, on the thread that sampled it, or on preemption and resumption (a resumed
// request simply asks for the same token index again); nothing is stored per request.
//
// The generator is Philox4x32-10 (Salmon, Moraes, Dror, Shaw, "Parallel Random Numbers: As
// Easy as 1, 2, 3", SC'11), the one cuRAND and PyTorch use; PhiloxBlock() matches Random123's
// published known-answer vectors (tests/sampling/rng_test.cc). Key = the 64-bit seed, counter =
// {index low, index high, stream, 0}: different streams give independent numbers for the
// same (seed, index), for a later use other than the token draw.
// Thread rule: pure functions; call from anywhere.
#ifndef MOT_ENGINE_SAMPLING_RNG_H_
#define MOT_ENGINE_SAMPLING_RNG_H_

#include <array>
#include <cstdint>

namespace mot::sampling {

// One Philox4x32-10 block: 10 rounds over `counter` under `key`.
constexpr std::array<uint32_t, 4> PhiloxBlock(std::array<uint32_t, 4> counter,
                                              std::array<uint32_t, 2> key) {
  // Multipliers and Weyl key increments from the paper (Random123's PHILOX_M4x32_*,
  // PHILOX_W32_*).
  constexpr uint32_t kM0 = 0xD2511F53u, kM1 = 0xCD9E8D57u;
  constexpr uint32_t kW0 = 0x9E3779B9u, kW1 = 0xBB67AE85u;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key[0] += kW0;
      key[1] += kW1;
    }
    const uint64_t p0 = uint64_t{kM0} * counter[0];
    const uint64_t p1 = uint64_t{kM1} * counter[2];
    counter = {static_cast<uint32_t>(p1 >> 32) ^ counter[1] ^ key[0], static_cast<uint32_t>(p1),
               static_cast<uint32_t>(p0 >> 32) ^ counter[3] ^ key[1], static_cast<uint32_t>(p0)};
  }
  return counter;
}

// Streams of numbers for one (seed, index); kTokenDraw is the sampler's.
enum class RngStream : uint32_t { kTokenDraw = 0 };

// The Philox block for (seed, index, stream).
constexpr std::array<uint32_t, 4> RandomBits(uint64_t seed, uint64_t index,
                                             RngStream stream = RngStream::kTokenDraw) {
  return PhiloxBlock({static_cast<uint32_t>(index), static_cast<uint32_t>(index >> 32),
                      static_cast<uint32_t>(stream), 0u},
                     {static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)});
}

// Uniform in [0, 1) on the 2^-24 grid (every float of the grid is exact), from word 0.
constexpr float UniformFloat(uint64_t seed, uint64_t index,
                             RngStream stream = RngStream::kTokenDraw) {
  return static_cast<float>(RandomBits(seed, index, stream)[0] >> 8) * 0x1.0p-24f;
}

// Uniform in [0, 1) on the 2^-53 grid, from words 0 and 1. The sampler draws with this one:
// a vocabulary of 150k ids needs more resolution than a float's 24 bits to reach every id of
// a flat distribution with its exact probability.
constexpr double UniformDouble(uint64_t seed, uint64_t index,
                               RngStream stream = RngStream::kTokenDraw) {
  const std::array<uint32_t, 4> r = RandomBits(seed, index, stream);
  const uint64_t bits = (uint64_t{r[0]} << 32 | r[1]) >> 11;
  return static_cast<double>(bits) * 0x1.0p-53;
}

}  // namespace mot::sampling

#endif  // MOT_ENGINE_SAMPLING_RNG_H_
