# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Loss and gradients of the MoT training objective by PyTorch autograd (the oracle of
tests/oracle/grad_check_test.cc).

The model is mot_reference.py's independent implementation. A batch packs several examples
one after another; each example runs as its own sequence (positions 0..len-1, causal
attention global across towers inside it, nothing across examples). Token i of an example
with loss_mask[i] = 1 (i > 0) is predicted from the logits of token i-1; the loss is the
mean cross-entropy over all predicted tokens of the batch, over the whole vocabulary.

CLI:
  mot_grad_reference.py --checkpoint DIR --batch IN.json --grads OUT.safetensors
                        --loss OUT.json [--dtype f64|f32]
IN.json: {"ids": [...], "towers": [...], "loss_mask": [...], "example_begin": [...]}.
OUT.safetensors: the gradient of every parameter under its native name (float32; zeros for a
parameter the batch does not reach). OUT.json: {"loss": L, "loss_per_tower": [...],
"predicted_per_tower": [...]}.
"""

import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from mot_reference import load_model  # noqa: E402


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--batch", required=True)
    parser.add_argument("--grads", required=True)
    parser.add_argument("--loss", required=True)
    parser.add_argument("--dtype", choices=["f64", "f32"], default="f64")
    args = parser.parse_args(argv)
    dtype = torch.float64 if args.dtype == "f64" else torch.float32
    cfg, model = load_model(args.checkpoint, dtype)
    with open(args.batch) as f:
        batch = json.load(f)
    ids = torch.tensor(batch["ids"], dtype=torch.long)
    towers = torch.tensor(batch["towers"], dtype=torch.long)
    mask = torch.tensor(batch["loss_mask"], dtype=torch.bool)
    begins = list(batch["example_begin"]) + [len(ids)]
    n_towers = len(cfg["modalities"])

    losses = []      # per predicted token
    loss_towers = []
    for b, e in zip(begins[:-1], begins[1:]):
        tokens, modality = ids[b:e], towers[b:e]
        positions = torch.arange(e - b, dtype=torch.long)
        logits = model(tokens, modality, positions)  # [len, vocab]
        predicted = mask[b + 1:e].nonzero().flatten()  # target index - 1 within the example
        if predicted.numel() == 0:
            continue
        losses.append(F.cross_entropy(logits[predicted], tokens[predicted + 1], reduction="none"))
        loss_towers.append(modality[predicted + 1])
    per_token = torch.cat(losses)
    per_tower = torch.cat(loss_towers)
    loss = per_token.mean()
    loss.backward()

    grads = {}
    for name, p in model.named_parameters():
        g = p.grad if p.grad is not None else torch.zeros_like(p)
        grads[name] = g.detach().to(torch.float32).contiguous()
    save_file(grads, args.grads)
    with torch.no_grad():
        out = {"loss": loss.item(), "loss_per_tower": [], "predicted_per_tower": []}
        for m in range(n_towers):
            sel = per_tower == m
            out["predicted_per_tower"].append(int(sel.sum()))
            out["loss_per_tower"].append(per_token[sel].mean().item() if sel.any() else 0.0)
    with open(args.loss, "w") as f:
        json.dump(out, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
