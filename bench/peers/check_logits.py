# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Checks that llama.cpp on our GGUF computes the same logits as our model's reference.

Used once per scripts/bench_peers.sh run (unless --no-verify): llama-debug --save-logits on
the f32 GGUF writes the prompt's token ids and the last position's logits; the repo's own
PyTorch reference (tests/oracle/mot_reference.py, f64) runs the f32 native checkpoint on the
same ids; this script compares the two. A wrong RoPE permutation or tensor mapping shows as
a relative RMS difference of order 1; f32 rounding gives about 1e-5.

  check_logits.py inputs TOKENS.bin OUT.json      int32 ids -> mot_reference.py --inputs
  check_logits.py compare LLAMA.bin REF.bin VOCAB [--tol 1e-3]
LLAMA.bin: float32 logits of the last position (llama-debug); REF.bin: float32 [rows, VOCAB]
(mot_reference.py). Prints one line of JSON; exit 1 when rel_rms > tol or top-1 differs.
"""

import argparse
import json
import sys

import numpy as np


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="cmd", required=True)
    p_in = sub.add_parser("inputs")
    p_in.add_argument("tokens")
    p_in.add_argument("out")
    p_cmp = sub.add_parser("compare")
    p_cmp.add_argument("llama")
    p_cmp.add_argument("reference")
    p_cmp.add_argument("vocab", type=int)
    p_cmp.add_argument("--tol", type=float, default=1e-3)
    args = parser.parse_args(argv)

    if args.cmd == "inputs":
        ids = np.fromfile(args.tokens, dtype="<i4").tolist()
        if not ids:
            sys.exit(f"check_logits.py: {args.tokens}: no token ids")
        with open(args.out, "w") as f:
            json.dump({"tokens": ids, "modality": [0] * len(ids)}, f)
        return 0

    got = np.fromfile(args.llama, dtype="<f4").astype(np.float64)
    ref_all = np.fromfile(args.reference, dtype="<f4").astype(np.float64)
    if got.size != args.vocab or ref_all.size % args.vocab:
        sys.exit(f"check_logits.py: sizes {got.size} ({args.llama}) and {ref_all.size} "
                 f"({args.reference}) do not fit vocab {args.vocab}")
    ref = ref_all.reshape(-1, args.vocab)[-1]
    diff = got - ref
    rel_rms = float(np.sqrt(np.mean(diff ** 2)) / np.sqrt(np.mean(ref ** 2)))
    top5_got, top5_ref = np.argsort(-got)[:5], np.argsort(-ref)[:5]
    result = {"rows": ref_all.size // args.vocab, "max_abs_diff": float(np.max(np.abs(diff))),
              "max_abs_logit": float(np.max(np.abs(ref))), "rel_rms": rel_rms,
              "top1_equal": bool(top5_got[0] == top5_ref[0]),
              "top5_overlap": len(set(top5_got.tolist()) & set(top5_ref.tolist()))}
    print(json.dumps(result))
    return 0 if rel_rms <= args.tol and result["top1_equal"] else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
