// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "engine/kv/block_manager.h"

#include <algorithm>
#include <cassert>
#include <limits>
#include <new>
#include <string>
#include <utility>

#include "absl/strings/str_cat.h"

namespace mot::kv {
namespace {

// The parent hash of a sequence's first block ("mot-kv" in ASCII): any fixed value works, a
// non-zero one keeps an all-zero block from hashing near zero.
constexpr uint64_t kRootHash = 0x6d6f742d6b760000ull;

// splitmix64's finalizer: a cheap, well-mixed 64-bit step, the same on every platform.
uint64_t Mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

absl::Status Broken(const std::string& what) {
  return absl::InternalError(absl::StrCat("BlockManager invariant broken: ", what));
}

}  // namespace

absl::StatusOr<BlockManager> BlockManager::Create(const BlockManagerConfig& config) {
  if (config.block_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("BlockManagerConfig: field block_size must be >= 1, got ", config.block_size));
  }
  if (config.blocks_per_pool.empty()) {
    return absl::InvalidArgumentError(
        "BlockManagerConfig: field blocks_per_pool must name at least one pool");
  }
  if (config.blocks_per_pool.size() > 256) {
    // Towers are uint8_t.
    return absl::InvalidArgumentError(
        absl::StrCat("BlockManagerConfig: field blocks_per_pool: at most 256 pools, got ",
                     config.blocks_per_pool.size()));
  }
  for (size_t p = 0; p < config.blocks_per_pool.size(); ++p) {
    if (config.blocks_per_pool[p] < 1) {
      return absl::InvalidArgumentError(absl::StrCat("BlockManagerConfig: field blocks_per_pool[",
                                                     p, "] must be >= 1, got ",
                                                     config.blocks_per_pool[p]));
    }
    // KvSlot::slot (block * block_size + offset) is an int32_t.
    if (int64_t{config.blocks_per_pool[p]} * config.block_size >
        std::numeric_limits<int32_t>::max()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "BlockManagerConfig: field blocks_per_pool[", p, "]: ", config.blocks_per_pool[p],
          " blocks of block_size=", config.block_size, " exceed 2^31 - 1 slots"));
    }
  }
  if (config.max_seqs < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("BlockManagerConfig: field max_seqs must be >= 1, got ", config.max_seqs));
  }
  try {
    return BlockManager(config);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError("BlockManager: cannot allocate the block tables");
  }
}

BlockManager::BlockManager(const BlockManagerConfig& config)
    : block_size_(config.block_size),
      prefix_caching_(config.prefix_caching),
      pools_(config.blocks_per_pool.size()),
      seqs_(static_cast<size_t>(config.max_seqs)) {
  for (size_t p = 0; p < pools_.size(); ++p) {
    const int32_t n = config.blocks_per_pool[p];
    Pool& pool = pools_[p];
    pool.blocks.resize(static_cast<size_t>(n));
    pool.tokens.resize(static_cast<size_t>(n) * static_cast<size_t>(block_size_));
    // Popped from the back: block 0 is handed out first, which keeps tests and dumps legible.
    pool.free.reserve(static_cast<size_t>(n));
    for (int32_t b = n - 1; b >= 0; --b) {
      pool.free.push_back(b);
      pool.blocks[static_cast<size_t>(b)].free_list = true;
    }
  }
}

std::vector<Segment> BlockManager::Segments(std::span<const uint8_t> towers, int32_t block_size) {
  std::vector<Segment> segs;
  for (size_t i = 0; i < towers.size(); ++i) {
    if (segs.empty() || segs.back().tower != towers[i] || segs.back().count == block_size) {
      segs.push_back(Segment{static_cast<int32_t>(i), 0, towers[i]});
    }
    ++segs.back().count;
  }
  return segs;
}

std::vector<int32_t> BlockManager::BlocksNeeded(int32_t seq,
                                                std::span<const uint8_t> towers) const {
  std::vector<int32_t> needed(pools_.size(), 0);
  const Seq& s = seqs_[static_cast<size_t>(seq)];
  int32_t tower = -1;  // tower and fill of the block that takes the next token
  int32_t fill = 0;
  if (!s.entries.empty() && !s.last_sealed) {
    tower = s.entries.back().pool;
    fill = s.entries.back().num_pos;
  }
  for (const uint8_t t : towers) {
    if (t == tower && fill < block_size_) {
      ++fill;
    } else {
      ++needed[t];
      tower = t;
      fill = 1;
    }
  }
  return needed;
}

bool BlockManager::CanAppend(int32_t seq, std::span<const uint8_t> towers) const {
  if (seq < 0 || seq >= max_seqs()) return false;
  for (const uint8_t t : towers) {
    if (t >= pools_.size()) return false;
  }
  const std::vector<int32_t> needed = BlocksNeeded(seq, towers);
  for (size_t p = 0; p < pools_.size(); ++p) {
    const Pool& pool = pools_[p];
    if (needed[p] > static_cast<int32_t>(pool.free.size()) + pool.lru_size) return false;
  }
  return true;
}

absl::Status BlockManager::Append(int32_t seq, std::span<const int32_t> tokens,
                                  std::span<const uint8_t> towers) {
  if (seq < 0 || seq >= max_seqs()) {
    return absl::InvalidArgumentError(absl::StrCat("BlockManager::Append: seq ", seq,
                                                   " is outside [0, max_seqs=", max_seqs(), ")"));
  }
  if (tokens.size() != towers.size()) {
    return absl::InvalidArgumentError(absl::StrCat("BlockManager::Append: ", tokens.size(),
                                                   " tokens but ", towers.size(), " towers"));
  }
  for (size_t i = 0; i < towers.size(); ++i) {
    if (towers[i] >= pools_.size()) {
      return absl::InvalidArgumentError(
          absl::StrCat("BlockManager::Append: towers[", i, "] = ", towers[i],
                       " is outside [0, num_pools=", num_pools(), ")"));
    }
  }
  const std::vector<int32_t> needed = BlocksNeeded(seq, towers);
  for (size_t p = 0; p < pools_.size(); ++p) {
    const Pool& pool = pools_[p];
    const int32_t available = static_cast<int32_t>(pool.free.size()) + pool.lru_size;
    if (needed[p] > available) {
      return absl::ResourceExhaustedError(absl::StrCat("KV pool ", p, ": needs ", needed[p],
                                                       " more blocks, ", available, " free of ",
                                                       pool.blocks.size()));
    }
  }
  if (tokens.empty()) return absl::OkStatus();

  Seq& s = seqs_[static_cast<size_t>(seq)];
  for (size_t i = 0; i < tokens.size(); ++i) {
    const int32_t tower = towers[i];
    const bool extend = !s.entries.empty() && !s.last_sealed && s.entries.back().pool == tower &&
                        s.entries.back().num_pos < block_size_;
    if (!extend) {
      const int32_t block = Allocate(tower);
      s.entries.push_back(KvBlockEntry{tower, block, static_cast<int32_t>(s.tokens.size()), 0});
      s.last_sealed = false;
    }
    KvBlockEntry& e = s.entries.back();
    Block& b = pools_[static_cast<size_t>(tower)].blocks[static_cast<size_t>(e.block)];
    // Only an open last block is written, and an open block is never shared or hashed.
    assert(b.ref == 1 && !b.hashed && b.len == e.num_pos);
    pools_[static_cast<size_t>(tower)]
        .tokens[static_cast<size_t>(e.block) * static_cast<size_t>(block_size_) +
                static_cast<size_t>(e.num_pos)] = tokens[i];
    ++e.num_pos;
    ++b.len;
    s.tokens.push_back(tokens[i]);
  }
  ++table_generation_;
  // Starting a new block sealed the one before it, which may already be computed.
  HashSealedBlocks(s);
  return absl::OkStatus();
}

int32_t BlockManager::AppendCachedPrefix(int32_t seq, std::span<const int32_t> tokens,
                                         std::span<const uint8_t> towers) {
  assert(seq >= 0 && seq < max_seqs());
  Seq& s = seqs_[static_cast<size_t>(seq)];
  assert(s.entries.empty());
  if (!prefix_caching_ || !s.entries.empty() || tokens.size() != towers.size()) return 0;
  for (const uint8_t t : towers) {
    if (t >= pools_.size()) return 0;  // Append reports it
  }
  prefix_queries_ += static_cast<int64_t>(tokens.size());

  struct Hit {
    Segment seg;
    int32_t block;
    uint64_t hash;
  };
  std::vector<Hit> hits;
  uint64_t parent = kRootHash;
  for (const Segment& seg : Segments(towers, block_size_)) {
    // Only segments followed by at least one token: those are sealed in `tokens`, and the
    // last token must be computed again so that the next step yields its logits.
    if (static_cast<size_t>(seg.first + seg.count) >= tokens.size()) break;
    const std::span<const int32_t> content =
        tokens.subspan(static_cast<size_t>(seg.first), static_cast<size_t>(seg.count));
    const uint64_t h = HashBlock(parent, content, seg.tower);
    const int32_t block = Lookup(seg.tower, h, parent, content);
    if (block == kNone) break;
    hits.push_back(Hit{seg, block, h});
    parent = h;
  }
  if (hits.empty()) return 0;

  for (const Hit& hit : hits) {
    Pool& pool = pools_[hit.seg.tower];
    Block& b = pool.blocks[static_cast<size_t>(hit.block)];
    if (b.ref == 0) LruRemove(pool, hit.block);  // a cached block is in use again
    ++b.ref;
    s.entries.push_back(KvBlockEntry{hit.seg.tower, hit.block, hit.seg.first, hit.seg.count});
    s.hashes.push_back(hit.hash);
  }
  const int32_t reused = hits.back().seg.first + hits.back().seg.count;
  s.tokens.assign(tokens.begin(), tokens.begin() + reused);
  s.num_computed = reused;
  s.last_sealed = true;
  prefix_hits_ += reused;
  ++table_generation_;
  return reused;
}

void BlockManager::MarkComputed(int32_t seq, int32_t num_computed) {
  assert(seq >= 0 && seq < max_seqs());
  Seq& s = seqs_[static_cast<size_t>(seq)];
  assert(num_computed <= static_cast<int32_t>(s.tokens.size()));
  num_computed = std::min(num_computed, static_cast<int32_t>(s.tokens.size()));
  if (num_computed <= s.num_computed) return;
  s.num_computed = num_computed;
  HashSealedBlocks(s);
}

void BlockManager::Free(int32_t seq) {
  assert(seq >= 0 && seq < max_seqs());
  Seq& s = seqs_[static_cast<size_t>(seq)];
  if (s.entries.empty()) return;
  // Last block first: in the LRU the tail of this sequence then goes before its head.
  for (auto it = s.entries.rbegin(); it != s.entries.rend(); ++it) {
    Block& b = pools_[static_cast<size_t>(it->pool)].blocks[static_cast<size_t>(it->block)];
    assert(b.ref > 0);
    if (--b.ref == 0) Release(it->pool, it->block);
  }
  s = Seq{};
  ++table_generation_;
}

int32_t BlockManager::NumTokens(int32_t seq) const {
  return static_cast<int32_t>(seqs_[static_cast<size_t>(seq)].tokens.size());
}

int32_t BlockManager::NumComputed(int32_t seq) const {
  return seqs_[static_cast<size_t>(seq)].num_computed;
}

std::span<const KvBlockEntry> BlockManager::Entries(int32_t seq) const {
  return seqs_[static_cast<size_t>(seq)].entries;
}

PoolUsage BlockManager::Usage(int32_t pool) const {
  const Pool& p = pools_[static_cast<size_t>(pool)];
  PoolUsage u;
  u.total = static_cast<int32_t>(p.blocks.size());
  u.cached = p.lru_size;
  u.free = static_cast<int32_t>(p.free.size()) + p.lru_size;
  u.used = u.total - u.free;
  return u;
}

int32_t BlockManager::Allocate(int32_t pool) {
  Pool& p = pools_[static_cast<size_t>(pool)];
  int32_t block;
  if (!p.free.empty()) {
    block = p.free.back();
    p.free.pop_back();
    p.blocks[static_cast<size_t>(block)].free_list = false;
  } else {
    // Evict the least recently freed cached block; its content is lost with its hash.
    block = p.lru_head;
    assert(block != kNone);
    LruRemove(p, block);
    Block& b = p.blocks[static_cast<size_t>(block)];
    p.by_hash.erase(b.hash);
    b.hashed = false;
  }
  Block& b = p.blocks[static_cast<size_t>(block)];
  b.ref = 1;
  b.len = 0;
  b.hash = 0;
  b.parent = 0;
  return block;
}

void BlockManager::Release(int32_t pool, int32_t block) {
  Pool& p = pools_[static_cast<size_t>(pool)];
  Block& b = p.blocks[static_cast<size_t>(block)];
  if (b.hashed) {
    LruPushBack(p, block);
  } else {
    b.len = 0;
    b.free_list = true;
    p.free.push_back(block);
  }
}

void BlockManager::LruRemove(Pool& p, int32_t block) {
  Block& b = p.blocks[static_cast<size_t>(block)];
  if (b.lru_prev != kNone) {
    p.blocks[static_cast<size_t>(b.lru_prev)].lru_next = b.lru_next;
  } else {
    p.lru_head = b.lru_next;
  }
  if (b.lru_next != kNone) {
    p.blocks[static_cast<size_t>(b.lru_next)].lru_prev = b.lru_prev;
  } else {
    p.lru_tail = b.lru_prev;
  }
  b.lru_prev = b.lru_next = kNone;
  --p.lru_size;
}

void BlockManager::LruPushBack(Pool& p, int32_t block) {
  Block& b = p.blocks[static_cast<size_t>(block)];
  b.lru_prev = p.lru_tail;
  b.lru_next = kNone;
  if (p.lru_tail != kNone) {
    p.blocks[static_cast<size_t>(p.lru_tail)].lru_next = block;
  } else {
    p.lru_head = block;
  }
  p.lru_tail = block;
  ++p.lru_size;
}

bool BlockManager::IsSealed(const Seq& s, size_t entry) const {
  return entry + 1 < s.entries.size() || s.entries[entry].num_pos == block_size_ || s.last_sealed;
}

const int32_t* BlockManager::BlockTokens(int32_t pool, int32_t block) const {
  return pools_[static_cast<size_t>(pool)].tokens.data() +
         static_cast<size_t>(block) * static_cast<size_t>(block_size_);
}

uint64_t BlockManager::HashBlock(uint64_t parent, std::span<const int32_t> tokens, int32_t tower) {
  uint64_t h = Mix(parent ^ Mix(static_cast<uint64_t>(tower) + 1));
  for (const int32_t t : tokens) h = Mix(h ^ static_cast<uint32_t>(t));
  return Mix(h ^ tokens.size());
}

int32_t BlockManager::Lookup(int32_t pool, uint64_t hash, uint64_t parent,
                             std::span<const int32_t> tokens) const {
  const Pool& p = pools_[static_cast<size_t>(pool)];
  const auto it = p.by_hash.find(hash);
  if (it == p.by_hash.end()) return kNone;
  const Block& b = p.blocks[static_cast<size_t>(it->second)];
  // A 64-bit collision is unlikely but would share wrong keys: confirm the content.
  if (b.parent != parent || b.len != static_cast<int32_t>(tokens.size()) ||
      !std::equal(tokens.begin(), tokens.end(), BlockTokens(pool, it->second))) {
    return kNone;
  }
  return it->second;
}

void BlockManager::HashSealedBlocks(Seq& s) {
  if (!prefix_caching_) return;
  while (s.hashes.size() < s.entries.size()) {
    const size_t i = s.hashes.size();
    const KvBlockEntry& e = s.entries[i];
    if (!IsSealed(s, i) || e.first_pos + e.num_pos > s.num_computed) break;
    const uint64_t parent = i == 0 ? kRootHash : s.hashes[i - 1];
    const std::span<const int32_t> content(s.tokens.data() + e.first_pos,
                                           static_cast<size_t>(e.num_pos));
    const uint64_t h = HashBlock(parent, content, e.pool);
    s.hashes.push_back(h);
    Pool& p = pools_[static_cast<size_t>(e.pool)];
    Block& b = p.blocks[static_cast<size_t>(e.block)];
    if (b.hashed) continue;  // a shared prefix block, entered by its first owner
    // The first block with this hash keeps it; a duplicate stays unhashed and is freed to
    // the plain free list.
    if (p.by_hash.try_emplace(h, e.block).second) {
      b.hashed = true;
      b.hash = h;
      b.parent = parent;
    }
  }
}

absl::Status BlockManager::CheckInvariants() const {
  // Reference counts from the tables.
  std::vector<std::vector<int32_t>> refs(pools_.size());
  for (size_t p = 0; p < pools_.size(); ++p) refs[p].assign(pools_[p].blocks.size(), 0);

  for (size_t q = 0; q < seqs_.size(); ++q) {
    const Seq& s = seqs_[q];
    const std::string where = absl::StrCat("seq ", q, ": ");
    if (s.num_computed < 0 || s.num_computed > static_cast<int32_t>(s.tokens.size())) {
      return Broken(absl::StrCat(where, "num_computed ", s.num_computed, " outside [0, ",
                                 s.tokens.size(), "]"));
    }
    if (s.hashes.size() > s.entries.size()) return Broken(where + "more hashes than entries");
    if (s.entries.empty() && (!s.tokens.empty() || s.last_sealed)) {
      return Broken(where + "tokens without entries");
    }
    int32_t next_pos = 0;
    for (size_t i = 0; i < s.entries.size(); ++i) {
      const KvBlockEntry& e = s.entries[i];
      const std::string at = absl::StrCat(where, "entry ", i, ": ");
      if (e.pool < 0 || e.pool >= num_pools()) return Broken(at + "pool out of range");
      const Pool& pool = pools_[static_cast<size_t>(e.pool)];
      if (e.block < 0 || e.block >= static_cast<int32_t>(pool.blocks.size())) {
        return Broken(at + "block out of range");
      }
      if (e.first_pos != next_pos) {
        return Broken(absl::StrCat(at, "first_pos ", e.first_pos, ", expected ", next_pos));
      }
      if (e.num_pos < 1 || e.num_pos > block_size_) {
        return Broken(absl::StrCat(at, "num_pos ", e.num_pos, " outside [1, block_size]"));
      }
      // The segmentation rule: a block of the same tower follows only a full one.
      if (i > 0 && s.entries[i - 1].pool == e.pool && s.entries[i - 1].num_pos != block_size_) {
        return Broken(at + "follows a partly filled block of the same tower");
      }
      const Block& b = pool.blocks[static_cast<size_t>(e.block)];
      if (b.len != e.num_pos) {
        return Broken(absl::StrCat(at, "num_pos ", e.num_pos, " but the block holds ", b.len));
      }
      if (!std::equal(s.tokens.begin() + e.first_pos, s.tokens.begin() + e.first_pos + e.num_pos,
                      BlockTokens(e.pool, e.block))) {
        return Broken(at + "the block's tokens differ from the sequence's");
      }
      if (!IsSealed(s, i) && (b.ref != 1 || b.hashed)) {
        return Broken(at + "the open last block is shared or hashed");
      }
      if (i < s.hashes.size()) {
        if (!IsSealed(s, i) || e.first_pos + e.num_pos > s.num_computed) {
          return Broken(at + "hashed before it is sealed and computed");
        }
        const uint64_t parent = i == 0 ? kRootHash : s.hashes[i - 1];
        const uint64_t h = HashBlock(
            parent,
            std::span<const int32_t>(s.tokens.data() + e.first_pos, static_cast<size_t>(e.num_pos)),
            e.pool);
        if (h != s.hashes[i]) return Broken(at + "stale chain hash");
        if (b.hashed && b.hash != h) return Broken(at + "the block is hashed under another hash");
      } else if (prefix_caching_ && IsSealed(s, i) && e.first_pos + e.num_pos <= s.num_computed &&
                 i == s.hashes.size()) {
        return Broken(at + "sealed and computed but not hashed");
      }
      ++refs[static_cast<size_t>(e.pool)][static_cast<size_t>(e.block)];
      next_pos += e.num_pos;
    }
    if (next_pos != static_cast<int32_t>(s.tokens.size())) {
      return Broken(absl::StrCat(where, "entries cover ", next_pos, " positions, NumTokens ",
                                 s.tokens.size()));
    }
  }

  for (size_t p = 0; p < pools_.size(); ++p) {
    const Pool& pool = pools_[p];
    const std::string where = absl::StrCat("pool ", p, ": ");
    const int32_t n = static_cast<int32_t>(pool.blocks.size());
    // The LRU: a well-linked list of cached blocks.
    std::vector<char> in_lru(pool.blocks.size(), 0);
    int32_t count = 0;
    int32_t prev = kNone;
    for (int32_t b = pool.lru_head; b != kNone; b = pool.blocks[static_cast<size_t>(b)].lru_next) {
      if (b < 0 || b >= n || in_lru[static_cast<size_t>(b)] || count > n) {
        return Broken(where + "LRU list is malformed");
      }
      in_lru[static_cast<size_t>(b)] = 1;
      if (pool.blocks[static_cast<size_t>(b)].lru_prev != prev) {
        return Broken(absl::StrCat(where, "LRU block ", b, " has a wrong back link"));
      }
      prev = b;
      ++count;
    }
    if (prev != pool.lru_tail || count != pool.lru_size) {
      return Broken(absl::StrCat(where, "LRU holds ", count, " blocks, lru_size ", pool.lru_size));
    }
    std::vector<char> in_free(pool.blocks.size(), 0);
    for (const int32_t b : pool.free) {
      if (b < 0 || b >= n || in_free[static_cast<size_t>(b)]) {
        return Broken(where + "free list is malformed");
      }
      in_free[static_cast<size_t>(b)] = 1;
    }
    int32_t used = 0;
    int32_t hashed = 0;
    for (int32_t b = 0; b < n; ++b) {
      const Block& blk = pool.blocks[static_cast<size_t>(b)];
      const std::string at = absl::StrCat(where, "block ", b, ": ");
      if (blk.ref != refs[p][static_cast<size_t>(b)]) {
        return Broken(absl::StrCat(at, "ref ", blk.ref, " but ", refs[p][static_cast<size_t>(b)],
                                   " table references"));
      }
      if (blk.free_list != static_cast<bool>(in_free[static_cast<size_t>(b)])) {
        return Broken(at + "free flag disagrees with the free list");
      }
      const bool cached = in_lru[static_cast<size_t>(b)];
      if (blk.ref > 0) {
        ++used;
        if (cached || blk.free_list) return Broken(at + "in use and free");
      } else if (cached == blk.free_list) {
        return Broken(at + "unreferenced but not on exactly one of the free list and the LRU");
      }
      if (cached && !blk.hashed) return Broken(at + "cached without a hash");
      if (blk.free_list && blk.hashed) return Broken(at + "on the free list with a hash");
      if (blk.hashed) {
        ++hashed;
        const auto it = pool.by_hash.find(blk.hash);
        if (it == pool.by_hash.end() || it->second != b) {
          return Broken(at + "hashed but not entered under its hash");
        }
        if (blk.len < 1 || blk.len > block_size_) return Broken(at + "hashed with a bad length");
      }
    }
    if (hashed != static_cast<int32_t>(pool.by_hash.size())) {
      return Broken(
          absl::StrCat(where, pool.by_hash.size(), " hash entries, ", hashed, " hashed blocks"));
    }
    for (const auto& [h, b] : pool.by_hash) {
      if (b < 0 || b >= n || !pool.blocks[static_cast<size_t>(b)].hashed ||
          pool.blocks[static_cast<size_t>(b)].hash != h) {
        return Broken(where + "hash map points to a block with another hash");
      }
    }
    if (used + static_cast<int32_t>(pool.free.size()) + pool.lru_size != n) {
      return Broken(absl::StrCat(where, used, " used + ", pool.free.size(), " free + ",
                                 pool.lru_size, " cached != ", n, " blocks"));
    }
  }
  return absl::OkStatus();
}

}  // namespace mot::kv
