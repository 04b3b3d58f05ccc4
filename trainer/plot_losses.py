#!/usr/bin/env python3
# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Loss curves of mot-train runs (metrics JSONL) drawn to one PNG.

usage: plot_losses.py --out curves.png --label MoT run1/metrics.jsonl --label dense run2/...

One panel per key present in any run: the training loss ("loss", a light line) with the
validation loss ("val_loss") over it, then one panel per modality ("val_loss_<name>").
Debian's python3-matplotlib (Agg backend, no display needed).
"""
import argparse
import json

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def series(rows, key):
    pts = [(r["step"], r[key]) for r in rows if key in r]
    return [p[0] for p in pts], [p[1] for p in pts]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--label", action="append", nargs=2, metavar=("NAME", "JSONL"), required=True)
    args = ap.parse_args()
    runs = [(name, read(path)) for name, path in args.label]
    modal = sorted({k for _, rows in runs for r in rows for k in r if k.startswith("val_loss_")})
    panels = ["val_loss"] + modal
    fig, axes = plt.subplots(1, len(panels), figsize=(4.5 * len(panels), 3.6), squeeze=False)
    for ax, key in zip(axes[0], panels):
        for i, (name, rows) in enumerate(runs):
            color = f"C{i}"  # one color per run in every panel
            if key == "val_loss":
                xs, ys = series(rows, "loss")
                if xs:
                    ax.plot(xs, ys, color=color, alpha=0.25, linewidth=0.8,
                            label=f"{name} train")
            xs, ys = series(rows, key)
            if xs:
                ax.plot(xs, ys, color=color, marker="o", markersize=2.5,
                        label=f"{name} validation")
        ax.set_yscale("log")
        ax.set_title(key.replace("val_loss_", "validation loss: ") if key != "val_loss"
                     else "loss (all tokens)")
        ax.set_xlabel("step")
        ax.set_ylabel("cross-entropy (nats)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(args.out, dpi=110)


if __name__ == "__main__":
    main()
