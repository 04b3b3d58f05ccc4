#!/usr/bin/env python3
# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Hugging Face `tokenizers` side of bench/tokenizer_bench.cc.

  tokenizer_bench.py <tokenizer.json> <docs.jsonl> <warmup> <reps>
  tokenizer_bench.py --load <tokenizer.json>

The second form loads the file once with Tokenizer.from_file and prints its peak and kept
memory (ru_maxrss after minus resident before, resident after minus before, KiB) and seconds.

Encodes every document of docs.jsonl (one JSON string per line) with Tokenizer.encode, one
call per document, on one thread (TOKENIZERS_PARALLELISM=false and RAYON_NUM_THREADS=1 are
set before import); then the same with encode_batch. Prints one JSON object: seconds per
timed repetition for both (wall clock; for encode also process CPU time), and the total
token count (to check both sides did the same work).
"""
import json
import os
import sys
import time

os.environ["TOKENIZERS_PARALLELISM"] = "false"
os.environ["RAYON_NUM_THREADS"] = "1"
from tokenizers import Tokenizer  # noqa: E402


def resident_kib():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return float(line.split()[1])
    return 0.0


def load_memory(path):
    import resource
    import tokenizers
    before = resident_kib()
    t0 = time.perf_counter()
    tok = Tokenizer.from_file(path)
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    kept = resident_kib() - before
    assert tok.get_vocab_size() > 0
    print(json.dumps({"peak_kib": peak, "kept_kib": kept, "seconds": seconds,
                      "library": f"tokenizers {tokenizers.__version__}"}))


def main():
    if sys.argv[1] == "--load":
        return load_memory(sys.argv[2])
    path, docs_path, warmup, reps = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    tok = Tokenizer.from_file(path)
    with open(docs_path, encoding="utf-8") as f:
        docs = [json.loads(line) for line in f if line.strip()]
    result = {"encode": [], "encode_cpu": [], "encode_batch": []}
    tokens = 0
    for r in range(warmup + reps):
        t0 = time.perf_counter()
        c0 = time.process_time()
        n = 0
        for d in docs:
            n += len(tok.encode(d, add_special_tokens=False).ids)
        dt = time.perf_counter() - t0
        dc = time.process_time() - c0
        tokens = n
        if r >= warmup:
            result["encode"].append(dt)
            result["encode_cpu"].append(dc)
    for r in range(warmup + reps):
        t0 = time.perf_counter()
        tok.encode_batch(docs, add_special_tokens=False)
        dt = time.perf_counter() - t0
        if r >= warmup:
            result["encode_batch"].append(dt)
    result["tokens"] = tokens
    import tokenizers
    result["library"] = f"tokenizers {tokenizers.__version__}"
    print(json.dumps(result))


if __name__ == "__main__":
    main()
