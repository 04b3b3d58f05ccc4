// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0

#include "engine/tokenizer/text/text_tokenizer.h"

#include <algorithm>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "engine/core/status_macros.h"
#include "engine/tokenizer/text/utf8.h"
#include "nlohmann/json.hpp"
#include "re2/re2.h"

namespace mot::tokenizer {
namespace {

using Json = nlohmann::json;
using OrderedJson = nlohmann::ordered_json;

absl::Status Bad(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("tokenizer.json: ", std::string(path), ": ", std::string(what)));
}

std::string TypeName(const Json& j) { return j.type_name(); }

// Reads an optional boolean field; a missing or null field gives `def`.
absl::StatusOr<bool> GetBool(const Json& obj, const char* key, std::string_view path, bool def) {
  auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return def;
  if (!it->is_boolean()) {
    return Bad(absl::StrCat(std::string(path), ".", key),
               absl::StrCat("must be a boolean, got ", TypeName(*it)));
  }
  return it->get<bool>();
}

absl::StatusOr<int32_t> GetId(const Json& j, std::string_view path) {
  if (!j.is_number_integer()) {
    return Bad(path, absl::StrCat("must be a non-negative integer id, got ", TypeName(j)));
  }
  if (j.is_number_unsigned()) {
    const uint64_t v = j.get<uint64_t>();
    if (v > static_cast<uint64_t>(INT32_MAX)) return Bad(path, "id is over 2^31-1");
    return static_cast<int32_t>(v);
  }
  const int64_t v = j.get<int64_t>();
  if (v < 0 || v > INT32_MAX) return Bad(path, absl::StrCat("id out of range: ", v));
  return static_cast<int32_t>(v);
}

// The `type` string of a component object ("" when absent).
absl::StatusOr<std::string> GetType(const Json& obj, std::string_view path) {
  if (!obj.is_object()) {
    return Bad(path, absl::StrCat("must be an object or null, got ", TypeName(obj)));
  }
  auto it = obj.find("type");
  if (it == obj.end()) return std::string();
  if (!it->is_string()) return Bad(absl::StrCat(std::string(path), ".type"), "must be a string");
  return it->get<std::string>();
}

struct ByteLevelConfig {
  bool add_prefix_space = true;
  bool use_regex = true;
};

absl::StatusOr<ByteLevelConfig> ParseByteLevel(const Json& obj, std::string_view path) {
  ByteLevelConfig c;
  MOT_ASSIGN_OR_RETURN(c.add_prefix_space, GetBool(obj, "add_prefix_space", path, true));
  MOT_ASSIGN_OR_RETURN(c.use_regex, GetBool(obj, "use_regex", path, true));
  MOT_ASSIGN_OR_RETURN(bool trim, GetBool(obj, "trim_offsets", path, true));
  (void)trim;  // offsets only; ids do not depend on it
  return c;
}

// \w as the library's Rust regex sees it (Unicode word characters), for single_word.
const RE2& WordCharRe() {
  static const RE2* re = new RE2(R"([\p{L}\p{Nl}\p{M}\p{Nd}\p{Pc}\x{200C}\x{200D}])");
  return *re;
}

bool IsWordChar(std::string_view ch) {
  return RE2::FullMatch(re2::StringPiece(ch.data(), ch.size()), WordCharRe());
}

// The character (a well-formed one, else a single byte) that ends `s`.
std::string_view LastChar(std::string_view s) {
  size_t i = s.size() - 1;
  size_t steps = 0;
  while (i > 0 && steps < 3 && (static_cast<uint8_t>(s[i]) & 0xC0) == 0x80) {
    --i;
    ++steps;
  }
  const Utf8Prefix c = ClassifyUtf8Prefix(s.substr(i));
  if (c.kind == Utf8Prefix::kComplete && i + c.length == s.size()) return s.substr(i);
  return s.substr(s.size() - 1);
}

std::string_view FirstChar(std::string_view s) {
  const Utf8Prefix c = ClassifyUtf8Prefix(s);
  return s.substr(0, c.kind == Utf8Prefix::kComplete ? c.length : 1);
}

bool IsWhiteSpaceChar(std::string_view ch) {
  const Utf8Prefix c = ClassifyUtf8Prefix(ch);
  return c.kind == Utf8Prefix::kComplete && c.length == ch.size() &&
         IsUnicodeWhiteSpace(c.code_point);
}

constexpr char kDefaultByteLevelDecoder[] =
    R"({"type":"ByteLevel","add_prefix_space":true,"trim_offsets":true,"use_regex":true})";

}  // namespace

absl::StatusOr<std::unique_ptr<TextTokenizer>> TextTokenizer::FromFile(
    const std::string& path, const TextTokenizerLimits& limits) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open tokenizer file"));
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  if (size < 0) return absl::DataLossError(absl::StrCat(path, ": cannot read"));
  if (static_cast<size_t>(size) > limits.max_json_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        path, ": file is ", size, " bytes, over max_json_bytes=", limits.max_json_bytes));
  }
  in.seekg(0);
  std::string text(static_cast<size_t>(size), '\0');
  if (!in.read(text.data(), size)) {
    return absl::DataLossError(absl::StrCat(path, ": short read"));
  }
  auto tok = FromJson(text, limits);
  if (!tok.ok()) return Annotate(tok.status(), path);
  return tok;
}

absl::StatusOr<std::unique_ptr<TextTokenizer>> TextTokenizer::FromJson(
    std::string_view text, const TextTokenizerLimits& limits) {
  if (text.size() > limits.max_json_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tokenizer.json: ", text.size(), " bytes, over max_json_bytes=", limits.max_json_bytes));
  }
  Json root;
  try {
    root = Json::parse(text.begin(), text.end());
  } catch (const Json::exception& e) {
    return Bad("(document)", absl::StrCat("not valid JSON: ", e.what()));
  }
  if (!root.is_object()) return Bad("(document)", "must be a JSON object");

  std::unique_ptr<TextTokenizer> tok(new TextTokenizer);
  tok->limits_ = limits;
  try {
    for (const char* key : {"truncation", "padding"}) {
      auto it = root.find(key);
      if (it != root.end() && !it->is_null()) {
        return Bad(key, "not supported (must be null): ids would depend on it");
      }
    }
    if (auto it = root.find("normalizer"); it != root.end() && !it->is_null()) {
      MOT_ASSIGN_OR_RETURN(std::string type, GetType(*it, "normalizer"));
      return Bad("normalizer", absl::StrCat("type \"", type, "\" is not supported (only null)"));
    }

    // Pre-tokenizer: ByteLevel, alone or as the only element of a Sequence.
    auto pt = root.find("pre_tokenizer");
    if (pt == root.end() || pt->is_null()) {
      return Bad("pre_tokenizer", "missing: a byte-level BPE needs the ByteLevel pre-tokenizer");
    }
    MOT_ASSIGN_OR_RETURN(std::string pt_type, GetType(*pt, "pre_tokenizer"));
    const Json* byte_level = nullptr;
    std::string bl_path = "pre_tokenizer";
    if (pt_type == "ByteLevel") {
      byte_level = &*pt;
    } else if (pt_type == "Sequence") {
      auto seq = pt->find("pretokenizers");
      if (seq == pt->end() || !seq->is_array()) {
        return Bad("pre_tokenizer.pretokenizers", "must be an array");
      }
      if (seq->size() != 1) {
        return Bad("pre_tokenizer.pretokenizers",
                   absl::StrCat("only a Sequence of one ByteLevel is supported, got ", seq->size(),
                                " elements"));
      }
      bl_path = "pre_tokenizer.pretokenizers[0]";
      MOT_ASSIGN_OR_RETURN(std::string t0, GetType((*seq)[0], bl_path));
      if (t0 != "ByteLevel") {
        return Bad(absl::StrCat(bl_path, ".type"),
                   absl::StrCat("\"", t0, "\" is not supported (only ByteLevel)"));
      }
      byte_level = &(*seq)[0];
    } else {
      return Bad("pre_tokenizer.type",
                 absl::StrCat("\"", pt_type, "\" is not supported (ByteLevel or Sequence)"));
    }
    MOT_ASSIGN_OR_RETURN(ByteLevelConfig blc, ParseByteLevel(*byte_level, bl_path));
    tok->add_prefix_space_ = blc.add_prefix_space;
    tok->use_regex_ = blc.use_regex;
    tok->pre_tokenizer_json_ = pt->dump();

    tok->post_processor_json_ = "null";
    if (auto it = root.find("post_processor"); it != root.end() && !it->is_null()) {
      MOT_ASSIGN_OR_RETURN(std::string type, GetType(*it, "post_processor"));
      if (type != "ByteLevel") {
        return Bad("post_processor.type",
                   absl::StrCat("\"", type, "\" is not supported (null or ByteLevel)"));
      }
      tok->post_processor_json_ = it->dump();
    }
    tok->decoder_json_ = "null";
    if (auto it = root.find("decoder"); it != root.end() && !it->is_null()) {
      MOT_ASSIGN_OR_RETURN(std::string type, GetType(*it, "decoder"));
      if (type != "ByteLevel") {
        return Bad("decoder.type",
                   absl::StrCat("\"", type, "\" is not supported (null or ByteLevel)"));
      }
      tok->decoder_json_ = it->dump();
    }

    // Model.
    auto mi = root.find("model");
    if (mi == root.end() || !mi->is_object()) return Bad("model", "missing or not an object");
    const Json& model = *mi;
    MOT_ASSIGN_OR_RETURN(std::string mtype, GetType(model, "model"));
    if (!mtype.empty() && mtype != "BPE") {
      return Bad("model.type", absl::StrCat("\"", mtype, "\" is not supported (only BPE)"));
    }
    if (auto it = model.find("dropout"); it != model.end() && !it->is_null()) {
      if (!it->is_number() || it->get<double>() != 0.0) {
        return Bad("model.dropout", "only null or 0 is supported (encoding is deterministic)");
      }
    }
    for (const char* key : {"continuing_subword_prefix", "end_of_word_suffix"}) {
      auto it = model.find(key);
      if (it != model.end() && !it->is_null() &&
          !(it->is_string() && it->get<std::string>().empty())) {
        return Bad(absl::StrCat("model.", key), "not supported (must be null)");
      }
    }
    if (auto it = model.find("unk_token"); it != model.end() && !it->is_null()) {
      if (!it->is_string()) return Bad("model.unk_token", "must be a string or null");
      tok->model_unk_json_ = it->dump();
    }
    MOT_ASSIGN_OR_RETURN(tok->fuse_unk_, GetBool(model, "fuse_unk", "model", false));
    MOT_ASSIGN_OR_RETURN(tok->byte_fallback_, GetBool(model, "byte_fallback", "model", false));
    MOT_ASSIGN_OR_RETURN(bool ignore_merges, GetBool(model, "ignore_merges", "model", false));

    auto vi = model.find("vocab");
    if (vi == model.end() || !vi->is_object())
      return Bad("model.vocab", "missing or not an object");
    std::vector<std::pair<std::string, int32_t>> vocab;
    vocab.reserve(vi->size());
    absl::flat_hash_map<std::string, int32_t> spelled;  // byte-level spelling -> id
    spelled.reserve(vi->size());
    for (auto it = vi->begin(); it != vi->end(); ++it) {
      const std::string path = absl::StrCat("model.vocab[\"", it.key(), "\"]");
      MOT_ASSIGN_OR_RETURN(int32_t id, GetId(it.value(), path));
      spelled[it.key()] = id;
      std::optional<std::string> bytes = ByteLevelToBytes(it.key());
      if (bytes && !bytes->empty()) {
        vocab.emplace_back(std::move(*bytes), id);
      } else {
        if (!tok->opaque_tokens_.emplace(id, it.key()).second) {
          return Bad(path, absl::StrCat("id ", id, " is used by two tokens"));
        }
      }
    }

    auto mg = model.find("merges");
    std::vector<std::pair<std::string, std::string>> merges;
    if (mg != model.end() && !mg->is_null()) {
      if (!mg->is_array()) return Bad("model.merges", "must be an array");
      merges.reserve(mg->size());
      for (size_t r = 0; r < mg->size(); ++r) {
        const Json& m = (*mg)[r];
        const std::string path = absl::StrCat("model.merges[", r, "]");
        std::string a, b;
        if (m.is_string()) {
          const std::string s = m.get<std::string>();
          const size_t sp = s.find(' ');
          if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
            return Bad(path, "a merge string must be two tokens separated by one space");
          }
          a = s.substr(0, sp);
          b = s.substr(sp + 1);
        } else if (m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
          a = m[0].get<std::string>();
          b = m[1].get<std::string>();
        } else {
          return Bad(path, "must be a string \"a b\" or a pair [\"a\", \"b\"]");
        }
        if (!spelled.contains(a) || !spelled.contains(b)) {
          return Bad(path, absl::StrCat("token \"", spelled.contains(a) ? b : a,
                                        "\" is not in model.vocab"));
        }
        if (!spelled.contains(a + b)) {
          return Bad(path, absl::StrCat("merged token \"", a + b, "\" is not in model.vocab"));
        }
        std::optional<std::string> ra = ByteLevelToBytes(a);
        std::optional<std::string> rb = ByteLevelToBytes(b);
        // A merge involving a token outside the byte-level alphabet can never apply to
        // byte-level input; it is dropped without changing any encoding.
        if (!ra || !rb || ra->empty() || rb->empty()) continue;
        merges.emplace_back(std::move(*ra), std::move(*rb));
      }
    }
    auto model_or =
        BpeModel::Create(std::move(vocab), std::move(merges), ignore_merges, limits.cache_entries);
    if (!model_or.ok()) return Annotate(model_or.status(), "tokenizer.json");
    tok->model_ = std::move(model_or).value();
    for (const auto& [id, s] : tok->opaque_tokens_) {
      if (tok->model_->TokenBytes(id) != nullptr) {
        return Bad("model.vocab", absl::StrCat("id ", id, " is used by two tokens"));
      }
    }

    // Added tokens.
    std::vector<AddedToken> added;
    if (auto at = root.find("added_tokens"); at != root.end() && !at->is_null()) {
      if (!at->is_array()) return Bad("added_tokens", "must be an array");
      for (size_t i = 0; i < at->size(); ++i) {
        const Json& t = (*at)[i];
        const std::string path = absl::StrCat("added_tokens[", i, "]");
        if (!t.is_object()) return Bad(path, "must be an object");
        AddedToken a;
        auto id = t.find("id");
        if (id == t.end()) return Bad(absl::StrCat(path, ".id"), "missing");
        MOT_ASSIGN_OR_RETURN(a.id, GetId(*id, absl::StrCat(path, ".id")));
        auto content = t.find("content");
        if (content == t.end() || !content->is_string()) {
          return Bad(absl::StrCat(path, ".content"), "missing or not a string");
        }
        a.content = content->get<std::string>();
        MOT_ASSIGN_OR_RETURN(a.single_word, GetBool(t, "single_word", path, false));
        MOT_ASSIGN_OR_RETURN(a.lstrip, GetBool(t, "lstrip", path, false));
        MOT_ASSIGN_OR_RETURN(a.rstrip, GetBool(t, "rstrip", path, false));
        MOT_ASSIGN_OR_RETURN(a.special, GetBool(t, "special", path, false));
        MOT_ASSIGN_OR_RETURN(a.normalized, GetBool(t, "normalized", path, !a.special));
        added.push_back(std::move(a));
      }
    }
    MOT_RETURN_IF_ERROR(tok->Init(std::move(added)));
  } catch (const Json::exception& e) {
    return Bad("(document)", absl::StrCat("unexpected structure: ", e.what()));
  }
  return tok;
}

absl::StatusOr<std::unique_ptr<TextTokenizer>> TextTokenizer::FromParts(
    std::vector<std::pair<std::string, int32_t>> vocab,
    std::vector<std::pair<std::string, std::string>> merges, std::vector<AddedToken> added_tokens,
    bool add_prefix_space, const TextTokenizerLimits& limits) {
  std::unique_ptr<TextTokenizer> tok(new TextTokenizer);
  tok->limits_ = limits;
  tok->add_prefix_space_ = add_prefix_space;
  tok->use_regex_ = true;
  tok->pre_tokenizer_json_ = absl::StrCat(R"({"type":"ByteLevel","add_prefix_space":)",
                                          add_prefix_space ? "true" : "false",
                                          R"(,"trim_offsets":true,"use_regex":true})");
  tok->post_processor_json_ = "null";
  tok->decoder_json_ = kDefaultByteLevelDecoder;
  MOT_ASSIGN_OR_RETURN(tok->model_,
                       BpeModel::Create(std::move(vocab), std::move(merges),
                                        /*ignore_merges=*/false, limits.cache_entries));
  MOT_RETURN_IF_ERROR(tok->Init(std::move(added_tokens)));
  return tok;
}

absl::Status TextTokenizer::Init(std::vector<AddedToken> added_tokens) {
  int32_t max_id = model_->max_id();
  for (const auto& [id, s] : opaque_tokens_) max_id = std::max(max_id, id);
  added_tokens_ = std::move(added_tokens);
  for (size_t i = 0; i < added_tokens_.size(); ++i) {
    const AddedToken& a = added_tokens_[i];
    const std::string path = absl::StrCat("added_tokens[", i, "]");
    if (a.content.empty()) return Bad(absl::StrCat(path, ".content"), "must not be empty");
    if (!IsValidUtf8(a.content)) {
      return Bad(absl::StrCat(path, ".content"), "must be valid UTF-8");
    }
    if (a.id < 0) return Bad(absl::StrCat(path, ".id"), "must be non-negative");
    if (!added_by_id_.emplace(a.id, static_cast<int32_t>(i)).second) {
      return Bad(absl::StrCat(path, ".id"), absl::StrCat("id ", a.id, " is used twice"));
    }
    if (!added_by_content_.emplace(a.content, a.id).second) {
      return Bad(absl::StrCat(path, ".content"), absl::StrCat("\"", a.content, "\" appears twice"));
    }
    // An added token may share its id with a model token only if it is the same text.
    const std::string* model_bytes = model_->TokenBytes(a.id);
    if (model_bytes != nullptr && *model_bytes != a.content) {
      return Bad(absl::StrCat(path, ".id"),
                 absl::StrCat("id ", a.id, " is a different model token"));
    }
    if (auto it = opaque_tokens_.find(a.id);
        it != opaque_tokens_.end() && it->second != a.content) {
      return Bad(absl::StrCat(path, ".id"),
                 absl::StrCat("id ", a.id, " is a different model token"));
    }
    const int g = a.normalized ? 1 : 0;
    std::vector<TrieNode>& trie = trie_[g];
    if (trie.empty()) trie.emplace_back();
    int32_t node = 0;
    for (char c : a.content) {
      auto it = trie[node].next.find(static_cast<uint8_t>(c));
      if (it == trie[node].next.end()) {
        trie.emplace_back();
        const int32_t child = static_cast<int32_t>(trie.size() - 1);
        trie[node].next.emplace(static_cast<uint8_t>(c), child);
        node = child;
      } else {
        node = it->second;
      }
    }
    trie[node].token = static_cast<int32_t>(i);
    first_byte_[g][static_cast<uint8_t>(a.content[0])] = true;
    max_id = std::max(max_id, a.id);
  }
  vocab_size_ = max_id + 1;
  return absl::OkStatus();
}

void TextTokenizer::SplitOnAddedTokens(std::string_view text, bool normalized_group,
                                       bool parse_special, std::vector<Match>* out,
                                       size_t base) const {
  const int g = normalized_group ? 1 : 0;
  size_t start_offset = 0;
  size_t pos = 0;
  const std::vector<TrieNode>& trie = trie_[g];
  const bool* starts = first_byte_[g];
  while (pos < text.size()) {
    if (!starts[static_cast<uint8_t>(text[pos])]) {
      ++pos;
      continue;
    }
    const auto first = trie[0].next.find(static_cast<uint8_t>(text[pos]));
    // Leftmost-longest: the longest token that starts at the first position with a match.
    int32_t best = -1;
    size_t best_len = 0;
    int32_t node = first->second;
    for (size_t i = pos + 1;; ++i) {
      if (trie[node].token >= 0) {
        best = trie[node].token;
        best_len = i - pos;
      }
      if (i >= text.size()) break;
      auto it = trie[node].next.find(static_cast<uint8_t>(text[i]));
      if (it == trie[node].next.end()) break;
      node = it->second;
    }
    if (best < 0) {
      ++pos;
      continue;
    }
    size_t start = pos;
    size_t stop = pos + best_len;
    pos = stop;  // the next search starts after this match, as the library's iterator does
    const AddedToken& a = added_tokens_[best];
    if (a.special && !parse_special) continue;
    if (a.single_word) {
      const bool start_ok = start == 0 || !IsWordChar(LastChar(text.substr(0, start)));
      const bool stop_ok = stop == text.size() || !IsWordChar(FirstChar(text.substr(stop)));
      if (!start_ok || !stop_ok) continue;
    }
    if (a.lstrip) {
      size_t s = start;
      while (s > 0) {
        std::string_view ch = LastChar(text.substr(0, s));
        if (!IsWhiteSpaceChar(ch)) break;
        s -= ch.size();
      }
      start = std::max(s, start_offset);
    }
    if (a.rstrip) {
      while (stop < text.size()) {
        std::string_view ch = FirstChar(text.substr(stop));
        if (!IsWhiteSpaceChar(ch)) break;
        stop += ch.size();
      }
    }
    if (start_offset < start) out->push_back({base + start_offset, base + start, -1});
    out->push_back({base + start, base + stop, a.id});
    start_offset = stop;
  }
  if (start_offset < text.size()) out->push_back({base + start_offset, base + text.size(), -1});
}

void TextTokenizer::EncodeText(std::string_view text, std::vector<int32_t>* ids) const {
  std::string with_space;
  if (add_prefix_space_ && (text.empty() || text[0] != ' ')) {
    with_space.reserve(text.size() + 1);
    with_space.push_back(' ');
    with_space.append(text);
    text = with_space;
  }
  if (!use_regex_) {
    model_->EncodeWord(text, ids);
    return;
  }
  thread_local std::vector<std::string_view> pieces;
  pieces.clear();
  splitter_.Split(text, &pieces);
  for (std::string_view p : pieces) model_->EncodeWord(p, ids);
}

absl::StatusOr<std::vector<int32_t>> TextTokenizer::Encode(std::string_view text,
                                                           const EncodeOptions& options) const {
  if (text.size() > limits_.max_input_bytes) {
    return absl::ResourceExhaustedError(
        absl::StrCat("text tokenizer: input is ", text.size(),
                     " bytes, over max_input_bytes=", limits_.max_input_bytes));
  }
  std::vector<int32_t> ids;
  ids.reserve(text.size() / 3 + 4);
  if (text.empty()) return ids;
  std::vector<Match> first;
  if (!trie_[0].empty()) {
    SplitOnAddedTokens(text, false, options.parse_special, &first, 0);
  } else {
    first.push_back({0, text.size(), -1});
  }
  std::vector<Match> second;
  for (const Match& m : first) {
    if (m.id >= 0 || trie_[1].empty()) {
      second.push_back(m);
    } else {
      SplitOnAddedTokens(text.substr(m.start, m.end - m.start), true, options.parse_special,
                         &second, m.start);
    }
  }
  for (const Match& m : second) {
    if (m.id >= 0) {
      ids.push_back(m.id);
    } else if (m.end > m.start) {
      EncodeText(text.substr(m.start, m.end - m.start), &ids);
    }
  }
  return ids;
}

absl::Status TextTokenizer::AppendTokenBytes(int32_t id, const DecodeOptions& options,
                                             std::string* out) const {
  if (auto it = added_by_id_.find(id); it != added_by_id_.end()) {
    const AddedToken& a = added_tokens_[it->second];
    if (!(a.special && options.skip_special)) out->append(a.content);
    return absl::OkStatus();
  }
  if (const std::string* b = model_->TokenBytes(id)) {
    out->append(*b);
    return absl::OkStatus();
  }
  if (auto it = opaque_tokens_.find(id); it != opaque_tokens_.end()) {
    out->append(it->second);
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "text tokenizer: id ", id, " is not in the vocabulary (size ", vocab_size_, ")"));
}

absl::StatusOr<std::string> TextTokenizer::Decode(std::span<const int32_t> ids,
                                                  const DecodeOptions& options) const {
  std::string out;
  out.reserve(ids.size() * 4);
  for (size_t i = 0; i < ids.size(); ++i) {
    absl::Status s = AppendTokenBytes(ids[i], options, &out);
    if (!s.ok()) return Annotate(s, "decoding ids[", i, "]");
  }
  return out;
}

std::optional<int32_t> TextTokenizer::TokenToId(std::string_view token) const {
  const absl::string_view key(token.data(), token.size());
  if (auto it = added_by_content_.find(key); it != added_by_content_.end()) return it->second;
  if (std::optional<std::string> bytes = ByteLevelToBytes(token); bytes && !bytes->empty()) {
    const int32_t id = model_->TokenId(*bytes);
    if (id >= 0) return id;
  }
  for (const auto& [id, s] : opaque_tokens_) {
    if (s == token) return id;
  }
  return std::nullopt;
}

std::optional<std::string> TextTokenizer::IdToToken(int32_t id) const {
  if (auto it = added_by_id_.find(id); it != added_by_id_.end()) {
    return added_tokens_[it->second].content;
  }
  if (const std::string* b = model_->TokenBytes(id)) return BytesToByteLevel(*b);
  if (auto it = opaque_tokens_.find(id); it != opaque_tokens_.end()) return it->second;
  return std::nullopt;
}

bool TextTokenizer::IsSpecial(int32_t id) const {
  auto it = added_by_id_.find(id);
  return it != added_by_id_.end() && added_tokens_[it->second].special;
}

std::string TextTokenizer::ToJson() const {
  OrderedJson root;
  root["version"] = "1.0";
  root["truncation"] = nullptr;
  root["padding"] = nullptr;
  OrderedJson added = OrderedJson::array();
  for (const AddedToken& a : added_tokens_) {
    OrderedJson t;
    t["id"] = a.id;
    t["content"] = a.content;
    t["single_word"] = a.single_word;
    t["lstrip"] = a.lstrip;
    t["rstrip"] = a.rstrip;
    t["normalized"] = a.normalized;
    t["special"] = a.special;
    added.push_back(std::move(t));
  }
  root["added_tokens"] = std::move(added);
  root["normalizer"] = nullptr;
  root["pre_tokenizer"] = OrderedJson::parse(pre_tokenizer_json_);
  root["post_processor"] = OrderedJson::parse(post_processor_json_);
  root["decoder"] = OrderedJson::parse(decoder_json_);
  OrderedJson model;
  model["type"] = "BPE";
  model["dropout"] = nullptr;
  model["unk_token"] = OrderedJson::parse(model_unk_json_);
  model["continuing_subword_prefix"] = nullptr;
  model["end_of_word_suffix"] = nullptr;
  model["fuse_unk"] = fuse_unk_;
  model["byte_fallback"] = byte_fallback_;
  model["ignore_merges"] = model_->ignore_merges();
  std::vector<std::pair<std::string, int32_t>> vocab;
  for (auto& [bytes, id] : model_->VocabById()) vocab.emplace_back(BytesToByteLevel(bytes), id);
  for (const auto& [id, s] : opaque_tokens_) vocab.emplace_back(s, id);
  std::sort(vocab.begin(), vocab.end(),
            [](const auto& x, const auto& y) { return x.second < y.second; });
  OrderedJson v = OrderedJson::object();
  for (auto& [s, id] : vocab) v[s] = id;
  model["vocab"] = std::move(v);
  OrderedJson merges = OrderedJson::array();
  for (const auto& [a, b] : model_->merges()) {
    merges.push_back(OrderedJson::array(
        {BytesToByteLevel(*model_->TokenBytes(a)), BytesToByteLevel(*model_->TokenBytes(b))}));
  }
  model["merges"] = std::move(merges);
  root["model"] = std::move(model);
  return root.dump(2, ' ', false, OrderedJson::error_handler_t::replace);
}

absl::Status TextTokenizer::Save(const std::string& path) const {
  const std::string json = ToJson();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat(path, ": cannot open for writing"));
  out.write(json.data(), static_cast<std::streamsize>(json.size()));
  out.close();
  if (!out) return absl::DataLossError(absl::StrCat(path, ": write failed"));
  return absl::OkStatus();
}

}  // namespace mot::tokenizer
