// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0

#include "engine/tokenizer/text/internal/bpe_model.h"

#include <algorithm>
#include <atomic>
#include <queue>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "engine/tokenizer/text/utf8.h"

namespace mot::tokenizer {
namespace {

using WordCache = absl::flat_hash_map<std::string, std::vector<int32_t>>;

std::atomic<uint64_t> next_instance_id{1};

// The calling thread's cache for model `id`: a small most-recently-used list of caches, so
// a thread that alternates between a few tokenizers keeps all their caches, and caches of
// destroyed models are dropped as new ones come.
WordCache& ThreadCache(uint64_t id) {
  thread_local std::vector<std::pair<uint64_t, std::unique_ptr<WordCache>>> caches;
  for (size_t i = 0; i < caches.size(); ++i) {
    if (caches[i].first == id) {
      if (i != 0) std::swap(caches[i], caches[0]);
      return *caches[0].second;
    }
  }
  if (caches.size() >= BpeModel::kCachedModelsPerThread) caches.pop_back();
  caches.insert(caches.begin(), {id, std::make_unique<WordCache>()});
  return *caches[0].second;
}

}  // namespace

absl::StatusOr<std::unique_ptr<BpeModel>> BpeModel::Create(
    std::vector<std::pair<std::string, int32_t>> vocab,
    std::vector<std::pair<std::string, std::string>> merges, bool ignore_merges,
    size_t cache_entries, BpeOptions options) {
  std::unique_ptr<BpeModel> m(new BpeModel);
  m->options_ = options;
  m->ignore_merges_ = ignore_merges;
  m->cache_entries_ = cache_entries;
  m->instance_id_ = next_instance_id.fetch_add(1);
  m->vocab_.reserve(vocab.size());
  m->vocab_r_.reserve(vocab.size());
  for (auto& [bytes, id] : vocab) {
    if (id < 0) {
      return absl::InvalidArgumentError(absl::StrCat("model.vocab: token has negative id ", id));
    }
    if (bytes.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("model.vocab: empty token with id ", id));
    }
    if (!m->vocab_r_.emplace(id, bytes).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.vocab: id ", id, " is used by two tokens"));
    }
    if (!m->vocab_.emplace(bytes, id).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.vocab: token with id ", id, " appears twice"));
    }
    m->max_id_ = std::max(m->max_id_, id);
  }
  for (int b = 0; b < 256; ++b) {
    auto it = m->vocab_.find(std::string(1, static_cast<char>(b)));
    m->byte_ids_[b] = it == m->vocab_.end() ? -1 : it->second;
    if (it == m->vocab_.end()) m->complete_alphabet_ = false;
    auto fb = m->vocab_.find(absl::StrFormat("<0x%02X>", b));
    m->fallback_ids_[b] = fb == m->vocab_.end() ? -1 : fb->second;
  }
  m->merges_.reserve(merges.size());
  m->merge_list_.reserve(merges.size());
  for (size_t r = 0; r < merges.size(); ++r) {
    const auto& [a, b] = merges[r];
    auto ia = m->vocab_.find(a);
    auto ib = m->vocab_.find(b);
    auto ic = m->vocab_.find(a + b);
    if (ia == m->vocab_.end() || ib == m->vocab_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.merges[", r, "]: a part of the merge is not in model.vocab"));
    }
    if (ic == m->vocab_.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("model.merges[", r, "]: the merged token is not in model.vocab"));
    }
    // A pair listed twice keeps its last rank, as in the library's loader.
    m->merges_.insert_or_assign(PairKey(ia->second, ib->second),
                                std::make_pair(static_cast<int32_t>(r), ic->second));
    m->merge_list_.emplace_back(ia->second, ib->second);
  }
  return m;
}

const std::string* BpeModel::TokenBytes(int32_t id) const {
  auto it = vocab_r_.find(id);
  return it == vocab_r_.end() ? nullptr : &it->second;
}

int32_t BpeModel::TokenId(std::string_view bytes) const {
  auto it = vocab_.find(absl::string_view(bytes.data(), bytes.size()));
  return it == vocab_.end() ? -1 : it->second;
}

std::vector<std::pair<std::string, int32_t>> BpeModel::VocabById() const {
  std::vector<std::pair<std::string, int32_t>> out(vocab_.begin(), vocab_.end());
  std::sort(out.begin(), out.end(),
            [](const auto& x, const auto& y) { return x.second < y.second; });
  return out;
}

void BpeModel::EncodeWord(std::string_view word, std::vector<int32_t>* ids) const {
  if (word.empty()) return;
  if (word.size() == 1 && complete_alphabet_ && !options_.char_units) {
    ids->push_back(byte_ids_[static_cast<uint8_t>(word[0])]);
    return;
  }
  if (ignore_merges_) {
    if (auto it = vocab_.find(absl::string_view(word.data(), word.size())); it != vocab_.end()) {
      ids->push_back(it->second);
      return;
    }
  }
  if (cache_entries_ == 0 || word.size() > kMaxCachedWordBytes) {
    MergeWord(word, ids);
    return;
  }
  WordCache& cache = ThreadCache(instance_id_);
  if (auto it = cache.find(absl::string_view(word.data(), word.size())); it != cache.end()) {
    ids->insert(ids->end(), it->second.begin(), it->second.end());
    return;
  }
  const size_t start = ids->size();
  MergeWord(word, ids);
  if (cache.size() < cache_entries_) {
    cache.try_emplace(std::string(word), ids->begin() + start, ids->end());
  }
}

void BpeModel::MergeWord(std::string_view word, std::vector<int32_t>* ids) const {
  struct Symbol {
    int32_t id;  // -1 once merged into its left neighbour
    int32_t prev;
    int32_t next;
  };
  std::vector<Symbol> sym;
  sym.reserve(word.size());
  auto push = [&sym](int32_t id) {
    const int32_t i = static_cast<int32_t>(sym.size());
    sym.push_back({id, i - 1, -1});
    if (i > 0) sym[i - 1].next = i;
  };
  // A unit without a token: the unk token (fused with an unk just before it), or nothing,
  // as the library does with a character missing from the vocabulary.
  auto unknown = [&](bool* prev_unk) {
    if (options_.unk_id < 0) return;
    if (!(options_.fuse_unk && *prev_unk)) push(options_.unk_id);
    *prev_unk = true;
  };
  bool prev_unk = false;
  if (!options_.char_units) {
    for (char c : word) {
      const int32_t id = byte_ids_[static_cast<uint8_t>(c)];
      if (id < 0) {
        unknown(&prev_unk);
      } else {
        push(id);
        prev_unk = false;
      }
    }
  } else {
    for (size_t pos = 0; pos < word.size();) {
      const Utf8Prefix c = ClassifyUtf8Prefix(word.substr(pos));
      const size_t len = c.kind == Utf8Prefix::kComplete ? c.length : 1;
      const std::string_view ch = word.substr(pos, len);
      pos += len;
      if (auto it = vocab_.find(absl::string_view(ch.data(), ch.size())); it != vocab_.end()) {
        push(it->second);
        prev_unk = false;
        continue;
      }
      bool all = options_.byte_fallback;
      for (char b : ch) all = all && fallback_ids_[static_cast<uint8_t>(b)] >= 0;
      if (all) {
        for (char b : ch) push(fallback_ids_[static_cast<uint8_t>(b)]);
        prev_unk = false;
        continue;
      }
      unknown(&prev_unk);
    }
  }
  const int n = static_cast<int>(sym.size());
  if (n == 0) return;
  // Candidate merge of the symbol at `pos` with its successor; ordered by rank, then
  // position (leftmost first). Stale entries are detected when popped.
  struct Cand {
    int32_t rank;
    int32_t pos;
    int32_t new_id;
    bool operator>(const Cand& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
  };
  std::vector<Cand> storage;
  storage.reserve(n);
  std::priority_queue<Cand, std::vector<Cand>, std::greater<Cand>> heap(std::greater<Cand>(),
                                                                        std::move(storage));
  auto push_pair = [&](int pos) {
    const int nx = sym[pos].next;
    if (nx < 0) return;
    auto it = merges_.find(PairKey(sym[pos].id, sym[nx].id));
    if (it != merges_.end()) heap.push({it->second.first, pos, it->second.second});
  };
  for (int i = 0; i + 1 < n; ++i) push_pair(i);
  while (!heap.empty()) {
    const Cand c = heap.top();
    heap.pop();
    Symbol& left = sym[c.pos];
    if (left.id < 0 || left.next < 0) continue;
    Symbol& right = sym[left.next];
    auto it = merges_.find(PairKey(left.id, right.id));
    if (it == merges_.end() || it->second.first != c.rank) continue;  // stale entry
    left.id = c.new_id;
    right.id = -1;
    left.next = right.next;
    if (right.next >= 0) sym[right.next].prev = c.pos;
    if (left.prev >= 0) push_pair(left.prev);
    push_pair(c.pos);
  }
  for (int i = 0; i >= 0; i = sym[i].next) ids->push_back(sym[i].id);
}

}  // namespace mot::tokenizer
