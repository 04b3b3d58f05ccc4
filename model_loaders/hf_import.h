// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
//
// File: model_loaders/hf_import.h
// Import of Hugging Face transformers model directories into a native one-tower (text)
// checkpoint (checkpoint.h), for the architectures whose forward pass ours computes exactly:
//   LlamaForCausalLM    rope_scaling null, "linear" or "llama3"; no attention/MLP biases
//   MistralForCausalLM  sliding_window (one window for every layer) or null
//   Qwen2ForCausalLM    q/k/v projection biases; use_sliding_window false
//   ChameleonForConditionalGeneration  its language model only (below)
// An HF directory holds config.json, model.safetensors or shards named by
// model.safetensors.index.json ({"weight_map": {tensor: shard file}}), and optionally
// tokenizer.json, tokenizer_config.json and generation_config.json. HF's q/k projection rows
// are already in the rotate-half order our rotary uses, so tensors are renamed, never
// permuted, and keep their dtype (F32, BF16, F16).
//
// BAGEL (ByteDance-Seed/Bagel, e.g. BAGEL-7B-MoT): a directory with llm_config.json and
// ema.safetensors is read as BAGEL's language model, a Qwen2 decoder with two towers
// (modeling/bagel/qwen2_navit.py, Qwen2MoTDecoderLayer + PackedAttentionMoT), into a
// two-tower native checkpoint: tower 0 "text" is BAGEL's understanding ("und") tower, which
// every text token goes through, tower 1 "image" its generation tower (the *_moe_gen
// modules, which BAGEL runs on the VAE latent tokens of an image being generated). Per
// layer and tower: q/k/v projections with biases, o_proj, RMS q/k norms over head_dim
// (after the projection and bias, before rotary), input_layernorm, post_attention_layernorm
// and the SwiGLU MLP; a final norm per tower (norm, norm_moe_gen); embed_tokens and lm_head
// are shared. The vocabulary is one range "text" of tower 0 (the image tower has no token
// ids: BAGEL feeds it latents, not tokens). llm_config.json is read as a Qwen2 config.json
// (the same keys, refused the same way) plus BAGEL's keys: qk_norm, tie_word_embeddings and
// layer_module are set to true, false and "Qwen2MoTDecoderLayer", as BAGEL's own loaders
// (app.py, inferencer setups) do whatever the file says, with a note when the file
// disagrees; freeze_und (training), is_causal (BAGEL passes causality per call),
// _attn_implementation (the kernel) and _attn_implementation_autoset (transformers'
// bookkeeping) are accepted and dropped. ema.safetensors is the
// whole Bagel state dict: the language_model.* tensors are imported; those of the SigLIP
// ViT and its connector (vit_model., connector., vit_pos_embed.) and of the flow-matching
// image head (time_embedder., vae2llm., llm2vae., latent_pos_embed.) are counted and not
// imported; ae.safetensors (the VAE), vit_config.json and config.json are not read. Any
// other tensor is refused as unexpected.
//
// Chameleon (transformers' modeling_chameleon.py): a Llama-shaped decoder, one tower "text"
// over every id, with ChameleonLayerNorm q/k norms (a LayerNorm over each head's head_dim
// with per-head weight and bias, [heads, head_dim], eps 1e-5, after the projection, before
// rotary) imported as config.json "qk_norm": {"type": "layer", "per_head": true, "bias":
// true, "eps": 1e-5}; swin_norm false is the "pre" layout, true (ChameleonSwinDecoderLayer:
// h = x + input_layernorm(attn(x)), y = h + post_attention_layernorm(mlp(h))) "post_branch".
// The ids of vocabulary_map's IMGIMG* tokens (the VQ image codes) become
// suppressed_token_ids, so text generation never picks them, as
// ChameleonForConditionalGeneration.forward masks their logits. The VQ-VAE (model.vqmodel.*)
// is counted and not imported (a note names it), vq_config and model_parallel_size are
// accepted and dropped; attention_bias or mlp_bias true, a rope scaling other than linear,
// and keys ChameleonConfig does not have (head_dim) are refused.
//
// Refusals, each naming the file and the field or tensor, with nothing written: an
// architecture not listed above; a config.json key that is neither mapped nor known to be
// irrelevant to inference (a typo or a new feature must not be silently dropped); a mapped
// value we cannot express (hidden_act other than silu, a rope scaling type other than
// linear/llama3, Llama's attention_bias/mlp_bias, Qwen2's use_sliding_window,
// partial_rotary_factor != 1); a missing shard or weights file; an index naming a tensor its
// shard does not hold; a tensor the config implies that no file has, or an unexpected one;
// a tensor whose shape disagrees with the config; a tokenizer.json the check refuses.
// The special tokens become config.json's special_token_ids (MapSpecialTokenIds), so that
// the engine and mot-server serve the checkpoint with the model's own ids.
// Thread rule: free functions; distinct directories may be imported concurrently.
#ifndef MOT_MODEL_LOADERS_HF_IMPORT_H_
#define MOT_MODEL_LOADERS_HF_IMPORT_H_

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "model_loaders/model_config.h"

namespace mot::hf {

// The architectures (config.json "architectures"[0]) ImportHfModel reads.
std::vector<std::string> SupportedArchitectures();

// HfConfig::architecture and HfImportResult::architecture of a BAGEL directory, and the
// name HfTensorNames takes for BAGEL's table.
inline constexpr char kBagelArchitecture[] = "BAGEL";

struct HfConfig {
  std::string architecture;  // e.g. "LlamaForCausalLM", or kBagelArchitecture
  // One tower "text" (BAGEL: towers "text" and "image"), one vocab range "text"
  // [0, vocab_size) of tower 0.
  MotConfig config;
  // What the import did differently from what the file says (BAGEL's forced settings), one
  // line each, naming the file and field; empty for every HF architecture.
  std::vector<std::string> notes;
};

// Maps the text of an HF config.json to the native config. InvalidArgument
// "field <hf key>: <reason>" (the caller prefixes the file).
absl::StatusOr<HfConfig> MapHfConfig(std::string_view config_json);

// Maps the text of a BAGEL directory's llm_config.json (see the file comment); architecture
// is kBagelArchitecture. "architectures" must be ["Qwen2ForCausalLM"]. InvalidArgument
// "field <key>: <reason>" (the caller prefixes the file).
absl::StatusOr<HfConfig> MapBagelLlmConfig(std::string_view llm_config_json);

// The texts of an HF directory's JSON files that MapSpecialTokenIds reads; empty: no file.
struct HfSideFiles {
  std::string config;                       // config.json (required)
  std::string config_name = "config.json";  // its name in errors (BAGEL: llm_config.json)
  std::string generation_config;            // generation_config.json
  std::string tokenizer_config;             // tokenizer_config.json
  std::string tokenizer;                    // tokenizer.json
};

// The native special_token_ids (model_config.h) of an HF model of `architecture` with
// `vocab_size` ids:
//   bos, eos, pad  bos_token_id, eos_token_id (an id or a list of ids) and pad_token_id of
//                  generation_config.json where it sets them (non-null), else of config.json,
//                  as transformers' generate() takes them; eos is required.
//   add_bos        whether transformers' tokenizer (AutoTokenizer) starts `tokenizer(text)`
//                  with BOS. Its class is tokenizer_config.json's tokenizer_class, else the
//                  architecture's (Llama, Mistral: LlamaTokenizerFast; Qwen2:
//                  Qwen2TokenizerFast); without tokenizer_config.json, tokenizer.json's
//                  post_processor decides. The Llama, CodeLlama, Gemma, Cohere and GPT-NeoX
//                  tokenizers rebuild their post-processor from tokenizer_config.json's
//                  add_bos_token (default true; GPT-NeoX false) and bos_token (the class's
//                  default name, looked up in tokenizer.json); every other class keeps
//                  tokenizer.json's post_processor: null or ByteLevel add nothing, a
//                  TemplateProcessing (alone or in a Sequence) whose "single" template starts
//                  with a special token adds that token.
// The BOS the tokenizer adds is bos; a bos_token_id that names another id is refused.
// Refused by name, with the file: an id outside [0, vocab_size), a missing eos_token_id,
// add_eos_token true or a template that appends tokens (prompts never end with them here),
// BertProcessing/RobertaProcessing post-processors, a bos_token not in tokenizer.json.
absl::StatusOr<SpecialTokenIds> MapSpecialTokenIds(const std::string& architecture,
                                                   int32_t vocab_size, const HfSideFiles& files);

// The name table of `architecture` (a config.json architecture or kBagelArchitecture),
// expanded for `config`: (HF tensor name, native tensor name) for every tensor of
// weight_names::ExpectedTensors(config), in that order. InvalidArgument for an unknown
// architecture; Internal when `config` has tensors the table lacks (more towers than the
// architecture has, or q/k norms it does not have).
absl::StatusOr<std::vector<std::pair<std::string, std::string>>> HfTensorNames(
    const std::string& architecture, const MotConfig& config);

struct HfImportOptions {
  // Replace an existing output directory (atomically; WriteCheckpoint's overwrite).
  bool overwrite = false;
  // Called with the text of tokenizer.json when the directory has one; OK: the file is
  // copied into the checkpoint; an error refuses the import (annotated with the file).
  // Unset: copied unchecked. (mot-import passes the engine's BPE loader here: model_loaders
  // does not depend on the engine.)
  std::function<absl::Status(std::string_view)> check_tokenizer;
  // Import without tokenizer.json even when there is one (nothing is checked).
  bool skip_tokenizer = false;
};

struct HfImportResult {
  std::string architecture;
  MotConfig config;
  int64_t num_tensors = 0;
  std::vector<std::string> shards;  // weight files read, in name order
  std::vector<std::string> copied;  // extra files written (tokenizer.json, ...)
  // Tensors of the weight files deliberately not imported (BAGEL's ViT and image head,
  // Chameleon's VQ-VAE).
  int64_t num_skipped = 0;
  // HfConfig::notes, then one line per group of skipped tensors (module prefix and count).
  std::vector<std::string> notes;
};

// Reads the HF directory `hf_dir` (a BAGEL one when it holds both llm_config.json and
// ema.safetensors) and writes the native checkpoint `out_dir` (which must not exist unless
// options.overwrite). Everything is validated before anything is written;
// WriteCheckpoint then writes into a temporary sibling and renames it into place.
absl::StatusOr<HfImportResult> ImportHfModel(const std::string& hf_dir, const std::string& out_dir,
                                             const HfImportOptions& options = {});

}  // namespace mot::hf

#endif  // MOT_MODEL_LOADERS_HF_IMPORT_H_
