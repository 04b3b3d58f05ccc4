# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""PyTorch baseline for bench/mot_bench: prefill and KV-cache decode of a MoT checkpoint.

Uses the module tree of tests/oracle/mot_reference.py (the oracle; weights loaded strictly,
computed in f32 whatever the checkpoint dtype) with its own KV-cache step: per-tower
projections on boolean modality masks, rotary, a preallocated [max_len, kv_heads, head_dim]
cache per layer, attention over the cached prefix. Prints one JSON object:
  {"prefill_tok_s": [..per rep..], "decode_tok_s": [...], "threads": N, "torch": "...",
   "blas": "..."}
Usage: oracle_bench.py --checkpoint DIR [--prompt 128] [--decode 32] [--reps 5]
                       [--warmup 1] [--threads 2] [--modality-pattern text|interleaved]
"""

import argparse
import json
import math
import os
import re
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                "oracle"))
import mot_reference  # noqa: E402


class KvDecoder:
    def __init__(self, model, cfg, max_len):
        self.model, self.cfg = model, cfg
        self.n_towers = len(cfg["modalities"])
        kvh, hd = cfg["n_kv_heads"], cfg["head_dim"]
        self.k = [torch.zeros(max_len, kvh, hd) for _ in range(cfg["n_layers"])]
        self.v = [torch.zeros(max_len, kvh, hd) for _ in range(cfg["n_layers"])]
        self.length = 0

    def step(self, tokens, modality):
        """Runs rows at positions length..length+n-1; returns logits of the last row."""
        cfg, model = self.cfg, self.model
        n = tokens.shape[0]
        start = self.length
        positions = torch.arange(start, start + n)
        masks = [modality == m for m in range(self.n_towers)]
        towers = [m for m in range(self.n_towers) if masks[m].any()]
        single = len(towers) == 1
        pre = cfg["norm_placement"] == "pre"
        nh, kvh, hd = cfg["n_heads"], cfg["n_kv_heads"], cfg["head_dim"]
        group = nh // kvh
        x = model.tok_embeddings(tokens)
        end = start + n
        causal = None
        if n > 1:
            qpos = positions[:, None]
            kpos = torch.arange(end)[None, :]
            causal = kpos > qpos  # [n, end]
        for li, layer in enumerate(model.layers):
            att = layer.attention
            q = x.new_empty(n, nh, hd)
            k = x.new_empty(n, kvh, hd)
            v = x.new_empty(n, kvh, hd)
            for m in towers:
                xm = x if single else x[masks[m]]
                if pre:
                    xm = att.local_experts_attention_norm[m](xm)
                qm = att.local_experts_wq[m](xm).view(-1, nh, hd)
                km = att.local_experts_wk[m](xm).view(-1, kvh, hd)
                vm = att.local_experts_wv[m](xm).view(-1, kvh, hd)
                if cfg["qk_norm"]:
                    qm = att.local_experts_q_normalization[m](qm)
                    km = att.local_experts_k_normalization[m](km)
                if single:
                    q, k, v = qm, km, vm
                else:
                    q[masks[m]], k[masks[m]], v[masks[m]] = qm, km, vm
            q = mot_reference.apply_rotary(q, positions, cfg["rope_theta"])
            k = mot_reference.apply_rotary(k, positions, cfg["rope_theta"])
            self.k[li][start:end] = k
            self.v[li][start:end] = v
            kc = self.k[li][:end].repeat_interleave(group, dim=1)  # [end, nh, hd]
            vc = self.v[li][:end].repeat_interleave(group, dim=1)
            scores = torch.einsum("ihd,jhd->hij", q, kc) / math.sqrt(hd)
            if causal is not None:
                scores = scores.masked_fill(causal[None], float("-inf"))
            attn = torch.einsum("hij,jhd->ihd", torch.softmax(scores, -1), vc).reshape(n, -1)
            h = x.clone()
            for m in towers:
                sel = slice(None) if single else masks[m]
                om = att.local_experts_wo[m](attn[sel])
                if not pre:
                    om = att.local_experts_attention_norm[m](om)
                h[sel] = h[sel] + om
            ff = layer.feed_forward
            y = h.clone()
            for m in towers:
                sel = slice(None) if single else masks[m]
                hm = h[sel]
                if pre:
                    y[sel] = y[sel] + ff.local_experts[m](ff.local_experts_ffn_norm[m](hm))
                else:
                    y[sel] = y[sel] + ff.local_experts_ffn_norm[m](ff.local_experts[m](hm))
            x = y
        self.length = end
        last_m = int(modality[-1])
        return model.norm[last_m](x[-1:]) @ model.head_weight().t()


def blas_info():
    cfg = torch.__config__.show()
    m = re.search(r"BLAS_INFO=([^,]+)", cfg)
    info = "torch BLAS_INFO=" + (m.group(1) if m else "?")
    try:
        target = os.path.realpath("/usr/lib/x86_64-linux-gnu/libblas.so.3")
        info += ", libblas.so.3 -> " + target
    except OSError:
        pass
    return info


def main(argv):
    p = argparse.ArgumentParser()
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--prompt", type=int, default=128)
    p.add_argument("--decode", type=int, default=32)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--modality-pattern", choices=["text", "interleaved"], default="text")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    cfg, model = mot_reference.load_model(args.checkpoint, torch.float32)
    n_towers = len(cfg["modalities"])
    g = torch.Generator().manual_seed(0)
    tokens = torch.randint(0, cfg["vocab_size"], (args.prompt + args.decode,), generator=g)
    if args.modality_pattern == "interleaved":
        modality = torch.arange(args.prompt + args.decode) * n_towers // (args.prompt +
                                                                          args.decode)
    else:
        modality = torch.zeros(args.prompt + args.decode, dtype=torch.long)
    prefill, decode = [], []
    with torch.no_grad():
        for rep in range(args.warmup + args.reps):
            dec = KvDecoder(model, cfg, args.prompt + args.decode)
            t0 = time.perf_counter()
            dec.step(tokens[:args.prompt], modality[:args.prompt])
            t1 = time.perf_counter()
            for i in range(args.prompt, args.prompt + args.decode):
                dec.step(tokens[i:i + 1], modality[i:i + 1])
            t2 = time.perf_counter()
            if rep >= args.warmup:
                prefill.append(args.prompt / (t1 - t0))
                decode.append(args.decode / (t2 - t1))
    print(json.dumps({"prefill_tok_s": prefill, "decode_tok_s": decode,
                      "threads": torch.get_num_threads(), "torch": torch.__version__,
                      "blas": blas_info()}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
