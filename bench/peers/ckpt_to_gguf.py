# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Converts a one-tower (dense, Llama-shaped) native MoT checkpoint to GGUF, arch `llama`.

For the llama.cpp side-by-side benchmark (scripts/bench_peers.sh): the same weights, bit for
bit where the dtype allows, in the format llama.cpp reads.

  ckpt_to_gguf.py CKPT_DIR OUT.gguf [--outtype same|f32|f16|bf16]

--outtype same (the default) keeps the checkpoint's dtype (f32, f16 or bf16; norms stay f32
as in the checkpoint), so a bf16 checkpoint becomes a bf16 GGUF with identical bits; other
outtypes convert (f32 -> bf16 rounds to nearest even, as the engine's ConvertFromF32 does).
Quantized checkpoints (Q8_0/Q4_0) are refused: make those with llama-quantize from the f32
GGUF.

Mapping (config.json -> GGUF): dim -> llama.embedding_length, n_layers -> block_count,
n_heads / n_kv_heads -> attention.head_count / head_count_kv, head_dim -> rope.dimension_count
and attention.key_length / value_length, ffn_hidden -> feed_forward_length, rope_theta ->
rope.freq_base, norm_eps -> attention.layer_norm_rms_epsilon, max_seq_len -> context_length,
vocab_size -> vocab_size. Tensors: tok_embeddings -> token_embd, layers.i.attention.
local_experts_w{q,k,v,o}.0 -> blk.i.attn_{q,k,v,output}, ..._attention_norm.0 -> attn_norm,
feed_forward.local_experts.0.w{1,2,3} -> ffn_{gate,down,up}, ..._ffn_norm.0 -> ffn_norm,
norm.0 -> output_norm, output -> output (absent when tie_embeddings).

RoPE: our q/k projections use the Hugging Face rotate-half layout (pairs (j, j + head_dim/2));
llama.cpp's `llama` arch rotates adjacent pairs (2j, 2j+1). As llama.cpp's convert_hf_to_gguf.py
(LlamaModel.permute) does, the rows of each head of wq and wk are reordered so that row 2j
is our row j and row 2j+1 our row j + head_dim/2. q . k is unchanged (both permuted alike).

The vocabulary is a placeholder of vocab_size tokens (llama.cpp needs one; llama-bench feeds
random ids): SentencePiece-style `llama` model with <unk>, <s>, </s>, the 256 byte tokens and
filler pieces.

Refused (exit 1, naming the field): more than one tower, qk_norm, attention biases, layer norm,
post-branch norms, rope_scaling, sliding_window. Needs numpy and the `gguf` package (PyPI).
"""

import argparse
import json
import os
import sys

import numpy as np

try:
    import gguf
except ImportError:  # pragma: no cover - environment problem
    sys.exit("ckpt_to_gguf.py: the `gguf` package is missing (pip install gguf; "
             "scripts/bench_peers.sh installs it into build-peers/venv)")

_NP_DTYPES = {"F32": np.float32, "F16": np.float16, "BF16": np.uint16}


def read_safetensors(path):
    """{name: (safetensors dtype string, numpy array view)} of a safetensors file (mmap)."""
    with open(path, "rb") as f:
        header_len = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(header_len))
    data = np.memmap(path, dtype=np.uint8, mode="r", offset=8 + header_len)
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        dtype = info["dtype"]
        if dtype not in _NP_DTYPES:
            raise ValueError(f"{path}: tensor {name}: dtype {dtype} not supported "
                             "(f32, f16, bf16; quantize with llama-quantize instead)")
        begin, end = info["data_offsets"]
        arr = data[begin:end].view(_NP_DTYPES[dtype]).reshape(info["shape"])
        out[name] = (dtype, arr)
    return out


def to_f32(dtype, arr):
    if dtype == "F32":
        return np.asarray(arr, dtype=np.float32)
    if dtype == "F16":
        return arr.astype(np.float32)
    return (arr.astype(np.uint32) << 16).view(np.float32)  # BF16


def convert(dtype, arr, outtype):
    """(GGML type, numpy array) of `arr` (safetensors `dtype`) stored as `outtype`."""
    if outtype == "same":
        outtype = dtype.lower()
    if outtype == dtype.lower():
        kind = {"f32": gguf.GGMLQuantizationType.F32, "f16": gguf.GGMLQuantizationType.F16,
                "bf16": gguf.GGMLQuantizationType.BF16}[outtype]
        return kind, np.ascontiguousarray(arr)
    x = to_f32(dtype, arr)
    if outtype == "f32":
        return gguf.GGMLQuantizationType.F32, x
    if outtype == "f16":
        return gguf.GGMLQuantizationType.F16, x.astype(np.float16)
    bits = x.view(np.uint32).astype(np.uint64)
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even
    return gguf.GGMLQuantizationType.BF16, rounded.astype(np.uint16)


def permute_rope(w, n_head):
    """llama.cpp's LlamaModel.permute: rotate-half rows -> interleaved rows, per head."""
    return (w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def check_config(cfg):
    def fail(field, why):
        raise ValueError(f"config.json: field {field}: {why} (the llama arch cannot express it)")

    towers = len(cfg.get("modalities", ["text"]))
    if towers != 1:
        fail("modalities", f"one tower needed, got {towers} (use a dense config, e.g. 125m)")
    if cfg.get("qk_norm", False):
        fail("qk_norm", "must be false")
    if cfg.get("attention_bias", False):
        fail("attention_bias", "must be false")
    if cfg.get("norm_type", "rms") != "rms":
        fail("norm_type", f"must be rms, got {cfg['norm_type']}")
    if cfg.get("norm_placement", "pre") != "pre":
        fail("norm_placement", f"must be pre, got {cfg['norm_placement']}")
    if cfg.get("rope_scaling"):
        fail("rope_scaling", "must be absent")
    if cfg.get("sliding_window"):
        fail("sliding_window", "must be absent")
    if cfg["head_dim"] % 2:
        fail("head_dim", f"must be even, got {cfg['head_dim']}")


def write_vocab(writer, n_vocab):
    if n_vocab < 3 + 256 + 1:
        raise ValueError(f"config.json: field vocab_size: {n_vocab} is below the 260 tokens "
                         "of the placeholder vocabulary")
    tokens = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    types = [gguf.TokenType.UNKNOWN, gguf.TokenType.CONTROL, gguf.TokenType.CONTROL]
    types += [gguf.TokenType.BYTE] * 256
    tokens += [f"\u2581t{i}" for i in range(len(tokens), n_vocab)]
    types += [gguf.TokenType.NORMAL] * (n_vocab - len(types))
    writer.add_tokenizer_model("llama")
    writer.add_token_list(tokens)
    writer.add_token_scores([-float(i) for i in range(n_vocab)])
    writer.add_token_types(types)
    writer.add_unk_token_id(0)
    writer.add_bos_token_id(1)
    writer.add_eos_token_id(2)
    writer.add_add_bos_token(True)


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", help="native checkpoint directory (one tower)")
    parser.add_argument("out", help="GGUF file to write")
    parser.add_argument("--outtype", choices=["same", "f32", "f16", "bf16"], default="same")
    args = parser.parse_args(argv)

    cfg_path = os.path.join(args.checkpoint, "config.json")
    st_path = os.path.join(args.checkpoint, "model.safetensors")
    for p in (cfg_path, st_path):
        if not os.path.isfile(p):
            sys.exit(f"ckpt_to_gguf.py: {p}: not found (is {args.checkpoint} a checkpoint?)")
    with open(cfg_path) as f:
        cfg = json.load(f)
    try:
        check_config(cfg)
        tensors = read_safetensors(st_path)
    except ValueError as e:
        sys.exit(f"ckpt_to_gguf.py: {e}")

    n_layers, n_head, n_kv = cfg["n_layers"], cfg["n_heads"], cfg["n_kv_heads"]
    head_dim, dim = cfg["head_dim"], cfg["dim"]
    names = {"tok_embeddings.weight": "token_embd.weight", "norm.0.weight": "output_norm.weight"}
    if not cfg.get("tie_embeddings", False):
        names["output.weight"] = "output.weight"
    for i in range(n_layers):
        a, ff, b = f"layers.{i}.attention.", f"layers.{i}.feed_forward.", f"blk.{i}."
        names.update({
            f"{a}local_experts_wq.0.weight": f"{b}attn_q.weight",
            f"{a}local_experts_wk.0.weight": f"{b}attn_k.weight",
            f"{a}local_experts_wv.0.weight": f"{b}attn_v.weight",
            f"{a}local_experts_wo.0.weight": f"{b}attn_output.weight",
            f"{a}local_experts_attention_norm.0.weight": f"{b}attn_norm.weight",
            f"{ff}local_experts.0.w1.weight": f"{b}ffn_gate.weight",
            f"{ff}local_experts.0.w2.weight": f"{b}ffn_down.weight",
            f"{ff}local_experts.0.w3.weight": f"{b}ffn_up.weight",
            f"{ff}local_experts_ffn_norm.0.weight": f"{b}ffn_norm.weight",
        })
    missing = sorted(set(names) - set(tensors))
    extra = sorted(set(tensors) - set(names))
    if missing or extra:
        sys.exit(f"ckpt_to_gguf.py: {st_path}: tensors missing {missing[:3]}, unexpected "
                 f"{extra[:3]} for a one-tower llama-shaped checkpoint")

    gemm_dtype = tensors["layers.0.attention.local_experts_wq.0.weight"][0]
    outtype = gemm_dtype.lower() if args.outtype == "same" else args.outtype
    file_type = {"f32": gguf.LlamaFileType.ALL_F32, "f16": gguf.LlamaFileType.MOSTLY_F16,
                 "bf16": gguf.LlamaFileType.MOSTLY_BF16}[outtype]

    writer = gguf.GGUFWriter(args.out, "llama")
    writer.add_name(f"mot-{os.path.basename(os.path.normpath(args.checkpoint))}")
    writer.add_context_length(cfg["max_seq_len"])
    writer.add_embedding_length(dim)
    writer.add_block_count(n_layers)
    writer.add_feed_forward_length(cfg["ffn_hidden"])
    writer.add_head_count(n_head)
    writer.add_head_count_kv(n_kv)
    writer.add_key_length(head_dim)
    writer.add_value_length(head_dim)
    writer.add_rope_dimension_count(head_dim)
    writer.add_rope_freq_base(float(cfg["rope_theta"]))
    writer.add_layer_norm_rms_eps(float(cfg["norm_eps"]))
    writer.add_vocab_size(cfg["vocab_size"])
    writer.add_file_type(file_type)
    write_vocab(writer, cfg["vocab_size"])

    n_params = 0
    for src, dst in names.items():
        dtype, arr = tensors[src]
        if dst.endswith("attn_q.weight"):
            arr = permute_rope(arr, n_head)
        elif dst.endswith("attn_k.weight"):
            arr = permute_rope(arr, n_kv)
        # Norms keep their dtype (f32 in our checkpoints); llama.cpp wants 1-D tensors f32.
        kind, data = convert(dtype, arr, "f32" if arr.ndim == 1 else outtype)
        writer.add_tensor(dst, data, raw_dtype=kind)
        n_params += arr.size
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    print(json.dumps({"gguf": args.out, "outtype": outtype, "params": int(n_params),
                      "tensors": len(names), "bytes": os.path.getsize(args.out)}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
