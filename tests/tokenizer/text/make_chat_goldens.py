# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Writes tests/data/text/chat_templates/goldens.json: chat templates rendered by jinja2.

Every template file tests/data/text/chat_templates/*.jinja is rendered over a fixed set of
conversations, with add_generation_prompt false and true (cases with "template": the file),
and SNIPPETS, small templates for the corners of the language, over one conversation
(cases with "template_source": the text), the way transformers'
apply_chat_template(tokenize=False) renders it: transformers' own compiled template
(transformers.utils.chat_template_utils._compile_jinja_template, from the hf-oracle site
directory) when it can be imported, else an identical environment built here
(ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True) with loopcontrols,
raise_exception, strftime_now and transformers' tojson). render() gets messages, tools=None,
documents=None, add_generation_prompt, then the special tokens and extra variables, as
transformers passes them. A case that raises records the exception's class and message.
chat_template_test.cc compares its output with these byte for byte.

CLI (needs jinja2 3.1.x: /work/main/.venv/bin/python -m pip install jinja2==3.1.6):
  make_chat_goldens.py [--out PATH]
"""

import argparse
import glob
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.abspath(os.path.join(HERE, "..", "..", ".."))
DATA = os.path.join(ROOT, "tests", "data", "text", "chat_templates")

SITE = os.environ.get("MOT_HF_ORACLE_SITE", os.path.join(sys.prefix, "hf-oracle"))


def compiler():
    """Returns (compile(source) -> template, description of where it came from)."""
    if os.path.isdir(SITE):
        sys.path.insert(0, SITE)
    try:
        from transformers.utils.chat_template_utils import _compile_jinja_template

        import transformers

        return _compile_jinja_template, "transformers " + transformers.__version__
    except Exception:  # pylint: disable=broad-except
        pass
    import jinja2
    import jinja2.ext
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    def raise_exception(message):
        raise jinja2.exceptions.TemplateError(message)

    def tojson(x, ensure_ascii=False, indent=None, separators=None, sort_keys=False):
        return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators,
                          sort_keys=sort_keys)

    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[jinja2.ext.loopcontrols])
    env.filters["tojson"] = tojson
    env.globals["raise_exception"] = raise_exception
    return env.from_string, "jinja2 " + jinja2.__version__ + " (transformers' environment)"


def msg(role, content):
    return {"role": role, "content": content}


UNICODE_SYSTEM = "  H\u00e9llo \u2713 \u65e5\u672c\u8a9e \U0001F642\u3000"
UNICODE_USER = "\u00a0emoji \U0001F680 tab\t\"quotes\" 'apostrophes' \\backslash\n\nnew lines \u2028 "
CONVERSATIONS = {
    "user": [msg("user", "Hello!")],
    "system_user": [msg("system", "You are terse."), msg("user", "What is 2+2?")],
    "multi_turn": [
        msg("system", "Be helpful."),
        msg("user", "Hi there"),
        msg("assistant", "Hello! How can I help?"),
        msg("user", "Tell me a joke about the letter e."),
    ],
    "no_system_multi": [
        msg("user", "one"),
        msg("assistant", "  two  "),
        msg("user", "three"),
    ],
    "unicode": [
        msg("system", UNICODE_SYSTEM),
        msg("user", UNICODE_USER),
        msg("assistant", "\u00a0r\u00e9ponse \u00e0 vous\u00a0"),
        msg("user", "\u3000\u4f60\u597d"),
    ],
    "tool_turns": [
        msg("user", "Weather in Paris?"),
        msg("assistant", "Let me check."),
        msg("tool", "{\"temp\": 21}"),
        msg("tool", "sunny"),
        msg("user", "Thanks"),
    ],
    "bad_alternation": [msg("user", "first"), msg("user", "second")],
    "system_only": [msg("system", "Only a system prompt.")],
    "empty": [],
}

# (bos_token, eos_token) per template, as the models' tokenizer configs have them.
TOKENS = {
    "llama3": ("<|begin_of_text|>", "<|eot_id|>"),
    "llama3_1": ("<|begin_of_text|>", "<|eot_id|>"),
    "mistral": ("<s>", "</s>"),
    "llama2": ("<s>", "</s>"),
    "qwen2": ("", "<|im_end|>"),
    "qwen2_5": ("", "<|im_end|>"),
    "gemma": ("<bos>", "<eos>"),
    "zephyr": ("<s>", "</s>"),
    "features": ("<B>", "<E>"),
}

# Extra string variables for some templates (a second case named "<conversation>+vars").
EXTRA_VARS = {
    "llama3_1": {"date_string": "01 Jan 2026"},
    "features": {"extra_var": "given"},
}


# Small templates for the corners of the language, each rendered over the "multi_turn"
# conversation with add_generation_prompt=True (a case named "snippet:<n>").
SNIPPETS = [
    # Whitespace control, trim_blocks and lstrip_blocks.
    "a\n  {% if true %}\n  b\n  {% endif %}\nc",
    "  {{ 'x' }}\n{# c #}\ny",
    "a\n  {%+ if true +%}\nb{% endif %}",
    "a  \n {%- if true -%}  \n b {%- endif %}",
    "x {{- ' y ' -}} z",
    "{% if true %}   \nA{% endif %}",
    "\t{% if true %}x{% endif %}\n\t{# c #}\ny",
    "a {% if true %}b{% endif %}\n  c {% if true %}\nd{% endif %}",
    "{#- c -#}  \n  x  {#+ keep +#}\n",
    "line\r\nwin\rmac\n\n",
    "{% for m in messages %}\n  {{ m.role }}\n{% endfor %}\n",
    "{%- for m in messages -%}\n  {{ m.role }}\n{%- endfor -%}",
    # Literals, operators, precedence.
    "{{ 1 + 2 * 3 }} {{ (1 + 2) * 3 }} {{ 2 ** 3 ** 2 }} {{ -2 ** 2 }} {{ 10 // 3 }} {{ -10 // 3 }} {{ 10 % -3 }}",
    "{{ 1e16 }} {{ 1e15 }} {{ 123456789.125 }} {{ 0.0001 }} {{ 0.00001234 }} {{ -2.5e-300 }} {{ 1e22 / 3 }} {{ (1, 'a') }} {{ (1,) }} {{ () }}",
    "{{ 1 / 3 }} {{ 2 / 1 }} {{ 1e3 }} {{ 1.5e-7 }} {{ 0.1 * 3 }} {{ 2 ** 62 / 1 }} {{ 2 ** 62 - 1 + 2 ** 62 }} {{ -2 ** 63 }} {{ 1_000 }}",
    "{{ 'a' ~ 1 ~ 2.0 ~ none ~ true ~ [1] ~ {'k': 'v'} }}",
    "{{ 'ab' * 3 }} {{ [0] * 2 }} {{ 3 * 'x' }} {{ [1, 2] + [3] }}",
    "{{ not true or true and false }} {{ 1 < 2 < 3 }} {{ 3 > 2 > 2 }} {{ 1 if 0 else 2 }} {{ 'x' if '' }}|",
    "{{ 0 or 'zero' }} {{ 'a' and 'b' }} {{ [] or none }} {{ none and 1 }}",
    "{{ 'abc'[0] }}{{ 'abc'[-1] }}{{ 'abc'[1:] }}{{ 'abc'[:-1] }}{{ 'abc'[::-1] }}{{ 'héllo'[1:3] }}{{ 'abcdef'[1:5:2] }}",
    "{{ messages[1:] | length }} {{ messages[-1].role }} {{ messages[::-1][0].role }} {{ messages[10:] }} {{ messages[0]['role'] }}",
    "{{ \"it's\" }} {{ 'say \"hi\"' }} {{ 'tab\\there' }} {{ '\\u00e9\\x41' }} {{ 'a' 'b' }} {{ [1, 'it\\'s', \"q\\\"\"] }}",
    "{{ '\\0|\\6|\\023|\\1234|\\777|\\8' | tojson }}",
    "{{ '\\\u00fc|\\\u4f60|\\\U0001F642|\\q|\\\\' }} {{ [x, none] }}",
    "{{ {'a': 1, 'b': [1, {'c': none}]} }} {{ {} }} {{ [] }} {{ [none, true, false, 1.0] }}",
    # Filters.
    "{{ '  x y  ' | trim }}|{{ 'xxaxx' | trim('x') }}|{{ 'ab' | upper }}|{{ 'AB' | lower }}|{{ 'abc' | length }}|{{ [1,2] | count }}",
    "{{ [3, 1, 2] | first }}{{ [3, 1, 2] | last }}{{ 'xyz' | first }}{{ [] | first }}|{{ 5 | string }}{{ none | string }}",
    "{{ x | default('d') }}|{{ none | default('d') }}|{{ none | default('d', true) }}|{{ 0 | d('z', boolean=true) }}|{{ false | default('f') }}",
    "{{ 'aaa' | replace('a', 'b') }}|{{ 'aaa' | replace('a', 'b', 2) }}|{{ 'ab' | replace('', '-') }}",
    "{{ ['a', 'b'] | join }}|{{ ['a', 'b'] | join(', ') }}|{{ messages | join('/', attribute='role') }}|{{ [1, 2] | join('+') }}",
    "{{ {'b': 1, 'a': [1, 2]} | tojson }}|{{ {'b': 1, 'a': [1, 2]} | tojson(indent=2) }}|{{ 'é\"\\n\\u0001' | tojson }}|{{ [] | tojson(indent=2) }}",
    "{{ {'b': 1, 'a': 2} | tojson(sort_keys=true) }}|{{ 'é' | tojson(ensure_ascii=true) }}|{{ messages[0] | tojson }}|{{ 1.5 | tojson }}",
    "{{ messages | selectattr('role', 'equalto', 'user') | list | length }}|{{ messages | rejectattr('role', 'eq', 'user') | map(attribute='role') | join(',') }}",
    "{{ ['a', 'code', 'b'] | reject('equalto', 'code') | join(',') }}|{{ [1, 2, 3, 4] | select('odd') | list }}|{{ [0, 1, ''] | select | list }}",
    "{{ {'x': 1, 'y': 2} | items | list }}|{{ '42' | int + 1 }}|{{ 'x' | int }}|{{ 3.9 | int }}|{{ -3 | abs }}|{{ [3, 1, 2] | sort }}|{{ [1, 1, 2] | unique | list }}",
    "{{ ['b', 'a'] | map('upper') | list }}|{{ [1, 2, 3] | sum }}|{{ [4, 2, 8] | min }}{{ [4, 2, 8] | max }}|{{ 'abc' | reverse }}|{{ [1, 2] | reverse | list }}",
    # Tests.
    "{{ x is defined }}{{ x is undefined }}{{ none is none }}{{ 'a' is string }}{{ 1 is string }}{{ {} is mapping }}{{ [] is mapping }}",
    "{{ 1 is number }}{{ 1.0 is float }}{{ 1 is integer }}{{ true is boolean }}{{ true is true }}{{ 0 is false }}{{ 3 is odd }}{{ 4 is even }}",
    "{{ 'a' is in 'cat' }}{{ 1 is in [1] }}{{ 2 is eq 2 }}{{ 2 is ne 2 }}{{ 9 is divisibleby 3 }}{{ 2 is gt 1 }}{{ 'ab' is lower }}{{ 'AB' is upper }}",
    "{{ [1, 5, 3] | select('>', 2) | list }}{{ [1, 5] | reject('==', 1) | list }}{{ x is sequence }}{{ 3 is lessthan 4 }}",
    "{{ messages is iterable }}{{ 'x' is iterable }}{{ 1 is iterable }}{{ messages is sequence }}{{ none is sameas none }}{{ messages[0] is mapping }}",
    # String methods.
    "{{ ' a '.strip() }}|{{ 'xax'.strip('x') }}|{{ ' a '.lstrip() }}|{{ ' a '.rstrip() }}|{{ 'ab'.upper() }}{{ 'AB'.lower() }}|{{ 'ab'.startswith('a') }}{{ 'ab'.endswith(('x', 'b')) }}",
    "{{ 'a b\\tc\\n'.split() }}|{{ 'a,b'.split(',') }}|{{ 'a b c'.split(' ', 1) }}|{{ ''.split() }}|{{ ''.split(',') }}|{{ '  x  y'.split(none, 1) }}",
    "{{ 'aXbX'.replace('X', '-') }}|{{ 'aXbX'.replace('X', '-', 1) }}|{{ ', '.join(['a', 'b']) }}|{{ 'hello'.capitalize() }}",
    "{{ {'a': 1}.get('a') }}{{ {'a': 1}.get('b') }}{{ {'a': 1}.get('b', 2) }}|{{ {'a': 1}.keys() | list }}{{ {'a': 1}.values() | list }}|{{ {'a': 1}.items() | list }}",
    # Statements.
    "{% for i in range(3) %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first }}{{ loop.last }}{{ loop.length }};{% endfor %}",
    "{% for i in range(2, 10, 3) %}{{ i }}{% endfor %}|{% for i in range(5, 0, -2) %}{{ i }}{% endfor %}|{% for i in range(0) %}x{% else %}empty{% endfor %}",
    "{% for m in messages if m.role == 'user' %}{{ loop.index }}:{{ m.content[:5] }} {% endfor %}",
    "{% for k, v in {'a': 1, 'b': 2}.items() %}{{ k }}{{ v }}{% endfor %}|{% for a, b in [[1, 2], [3, 4]] %}{{ a + b }}{% endfor %}|{% for c in 'hé' %}[{{ c }}]{% endfor %}",
    "{% for i in range(5) %}{% if i == 1 %}{% continue %}{% elif i == 3 %}{% break %}{% endif %}{{ i }}{% endfor %}",
    "{% for i in range(2) %}{% for j in range(2) %}{{ loop.index }}{% endfor %}{{ loop.index }}|{% endfor %}",
    "{% set x = 1 %}{% if true %}{% set x = 2 %}{% endif %}{{ x }}{% for i in range(1) %}{% set x = 3 %}{{ x }}{% endfor %}{{ x }}",
    "{% set ns = namespace(a=1, b='s') %}{% set ns.a = ns.a + 1 %}{% set ns.c = 'new' %}{{ ns.a }}{{ ns.b }}{{ ns.c }}",
    "{% set b %}inner {{ 1 + 1 }}{% endset %}[{{ b }}]{% set messages = messages[:1] %}{{ messages | length }}",
    "{% if messages[0].role == 'system' %}S{% elif false %}E{% else %}N{% endif %}{% if none %}no{% endif %}",
    "{{ bos_token }}{{ eos_token }}{{ add_generation_prompt }}{{ tools }}{{ documents }}{{ tools is none }}",
    "{% generation %}gen {{ 1 }}{% endgeneration %}",
    # Errors, compared with jinja2's message.
    "{{ raise_exception('custom: ' ~ messages | length) }}",
    "{{ messages[0].nothing.deeper }}",
    "{{ missing.attr }}",
    "{{ [][0].x }}",
]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=os.path.join(DATA, "goldens.json"))
    args = parser.parse_args()
    compile_template, source = compiler()
    cases = []
    for path in sorted(glob.glob(os.path.join(DATA, "*.jinja"))):
        name = os.path.splitext(os.path.basename(path))[0]
        with open(path, encoding="utf-8", newline="") as f:
            template = compile_template(f.read())
        bos, eos = TOKENS[name]
        variants = [("", {})]
        if name in EXTRA_VARS:
            variants.append(("+vars", EXTRA_VARS[name]))
        for conv_name, messages in CONVERSATIONS.items():
            for suffix, extra in variants:
                for gen in (False, True):
                    kwargs = {"bos_token": bos, "eos_token": eos, **extra}
                    case = {
                        "template": name + ".jinja",
                        "conversation": conv_name + suffix,
                        "messages": messages,
                        "add_generation_prompt": gen,
                        "bos_token": bos,
                        "eos_token": eos,
                        "variables": extra,
                    }
                    try:
                        case["output"] = template.render(messages=messages, tools=None,
                                                         documents=None,
                                                         add_generation_prompt=gen, **kwargs)
                    except Exception as e:  # pylint: disable=broad-except
                        case["error_class"] = type(e).__name__
                        case["error"] = str(e)
                    cases.append(case)
    messages = CONVERSATIONS["multi_turn"]
    bos, eos = TOKENS["features"]
    for i, snippet in enumerate(SNIPPETS):
        case = {
            "template_source": snippet,
            "conversation": f"snippet:{i}",
            "messages": messages,
            "add_generation_prompt": True,
            "bos_token": bos,
            "eos_token": eos,
            "variables": {},
        }
        try:
            case["output"] = compile_template(snippet).render(
                messages=messages, tools=None, documents=None, add_generation_prompt=True,
                bos_token=bos, eos_token=eos)
        except Exception as e:  # pylint: disable=broad-except
            case["error_class"] = type(e).__name__
            case["error"] = str(e)
        cases.append(case)
    with open(args.out, "w", encoding="utf-8") as f:
        json.dump({"renderer": source, "cases": cases}, f, ensure_ascii=False, indent=1)
        f.write("\n")
    errors = sum("error" in c for c in cases)
    print(f"{len(cases)} cases ({errors} errors) rendered by {source} -> {args.out}")


if __name__ == "__main__":
    main()
