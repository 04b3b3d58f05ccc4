#!/usr/bin/env python3
# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Reference ids for the text tokenizer, from the Hugging Face `tokenizers` library.

Run with the oracle interpreter (/work/main/.venv/bin/python; tokenizers 0.23.3):

  make_goldens.py            regenerate: long_inputs.jsonl (if missing), hf_tokenizer.json
                             (trained here by the library), goldens.json (ids for both
                             hf_tokenizer.json and ours_tokenizer.json, which our trainer
                             writes: build and run train_golden_tokenizer first)
  make_goldens.py --emit OUT write the same ids as goldens.json to OUT, computed live from the
                             committed tokenizer files (the oracle test compares them with ours)

Inputs: every document of tests/data/text/corpus.jsonl and long_inputs.jsonl, and the
EDGE_CASES below; each is encoded with encode(text, add_special_tokens=False). Edge cases are
also encoded with special-token parsing off (encode_special_tokens=True) and with the
ByteLevel pre-tokenizer's add_prefix_space switched on.
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "..", "data", "text"))
SPECIALS = ["<pad>", "<bos>", "<eos>", "<boi>", "<eoi>", "<boa>", "<eoa>"]
TOKENIZERS = ["hf_tokenizer.json", "ours_tokenizer.json"]

WHITESPACE = ["\t", "\n", "\x0b", "\x0c", "\r", " ", "\x85", "\xa0", "\u1680", "\u2000",
              "\u2005", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
NOT_WHITESPACE = ["\x1c", "\x1f", "\u180e", "\u200b", "\u2060", "\ufeff"]

EDGE_CASES = [
    "", " ", "  ", "   ", "\n", "\n\n", "\r\n", "\t", "a", "A", "0", "'", "''", "'s", "'S",
    "it's", "x's's", "'''s", "'re'", "don't", "DON'T", "'ll've", "''ll", " 's", "a 'd",
    "hello world", " hello", "hello ", "hello  world", "hello   world", "hello \n world",
    "  \n  x", "x  \n", "\t\tx", " \t x", "x \t", "a\r\n\r\nb", "   leading", "trailing   ",
    "1234567890", "3.14", "12abc34", "abc123", " 42", "x 42 y", "½ ² Ⅻ ٣",
    "😀", "😀😀", " 😀", "👨‍👩‍👧‍👦", "👍🏽", "🏳️‍🌈", "a😀b", "日本語", " 日本語", "中文，标点。",
    "<bos>", "<bos><eos>", " <bos> ", "<bo", "<<bos>>", "<bos>hello<eos>", "x<pad>y",
    "<boi><eoi><boa><eoa>", "<bos> <bos>", "<bos>\n", "text<eos>", "<eos >", "<EOS>",
    "<tool>", "a <tool> b", "a<tool>b", "<tool><tool>", "<bos><tool><eos>",
    "[MASK]", "a [MASK] b", "a[MASK]b", "  [MASK]", "x  [MASK]  y", "[MASK][MASK]", "é[MASK]",
    "_[MASK]", "[MASK]_", "1[MASK]", "😀[MASK]",
    "ab" * 300, "a" * 1000, " " * 500 + "x", "x" + "\n" * 100, "!" * 257,
]
for c in WHITESPACE:
    EDGE_CASES += [f"a{c}{c}b", f"a {c}b", f"a{c} b", f"{c}", f"{c}{c}", f"x{c}"]
for c in NOT_WHITESPACE:
    EDGE_CASES += [f"a{c}{c}b", f"a {c}b"]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def make_long_inputs():
    """Three long documents built deterministically (LCG) from the corpus's words."""
    docs = read_jsonl(os.path.join(DATA, "corpus.jsonl"))
    words = [w for d in docs for w in d.split()]
    english = [w for w in words if w.isascii()]
    x = 2026

    def rnd():
        nonlocal x
        x = (x * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return x >> 33

    def build(pool, size, seps):
        out, n = [], 0
        while n < size:
            w = pool[rnd() % len(pool)]
            s = seps[rnd() % len(seps)]
            out.append(w + s)
            n += len((w + s).encode("utf-8"))
        return "".join(out)

    long_english = build(english, 60000, [" "] * 12 + [". ", ", ", "\n", "  "])
    long_mixed = build(words, 30000, [" "] * 6 + ["\n", "\t", "  ", "\r\n", "\u3000", ""])
    long_word = "ab" * 2500 + " " + "x" * 5000 + " " * 3000 + "end" + "!" * 1000
    return [long_english, long_mixed, long_word]


def encode_all(tok, texts):
    return [tok.encode(t, add_special_tokens=False).ids for t in texts]


def ids_for(path, corpus, long_inputs):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(path)
    out = {
        "corpus": encode_all(tok, corpus),
        "long": encode_all(tok, long_inputs),
        "edge": encode_all(tok, EDGE_CASES),
    }
    tok.encode_special_tokens = True
    out["edge_no_special"] = encode_all(tok, EDGE_CASES)
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    j["pre_tokenizer"]["add_prefix_space"] = True
    tok2 = Tokenizer.from_str(json.dumps(j))
    out["edge_prefix_space"] = encode_all(tok2, EDGE_CASES)
    return out


def train_hf(corpus):
    from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=3000, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    # One non-special added token (normalized=True by default) and one special token with
    # lstrip and single_word, so both kinds of added token and those flags are covered.
    tok.add_tokens(["<tool>"])
    tok.add_special_tokens([AddedToken("[MASK]", lstrip=True, single_word=True)])
    tok.save(os.path.join(DATA, "hf_tokenizer.json"), pretty=True)


def compact(obj):
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--emit", help="write live ids here instead of regenerating goldens")
    args = ap.parse_args()
    import tokenizers

    corpus = read_jsonl(os.path.join(DATA, "corpus.jsonl"))
    long_path = os.path.join(DATA, "long_inputs.jsonl")
    if not args.emit:
        if not os.path.exists(long_path):
            with open(long_path, "w", encoding="utf-8") as f:
                for d in make_long_inputs():
                    f.write(json.dumps(d, ensure_ascii=False) + "\n")
        train_hf(corpus)
    long_inputs = read_jsonl(long_path)
    result = {
        "library": f"tokenizers {tokenizers.__version__}",
        "edge_cases": EDGE_CASES,
        "tokenizers": {name: ids_for(os.path.join(DATA, name), corpus, long_inputs)
                       for name in TOKENIZERS},
    }
    out = args.emit or os.path.join(DATA, "goldens.json")
    # One line per input keeps the file diffable.
    with open(out, "w", encoding="ascii") as f:
        f.write('{"library":%s,\n"edge_cases":[\n' % compact(result["library"]))
        f.write(",\n".join(compact(e) for e in EDGE_CASES))
        f.write('\n],\n"tokenizers":{\n')
        parts = []
        for name, sets in result["tokenizers"].items():
            inner = []
            for key, rows in sets.items():
                inner.append('%s:[\n%s\n]' % (compact(key), ",\n".join(compact(r) for r in rows)))
            parts.append('%s:{\n%s\n}' % (compact(name), ",\n".join(inner)))
        f.write(",\n".join(parts))
        f.write("\n}}\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
