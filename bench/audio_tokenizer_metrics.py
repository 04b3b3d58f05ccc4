#!/usr/bin/env python3
# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Scores audio reconstructions: for every <name>.ref.wav / <name>.rec.wav pair in a folder,
log-spectral distance (dB) and STOI (pystoi). Prints one JSON line per group and overall.

LSD: STFT with a 512-point periodic Hann window, hop 128 (16 kHz); power normalized by the
window sum, floored at 1e-10 (-100 dB); per frame sqrt(mean over bins of
(10 log10 P_ref - 10 log10 P_rec)^2), averaged over the reference's active frames (energy
within 40 dB of its loudest frame), so leading/trailing digital silence does not dominate.
STOI: pystoi.stoi(ref, rec, fs) (classic, not extended), which itself drops silent frames.
Groups: the file stem up to the first '__' (the driver names files <group>__<n>.wav).
"""
import json
import sys
import wave
from collections import defaultdict
from pathlib import Path

import numpy as np
from pystoi import stoi


def read_wav(path):
    with wave.open(str(path), "rb") as w:
        assert w.getsampwidth() == 2 and w.getnchannels() == 1
        fs = w.getframerate()
        x = np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0
    return x, fs


def power_spec(x, n_fft=512, hop=128):
    win = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)
    pad = np.concatenate([np.zeros(n_fft // 2), x, np.zeros(n_fft)])
    frames = [pad[i:i + n_fft] * win for i in range(0, len(x), hop)]
    spec = np.fft.rfft(np.array(frames), axis=1) / win.sum()
    return np.maximum(np.abs(spec) ** 2, 1e-10)


def lsd(ref, rec):
    pr, pd = power_spec(ref), power_spec(rec)
    energy = 10 * np.log10(pr.sum(axis=1))
    active = energy > energy.max() - 40.0
    d = 10 * np.log10(pr[active]) - 10 * np.log10(pd[active])
    return float(np.mean(np.sqrt(np.mean(d ** 2, axis=1))))


def main():
    folder = Path(sys.argv[1])
    groups = defaultdict(list)
    for ref_path in sorted(folder.glob("*.ref.wav")):
        stem = ref_path.name[: -len(".ref.wav")]
        ref, fs = read_wav(ref_path)
        rec, fs2 = read_wav(folder / f"{stem}.rec.wav")
        assert fs == fs2 and len(ref) == len(rec), stem
        scores = (lsd(ref, rec), float(stoi(ref, rec, fs, extended=False)))
        groups[stem.split("__")[0]].append(scores)
        groups["all"].append(scores)
    for g, s in sorted(groups.items()):
        a = np.array(s)
        print(json.dumps({"group": g, "n": len(s), "lsd": round(float(a[:, 0].mean()), 2),
                          "lsd_sd": round(float(a[:, 0].std()), 2),
                          "stoi": round(float(a[:, 1].mean()), 3),
                          "stoi_sd": round(float(a[:, 1].std()), 3)}))


if __name__ == "__main__":
    main()
