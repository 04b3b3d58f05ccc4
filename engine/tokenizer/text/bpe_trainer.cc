// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0

#include "engine/tokenizer/text/bpe_trainer.h"

#include <algorithm>
#include <queue>
#include <tuple>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/text/internal/byte_level.h"
#include "engine/tokenizer/text/utf8.h"

namespace mot::tokenizer {
namespace {

uint64_t Key(int32_t a, int32_t b) {
  return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
}

struct HeapEntry {
  int64_t count;
  uint64_t pair;
  // Max-heap on count; among equal counts the smallest pair key (left id, then right id).
  bool operator<(const HeapEntry& o) const {
    return count != o.count ? count < o.count : pair > o.pair;
  }
};

}  // namespace

absl::StatusOr<std::unique_ptr<TextTokenizer>> TrainByteLevelBpe(
    std::span<const std::string> corpus, const BpeTrainerOptions& options) {
  const int32_t k = static_cast<int32_t>(options.special_tokens.size());
  if (options.vocab_size < k + 256) {
    return absl::InvalidArgumentError(absl::StrCat("BPE trainer: vocab_size=", options.vocab_size,
                                                   " is below special tokens (", k,
                                                   ") + 256 bytes"));
  }
  absl::flat_hash_set<std::string> seen;
  for (size_t i = 0; i < options.special_tokens.size(); ++i) {
    const std::string& s = options.special_tokens[i];
    if (s.empty() || !IsValidUtf8(s) || !seen.insert(s).second) {
      return absl::InvalidArgumentError(absl::StrCat("BPE trainer: special_tokens[", i,
                                                     "] is empty, not valid UTF-8 or repeated"));
    }
  }

  // 1. Count words.
  ByteLevelSplitter splitter;
  absl::flat_hash_map<std::string, int64_t> counts;
  std::vector<std::string_view> pieces;
  auto count_text = [&](std::string_view text) {
    if (text.empty()) return;
    std::string spaced;
    if (options.add_prefix_space && text[0] != ' ') {
      spaced = absl::StrCat(" ", std::string(text));
      text = spaced;
    }
    pieces.clear();
    splitter.Split(text, &pieces);
    for (std::string_view p : pieces) ++counts[std::string(p)];
  };
  for (const std::string& doc : corpus) {
    std::string_view text = doc;
    size_t start = 0, pos = 0;
    while (pos < text.size()) {
      size_t best = 0;
      for (const std::string& s : options.special_tokens) {
        if (s.size() > best && text.compare(pos, s.size(), s) == 0) best = s.size();
      }
      if (best == 0) {
        ++pos;
        continue;
      }
      count_text(text.substr(start, pos - start));
      pos += best;
      start = pos;
    }
    count_text(text.substr(start));
  }
  std::vector<std::pair<std::string, int64_t>> sorted(counts.begin(), counts.end());
  std::sort(sorted.begin(), sorted.end());

  // 2. Initial vocabulary.
  std::vector<std::string> tokens;  // id -> raw bytes ("" for specials not in the model)
  absl::flat_hash_map<std::string, int32_t> token_ids;
  std::vector<std::pair<std::string, int32_t>> vocab;
  for (int32_t i = 0; i < k; ++i) {
    const std::string& s = options.special_tokens[i];
    tokens.push_back(s);
    // A special token also sits in the model vocab (as the library's trainer does) when its
    // text is its own byte-level spelling, so the written file reads the same both ways.
    if (BytesToByteLevel(s) == s) {
      token_ids.emplace(s, i);
      vocab.emplace_back(s, i);
    }
  }
  for (int b = 0; b < 256; ++b) {
    const std::string s(1, static_cast<char>(b));
    const int32_t id = k + b;
    tokens.push_back(s);
    if (!token_ids.emplace(s, id).second) {
      // A one-byte special token: unusual but legal; the byte keeps its own id.
      token_ids[s] = id;
      vocab.erase(
          std::remove_if(vocab.begin(), vocab.end(), [&](const auto& v) { return v.first == s; }),
          vocab.end());
    }
    vocab.emplace_back(s, id);
  }

  std::vector<std::vector<int32_t>> words(sorted.size());
  std::vector<int64_t> freq(sorted.size());
  absl::flat_hash_map<uint64_t, int64_t> pair_count;
  absl::flat_hash_map<uint64_t, absl::flat_hash_set<int32_t>> where;
  for (size_t w = 0; w < sorted.size(); ++w) {
    freq[w] = sorted[w].second;
    for (char c : sorted[w].first) words[w].push_back(k + static_cast<uint8_t>(c));
    for (size_t i = 0; i + 1 < words[w].size(); ++i) {
      const uint64_t p = Key(words[w][i], words[w][i + 1]);
      pair_count[p] += freq[w];
      where[p].insert(static_cast<int32_t>(w));
    }
  }
  std::priority_queue<HeapEntry> heap;
  for (const auto& [p, c] : pair_count) heap.push({c, p});

  // 3. Merge.
  std::vector<std::pair<std::string, std::string>> merges;
  int32_t next_id = k + 256;
  absl::flat_hash_set<uint64_t> changed;
  while (next_id < options.vocab_size && !heap.empty()) {
    const HeapEntry top = heap.top();
    heap.pop();
    auto pc = pair_count.find(top.pair);
    if (pc == pair_count.end() || pc->second != top.count) continue;  // stale
    if (top.count < options.min_frequency || top.count <= 0) break;
    const int32_t a = static_cast<int32_t>(top.pair >> 32);
    const int32_t b = static_cast<int32_t>(top.pair & 0xFFFFFFFFu);
    std::string merged = tokens[a] + tokens[b];
    int32_t new_id;
    if (auto it = token_ids.find(merged); it != token_ids.end()) {
      new_id = it->second;
    } else {
      new_id = next_id++;
      tokens.push_back(merged);
      token_ids.emplace(merged, new_id);
      vocab.emplace_back(merged, new_id);
    }
    merges.emplace_back(tokens[a], tokens[b]);

    auto wit = where.find(top.pair);
    std::vector<int32_t> affected(wit->second.begin(), wit->second.end());
    where.erase(wit);
    changed.clear();
    for (int32_t w : affected) {
      std::vector<int32_t>& sym = words[w];
      const int64_t f = freq[w];
      bool any = false;
      for (size_t i = 0; i + 1 < sym.size(); ++i) {
        if (sym[i] == a && sym[i + 1] == b) {
          any = true;
          break;
        }
      }
      if (!any) continue;
      for (size_t i = 0; i + 1 < sym.size(); ++i) {
        const uint64_t p = Key(sym[i], sym[i + 1]);
        pair_count[p] -= f;
        changed.insert(p);
      }
      std::vector<int32_t> out;
      out.reserve(sym.size());
      for (size_t i = 0; i < sym.size(); ++i) {
        if (i + 1 < sym.size() && sym[i] == a && sym[i + 1] == b) {
          out.push_back(new_id);
          ++i;
        } else {
          out.push_back(sym[i]);
        }
      }
      sym = std::move(out);
      for (size_t i = 0; i + 1 < sym.size(); ++i) {
        const uint64_t p = Key(sym[i], sym[i + 1]);
        pair_count[p] += f;
        changed.insert(p);
        where[p].insert(w);
      }
    }
    for (uint64_t p : changed) {
      auto it = pair_count.find(p);
      if (it->second > 0) {
        heap.push({it->second, p});
      } else {
        pair_count.erase(it);
      }
    }
  }

  std::vector<AddedToken> added;
  for (int32_t i = 0; i < k; ++i) {
    AddedToken t;
    t.id = i;
    t.content = options.special_tokens[i];
    added.push_back(std::move(t));
  }
  return TextTokenizer::FromParts(std::move(vocab), std::move(merges), std::move(added),
                                  options.add_prefix_space);
}

}  // namespace mot::tokenizer
