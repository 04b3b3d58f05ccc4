# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Independent PyTorch reference of the Mixture-of-Transformers forward pass.

Written from the math in DESIGN.md ("The model"), not from the C++ engine. The module tree
follows the public MoT reference code, so a checkpoint's model.safetensors loads into it with
load_state_dict(strict=True): a missing or extra tensor is an error here too.

Routing is done as in the MoT reference: for each tower m, mask_m = (modality == m), and the
tower's modules run on x[mask_m]; attention is global across modalities and causal by position.

CLI:
  mot_reference.py --checkpoint DIR --inputs IN.json --output OUT.bin [--dtype f64|f32]
IN.json: {"tokens": [...], "modality": [...], "positions": [...]} (one sequence; positions
default to 0..n-1). OUT.bin: raw little-endian float32 logits, [rows, vocab_size], rows in
input order. OUT.npy is written with numpy.save instead when the name ends in .npy.
"""

import argparse
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn as nn
from safetensors.torch import load_file


class RmsNorm(nn.Module):
    def __init__(self, size, eps):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(size))

    def forward(self, x):
        inv = torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return x * inv * self.weight


def make_norm(cfg, size):
    if cfg["norm_type"] == "rms":
        return RmsNorm(size, cfg["norm_eps"])
    return nn.LayerNorm(size, eps=cfg["norm_eps"], elementwise_affine=True)


class QkNorm(nn.Module):
    """config.json "qk_norm" as an object: RMS or LayerNorm over each head's head_dim, with
    per-head affine parameters ([heads, head_dim]) when per_head, else one [head_dim]; a bias
    only when "bias"; its own eps (Chameleon's ChameleonLayerNorm)."""

    def __init__(self, spec, heads, head_dim):
        super().__init__()
        self.spec = spec
        shape = (heads, head_dim) if spec["per_head"] else (head_dim,)
        self.weight = nn.Parameter(torch.ones(shape))
        if spec["bias"]:
            self.bias = nn.Parameter(torch.zeros(shape))

    def forward(self, x):  # x: [rows, heads, head_dim]
        eps = self.spec["eps"]
        if self.spec["type"] == "rms":
            y = x * torch.rsqrt(x.pow(2).mean(dim=-1, keepdim=True) + eps)
        else:
            mean = x.mean(dim=-1, keepdim=True)
            var = (x - mean).pow(2).mean(dim=-1, keepdim=True)
            y = (x - mean) * torch.rsqrt(var + eps)
        y = y * self.weight
        if self.spec["bias"]:
            y = y + self.bias
        return y


def make_qk_norm(cfg, heads, head_dim):
    if isinstance(cfg["qk_norm"], dict):
        return QkNorm(cfg["qk_norm"], heads, head_dim)
    return make_norm(cfg, head_dim)


def rotate_half(x):
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


def rope_inv_freq(cfg, head_dim):
    """Inverse frequencies [head_dim/2] (f64), with config.json's rope_scaling applied.

    "linear" divides them all by factor; "llama3" (Llama 3.1) keeps the high frequencies,
    divides the low ones by factor and blends the band between (the published Llama 3.1
    recipe)."""
    theta = cfg["rope_theta"]
    half = head_dim // 2
    inv_freq = 1.0 / (theta ** (torch.arange(0, half, dtype=torch.float64) * 2.0 / head_dim))
    scaling = cfg.get("rope_scaling")
    if scaling is None:
        return inv_freq
    if scaling["type"] == "linear":
        return inv_freq / scaling["factor"]
    assert scaling["type"] == "llama3", scaling
    factor = scaling["factor"]
    low, high = scaling["low_freq_factor"], scaling["high_freq_factor"]
    old_len = scaling["original_max_position_embeddings"]
    out = []
    for f in inv_freq.tolist():
        wavelen = 2 * math.pi / f
        if wavelen < old_len / high:
            out.append(f)
        elif wavelen > old_len / low:
            out.append(f / factor)
        else:
            smooth = (old_len / wavelen - low) / (high - low)
            out.append((1 - smooth) * f / factor + smooth * f)
    return torch.tensor(out, dtype=torch.float64)


def apply_rotary(x, positions, inv_freq):
    """x: [rows, heads, head_dim]; positions: [rows]; inv_freq: [head_dim/2] f64."""
    angles = positions.to(torch.float64)[:, None] * inv_freq[None, :]  # [rows, half]
    angles = torch.cat([angles, angles], dim=-1).to(x.dtype)[:, None, :]
    return x * torch.cos(angles) + rotate_half(x) * torch.sin(angles)


class SwiGluExpert(nn.Module):
    def __init__(self, dim, hidden):
        super().__init__()
        self.w1 = nn.Linear(dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, dim, bias=False)
        self.w3 = nn.Linear(dim, hidden, bias=False)

    def forward(self, x):
        return self.w2(nn.functional.silu(self.w1(x)) * self.w3(x))


class ModalityUntiedAttention(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        n = len(cfg["modalities"])
        dim, hd = cfg["dim"], cfg["head_dim"]
        self.n_heads, self.n_kv_heads, self.head_dim = cfg["n_heads"], cfg["n_kv_heads"], hd
        bias = cfg.get("attention_bias", False)  # q/k/v biases (Qwen2)
        self.local_experts_wq = nn.ModuleList(
            nn.Linear(dim, self.n_heads * hd, bias=bias) for _ in range(n))
        self.local_experts_wk = nn.ModuleList(
            nn.Linear(dim, self.n_kv_heads * hd, bias=bias) for _ in range(n))
        self.local_experts_wv = nn.ModuleList(
            nn.Linear(dim, self.n_kv_heads * hd, bias=bias) for _ in range(n))
        self.local_experts_wo = nn.ModuleList(
            nn.Linear(self.n_heads * hd, dim, bias=False) for _ in range(n))
        if cfg["qk_norm"]:
            self.local_experts_q_normalization = nn.ModuleList(
                make_qk_norm(cfg, self.n_heads, hd) for _ in range(n))
            self.local_experts_k_normalization = nn.ModuleList(
                make_qk_norm(cfg, self.n_kv_heads, hd) for _ in range(n))
        self.local_experts_attention_norm = nn.ModuleList(make_norm(cfg, dim) for _ in range(n))

    def forward(self, x, masks, positions):
        pre = self.cfg["norm_placement"] == "pre"
        rows = x.shape[0]
        q = x.new_zeros(rows, self.n_heads, self.head_dim)
        k = x.new_zeros(rows, self.n_kv_heads, self.head_dim)
        v = x.new_zeros(rows, self.n_kv_heads, self.head_dim)
        for m, mask in enumerate(masks):
            if not mask.any():
                continue
            xm = x[mask]
            if pre:
                xm = self.local_experts_attention_norm[m](xm)
            qm = self.local_experts_wq[m](xm).view(-1, self.n_heads, self.head_dim)
            km = self.local_experts_wk[m](xm).view(-1, self.n_kv_heads, self.head_dim)
            vm = self.local_experts_wv[m](xm).view(-1, self.n_kv_heads, self.head_dim)
            if self.cfg["qk_norm"]:
                qm = self.local_experts_q_normalization[m](qm)
                km = self.local_experts_k_normalization[m](km)
            q[mask], k[mask], v[mask] = qm, km, vm
        inv_freq = rope_inv_freq(self.cfg, self.head_dim)
        q = apply_rotary(q, positions, inv_freq)
        k = apply_rotary(k, positions, inv_freq)
        group = self.n_heads // self.n_kv_heads
        k = k.repeat_interleave(group, dim=1)
        v = v.repeat_interleave(group, dim=1)
        # Global causal attention over the sequence: row i sees rows j with pos[j] <= pos[i].
        scores = torch.einsum("ihd,jhd->hij", q, k) / math.sqrt(self.head_dim)
        allowed = positions[None, :] <= positions[:, None]
        window = self.cfg.get("sliding_window")
        if window is not None:  # Mistral: only keys at positions > pos - window
            allowed &= positions[None, :] > positions[:, None] - window
        scores = scores.masked_fill(~allowed[None], float("-inf"))
        probs = torch.softmax(scores, dim=-1)
        attn = torch.einsum("hij,jhd->ihd", probs, v).reshape(rows, -1)
        out = x.new_zeros(rows, x.shape[1])
        for m, mask in enumerate(masks):
            if not mask.any():
                continue
            om = self.local_experts_wo[m](attn[mask])
            if not pre:
                om = self.local_experts_attention_norm[m](om)
            out[mask] = om
        return out


class ModalityUntiedFeedForward(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        n = len(cfg["modalities"])
        self.local_experts = nn.ModuleList(
            SwiGluExpert(cfg["dim"], cfg["ffn_hidden"]) for _ in range(n))
        self.local_experts_ffn_norm = nn.ModuleList(make_norm(cfg, cfg["dim"]) for _ in range(n))

    def forward(self, x, masks):
        pre = self.cfg["norm_placement"] == "pre"
        out = torch.zeros_like(x)
        for m, mask in enumerate(masks):
            if not mask.any():
                continue
            xm = x[mask]
            if pre:
                out[mask] = self.local_experts[m](self.local_experts_ffn_norm[m](xm))
            else:
                out[mask] = self.local_experts_ffn_norm[m](self.local_experts[m](xm))
        return out


class MotBlock(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.attention = ModalityUntiedAttention(cfg)
        self.feed_forward = ModalityUntiedFeedForward(cfg)

    def forward(self, x, masks, positions):
        h = x + self.attention(x, masks, positions)
        return h + self.feed_forward(h, masks)


class MotTransformer(nn.Module):
    def __init__(self, cfg):
        super().__init__()
        self.cfg = cfg
        n = len(cfg["modalities"])
        self.tok_embeddings = nn.Embedding(cfg["vocab_size"], cfg["dim"])
        self.layers = nn.ModuleList(MotBlock(cfg) for _ in range(cfg["n_layers"]))
        self.norm = nn.ModuleList(make_norm(cfg, cfg["dim"]) for _ in range(n))
        if not cfg["tie_embeddings"]:
            self.output = nn.Linear(cfg["dim"], cfg["vocab_size"], bias=False)

    def head_weight(self):
        if self.cfg["tie_embeddings"]:
            return self.tok_embeddings.weight
        return self.output.weight

    def hidden(self, tokens, modality, positions):
        """Final-normed hidden states [rows, dim]."""
        masks = [modality == m for m in range(len(self.cfg["modalities"]))]
        x = self.tok_embeddings(tokens)
        for layer in self.layers:
            x = layer(x, masks, positions)
        out = torch.zeros_like(x)
        for m, mask in enumerate(masks):
            if mask.any():
                out[mask] = self.norm[m](x[mask])
        return out

    def forward(self, tokens, modality, positions):
        return self.hidden(tokens, modality, positions) @ self.head_weight().t()


def load_model(checkpoint_dir, dtype=torch.float64):
    with open(os.path.join(checkpoint_dir, "config.json")) as f:
        cfg = json.load(f)
    state = load_file(os.path.join(checkpoint_dir, "model.safetensors"))
    state = {name: t.to(dtype) for name, t in state.items()}
    model = MotTransformer(cfg).to(dtype)
    model.load_state_dict(state, strict=True)
    model.eval()
    return cfg, model


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", required=True)
    parser.add_argument("--inputs", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--dtype", choices=["f64", "f32"], default="f64")
    args = parser.parse_args(argv)
    dtype = torch.float64 if args.dtype == "f64" else torch.float32
    _, model = load_model(args.checkpoint, dtype)
    with open(args.inputs) as f:
        inputs = json.load(f)
    tokens = torch.tensor(inputs["tokens"], dtype=torch.long)
    modality = torch.tensor(inputs["modality"], dtype=torch.long)
    positions = torch.tensor(inputs.get("positions", list(range(len(tokens)))), dtype=torch.long)
    if not (len(tokens) == len(modality) == len(positions)):
        sys.exit("inputs: tokens, modality and positions must have the same length")
    with torch.no_grad():
        logits = model(tokens, modality, positions).to(torch.float32).numpy()
    if args.output.endswith(".npy"):
        np.save(args.output, logits)
    else:
        logits.astype("<f4").tofile(args.output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
