// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/text/text_tokenizer.h
// TextTokenizer: byte-level BPE read from and written to the Hugging Face `tokenizer.json`
// format, giving the same ids as the `tokenizers` library for what it supports:
//   model        BPE (vocab; merges as "a b" strings or [a, b] pairs; ignore_merges;
//                dropout null/0; no continuing_subword_prefix / end_of_word_suffix;
//                unk_token / fuse_unk for bytes the vocabulary lacks, see bpe_model.h),
//   pre_tokenizer ByteLevel (add_prefix_space, use_regex), or a Sequence of Split
//                pre-tokenizers (a regex or string pattern, any behavior, invert; see
//                internal/regex_split.h, e.g. Llama-3's and Qwen2's patterns) ending in one
//                ByteLevel (typically use_regex false),
//   normalizer   null, NFC, NFD, NFKC, NFKD or a Sequence of them (internal/normalizer.h),
//   post_processor null, ByteLevel, TemplateProcessing (its `single` template: special
//                tokens around one $A, added when EncodeOptions::add_special_tokens), or a
//                Sequence of those;
//   decoder      null or ByteLevel;  truncation / padding null;
//   added_tokens special and non-special, with single_word / lstrip / rstrip / normalized
//                (the input is split on the non-normalized ones first, leftmost-longest;
//                the text between them is normalized and then split on the normalized
//                ones, as the library does).
// Anything else is an InvalidArgument error naming its JSON path. byte_fallback is kept for
// ToJson() and refused when the vocabulary lacks a byte (it would then change ids).
// Decode() always maps tokens back to their bytes (the ByteLevel decoder's job), whatever
// `decoder` says; it does not undo a normalizer.
// Round trip: Decode(Encode(text)) == text for every byte string, invalid UTF-8 included,
// when add_prefix_space is false, there is no normalizer, every byte is a token, the Split
// behaviors do not remove text, and no matched added token has lstrip/rstrip (those drop
// the bytes they absorb, like the library). See internal/byte_level.h for how invalid
// UTF-8 is split. Ids are the tokenizer's own; the unified vocabulary offsets them.
// Limits: TextTokenizerLimits (input bytes per Encode call, tokenizer.json size).
// Thread rule: immutable after creation; every const method may be called concurrently.
#ifndef MOT_ENGINE_TOKENIZER_TEXT_TEXT_TOKENIZER_H_
#define MOT_ENGINE_TOKENIZER_TEXT_TEXT_TOKENIZER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "engine/tokenizer/text/internal/bpe_model.h"
#include "engine/tokenizer/text/internal/byte_level.h"
#include "engine/tokenizer/text/internal/normalizer.h"
#include "engine/tokenizer/text/internal/regex_split.h"

namespace mot::tokenizer {

// One entry of tokenizer.json's "added_tokens" (defaults: what the library writes for a
// special token).
struct AddedToken {
  int32_t id = 0;
  std::string content;
  bool single_word = false;
  bool lstrip = false;
  bool rstrip = false;
  bool normalized = false;
  bool special = true;
};

struct TextTokenizerLimits {
  // Encode() refuses longer inputs with ResourceExhausted naming "max_input_bytes". Encode
  // needs up to ~24 bytes of scratch per byte of its longest pre-tokenized word, so the
  // default (8 MiB) bounds one call's memory at ~200 MB even for one giant word.
  size_t max_input_bytes = size_t{8} << 20;
  // FromJson()/FromFile() refuse larger files with ResourceExhausted naming
  // "max_json_bytes".
  size_t max_json_bytes = size_t{512} << 20;
  // Entries of the per-tokenizer word cache (0 disables it).
  size_t cache_entries = BpeModel::kDefaultCacheEntries;
};

struct EncodeOptions {
  // false: special added tokens in the text are not recognised and are encoded as plain
  // text (the library's `encode_special_tokens = True`); non-special added tokens still are.
  bool parse_special = true;
  // true: the post-processor's special tokens (TemplateProcessing's `single`, e.g. Llama-3's
  // <|begin_of_text|>) around the ids, as the library's encode(add_special_tokens=True).
  // false (the default): none; the prompt builder places special tokens itself.
  bool add_special_tokens = false;
};

struct DecodeOptions {
  bool skip_special = false;
};

// One pre-tokenizer of a chain; internal to TextTokenizer.
struct PreTokenizerStep {
  enum Kind { kByteLevel, kSplit, kMetaspace } kind = kByteLevel;
  std::unique_ptr<RegexSplitter> split;  // kSplit; kMetaspace when it splits on `replacement`
  bool add_prefix_space = false;         // kByteLevel
  bool use_regex = true;                 // kByteLevel
  std::string replacement;               // kMetaspace: spaces become this ("▁")
  enum Prepend { kAlways, kFirst, kNever } prepend = kAlways;  // kMetaspace
  bool split_on_replacement = true;                            // kMetaspace
};

// The decoder of a SentencePiece-style file; internal to TextTokenizer.
struct SpelledDecoder {
  std::string replace_from, replace_to;  // Replace (or Metaspace: replacement -> " ")
  bool byte_fallback = false;            // "<0xXX>" tokens are that byte
  int strip_leading_spaces = 0;          // Strip(" ", start, 0) after Fuse
  bool metaspace = false;                // Metaspace: the first token loses every replacement
};

class TextTokenizer {
 public:
  // Parses `json` (the text of a tokenizer.json). Errors: InvalidArgument naming the JSON
  // path ("model.merges[12]: ...") or the parse position; ResourceExhausted over
  // max_json_bytes.
  static absl::StatusOr<std::unique_ptr<TextTokenizer>> FromJson(
      std::string_view json, const TextTokenizerLimits& limits = {});
  // Reads and parses a file; NotFound if it cannot be opened, else as FromJson, with the
  // path prepended to the message.
  static absl::StatusOr<std::unique_ptr<TextTokenizer>> FromFile(
      const std::string& path, const TextTokenizerLimits& limits = {});

  // Builds a tokenizer from raw-byte tokens and merges (what the trainer produces), with
  // the ByteLevel pre-tokenizer and decoder. Errors as BpeModel::Create, and for added
  // tokens that are empty, not valid UTF-8, or reuse an id of a different token.
  static absl::StatusOr<std::unique_ptr<TextTokenizer>> FromParts(
      std::vector<std::pair<std::string, int32_t>> vocab,
      std::vector<std::pair<std::string, std::string>> merges, std::vector<AddedToken> added_tokens,
      bool add_prefix_space = false, const TextTokenizerLimits& limits = {});

  // The ids of `text` (any bytes). ResourceExhausted if text.size() > max_input_bytes.
  absl::StatusOr<std::vector<int32_t>> Encode(std::string_view text,
                                              const EncodeOptions& options = {}) const;

  // The bytes of `ids` concatenated. InvalidArgument naming the index of an unknown id.
  absl::StatusOr<std::string> Decode(std::span<const int32_t> ids,
                                     const DecodeOptions& options = {}) const;
  // Appends the bytes of one id (nothing for a special token when skip_special).
  absl::Status AppendTokenBytes(int32_t id, const DecodeOptions& options, std::string* out) const;

  // Id of an added token by its content, else of a model token by its byte-level spelling
  // (as in the file's vocab, e.g. "Ġthe"); nullopt if none.
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The byte-level spelling of a model token or the content of an added token.
  std::optional<std::string> IdToToken(int32_t id) const;
  bool IsSpecial(int32_t id) const;

  // Largest id + 1 over the model and the added tokens.
  int32_t vocab_size() const { return vocab_size_; }
  const std::vector<AddedToken>& added_tokens() const { return added_tokens_; }
  const BpeModel& model() const { return *model_; }
  size_t max_input_bytes() const { return limits_.max_input_bytes; }

  // tokenizer.json text for this tokenizer (loadable by the `tokenizers` library).
  std::string ToJson() const;
  // Writes ToJson() to `path`; Internal/PermissionDenied-style errors name the path.
  absl::Status Save(const std::string& path) const;

 private:
  // FromJson; when `text_owner` is set (it holds `json`), it is emptied once the document is
  // parsed, so the file's text is not resident while the tables are built.
  static absl::StatusOr<std::unique_ptr<TextTokenizer>> FromJsonReleasing(
      std::string_view json, std::string* text_owner, const TextTokenizerLimits& limits);
  struct Match {
    size_t start, end;  // byte span in the text
    int32_t id;         // -1: plain text
  };
  TextTokenizer() = default;
  absl::Status Init(std::vector<AddedToken> added_tokens);
  void SplitOnAddedTokens(std::string_view text, bool normalized_group, bool parse_special,
                          std::vector<Match>* out, size_t base) const;
  // `first`: the text starts the input (Metaspace's prepend_scheme "first").
  void EncodeText(std::string_view text, bool first, std::vector<int32_t>* ids) const;
  // EncodeText for a pre-tokenizer other than one ByteLevel: runs steps_ in order.
  void EncodeTextWithSteps(std::string_view text, bool first, std::vector<int32_t>* ids) const;
  // The text of model token `id` (the bytes; spelled_: the decoder's text), `first` when it
  // is the first token of a Decode(). False when `id` is not a model token.
  bool AppendModelToken(int32_t id, bool first, std::string* out) const;

  TextTokenizerLimits limits_;
  std::unique_ptr<BpeModel> model_;
  ByteLevelSplitter splitter_;
  bool add_prefix_space_ = false;  // of the final ByteLevel step
  bool use_regex_ = true;
  std::vector<PreTokenizerStep> steps_;  // empty: ByteLevel alone (the fast path)
  // SentencePiece-style (no ByteLevel pre-tokenizer): the vocabulary is spelled as is, BPE
  // starts from characters, and spelled_decoder_ turns tokens back into text.
  bool spelled_ = false;
  SpelledDecoder spelled_decoder_;
  std::unique_ptr<Normalizer> normalizer_;  // null: none
  // TemplateProcessing's `single`: ids before and after the text ($A).
  std::vector<int32_t> template_prefix_, template_suffix_;
  int32_t vocab_size_ = 0;
  std::vector<AddedToken> added_tokens_;
  absl::flat_hash_map<std::string, int32_t> added_by_content_;
  absl::flat_hash_map<int32_t, int32_t> added_by_id_;  // id -> index in added_tokens_
  // Per group (0: normalized=false, 1: normalized=true): a byte trie of the group's
  // added tokens (node 0 is the root; `token` indexes added_tokens_, -1 if none ends
  // there), so the longest token at a position is found in O(its length).
  struct TrieNode {
    absl::flat_hash_map<uint8_t, int32_t> next;
    int32_t token = -1;
  };
  std::vector<TrieNode> trie_[2];
  bool first_byte_[2][256] = {};  // bytes that start some token of the group
  // Vocab entries whose spelling is outside the byte-level alphabet (never produced by
  // Encode; decoded as their UTF-8 text, as the library's decoder does).
  absl::flat_hash_map<int32_t, std::string> opaque_tokens_;
  // Serialized JSON of the parts kept as read (written back by ToJson()).
  std::string normalizer_json_ = "null";
  std::string pre_tokenizer_json_;
  std::string post_processor_json_;
  std::string decoder_json_;
  std::string model_unk_json_ = "null";
  bool fuse_unk_ = false;
  bool byte_fallback_ = false;
};

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_TEXT_TEXT_TOKENIZER_H_
