#!/usr/bin/env python3
# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Writes a large byte-level BPE tokenizer.json for tokenizer_bench --load_json.

  make_large_tokenizer.py <vocab_size> <out.json>

The 256 GPT-2 byte-level symbols, then random merges of two existing tokens (at most 12
characters together, each merge new) until the vocabulary has vocab_size entries: the shape
of a Llama-3 or Qwen2 file (a ByteLevel pre-tokenizer and decoder, string merges), without
their regex. Deterministic (seed 1). 150000 tokens make a 7.3 MiB file that the Hugging Face
`tokenizers` library loads.
"""
import json
import random
import sys


def byte_level_alphabet():
    keep = (list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) +
            list(range(ord("®"), ord("ÿ") + 1)))
    chars, extra = keep[:], 0
    for b in range(256):
        if b not in keep:
            keep.append(b)
            chars.append(256 + extra)
            extra += 1
    return [chr(c) for c in chars]


def main():
    target, out = int(sys.argv[1]), sys.argv[2]
    rng = random.Random(1)
    tokens = byte_level_alphabet()
    vocab = {t: i for i, t in enumerate(tokens)}
    merges, seen = [], set()
    while len(vocab) < target:
        a, b = rng.choice(tokens), rng.choice(tokens)
        if len(a) + len(b) > 12 or a + b in vocab or (a, b) in seen:
            continue
        seen.add((a, b))
        vocab[a + b] = len(vocab)
        tokens.append(a + b)
        merges.append(f"{a} {b}")
    byte_level = {"add_prefix_space": False, "trim_offsets": True, "use_regex": True}
    doc = {
        "version": "1.0", "truncation": None, "padding": None, "added_tokens": [],
        "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", **byte_level},
        "post_processor": None, "decoder": {"type": "ByteLevel", **byte_level},
        "model": {"type": "BPE", "dropout": None, "unk_token": None,
                  "continuing_subword_prefix": None, "end_of_word_suffix": None,
                  "fuse_unk": False, "byte_fallback": False, "ignore_merges": False,
                  "vocab": vocab, "merges": merges},
    }
    with open(out, "w", encoding="utf-8") as f:
        json.dump(doc, f, ensure_ascii=False)


if __name__ == "__main__":
    main()
