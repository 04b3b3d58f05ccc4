// Copyright 2026 The MoT Serve Authors. SPDX-License-Identifier: Apache-2.0
#include "model_loaders/hf_import.h"

#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "engine/core/status_macros.h"
#include "model_loaders/checkpoint.h"
#include "model_loaders/internal/file_util.h"
#include "model_loaders/internal/json_util.h"
#include "model_loaders/safetensors.h"
#include "model_loaders/weight_names.h"
#include "nlohmann/json.hpp"

namespace mot::hf {
namespace {

using json = nlohmann::json;
using loaders_internal::ShortDump;

constexpr uint64_t kMaxJsonBytes = uint64_t{512} << 20;  // tokenizer.json can be large
constexpr char kConfig[] = "config.json";
constexpr char kWeights[] = "model.safetensors";
constexpr char kIndex[] = "model.safetensors.index.json";

// One row of a name table: the HF name and the native name, "{i}" standing for the layer.
struct NameRule {
  const char* hf;
  const char* native;
};

// Llama, Mistral and Qwen2 share the module tree of LlamaForCausalLM; the native names are
// those of weight_names.h for tower 0.
constexpr NameRule kGlobalRules[] = {
    {"model.embed_tokens.weight", "tok_embeddings.weight"},
    {"model.norm.weight", "norm.0.weight"},
    {"lm_head.weight", "output.weight"},  // absent when tie_word_embeddings
};
constexpr NameRule kLlamaLayerRules[] = {
    {"model.layers.{i}.self_attn.q_proj.weight", "layers.{i}.attention.local_experts_wq.0.weight"},
    {"model.layers.{i}.self_attn.k_proj.weight", "layers.{i}.attention.local_experts_wk.0.weight"},
    {"model.layers.{i}.self_attn.v_proj.weight", "layers.{i}.attention.local_experts_wv.0.weight"},
    {"model.layers.{i}.self_attn.o_proj.weight", "layers.{i}.attention.local_experts_wo.0.weight"},
    {"model.layers.{i}.input_layernorm.weight",
     "layers.{i}.attention.local_experts_attention_norm.0.weight"},
    {"model.layers.{i}.mlp.gate_proj.weight", "layers.{i}.feed_forward.local_experts.0.w1.weight"},
    {"model.layers.{i}.mlp.down_proj.weight", "layers.{i}.feed_forward.local_experts.0.w2.weight"},
    {"model.layers.{i}.mlp.up_proj.weight", "layers.{i}.feed_forward.local_experts.0.w3.weight"},
    {"model.layers.{i}.post_attention_layernorm.weight",
     "layers.{i}.feed_forward.local_experts_ffn_norm.0.weight"},
};
// Qwen2: the Llama rows plus the q/k/v biases.
constexpr NameRule kQwen2BiasRules[] = {
    {"model.layers.{i}.self_attn.q_proj.bias", "layers.{i}.attention.local_experts_wq.0.bias"},
    {"model.layers.{i}.self_attn.k_proj.bias", "layers.{i}.attention.local_experts_wk.0.bias"},
    {"model.layers.{i}.self_attn.v_proj.bias", "layers.{i}.attention.local_experts_wv.0.bias"},
};
// Chameleon (ChameleonForConditionalGeneration): the Llama rows plus the per-head q/k
// LayerNorms with bias (ChameleonAttention.q_norm/k_norm, [heads, head_dim] each).
constexpr NameRule kChameleonQkNormRules[] = {
    {"model.layers.{i}.self_attn.q_norm.weight",
     "layers.{i}.attention.local_experts_q_normalization.0.weight"},
    {"model.layers.{i}.self_attn.q_norm.bias",
     "layers.{i}.attention.local_experts_q_normalization.0.bias"},
    {"model.layers.{i}.self_attn.k_norm.weight",
     "layers.{i}.attention.local_experts_k_normalization.0.weight"},
    {"model.layers.{i}.self_attn.k_norm.bias",
     "layers.{i}.attention.local_experts_k_normalization.0.bias"},
};
// ChameleonLayerNorm's eps: F.layer_norm(..., eps=1e-5) whatever rms_norm_eps says.
constexpr float kChameleonQkNormEps = 1e-5f;
// vocabulary_map names of the image tokens (ChameleonImageVocabularyMapping.image_tokens).
constexpr char kChameleonImageTokenPrefix[] = "IMGIMG";
// Chameleon config.json keys beyond the shared ones, mapped (or refused) in MapConfigOf;
// model_parallel_size only says how the original checkpoint was sharded (the conversion
// script merges its q/k norm shards), and vq_config describes the VQ-VAE, which is not
// imported.
constexpr const char* kChameleonMappedKeys[] = {"attention_bias", "mlp_bias",
                                                "swin_norm",      "vocabulary_map",
                                                "vq_config",      "model_parallel_size"};

// Buffers some older checkpoints saved; recomputed from the config, so skipped.
constexpr const char* kIgnoredLayerTensors[] = {"model.layers.{i}.self_attn.rotary_emb.inv_freq"};

// BAGEL: the files of its directory, and the name table of its language model as the Bagel
// module tree names it in ema.safetensors (modeling/bagel/bagel.py: Bagel.language_model, a
// qwen2_navit.Qwen2ForCausalLM with layer_module Qwen2MoTDecoderLayer). "{g}" is the module
// suffix of the tower, "" for the und tower and "_moe_gen" for the gen tower, and "{m}" its
// native tower index (kBagelTowerSuffix's order).
constexpr char kBagelLlmConfig[] = "llm_config.json";
constexpr char kBagelWeights[] = "ema.safetensors";
constexpr const char* kBagelTowerSuffix[] = {"", "_moe_gen"};
constexpr const char* kBagelTowerNames[] = {"text", "image"};
constexpr NameRule kBagelGlobalRules[] = {
    {"language_model.model.embed_tokens.weight", "tok_embeddings.weight"},
    {"language_model.lm_head.weight", "output.weight"},  // BAGEL's loaders untie it
};
constexpr NameRule kBagelTowerRules[] = {
    {"language_model.model.norm{g}.weight", "norm.{m}.weight"},
};
constexpr NameRule kBagelLayerRules[] = {
    {"language_model.model.layers.{i}.self_attn.q_proj{g}.weight",
     "layers.{i}.attention.local_experts_wq.{m}.weight"},
    {"language_model.model.layers.{i}.self_attn.k_proj{g}.weight",
     "layers.{i}.attention.local_experts_wk.{m}.weight"},
    {"language_model.model.layers.{i}.self_attn.v_proj{g}.weight",
     "layers.{i}.attention.local_experts_wv.{m}.weight"},
    {"language_model.model.layers.{i}.self_attn.o_proj{g}.weight",
     "layers.{i}.attention.local_experts_wo.{m}.weight"},
    {"language_model.model.layers.{i}.self_attn.q_proj{g}.bias",
     "layers.{i}.attention.local_experts_wq.{m}.bias"},
    {"language_model.model.layers.{i}.self_attn.k_proj{g}.bias",
     "layers.{i}.attention.local_experts_wk.{m}.bias"},
    {"language_model.model.layers.{i}.self_attn.v_proj{g}.bias",
     "layers.{i}.attention.local_experts_wv.{m}.bias"},
    {"language_model.model.layers.{i}.self_attn.q_norm{g}.weight",
     "layers.{i}.attention.local_experts_q_normalization.{m}.weight"},
    {"language_model.model.layers.{i}.self_attn.k_norm{g}.weight",
     "layers.{i}.attention.local_experts_k_normalization.{m}.weight"},
    {"language_model.model.layers.{i}.input_layernorm{g}.weight",
     "layers.{i}.attention.local_experts_attention_norm.{m}.weight"},
    {"language_model.model.layers.{i}.mlp{g}.gate_proj.weight",
     "layers.{i}.feed_forward.local_experts.{m}.w1.weight"},
    {"language_model.model.layers.{i}.mlp{g}.down_proj.weight",
     "layers.{i}.feed_forward.local_experts.{m}.w2.weight"},
    {"language_model.model.layers.{i}.mlp{g}.up_proj.weight",
     "layers.{i}.feed_forward.local_experts.{m}.w3.weight"},
    {"language_model.model.layers.{i}.post_attention_layernorm{g}.weight",
     "layers.{i}.feed_forward.local_experts_ffn_norm.{m}.weight"},
};
// Rotary buffers, if a Bagel state dict ever holds them: recomputed from the config.
constexpr const char* kBagelIgnoredTensors[] = {"language_model.model.rotary_emb.inv_freq"};
constexpr const char* kBagelIgnoredLayerTensors[] = {
    "language_model.model.layers.{i}.self_attn.rotary_emb.inv_freq"};
// The Bagel modules that are not the language model, deliberately not imported: what they
// are, for the note mot-import prints.
struct SkippedModule {
  const char* prefix;
  const char* what;
};
// Chameleon's VQ-VAE (ChameleonVQVAE, the image tokenizer), not imported.
constexpr SkippedModule kChameleonSkippedModules[] = {
    {"model.vqmodel.", "the VQ-VAE image tokenizer (images to and from image-token ids)"},
};
constexpr SkippedModule kBagelSkippedModules[] = {
    {"vit_model.", "the SigLIP ViT (image understanding)"},
    {"connector.", "the ViT-to-LLM connector"},
    {"vit_pos_embed.", "the ViT patch position embedding"},
    {"time_embedder.", "the flow-matching timestep embedder (image generation)"},
    {"vae2llm.", "the VAE-latent-to-LLM projection (image generation)"},
    {"llm2vae.", "the LLM-to-VAE-latent head (image generation)"},
    {"latent_pos_embed.", "the latent position embedding (image generation)"},
};
// llm_config.json keys of BAGEL's Qwen2Config beyond Qwen2's (qwen2_navit.Qwen2Config),
// mapped in MapConfigOf.
constexpr const char* kBagelMappedKeys[] = {"qk_norm", "layer_module"};
// ... and those without effect on inference: freeze_und only detaches gradients in
// training; BAGEL's inference passes is_causal per call and ignores the config's;
// _attn_implementation picks a kernel, and transformers' config.save_pretrained records
// _attn_implementation_autoset (bookkeeping) in a config saved without its model.
constexpr const char* kBagelIgnoredKeys[] = {"freeze_und", "is_causal", "_attn_implementation",
                                             "_attn_implementation_autoset"};
constexpr char kBagelLayerModule[] = "Qwen2MoTDecoderLayer";

enum class Arch { kLlama, kMistral, kQwen2, kBagel, kChameleon };

struct ArchInfo {
  const char* name;
  const char* model_type;
  Arch arch;
};

constexpr ArchInfo kArchitectures[] = {
    {"LlamaForCausalLM", "llama", Arch::kLlama},
    {"MistralForCausalLM", "mistral", Arch::kMistral},
    {"Qwen2ForCausalLM", "qwen2", Arch::kQwen2},
    {"ChameleonForConditionalGeneration", "chameleon", Arch::kChameleon},
};

// Not in kArchitectures: no config.json names it; a BAGEL directory's layout does.
constexpr ArchInfo kBagelInfo = {kBagelArchitecture, "qwen2", Arch::kBagel};

// A config.json architecture.
const ArchInfo* FindArch(std::string_view name) {
  for (const ArchInfo& a : kArchitectures) {
    if (name == a.name) return &a;
  }
  return nullptr;
}

// config.json keys with no effect on the inference forward pass (training, generation
// defaults, bookkeeping), accepted and dropped here (the token ids are read by
// MapSpecialTokenIds). Everything else must be mapped or refused.
constexpr const char* kIgnoredKeys[] = {
    "_name_or_path", "architectures",     "model_type",           "transformers_version",
    "torch_dtype",   "use_cache",         "bos_token_id",         "eos_token_id",
    "pad_token_id",  "initializer_range", "attention_dropout",    "pretraining_tp",
    "return_dict",   "output_attentions", "output_hidden_states", "tokenizer_class",
};

absl::Status FieldError(std::string_view field, const std::string& reason) {
  return absl::InvalidArgumentError(absl::StrCat("field ", std::string(field), ": ", reason));
}

// Parses JSON; a syntax error names its line and column (nlohmann's message has them).
absl::StatusOr<json> ParseJson(std::string_view text, std::string_view what) {
  absl::StatusOr<json> strict = loaders_internal::ParseStrictJson(text, what);
  if (strict.ok() || strict.status().message().find("well-formed") == std::string_view::npos) {
    return strict;
  }
  try {
    const json unused = json::parse(text.begin(), text.end());
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(std::string(what), " is not well-formed JSON: ", e.what()));
  }
  return strict;
}

absl::StatusOr<int32_t> GetInt(const json& obj, const char* key, int64_t lo, int64_t hi,
                               std::string_view field = {}) {
  const std::string name = field.empty() ? std::string(key) : std::string(field);
  const auto it = obj.find(key);
  if (it == obj.end()) return FieldError(name, "missing");
  if (!it->is_number_integer()) {
    return FieldError(name, absl::StrCat("must be an integer, got ", ShortDump(*it)));
  }
  const bool big = it->is_number_unsigned() && it->get<uint64_t>() > static_cast<uint64_t>(hi);
  const int64_t v = big ? hi + 1 : it->get<int64_t>();
  if (v < lo || v > hi) {
    return FieldError(name, absl::StrCat("must be in [", lo, ", ", hi, "], got ", ShortDump(*it)));
  }
  return static_cast<int32_t>(v);
}

absl::StatusOr<double> GetNumber(const json& obj, const char* key, std::string_view field = {}) {
  const std::string name = field.empty() ? std::string(key) : std::string(field);
  const auto it = obj.find(key);
  if (it == obj.end()) return FieldError(name, "missing");
  if (!it->is_number()) {
    return FieldError(name, absl::StrCat("must be a number, got ", ShortDump(*it)));
  }
  return it->get<double>();
}

absl::StatusOr<bool> GetBool(const json& obj, const char* key, bool fallback) {
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return fallback;
  if (!it->is_boolean()) {
    return FieldError(key, absl::StrCat("must be true or false, got ", ShortDump(*it)));
  }
  return it->get<bool>();
}

// rope_scaling as transformers writes it: "rope_type" (newer) and/or "type" (older).
// `max_positions` is the config's max_position_embeddings: yarn's original context in
// transformers 4.46, which the oracle pins.
absl::Status MapRopeScaling(const json& root, int32_t max_positions, RopeScaling* out) {
  const auto it = root.find("rope_scaling");
  if (it == root.end() || it->is_null()) return absl::OkStatus();
  const json& r = *it;
  if (!r.is_object()) {
    return FieldError("rope_scaling",
                      absl::StrCat("must be null or an object, got ", ShortDump(r)));
  }
  std::string type;
  for (const char* key : {"rope_type", "type"}) {
    const auto t = r.find(key);
    if (t == r.end()) continue;
    const std::string field = absl::StrCat("rope_scaling.", key);
    if (!t->is_string()) {
      return FieldError(field, absl::StrCat("must be a string, got ", ShortDump(*t)));
    }
    if (!type.empty() && type != t->get<std::string>()) {
      return FieldError(field,
                        absl::StrCat("\"", t->get<std::string>(),
                                     "\" disagrees with rope_scaling.rope_type \"", type, "\""));
    }
    type = t->get<std::string>();
  }
  if (type.empty()) return FieldError("rope_scaling.rope_type", "missing");
  std::vector<const char*> allowed = {"rope_type", "type"};
  if (type == "default") {
    out->type = RopeScalingType::kNone;
  } else if (type == "linear") {
    allowed.push_back("factor");
    out->type = RopeScalingType::kLinear;
    MOT_ASSIGN_OR_RETURN(const double f, GetNumber(r, "factor", "rope_scaling.factor"));
    out->factor = static_cast<float>(f);
  } else if (type == "llama3") {
    for (const char* k :
         {"factor", "low_freq_factor", "high_freq_factor", "original_max_position_embeddings"}) {
      allowed.push_back(k);
    }
    out->type = RopeScalingType::kLlama3;
    MOT_ASSIGN_OR_RETURN(const double f, GetNumber(r, "factor", "rope_scaling.factor"));
    MOT_ASSIGN_OR_RETURN(const double lo,
                         GetNumber(r, "low_freq_factor", "rope_scaling.low_freq_factor"));
    MOT_ASSIGN_OR_RETURN(const double hi,
                         GetNumber(r, "high_freq_factor", "rope_scaling.high_freq_factor"));
    MOT_ASSIGN_OR_RETURN(out->original_max_position_embeddings,
                         GetInt(r, "original_max_position_embeddings", 1, int64_t{1} << 24,
                                "rope_scaling.original_max_position_embeddings"));
    out->factor = static_cast<float>(f);
    out->low_freq_factor = static_cast<float>(lo);
    out->high_freq_factor = static_cast<float>(hi);
  } else if (type == "yarn") {
    for (const char* k : {"factor", "attention_factor", "beta_fast", "beta_slow",
                          "original_max_position_embeddings"}) {
      allowed.push_back(k);
    }
    out->type = RopeScalingType::kYarn;
    MOT_ASSIGN_OR_RETURN(const double f, GetNumber(r, "factor", "rope_scaling.factor"));
    out->factor = static_cast<float>(f);
    out->original_max_position_embeddings = max_positions;
    // transformers 4.46 computes yarn from max_position_embeddings; later versions take
    // original_max_position_embeddings and recompute the factor. Where the two agree (Qwen2.5's
    // configs) both give these frequencies; where they differ, refuse rather than pick one.
    if (const auto o = r.find("original_max_position_embeddings"); o != r.end()) {
      MOT_ASSIGN_OR_RETURN(const int32_t orig,
                           GetInt(r, "original_max_position_embeddings", 1, int64_t{1} << 24,
                                  "rope_scaling.original_max_position_embeddings"));
      if (orig != max_positions) {
        return FieldError(
            "rope_scaling.original_max_position_embeddings",
            absl::StrCat(orig, " differs from max_position_embeddings ", max_positions,
                         ": transformers versions disagree on such a yarn config"));
      }
    }
    auto optional = [&](const char* key, double fallback) -> absl::StatusOr<double> {
      const auto it = r.find(key);
      if (it == r.end() || it->is_null()) return fallback;
      return GetNumber(r, key, absl::StrCat("rope_scaling.", key));
    };
    MOT_ASSIGN_OR_RETURN(const double fast, optional("beta_fast", 32.0));
    MOT_ASSIGN_OR_RETURN(const double slow, optional("beta_slow", 1.0));
    MOT_ASSIGN_OR_RETURN(const double af, optional("attention_factor", 0.1 * std::log(f) + 1.0));
    out->beta_fast = static_cast<float>(fast);
    out->beta_slow = static_cast<float>(slow);
    out->attention_factor = static_cast<float>(af);
  } else {
    return FieldError("rope_scaling.rope_type",
                      absl::StrCat("unsupported rope scaling type \"", type,
                                   "\" (supported: default, linear, llama3, yarn)"));
  }
  for (const auto& item : r.items()) {
    // A named copy: clang 14 cannot capture a structured binding in a lambda.
    const std::string& key = item.key();
    if (std::none_of(allowed.begin(), allowed.end(), [&](const char* a) { return key == a; })) {
      return FieldError(absl::StrCat("rope_scaling.", key),
                        absl::StrCat("not supported with rope_type \"", type, "\""));
    }
  }
  return absl::OkStatus();
}

std::string ShapeString(const std::vector<int64_t>& shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ", "), "]");
}

bool IsPlainFileName(const std::string& name) {
  return !name.empty() && name != "." && name != ".." && name.find('/') == std::string::npos &&
         name.find('\0') == std::string::npos;
}

bool FileExists(const std::string& path) {
  struct stat st;
  return ::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode);
}

std::string Expand(const char* pattern, int layer) {
  return absl::StrReplaceAll(pattern, {{"{i}", absl::StrCat(layer)}});
}

// A BAGEL rule for layer `layer` of tower `tower`.
std::string ExpandTower(const char* pattern, int layer, int tower) {
  return absl::StrReplaceAll(pattern, {{"{i}", absl::StrCat(layer)},
                                       {"{m}", absl::StrCat(tower)},
                                       {"{g}", kBagelTowerSuffix[tower]}});
}

}  // namespace

std::vector<std::string> SupportedArchitectures() {
  std::vector<std::string> out;
  for (const ArchInfo& a : kArchitectures) out.push_back(a.name);
  return out;
}

namespace {

// Chameleon's own settings into `c` (already mapped as a Llama): swin_norm, the per-head
// q/k LayerNorm, and the image tokens of vocabulary_map as suppressed_token_ids.
absl::Status MapChameleon(const json& root, MotConfig* c, std::vector<std::string>* notes) {
  // swin_norm (ChameleonSwinDecoderLayer): h = x + input_layernorm(attn(x)),
  // y = h + post_attention_layernorm(mlp(h)): our post_branch with those two norms as
  // attention_norm and ffn_norm (the names the Llama rows give them).
  MOT_ASSIGN_OR_RETURN(const bool swin, GetBool(root, "swin_norm", false));
  c->norm_placement = swin ? NormPlacement::kPostBranch : NormPlacement::kPre;
  QkNormSpec qk;
  qk.type = NormType::kLayer;
  qk.per_head = true;
  qk.bias = true;
  qk.eps = kChameleonQkNormEps;
  c->qk_norm = true;
  c->qk_norm_spec = qk;

  const auto map = root.find("vocabulary_map");
  if (map == root.end() || !map->is_object()) {
    return FieldError("vocabulary_map",
                      absl::StrCat("must be an object {token: id} (transformers' Chameleon needs "
                                   "it to find the image tokens), got ",
                                   map == root.end() ? std::string("nothing") : ShortDump(*map)));
  }
  std::vector<int32_t> image_ids;
  for (const auto& item : map->items()) {
    const std::string& name = item.key();
    if (!absl::StartsWith(name, kChameleonImageTokenPrefix)) continue;
    const json& v = item.value();
    const std::string field = absl::StrCat("vocabulary_map.", name);
    if (!v.is_number_integer()) {
      return FieldError(field, absl::StrCat("must be an id, got ", ShortDump(v)));
    }
    const int64_t id = v.is_number_unsigned() && v.get<uint64_t>() >= (uint64_t{1} << 31)
                           ? int64_t{c->vocab_size}
                           : v.get<int64_t>();
    if (id < 0 || id >= c->vocab_size) {
      return FieldError(field, absl::StrCat("id ", ShortDump(v),
                                            " is outside [0, vocab_size=", c->vocab_size, ")"));
    }
    image_ids.push_back(static_cast<int32_t>(id));
  }
  std::sort(image_ids.begin(), image_ids.end());
  image_ids.erase(std::unique(image_ids.begin(), image_ids.end()), image_ids.end());
  c->suppressed_token_ids.clear();
  for (int32_t id : image_ids) {
    if (!c->suppressed_token_ids.empty() && c->suppressed_token_ids.back().end == id) {
      ++c->suppressed_token_ids.back().end;
    } else {
      c->suppressed_token_ids.push_back({id, id + 1});
    }
  }
  if (!image_ids.empty()) {
    notes->push_back(absl::StrCat(
        "config.json: vocabulary_map's ", image_ids.size(), " image tokens (",
        kChameleonImageTokenPrefix, "*, ids ", image_ids.front(), "..", image_ids.back(), " in ",
        c->suppressed_token_ids.size(),
        " ranges) are never generated (suppressed_token_ids), as "
        "transformers' ChameleonForConditionalGeneration masks their logits; images cannot be "
        "read or generated (no VQ-VAE)"));
  }
  return absl::OkStatus();
}

// config.json (llm_config.json for BAGEL) of a model of `arch`, "architectures" checked.
absl::StatusOr<HfConfig> MapConfigOf(const json& root, const ArchInfo* arch) {
  HfConfig out;
  out.architecture = arch->name;
  if (const auto mt = root.find("model_type"); mt != root.end()) {
    if (!mt->is_string() || mt->get<std::string>() != arch->model_type) {
      return FieldError("model_type", absl::StrCat("must be \"", arch->model_type, "\" for ",
                                                   arch->name, ", got ", ShortDump(*mt)));
    }
  }

  // Every key: mapped below, or known to be irrelevant; anything else is refused.
  std::set<std::string> mapped = {"hidden_size",
                                  "num_hidden_layers",
                                  "num_attention_heads",
                                  "num_key_value_heads",
                                  "head_dim",
                                  "intermediate_size",
                                  "rms_norm_eps",
                                  "rope_theta",
                                  "max_position_embeddings",
                                  "vocab_size",
                                  "tie_word_embeddings",
                                  "hidden_act",
                                  "rope_scaling",
                                  "partial_rotary_factor"};
  switch (arch->arch) {
    case Arch::kLlama:
      mapped.insert({"attention_bias", "mlp_bias"});
      break;
    case Arch::kMistral:
      mapped.insert("sliding_window");
      break;
    case Arch::kQwen2:
      mapped.insert({"use_sliding_window", "sliding_window", "max_window_layers"});
      break;
    case Arch::kBagel:
      mapped.insert({"use_sliding_window", "sliding_window", "max_window_layers"});
      mapped.insert(std::begin(kBagelMappedKeys), std::end(kBagelMappedKeys));
      mapped.insert(std::begin(kBagelIgnoredKeys), std::end(kBagelIgnoredKeys));
      break;
    case Arch::kChameleon:
      // ChameleonConfig has no head_dim or partial_rotary_factor: its attention uses
      // hidden_size / num_attention_heads, so such a key would be silently ignored there.
      mapped.erase("head_dim");
      mapped.erase("partial_rotary_factor");
      mapped.insert(std::begin(kChameleonMappedKeys), std::end(kChameleonMappedKeys));
      break;
  }
  for (const auto& item : root.items()) {
    const std::string& key = item.key();  // not a structured binding: see MapRopeScaling
    if (mapped.count(key) != 0) continue;
    if (std::any_of(std::begin(kIgnoredKeys), std::end(kIgnoredKeys),
                    [&](const char* k) { return key == k; })) {
      continue;
    }
    return FieldError(key, absl::StrCat("not supported for ", arch->name,
                                        " (a setting this importer does not know; refusing "
                                        "rather than ignoring it)"));
  }

  MotConfig& c = out.config;
  constexpr int64_t kBig = int64_t{1} << 24;
  MOT_ASSIGN_OR_RETURN(c.dim, GetInt(root, "hidden_size", 1, 65536));
  MOT_ASSIGN_OR_RETURN(c.n_layers, GetInt(root, "num_hidden_layers", 1, 1024));
  MOT_ASSIGN_OR_RETURN(c.n_heads, GetInt(root, "num_attention_heads", 1, 1024));
  c.n_kv_heads = c.n_heads;  // transformers' default: multi-head attention
  if (root.contains("num_key_value_heads") && !root["num_key_value_heads"].is_null()) {
    MOT_ASSIGN_OR_RETURN(c.n_kv_heads, GetInt(root, "num_key_value_heads", 1, 1024));
  }
  if (root.contains("head_dim") && !root["head_dim"].is_null()) {
    MOT_ASSIGN_OR_RETURN(c.head_dim, GetInt(root, "head_dim", 2, 1024));
  } else {
    if (c.dim % c.n_heads != 0) {
      return FieldError("head_dim",
                        absl::StrCat("missing, and hidden_size=", c.dim,
                                     " is not a multiple of num_attention_heads=", c.n_heads));
    }
    c.head_dim = c.dim / c.n_heads;
  }
  MOT_ASSIGN_OR_RETURN(c.ffn_hidden, GetInt(root, "intermediate_size", 1, kBig));
  c.norm_eps = 1e-6f;  // transformers' default for all three
  if (root.contains("rms_norm_eps")) {
    MOT_ASSIGN_OR_RETURN(const double eps, GetNumber(root, "rms_norm_eps"));
    c.norm_eps = static_cast<float>(eps);
  }
  c.rope_theta = 10000.0f;
  if (root.contains("rope_theta")) {
    MOT_ASSIGN_OR_RETURN(const double theta, GetNumber(root, "rope_theta"));
    c.rope_theta = static_cast<float>(theta);
  }
  MOT_ASSIGN_OR_RETURN(c.max_seq_len, GetInt(root, "max_position_embeddings", 1, kBig));
  MOT_ASSIGN_OR_RETURN(c.vocab_size, GetInt(root, "vocab_size", 1, kBig));
  MOT_ASSIGN_OR_RETURN(c.tie_embeddings, GetBool(root, "tie_word_embeddings", false));
  if (const auto act = root.find("hidden_act"); act != root.end()) {
    if (!act->is_string() || act->get<std::string>() != "silu") {
      return FieldError("hidden_act", absl::StrCat("must be \"silu\" (the FFN is SwiGLU), got ",
                                                   ShortDump(*act)));
    }
  }
  if (const auto prf = root.find("partial_rotary_factor"); prf != root.end()) {
    if (!prf->is_number() || prf->get<double>() != 1.0) {
      return FieldError(
          "partial_rotary_factor",
          absl::StrCat("must be 1.0 (rotary on the whole head), got ", ShortDump(*prf)));
    }
  }
  MOT_RETURN_IF_ERROR(MapRopeScaling(root, c.max_seq_len, &c.rope_scaling));

  switch (arch->arch) {
    case Arch::kLlama: {
      // Llama's attention_bias also biases o_proj, and mlp_bias the MLP: not expressible.
      for (const char* key : {"attention_bias", "mlp_bias"}) {
        MOT_ASSIGN_OR_RETURN(const bool on, GetBool(root, key, false));
        if (on) {
          return FieldError(
              key, absl::StrCat("true is not supported for LlamaForCausalLM (",
                                std::string_view(key) == "attention_bias" ? "it biases o_proj too"
                                                                          : "MLP biases",
                                ", which the native format does not hold)"));
        }
      }
      break;
    }
    case Arch::kMistral: {
      const auto w = root.find("sliding_window");
      if (w != root.end() && !w->is_null()) {
        MOT_ASSIGN_OR_RETURN(c.sliding_window, GetInt(root, "sliding_window", 1, kBig));
      }
      break;
    }
    case Arch::kQwen2:
    case Arch::kBagel: {
      c.attention_bias = true;
      MOT_ASSIGN_OR_RETURN(const bool swa, GetBool(root, "use_sliding_window", false));
      if (swa) {
        return FieldError("use_sliding_window",
                          "true is not supported for Qwen2ForCausalLM (its window applies to "
                          "the layers from max_window_layers on only; the native format has "
                          "one window for every layer)");
      }
      // sliding_window and max_window_layers only matter with use_sliding_window.
      break;
    }
    case Arch::kChameleon: {
      // Chameleon's attention_bias also biases o_proj, and mlp_bias the MLP.
      for (const char* key : {"attention_bias", "mlp_bias"}) {
        MOT_ASSIGN_OR_RETURN(const bool on, GetBool(root, key, false));
        if (on) {
          return FieldError(
              key, absl::StrCat("true is not supported for ChameleonForConditionalGeneration (",
                                std::string_view(key) == "attention_bias" ? "it biases o_proj too"
                                                                          : "MLP biases",
                                ", which the native format does not hold)"));
        }
      }
      break;
    }
  }

  c.norm_placement = NormPlacement::kPre;
  c.norm_type = NormType::kRms;
  c.qk_norm = false;
  c.modalities = {"text"};
  c.vocab_ranges = {{"text", 0, c.vocab_size, 0}};
  if (arch->arch == Arch::kBagel) {
    // BAGEL's loaders (app.py and every inference setup of the repository) read
    // llm_config.json and then set qk_norm = True, tie_word_embeddings = False and
    // layer_module = "Qwen2MoTDecoderLayer" whatever it says; so do we, saying so.
    MOT_ASSIGN_OR_RETURN(const bool qk_norm, GetBool(root, "qk_norm", true));
    if (!qk_norm) {
      out.notes.push_back(
          "llm_config.json: qk_norm false is taken as true, as BAGEL's loaders set it");
    }
    if (c.tie_embeddings) {
      out.notes.push_back(
          "llm_config.json: tie_word_embeddings true is taken as false, as BAGEL's loaders set "
          "it (the head is language_model.lm_head.weight)");
    }
    if (const auto lm = root.find("layer_module"); lm != root.end() && !lm->is_null()) {
      if (!lm->is_string()) {
        return FieldError("layer_module",
                          absl::StrCat("must be a class name, got ", ShortDump(*lm)));
      }
      if (lm->get<std::string>() != kBagelLayerModule) {
        out.notes.push_back(absl::StrCat("llm_config.json: layer_module ", ShortDump(*lm),
                                         " is taken as \"", kBagelLayerModule,
                                         "\", as BAGEL's loaders set it"));
      }
    }
    c.qk_norm = true;
    c.tie_embeddings = false;
    c.modalities.assign(std::begin(kBagelTowerNames), std::end(kBagelTowerNames));
  }
  if (arch->arch == Arch::kChameleon) {
    MOT_RETURN_IF_ERROR(MapChameleon(root, &c, &out.notes));
  }
  absl::Status valid = ValidateMotConfig(c);
  if (!valid.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the model it describes is not one we can run (native ", valid.message(), ")"));
  }
  return out;
}

// The parsed root object and its single "architectures" name.
absl::StatusOr<std::pair<json, std::string>> ParseConfigRoot(std::string_view text) {
  MOT_ASSIGN_OR_RETURN(json root, ParseJson(text, "config"));
  if (!root.is_object()) return absl::InvalidArgumentError("config is not a JSON object");
  const auto archs = root.find("architectures");
  if (archs == root.end()) return FieldError("architectures", "missing");
  if (!archs->is_array() || archs->size() != 1 || !(*archs)[0].is_string()) {
    return FieldError("architectures",
                      absl::StrCat("must list exactly one name, got ", ShortDump(*archs)));
  }
  std::string name = (*archs)[0].get<std::string>();
  return std::make_pair(std::move(root), std::move(name));
}

}  // namespace

absl::StatusOr<HfConfig> MapHfConfig(std::string_view config_json) {
  MOT_ASSIGN_OR_RETURN(const auto parsed, ParseConfigRoot(config_json));
  const ArchInfo* arch = FindArch(parsed.second);
  if (arch == nullptr) {
    return FieldError("architectures",
                      absl::StrCat("unknown architecture \"", parsed.second, "\" (supported: ",
                                   absl::StrJoin(SupportedArchitectures(), ", "), ")"));
  }
  return MapConfigOf(parsed.first, arch);
}

absl::StatusOr<HfConfig> MapBagelLlmConfig(std::string_view llm_config_json) {
  MOT_ASSIGN_OR_RETURN(const auto parsed, ParseConfigRoot(llm_config_json));
  // BAGEL's language model is its own Qwen2ForCausalLM (qwen2_navit.py); another name is
  // another model.
  if (parsed.second != "Qwen2ForCausalLM") {
    return FieldError("architectures",
                      absl::StrCat("must be [\"Qwen2ForCausalLM\"] for BAGEL's language model, "
                                   "got \"",
                                   parsed.second, "\""));
  }
  return MapConfigOf(parsed.first, &kBagelInfo);
}

namespace {

// The tokenizer classes whose fast tokenizer rebuilds its post-processor in __init__ from
// add_bos_token / add_eos_token (transformers 4.46 update_post_processor), with their
// defaults; the "Fast" suffix is dropped before the lookup.
struct RebuildingTokenizer {
  const char* name;
  bool add_bos;
  const char* bos_token;
};
constexpr RebuildingTokenizer kRebuildingTokenizers[] = {
    {"LlamaTokenizer", true, "<s>"},
    {"CodeLlamaTokenizer", true, "<s>"},
    {"GemmaTokenizer", true, "<bos>"},
    {"CohereTokenizer", true, "<BOS_TOKEN>"},
    {"GPTNeoXTokenizer", false, "<|endoftext|>"},
};

absl::Status FileFieldError(std::string_view file, std::string_view field,
                            const std::string& reason) {
  return absl::InvalidArgumentError(
      absl::StrCat(std::string(file), ": field ", std::string(field), ": ", reason));
}

// An id of generation_config.json or config.json: `key` absent or null: nullopt.
// `list_ok`: an array of ids is accepted (eos_token_id).
absl::StatusOr<std::optional<std::vector<int32_t>>> ReadTokenIds(const json& root,
                                                                 std::string_view file,
                                                                 const char* key, bool list_ok,
                                                                 int32_t vocab_size) {
  const auto it = root.find(key);
  if (it == root.end() || it->is_null()) return std::nullopt;
  std::vector<const json*> items;
  if (it->is_array() && list_ok) {
    if (it->empty()) return FileFieldError(file, key, "an empty list");
    for (const json& v : *it) items.push_back(&v);
  } else {
    items.push_back(&*it);
  }
  std::vector<int32_t> ids;
  for (const json* v : items) {
    if (!v->is_number_integer()) {
      return FileFieldError(file, key,
                            absl::StrCat("must be ", list_ok ? "an id or a list of ids" : "an id",
                                         ", got ", ShortDump(*it)));
    }
    const bool big = v->is_number_unsigned() && v->get<uint64_t>() >= uint64_t{1} << 31;
    const int64_t id = big ? int64_t{vocab_size} : v->get<int64_t>();
    if (id < 0 || id >= vocab_size) {
      return FileFieldError(
          file, key,
          absl::StrCat("id ", ShortDump(*v), " is outside [0, vocab_size=", vocab_size, ")"));
    }
    if (std::find(ids.begin(), ids.end(), id) == ids.end()) ids.push_back(static_cast<int32_t>(id));
  }
  return ids;
}

// The id of `content` in tokenizer.json: an added token's, else the model vocab's.
std::optional<int32_t> TokenIdIn(const json& tokenizer, const std::string& content) {
  if (const auto added = tokenizer.find("added_tokens");
      added != tokenizer.end() && added->is_array()) {
    for (const json& t : *added) {
      if (t.is_object() && t.value("content", json()) == content && t.contains("id") &&
          t["id"].is_number_integer()) {
        return t["id"].get<int32_t>();
      }
    }
  }
  if (const auto model = tokenizer.find("model"); model != tokenizer.end() && model->is_object()) {
    if (const auto vocab = model->find("vocab"); vocab != model->end() && vocab->is_object()) {
      if (const auto v = vocab->find(content); v != vocab->end() && v->is_number_integer()) {
        return v->get<int32_t>();
      }
    }
  }
  return std::nullopt;
}

// tokenizer.json's post_processor: the id of the special token its single-sequence template
// puts first, nullopt when it adds none.
absl::StatusOr<std::optional<int32_t>> TemplateBos(const json& processor, const std::string& path) {
  constexpr std::string_view kFile = "tokenizer.json";
  if (processor.is_null()) return std::nullopt;
  const std::string type = processor.is_object() ? processor.value("type", "") : "";
  if (type == "ByteLevel") return std::nullopt;
  if (type == "Sequence") {
    std::optional<int32_t> bos;
    const json processors = processor.value("processors", json::array());
    for (size_t i = 0; i < processors.size(); ++i) {
      MOT_ASSIGN_OR_RETURN(std::optional<int32_t> b,
                           TemplateBos(processors[i], absl::StrCat(path, ".processors[", i, "]")));
      if (b.has_value()) {
        if (bos.has_value()) return FileFieldError(kFile, path, "two templates add a BOS");
        bos = b;
      }
    }
    return bos;
  }
  if (type != "TemplateProcessing") {
    return FileFieldError(
        kFile, absl::StrCat(path, ".type"),
        absl::StrCat("post-processor ", ShortDump(processor.value("type", json())),
                     " is not supported (null, ByteLevel, TemplateProcessing "
                     "or a Sequence of them)"));
  }
  const json single = processor.value("single", json());
  if (!single.is_array()) return FileFieldError(kFile, path + ".single", "must be an array");
  std::optional<int32_t> bos;
  bool seen_sequence = false;
  for (size_t i = 0; i < single.size(); ++i) {
    const json& piece = single[i];
    const std::string field = absl::StrCat(path, ".single[", i, "]");
    if (piece.is_object() && piece.contains("Sequence")) {
      seen_sequence = true;
      continue;
    }
    if (!piece.is_object() || !piece.contains("SpecialToken") ||
        !piece["SpecialToken"].is_object() || !piece["SpecialToken"].contains("id") ||
        !piece["SpecialToken"]["id"].is_string()) {
      return FileFieldError(
          kFile, field,
          absl::StrCat("must be a Sequence or a SpecialToken, got ", ShortDump(piece)));
    }
    const std::string name = piece["SpecialToken"]["id"].get<std::string>();
    if (seen_sequence || i > 0) {
      return FileFieldError(kFile, field,
                            absl::StrCat("the template adds ", name,
                                         " after the start of the text; only a BOS before it is "
                                         "supported (prompts never end with special tokens here)"));
    }
    const json specials = processor.value("special_tokens", json::object());
    const json entry = specials.is_object() ? specials.value(name, json()) : json();
    const json ids = entry.is_object() ? entry.value("ids", json()) : json();
    if (!ids.is_array() || ids.size() != 1 || !ids[0].is_number_integer()) {
      return FileFieldError(kFile, absl::StrCat(path, ".special_tokens.", name, ".ids"),
                            absl::StrCat("must hold one id, got ", ShortDump(ids)));
    }
    bos = ids[0].get<int32_t>();
  }
  return bos;
}

}  // namespace

absl::StatusOr<SpecialTokenIds> MapSpecialTokenIds(const std::string& architecture,
                                                   int32_t vocab_size, const HfSideFiles& files) {
  auto parse = [](const std::string& text, const char* name) -> absl::StatusOr<json> {
    if (text.empty()) return json::object();
    absl::StatusOr<json> j = ParseJson(text, name);
    if (!j.ok()) return Annotate(j.status(), name);
    if (!j->is_object())
      return absl::InvalidArgumentError(absl::StrCat(name, ": not a JSON object"));
    return j;
  };
  const char* config_name = files.config_name.c_str();  // lives as long as `files`
  MOT_ASSIGN_OR_RETURN(const json config, parse(files.config, config_name));
  MOT_ASSIGN_OR_RETURN(const json generation,
                       parse(files.generation_config, "generation_config.json"));
  MOT_ASSIGN_OR_RETURN(const json tok_config,
                       parse(files.tokenizer_config, "tokenizer_config.json"));
  MOT_ASSIGN_OR_RETURN(const json tokenizer, parse(files.tokenizer, "tokenizer.json"));

  // generation_config.json wins where it sets an id, as in transformers' generate().
  struct Found {
    std::optional<std::vector<int32_t>> ids;
    const char* file = "";
  };
  auto read = [&](const char* key, bool list_ok) -> absl::StatusOr<Found> {
    Found f;
    MOT_ASSIGN_OR_RETURN(
        f.ids, ReadTokenIds(generation, "generation_config.json", key, list_ok, vocab_size));
    f.file = "generation_config.json";
    if (!f.ids.has_value()) {
      MOT_ASSIGN_OR_RETURN(f.ids, ReadTokenIds(config, config_name, key, list_ok, vocab_size));
      f.file = config_name;
    }
    return f;
  };
  MOT_ASSIGN_OR_RETURN(const Found bos, read("bos_token_id", false));
  MOT_ASSIGN_OR_RETURN(const Found eos, read("eos_token_id", true));
  MOT_ASSIGN_OR_RETURN(const Found pad, read("pad_token_id", false));
  SpecialTokenIds out;
  if (!eos.ids.has_value()) {
    return FileFieldError(config_name, "eos_token_id",
                          "missing (and not in generation_config.json): generation needs an "
                          "end-of-sequence id");
  }
  out.eos = *eos.ids;
  if (bos.ids.has_value()) out.bos = (*bos.ids)[0];
  if (pad.ids.has_value()) out.pad = (*pad.ids)[0];

  // Does the tokenizer add a BOS, and which?
  // Without tokenizer_config.json there is no class to go by: tokenizer.json decides.
  std::string cls = files.tokenizer_config.empty()       ? "PreTrainedTokenizerFast"
                    : architecture == "Qwen2ForCausalLM" ? "Qwen2TokenizerFast"
                                                         : "LlamaTokenizerFast";
  if (const auto c = tok_config.find("tokenizer_class"); c != tok_config.end() && !c->is_null()) {
    if (!c->is_string()) {
      return FileFieldError("tokenizer_config.json", "tokenizer_class",
                            absl::StrCat("must be a string, got ", ShortDump(*c)));
    }
    cls = c->get<std::string>();
  }
  if (absl::EndsWith(cls, "Fast")) cls.resize(cls.size() - 4);
  std::optional<int32_t> tokenizer_bos;
  std::string bos_source;
  const RebuildingTokenizer* rebuilding = nullptr;
  for (const RebuildingTokenizer& r : kRebuildingTokenizers) {
    if (cls == r.name) rebuilding = &r;
  }
  if (rebuilding != nullptr) {
    bool add_bos = rebuilding->add_bos;
    for (const char* key : {"add_bos_token", "add_eos_token"}) {
      const auto it = tok_config.find(key);
      if (it == tok_config.end() || it->is_null()) continue;
      if (!it->is_boolean()) {
        return FileFieldError("tokenizer_config.json", key,
                              absl::StrCat("must be true or false, got ", ShortDump(*it)));
      }
      if (std::string_view(key) == "add_bos_token") add_bos = it->get<bool>();
      if (std::string_view(key) == "add_eos_token" && it->get<bool>()) {
        return FileFieldError("tokenizer_config.json", key,
                              "true is not supported (prompts never end with eos here)");
      }
    }
    if (add_bos) {
      std::string name = rebuilding->bos_token;
      bos_source = absl::StrCat("tokenizer_config.json's bos_token (", cls, " adds it)");
      if (const auto b = tok_config.find("bos_token"); b != tok_config.end()) {
        if (b->is_string()) {
          name = b->get<std::string>();
        } else if (b->is_object() && b->contains("content") && (*b)["content"].is_string()) {
          name = (*b)["content"].get<std::string>();
        } else {
          return FileFieldError("tokenizer_config.json", "bos_token",
                                absl::StrCat("must name a token (add_bos_token is true for ", cls,
                                             "), got ", ShortDump(*b)));
        }
      }
      if (!files.tokenizer.empty()) {
        tokenizer_bos = TokenIdIn(tokenizer, name);
        if (!tokenizer_bos.has_value()) {
          return FileFieldError(
              "tokenizer_config.json", "bos_token",
              absl::StrCat(ShortDump(json(name)), " is not a token of tokenizer.json"));
        }
      } else if (out.bos != SpecialTokenIds::kNone) {
        tokenizer_bos = out.bos;  // no tokenizer.json to look it up in: trust the config
      } else {
        return FileFieldError("tokenizer_config.json", "bos_token",
                              "no tokenizer.json to find its id in, and no bos_token_id");
      }
    }
  } else if (const auto p = tokenizer.find("post_processor"); p != tokenizer.end()) {
    MOT_ASSIGN_OR_RETURN(tokenizer_bos, TemplateBos(*p, "post_processor"));
    bos_source = "tokenizer.json's post_processor";
  }
  if (tokenizer_bos.has_value()) {
    if (*tokenizer_bos < 0 || *tokenizer_bos >= vocab_size) {
      return absl::InvalidArgumentError(
          absl::StrCat("the BOS ", bos_source, " adds, id ", *tokenizer_bos,
                       ", is outside [0, vocab_size=", vocab_size, ")"));
    }
    if (out.bos != SpecialTokenIds::kNone && out.bos != *tokenizer_bos) {
      return FileFieldError(bos.file, "bos_token_id",
                            absl::StrCat(out.bos, " disagrees with the BOS ", bos_source,
                                         " adds, id ", *tokenizer_bos));
    }
    out.bos = *tokenizer_bos;
    out.add_bos = true;
  }
  return out;
}

absl::StatusOr<std::vector<std::pair<std::string, std::string>>> HfTensorNames(
    const std::string& architecture, const MotConfig& config) {
  const ArchInfo* arch = architecture == kBagelArchitecture ? &kBagelInfo : FindArch(architecture);
  if (arch == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("unknown architecture \"", architecture, "\""));
  }
  std::map<std::string, std::string> by_native;
  auto add = [&](const NameRule& r, int layer) {
    by_native[Expand(r.native, layer)] = Expand(r.hf, layer);
  };
  if (arch->arch == Arch::kBagel) {
    for (const NameRule& r : kBagelGlobalRules) add(r, 0);
    for (int m = 0; m < static_cast<int>(std::size(kBagelTowerSuffix)); ++m) {
      auto add_tower = [&](const NameRule& r, int layer) {
        by_native[ExpandTower(r.native, layer, m)] = ExpandTower(r.hf, layer, m);
      };
      for (const NameRule& r : kBagelTowerRules) add_tower(r, 0);
      for (int i = 0; i < config.n_layers; ++i) {
        for (const NameRule& r : kBagelLayerRules) add_tower(r, i);
      }
    }
  } else {
    for (const NameRule& r : kGlobalRules) add(r, 0);
    for (int i = 0; i < config.n_layers; ++i) {
      for (const NameRule& r : kLlamaLayerRules) add(r, i);
      if (arch->arch == Arch::kQwen2) {
        for (const NameRule& r : kQwen2BiasRules) add(r, i);
      }
      if (arch->arch == Arch::kChameleon) {
        for (const NameRule& r : kChameleonQkNormRules) add(r, i);
      }
    }
  }
  std::vector<std::pair<std::string, std::string>> out;
  for (const weight_names::ExpectedTensor& e : weight_names::ExpectedTensors(config)) {
    const auto it = by_native.find(e.name);
    if (it == by_native.end()) {
      return absl::InternalError(
          absl::StrCat(architecture, ": the name table has no row for ", e.name));
    }
    out.emplace_back(it->second, e.name);
  }
  return out;
}

absl::StatusOr<HfImportResult> ImportHfModel(const std::string& hf_dir, const std::string& out_dir,
                                             const HfImportOptions& options) {
  auto path_of = [&](const std::string& name) { return absl::StrCat(hf_dir, "/", name); };
  HfImportResult result;

  // The layout decides: llm_config.json beside ema.safetensors is BAGEL, whose directory may
  // also hold a config.json of another meaning; else config.json.
  const bool has_llm_config = FileExists(path_of(kBagelLlmConfig));
  const bool has_ema = FileExists(path_of(kBagelWeights));
  const bool bagel = has_llm_config && has_ema;
  if (!bagel && (has_llm_config || has_ema) && !FileExists(path_of(kConfig))) {
    return absl::NotFoundError(
        absl::StrCat(hf_dir, ": has ", has_llm_config ? kBagelLlmConfig : kBagelWeights, " but no ",
                     has_llm_config ? kBagelWeights : kBagelLlmConfig,
                     " (a BAGEL directory needs both) and no config.json: ",
                     path_of(has_llm_config ? kBagelWeights : kBagelLlmConfig)));
  }

  // config.json (BAGEL: llm_config.json)
  const std::string config_path = path_of(bagel ? kBagelLlmConfig : kConfig);
  MOT_ASSIGN_OR_RETURN(const std::string config_text,
                       loaders_internal::ReadSmallFile(config_path, uint64_t{16} << 20));
  absl::StatusOr<HfConfig> mapped =
      bagel ? MapBagelLlmConfig(config_text) : MapHfConfig(config_text);
  if (!mapped.ok()) return Annotate(mapped.status(), config_path);
  result.architecture = mapped->architecture;
  result.config = mapped->config;
  result.notes = mapped->notes;
  const MotConfig& config = result.config;
  const std::string config_name = bagel ? kBagelLlmConfig : kConfig;

  // The weight files: ema.safetensors (BAGEL), the index's shards, or model.safetensors.
  std::map<std::string, std::string> tensor_file;  // HF tensor -> file name (from the index)
  std::map<std::string, SafetensorsFile> files;
  const std::string index_path = path_of(kIndex);
  std::string single_file;  // the one weight file when there is no index
  if (bagel) {
    MOT_ASSIGN_OR_RETURN(SafetensorsFile weights, SafetensorsFile::Open(path_of(kBagelWeights)));
    for (const SafetensorsEntry& e : weights.entries()) tensor_file[e.name] = kBagelWeights;
    files.emplace(kBagelWeights, std::move(weights));
    single_file = kBagelWeights;
  } else if (FileExists(index_path)) {
    MOT_ASSIGN_OR_RETURN(const std::string index_text,
                         loaders_internal::ReadSmallFile(index_path, uint64_t{64} << 20));
    absl::StatusOr<json> index = ParseJson(index_text, "index");
    if (!index.ok()) return Annotate(index.status(), index_path);
    const auto map = index->is_object() ? index->find("weight_map") : index->end();
    if (!index->is_object() || map == index->end() || !map->is_object()) {
      return absl::InvalidArgumentError(
          absl::StrCat(index_path, ": field weight_map: missing or not an object"));
    }
    for (const auto& [tensor, file] : map->items()) {
      if (!file.is_string() || !IsPlainFileName(file.get<std::string>())) {
        return absl::InvalidArgumentError(
            absl::StrCat(index_path, ": field weight_map.", tensor,
                         ": must be a file name in the directory, got ", ShortDump(file)));
      }
      const std::string name = file.get<std::string>();
      tensor_file[tensor] = name;
      if (files.count(name) != 0) continue;
      const std::string shard_path = path_of(name);
      if (!FileExists(shard_path)) {
        return absl::NotFoundError(absl::StrCat(index_path, ": shard ", name, " (of tensor '",
                                                tensor, "') is missing: ", shard_path));
      }
      MOT_ASSIGN_OR_RETURN(SafetensorsFile shard, SafetensorsFile::Open(shard_path));
      files.emplace(name, std::move(shard));
    }
    for (const auto& [tensor, file] : tensor_file) {
      if (!files.at(file).Contains(tensor)) {
        return absl::InvalidArgumentError(absl::StrCat(
            index_path, ": tensor '", tensor, "' is mapped to ", file, ", which does not hold it"));
      }
    }
  } else {
    const std::string weights_path = path_of(kWeights);
    if (!FileExists(weights_path)) {
      return absl::NotFoundError(
          absl::StrCat(hf_dir, ": neither ", kWeights, " nor ", kIndex,
                       " (only safetensors weights are read; save with safe_serialization=True)"));
    }
    MOT_ASSIGN_OR_RETURN(SafetensorsFile weights, SafetensorsFile::Open(weights_path));
    for (const SafetensorsEntry& e : weights.entries()) tensor_file[e.name] = kWeights;
    files.emplace(kWeights, std::move(weights));
    single_file = kWeights;
  }
  for (const auto& [name, unused] : files) result.shards.push_back(name);

  // Every tensor the config implies, renamed, with its shape checked.
  MOT_ASSIGN_OR_RETURN(const auto names, HfTensorNames(result.architecture, config));
  std::map<std::string, std::vector<int64_t>> expected_shape;
  for (const weight_names::ExpectedTensor& e : weight_names::ExpectedTensors(config)) {
    expected_shape[e.name] = e.shape;
  }
  std::vector<NamedTensor> tensors;
  std::set<std::string> used;
  for (const auto& [hf_name, native] : names) {
    const auto it = tensor_file.find(hf_name);
    if (it == tensor_file.end()) {
      // One weight file: name it; shards: the directory (the index maps no file to it).
      const bool one_file = !single_file.empty();
      return absl::InvalidArgumentError(
          absl::StrCat(one_file ? path_of(single_file) : hf_dir, ": tensor '", hf_name, "' ",
                       one_file ? "is missing" : "is in no weight file", " (", result.architecture,
                       " with this ", config_name, " needs it, shape ",
                       ShapeString(expected_shape[native]), ")"));
    }
    const SafetensorsFile& file = files.at(it->second);
    MOT_ASSIGN_OR_RETURN(Tensor t, file.Get(hf_name));
    if (t.shape() != expected_shape[native]) {
      return absl::InvalidArgumentError(
          absl::StrCat(file.path(), ": tensor '", hf_name, "' has shape ", ShapeString(t.shape()),
                       " but ", config_name, " implies ", ShapeString(expected_shape[native])));
    }
    tensors.push_back({native, std::move(t)});
    used.insert(hf_name);
  }
  std::set<std::string> ignored;
  for (int i = 0; i < config.n_layers; ++i) {
    if (bagel) {
      for (const char* p : kBagelIgnoredLayerTensors) ignored.insert(Expand(p, i));
    } else {
      for (const char* p : kIgnoredLayerTensors) ignored.insert(Expand(p, i));
    }
  }
  if (bagel) ignored.insert(std::begin(kBagelIgnoredTensors), std::end(kBagelIgnoredTensors));
  // A tied model may still carry lm_head.weight (a copy of the embeddings): not needed.
  if (config.tie_embeddings) ignored.insert("lm_head.weight");
  // The modules outside the language model (BAGEL's ViT and image head, Chameleon's VQ-VAE).
  std::vector<SkippedModule> skippable;
  if (bagel) {
    skippable.assign(std::begin(kBagelSkippedModules), std::end(kBagelSkippedModules));
  } else if (result.architecture == "ChameleonForConditionalGeneration") {
    skippable.assign(std::begin(kChameleonSkippedModules), std::end(kChameleonSkippedModules));
  }
  std::map<size_t, int64_t> skipped;  // index into skippable -> count
  for (const auto& [tensor, file] : tensor_file) {
    if (used.count(tensor) != 0 || ignored.count(tensor) != 0) continue;
    const SkippedModule* module = nullptr;
    for (const SkippedModule& m : skippable) {
      if (absl::StartsWith(tensor, m.prefix)) module = &m;
    }
    if (module == nullptr) {
      return absl::InvalidArgumentError(absl::StrCat(path_of(file), ": unexpected tensor '", tensor,
                                                     "' (not part of ", result.architecture, " as ",
                                                     config_name, " describes it)"));
    }
    ++skipped[static_cast<size_t>(module - skippable.data())];
    ++result.num_skipped;
  }
  const std::string weights_name = single_file.empty() ? std::string("the shards") : single_file;
  for (size_t i = 0; i < skippable.size(); ++i) {
    const auto it = skipped.find(i);
    if (it == skipped.end()) continue;
    result.notes.push_back(absl::StrCat("not imported: ", it->second, " tensors ",
                                        skippable[i].prefix, "* of ", weights_name, ", ",
                                        skippable[i].what));
  }
  result.num_tensors = static_cast<int64_t>(tensors.size());

  // Side files: tokenizer.json (checked), the two small JSON ones (well-formed).
  std::map<std::string, std::string> extra;
  const std::string tokenizer_path = path_of("tokenizer.json");
  if (!options.skip_tokenizer && FileExists(tokenizer_path)) {
    MOT_ASSIGN_OR_RETURN(std::string text,
                         loaders_internal::ReadSmallFile(tokenizer_path, kMaxJsonBytes));
    if (options.check_tokenizer) {
      MOT_RETURN_IF_ERROR(Annotate(options.check_tokenizer(text), tokenizer_path,
                                   ": refused by our BPE loader (import with --skip_tokenizer "
                                   "to convert only the weights)"));
    }
    extra["tokenizer.json"] = std::move(text);
  }
  for (const char* name : {"tokenizer_config.json", "generation_config.json"}) {
    const std::string path = path_of(name);
    if (!FileExists(path)) continue;
    MOT_ASSIGN_OR_RETURN(std::string text,
                         loaders_internal::ReadSmallFile(path, uint64_t{64} << 20));
    absl::StatusOr<json> parsed = ParseJson(text, name);
    if (!parsed.ok()) return Annotate(parsed.status(), path);
    extra[name] = std::move(text);
  }
  for (const auto& [name, unused] : extra) result.copied.push_back(name);

  // The special tokens, named by id (model_config.h special_token_ids).
  HfSideFiles side;
  side.config = config_text;
  side.config_name = config_name;
  auto text_of = [&](const char* name) {
    const auto it = extra.find(name);
    return it == extra.end() ? std::string() : it->second;
  };
  side.generation_config = text_of("generation_config.json");
  side.tokenizer_config = text_of("tokenizer_config.json");
  side.tokenizer = text_of("tokenizer.json");
  // BAGEL's tokenizer is Qwen2's (Qwen2Tokenizer.from_pretrained of its directory).
  absl::StatusOr<SpecialTokenIds> specials = MapSpecialTokenIds(
      bagel ? std::string("Qwen2ForCausalLM") : result.architecture, config.vocab_size, side);
  if (!specials.ok()) return Annotate(specials.status(), hf_dir);
  result.config.special_token_ids = *std::move(specials);
  if (absl::Status valid = ValidateMotConfig(config); !valid.ok()) {
    return absl::InternalError(absl::StrCat("the imported config is invalid: ", valid.message()));
  }

  MOT_RETURN_IF_ERROR(WriteCheckpoint(out_dir, config, tensors, extra, options.overwrite));
  return result;
}

}  // namespace mot::hf
