// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// Tests of ChatTemplate: real models' chat templates (Llama 3 / 3.1, Llama 2, Mistral,
// Qwen2 / 2.5, Gemma, Zephyr) and a template exercising the Jinja subset, rendered over
// several conversations and compared byte for byte with what jinja2 under transformers
// renders (tests/data/text/chat_templates/goldens.json, made by make_chat_goldens.py);
// then the errors: unknown constructs named with their line, unterminated tags,
// raise_exception's message, and the output and loop limits.

#include "engine/tokenizer/text/chat_template.h"

#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/testing/status_matchers.h"
#include "tests/tokenizer/text/text_test_util.h"

namespace mot::tokenizer {
namespace {

using ::mot::testing::IsOk;
using ::mot::testing::StatusIs;
using ::mot::tokenizer::testing::DataPath;
using ::mot::tokenizer::testing::ReadFile;
using ::testing::HasSubstr;

std::string TemplatePath(const std::string& name) { return DataPath("chat_templates/" + name); }

// Renders `source` with no messages, or returns the error text.
absl::StatusOr<std::string> Render(const std::string& source,
                                   std::vector<ChatMessage> messages = {},
                                   ChatTemplateContext ctx = {}) {
  auto tmpl = ChatTemplate::Parse(source);
  if (!tmpl.ok()) return tmpl.status();
  return tmpl->Apply(messages, ctx);
}

// Where two strings first differ, for a readable failure.
std::string Diff(const std::string& got, const std::string& want) {
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) ++i;
  const size_t from = i < 40 ? 0 : i - 40;
  return "first difference at byte " + std::to_string(i) + "\n got: ..." +
         nlohmann::json(got.substr(from, 80)).dump() + "\nwant: ..." +
         nlohmann::json(want.substr(from, 80)).dump();
}

TEST(ChatTemplateGoldenTest, MatchesJinja2ByteForByte) {
  const nlohmann::json goldens = nlohmann::json::parse(ReadFile(TemplatePath("goldens.json")));
  ASSERT_GT(goldens["cases"].size(), 100u);
  int outputs = 0, errors = 0;
  for (const auto& c : goldens["cases"]) {
    // A case names a template file, or carries a snippet's source itself.
    const std::string source = c.contains("template") ? ReadFile(TemplatePath(c["template"]))
                                                      : c["template_source"].get<std::string>();
    const std::string label = c.value("template", source) + " / " +
                              c["conversation"].get<std::string>() +
                              (c["add_generation_prompt"].get<bool>() ? " / gen" : "");
    SCOPED_TRACE(label);
    auto tmpl = ChatTemplate::Parse(source);
    ASSERT_THAT(tmpl.status(), IsOk());
    std::vector<ChatMessage> messages;
    for (const auto& m : c["messages"]) messages.push_back({m["role"], m["content"]});
    ChatTemplateContext ctx;
    ctx.bos_token = c["bos_token"];
    ctx.eos_token = c["eos_token"];
    ctx.add_generation_prompt = c["add_generation_prompt"];
    for (const auto& [k, v] : c["variables"].items()) ctx.variables.emplace_back(k, v);
    auto got = tmpl->Apply(messages, ctx);
    if (c.contains("output")) {
      ++outputs;
      ASSERT_THAT(got.status(), IsOk());
      const std::string want = c["output"];
      EXPECT_EQ(*got, want) << Diff(*got, want);
    } else {
      ++errors;
      // jinja2 raised (raise_exception's TemplateError, or an UndefinedError such as
      // "list object has no element 0"): so must we, with the same message.
      EXPECT_THAT(got.status(), StatusIs(absl::StatusCode::kInvalidArgument,
                                         HasSubstr(c["error"].get<std::string>())))
          << "jinja2 raised " << c["error_class"];
    }
  }
  EXPECT_GT(outputs, 100);
  EXPECT_GT(errors, 10);
}

TEST(ChatTemplateTest, LlamaThreeGenerationPrompt) {
  ChatTemplateContext ctx;
  ctx.bos_token = "<|begin_of_text|>";
  ctx.add_generation_prompt = true;
  auto got = Render(ReadFile(TemplatePath("llama3.jinja")), {{"user", " Hi \n"}}, ctx);
  ASSERT_THAT(got.status(), IsOk());
  EXPECT_EQ(*got,
            "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
            "<|start_header_id|>assistant<|end_header_id|>\n\n");
}

TEST(ChatTemplateTest, TrimBlocksAndLstripBlocks) {
  // trim_blocks drops the newline after %} and #}, lstrip_blocks the indentation before
  // {% and {#; neither touches {{ }}; '+' turns each off; '-' strips all whitespace.
  EXPECT_EQ(*Render("a\n  {% if true %}\n  b\n  {% endif %}\nc"), "a\n  b\nc");
  EXPECT_EQ(*Render("  {{ 'x' }}\n{# c #}\ny"), "  x\ny");
  EXPECT_EQ(*Render("a\n  {%+ if true +%}\nb{% endif %}"), "a\n  \nb");
  EXPECT_EQ(*Render("a  \n {%- if true -%}  \n b {%- endif %}"), "ab");
  EXPECT_EQ(*Render("x\r\ny\n"), "x\ny");  // newlines normalized, one trailing one dropped
}

TEST(ChatTemplateTest, UnicodeCaseMappingAndWhitespace) {
  // Python's str.upper/lower (full case mapping) and str.strip (Unicode White_Space).
  EXPECT_EQ(*Render("{{ 'straße éa' | upper }}|{{ 'ÉΣ' | lower }}|{{ '\u3000x\u00a0' | trim }}|"
                    "{{ 'éCOLE' | capitalize }}|{{ 'é1' is lower }}{{ '12' is lower }}"),
            "STRASSE ÉA|éς|x|École|TrueFalse");
}

TEST(ChatTemplateTest, ScopesAndNamespace) {
  // A set inside a loop lasts one iteration; a namespace carries state out.
  EXPECT_EQ(*Render("{% set x = 0 %}{% set ns = namespace(n=0) %}{% for i in range(3) %}"
                    "{% set x = x + 1 %}{% set ns.n = ns.n + x %}{% endfor %}{{ x }} {{ ns.n }}"),
            "0 3");
  EXPECT_THAT(Render("{% set s = 'a' %}{% set s.x = 1 %}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not a namespace")));
}

TEST(ChatTemplateTest, UnknownFilterIsNamedWithItsLine) {
  EXPECT_THAT(Render("line one\n{{ messages | frobnicate }}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 2: unknown filter 'frobnicate'")));
}

TEST(ChatTemplateTest, UnsupportedConstructsAreRefused) {
  EXPECT_THAT(
      Render("{% macro m() %}x{% endmacro %}").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 1: unsupported tag 'macro'")));
  EXPECT_THAT(
      Render("\n\n{% call foo() %}{% endcall %}").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 3: unsupported tag 'call'")));
  EXPECT_THAT(Render("{% include 'x' %}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported tag 'include'")));
  EXPECT_THAT(Render("{% raw %}{{ x }}{% endraw %}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported tag 'raw'")));
  EXPECT_THAT(Render("{{ x is prime }}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unknown test 'prime'")));
  EXPECT_THAT(
      Render("\n{{ lipsum() }}").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2: unknown function 'lipsum'")));
  EXPECT_THAT(
      Render("{{ 'a'.zfill(3) }}").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported method 'zfill'")));
  EXPECT_THAT(Render("{{ 'a'.upper }}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("method 'upper' is only supported when called")));
  EXPECT_THAT(Render("{% endfor %}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unexpected '{% endfor %}'")));
}

TEST(ChatTemplateTest, UnterminatedTagsAreErrors) {
  EXPECT_THAT(
      Render("ok\n{{ messages").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("line 2: unterminated '{{' tag")));
  EXPECT_THAT(Render("{% if true %}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("expected '{% elif %}'")));
  EXPECT_THAT(Render("{# never closed").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unterminated comment")));
  EXPECT_THAT(Render("{{ 007 }}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("leading zero")));
  EXPECT_THAT(Render("{{ 'open }}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unterminated string")));
}

TEST(ChatTemplateTest, RaiseExceptionCarriesItsMessage) {
  auto got = Render(ReadFile(TemplatePath("mistral.jinja")), {{"assistant", "hi"}});
  EXPECT_THAT(got.status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("Conversation roles must alternate user/assistant/user/"
                                 "assistant/...")));
}

TEST(ChatTemplateTest, UndefinedMisuseIsAnError) {
  EXPECT_EQ(*Render("[{{ nothing }}]"), "[]");
  EXPECT_THAT(Render("{{ nothing.field }}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("'nothing' is undefined")));
  EXPECT_THAT(Render("{{ messages[0].role }}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument,
                       HasSubstr("line 1: list object has no element 0")));
  // Python's ints are unbounded, ours are 64-bit: past that it is an error, never a wrong
  // number.
  EXPECT_THAT(Render("{{ 10 ** 20 }}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("integer overflow")));
  EXPECT_THAT(Render("{{ 'a' + 1 }}").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("unsupported operand")));
}

TEST(ChatTemplateTest, OutputLimit) {
  ChatTemplateContext ctx;
  ctx.limits.max_output_bytes = 100;
  std::vector<ChatMessage> long_chat(20, {"user", "0123456789"});
  auto got = Render("{% for m in messages %}{{ m.content }}{% endfor %}", long_chat, ctx);
  EXPECT_THAT(got.status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_output_bytes")));
  // Strings built inside expressions are bounded too, not only what is emitted.
  EXPECT_THAT(Render("{% set s = 'x' * 1000 %}", {}, ctx).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_output_bytes")));
  ctx.limits.max_output_bytes = 200;
  EXPECT_THAT(Render("{% for m in messages %}{{ m.content }}{% endfor %}", long_chat, ctx), IsOk());
}

TEST(ChatTemplateTest, LoopLimit) {
  ChatTemplateContext ctx;
  ctx.limits.max_loop_iterations = 1000;
  EXPECT_THAT(
      Render("{% for i in range(100) %}{% for j in range(100) %}{% endfor %}{% endfor %}", {}, ctx)
          .status(),
      StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_loop_iterations")));
  EXPECT_THAT(Render("{{ range(1000000000) | length }}", {}, ctx).status(),
              StatusIs(absl::StatusCode::kResourceExhausted, HasSubstr("max_loop_iterations")));
}

TEST(ChatTemplateTest, DeepNestingIsRefusedNotACrash) {
  EXPECT_THAT(
      Render("{{ " + std::string(5000, '(') + "1" + std::string(5000, ')') + " }}").status(),
      StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nested too deeply")));
  std::string blocks;
  for (int i = 0; i < 500; ++i) blocks += "{% if true %}";
  EXPECT_THAT(Render(blocks).status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("nested too deeply")));
}

TEST(ReadChatTemplateConfigTest, NamedListPicksDefaultAndReadsTokens) {
  auto config = ReadChatTemplateConfig(ReadFile(TemplatePath("tokenizer_config.json")));
  ASSERT_THAT(config.status(), IsOk());
  EXPECT_EQ(config->context.bos_token, "<s>");
  EXPECT_EQ(config->context.eos_token, "</s>");
  ASSERT_EQ(config->context.variables.size(), 1u);  // pad_token is null
  EXPECT_EQ(config->context.variables[0].first, "unk_token");
  auto tmpl = ChatTemplate::Parse(config->source);
  ASSERT_THAT(tmpl.status(), IsOk());
  std::vector<ChatMessage> messages = {{"user", "hi"}};
  EXPECT_EQ(*tmpl->Apply(messages, config->context), "<s>[user] hi</s>");
}

TEST(ReadChatTemplateConfigTest, StringFirstEntryAndErrors) {
  auto plain = ReadChatTemplateConfig(R"({"chat_template": "{{ 1 }}", "eos_token": "E"})");
  ASSERT_THAT(plain.status(), IsOk());
  EXPECT_EQ(plain->source, "{{ 1 }}");
  EXPECT_EQ(plain->context.eos_token, "E");
  auto first = ReadChatTemplateConfig(
      R"({"chat_template": [{"name": "a", "template": "A"}, {"name": "b", "template": "B"}]})");
  ASSERT_THAT(first.status(), IsOk());
  EXPECT_EQ(first->source, "A");
  EXPECT_THAT(ReadChatTemplateConfig(R"({"eos_token": "E"})").status(),
              StatusIs(absl::StatusCode::kNotFound, HasSubstr("chat_template")));
  EXPECT_THAT(ReadChatTemplateConfig(R"({"chat_template": 3})").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chat_template")));
  EXPECT_THAT(ReadChatTemplateConfig(R"({"chat_template": [{"name": "a"}]})").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("chat_template[0].template")));
  EXPECT_THAT(ReadChatTemplateConfig("{").status(),
              StatusIs(absl::StatusCode::kInvalidArgument, HasSubstr("not valid JSON")));
}

}  // namespace
}  // namespace mot::tokenizer
