// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0

#include "engine/tokenizer/text/text_tokenizer.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
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

// A string field of a component; InvalidArgument naming it when missing or not a string.
absl::StatusOr<std::string> GetString(const Json& obj, const char* key, std::string_view path) {
  auto it = obj.find(key);
  if (it == obj.end() || !it->is_string()) {
    return Bad(absl::StrCat(std::string(path), ".", key), "missing or not a string");
  }
  return it->get<std::string>();
}

// The {"String": s} pattern of a Replace; a Regex one is refused by name.
absl::StatusOr<std::string> GetStringPattern(const Json& obj, const std::string& path) {
  auto pat = obj.find("pattern");
  if (pat == obj.end() || !pat->is_object() || !pat->contains("String") ||
      !(*pat)["String"].is_string()) {
    return Bad(absl::StrCat(path, ".pattern"), "only {\"String\": ...} is supported");
  }
  return (*pat)["String"].get<std::string>();
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

// Appends the steps of a pre-tokenizer (flattening Sequences) to `steps`.
absl::Status ParsePreTokenizer(const Json& obj, const std::string& path,
                               std::vector<PreTokenizerStep>* steps, int depth = 0) {
  MOT_ASSIGN_OR_RETURN(std::string type, GetType(obj, path));
  if (type == "ByteLevel") {
    MOT_ASSIGN_OR_RETURN(ByteLevelConfig c, ParseByteLevel(obj, path));
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::kByteLevel;
    step.add_prefix_space = c.add_prefix_space;
    step.use_regex = c.use_regex;
    steps->push_back(std::move(step));
    return absl::OkStatus();
  }
  if (type == "Metaspace") {
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::kMetaspace;
    MOT_ASSIGN_OR_RETURN(step.replacement, GetString(obj, "replacement", path));
    if (step.replacement.empty() || !IsValidUtf8(step.replacement) ||
        FirstChar(step.replacement).size() != step.replacement.size()) {
      return Bad(absl::StrCat(path, ".replacement"), "must be one character");
    }
    // prepend_scheme (tokenizers >= 0.15) or the older add_prefix_space (true = "always").
    if (auto ps = obj.find("prepend_scheme"); ps != obj.end() && !ps->is_null()) {
      const std::string scheme = ps->is_string() ? ps->get<std::string>() : "";
      if (scheme == "always") {
        step.prepend = PreTokenizerStep::kAlways;
      } else if (scheme == "first") {
        step.prepend = PreTokenizerStep::kFirst;
      } else if (scheme == "never") {
        step.prepend = PreTokenizerStep::kNever;
      } else {
        return Bad(absl::StrCat(path, ".prepend_scheme"), "must be always, first or never");
      }
    } else {
      MOT_ASSIGN_OR_RETURN(bool add, GetBool(obj, "add_prefix_space", path, true));
      step.prepend = add ? PreTokenizerStep::kAlways : PreTokenizerStep::kNever;
    }
    MOT_ASSIGN_OR_RETURN(step.split_on_replacement, GetBool(obj, "split", path, true));
    if (step.split_on_replacement) {
      // The library splits on the replacement, MergedWithNext ("▁a▁b" -> "▁a", "▁b").
      MOT_ASSIGN_OR_RETURN(step.split,
                           RegexSplitter::Create(step.replacement, /*is_regex=*/false,
                                                 SplitBehavior::kMergedWithNext, false));
    }
    steps->push_back(std::move(step));
    return absl::OkStatus();
  }
  if (type == "Split") {
    auto pat = obj.find("pattern");
    if (pat == obj.end() || !pat->is_object() || pat->size() != 1) {
      return Bad(absl::StrCat(path, ".pattern"), "must be {\"Regex\": ...} or {\"String\": ...}");
    }
    const bool is_regex = pat->contains("Regex");
    if (!is_regex && !pat->contains("String")) {
      return Bad(absl::StrCat(path, ".pattern"), "must be {\"Regex\": ...} or {\"String\": ...}");
    }
    const Json& text = is_regex ? (*pat)["Regex"] : (*pat)["String"];
    if (!text.is_string()) {
      return Bad(absl::StrCat(path, ".pattern.", is_regex ? "Regex" : "String"),
                 "must be a string");
    }
    auto beh = obj.find("behavior");
    if (beh == obj.end() || !beh->is_string()) {
      return Bad(absl::StrCat(path, ".behavior"), "missing or not a string");
    }
    absl::StatusOr<SplitBehavior> behavior = ParseSplitBehavior(beh->get<std::string>());
    if (!behavior.ok()) {
      return Bad(absl::StrCat(path, ".behavior"), std::string(behavior.status().message()));
    }
    MOT_ASSIGN_OR_RETURN(bool invert, GetBool(obj, "invert", path, false));
    absl::StatusOr<std::unique_ptr<RegexSplitter>> splitter =
        RegexSplitter::Create(text.get<std::string>(), is_regex, *behavior, invert);
    if (!splitter.ok()) {
      return Bad(absl::StrCat(path, ".pattern.", is_regex ? "Regex" : "String"),
                 std::string(splitter.status().message()));
    }
    PreTokenizerStep step;
    step.kind = PreTokenizerStep::kSplit;
    step.split = *std::move(splitter);
    steps->push_back(std::move(step));
    return absl::OkStatus();
  }
  if (type == "Sequence") {
    auto seq = obj.find("pretokenizers");
    if (seq == obj.end() || !seq->is_array()) {
      return Bad(absl::StrCat(path, ".pretokenizers"), "must be an array");
    }
    if (depth > 8) return Bad(path, "Sequences nested too deeply");
    for (size_t i = 0; i < seq->size(); ++i) {
      MOT_RETURN_IF_ERROR(ParsePreTokenizer(
          (*seq)[i], absl::StrCat(path, ".pretokenizers[", i, "]"), steps, depth + 1));
    }
    return absl::OkStatus();
  }
  return Bad(
      absl::StrCat(path, ".type"),
      absl::StrCat("\"", type, "\" is not supported (ByteLevel, Split, Metaspace or Sequence)"));
}

// The steps of a normalizer (flattening Sequences).
absl::Status ParseNormalizer(const Json& obj, const std::string& path,
                             std::vector<NormalizerStep>* steps, int depth = 0) {
  MOT_ASSIGN_OR_RETURN(std::string type, GetType(obj, path));
  if (std::optional<NormalForm> f = Normalizer::ParseForm(type)) {
    steps->push_back({NormalizerStep::kForm, *f, "", ""});
    return absl::OkStatus();
  }
  if (type == "Prepend") {
    MOT_ASSIGN_OR_RETURN(std::string prepend, GetString(obj, "prepend", path));
    steps->push_back({NormalizerStep::kPrepend, NormalForm::kNfc, std::move(prepend), ""});
    return absl::OkStatus();
  }
  if (type == "Replace") {
    MOT_ASSIGN_OR_RETURN(std::string pattern, GetStringPattern(obj, path));
    MOT_ASSIGN_OR_RETURN(std::string content, GetString(obj, "content", path));
    if (pattern.empty()) return Bad(absl::StrCat(path, ".pattern"), "must not be empty");
    steps->push_back(
        {NormalizerStep::kReplace, NormalForm::kNfc, std::move(pattern), std::move(content)});
    return absl::OkStatus();
  }
  if (type == "Sequence") {
    auto seq = obj.find("normalizers");
    if (seq == obj.end() || !seq->is_array()) {
      return Bad(absl::StrCat(path, ".normalizers"), "must be an array");
    }
    if (depth > 8) return Bad(path, "Sequences nested too deeply");
    for (size_t i = 0; i < seq->size(); ++i) {
      MOT_RETURN_IF_ERROR(ParseNormalizer((*seq)[i], absl::StrCat(path, ".normalizers[", i, "]"),
                                          steps, depth + 1));
    }
    return absl::OkStatus();
  }
  return Bad(absl::StrCat(path, ".type"),
             absl::StrCat("\"", type,
                          "\" is not supported (NFC, NFD, NFKC, NFKD, Prepend, Replace or "
                          "Sequence)"));
}

// TemplateProcessing's `single` template: the special tokens' ids before and after $A.
absl::Status ParseTemplateProcessing(const Json& obj, const std::string& path,
                                     std::vector<int32_t>* prefix, std::vector<int32_t>* suffix) {
  auto single = obj.find("single");
  if (single == obj.end() || !single->is_array()) {
    return Bad(absl::StrCat(path, ".single"), "missing or not an array");
  }
  auto specials = obj.find("special_tokens");
  if (specials != obj.end() && !specials->is_object()) {
    return Bad(absl::StrCat(path, ".special_tokens"), "must be an object");
  }
  if (auto pair = obj.find("pair"); pair != obj.end() && !pair->is_array() && !pair->is_null()) {
    // Pairs are never encoded here; the field is only checked for shape.
    return Bad(absl::StrCat(path, ".pair"), "must be an array");
  }
  bool seen_a = false;
  for (size_t i = 0; i < single->size(); ++i) {
    const Json& item = (*single)[i];
    const std::string ipath = absl::StrCat(path, ".single[", i, "]");
    if (!item.is_object() || item.size() != 1) {
      return Bad(ipath, "must be {\"SpecialToken\": ...} or {\"Sequence\": ...}");
    }
    if (auto seq = item.find("Sequence"); seq != item.end()) {
      const Json* id = seq->is_object() && seq->contains("id") ? &(*seq)["id"] : nullptr;
      if (id == nullptr || !id->is_string() || id->get<std::string>() != "A") {
        return Bad(ipath, "a single template's sequence must be $A");
      }
      if (seen_a) return Bad(ipath, "$A appears twice");
      seen_a = true;
      continue;
    }
    auto st = item.find("SpecialToken");
    if (st == item.end() || !st->is_object() || !st->contains("id") || !(*st)["id"].is_string()) {
      return Bad(ipath, "must be {\"SpecialToken\": {\"id\": ...}} or {\"Sequence\": ...}");
    }
    const std::string name = (*st)["id"].get<std::string>();
    if (specials == obj.end() || !specials->contains(name)) {
      return Bad(ipath, absl::StrCat("special token \"", name, "\" is not in special_tokens"));
    }
    const Json& entry = (*specials)[name];
    const std::string epath = absl::StrCat(path, ".special_tokens[\"", name, "\"].ids");
    if (!entry.is_object() || !entry.contains("ids") || !entry["ids"].is_array()) {
      return Bad(epath, "missing or not an array");
    }
    for (size_t k = 0; k < entry["ids"].size(); ++k) {
      MOT_ASSIGN_OR_RETURN(int32_t v, GetId(entry["ids"][k], absl::StrCat(epath, "[", k, "]")));
      (seen_a ? suffix : prefix)->push_back(v);
    }
  }
  if (!seen_a) return Bad(absl::StrCat(path, ".single"), "has no $A");
  return absl::OkStatus();
}

// The post-processor (flattening Sequences): ByteLevel (offsets only) and TemplateProcessing.
absl::Status ParsePostProcessor(const Json& obj, const std::string& path,
                                std::vector<int32_t>* prefix, std::vector<int32_t>* suffix,
                                bool* has_template, int depth = 0) {
  MOT_ASSIGN_OR_RETURN(std::string type, GetType(obj, path));
  if (type == "ByteLevel") return absl::OkStatus();
  if (type == "TemplateProcessing") {
    if (*has_template) return Bad(path, "a second TemplateProcessing");
    *has_template = true;
    return ParseTemplateProcessing(obj, path, prefix, suffix);
  }
  if (type == "Sequence") {
    auto seq = obj.find("processors");
    if (seq == obj.end() || !seq->is_array()) {
      return Bad(absl::StrCat(path, ".processors"), "must be an array");
    }
    if (depth > 8) return Bad(path, "Sequences nested too deeply");
    for (size_t i = 0; i < seq->size(); ++i) {
      MOT_RETURN_IF_ERROR(ParsePostProcessor((*seq)[i], absl::StrCat(path, ".processors[", i, "]"),
                                             prefix, suffix, has_template, depth + 1));
    }
    return absl::OkStatus();
  }
  return Bad(absl::StrCat(path, ".type"),
             absl::StrCat("\"", type,
                          "\" is not supported (null, ByteLevel, TemplateProcessing or Sequence)"));
}

// The decoder of a SentencePiece-style file: Metaspace, or a Sequence of Replace (a String
// pattern), ByteFallback, Fuse and Strip(" ", n, 0), as Llama-2's and Mistral's files have.
absl::Status ParseSpelledDecoder(const Json& obj, const std::string& path, SpelledDecoder* d,
                                 int depth = 0) {
  MOT_ASSIGN_OR_RETURN(std::string type, GetType(obj, path));
  if (type == "Metaspace") {
    MOT_ASSIGN_OR_RETURN(d->replace_from, GetString(obj, "replacement", path));
    d->replace_to = " ";
    std::string scheme = "always";
    if (auto ps = obj.find("prepend_scheme"); ps != obj.end() && ps->is_string()) {
      scheme = ps->get<std::string>();
    } else {
      MOT_ASSIGN_OR_RETURN(bool add, GetBool(obj, "add_prefix_space", path, true));
      scheme = add ? "always" : "never";
    }
    d->metaspace = scheme != "never";
    return absl::OkStatus();
  }
  if (type == "Replace") {
    if (!d->replace_from.empty()) return Bad(path, "a second Replace is not supported");
    MOT_ASSIGN_OR_RETURN(d->replace_from, GetStringPattern(obj, path));
    MOT_ASSIGN_OR_RETURN(d->replace_to, GetString(obj, "content", path));
    if (d->replace_from.empty()) return Bad(absl::StrCat(path, ".pattern"), "must not be empty");
    return absl::OkStatus();
  }
  if (type == "ByteFallback") {
    d->byte_fallback = true;
    return absl::OkStatus();
  }
  if (type == "Fuse") return absl::OkStatus();  // we concatenate anyway
  if (type == "Strip") {
    MOT_ASSIGN_OR_RETURN(std::string content, GetString(obj, "content", path));
    auto start = obj.find("start");
    auto stop = obj.find("stop");
    if (content != " " || start == obj.end() || !start->is_number_unsigned() ||
        start->get<uint64_t>() > 8 || stop == obj.end() || !stop->is_number_unsigned() ||
        stop->get<uint64_t>() != 0) {
      return Bad(path, "only Strip of leading spaces (content \" \", stop 0) is supported");
    }
    d->strip_leading_spaces = static_cast<int>(start->get<uint64_t>());
    return absl::OkStatus();
  }
  if (type == "Sequence") {
    auto seq = obj.find("decoders");
    if (seq == obj.end() || !seq->is_array()) {
      return Bad(absl::StrCat(path, ".decoders"), "must be an array");
    }
    if (depth > 0) return Bad(path, "nested Sequences are not supported");
    for (size_t i = 0; i < seq->size(); ++i) {
      MOT_RETURN_IF_ERROR(
          ParseSpelledDecoder((*seq)[i], absl::StrCat(path, ".decoders[", i, "]"), d, depth + 1));
    }
    return absl::OkStatus();
  }
  return Bad(absl::StrCat(path, ".type"),
             absl::StrCat("\"", type,
                          "\" is not supported for a SentencePiece-style BPE (Metaspace, Replace, "
                          "ByteFallback, Fuse, Strip or Sequence)"));
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
  auto tok = FromJsonReleasing(text, &text, limits);
  if (!tok.ok()) return Annotate(tok.status(), path);
  return tok;
}

namespace {

// model.vocab's entries and model.merges' elements, taken out of the document while it is
// parsed (ModelListsCallback) instead of being built into it: as a DOM they were a std::map
// node per token and a json per merge, most of a large file's load peak (a 7.3 MiB, 150k-token
// file peaked at 13.6x its size; bench/results/tokenizer_load_2026-12-02.md). A merge is kept
// as parsed: a string, or the json of any other element (a pair, or something invalid that
// the checks below name).
struct ModelLists {
  bool vocab_captured = false;  // model.vocab was an object and its entries are here
  std::vector<std::pair<std::string, Json>> vocab;
  bool merges_captured = false;  // model.merges was an array and its elements are here
  std::vector<std::string> merge_strings;
  std::vector<Json> merge_others;    // the elements that are not strings
  std::vector<int64_t> merge_order;  // per element: >= 0 an index into merge_strings,
                                     // < 0 ~index into merge_others
};

// The parser callback filling ModelLists: depth 1 is root's keys, 2 model's, 3 the entries
// of model.vocab / the elements of model.merges. Everything else is kept in the document.
class ModelListsCallback {
 public:
  explicit ModelListsCallback(ModelLists* lists) : lists_(lists) {}

  bool operator()(int depth, Json::parse_event_t event, Json& parsed) {
    using E = Json::parse_event_t;
    if (event == E::key && depth <= 2) {
      (depth == 1 ? key1_ : key2_) = parsed.get<std::string>();
      return true;
    }
    const bool in_model = key1_ == "model";
    if (depth == 1 && event == E::object_start && in_model) {
      *lists_ = ModelLists();  // a repeated "model" key: the last one wins, as in the DOM
      return true;
    }
    if (depth == 2 && in_model && (event == E::object_start || event == E::object_end) &&
        key2_ == "vocab") {
      vocab_ = event == E::object_start;
      if (vocab_) {
        lists_->vocab.clear();
        lists_->vocab_captured = true;
      }
      return true;
    }
    if (depth == 2 && in_model && (event == E::array_start || event == E::array_end) &&
        key2_ == "merges") {
      merges_ = event == E::array_start;
      if (merges_) {
        lists_->merge_strings.clear();
        lists_->merge_others.clear();
        lists_->merge_order.clear();
        lists_->merges_captured = true;
      }
      return true;
    }
    if (depth != 3 || !(vocab_ || merges_)) return true;
    const bool complete = event == E::value || event == E::array_end || event == E::object_end;
    if (vocab_) {
      if (event == E::key) {
        vocab_key_ = parsed.get<std::string>();
        return false;
      }
      if (complete) lists_->vocab.emplace_back(std::move(vocab_key_), std::move(parsed));
      return !complete;
    }
    if (complete) {
      if (parsed.is_string()) {
        lists_->merge_order.push_back(static_cast<int64_t>(lists_->merge_strings.size()));
        lists_->merge_strings.push_back(std::move(parsed.get_ref<std::string&>()));
      } else {
        lists_->merge_order.push_back(~static_cast<int64_t>(lists_->merge_others.size()));
        lists_->merge_others.push_back(std::move(parsed));
      }
    }
    return !complete;
  }

 private:
  ModelLists* lists_;
  std::string key1_, key2_, vocab_key_;
  bool vocab_ = false, merges_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<TextTokenizer>> TextTokenizer::FromJson(
    std::string_view text, const TextTokenizerLimits& limits) {
  return FromJsonReleasing(text, nullptr, limits);
}

absl::StatusOr<std::unique_ptr<TextTokenizer>> TextTokenizer::FromJsonReleasing(
    std::string_view text, std::string* text_owner, const TextTokenizerLimits& limits) {
  if (text.size() > limits.max_json_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "tokenizer.json: ", text.size(), " bytes, over max_json_bytes=", limits.max_json_bytes));
  }
  Json root;
  ModelLists lists;
  try {
    root = Json::parse(text.begin(), text.end(), ModelListsCallback(&lists));
  } catch (const Json::exception& e) {
    return Bad("(document)", absl::StrCat("not valid JSON: ", e.what()));
  }
  if (text_owner != nullptr) std::string().swap(*text_owner);
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
      std::vector<NormalizerStep> steps;
      MOT_RETURN_IF_ERROR(ParseNormalizer(*it, "normalizer", &steps));
      if (!steps.empty()) {
        auto n = Normalizer::Create(std::move(steps));
        if (!n.ok()) return Bad("normalizer", std::string(n.status().message()));
        tok->normalizer_ = *std::move(n);
      }
      tok->normalizer_json_ = it->dump();
    }

    // Pre-tokenizer: byte-level (ByteLevel, or Splits ending in one ByteLevel), or
    // SentencePiece-style (none, Metaspace and/or Splits: the vocabulary is spelled as is).
    std::vector<PreTokenizerStep> steps;
    tok->pre_tokenizer_json_ = "null";
    if (auto pt = root.find("pre_tokenizer"); pt != root.end() && !pt->is_null()) {
      MOT_RETURN_IF_ERROR(ParsePreTokenizer(*pt, "pre_tokenizer", &steps));
      tok->pre_tokenizer_json_ = pt->dump();
    }
    size_t byte_levels = 0;
    for (const PreTokenizerStep& step : steps) {
      byte_levels += step.kind == PreTokenizerStep::kByteLevel;
    }
    tok->spelled_ = byte_levels == 0;
    if (!tok->spelled_) {
      if (byte_levels > 1 || steps.back().kind != PreTokenizerStep::kByteLevel) {
        return Bad("pre_tokenizer",
                   "a byte-level BPE needs exactly one ByteLevel pre-tokenizer, the last one");
      }
      for (const PreTokenizerStep& step : steps) {
        if (step.kind == PreTokenizerStep::kMetaspace) {
          return Bad("pre_tokenizer", "Metaspace and ByteLevel together are not supported");
        }
      }
      tok->add_prefix_space_ = steps.back().add_prefix_space;
      tok->use_regex_ = steps.back().use_regex;
      if (steps.size() > 1) tok->steps_ = std::move(steps);
    } else {
      tok->add_prefix_space_ = false;
      tok->use_regex_ = false;
      tok->steps_ = std::move(steps);
    }

    tok->post_processor_json_ = "null";
    if (auto it = root.find("post_processor"); it != root.end() && !it->is_null()) {
      bool has_template = false;
      MOT_RETURN_IF_ERROR(ParsePostProcessor(*it, "post_processor", &tok->template_prefix_,
                                             &tok->template_suffix_, &has_template));
      tok->post_processor_json_ = it->dump();
    }
    tok->decoder_json_ = "null";
    if (auto it = root.find("decoder"); it != root.end() && !it->is_null()) {
      if (!tok->spelled_) {
        MOT_ASSIGN_OR_RETURN(std::string type, GetType(*it, "decoder"));
        if (type != "ByteLevel") {
          return Bad("decoder.type",
                     absl::StrCat("\"", type, "\" is not supported (null or ByteLevel)"));
        }
      } else {
        MOT_RETURN_IF_ERROR(ParseSpelledDecoder(*it, "decoder", &tok->spelled_decoder_));
      }
      tok->decoder_json_ = it->dump();
    } else if (tok->spelled_) {
      return Bad("decoder",
                 "missing: a SentencePiece-style BPE needs its decoder (Metaspace, or Replace / "
                 "ByteFallback / Fuse / Strip)");
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
    if (vi == model.end() || !vi->is_object() || !lists.vocab_captured)
      return Bad("model.vocab", "missing or not an object");
    // byte-level spelling -> id. First each spelling's last entry (a key repeated in the
    // file: the last one wins, as when the document held it), then the ids.
    absl::flat_hash_map<std::string, int32_t> spelled;
    spelled.reserve(lists.vocab.size());
    for (size_t e = 0; e < lists.vocab.size(); ++e) {
      spelled[lists.vocab[e].first] = static_cast<int32_t>(e);
    }
    std::vector<std::pair<std::string, int32_t>> vocab;
    vocab.reserve(lists.vocab.size());
    for (size_t e = 0; e < lists.vocab.size(); ++e) {
      const std::string& key = lists.vocab[e].first;
      auto slot = spelled.find(key);
      if (slot->second != static_cast<int32_t>(e)) continue;
      const std::string path = absl::StrCat("model.vocab[\"", key, "\"]");
      MOT_ASSIGN_OR_RETURN(int32_t id, GetId(lists.vocab[e].second, path));
      slot->second = id;
      if (tok->spelled_) {
        if (key.empty()) return Bad(path, "an empty token");
        vocab.emplace_back(key, id);
        continue;
      }
      std::optional<std::string> bytes = ByteLevelToBytes(key);
      if (bytes && !bytes->empty()) {
        vocab.emplace_back(std::move(*bytes), id);
      } else {
        if (!tok->opaque_tokens_.emplace(id, key).second) {
          return Bad(path, absl::StrCat("id ", id, " is used by two tokens"));
        }
      }
    }
    lists.vocab = {};

    auto mg = model.find("merges");
    std::vector<std::pair<std::string, std::string>> merges;
    if (mg != model.end() && !mg->is_null()) {
      if (!mg->is_array() || !lists.merges_captured) return Bad("model.merges", "must be an array");
      merges.reserve(lists.merge_order.size());
      for (size_t r = 0; r < lists.merge_order.size(); ++r) {
        const int64_t at = lists.merge_order[r];
        const std::string path = absl::StrCat("model.merges[", r, "]");
        std::string a, b;
        if (at >= 0) {
          const std::string& s = lists.merge_strings[static_cast<size_t>(at)];
          const size_t sp = s.find(' ');
          if (sp == std::string::npos || s.find(' ', sp + 1) != std::string::npos) {
            return Bad(path, "a merge string must be two tokens separated by one space");
          }
          a = s.substr(0, sp);
          b = s.substr(sp + 1);
        } else if (const Json& m = lists.merge_others[static_cast<size_t>(~at)];
                   m.is_array() && m.size() == 2 && m[0].is_string() && m[1].is_string()) {
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
        if (tok->spelled_) {
          merges.emplace_back(std::move(a), std::move(b));
          continue;
        }
        std::optional<std::string> ra = ByteLevelToBytes(a);
        std::optional<std::string> rb = ByteLevelToBytes(b);
        // A merge involving a token outside the byte-level alphabet can never apply to
        // byte-level input; it is dropped without changing any encoding.
        if (!ra || !rb || ra->empty() || rb->empty()) continue;
        merges.emplace_back(std::move(*ra), std::move(*rb));
      }
    }
    lists = ModelLists();
    BpeOptions unknown;
    unknown.fuse_unk = tok->fuse_unk_;
    unknown.char_units = tok->spelled_;
    unknown.byte_fallback = tok->spelled_ && tok->byte_fallback_;
    if (tok->model_unk_json_ != "null") {
      const std::string unk = Json::parse(tok->model_unk_json_).get<std::string>();
      auto it = spelled.find(unk);
      // The library looks the unk token up only when it needs it, and then fails; a file
      // whose unk token is not in the vocabulary is refused here, before any text.
      if (it == spelled.end()) {
        return Bad("model.unk_token", absl::StrCat("\"", unk, "\" is not in model.vocab"));
      }
      unknown.unk_id = it->second;
    }
    auto model_or = BpeModel::Create(std::move(vocab), std::move(merges), ignore_merges,
                                     limits.cache_entries, unknown);
    if (!model_or.ok()) return Annotate(model_or.status(), "tokenizer.json");
    tok->model_ = std::move(model_or).value();
    if (!tok->spelled_ && tok->byte_fallback_ && !tok->model_->complete_alphabet()) {
      return Bad("model.byte_fallback",
                 "not supported when the vocabulary lacks some bytes (it would change ids)");
    }
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

void TextTokenizer::EncodeText(std::string_view text, bool first, std::vector<int32_t>* ids) const {
  std::string with_space;
  if (add_prefix_space_ && (text.empty() || text[0] != ' ')) {
    with_space.reserve(text.size() + 1);
    with_space.push_back(' ');
    with_space.append(text);
    text = with_space;
  }
  if (!steps_.empty()) {
    EncodeTextWithSteps(text, first, ids);
    return;
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

void TextTokenizer::EncodeTextWithSteps(std::string_view text, bool first,
                                        std::vector<int32_t>* ids) const {
  // Pieces are owned strings: ByteLevel's add_prefix_space and Metaspace change them.
  std::vector<std::string> pieces = {std::string(text)};
  std::vector<std::string> next;
  std::vector<std::string_view> views;
  for (const PreTokenizerStep& step : steps_) {
    next.clear();
    for (size_t k = 0; k < pieces.size(); ++k) {
      const std::string& piece = pieces[k];
      views.clear();
      if (step.kind == PreTokenizerStep::kSplit) {
        step.split->Split(piece, &views);
        for (std::string_view v : views) next.emplace_back(v);
        continue;
      }
      if (step.kind == PreTokenizerStep::kMetaspace) {
        // Spaces become the replacement; it is prepended (always, or to the piece that
        // starts the input), then the piece is split before each replacement.
        std::string p = absl::StrReplaceAll(piece, {{" ", step.replacement}});
        const bool prepend = step.prepend == PreTokenizerStep::kAlways ||
                             (step.prepend == PreTokenizerStep::kFirst && first && k == 0);
        if (prepend && !p.starts_with(step.replacement)) p.insert(0, step.replacement);
        if (step.split == nullptr) {
          next.push_back(std::move(p));
          continue;
        }
        step.split->Split(p, &views);
        for (std::string_view v : views) next.emplace_back(v);
        continue;
      }
      std::string p = piece;
      if (step.add_prefix_space && (p.empty() || p[0] != ' ')) p.insert(p.begin(), ' ');
      if (!step.use_regex) {
        next.push_back(std::move(p));
        continue;
      }
      splitter_.Split(p, &views);
      for (std::string_view v : views) next.emplace_back(v);
    }
    pieces.swap(next);
  }
  for (const std::string& p : pieces) model_->EncodeWord(p, ids);
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
  if (options.add_special_tokens) ids = template_prefix_;
  if (!text.empty()) {
    std::vector<Match> first;
    if (!trie_[0].empty()) {
      SplitOnAddedTokens(text, false, options.parse_special, &first, 0);
    } else {
      first.push_back({0, text.size(), -1});
    }
    for (const Match& m : first) {
      if (m.id >= 0) {
        ids.push_back(m.id);
        continue;
      }
      // The text between non-normalized added tokens is normalized, then split on the
      // normalized ones (whose spans refer to the normalized text), then pre-tokenized.
      std::string normalized;
      std::string_view segment = text.substr(m.start, m.end - m.start);
      if (normalizer_ != nullptr) {
        normalized = normalizer_->Normalize(segment);
        segment = normalized;
      }
      std::vector<Match> second;
      if (trie_[1].empty()) {
        second.push_back({0, segment.size(), -1});
      } else {
        SplitOnAddedTokens(segment, true, options.parse_special, &second, 0);
      }
      for (const Match& n : second) {
        if (n.id >= 0) {
          ids.push_back(n.id);
        } else if (n.end > n.start) {
          EncodeText(segment.substr(n.start, n.end - n.start), m.start == 0 && n.start == 0, &ids);
        }
      }
    }
  }
  if (options.add_special_tokens) {
    ids.insert(ids.end(), template_suffix_.begin(), template_suffix_.end());
  }
  return ids;
}

bool TextTokenizer::AppendModelToken(int32_t id, bool first, std::string* out) const {
  const std::string* b = model_->TokenBytes(id);
  if (b == nullptr) return false;
  if (!spelled_) {
    out->append(*b);
    return true;
  }
  const SpelledDecoder& d = spelled_decoder_;
  // ByteFallback: "<0xXX>" is the byte XX.
  if (d.byte_fallback && b->size() == 6 && b->starts_with("<0x") && (*b)[5] == '>') {
    unsigned value = 0;
    if (std::sscanf(b->c_str() + 3, "%2X", &value) == 1) {
      out->push_back(static_cast<char>(value));
      return true;
    }
  }
  if (d.replace_from.empty()) {
    out->append(*b);
  } else if (d.metaspace && first) {
    out->append(absl::StrReplaceAll(*b, {{d.replace_from, ""}}));
  } else {
    out->append(absl::StrReplaceAll(*b, {{d.replace_from, d.replace_to}}));
  }
  return true;
}

absl::Status TextTokenizer::AppendTokenBytes(int32_t id, const DecodeOptions& options,
                                             std::string* out) const {
  if (auto it = added_by_id_.find(id); it != added_by_id_.end()) {
    const AddedToken& a = added_tokens_[it->second];
    if (!(a.special && options.skip_special)) out->append(a.content);
    return absl::OkStatus();
  }
  if (AppendModelToken(id, /*first=*/false, out)) return absl::OkStatus();
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
  bool first = true;  // no token has been decoded yet (skipped special tokens do not count)
  for (size_t i = 0; i < ids.size(); ++i) {
    const bool added = added_by_id_.contains(ids[i]);
    if (first && !added && AppendModelToken(ids[i], /*first=*/true, &out)) {
      first = false;
      continue;
    }
    absl::Status s = AppendTokenBytes(ids[i], options, &out);
    if (!s.ok()) return Annotate(s, "decoding ids[", i, "]");
    if (!(added && IsSpecial(ids[i]) && options.skip_special)) first = false;
  }
  // A SentencePiece-style decoder's Strip(" ", n, 0) runs on the fused text.
  for (int k = 0;
       spelled_ && k < spelled_decoder_.strip_leading_spaces && !out.empty() && out[0] == ' ';
       ++k) {
    out.erase(0, 1);
  }
  return out;
}

std::optional<int32_t> TextTokenizer::TokenToId(std::string_view token) const {
  const absl::string_view key(token.data(), token.size());
  if (auto it = added_by_content_.find(key); it != added_by_content_.end()) return it->second;
  if (spelled_) {
    const int32_t id = model_->TokenId(token);
    if (id >= 0) return id;
  } else if (std::optional<std::string> bytes = ByteLevelToBytes(token); bytes && !bytes->empty()) {
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
  if (const std::string* b = model_->TokenBytes(id)) return spelled_ ? *b : BytesToByteLevel(*b);
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
  root["normalizer"] = OrderedJson::parse(normalizer_json_);
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
  auto spell = [this](const std::string& key) { return spelled_ ? key : BytesToByteLevel(key); };
  for (auto& [bytes, id] : model_->VocabById()) vocab.emplace_back(spell(bytes), id);
  for (const auto& [id, s] : opaque_tokens_) vocab.emplace_back(s, id);
  std::sort(vocab.begin(), vocab.end(),
            [](const auto& x, const auto& y) { return x.second < y.second; });
  OrderedJson v = OrderedJson::object();
  for (auto& [s, id] : vocab) v[s] = id;
  model["vocab"] = std::move(v);
  OrderedJson merges = OrderedJson::array();
  for (const auto& [a, b] : model_->merges()) {
    merges.push_back(
        OrderedJson::array({spell(*model_->TokenBytes(a)), spell(*model_->TokenBytes(b))}));
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
