// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: trainer/shard_format.h
// The byte layout of packed token shards, shared by ShardWriter and ShardReader.
// A shard set is a directory:
//   shards.json          {"format": "mot-shards", "version": 1, "vocab_size": V,
//                         "num_towers": T, "examples": M, "tokens": N,
//                         "shards": [{"file": "shard-00000.bin", "examples": m, "tokens": n},
//                                    ...]}
//                        (written last: a directory without it is not a shard set)
//   shard-NNNNN.bin      one shard, little-endian:
//     [0, 64)            header: magic "MOTSHRD1", u32 version (1), u32 reserved (0),
//                        u64 examples m, u64 tokens n, 32 bytes reserved (0)
//     offsets            (m + 1) x i64: example i is tokens [offsets[i], offsets[i+1]),
//                        offsets[0] == 0, non-decreasing, offsets[m] == n
//     ids                n x i32: unified-vocabulary ids
//     towers             n x u8: each token's tower (modality id)
//     loss               n x u8: 1 when the token is a training target (the logits of the
//                        previous position are scored against it), else 0
// The file is exactly 64 + 8 (m + 1) + 6 n bytes; ids start 8-aligned, so a mapped shard
// is read in place.
#ifndef MOT_TRAINER_SHARD_FORMAT_H_
#define MOT_TRAINER_SHARD_FORMAT_H_

#include <bit>
#include <cstdint>

namespace mot::trainer::shard_format {

static_assert(std::endian::native == std::endian::little, "shards are little-endian");

inline constexpr char kMagic[8] = {'M', 'O', 'T', 'S', 'H', 'R', 'D', '1'};
inline constexpr uint32_t kVersion = 1;
inline constexpr uint64_t kHeaderBytes = 64;
inline constexpr const char* kIndexFile = "shards.json";
inline constexpr const char* kFormatName = "mot-shards";

struct Header {
  char magic[8];
  uint32_t version;
  uint32_t reserved0;
  uint64_t examples;
  uint64_t tokens;
  uint8_t reserved[32];
};
static_assert(sizeof(Header) == kHeaderBytes);

// Byte sizes of the sections, in file order.
inline constexpr uint64_t OffsetsBytes(uint64_t examples) { return 8 * (examples + 1); }
inline constexpr uint64_t FileBytes(uint64_t examples, uint64_t tokens) {
  return kHeaderBytes + OffsetsBytes(examples) + 6 * tokens;
}

}  // namespace mot::trainer::shard_format

#endif  // MOT_TRAINER_SHARD_FORMAT_H_
