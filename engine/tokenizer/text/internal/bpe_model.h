// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/text/internal/bpe_model.h
// BpeModel: merge-rank byte-level BPE over raw bytes. Tokens are stored as raw byte
// strings (the byte-level spelling is only a file format matter). A word starts as one
// symbol per byte; the adjacent pair with the lowest merge rank is merged, leftmost first
// among equal ranks, until no pair has a rank (the `tokenizers` library's rule). Merging
// uses a doubly linked symbol list and a min-heap of candidate pairs: O(n log n) per word.
// With `ignore_merges`, a word that is itself a token is emitted whole. SentencePiece-style
// models (BpeOptions::char_units) start from characters instead of bytes. A vocabulary may lack
// some single bytes (the library accepts such files): a byte with no token becomes the unk
// token when there is one (consecutive ones fused into one when `fuse_unk`), else it is
// dropped and its neighbours become adjacent, as the library's BPE does with an unknown
// character. Results for words
// up to kMaxCachedWordBytes are kept in a bounded per-thread cache (no lock on the hot
// path; each thread keeps caches for its last kCachedModelsPerThread models).
// Thread rule: immutable after Create(); EncodeWord() may be called from any thread.
#ifndef MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_BPE_MODEL_H_
#define MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_BPE_MODEL_H_

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/statusor.h"

namespace mot::tokenizer {

// How words start and what a unit without a token becomes (see the file comment).
struct BpeOptions {
  int32_t unk_id = -1;  // -1: nothing (the unit is dropped)
  bool fuse_unk = false;
  // false: byte-level (vocab keys are raw bytes; a word starts as one symbol per byte).
  // true: SentencePiece-style (vocab keys are the spellings, e.g. "▁the"; a word starts as
  // one symbol per UTF-8 character, an ill-formed byte being a character of its own).
  bool char_units = false;
  // char_units: a character without a token becomes the tokens "<0xXX>" of its bytes when
  // all of them exist (the library's byte_fallback), before unk is considered.
  bool byte_fallback = false;
};

class BpeModel {
 public:
  static constexpr size_t kMaxCachedWordBytes = 256;
  static constexpr size_t kDefaultCacheEntries = 1 << 16;
  static constexpr size_t kCachedModelsPerThread = 4;

  // `vocab[i]` = (raw bytes of the token, id); `merges[r]` = the pair with rank r, as raw
  // bytes (or spellings with char_units); see BpeOptions for the rest.
  // Errors (InvalidArgument, naming "model.vocab" / "model.merges[r]"): duplicate token or
  // id, negative id, a merge whose parts or result are not tokens.
  static absl::StatusOr<std::unique_ptr<BpeModel>> Create(
      std::vector<std::pair<std::string, int32_t>> vocab,
      std::vector<std::pair<std::string, std::string>> merges, bool ignore_merges,
      size_t cache_entries = kDefaultCacheEntries, BpeOptions options = {});

  // Appends the ids of `word` (raw bytes, non-empty) to `ids`.
  void EncodeWord(std::string_view word, std::vector<int32_t>* ids) const;

  // Raw bytes of token `id`, or nullptr if the model has no such id.
  const std::string* TokenBytes(int32_t id) const;
  // Id of the token with these raw bytes, or -1.
  int32_t TokenId(std::string_view bytes) const;

  // Number of tokens; max id + 1.
  size_t size() const { return vocab_.size(); }
  int32_t max_id() const { return max_id_; }
  bool ignore_merges() const { return ignore_merges_; }
  // Whether every one of the 256 bytes is a token.
  bool complete_alphabet() const { return complete_alphabet_; }
  // Tokens in id order and merges in rank order, as raw bytes (for writing the file).
  std::vector<std::pair<std::string, int32_t>> VocabById() const;
  const std::vector<std::pair<int32_t, int32_t>>& merges() const { return merge_list_; }

 private:
  BpeModel() = default;
  void MergeWord(std::string_view word, std::vector<int32_t>* ids) const;

  static uint64_t PairKey(int32_t a, int32_t b) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
  }

  absl::flat_hash_map<std::string, int32_t> vocab_;
  absl::flat_hash_map<int32_t, std::string> vocab_r_;
  std::array<int32_t, 256> byte_ids_{};  // -1: the byte is not a token
  bool complete_alphabet_ = true;
  BpeOptions options_;
  std::array<int32_t, 256> fallback_ids_{};  // char_units: ids of "<0xXX>", -1 if absent
  // Pair -> (rank, merged id).
  absl::flat_hash_map<uint64_t, std::pair<int32_t, int32_t>> merges_;
  std::vector<std::pair<int32_t, int32_t>> merge_list_;
  int32_t max_id_ = -1;
  bool ignore_merges_ = false;
  size_t cache_entries_ = 0;

  uint64_t instance_id_ = 0;  // unique per model, keys the per-thread caches
};

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_BPE_MODEL_H_
