// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/text/internal/jinja.h
// A small Jinja2 interpreter for chat templates: lexer, parser and tree-walking evaluator of
// the subset that Hugging Face chat templates use, with the environment transformers uses
// (ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True), loop controls, the
// `raise_exception` and `strftime_now` globals, and its own `tojson`). Output is byte-for-byte
// what jinja2 3.1 renders for the supported subset; anything outside it (macros, call blocks,
// unknown tags, filters, tests or functions) is refused with InvalidArgument naming the
// construct and its line, at Parse() where jinja2 refuses at compile time, else at Render().
// Templates come from untrusted files: parsing depth, loop iterations and the size of every
// string built are bounded (Limits). Not meant for anything but chat templates; use
// mot::tokenizer::ChatTemplate (chat_template.h), not this header.
// Thread rule: a parsed Template is immutable; Render() may be called from any thread.
#ifndef MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_JINJA_H_
#define MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_JINJA_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace mot::tokenizer::jinja {

class Value;
using DictItems = std::vector<std::pair<std::string, Value>>;

// A template value with Python semantics: Undefined, None, bool, int, float, str, list,
// dict (insertion-ordered, string keys), namespace (the one mutable object) and the
// global functions (only callable by name). Lists and dicts are shared and immutable.
class Value {
 public:
  enum class Kind {
    kUndefined,
    kNone,
    kBool,
    kInt,
    kFloat,
    kString,
    kList,
    kDict,
    kNamespace,
    kFunction
  };

  Value() = default;  // Undefined.
  static Value Undefined(std::string hint);
  static Value None();
  static Value Bool(bool b);
  static Value Int(int64_t i);
  static Value Float(double f);
  static Value String(std::string s);
  static Value List(std::vector<Value> items);
  // A list that prints as a Python tuple, "(a, b)" (what dict.items() yields).
  static Value Tuple(std::vector<Value> items);
  static Value Dict(DictItems items);
  static Value Namespace(DictItems items);
  static Value Function(std::string name);

  Kind kind() const { return kind_; }
  bool is_undefined() const { return kind_ == Kind::kUndefined; }
  bool boolean() const { return b_; }  // kBool; for kList: whether it is a tuple
  int64_t integer() const { return i_; }
  double real() const { return f_; }
  // The string of kString; the name of kFunction; for kUndefined why it is undefined
  // ("'x' is undefined"), used when it is then misused.
  const std::string& str() const { return s_; }
  const std::vector<Value>& list() const { return *list_; }
  const DictItems& dict() const { return *dict_; }
  DictItems& mutable_namespace() const { return *dict_; }
  // The value under `key` of a dict or namespace, or nullptr.
  const Value* Find(std::string_view key) const;

 private:
  Kind kind_ = Kind::kUndefined;
  bool b_ = false;
  int64_t i_ = 0;
  double f_ = 0;
  std::string s_;
  std::shared_ptr<const std::vector<Value>> list_;
  std::shared_ptr<DictItems> dict_;
};

struct Limits {
  // Bound on the rendered output and on every string or list built while rendering.
  size_t max_output_bytes = 8u << 20;
  // Bound on loop iterations, summed over all loops (and on the length of range()).
  int64_t max_loop_iterations = 1'000'000;
};

struct Node;

class Template {
 public:
  // Parses `source`. InvalidArgument, naming the line, for a syntax error or an unsupported
  // construct.
  static absl::StatusOr<Template> Parse(std::string_view source);

  // Renders with `globals` as the top-level variables (the functions range, namespace,
  // raise_exception and strftime_now are always there unless shadowed). Errors:
  // InvalidArgument for a template error at run time (with its line; raise_exception's
  // message is carried as it is), ResourceExhausted when a limit is passed.
  absl::StatusOr<std::string> Render(const DictItems& globals, const Limits& limits) const;

 private:
  std::shared_ptr<const Node> root_;
};

}  // namespace mot::tokenizer::jinja

#endif  // MOT_ENGINE_TOKENIZER_TEXT_INTERNAL_JINJA_H_
