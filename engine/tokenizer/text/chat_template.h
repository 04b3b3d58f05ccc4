// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: engine/tokenizer/text/chat_template.h
// Chat templates: turn a conversation into the prompt text a chat model was trained on, the
// way transformers' `tokenizer.apply_chat_template(messages, tokenize=False,
// add_generation_prompt=...)` does. The template is the Jinja2 source found in a Hugging
// Face tokenizer_config.json ("chat_template": a string, or a list of {"name", "template"}).
// It runs on a small built-in Jinja interpreter (internal/jinja.h) with transformers'
// environment: trim_blocks, lstrip_blocks, loop controls, raise_exception, strftime_now and
// its tojson. For the Jinja subset chat templates use the output is byte-for-byte jinja2's;
// any other construct is refused with InvalidArgument naming it and its line. Templates are
// untrusted input: rendering is bounded by ChatTemplateLimits.
// Not done here: tool definitions and documents (passed as None, as when transformers is
// called without them) and message fields other than role and content.
// Known differences from jinja2, all refusals rather than other output: integers are 64-bit
// (overflow is an error); unknown filters, tests and functions are refused at Parse() even
// in branches that never run (jinja2 defers some to run time); tuples without parentheses,
// printing a bare method, `loop` or a generator are refused or print differently. Case
// mapping (upper, lower, capitalize) is ICU's root-locale full mapping, as Python's.
// Thread rule: a ChatTemplate is immutable after Parse(); Apply() may be called from any
// number of threads at once.
//
// Example:
//   ABSL_ASSIGN_OR_RETURN(ChatTemplateConfig config, ReadChatTemplateConfig(json_text));
//   ABSL_ASSIGN_OR_RETURN(ChatTemplate tmpl, ChatTemplate::Parse(config.source));
//   config.context.add_generation_prompt = true;
//   std::vector<ChatMessage> messages = {{"system", "Be brief."}, {"user", "Hi!"}};
//   ABSL_ASSIGN_OR_RETURN(std::string prompt, tmpl.Apply(messages, config.context));
#ifndef MOT_ENGINE_TOKENIZER_TEXT_CHAT_TEMPLATE_H_
#define MOT_ENGINE_TOKENIZER_TEXT_CHAT_TEMPLATE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"

namespace mot::tokenizer {

namespace jinja {
class Template;
}  // namespace jinja

// One message; the template sees it as the dict {"role": role, "content": content}.
struct ChatMessage {
  std::string role;
  std::string content;
};

struct ChatTemplateLimits {
  // Bound on the rendered prompt and on every string built while rendering.
  size_t max_output_bytes = 8u << 20;
  // Bound on loop iterations summed over all loops (and on the length of range()).
  int64_t max_loop_iterations = 1'000'000;
};

// The variables a template sees besides `messages`. `tools` and `documents` are always None.
struct ChatTemplateContext {
  std::string bos_token;
  std::string eos_token;
  bool add_generation_prompt = false;
  // Further string variables (unk_token, pad_token, date_string, ...). A name given here
  // replaces bos_token/eos_token/add_generation_prompt/tools/documents of the same name;
  // a later entry replaces an earlier one.
  std::vector<std::pair<std::string, std::string>> variables;
  ChatTemplateLimits limits;
};

class ChatTemplate {
 public:
  // Parses a Jinja2 chat template. InvalidArgument ("chat template line N: ...") for a
  // syntax error or a construct outside the supported subset: macros, call/filter blocks,
  // include/import/extends, raw, unknown filters, tests or functions.
  static absl::StatusOr<ChatTemplate> Parse(std::string_view source);

  // Renders `messages` (in order) with `ctx`. On success the prompt text. Errors:
  // InvalidArgument for a template error at run time, naming its line, e.g. "'x' is
  // undefined" misused or a type error; a raise_exception(msg) call gives InvalidArgument
  // whose message ends with msg (templates use it to reject bad role order).
  // ResourceExhausted when ctx.limits is passed. Nothing is kept between calls.
  absl::StatusOr<std::string> Apply(std::span<const ChatMessage> messages,
                                    const ChatTemplateContext& ctx) const;

 private:
  std::shared_ptr<const jinja::Template> template_;
};

// What tokenizer_config.json holds for chat: the template source and the special tokens.
struct ChatTemplateConfig {
  std::string source;
  // bos_token and eos_token filled from the config's "bos_token"/"eos_token" (a string or
  // an AddedToken object {"content": ...}; "" when absent or null); unk_token, pad_token,
  // sep_token, cls_token and mask_token, when present, in `variables` (transformers passes
  // every special token it has). add_generation_prompt is false.
  ChatTemplateContext context;
};

// Reads the chat template of a tokenizer_config.json text. "chat_template" may be a string
// or a list of {"name": ..., "template": ...}: the one named "default" is taken, else the
// first. InvalidArgument for malformed JSON or fields of the wrong type (naming the field);
// NotFound when there is no chat template.
absl::StatusOr<ChatTemplateConfig> ReadChatTemplateConfig(std::string_view tokenizer_config_json);

}  // namespace mot::tokenizer

#endif  // MOT_ENGINE_TOKENIZER_TEXT_CHAT_TEMPLATE_H_
