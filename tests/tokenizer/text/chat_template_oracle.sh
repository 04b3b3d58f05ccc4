#!/usr/bin/env bash
# Re-renders the chat-template goldens live with jinja2 (make_chat_goldens.py) and compares
# them byte for byte with the committed tests/data/text/chat_templates/goldens.json, which
# chat_template_test checks our renderer against. Exit 77 (skip) when the interpreter has
# no jinja2.
#   chat_template_oracle.sh PYTHON
set -euo pipefail
python=${1:?usage: chat_template_oracle.sh PYTHON}
here=$(cd "$(dirname "$0")" && pwd)
if ! "$python" -c 'import jinja2' 2>/dev/null; then
  echo "SKIP: $python cannot import jinja2 (scripts/setup.sh installs it)"
  exit 77
fi
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$python" "$here/make_chat_goldens.py" --out "$out"
cmp "$out" "$here/../../data/text/chat_templates/goldens.json"
echo "chat template goldens equal jinja2's live rendering"
