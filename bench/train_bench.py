# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""The PyTorch side of bench/train_bench.cc: one full training step (forward, masked
cross-entropy, backward, AdamW) of the same checkpoint on the same packed batch, in f32 on
the CPU, with the module code of tests/oracle/mot_reference.py (the public MoT reference's
structure: per-tower boolean-mask routing, eager attention, each packed example run as its
own sequence).

CLI: train_bench.py --checkpoint DIR --batch IN.json --threads N --reps R
Prints one JSON line: {"samples_s": [...], "loss": ..., "torch": version, "blas": [...]}.
"""

import argparse
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "oracle"))
from mot_reference import load_model  # noqa: E402


def blas_libraries():
    """The BLAS/LAPACK shared objects this process has mapped (after a matmul ran)."""
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) >= 6 else ""
            name = os.path.basename(path).lower()
            if any(k in name for k in ("blas", "mkl", "lapack", "dnnl")):
                libs.add(os.path.realpath(path))
    return sorted(libs)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--batch", required=True)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--reps", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    _, model = load_model(args.checkpoint, torch.float32)
    model.train()
    with open(args.batch) as f:
        batch = json.load(f)
    ids = torch.tensor(batch["ids"], dtype=torch.long)
    towers = torch.tensor(batch["towers"], dtype=torch.long)
    mask = torch.tensor(batch["loss_mask"], dtype=torch.bool)
    begins = list(batch["example_begin"]) + [len(ids)]
    examples = []
    for b, e in zip(begins[:-1], begins[1:]):
        predicted = mask[b + 1:e].nonzero().flatten()
        examples.append((ids[b:e], towers[b:e], torch.arange(e - b), predicted))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4, betas=(0.9, 0.95), eps=1e-8,
                            weight_decay=0.1)

    def step():
        opt.zero_grad(set_to_none=False)
        losses = []
        for tokens, modality, positions, predicted in examples:
            logits = model(tokens, modality, positions)
            losses.append(F.cross_entropy(logits[predicted], tokens[predicted + 1],
                                          reduction="none"))
        loss = torch.cat(losses).mean()
        loss.backward()
        opt.step()
        return loss.item()

    loss = step()  # warm-up
    samples = []
    for _ in range(args.reps):
        t0 = time.perf_counter()
        step()
        samples.append(time.perf_counter() - t0)
    print(json.dumps({"samples_s": samples, "loss": loss, "torch": torch.__version__,
                      "threads": torch.get_num_threads(), "blas": blas_libraries()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
