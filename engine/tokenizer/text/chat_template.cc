// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0

#include "engine/tokenizer/text/chat_template.h"

#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "engine/tokenizer/text/internal/jinja.h"
#include "nlohmann/json.hpp"

namespace mot::tokenizer {
namespace {

using Json = nlohmann::json;

absl::Status BadConfig(std::string_view path, std::string_view what) {
  return absl::InvalidArgumentError(
      absl::StrCat("tokenizer_config.json ", std::string(path), ": ", std::string(what)));
}

// A special token field: a string, null, or an AddedToken object {"content": "..."}.
absl::StatusOr<std::optional<std::string>> TokenField(const Json& root, const char* key) {
  auto it = root.find(key);
  if (it == root.end() || it->is_null()) return std::nullopt;
  if (it->is_string()) return it->get<std::string>();
  if (it->is_object()) {
    auto c = it->find("content");
    if (c != it->end() && c->is_string()) return c->get<std::string>();
  }
  return BadConfig(key, absl::StrCat("must be a string or an object with a string \"content\","
                                     " not ",
                                     it->type_name()));
}

}  // namespace

absl::StatusOr<ChatTemplate> ChatTemplate::Parse(std::string_view source) {
  auto parsed = jinja::Template::Parse(source);
  if (!parsed.ok()) return parsed.status();
  ChatTemplate t;
  t.template_ = std::make_shared<const jinja::Template>(std::move(*parsed));
  return t;
}

absl::StatusOr<std::string> ChatTemplate::Apply(std::span<const ChatMessage> messages,
                                                const ChatTemplateContext& ctx) const {
  std::vector<jinja::Value> list;
  list.reserve(messages.size());
  for (const ChatMessage& m : messages) {
    list.push_back(jinja::Value::Dict(
        {{"role", jinja::Value::String(m.role)}, {"content", jinja::Value::String(m.content)}}));
  }
  // What transformers passes: messages, tools, documents, add_generation_prompt, then the
  // special tokens and extra variables (which win on a clash).
  jinja::DictItems globals = {
      {"messages", jinja::Value::List(std::move(list))},
      {"tools", jinja::Value::None()},
      {"documents", jinja::Value::None()},
      {"add_generation_prompt", jinja::Value::Bool(ctx.add_generation_prompt)},
      {"bos_token", jinja::Value::String(ctx.bos_token)},
      {"eos_token", jinja::Value::String(ctx.eos_token)},
  };
  for (const auto& [name, value] : ctx.variables) {
    globals.emplace_back(name, jinja::Value::String(value));
  }
  jinja::Limits limits;
  limits.max_output_bytes = ctx.limits.max_output_bytes;
  limits.max_loop_iterations = ctx.limits.max_loop_iterations;
  return template_->Render(globals, limits);
}

absl::StatusOr<ChatTemplateConfig> ReadChatTemplateConfig(std::string_view tokenizer_config_json) {
  Json root;
  try {
    root = Json::parse(tokenizer_config_json.begin(), tokenizer_config_json.end());
  } catch (const Json::exception& e) {
    return BadConfig("(document)", absl::StrCat("not valid JSON: ", e.what()));
  }
  if (!root.is_object()) return BadConfig("(document)", "must be a JSON object");
  ChatTemplateConfig config;
  auto it = root.find("chat_template");
  if (it == root.end() || it->is_null()) {
    return absl::NotFoundError("tokenizer_config.json has no \"chat_template\"");
  }
  if (it->is_string()) {
    config.source = it->get<std::string>();
  } else if (it->is_array()) {
    const Json* chosen = nullptr;
    for (size_t i = 0; i < it->size(); ++i) {
      const Json& entry = (*it)[i];
      const std::string path = absl::StrCat("chat_template[", i, "]");
      if (!entry.is_object()) return BadConfig(path, "must be an object");
      auto name = entry.find("name");
      auto tmpl = entry.find("template");
      if (name == entry.end() || !name->is_string()) {
        return BadConfig(path + ".name", "must be a string");
      }
      if (tmpl == entry.end() || !tmpl->is_string()) {
        return BadConfig(path + ".template", "must be a string");
      }
      if (chosen == nullptr || name->get<std::string>() == "default") {
        if (chosen == nullptr || (*chosen)["name"] != "default") chosen = &entry;
      }
    }
    if (chosen == nullptr) return absl::NotFoundError("tokenizer_config.json: chat_template is []");
    config.source = (*chosen)["template"].get<std::string>();
  } else {
    return BadConfig("chat_template", absl::StrCat("must be a string or a list of "
                                                   "{\"name\", \"template\"}, not ",
                                                   it->type_name()));
  }
  for (const char* key : {"bos_token", "eos_token", "unk_token", "pad_token", "sep_token",
                          "cls_token", "mask_token"}) {
    auto value = TokenField(root, key);
    if (!value.ok()) return value.status();
    if (!value->has_value()) continue;
    if (std::string_view(key) == "bos_token") {
      config.context.bos_token = **value;
    } else if (std::string_view(key) == "eos_token") {
      config.context.eos_token = **value;
    } else {
      config.context.variables.emplace_back(key, **value);
    }
  }
  return config;
}

}  // namespace mot::tokenizer
