# Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
"""Tiny random Hugging Face models and their outputs, made with transformers itself.

For the import oracle test (hf_import_oracle_test.cc): builds a random model of one
architecture with transformers, saves it with save_pretrained(safe_serialization=True)
(sharded when --shard), adds a small byte-level BPE tokenizer.json, and records what
transformers computes in float32 for a random prompt: the prefill logits, a greedy
generation, and the logits of each decode step (the generated tokens fed one at a time
through transformers' KV cache).

CLI:
  hf_oracle.py --arch llama3|linear|mistral|qwen2|qwen2_yarn|serve|serve_llama3|bagel --out DIR
               [--shard] [--seed N]
Writes DIR/hf/ (the model directory), DIR/prefill.bin ([prompt, vocab] float32),
DIR/decode.bin ([gen, vocab] float32: row k is the step that fed generated[k]) and
DIR/ref.json {"prompt": [...], "generated": [...], "vocab_size": V, "min_margin": m}
(min_margin: the smallest gap between the two best logits over the greedy steps).
--arch serve (hf_serve_oracle_test.cc): a plain LlamaForCausalLM whose tokenizer.json has
the special tokens <unk> <s> </s> at ids 0..2 (the config's bos 1 and eos 2), with a
tokenizer_config.json naming LlamaTokenizerFast (which prepends <s>, as Llama-2's does)
and a generation_config.json whose eos_token_id is the list [2, 3]. The prompt is then the
ids transformers' own AutoTokenizer gives for PROMPT_TEXT, and ref.json also holds
"prompt_text", "eos_token_ids" and "generated_text" (the tokenizer's decode, with
skip_special_tokens, of the generated ids up to the first eos id, that one excluded).
--arch serve_llama3: the same with a tokenizer laid out as Llama-3's (Split with its pattern,
ByteLevel without regex, ignore_merges, string merges, <|begin_of_text|> ... <|eot_id|> at
the last five ids, a TemplateProcessing post-processor prepending <|begin_of_text|>,
tokenizer_config.json naming PreTrainedTokenizerFast, generation_config eos
[<|end_of_text|>, <|eot_id|>], and the Llama-3 chat template of
tests/data/text/chat_templates/llama3.jinja); ref.json also holds "bos_token_id",
"chat_messages" and "chat_prompt" (apply_chat_template(..., add_generation_prompt=True)).
--arch bagel: a BAGEL directory (llm_config.json + ema.safetensors, as ByteDance-Seed/Bagel
ships BAGEL-7B-MoT) whose language model has two towers made from two Qwen2ForCausalLM of the
same shape and different seeds: the und modules (q/k/v/o_proj, q_norm, k_norm, mlp,
input_layernorm, post_attention_layernorm, norm) from model A, the *_moe_gen ones from model
B, embed_tokens and lm_head (shared in BAGEL) from A and copied into B. BAGEL's RMS q/k norm
over head_dim (after the projection and its bias, before rotary), which Qwen2 lacks, is added
to both models by a forward hook on q_proj and k_proj that applies transformers' own
Qwen2RMSNorm (the module BAGEL uses), with random weights around 1 per layer and tower; so
the oracle is still transformers' Qwen2 forward. ema.safetensors also holds a few tensors of
each non-LLM Bagel module (vit_model., connector., vit_pos_embed., time_embedder.,
vae2llm., llm2vae., latent_pos_embed.), which the import must skip. Outputs: prefill.bin,
decode.bin and ref.json's generated/min_margin are A's (every token in tower 0), and
prefill_gen.bin, decode_gen.bin, generated_gen and min_margin_gen are B's (tower 1), for
the same prompt.
--arch chameleon / chameleon_swin: a ChameleonForConditionalGeneration (swin_norm false /
true) with a tiny VQ-VAE and a vocabulary_map whose IMGIMG* tokens are ids 200..263, 290 and
291; transformers sets their logits to the float32 minimum, and ref.json's
"image_token_ids" lists them. Its per-head q/k LayerNorm weights and biases are randomized
like every norm and bias.
Exit status 77 when transformers cannot be imported (the test then skips).

transformers comes from its own site directory (MOT_HF_ORACLE_SITE, default
<venv>/hf-oracle): it pins tokenizers and huggingface-hub versions older than the ones
the other oracles use, so scripts/setup.sh installs it there with --no-deps.
"""

import argparse
import json
import os
import sys

SITE = os.environ.get("MOT_HF_ORACLE_SITE", os.path.join(sys.prefix, "hf-oracle"))
if os.path.isdir(SITE):
    sys.path.insert(0, SITE)

try:
    import torch
    import transformers
    from transformers import (DynamicCache, LlamaConfig, LlamaForCausalLM, MistralConfig,
                              MistralForCausalLM, Qwen2Config, Qwen2ForCausalLM)
except Exception as e:  # noqa: BLE001 - any import failure means "not installed here"
    print(f"SKIP: transformers is not importable ({type(e).__name__}: {e}); "
          f"scripts/setup.sh installs it into {SITE}", file=sys.stderr)
    sys.exit(77)

VOCAB = 300
PROMPT = 24
GEN = 8

COMMON = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
              intermediate_size=128, vocab_size=VOCAB, max_position_embeddings=128,
              initializer_range=0.2, rms_norm_eps=1e-5, attn_implementation="eager")


def make_model(arch):
    if arch == "llama3":
        # head_dim 16, theta 10000, original length 64: wavelengths 6.3 (kept), 19.9 and 62.8
        # (blended), 199 and up (divided by factor): every band is used.
        cfg = LlamaConfig(rope_theta=10000.0, rope_scaling={
            "rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 64}, **COMMON)
        return LlamaForCausalLM(cfg)
    if arch == "linear":
        cfg = LlamaConfig(rope_scaling={"type": "linear", "factor": 3.0}, tie_word_embeddings=True,
                          **COMMON)
        return LlamaForCausalLM(cfg)
    if arch == "mistral":
        # A window of 8 over 24 + 8 tokens: most queries see only part of their prefix.
        return MistralForCausalLM(MistralConfig(sliding_window=8, **COMMON))
    if arch == "qwen2":
        # Qwen2Config names no eos by default; real Qwen2 configs do (mot-import needs one).
        return Qwen2ForCausalLM(Qwen2Config(rope_theta=1000000.0, eos_token_id=2, **COMMON))
    if arch == "qwen2_yarn":
        # Qwen2.5's long-context rope: yarn, factor 4, its original context written as
        # Qwen2.5 writes it (transformers 4.46 takes max_position_embeddings and warns about the
        # extra key). head_dim 16, theta 10000: the ramp spans the first 3 frequencies.
        return Qwen2ForCausalLM(Qwen2Config(rope_theta=10000.0, eos_token_id=2, rope_scaling={
            "type": "yarn", "factor": 4.0, "original_max_position_embeddings": 128}, **COMMON))
    if arch == "serve":
        return LlamaForCausalLM(LlamaConfig(bos_token_id=1, eos_token_id=2, **COMMON))
    if arch == "serve_llama3":
        return LlamaForCausalLM(LlamaConfig(bos_token_id=LLAMA3_BOS, eos_token_id=LLAMA3_EOS[0],
                                            **COMMON))
    if arch in ("chameleon", "chameleon_swin"):
        return make_chameleon(swin=arch == "chameleon_swin")
    raise SystemExit(f"unknown --arch {arch}")


# Chameleon: the ids of the image tokens (vocabulary_map's IMGIMG* names), a block and two
# strays, so that they make more than one range; the rest of the vocabulary is text.
CHAMELEON_IMAGE_IDS = list(range(200, 264)) + [290, 291]


def chameleon_image_token_name(code):
    """IMGIMG + the code's digits as letters A..J + Z, as Chameleon's tokenizer names them."""
    return "IMGIMG" + "".join(chr(ord("A") + int(d)) for d in str(code)) + "Z"


def make_chameleon(swin):
    """A tiny ChameleonForConditionalGeneration: a small VQ-VAE (its tensors are in the
    checkpoint and must be skipped by the import), a vocabulary_map naming the image tokens
    (whose logits transformers sets to the float minimum) and the <image> placeholder."""
    from transformers import ChameleonConfig, ChameleonForConditionalGeneration
    # GroupNorm(32 groups) inside needs channel counts that are multiples of 32.
    vq = dict(embed_dim=8, num_embeddings=len(CHAMELEON_IMAGE_IDS), latent_channels=32,
              base_channels=32, channel_multiplier=[1], num_res_blocks=1, resolution=16,
              attn_resolutions=[])
    vocabulary_map = {"<image>": 5}
    for code, token in enumerate(CHAMELEON_IMAGE_IDS):
        vocabulary_map[chameleon_image_token_name(code)] = token
    cfg = ChameleonConfig(swin_norm=swin, vq_config=vq, vocabulary_map=vocabulary_map,
                          bos_token_id=1, eos_token_id=2, **COMMON)
    return ChameleonForConditionalGeneration(cfg)


def randomize(model, gen):
    """Norm weights around 1 and q/k/v biases non-zero (transformers initialises them to 1
    and 0, which would leave their mapping untested)."""
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith("norm.weight"):
                p.copy_(1.0 + 0.4 * (torch.rand(p.shape, generator=gen) - 0.5))
            elif name.endswith(".bias"):
                p.copy_(0.5 * torch.randn(p.shape, generator=gen))


SERVE_SPECIALS = ["<unk>", "<s>", "</s>"]  # ids 0, 1, 2
SERVE_EOS = [2, 3]
PROMPT_TEXT = "the quick brown fox imported a model from transformers, théorie 42"


def write_tokenizer(path, specials=()):
    """A byte-level BPE tokenizer.json of 300 ids (`specials` first, then 256 bytes and
    merges), as the tokenizers library writes it."""
    from tokenizers import Tokenizer, models, pre_tokenizers, decoders, trainers
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=VOCAB, show_progress=False,
                                  special_tokens=list(specials),
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    text = ["the quick brown fox jumps over the lazy dog " * 4,
            "a model imported from transformers " * 4, "the theory of the thing " * 4]
    tok.train_from_iterator(text, trainer)
    tok.save(path)


# --arch serve_llama3: the special tokens at the end of the vocabulary, as Llama-3 keeps them
# (<|begin_of_text|> 128000, <|end_of_text|> 128001, <|eot_id|> 128009).
LLAMA3_SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>",
                   "<|end_header_id|>", "<|eot_id|>"]  # ids 295..299
LLAMA3_BOS = VOCAB - 5
LLAMA3_EOS = [VOCAB - 4, VOCAB - 1]
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
CHAT_MESSAGES = [{"role": "system", "content": "Be brief."},
                 {"role": "user", "content": "The fox's théorie? 12345"}]
LLAMA3_PROMPT_TEXT = "The fox's 12345 théorie:\n\n  DON'T stop — 日本語 ok"


def write_llama3_tokenizer(path):
    """A tokenizer.json laid out as Llama-3's: Split with its pattern, then ByteLevel without
    regex, ignore_merges, merges as "a b" strings, the special tokens after the model's
    tokens, and a TemplateProcessing post-processor that prepends <|begin_of_text|>."""
    from tokenizers import Regex, Tokenizer, models, pre_tokenizers, decoders, processors, trainers
    tok = Tokenizer(models.BPE(ignore_merges=True))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(LLAMA3_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=LLAMA3_BOS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    text = ["the quick brown fox jumps over the lazy dog " * 4,
            "a model imported from transformers " * 4, "the theory of the thing " * 4,
            "The fox's théorie: don't stop, 12345 ok " * 4]
    tok.train_from_iterator(text, trainer)
    if tok.get_vocab_size() != LLAMA3_BOS:
        raise SystemExit(f"the BPE has {tok.get_vocab_size()} tokens, not {LLAMA3_BOS}")
    tok.add_special_tokens(LLAMA3_SPECIALS)
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(single="<|begin_of_text|> $A",
                                      pair="<|begin_of_text|> $A <|begin_of_text|> $B",
                                      special_tokens=[("<|begin_of_text|>", LLAMA3_BOS)])])
    tok.save(path)
    with open(path, encoding="utf-8") as f:
        j = json.load(f)
    j["model"]["merges"] = [" ".join(m) if isinstance(m, list) else m for m in j["model"]["merges"]]
    with open(path, "w", encoding="utf-8") as f:
        json.dump(j, f, ensure_ascii=False)


def greedy(model, prompt):
    """Prefill logits, greedy ids, decode logits (row k: the step that fed generated[k]) and
    the smallest top-2 margin. Greedy decoding by hand (generate() imports
    torch.distributed.fsdp, which Debian's torch 1.13 cannot import under Python 3.11); the
    same steps generate() takes: one prefill, then one token at a time through the KV cache."""
    with torch.no_grad():
        out = model(prompt, past_key_values=DynamicCache(), use_cache=True)
        prefill = out.logits[0]
        past = out.past_key_values
        last = prefill[-1]
        generated, decode, margins = [], [], []
        for _ in range(GEN):
            top2 = torch.topk(last, 2).values
            margins.append(float(top2[0] - top2[1]))
            token = int(torch.argmax(last))
            generated.append(token)
            out = model(torch.tensor([[token]]), past_key_values=past, use_cache=True)
            past = out.past_key_values
            last = out.logits[0, -1]
            decode.append(last)
    return prefill, generated, torch.stack(decode), min(margins)


def add_qk_norm(model, gen):
    """BAGEL's q_norm/k_norm (PackedAttentionMoT with qk_norm): Qwen2RMSNorm(head_dim) on
    each head of q_proj's and k_proj's output, bias included, before rotary. Returns the
    norm weights by layer: [(q_norm, k_norm), ...]."""
    from transformers.models.qwen2.modeling_qwen2 import Qwen2RMSNorm
    cfg = model.config
    head_dim = cfg.hidden_size // cfg.num_attention_heads
    weights = []
    for layer in model.model.layers:
        pair = []
        for proj in (layer.self_attn.q_proj, layer.self_attn.k_proj):
            norm = Qwen2RMSNorm(head_dim, eps=cfg.rms_norm_eps)
            with torch.no_grad():
                norm.weight.copy_(1.0 + 0.4 * (torch.rand(head_dim, generator=gen) - 0.5))

            def hook(module, inputs, output, norm=norm):
                shape = output.shape
                return norm(output.reshape(*shape[:-1], -1, head_dim)).reshape(shape)

            proj.register_forward_hook(hook)
            pair.append(norm.weight.detach().clone())
        weights.append(tuple(pair))
    return weights


def gen_tower_name(name):
    """The BAGEL name of a Qwen2ForCausalLM parameter in the gen tower (qwen2_navit.py's
    *_moe_gen modules), without the language_model. prefix."""
    for module in ("q_proj", "k_proj", "v_proj", "o_proj"):
        name = name.replace(f".self_attn.{module}.", f".self_attn.{module}_moe_gen.")
    for module in ("mlp", "input_layernorm", "post_attention_layernorm"):
        name = name.replace(f".{module}.", f".{module}_moe_gen.")
    if name == "model.norm.weight":
        name = "model.norm_moe_gen.weight"
    return name


def make_bagel(args):
    from safetensors.torch import save_file
    cfg_args = dict(rope_theta=1000000.0, eos_token_id=2, **COMMON)
    gen = torch.Generator().manual_seed(args.seed)
    torch.manual_seed(args.seed)
    und = Qwen2ForCausalLM(Qwen2Config(**cfg_args)).to(torch.float32).eval()
    torch.manual_seed(args.seed + 1000)
    gen_model = Qwen2ForCausalLM(Qwen2Config(**cfg_args)).to(torch.float32).eval()
    randomize(und, gen)
    randomize(gen_model, gen)
    with torch.no_grad():  # shared by both towers in BAGEL
        gen_model.model.embed_tokens.weight.copy_(und.model.embed_tokens.weight)
        gen_model.lm_head.weight.copy_(und.lm_head.weight)
    und_norms = add_qk_norm(und, gen)
    gen_norms = add_qk_norm(gen_model, gen)

    hf_dir = os.path.join(args.out, "hf")
    os.makedirs(hf_dir)
    tensors = {}
    for name, t in und.state_dict().items():
        tensors["language_model." + name] = t
    for name, t in gen_model.state_dict().items():
        if name in ("model.embed_tokens.weight", "lm_head.weight"):
            continue
        tensors["language_model." + gen_tower_name(name)] = t
    for i, ((uq, uk), (gq, gk)) in enumerate(zip(und_norms, gen_norms)):
        prefix = f"language_model.model.layers.{i}.self_attn."
        tensors[prefix + "q_norm.weight"] = uq
        tensors[prefix + "k_norm.weight"] = uk
        tensors[prefix + "q_norm_moe_gen.weight"] = gq
        tensors[prefix + "k_norm_moe_gen.weight"] = gk
    for name in ("vit_model.vision_model.embeddings.patch_embedding.weight", "connector.fc1.weight",
                 "vit_pos_embed.pos_embed", "time_embedder.mlp.0.weight", "vae2llm.weight",
                 "llm2vae.weight", "latent_pos_embed.pos_embed"):
        tensors[name] = torch.randn(4, 8, generator=gen)
    save_file({k: v.detach().contiguous().clone() for k, v in tensors.items()},
              os.path.join(hf_dir, "ema.safetensors"), metadata={"format": "pt"})
    # llm_config.json: the Qwen2 config.json save_pretrained writes, plus BAGEL's keys
    # (qwen2_navit.Qwen2Config).
    und.config.architectures = ["Qwen2ForCausalLM"]
    und.config.save_pretrained(hf_dir)
    config_path = os.path.join(hf_dir, "config.json")
    with open(config_path) as f:
        llm_config = json.load(f)
    os.remove(config_path)
    llm_config.pop("_attn_implementation_autoset", None)  # as model.save_pretrained drops it
    llm_config.update(qk_norm=True, layer_module="Qwen2MoTDecoderLayer", freeze_und=False,
                      tie_word_embeddings=False)
    with open(os.path.join(hf_dir, "llm_config.json"), "w") as f:
        json.dump(llm_config, f, indent=2)
    write_tokenizer(os.path.join(hf_dir, "tokenizer.json"))

    prompt = torch.randint(0, VOCAB, (1, PROMPT), generator=gen)
    ref = {"prompt": prompt[0].tolist(), "vocab_size": VOCAB,
           "transformers": transformers.__version__}
    for model, suffix in ((und, ""), (gen_model, "_gen")):
        prefill, generated, decode, margin = greedy(model, prompt)
        prefill.numpy().astype("<f4").tofile(os.path.join(args.out, f"prefill{suffix}.bin"))
        decode.numpy().astype("<f4").tofile(os.path.join(args.out, f"decode{suffix}.bin"))
        ref["generated" + suffix] = generated
        ref["min_margin" + suffix] = margin
    with open(os.path.join(args.out, "ref.json"), "w") as f:
        json.dump(ref, f)
    return 0


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--arch", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--shard", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    if args.arch == "bagel":
        return make_bagel(args)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    model = make_model(args.arch).to(torch.float32).eval()
    randomize(model, gen)
    hf_dir = os.path.join(args.out, "hf")
    model.save_pretrained(hf_dir, safe_serialization=True,
                          **({"max_shard_size": "60KB"} if args.shard else {}))
    serve = args.arch in ("serve", "serve_llama3")
    llama3 = args.arch == "serve_llama3"
    if llama3:
        write_llama3_tokenizer(os.path.join(hf_dir, "tokenizer.json"))
    else:
        write_tokenizer(os.path.join(hf_dir, "tokenizer.json"), SERVE_SPECIALS if serve else ())
    extra = {}
    if serve:
        from transformers import AutoTokenizer, GenerationConfig
        bos, eos, text = (LLAMA3_BOS, LLAMA3_EOS, LLAMA3_PROMPT_TEXT) if llama3 else \
            (1, SERVE_EOS, PROMPT_TEXT)
        with open(os.path.join(hf_dir, "tokenizer_config.json"), "w") as f:
            if llama3:
                # Llama-3's: the generic fast tokenizer, which keeps tokenizer.json's
                # post-processor (the BOS template).
                with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "data",
                                       "text", "chat_templates", "llama3.jinja")) as t:
                    chat_template = t.read()
                json.dump({"tokenizer_class": "PreTrainedTokenizerFast",
                           "bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>",
                           "clean_up_tokenization_spaces": True,
                           "chat_template": chat_template}, f)
            else:
                json.dump({"tokenizer_class": "LlamaTokenizerFast", "bos_token": "<s>",
                           "eos_token": "</s>", "unk_token": "<unk>", "add_bos_token": True,
                           "add_eos_token": False, "legacy": False}, f)
        GenerationConfig(bos_token_id=bos, eos_token_id=eos).save_pretrained(hf_dir)
        tokenizer = AutoTokenizer.from_pretrained(hf_dir)
        ids = tokenizer(text)["input_ids"]
        if ids[0] != bos:
            raise SystemExit(f"{type(tokenizer).__name__} did not prepend BOS {bos}: {ids}")
        prompt = torch.tensor([ids])
        extra = {"prompt_text": text, "eos_token_ids": eos, "bos_token_id": bos,
                 "tokenizer_class": type(tokenizer).__name__}
        if llama3:
            # The ids transformers' apply_chat_template gives (what Generate's `messages`
            # must prompt with).
            extra["chat_messages"] = CHAT_MESSAGES
            extra["chat_prompt"] = tokenizer.apply_chat_template(CHAT_MESSAGES,
                                                                 add_generation_prompt=True)
    else:
        prompt = torch.randint(0, VOCAB, (1, PROMPT), generator=gen)
    if args.arch.startswith("chameleon"):  # the ids whose logits transformers suppresses
        extra = {"image_token_ids": list(model.model.vocabulary_mapping.image_tokens)}
    prefill, generated, decode, min_margin = greedy(model, prompt)
    prefill.numpy().astype("<f4").tofile(os.path.join(args.out, "prefill.bin"))
    decode.numpy().astype("<f4").tofile(os.path.join(args.out, "decode.bin"))
    if serve:
        end = next((i for i, t in enumerate(generated) if t in extra["eos_token_ids"]),
                   len(generated))
        extra["generated_text"] = tokenizer.decode(generated[:end], skip_special_tokens=True)
    with open(os.path.join(args.out, "ref.json"), "w") as f:
        json.dump({"prompt": prompt[0].tolist(), "generated": generated, "vocab_size": VOCAB,
                   "min_margin": min_margin, "transformers": transformers.__version__,
                   **extra}, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
