#!/usr/bin/env python3
# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Reference ids for tokenizer.json configurations real model files use.

The Hugging Face `tokenizers` library (oracle interpreter: /work/main/.venv/bin/python,
tokenizers 0.23.3) trains one small BPE per configuration on tests/data/text/corpus.jsonl and
writes it to tests/data/text/configs/; we then compare our ids with the library's on the
corpus, the long inputs and the edge cases below (the edge cases also with the
post-processor's special tokens: encode(..., add_special_tokens=True)):

  llama3_style   Split with Llama-3's pattern (Isolated) + ByteLevel(use_regex=False),
                 ignore_merges, merges written as "a b" strings, post_processor
                 Sequence[ByteLevel, TemplateProcessing("<|begin_of_text|> $A")], special
                 tokens and a non-special added token with lstrip/rstrip
  qwen2_style    NFC normalizer + Split with Qwen2's pattern + ByteLevel(use_regex=False),
                 merges as pairs, post_processor ByteLevel, ChatML special tokens and a
                 normalized added token
  partial_bytes  a ByteLevel BPE whose vocabulary lacks the bytes the corpus never uses (no
                 unk_token: they are dropped)
  partial_bytes_unk  the same with unk_token "<unk>" and fuse_unk
  llama2_style   SentencePiece-style, as Llama-2's file: normalizer Prepend("▁") +
                 Replace(" ", "▁"), no pre-tokenizer, byte_fallback with <0x00>..<0xFF> at
                 ids 3..258, fuse_unk, decoder Replace/ByteFallback/Fuse/Strip, a <s> template
  mistral_style  SentencePiece-style with a Metaspace pre-tokenizer (prepend_scheme "first",
                 split) and decoder, byte_fallback, [INST] [/INST] special tokens
Each edge case's ids are also decoded by the library (skip_special_tokens False and True).

  make_config_goldens.py            regenerate the files and configs/goldens.json
  make_config_goldens.py --emit OUT the same ids, computed live from the committed files
"""
import argparse
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.normpath(os.path.join(HERE, "..", "..", "data", "text"))
OUT_DIR = os.path.join(DATA, "configs")
NAMES = ["llama3_style", "qwen2_style", "partial_bytes", "partial_bytes_unk", "llama2_style",
         "mistral_style"]
BYTE_TOKENS = ["<0x%02X>" % b for b in range(256)]

LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}|"
                 r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")

LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                   "<|end_header_id|>", "<|eot_id|>"]
QWEN2_SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]

EDGE_CASES = [
    "", " ", "  ", "\n", "\n\n", "\r\n", "\r\n\r\n", "\t", "a", "A", "0",
    "hello world", " hello", "hello ", "hello  world", "hello   world", "hello \n world",
    "  \n  x", "x  \n", "x \n\n y", "a\r\n\r\nb", "!!!\n\n", "?!\r\n", " ...\n", "a.\n\n\nb",
    "it's", "IT'S", "don't", "DON'T", "I'M", "we'VE", "they'Ll", "x's's", "'''s", "'ſ", "'K",
    "1", "12", "123", "1234", "1234567", "3.14159", "x 42 y", "v1.2.3", "٣٤٥٦", "½²Ⅻ",
    "$1,250,000.00", "€340", "10:30pm", "(a)", "[x]", "{\"k\": 1}", "a-b_c", "--flag=1",
    "café", "cafe\u0301", "A\u030a", "\u212b", "\u2126", "e\u0301\u0301", "\u1e9b\u0323",
    "\u1100\u1161\u11a8", "한국어", "ﬁ", "Ǆ", "日本語", " 日本語", "中文，标点。", "Ελληνικά",
    "Привет, мир!", "مرحبا", "שלום", "हिन्दी", "ไทย", "😀", "😀😀", " 😀", "👨‍👩‍👧‍👦",
    "a😀b", "\u00a0x", "x\u3000y", "\u2028", "a\u200bb",
    "<|begin_of_text|>", "<|begin_of_text|>hi", "x<|eot_id|>y", " <|eot_id|> ",
    "<|start_header_id|>user<|end_header_id|>\n\nHi!<|eot_id|>",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nhi<|im_end|>",
    "<|endoftext|>", "[tool]", "a [tool] b", "a[tool]b", "  [tool]  ",
    "caf\u00e9[tool]", "cafe\u0301[tool]",
    "ab" * 300, "a" * 1000, " " * 500 + "x", "x" + "\n" * 100, "!" * 257, "1" * 100,
    "\x00", "a\x01b", "\x7f", "\x1b[31mred\x1b[0m",
]


def read_jsonl(path):
    with open(path, encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


def train_spelled(name, corpus):
    """A SentencePiece-style BPE: the vocabulary is spelled with "▁" for spaces, rare
    characters fall back to the <0xXX> byte tokens (plain vocabulary entries, as in
    Llama-2's file, not added tokens)."""
    from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors
    from tokenizers import trainers
    specials = ["<unk>", "<s>", "</s>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>", byte_fallback=True, fuse_unk=True))
    if name == "llama2_style":
        tok.normalizer = normalizers.Sequence([normalizers.Prepend("\u2581"),
                                               normalizers.Replace(" ", "\u2581")])
        tok.decoder = decoders.Sequence([decoders.Replace("\u2581", " "), decoders.ByteFallback(),
                                         decoders.Fuse(), decoders.Strip(" ", 1, 0)])
    else:
        tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581",
                                                     prepend_scheme="first", split=True)
        tok.decoder = decoders.Metaspace(replacement="\u2581", prepend_scheme="first",
                                         split=True)
    trainer = trainers.BpeTrainer(vocab_size=2500, special_tokens=specials + BYTE_TOKENS,
                                  limit_alphabet=90, show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    if name == "llama2_style":
        tok.post_processor = processors.TemplateProcessing(
            single="<s> $A", pair="<s> $A <s> $B", special_tokens=[("<s>", 1)])
    else:
        tok.add_special_tokens(["[INST]", "[/INST]"])
    path = os.path.join(OUT_DIR, name + ".json")
    tok.save(path, pretty=True)
    # The byte tokens are vocabulary entries only, as in Llama-2's and Mistral's files.
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    j["added_tokens"] = [t for t in j["added_tokens"] if t["content"] not in BYTE_TOKENS]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False, indent=2)


def train(name, corpus):
    from tokenizers import (AddedToken, Regex, Tokenizer, decoders, models, normalizers,
                            pre_tokenizers, processors, trainers)
    if name in ("llama2_style", "mistral_style"):
        return train_spelled(name, corpus)
    byte_level_split = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    if name == "llama3_style":
        tok = Tokenizer(models.BPE(ignore_merges=True))
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
            byte_level_split])
        specials = LLAMA3_SPECIALS
    elif name == "qwen2_style":
        tok = Tokenizer(models.BPE())
        tok.normalizer = normalizers.NFC()
        tok.pre_tokenizer = pre_tokenizers.Sequence([
            pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
            byte_level_split])
        specials = QWEN2_SPECIALS
    elif name == "partial_bytes":
        tok = Tokenizer(models.BPE())
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        specials = ["<|endoftext|>"]
        alphabet = []
    else:
        tok = Tokenizer(models.BPE(unk_token="<unk>", fuse_unk=True))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        specials = ["<unk>", "<|endoftext|>"]
        alphabet = []
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=2500, special_tokens=specials,
                                  initial_alphabet=alphabet, show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    if name == "llama3_style":
        bos = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                          pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                          special_tokens=[("<|begin_of_text|>", bos)])])
        tok.add_tokens([AddedToken("[tool]", lstrip=True, rstrip=True, normalized=False)])
    elif name == "qwen2_style":
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
        tok.add_tokens([AddedToken("[tool]", normalized=True)])
    path = os.path.join(OUT_DIR, name + ".json")
    tok.save(path, pretty=True)
    if name == "llama3_style":
        # Real Llama-3 files write merges as "a b" strings; the library reads both forms.
        with open(path, encoding="utf-8") as f:
            j = json.load(f)
        j["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m
                                for m in j["model"]["merges"]]
        with open(path, "w", encoding="utf-8") as f:
            json.dump(j, f, ensure_ascii=False, indent=2)


def ids_for(path, sets):
    from tokenizers import Tokenizer
    tok = Tokenizer.from_file(path)
    out = {}
    for key, texts in sets.items():
        out[key] = [tok.encode(t, add_special_tokens=False).ids for t in texts]
        if key == "edge":
            out[key + "_with_specials"] = [tok.encode(t, add_special_tokens=True).ids
                                           for t in texts]
            out["edge_decoded"] = [tok.decode(ids, skip_special_tokens=False)
                                   for ids in out["edge_with_specials"]]
            out["edge_decoded_skip"] = [tok.decode(ids, skip_special_tokens=True)
                                        for ids in out["edge_with_specials"]]
    return out


def compact(obj):
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--emit", help="write live ids here instead of regenerating")
    args = ap.parse_args()
    import tokenizers

    corpus = read_jsonl(os.path.join(DATA, "corpus.jsonl"))
    long_inputs = read_jsonl(os.path.join(DATA, "long_inputs.jsonl"))
    if not args.emit:
        os.makedirs(OUT_DIR, exist_ok=True)
        for name in NAMES:
            train(name, corpus)
    sets = {"corpus": corpus, "long": long_inputs, "edge": EDGE_CASES}
    result = {name: ids_for(os.path.join(OUT_DIR, name + ".json"), sets) for name in NAMES}
    out = args.emit or os.path.join(OUT_DIR, "goldens.json")
    # One line per input keeps the file diffable.
    with open(out, "w", encoding="ascii") as f:
        f.write('{"library":%s,\n"edge_cases":[\n' % compact(f"tokenizers {tokenizers.__version__}"))
        f.write(",\n".join(compact(e) for e in EDGE_CASES))
        f.write('\n],\n"tokenizers":{\n')
        parts = []
        for name, rows_by_key in result.items():
            inner = ['%s:[\n%s\n]' % (compact(k), ",\n".join(compact(r) for r in rows))
                     for k, rows in rows_by_key.items()]
            parts.append('%s:{\n%s\n}' % (compact(name), ",\n".join(inner)))
        f.write(",\n".join(parts))
        f.write("\n}}\n")
    print(f"wrote {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
