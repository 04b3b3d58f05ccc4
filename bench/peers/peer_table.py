# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Builds the Markdown table of scripts/bench_peers.sh from one run directory.

  peer_table.py RUN_DIR [--out PATH] [--footer-json META.json]

RUN_DIR holds, per round R (1..), dtype D and thread count T:
  mot_D_tT_rR.json       mot_bench --checkpoint=... --json (one row)
  llama_D_tT_rR_pp.json  llama-bench -o json, the prefill test (n_prompt > 0, n_gen 0)
  llama_D_tT_rR_tg.json  llama-bench -o json, the decode test (n_gen > 0, at depth = prompt)
Each number in the table is the median over the rounds of that round's mean (each round is
itself a mean over the tools' repetitions). Rows: dtype x threads, in the order of META's
"dtypes" and "threads". META.json carries the footer (cpu, flags, versions, command, ...).
Prints the table and footer; writes them to --out too when given. Exit 1 naming the file
when a result is missing or not understood.
"""

import argparse
import json
import os
import statistics
import sys


# A row whose rounds disagree by more than this factor (max / min of any one column) is
# marked: on a shared machine a round that met another process's load is much slower.
SPREAD_MARK = 1.3


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, json.JSONDecodeError) as e:
        sys.exit(f"peer_table.py: {path}: {e}")


def llama_rate(path, want):
    """avg_ts of the llama-bench record in `path` of kind `want` ("pp" or "tg")."""
    for rec in load(path):
        if want == "pp" and rec["n_prompt"] > 0 and rec["n_gen"] == 0:
            return rec["avg_ts"], rec
        if want == "tg" and rec["n_gen"] > 0 and rec["n_prompt"] == 0:
            return rec["avg_ts"], rec
    sys.exit(f"peer_table.py: {path}: no {want} record")


def fmt(x, digits=1):
    return "-" if x is None else f"{x:.{digits}f}"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir")
    parser.add_argument("--meta", required=True, help="META.json: footer fields")
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    meta = load(args.meta)
    rounds = int(meta["rounds"])

    lines = [
        f"# MoT Serve vs llama.cpp, CPU, {meta['model']} ({meta['params_m']} params), "
        f"prompt {meta['prompt']}, decode {meta['decode']}",
        "",
        "| dtype | threads | our prefill tok/s | llama.cpp prefill tok/s | ratio "
        "| our decode tok/s | llama.cpp decode tok/s | ratio | our read bound tok/s "
        "| our decode / bound |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    llama_info, mot_json = None, None
    for dtype in meta["dtypes"]:
        for t in meta["threads"]:
            ours_pp, ours_tg, bound, ll_pp, ll_tg, frac = [], [], [], [], [], []
            for r in range(1, rounds + 1):
                base = os.path.join(args.run_dir, f"{{}}_{dtype}_t{t}_r{r}")
                mot_json = load(base.format("mot") + ".json")
                mot = mot_json["rows"][0]
                ours_pp.append(mot["prefill_tok_s"])
                ours_tg.append(mot["decode_tok_s"])
                # The higher of the run's two bandwidth readings (before and after its runs):
                # on a shared machine a reading taken while another process runs is too low.
                gbs = max(mot_json["bandwidth_gbs"], mot["read_gbs"])
                bound.append(gbs * 1e9 / mot["bytes_per_token"])
                frac.append(mot["decode_tok_s"] / bound[-1])
                pp, _ = llama_rate(base.format("llama") + "_pp.json", "pp")
                tg, llama_info = llama_rate(base.format("llama") + "_tg.json", "tg")
                ll_pp.append(pp)
                ll_tg.append(tg)
            m = statistics.median
            spread = max(max(v) / min(v) for v in (ours_pp, ours_tg, ll_pp, ll_tg))
            mark = " †" if spread > SPREAD_MARK else ""
            lines.append(
                f"| {dtype}{mark} | {t} | {fmt(m(ours_pp))} | {fmt(m(ll_pp))} "
                f"| {fmt(m(ours_pp) / m(ll_pp), 2)} | {fmt(m(ours_tg))} | {fmt(m(ll_tg))} "
                f"| {fmt(m(ours_tg) / m(ll_tg), 2)} | {fmt(m(bound))} | {m(frac):.0%} |")

    reps = meta["reps"]
    fa = {-1: "auto", 0: "off", 1: "on"}.get(llama_info.get("flash_attn"), "?")
    lines += [
        "",
        f"Medians over {rounds} interleaved rounds (per round, per dtype, per thread count: "
        f"llama-bench then mot_bench, or the reverse on even rounds); each round's number is the "
        f"mean of {reps} repetitions after 1 warm-up (llama-bench -r {reps}, mot_bench --reps="
        f"{reps} --warmup=1). Ratio = ours / llama.cpp (> 1: we are faster). †: the rounds of "
        f"that row disagree by more than {SPREAD_MARK}x in some column (max / min; another "
        f"process's load; the raw JSON has every round).",
        f"Prefill: {meta['prompt']} tokens from an empty cache (llama-bench pp{meta['prompt']}). "
        f"Decode: {meta['decode']} single-stream tokens after a {meta['prompt']}-token prompt "
        f"(llama-bench tg{meta['decode']} at -d {meta['prompt']}). KV cache {meta['kv']} on both "
        f"sides (llama-bench -ctk/-ctv {meta['kv']}, mot_bench --kv_dtype={meta['kv']}); "
        f"llama.cpp flash attention: {fa} (its default), OpenMP threads, repack "
        f"{llama_info.get('repack')}, mmap.",
        "Read bound: mot_bench's measured read bandwidth (bench/bandwidth.h, at the thread count "
        "of the row; the higher of its two readings in that run, before and after the timed "
        "runs) / the bytes our model reads per decoded token (weights + KV).",
        f"Weights: the same random {meta['model']} weights on both sides (mot_bench "
        "--save_checkpoint, seed 1234). f32/bf16/f16: our checkpoint of that dtype and its GGUF "
        "via bench/peers/ckpt_to_gguf.py (identical bits; q/k rows permuted to llama.cpp's RoPE "
        "layout). Q8_0/Q4_0: ours by mot-quantize from the f32 checkpoint (every projection and "
        "the untied LM head; token embeddings and norms stay f32); llama.cpp's by "
        "llama-quantize --pure from the f32 GGUF (every 2-D tensor incl. token_embd and output; "
        "norms f32).",
        f"Sizes: {meta['sizes']}. Parameters: {mot['params']} ours (mot_bench), "
        f"{llama_info['model_n_params']} in the GGUF (llama-bench).",
        f"Equivalence: {meta['verify']}",
        f"CPU: {meta['cpu']}; flags: {meta['flags']}; {meta['cores']} cores. Load average "
        f"{meta['load_start']} (start) / {meta['load_end']} (end).",
        f"llama.cpp: llama-cpp-python {meta['llama_cpp_python']} (PyPI sdist), vendoring "
        f"llama.cpp {meta['llama_cpp_commit']}; built with {meta['llama_build']}. "
        f"MoT Serve: commit {meta['mot_commit']}"
        + (f" (mot_bench built {meta['mot_bench_built']})" if "mot_bench_built" in meta else "")
        + f", backend {mot_json['backend']}.",
        f"Date: {meta['date']}. Command: `{meta['command']}`",
    ]
    text = "\n".join(lines) + "\n"
    sys.stdout.write(text)
    if args.out:
        os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
        with open(args.out, "w") as f:
            f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
